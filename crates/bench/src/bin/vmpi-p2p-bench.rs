//! OSU-style point-to-point benchmarks for vmpi, in the output format of the OSU
//! Micro-Benchmarks so that one parser reads vmpi's, MPICH's and Open MPI's numbers.
//!
//! * `--test latency` (osu_latency): rank 0 sends `size` bytes to rank 1, which sends
//!   them back; after `warmup` round trips, `iters` round trips are timed and half a
//!   round trip is reported in microseconds.
//! * `--test bw` (osu_bw): rank 0 starts a window of 64 nonblocking sends, rank 1 a
//!   window of 64 nonblocking receives; rank 1 answers each completed window with a
//!   4-byte ack. Reported: bytes moved / time in MB/s (10^6 bytes per second).
//!
//! The bytes received are checked on the first (warm-up) iteration of every size;
//! a mismatch aborts the job. `bench/p2p/pingpong.c` is the same program in C.
//!
//! `mpirun -np 2 target/release/vmpi-p2p-bench --test latency --min 0 --max 4M`

use std::process::exit;

const WINDOW: usize = 64;
/// OSU's LARGE_MESSAGE_SIZE: above it fewer iterations are run.
const LARGE: usize = 8192;
const TAG_DATA: i32 = 1;
const TAG_ACK: i32 = 2;
const FIELD_WIDTH: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Test {
    Latency,
    Bw,
}

struct Opts {
    test: Test,
    min: usize,
    max: usize,
    iters: Option<usize>,
    warmup: Option<usize>,
}

const USAGE: &str = "usage: vmpi-p2p-bench [--test latency|bw] [--min SIZE] [--max SIZE] \
[--iters N] [--warmup N]   (SIZE: bytes, K/M suffixes allowed)";

fn parse_size(s: &str) -> Option<usize> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1 << 10),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mult)
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        test: Test::Latency,
        min: 0,
        max: 4 << 20,
        iters: None,
        warmup: None,
    };
    let mut min_set = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        if key == "-h" || key == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        let val = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{key} needs a value")),
        };
        let size = || parse_size(&val).ok_or_else(|| format!("{key}: bad size '{val}'"));
        match key.as_str() {
            "--test" | "-t" => {
                o.test = match val.as_str() {
                    "latency" | "lat" => Test::Latency,
                    "bw" | "bandwidth" => Test::Bw,
                    _ => return Err(format!("--test: '{val}' is not latency or bw")),
                }
            }
            "--min" => {
                o.min = size()?;
                min_set = true;
            }
            "--max" | "-m" => o.max = size()?,
            "--iters" | "-i" => o.iters = Some(size()?),
            "--warmup" | "-x" => o.warmup = Some(size()?),
            _ => return Err(format!("unknown option '{key}'")),
        }
    }
    if o.test == Test::Bw && !min_set {
        o.min = 1 << 10;
    }
    if o.min > o.max {
        return Err(format!("--min {} is above --max {}", o.min, o.max));
    }
    if o.iters == Some(0) {
        return Err("--iters must be at least 1".into());
    }
    Ok(o)
}

/// Sizes 0 (if asked), 1, 2, 4, ... within [min, max], as OSU walks them.
fn sizes(min: usize, max: usize) -> Vec<usize> {
    let mut v = Vec::new();
    if min == 0 {
        v.push(0);
    }
    let mut s = 1usize;
    while s <= max {
        if s >= min {
            v.push(s);
        }
        s *= 2;
    }
    v
}

/// The byte at offset `i` of a message of `size` bytes sent by rank `from`.
fn pattern(size: usize, from: i32, i: usize) -> u8 {
    (i.wrapping_mul(131) ^ size.wrapping_mul(7) ^ (from as usize * 0x5a)) as u8 ^ (i >> 8) as u8
}

fn fill(buf: &mut [u8], from: i32) {
    let size = buf.len();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(size, from, i);
    }
}

fn check(u: &vmpi::Universe, buf: &[u8], from: i32, what: &str) {
    let size = buf.len();
    if let Some(i) = (0..size).find(|&i| buf[i] != pattern(size, from, i)) {
        let msg = format!(
            "vmpi-p2p-bench: {what}: {size}-byte message from rank {from} is corrupt at byte {i}: \
             got {:#04x}, expected {:#04x}",
            buf[i],
            pattern(size, from, i)
        );
        eprintln!("{msg}");
        u.abort(3, &msg);
    }
}

fn die(u: &vmpi::Universe, e: vmpi::Error) -> ! {
    let msg = format!("vmpi-p2p-bench: {e}");
    eprintln!("{msg}");
    u.abort(2, &msg)
}

fn counts(o: &Opts, size: usize, test: Test) -> (usize, usize) {
    let (it, sk) = match (test, size > LARGE) {
        (Test::Latency, false) => (10_000, 1_000),
        (Test::Latency, true) => (1_000, 100),
        (Test::Bw, false) => (100, 10),
        (Test::Bw, true) => (20, 2),
    };
    // At least one warm-up iteration: it is the one whose bytes are checked.
    (o.iters.unwrap_or(it), o.warmup.unwrap_or(sk).max(1))
}

