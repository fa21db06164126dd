//! Blocking collectives on two ranks whose messages are too large for the shared
//! collective area: a bcast or a reduce is one message (from the root, to the
//! root), an allgather or an alltoall one block each way (each rank copying its
//! own block meanwhile). Such a
//! call is posted straight to the engine and waited for in one loop, as
//! MPI_Sendrecv is, instead of building a [`Sched`](super::Sched): the
//! schedule's allocations and reference counts cost a tenth or more of a 64 KiB
//! bcast (docs/performance.md, "Measurements behind constants and choices in the
//! code").
//!
//! The messages are exactly those the schedule would send (collective context,
//! the call's tag, the same protocol flags), and both ranks decide the same way
//! (the planner, `plan::Plan::TwoRank`, sees the same inputs on both), so nothing
//! else changes: tags of later calls, error reports, what happens to the buffers
//! when a message fails.

use super::sched::{check_status, settled, Reduction};
use crate::comm::Comm;
use crate::error::Result;
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Pattern, ReqId, SendMode};
use crate::runtime;

/// One rank's part of a two-rank collective: what it sends the other rank, what it
/// receives from it, and what it copies locally while the messages move. A rank
/// that copies is busy meanwhile and its messages say so, as a schedule's do
/// (`SendBuf::busy`, `RecvBuf::busy`); `read_here`: a reduction reads the
/// received bytes next (`RecvBuf::read_here`).
#[derive(Default)]
struct Part<'a> {
    send: Option<&'a [u8]>,
    recv: Option<&'a mut [u8]>,
    copy: Option<(&'a [u8], &'a mut [u8])>,
    read_here: bool,
}

/// Post `part` under the call's tag, copy, and wait for both messages.
fn run(comm: &Comm, call: &'static str, part: Part<'_>) -> Result<()> {
    let tag = comm.skip_call();
    let me = comm.rank as usize;
    let peer = 1 - me;
    let to = comm.group[peer];
    let busy = part.copy.is_some();
    let Part {
        send,
        mut recv,
        mut copy,
        read_here,
    } = part;
    // (request, bytes expected; usize::MAX for the send)
    let mut pending: [Option<(ReqId, usize)>; 2] = [None, None];
    let mut posted = false;
    let r = runtime::progress_until(call, |rt| {
        if !posted {
            posted = true;
            if let Some(r) = recv.as_mut() {
                // SAFETY: `recv` is borrowed exclusively for this call, which does
                // not return before the receive completes or is withdrawn (below).
                let mut buf = unsafe { RecvBuf::new(r.as_mut_ptr(), r.len()) };
                if busy {
                    buf = buf.busy();
                }
                if read_here {
                    buf = buf.read_here();
                }
                let pat = Pattern {
                    ctx: comm.coll_ctx,
                    src: peer as i32,
                    tag,
                };
                // SAFETY: `buf` stays valid and untouched until the request is done
                // (as above).
                let id = unsafe { rt.engine.irecv(buf, pat)? };
                pending[0] = Some((id, r.len()));
            }
            if let Some(s) = send {
                // SAFETY: `send` is borrowed for this call and unchanged meanwhile; a
                // send still in flight when the call fails is only read (the peer's
                // pull), never written.
                let mut buf = unsafe { SendBuf::new(s.as_ptr(), s.len()) };
                if busy {
                    buf = buf.busy();
                }
                // SAFETY: as above.
                let id = unsafe {
                    rt.engine
                        .isend(buf, to, comm.coll_ctx, me as i32, tag, SendMode::Standard)?
                };
                pending[1] = Some((id, usize::MAX));
            }
            if let Some((from, into)) = copy.take() {
                into.copy_from_slice(from);
            }
        }
        for slot in pending.iter_mut() {
            if let Some((id, expected)) = *slot {
                if let Some(st) = rt.engine.test(id)? {
                    *slot = None;
                    check_status(call, st, expected)?;
                }
            }
        }
        Ok(pending.iter().all(Option::is_none))
    });
    if r.is_err() {
        // Nothing may write into the caller's buffers once the call returns.
        let mut left: Vec<(ReqId, usize)> = pending.iter().flatten().copied().collect();
        runtime::progress_until(call, |rt| settled(&mut rt.engine, &mut left, |m| *m))?;
    }
    r
}

