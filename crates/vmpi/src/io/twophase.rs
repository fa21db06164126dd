//! Two-phase collective buffering (ROMIO's design, MPI-3.1 §13.4.5's "collective
//! buffering"): the span of file the ranks access together is split evenly into
//! one file domain per aggregator; in rounds of `cb_buffer_size` bytes, every
//! rank sends the pieces of its access that fall in each aggregator's current
//! chunk to that aggregator (point-to-point on the file's own communicator), and
//! the aggregator does one large contiguous pwrite per stretch the pieces cover
//! (one when the ranks together cover the chunk; holes are left alone) or one
//! large pread whose bytes it sends back. Many small strided accesses become few large ones.
//!
//! A message is `[n, (off, len) * n]` as little-endian i64s, followed for writes
//! by the pieces' bytes.

use super::fs::{pread_full, pwrite_all};
use super::view::Run;
use crate::api::{scope, wait_all, Communicator, Input};
use crate::error::{Error, Result};
use crate::op::Op;
use std::fs::File;

const TAG_WRITE: i32 = 0x10;
const TAG_REQ: i32 = 0x11;
const TAG_REPLY: i32 = 0x12;

/// `a / b` rounded up (a >= 0, b > 0).
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Who does what: the file domains of one collective access.
pub struct Plan {
    lo: i64,
    dsize: i64,
    hi: i64,
    rounds: i64,
    cb: i64,
}

impl Plan {
    /// Agree on the accessed span (collective). None when nobody accesses
    /// anything. `align`: file domains start at multiples of it (a stripe).
    pub fn make(
        comm: &Communicator,
        runs: &[Run],
        naggr: usize,
        cb: usize,
        align: i64,
    ) -> Result<Option<Plan>> {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for r in runs.iter().filter(|r| r.len > 0) {
            lo = lo.min(r.off);
            hi = hi.max(r.off + r.len as i64);
        }
        let mine = [lo, hi.wrapping_neg()];
        let mut all = [0i64; 2];
        comm.allreduce(Input::Buf(&mine), &mut all, &Op::Min)?;
        let (lo, hi) = (all[0], all[1].wrapping_neg());
        if lo >= hi {
            return Ok(None);
        }
        let n = naggr.max(1) as i64;
        let mut dsize = ceil_div(hi - lo, n);
        if align > 1 {
            dsize = ceil_div(dsize, align) * align;
        }
        let cb = (cb.max(1) as i64).min(dsize);
        Ok(Some(Plan {
            lo,
            dsize,
            hi,
            rounds: ceil_div(dsize, cb),
            cb,
        }))
    }

    /// The chunk aggregator `i` handles in round `r` (may be empty).
    fn chunk(&self, i: usize, r: i64) -> (i64, i64) {
        let d0 = self.lo + i as i64 * self.dsize;
        let d1 = (d0 + self.dsize).min(self.hi);
        let a = (d0 + r * self.cb).min(d1);
        let b = (a + self.cb).min(d1);
        (a, b)
    }
}

/// The parts of `runs` (sorted by offset, not overlapping) inside `[a, b)`.
fn clip(runs: &[Run], a: i64, b: i64) -> Vec<Run> {
    let first = runs.partition_point(|r| r.off + r.len as i64 <= a);
    let mut out = Vec::new();
    for r in &runs[first..] {
        if r.off >= b {
            break;
        }
        let s = r.off.max(a);
        let e = (r.off + r.len as i64).min(b);
        if e > s {
            out.push(Run {
                off: s,
                len: (e - s) as usize,
                pos: r.pos + (s - r.off) as usize,
            });
        }
    }
    out
}

fn header(pieces: &[Run], extra: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + 16 * pieces.len() + extra);
    m.extend_from_slice(&(pieces.len() as i64).to_le_bytes());
    for p in pieces {
        m.extend_from_slice(&p.off.to_le_bytes());
        m.extend_from_slice(&(p.len as i64).to_le_bytes());
    }
    m
}

/// Parse a message: its pieces (`pos` = where the bytes start in the message).
fn parse(m: &[u8]) -> Result<Vec<Run>> {
    let word = |i: usize| -> Result<i64> {
        m.get(i * 8..i * 8 + 8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or_else(|| Error::intern("two-phase I/O: short message"))
    };
    let n = word(0)? as usize;
    let mut pos = 8 + 16 * n;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let off = word(1 + 2 * k)?;
        let len = word(2 + 2 * k)? as usize;
        out.push(Run { off, len, pos });
        pos += len;
    }
    Ok(out)
}

fn sorted(runs: &[Run]) -> Vec<Run> {
    let mut v: Vec<Run> = runs.iter().copied().filter(|r| r.len > 0).collect();
    v.sort_by_key(|r| r.off);
    v
}

