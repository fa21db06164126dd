//! `soak SECONDS [SEED]`: a byte-checked soak of point-to-point traffic. Every rank
//! runs rounds for about SECONDS seconds (rank 0's clock decides, all ranks stop
//! after the same round).
//!
//! Each round has a plan that every rank computes alone from (SEED, round): how
//! many messages each rank receives (0 to 64, the receive window), and for each of
//! them the sender (any rank, itself too), the tag and the size (0 bytes to 4 MiB:
//! mostly small, some around the eager thresholds 16 KiB and 64 KiB, a few large).
//! The messages are sent in one random order over all pairs; a message's contents
//! are a function of (sender, receiver, SEED, per-pair sequence number), so the
//! receiver checks every byte, the bytes after it in its buffer, and the order per
//! (source, tag) (MPI's non-overtaking rule).
//!
//! A rank posts its window of nonblocking receives: specific (source, tag) ones
//! first, in random order, then ANY_SOURCE/ANY_TAG ones for the rest. Posting every
//! specific receive before any wildcard keeps the matching deadlock-free whatever
//! the arrival order (a wildcard cannot take the message a specific receive needs),
//! and every message larger than 128 KiB goes to a specific receive, so the wildcard
//! buffers stay small. Receives and sends are started in one of three orders
//! (receives first, sends first, interleaved) and completed by one `wait_all`; an
//! allreduce of rank 0's stop decision ends the round, so no message of the next
//! round can meet a receive of this one. Tags carry the round's parity, so one that
//! does anyway is named as such.
//!
//! Rank 0 ends with `soak rank 0/N: ok messages=M bytes=B rounds=R seed=S
//! seconds=T channels=P:CH,...` (M, B: totals received over all ranks, also checked
//! against the plans). A mismatch fails naming round, sender, receiver, tag,
//! sequence number and byte offset; a round that takes longer than a minute fails
//! naming the round (a hang).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmpi::{Input, Op, Status, ANY_SOURCE, ANY_TAG};
use vmpi_testsuite::{
    announce_job, channel_word, fail, key, message, mix, verify, verify_guard, OrFail, Rng, GUARD,
};

const PROG: &str = "soak";
/// Most receives a rank posts in one round.
const WINDOW: u64 = 64;
const MAX_SIZE: usize = 4 << 20;
/// Messages larger than this always go to a specific receive (wildcard buffers are
/// this large).
const WILD_MAX: usize = 128 << 10;
/// Extra room in each receive buffer, so that `count` is checked for real and a
/// write past the message's end is seen.
const SLACK: usize = 13;
/// A round that takes longer than this is a hang.
const ROUND_LIMIT: Duration = Duration::from_secs(60);

/// One message of a round's plan.
#[derive(Debug, Clone, Copy)]
struct Msg {
    src: i32,
    dst: i32,
    tag: i32,
    len: usize,
    /// Per (src, dst) pair, counted over all rounds.
    seq: u64,
}

/// A message size: mostly small, some at the eager thresholds, a few large.
fn draw_size(r: &mut Rng) -> usize {
    let below = |r: &mut Rng, n: usize| r.below(n as u64) as usize;
    match r.below(100) {
        0..=49 => below(r, 257),
        50..=71 => 257 + below(r, (16 << 10) - 257),
        72..=87 => {
            let edge = if r.below(2) == 0 { 16 << 10 } else { 64 << 10 };
            let off = if r.below(2) == 0 {
                below(r, 3) as isize - 1
            } else {
                below(r, 129) as isize - 64
            };
            (edge as isize + off) as usize
        }
        88..=97 => (64 << 10) + below(r, (1 << 20) - (64 << 10)),
        _ => {
            if r.below(4) == 0 {
                MAX_SIZE
            } else {
                (1 << 20) + below(r, MAX_SIZE - (1 << 20))
            }
        }
    }
}

/// A tag: mostly one of four, so that many messages share a (source, tag) stream;
/// the lowest bit is the round's parity.
fn draw_tag(r: &mut Rng, round: u64) -> i32 {
    let t = if r.below(5) < 4 {
        r.below(4)
    } else {
        4 + r.below(500)
    };
    (t * 2 + (round & 1)) as i32
}

