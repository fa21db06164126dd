//! `exchange PATTERN ITERATIONS MAX_SIZE SEED`: every rank exchanges messages of
//! random sizes (0 .. MAX_SIZE, with the eager/rendezvous boundaries and other
//! edge sizes mixed in) whose contents are derived from (sender, receiver,
//! iteration, index), and checks every byte, the bytes after the message, and the
//! status (source, tag, count).
//!
//! - `ring`: each rank sends to the next and receives from the previous, once with
//!   `sendrecv` (odd iterations receive with ANY_SOURCE/ANY_TAG) and once with
//!   `isend`/`irecv` + `wait_all`.
//! - `allpairs`: every rank exchanges with every other rank at once, all nonblocking,
//!   completed by one `wait_all`.
//!
//! Each rank ends with one line `exchange rank R/N PATTERN: ok ... channels=P:CH,...`
//! naming the channel to each peer (`shm/cma`, `shm/copy`, `tcp`).

use vmpi::{Communicator, Status};
use vmpi_testsuite::{
    announce_job, channel_word, fail, fill, key, mix, parse_size, verify, verify_guard, OrFail,
    GUARD,
};

const PROG: &str = "exchange";
/// Extra room in each receive buffer, so that `count` is checked for real and a
/// write past the message's end is seen.
const SLACK: usize = 13;

/// The size of the message `sender` sends `receiver` in `iteration` (phase `index`):
/// the same on both sides, half of the time one of the edge sizes.
fn size_of(seed: u64, max: usize, sender: i32, receiver: i32, iteration: u64, index: u64) -> usize {
    const EDGES: &[usize] = &[
        0,
        1,
        3,
        8,
        13,
        4095,
        16383,
        16384,
        16385,
        65535,
        65536,
        65537,
        (1 << 20) + 7,
        (8 << 20) - 1,
        8 << 20,
    ];
    let h = mix(seed ^ key(sender, receiver, iteration, index ^ 0x5eed));
    if h % 2 == 0 {
        let edges: Vec<usize> = EDGES
            .iter()
            .copied()
            .filter(|&s| s <= max)
            .chain(std::iter::once(max))
            .collect();
        edges[((h >> 8) % edges.len() as u64) as usize]
    } else {
        // Log-uniform: as many small as large messages.
        let bits = usize::BITS - max.leading_zeros();
        let b = ((h >> 8) % (bits as u64 + 1)) as u32;
        let upper = if b == 0 { 0 } else { (1usize << b).min(max) };
        ((h >> 20) % (upper as u64 + 1)) as usize
    }
}

struct Ctx<'u> {
    world: &'u Communicator,
    rank: i32,
    seed: u64,
    max: usize,
    messages: u64,
    bytes: u64,
}

impl Ctx<'_> {
    fn recv_buffer(&self, from: i32, it: u64, index: u64) -> Vec<u8> {
        vec![GUARD; size_of(self.seed, self.max, from, self.rank, it, index) + SLACK]
    }

    /// Check a received message: status and every byte.
    fn check(
        &mut self,
        what: &str,
        buf: &[u8],
        st: &Status,
        from: i32,
        tag: i32,
        it: u64,
        index: u64,
    ) {
        let len = size_of(self.seed, self.max, from, self.rank, it, index);
        let ctx =
            format!("{what} iteration {it}: message from rank {from} ({len} bytes, tag {tag})");
        if st.source != from || st.tag != tag || st.count != len {
            fail(
                PROG,
                self.rank,
                format!(
                    "{ctx}: status says source {} tag {} count {}",
                    st.source, st.tag, st.count
                ),
            );
        }
        if st.cancelled || st.error.is_some() {
            fail(PROG, self.rank, format!("{ctx}: status {st:?}"));
        }
        if let Err(e) = verify(&buf[..len], key(from, self.rank, it, index)) {
            fail(PROG, self.rank, format!("{ctx}: {e}"));
        }
        if let Err(e) = verify_guard(&buf[len..], len) {
            fail(PROG, self.rank, format!("{ctx}: {e}"));
        }
        self.messages += 1;
        self.bytes += len as u64;
    }

    fn send_buffer(&self, to: i32, it: u64, index: u64) -> Vec<u8> {
        let mut v = vec![0u8; size_of(self.seed, self.max, self.rank, to, it, index)];
        fill(&mut v, key(self.rank, to, it, index));
        v
    }
}