// The planner (`plan::Plan::TwoRank`) chose this way for each call below; each
// declines (None) what the shape of its arguments rules out, and bad arguments:
// the schedule's builder then sends the same messages, or reports the error.

/// MPI_Bcast of `buf` from `root` on two ranks, if `takes`.
pub fn bcast(comm: &Comm, buf: &mut [u8], root: i32) -> Option<Result<()>> {
    if !(0..2).contains(&root) {
        return None;
    }
    let part = if comm.rank == root {
        Part {
            send: Some(buf),
            ..Part::default()
        }
    } else {
        Part {
            recv: Some(buf),
            ..Part::default()
        }
    };
    Some(run(comm, "MPI_Bcast", part))
}

/// MPI_Allgather on two ranks (`send` None: in place; `recv` holds two blocks
/// of `send`'s length), if `takes`.
pub fn allgather(comm: &Comm, send: Option<&[u8]>, recv: &mut [u8]) -> Option<Result<()>> {
    let blk = recv.len() / 2;
    if !recv.len().is_multiple_of(2) || send.is_some_and(|m| m.len() != blk) {
        return None;
    }
    let me = comm.rank as usize;
    let (lo, hi) = recv.split_at_mut(blk);
    let (mine, theirs) = if me == 0 { (lo, hi) } else { (hi, lo) };
    let part = match send {
        Some(m) => Part {
            send: Some(m),
            recv: Some(theirs),
            copy: Some((m, mine)),
            ..Part::default()
        },
        None => Part {
            send: Some(mine),
            recv: Some(theirs),
            ..Part::default()
        },
    };
    Some(run(comm, "MPI_Allgather", part))
}

/// MPI_Alltoall on two ranks (`send` and `recv` hold two blocks each), if
/// `takes`. In place (`send` None) it needs a copy of the outgoing block: the
/// schedule does that.
pub fn alltoall(comm: &Comm, send: Option<&[u8]>, recv: &mut [u8]) -> Option<Result<()>> {
    let blk = recv.len() / 2;
    let send = send.filter(|m| m.len() == recv.len() && recv.len().is_multiple_of(2))?;
    let me = comm.rank as usize;
    let (slo, shi) = send.split_at(blk);
    let (rlo, rhi) = recv.split_at_mut(blk);
    let (own, out, mine, theirs) = if me == 0 {
        (slo, shi, rlo, rhi)
    } else {
        (shi, slo, rhi, rlo)
    };
    let part = Part {
        send: Some(out),
        recv: Some(theirs),
        copy: Some((own, mine)),
        ..Part::default()
    };
    Some(run(comm, "MPI_Alltoall", part))
}

/// MPI_Reduce to `root` on two ranks (`recv` at the root), if `takes`, the
/// binomial tree's one message: the other rank's input into the root's `recv`,
/// then `recv = input(rank 0) op input(rank 1)`. Declined: in place (the
/// received bytes need scratch), and a non-commutative operation to root 1
/// (the tree then reduces at rank 0 and sends the result on).
pub fn reduce(
    comm: &Comm,
    red: &Reduction,
    send: Option<&[u8]>,
    recv: Option<&mut [u8]>,
    root: i32,
) -> Option<Result<()>> {
    let send = send?;
    if !(0..2).contains(&root)
        || (root == 1 && !red.commutative())
        || !send.len().is_multiple_of(red.unit)
    {
        return None;
    }
    if comm.rank != root {
        let part = Part {
            send: Some(send),
            ..Part::default()
        };
        return Some(run(comm, "MPI_Reduce", part));
    }
    let recv = recv.filter(|r| r.len() == send.len())?;
    let call = "MPI_Reduce";
    let part = Part {
        recv: Some(&mut *recv),
        read_here: true,
        ..Part::default()
    };
    Some(run(comm, call, part).and_then(|()| red.run(send, recv).map_err(|e| e.within(call))))
}