fn shuffle<T>(v: &mut [T], r: &mut Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, r.below(i as u64 + 1) as usize);
    }
}

/// The plan of `round` in global send order; `seqs[src * n + dst]` is the next
/// sequence number of each pair and advances past this round's messages.
fn plan(seed: u64, round: u64, n: i32, seqs: &mut [u64]) -> Vec<Msg> {
    let mut r = Rng::new(mix(seed) ^ round);
    let mut msgs = Vec::new();
    for dst in 0..n {
        for _ in 0..r.below(WINDOW + 1) {
            msgs.push(Msg {
                src: r.below(n as u64) as i32,
                dst,
                tag: draw_tag(&mut r, round),
                len: draw_size(&mut r),
                seq: 0,
            });
        }
    }
    shuffle(&mut msgs, &mut r);
    for m in &mut msgs {
        let s = &mut seqs[(m.src * n + m.dst) as usize];
        m.seq = *s;
        *s += 1;
    }
    msgs
}

/// What one posted receive asks for: `Some((src, tag))`, or None for a wildcard.
type Want = Option<(i32, i32)>;

/// This rank's receives of a round in posting order (specific ones, then
/// wildcards), with the buffer length of each.
fn receive_layout(
    incoming: &BTreeMap<(i32, i32), VecDeque<Msg>>,
    r: &mut Rng,
) -> Vec<(Want, usize)> {
    let mut specific = Vec::new();
    let mut wild = 0usize;
    let mut wild_len = 0usize;
    for (&(src, tag), stream) in incoming {
        // A specific receive for each message up to the last large one, and for a
        // random number more.
        let need = stream
            .iter()
            .rposition(|m| m.len > WILD_MAX)
            .map_or(0, |i| i + 1);
        let c = need.max(r.below(stream.len() as u64 + 1) as usize);
        specific.extend(std::iter::repeat_n((src, tag), c));
        wild += stream.len() - c;
        wild_len = stream
            .iter()
            .skip(c)
            .map(|m| m.len)
            .fold(wild_len, usize::max);
    }
    shuffle(&mut specific, r);
    // The k-th specific receive of a stream gets its k-th message.
    let mut next: BTreeMap<(i32, i32), usize> = BTreeMap::new();
    let mut layout: Vec<(Want, usize)> = specific
        .into_iter()
        .map(|st| {
            let k = next.entry(st).or_insert(0);
            let len = incoming[&st][*k].len;
            *k += 1;
            (Some(st), len + SLACK)
        })
        .collect();
    layout.extend(std::iter::repeat_n((None, wild_len + SLACK), wild));
    layout
}

struct Soak {
    rank: i32,
    seed: u64,
    round: u64,
    messages: u64,
    bytes: u64,
}

impl Soak {
    /// Check the `i`-th receive of the round: status, stream order, every byte.
    fn check(
        &mut self,
        i: usize,
        want: Want,
        st: &Status,
        buf: &[u8],
        incoming: &mut BTreeMap<(i32, i32), VecDeque<Msg>>,
    ) {
        let (rank, round) = (self.rank, self.round);
        let kind = match want {
            Some((s, t)) => format!("receive #{i} (source {s}, tag {t})"),
            None => format!("receive #{i} (ANY_SOURCE, ANY_TAG)"),
        };
        let die =
            |what: String| -> ! { fail(PROG, rank, format!("round {round}: {kind}: {what}")) };
        if st.cancelled || st.error.is_some() {
            die(format!("status {st:?}"));
        }
        if let Some((s, t)) = want {
            if st.source != s || st.tag != t {
                die(format!("matched source {} tag {}", st.source, st.tag));
            }
        }
        let Some(m) = incoming
            .get_mut(&(st.source, st.tag))
            .and_then(|q| q.pop_front())
        else {
            let other = if st.tag & 1 != (round & 1) as i32 {
                " (its tag is of the next or previous round)"
            } else {
                ""
            };
            die(format!(
                "a message from rank {} with tag {} ({} bytes) that the plan does not hold{other}: a duplicate or a lost one before it",
                st.source, st.tag, st.count
            ))
        };
        let what = format!(
            "message seq {} from rank {} to rank {} (tag {}, {} bytes)",
            m.seq, m.src, m.dst, m.tag, m.len
        );
        if st.count != m.len {
            die(format!(
                "{what}: status count {} (lost, reordered or truncated)",
                st.count
            ));
        }
        if let Err(e) = verify(&buf[..m.len], key(m.src, m.dst, self.seed, m.seq)) {
            die(format!(
                "{what}: {e} (corrupt, or another message of the stream: order)"
            ));
        }
        if let Err(e) = verify_guard(&buf[m.len..], m.len) {
            die(format!("{what}: {e}"));
        }
        self.messages += 1;
        self.bytes += m.len as u64;
    }
}