fn latency(u: &vmpi::Universe, o: &Opts) -> vmpi::Result<()> {
    let w = u.world();
    let rank = w.rank();
    let peer = 1 - rank;
    let mut sbuf = vec![0u8; o.max];
    let mut rbuf = vec![0u8; o.max];
    if rank == 0 {
        println!("# OSU MPI Latency Test (vmpi-p2p-bench, vmpi)");
        println!("{:<10}{:>FIELD_WIDTH$}", "# Size", "Latency (us)");
    }
    for size in sizes(o.min, o.max) {
        let (iters, warmup) = counts(o, size, Test::Latency);
        let s = &mut sbuf[..size];
        fill(s, rank);
        let s = &sbuf[..size];
        let r = &mut rbuf[..size];
        r.fill(0xee);
        w.barrier()?;
        let mut t0 = 0.0;
        for i in 0..iters + warmup {
            if i == warmup {
                t0 = u.wtime();
            }
            if rank == 0 {
                w.send(s, peer, TAG_DATA)?;
                w.recv(r, peer, TAG_DATA)?;
            } else {
                w.recv(r, peer, TAG_DATA)?;
                w.send(s, peer, TAG_DATA)?;
            }
            if i == 0 {
                check(u, r, peer, "latency");
            }
        }
        let t = u.wtime() - t0;
        if rank == 0 {
            let lat = t * 1e6 / (2.0 * iters as f64);
            println!("{:<10}{:>FIELD_WIDTH$.2}", size, lat);
        }
    }
    Ok(())
}

fn bandwidth(u: &vmpi::Universe, o: &Opts) -> vmpi::Result<()> {
    let w = u.world();
    let rank = w.rank();
    let peer = 1 - rank;
    let mut sbuf = vec![0u8; o.max.max(4)];
    let mut rbuf = vec![0u8; o.max.max(4)];
    let mut ack = [0u8; 4];
    if rank == 0 {
        println!("# OSU MPI Bandwidth Test (vmpi-p2p-bench, vmpi)");
        println!("{:<10}{:>FIELD_WIDTH$}", "# Size", "Bandwidth (MB/s)");
    }
    for size in sizes(o.min, o.max) {
        let (iters, warmup) = counts(o, size, Test::Bw);
        fill(&mut sbuf[..size], rank);
        rbuf[..size].fill(0xee);
        w.barrier()?;
        let mut t0 = 0.0;
        for i in 0..iters + warmup {
            if i == warmup {
                t0 = u.wtime();
            }
            if rank == 0 {
                let s = &sbuf[..size];
                vmpi::scope(|sc| -> vmpi::Result<()> {
                    let mut reqs = Vec::with_capacity(WINDOW);
                    for _ in 0..WINDOW {
                        reqs.push(sc.isend(w, s, peer, TAG_DATA)?);
                    }
                    vmpi::wait_all(&mut reqs)?;
                    Ok(())
                })?;
                w.recv(&mut ack, peer, TAG_ACK)?;
            } else {
                // As osu_bw does, all receives of a window land in the same buffer
                // (so the receiver's working set is one message, as in the C
                // version). vmpi only ever uses the buffer through a raw pointer
                // and nothing here reads or writes it until all the receives are
                // complete; the aliasing slices below exist only to pass that
                // pointer through the safe API.
                let p = rbuf.as_mut_ptr();
                vmpi::scope(|sc| -> vmpi::Result<()> {
                    let mut reqs = Vec::with_capacity(WINDOW);
                    for _ in 0..WINDOW {
                        // SAFETY: see above; `rbuf` outlives the scope and is not
                        // touched until the scope has completed every receive.
                        let r = unsafe { std::slice::from_raw_parts_mut(p, size) };
                        reqs.push(sc.irecv(w, r, peer, TAG_DATA)?);
                    }
                    vmpi::wait_all(&mut reqs)?;
                    Ok(())
                })?;
                if i == 0 {
                    check(u, &rbuf[..size], peer, "bandwidth");
                }
                w.send(&ack, peer, TAG_ACK)?;
            }
        }
        let t = u.wtime() - t0;
        if rank == 0 {
            let mbps = (size as f64 / 1e6) * (iters * WINDOW) as f64 / t;
            println!("{:<10}{:>FIELD_WIDTH$.2}", size, mbps);
        }
    }
    Ok(())
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vmpi-p2p-bench: {e}\n{USAGE}");
            exit(2);
        }
    };
    let u = match vmpi::init() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("vmpi-p2p-bench: MPI_Init: {e}");
            exit(2);
        }
    };
    let w = u.world();
    if w.size() != 2 {
        if w.rank() == 0 {
            eprintln!(
                "vmpi-p2p-bench: this test needs exactly two ranks (got {})",
                w.size()
            );
        }
        drop(u);
        exit(1);
    }
    let r = match o.test {
        Test::Latency => latency(&u, &o),
        Test::Bw => bandwidth(&u, &o),
    };
    if let Err(e) = r {
        die(&u, e);
    }
    if let Err(e) = u.finalize() {
        eprintln!("vmpi-p2p-bench: MPI_Finalize: {e}");
        exit(2);
    }
}
