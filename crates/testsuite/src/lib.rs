//! Helpers shared by the test programs in `src/bin`: deterministic message contents,
//! a small random number generator, failure reporting, and job facts the test
//! harness reads from the programs' output.

use std::fmt::Display;

/// SplitMix64: a tiny, good-enough deterministic generator (no dependencies).
#[derive(Debug, Clone)]
pub struct Rng(u64);

pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The key of one message: who sends it to whom, in which iteration, and which
/// message of that iteration it is.
pub fn key(sender: i32, receiver: i32, iteration: u64, index: u64) -> u64 {
    mix(mix(mix((sender as u64) << 32 | receiver as u32 as u64) ^ iteration) ^ index)
}

fn word(key: u64, w: usize) -> [u8; 8] {
    mix(key ^ (w as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).to_le_bytes()
}

/// Fill `buf` with the contents of the message with this key.
pub fn fill(buf: &mut [u8], key: u64) {
    for (w, chunk) in buf.chunks_mut(8).enumerate() {
        let n = chunk.len();
        chunk.copy_from_slice(&word(key, w)[..n]);
    }
}

/// A buffer holding the message with this key.
pub fn message(len: usize, key: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(&mut v, key);
    v
}

/// Check `buf` byte by byte against the message with this key; on a mismatch say
/// where and what.
pub fn verify(buf: &[u8], key: u64) -> Result<(), String> {
    for (w, chunk) in buf.chunks(8).enumerate() {
        let want = word(key, w);
        if chunk != &want[..chunk.len()] {
            let i = (0..chunk.len()).find(|&i| chunk[i] != want[i]).unwrap();
            return Err(format!(
                "byte {} of {} is {:#04x}, expected {:#04x}",
                w * 8 + i,
                buf.len(),
                chunk[i],
                want[i]
            ));
        }
    }
    Ok(())
}

/// The filler written past the end of a message in a receive buffer; it must stay.
pub const GUARD: u8 = 0xA5;

/// Check that `buf` is all GUARD (the bytes after a received message).
pub fn verify_guard(buf: &[u8], offset: usize) -> Result<(), String> {
    match buf.iter().position(|&b| b != GUARD) {
        None => Ok(()),
        Some(i) => Err(format!(
            "byte {} past the message end was overwritten ({:#04x})",
            offset + i,
            buf[i]
        )),
    }
}

/// Print a failure naming the program and rank, and exit 1 (the launcher then ends
/// the job and the test sees a non-zero exit).
pub fn fail(prog: &str, rank: i32, what: impl Display) -> ! {
    eprintln!("{prog}: rank {rank}: FAILED: {what}");
    std::process::exit(1)
}

/// Unwrap a vmpi result or fail with the call's context.
pub trait OrFail<T> {
    fn or_fail(self, prog: &str, rank: i32, ctx: &str) -> T;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, prog: &str, rank: i32, ctx: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => fail(prog, rank, format!("{ctx}: {e}")),
        }
    }
}

/// Print (rank 0 only) the prefix of this job's /dev/shm files, as the launcher
/// computes it from PMI_JOBID, so the harness can attribute leftovers to a job.
pub fn announce_job(rank: i32) {
    if rank == 0 {
        if let Ok(kvs) = std::env::var("PMI_JOBID") {
            println!("vmpi-job-prefix: {}", vmpi::sys::tools::shm_prefix(&kvs));
        }
    }
}

/// Peak resident set size of this process in KiB (VmHWM of /proc/self/status).
pub fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The channel to `peer` in short form: `shm/cma`, `shm/copy`, `tcp`, `self`.
pub fn channel_word(u: &vmpi::Universe, peer: i32) -> String {
    match u.channel_to(peer as usize) {
        Ok(c) => match c.large.as_deref() {
            Some("CMA") => format!("{}/cma", c.channel),
            Some(_) => format!("{}/copy", c.channel),
            None => c.channel.to_string(),
        },
        Err(e) => format!("error({e})"),
    }
}

/// Parse a size with an optional K/M suffix (binary).
pub fn parse_size(s: &str) -> Option<usize> {
    let (n, m) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    n.parse::<usize>().ok().map(|n| n * m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_verify_roundtrip_and_detects_one_byte() {
        for len in [0, 1, 7, 8, 9, 16385] {
            let mut v = message(len, key(1, 2, 3, 4));
            assert!(verify(&v, key(1, 2, 3, 4)).is_ok());
            if len > 0 {
                v[len - 1] ^= 1;
                let e = verify(&v, key(1, 2, 3, 4)).unwrap_err();
                assert!(e.contains(&format!("byte {}", len - 1)), "{e}");
            }
        }
        assert_ne!(key(1, 2, 3, 4), key(2, 1, 3, 4));
        assert_eq!(parse_size("8M"), Some(8 << 20));
    }
}