/// Fail (naming the round) when a round takes longer than ROUND_LIMIT: a hang.
fn watchdog(rank: i32, round: Arc<AtomicU64>, started: Instant) {
    std::thread::spawn(move || {
        let mut seen = u64::MAX;
        let mut since = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = round.load(Ordering::Relaxed);
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() > ROUND_LIMIT {
                let what = if now == u64::MAX {
                    "the end (barrier, iprobe, reduce, finalize)".to_string()
                } else {
                    format!("round {now}")
                };
                fail(
                    PROG,
                    rank,
                    format!(
                        "{what} has not ended after {ROUND_LIMIT:?} ({:.0?} into the soak): a hang",
                        started.elapsed()
                    ),
                );
            }
        }
    });
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 2 || a.len() > 3 {
        eprintln!("usage: soak SECONDS [SEED]");
        std::process::exit(2);
    }
    let seconds: f64 = a[1].parse().expect("SECONDS: a number");
    let seed: u64 = a.get(2).map_or(1, |s| s.parse().expect("SEED: a number"));

    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let w = universe.world();
    let (rank, n) = (w.rank(), w.size());
    announce_job(rank);
    w.barrier().or_fail(PROG, rank, "barrier");
    let started = Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(rank, progress.clone(), started);

    let mut seqs = vec![0u64; (n * n) as usize];
    let mut planned = (0u64, 0u64);
    let mut s = Soak {
        rank,
        seed,
        round: 0,
        messages: 0,
        bytes: 0,
    };
    loop {
        let round = s.round;
        progress.store(round, Ordering::Relaxed);
        let msgs = plan(seed, round, n, &mut seqs);
        planned.0 += msgs.len() as u64;
        planned.1 += msgs.iter().map(|m| m.len as u64).sum::<u64>();

        let mut incoming: BTreeMap<(i32, i32), VecDeque<Msg>> = BTreeMap::new();
        for m in msgs.iter().filter(|m| m.dst == rank) {
            incoming.entry((m.src, m.tag)).or_default().push_back(*m);
        }
        let mut local = Rng::new(key(rank, rank, seed, round));
        let layout = receive_layout(&incoming, &mut local);
        let mut bufs: Vec<Vec<u8>> = layout.iter().map(|&(_, l)| vec![GUARD; l]).collect();
        let outs: Vec<(Msg, Vec<u8>)> = msgs
            .iter()
            .filter(|m| m.src == rank)
            .map(|m| (*m, message(m.len, key(m.src, m.dst, seed, m.seq))))
            .collect();

        // 0: receives first; 1: sends first; 2: one receive, one send, ...
        let order = local.below(3);
        let sts = vmpi::scope(|sc| {
            let mut recvs = Vec::with_capacity(bufs.len());
            let mut sends = Vec::with_capacity(outs.len());
            let mut rit = bufs.iter_mut().zip(&layout);
            let mut sit = outs.iter();
            let mut post_recv = |recvs: &mut Vec<_>| -> bool {
                let Some((buf, &(want, _))) = rit.next() else {
                    return false;
                };
                let (src, tag) = want.unwrap_or((ANY_SOURCE, ANY_TAG));
                recvs.push(sc.irecv(w, buf.as_mut_slice(), src, tag).or_fail(
                    PROG,
                    rank,
                    &format!("round {round}: irecv from {src} tag {tag}"),
                ));
                true
            };
            let mut post_send = |sends: &mut Vec<_>| -> bool {
                let Some((m, data)) = sit.next() else {
                    return false;
                };
                sends.push(sc.isend(w, data.as_slice(), m.dst, m.tag).or_fail(
                    PROG,
                    rank,
                    &format!(
                        "round {round}: isend of seq {} to {} tag {} ({} bytes)",
                        m.seq, m.dst, m.tag, m.len
                    ),
                ));
                true
            };
            match order {
                0 => {
                    while post_recv(&mut recvs) {}
                    while post_send(&mut sends) {}
                }
                1 => {
                    while post_send(&mut sends) {}
                    while post_recv(&mut recvs) {}
                }
                _ => while post_recv(&mut recvs) | post_send(&mut sends) {},
            }
            recvs.extend(sends);
            vmpi::wait_all(&mut recvs)
        })
        .or_fail(
            PROG,
            rank,
            &format!(
                "round {round}: wait_all of {} receives and {} sends (a Truncate error: a \
                 message larger than the plan says, out of order or of the wrong size)",
                layout.len(),
                outs.len()
            ),
        );
        if sts.len() != layout.len() + outs.len() {
            fail(
                PROG,
                rank,
                format!(
                    "round {round}: wait_all gave {} statuses for {} requests",
                    sts.len(),
                    layout.len() + outs.len()
                ),
            );
        }
        for (i, (&(want, _), st)) in layout.iter().zip(&sts).enumerate() {
            s.check(i, want, st, &bufs[i], &mut incoming);
        }
        if let Some((k, q)) = incoming.iter().find(|(_, q)| !q.is_empty()) {
            fail(
                PROG,
                rank,
                format!(
                    "round {round}: {} message(s) of (source, tag) {k:?} not received",
                    q.len()
                ),
            );
        }

        // Rank 0's clock decides; the allreduce also keeps the next round's messages
        // away from this round's receives (every rank has finished its wait_all).
        let vote = [u64::from(
            rank == 0 && started.elapsed().as_secs_f64() >= seconds,
        )];
        let mut stop = [0u64];
        w.allreduce(Input::Buf(&vote), &mut stop, &Op::Max).or_fail(
            PROG,
            rank,
            &format!("round {round}: allreduce of the stop vote"),
        );
        s.round += 1;
        if stop[0] != 0 {
            break;
        }
    }
    progress.store(u64::MAX, Ordering::Relaxed);

    w.barrier().or_fail(PROG, rank, "final barrier");
    if let Some(st) = w.iprobe(ANY_SOURCE, ANY_TAG).or_fail(PROG, rank, "iprobe") {
        fail(
            PROG,
            rank,
            format!("a message beyond the plan arrived after the last round: {st:?}"),
        );
    }
    let mine = [s.messages, s.bytes];
    let mut total = [0u64; 2];
    w.reduce(
        Input::Buf(&mine),
        (rank == 0).then_some(&mut total[..]),
        &Op::Sum,
        0,
    )
    .or_fail(PROG, rank, "reduce of the totals");
    if rank == 0 {
        if (total[0], total[1]) != planned {
            fail(
                PROG,
                rank,
                format!(
                    "the ranks received {} messages ({} bytes), the plans hold {} ({} bytes)",
                    total[0], total[1], planned.0, planned.1
                ),
            );
        }
        let channels: Vec<String> = (1..n)
            .map(|p| format!("{p}:{}", channel_word(&universe, p)))
            .collect();
        println!(
            "soak rank 0/{n}: ok messages={} bytes={} rounds={} seed={seed} seconds={:.1} channels={}",
            total[0],
            total[1],
            s.round,
            started.elapsed().as_secs_f64(),
            channels.join(",")
        );
    }
    universe.finalize().or_fail(PROG, rank, "finalize");
}