fn ring(c: &mut Ctx, iterations: u64) {
    let (rank, size) = (c.rank, c.world.size());
    let next = (rank + 1) % size;
    let prev = (rank + size - 1) % size;
    for it in 0..iterations {
        let tag = (it % 1000) as i32 * 2;
        // Phase 0: sendrecv; odd iterations receive from anyone with any tag.
        let out = c.send_buffer(next, it, 0);
        let mut inb = c.recv_buffer(prev, it, 0);
        let (src, rtag) = if it % 2 == 1 {
            (vmpi::ANY_SOURCE, vmpi::ANY_TAG)
        } else {
            (prev, tag)
        };
        let st = c
            .world
            .sendrecv(&out, next, tag, &mut inb, src, rtag)
            .or_fail(PROG, rank, &format!("sendrecv in iteration {it}"));
        c.check("sendrecv", &inb, &st, prev, tag, it, 0);

        // Phase 1: irecv + isend, completed together.
        let out = c.send_buffer(next, it, 1);
        let mut inb = c.recv_buffer(prev, it, 1);
        let sts = vmpi::scope(|s| {
            let r = s
                .irecv(c.world, &mut inb, prev, tag + 1)
                .or_fail(PROG, rank, "irecv");
            let t = s
                .isend(c.world, &out, next, tag + 1)
                .or_fail(PROG, rank, "isend");
            vmpi::wait_all(&mut [r, t])
        })
        .or_fail(PROG, rank, &format!("wait_all in iteration {it}"));
        if sts.len() != 2 {
            fail(
                PROG,
                rank,
                format!("wait_all gave {} statuses for 2 requests", sts.len()),
            );
        }
        c.check("irecv", &inb, &sts[0], prev, tag + 1, it, 1);
    }
}

fn allpairs(c: &mut Ctx, iterations: u64) {
    let (rank, size) = (c.rank, c.world.size());
    let peers: Vec<i32> = (0..size).filter(|&p| p != rank).collect();
    for it in 0..iterations {
        let tag = (it % 1000) as i32;
        let outs: Vec<Vec<u8>> = peers.iter().map(|&p| c.send_buffer(p, it, 0)).collect();
        let mut ins: Vec<Vec<u8>> = peers.iter().map(|&p| c.recv_buffer(p, it, 0)).collect();
        let world = c.world;
        let sts = vmpi::scope(|s| {
            let mut reqs = Vec::new();
            for (buf, &p) in ins.iter_mut().zip(&peers) {
                reqs.push(s.irecv(world, buf, p, tag).or_fail(PROG, rank, "irecv"));
            }
            // Odd iterations send in reverse order, so that receives complete out of
            // the order they were posted in.
            let order: Vec<usize> = if it % 2 == 1 {
                (0..peers.len()).rev().collect()
            } else {
                (0..peers.len()).collect()
            };
            for i in order {
                reqs.push(
                    s.isend(world, &outs[i], peers[i], tag)
                        .or_fail(PROG, rank, "isend"),
                );
            }
            vmpi::wait_all(&mut reqs)
        })
        .or_fail(PROG, rank, &format!("wait_all in iteration {it}"));
        if sts.len() != 2 * peers.len() {
            fail(
                PROG,
                rank,
                format!(
                    "wait_all gave {} statuses for {} requests",
                    sts.len(),
                    2 * peers.len()
                ),
            );
        }
        for (i, &p) in peers.iter().enumerate() {
            c.check("allpairs", &ins[i], &sts[i], p, tag, it, 0);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: exchange ring|allpairs ITERATIONS MAX_SIZE SEED");
        std::process::exit(2);
    }
    let pattern = args[1].as_str();
    let iterations: u64 = args[2].parse().expect("ITERATIONS: a number");
    let max = parse_size(&args[3]).expect("MAX_SIZE: a byte count (K/M suffixes)");
    let seed: u64 = args[4].parse().expect("SEED: a number");

    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    announce_job(rank);
    let mut c = Ctx {
        world,
        rank,
        seed,
        max,
        messages: 0,
        bytes: 0,
    };
    match pattern {
        "ring" => ring(&mut c, iterations),
        "allpairs" => allpairs(&mut c, iterations),
        _ => fail(
            PROG,
            rank,
            format!("unknown pattern {pattern} (ring or allpairs)"),
        ),
    }
    world.barrier().or_fail(PROG, rank, "barrier");
    let channels: Vec<String> = (0..size)
        .filter(|&p| p != rank)
        .map(|p| format!("{p}:{}", channel_word(&universe, p)))
        .collect();
    println!(
        "exchange rank {rank}/{size} {pattern}: ok iterations={iterations} messages={} bytes={} manager={} channels={}",
        c.messages,
        c.bytes,
        universe.process_manager().unwrap_or("?"),
        channels.join(",")
    );
    universe.finalize().or_fail(PROG, rank, "finalize");
}