/// One round's exchange toward the aggregators: every rank sends `msgs[i]` to
/// aggregator `aggrs[i]`; an aggregator (`me_aggr`) gets one message from every
/// rank, in rank order.
fn to_aggregators(
    comm: &Communicator,
    msgs: &[Vec<u8>],
    aggrs: &[i32],
    me_aggr: bool,
    tag: i32,
) -> Result<Vec<Vec<u8>>> {
    let mut got = Vec::new();
    scope(|s| -> Result<()> {
        let mut reqs = Vec::with_capacity(msgs.len());
        for (m, &a) in msgs.iter().zip(aggrs) {
            reqs.push(s.isend(comm, &m[..], a, tag)?);
        }
        if me_aggr {
            for src in 0..comm.size() {
                let st = comm.probe(src, tag)?;
                let mut b = vec![0u8; st.count];
                comm.recv(&mut b, src, tag)?;
                got.push(b);
            }
        }
        wait_all(&mut reqs)?;
        Ok(())
    })?;
    Ok(got)
}

/// Collective write of `data` to `runs` through the aggregators `aggrs`. An
/// I/O error of this rank's does not stop the exchange (the others would wait):
/// it comes back as `Ok(Some(e))` once the rounds are over.
pub fn write_all(
    comm: &Communicator,
    f: &File,
    runs: &[Run],
    data: &[u8],
    aggrs: &[i32],
    plan: &Plan,
) -> Result<Option<std::io::Error>> {
    let runs = sorted(runs);
    let me = comm.rank();
    let me_aggr = aggrs.iter().position(|&a| a == me);
    // An aggregator writes round r's chunk on a helper thread while the
    // exchange of round r + 1 goes on (two chunks in memory at most).
    std::thread::scope(|sc| -> Result<Option<std::io::Error>> {
        let mut ioerr = None;
        let mut writing: Option<std::thread::ScopedJoinHandle<'_, Option<std::io::Error>>> = None;
        let settle = |h: Option<std::thread::ScopedJoinHandle<'_, Option<std::io::Error>>>,
                      ioerr: &mut Option<std::io::Error>| {
            if let Some(h) = h {
                if let Some(e) = h.join().expect("the chunk writer does not panic") {
                    ioerr.get_or_insert(e);
                }
            }
        };
        for round in 0..plan.rounds {
            let msgs: Vec<Vec<u8>> = (0..aggrs.len())
                .map(|i| {
                    let (a, b) = plan.chunk(i, round);
                    let pieces = clip(&runs, a, b);
                    let bytes: usize = pieces.iter().map(|p| p.len).sum();
                    let mut m = header(&pieces, bytes);
                    for p in &pieces {
                        m.extend_from_slice(&data[p.pos..p.pos + p.len]);
                    }
                    m
                })
                .collect();
            let got = to_aggregators(comm, &msgs, aggrs, me_aggr.is_some(), TAG_WRITE)?;
            let Some(i) = me_aggr else { continue };
            let (a, b) = plan.chunk(i, round);
            let mut pieces: Vec<(Run, usize)> = Vec::new();
            for (k, m) in got.iter().enumerate() {
                pieces.extend(parse(m)?.into_iter().map(|p| (p, k)));
            }
            if pieces.is_empty() {
                continue;
            }
            pieces.sort_by_key(|(p, _)| p.off);
            let lo = pieces[0].0.off.max(a);
            let hi = pieces
                .iter()
                .map(|(p, _)| p.off + p.len as i64)
                .max()
                .expect("not empty")
                .min(b);
            // Assemble the chunk in memory and write each stretch the pieces
            // cover with one pwrite: one in the common case where the ranks
            // together cover the chunk; holes are never written, so they keep
            // whatever other writers put there (no read-modify-write, no lock).
            let mut buf = vec![0u8; (hi - lo) as usize];
            let mut stretches: Vec<(i64, i64)> = Vec::new();
            for (p, k) in &pieces {
                let at = (p.off - lo) as usize;
                buf[at..at + p.len].copy_from_slice(&got[*k][p.pos..p.pos + p.len]);
                let end = p.off + p.len as i64;
                match stretches.last_mut() {
                    Some((_, e)) if p.off <= *e => *e = (*e).max(end),
                    _ => stretches.push((p.off, end)),
                }
            }
            drop(got);
            settle(writing.take(), &mut ioerr);
            writing = Some(sc.spawn(move || {
                for (s0, s1) in stretches {
                    let part = &buf[(s0 - lo) as usize..(s1 - lo) as usize];
                    if let Err(e) = pwrite_all(f, part, s0 as u64) {
                        return Some(e);
                    }
                }
                None
            }));
        }
        settle(writing.take(), &mut ioerr);
        Ok(ioerr)
    })
}

