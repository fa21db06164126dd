//! `flood [SMALL_PER_SENDER [SMALL_MAX [LARGE_PER_SENDER [LARGE_SIZE [ORDER]]]]]`:
//! an unexpected-message flood. Ranks 1..n-1 start nonblocking sends of many small
//! (eager) and some large (rendezvous) messages to rank 0, with tags 0..7 in turn,
//! while rank 0 sleeps; then rank 0 receives them all and checks every byte and the
//! order per (source, tag).
//!
//! ORDER `reverse` (default): rank 0 receives tag 7 first, then 6, ... (sources in
//! reverse order too), so most messages wait in the unexpected queue or the channel.
//! ORDER `fifo`: rank 0 receives with ANY_SOURCE/ANY_TAG and checks per-source order.
//!
//! Rank 0 ends with `flood rank 0/N: ok messages=M bytes=B peak_rss_kib=K`.

use std::time::Duration;
use vmpi::{ANY_SOURCE, ANY_TAG};
use vmpi_testsuite::{
    announce_job, fail, key, message, mix, parse_size, peak_rss_kib, verify, OrFail,
};

const PROG: &str = "flood";
const TAGS: i32 = 8;

struct Plan {
    small: usize,
    small_max: usize,
    large: usize,
    large_size: usize,
}

impl Plan {
    fn count(&self) -> usize {
        self.small + self.large
    }
    /// Length of message `j` from `sender`: every (count/large)-th one is large.
    fn len(&self, sender: i32, j: usize) -> usize {
        let every = if self.large == 0 {
            usize::MAX
        } else {
            self.count() / self.large
        };
        if self.large > 0 && j % every == every / 2 && j / every < self.large {
            self.large_size + j % 7
        } else {
            (mix(key(sender, 0, 0, j as u64)) % (self.small_max as u64 + 1)) as usize
        }
    }
    fn tag(j: usize) -> i32 {
        (j % TAGS as usize) as i32
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let plan = Plan {
        small: arg(1, "3000").parse().expect("SMALL_PER_SENDER"),
        small_max: parse_size(&arg(2, "2048")).expect("SMALL_MAX"),
        large: arg(3, "4").parse().expect("LARGE_PER_SENDER"),
        large_size: parse_size(&arg(4, "1M")).expect("LARGE_SIZE"),
    };
    let order = arg(5, "reverse");

    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let w = universe.world();
    let (rank, size) = (w.rank(), w.size());
    announce_job(rank);
    if size < 2 {
        fail(PROG, rank, "needs at least 2 ranks");
    }
    w.barrier().or_fail(PROG, rank, "barrier");

    if rank != 0 {
        let msgs: Vec<Vec<u8>> = (0..plan.count())
            .map(|j| message(plan.len(rank, j), key(rank, 0, 0, j as u64)))
            .collect();
        vmpi::scope(|s| {
            let mut reqs = Vec::with_capacity(msgs.len());
            for (j, m) in msgs.iter().enumerate() {
                reqs.push(s.isend(w, m, 0, Plan::tag(j)).or_fail(
                    PROG,
                    rank,
                    &format!("isend {j}"),
                ));
            }
            vmpi::wait_all(&mut reqs).or_fail(PROG, rank, "wait_all of the flood");
        });
    } else {
        // Let the flood arrive before any receive is posted.
        std::thread::sleep(Duration::from_millis(1000));
        let mut bytes = 0u64;
        let mut messages = 0u64;
        let mut buf = vec![0u8; plan.large_size.max(plan.small_max) + 64];
        let mut check = |src: i32, j: usize, st: &vmpi::Status, buf: &[u8]| {
            let want = plan.len(src, j);
            if st.source != src || st.tag != Plan::tag(j) || st.count != want {
                fail(
                    PROG,
                    0,
                    format!("message {j} of rank {src}: status {st:?}, expected tag {} and {want} bytes (lost, reordered or corrupt)", Plan::tag(j)),
                );
            }
            if let Err(e) = verify(&buf[..want], key(src, 0, 0, j as u64)) {
                fail(
                    PROG,
                    0,
                    format!("message {j} of rank {src} (tag {}): {e}", Plan::tag(j)),
                );
            }
            bytes += want as u64;
            messages += 1;
        };
        match order.as_str() {
            "reverse" => {
                for tag in (0..TAGS).rev() {
                    for src in (1..size).rev() {
                        for j in (0..plan.count()).filter(|&j| Plan::tag(j) == tag) {
                            let st = w.recv(&mut buf, src, tag).or_fail(
                                PROG,
                                0,
                                &format!("recv of message {j} from rank {src}"),
                            );
                            check(src, j, &st, &buf);
                        }
                    }
                }
            }
            "fifo" => {
                let mut next = vec![0usize; size as usize];
                for _ in 0..plan.count() * (size as usize - 1) {
                    let st = w
                        .recv(&mut buf, ANY_SOURCE, ANY_TAG)
                        .or_fail(PROG, 0, "recv");
                    let src = st.source;
                    if !(1..size).contains(&src) {
                        fail(PROG, 0, format!("message from unexpected source: {st:?}"));
                    }
                    let j = next[src as usize];
                    next[src as usize] += 1;
                    check(src, j, &st, &buf);
                }
            }
            o => fail(PROG, 0, format!("unknown ORDER {o} (reverse or fifo)")),
        }
        if let Some(st) = w.iprobe(ANY_SOURCE, ANY_TAG).or_fail(PROG, 0, "iprobe") {
            fail(
                PROG,
                0,
                format!("a message beyond the flood arrived: {st:?}"),
            );
        }
        println!(
            "flood rank 0/{size}: ok order={order} messages={messages} bytes={bytes} peak_rss_kib={}",
            peak_rss_kib()
        );
    }
    w.barrier().or_fail(PROG, rank, "final barrier");
    universe.finalize().or_fail(PROG, rank, "finalize");
}
