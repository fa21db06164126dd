//! Collective operations, built on point-to-point over the communicator's collective
//! context. This layer never talks to channels directly.
//!
//! For now: the barrier (dissemination, ceil(log2 p) rounds of zero-byte messages:
//! cost ceil(log2 p)·α). The full set of collectives comes with its own issue.

use crate::comm::Comm;
use crate::error::Result;
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Pattern, SendMode};
use crate::runtime;

/// Tag of barrier messages on the collective context.
const BARRIER_TAG: i32 = 1;

/// Block until every rank of `comm` has entered the barrier.
pub fn barrier(comm: &Comm) -> Result<()> {
    let p = comm.size();
    let me = comm.rank;
    let mut dist = 1;
    while dist < p {
        let to = (me + dist) % p;
        let from = (me - dist).rem_euclid(p);
        let (s, r) = runtime::with("MPI_Barrier", |rt| {
            // SAFETY: zero-byte buffers; nothing is read or written through them.
            let (sb, rb) = unsafe {
                (
                    SendBuf::new(std::ptr::NonNull::dangling().as_ptr(), 0),
                    RecvBuf::new(std::ptr::NonNull::dangling().as_ptr(), 0),
                )
            };
            // SAFETY: the buffers are empty, so they stay valid trivially.
            let r = unsafe {
                rt.engine.irecv(
                    rb,
                    Pattern {
                        ctx: comm.coll_ctx,
                        src: from,
                        tag: BARRIER_TAG,
                    },
                )?
            };
            // SAFETY: as above.
            let s = unsafe {
                rt.engine.isend(
                    sb,
                    comm.world_rank(to),
                    comm.coll_ctx,
                    me,
                    BARRIER_TAG,
                    SendMode::Standard,
                )?
            };
            Ok((s, r))
        })?;
        runtime::wait(s)?;
        runtime::wait(r)?;
        dist *= 2;
    }
    Ok(())
}