/// Collective read of `runs` into `data` through the aggregators `aggrs`
/// (bytes past the end of the file read as zero).
pub fn read_all(
    comm: &Communicator,
    f: &File,
    runs: &[Run],
    data: &mut [u8],
    aggrs: &[i32],
    plan: &Plan,
) -> Result<Option<std::io::Error>> {
    let runs = sorted(runs);
    let me = comm.rank();
    let me_aggr = aggrs.iter().position(|&a| a == me);
    let mut ioerr = None;
    for round in 0..plan.rounds {
        let mine: Vec<Vec<Run>> = (0..aggrs.len())
            .map(|i| {
                let (a, b) = plan.chunk(i, round);
                clip(&runs, a, b)
            })
            .collect();
        let msgs: Vec<Vec<u8>> = mine.iter().map(|p| header(p, 0)).collect();
        let asked = to_aggregators(comm, &msgs, aggrs, me_aggr.is_some(), TAG_REQ)?;
        // The aggregator reads its chunk's span once and answers every rank.
        let mut replies: Vec<Vec<u8>> = Vec::new();
        if me_aggr.is_some() {
            let mut lists = Vec::with_capacity(asked.len());
            for m in &asked {
                match parse(m) {
                    Ok(ps) => lists.push(ps),
                    Err(e) => return Err(e),
                }
            }
            let lo = lists.iter().flatten().map(|p| p.off).min();
            let hi = lists.iter().flatten().map(|p| p.off + p.len as i64).max();
            let mut span = Vec::new();
            if let (Some(lo), Some(hi)) = (lo, hi) {
                span = vec![0u8; (hi - lo) as usize];
                if let Err(e) = pread_full(f, &mut span, lo as u64) {
                    ioerr.get_or_insert(e);
                }
            }
            let lo = lo.unwrap_or(0);
            for ps in &lists {
                let mut out = Vec::with_capacity(ps.iter().map(|p| p.len).sum());
                for p in ps {
                    let at = (p.off - lo) as usize;
                    out.extend_from_slice(&span[at..at + p.len]);
                }
                replies.push(out);
            }
        }
        let mut back: Vec<Vec<u8>> = mine
            .iter()
            .map(|ps| vec![0u8; ps.iter().map(|p| p.len).sum()])
            .collect();
        let r = scope(|s| -> Result<()> {
            let mut reqs = Vec::with_capacity(replies.len());
            for (src, m) in replies.iter().enumerate() {
                reqs.push(s.isend(comm, &m[..], src as i32, TAG_REPLY)?);
            }
            for (i, b) in back.iter_mut().enumerate() {
                comm.recv(&mut b[..], aggrs[i], TAG_REPLY)?;
            }
            wait_all(&mut reqs)?;
            Ok(())
        });
        r?;
        for (ps, b) in mine.iter().zip(&back) {
            let mut at = 0;
            for p in ps {
                data[p.pos..p.pos + p.len].copy_from_slice(&b[at..at + p.len]);
                at += p.len;
            }
        }
    }
    Ok(ioerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(off: i64, len: usize, pos: usize) -> Run {
        Run { off, len, pos }
    }

    #[test]
    fn clip_cuts_runs_to_a_chunk() {
        let runs = [run(0, 10, 0), run(20, 10, 10), run(40, 10, 20)];
        assert_eq!(clip(&runs, 5, 25), vec![run(5, 5, 5), run(20, 5, 10)]);
        assert_eq!(clip(&runs, 30, 40), vec![]);
        assert_eq!(clip(&runs, 0, 100), runs.to_vec());
    }

    #[test]
    fn messages_round_trip() {
        let pieces = [run(7, 3, 0), run(100, 2, 3)];
        let mut m = header(&pieces, 5);
        m.extend_from_slice(b"abcde");
        let back = parse(&m).unwrap();
        assert_eq!(back, vec![run(7, 3, 40), run(100, 2, 43)]);
        assert_eq!(&m[40..43], b"abc");
        assert!(parse(&m[..20]).is_err());
    }

    #[test]
    fn chunks_cover_the_span_once() {
        let p = Plan {
            lo: 10,
            dsize: 40,
            hi: 110,
            rounds: 3,
            cb: 16,
        };
        let mut covered = Vec::new();
        for i in 0..3 {
            for r in 0..p.rounds {
                let (a, b) = p.chunk(i, r);
                covered.extend(a..b);
            }
        }
        covered.sort();
        assert_eq!(covered, (10..110).collect::<Vec<_>>());
    }
}
