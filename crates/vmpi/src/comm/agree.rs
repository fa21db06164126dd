//! Context-id agreement run by the progress engine: the rounds of
//! [`ctxid::Alloc`] (every member's contribution ANDed, then all take the same
//! pair or all go round again) as a [`Schedule`] behind an engine request.
//! Blocking constructors wait for the request; `MPI_Comm_idup` hands it to the
//! caller, so an agreement in flight never holds up its caller's other work, and
//! any thread's progress moves every agreement along.
//!
//! Every round of one agreement uses the same tag: its members run the same
//! rounds in the same order, so the messages between two members stay in order
//! (MPI's non-overtaking rule), and the tag is the agreement's own (the parent's
//! next collective call, or create_group's tag in its own tag space).

use super::ctxid::{Alloc, MASK_LEN};
use crate::coll::{self, CollCtx, Raw, RawMut, Reduction, Sched};
use crate::datatype::Basic;
use crate::error::{Error, Result};
use crate::op::Op;
use crate::p2p::{Engine, ReqId, Status};
use crate::runtime::{self, Schedule};
use std::sync::{Arc, Mutex};

/// Who agrees.
pub enum Members {
    /// Every member of `cc`'s group.
    Intra(CollCtx),
    /// The two groups of an intercommunicator: each ANDs within `local`; the
    /// local leader (rank `leader` of `local`) swaps the result with the remote
    /// leader through `pair` (a two-member context: this leader as rank 0, the
    /// remote one as rank 1; None on the other ranks) and broadcasts the
    /// combined mask, so both groups settle the same mask.
    Inter {
        local: CollCtx,
        leader: usize,
        pair: Option<CollCtx>,
    },
}

type Outcome = Arc<Mutex<Option<Result<u32>>>>;

/// An agreement in flight.
pub struct Agreement {
    req: ReqId,
    out: Outcome,
}

impl Agreement {
    /// Start agreeing on a context pair for `alloc` among `members`.
    pub fn start(call: &'static str, members: Members, alloc: Alloc) -> Result<Agreement> {
        let out: Outcome = Arc::default();
        let req = runtime::with(call, |rt| {
            let req = rt.engine.new_external();
            let mut r = Rounds {
                call,
                alloc,
                members,
                mask: Box::new([0; MASK_LEN]),
                theirs: Box::new([0; MASK_LEN]),
                at: At::Contribute,
                req,
                out: out.clone(),
            };
            if !r.advance(&mut rt.engine)? {
                rt.schedules.push(Box::new(r));
            }
            Ok(req)
        })?;
        Ok(Agreement { req, out })
    }

    /// The engine request that completes when the members have agreed (or
    /// failed to).
    pub fn request(&self) -> ReqId {
        self.req
    }

    /// The agreed point-to-point context, once the request has completed.
    pub fn outcome(&self) -> Result<u32> {
        self.out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| Err(Error::intern("context agreement read before it completed")))
    }

    /// Wait for the agreement (progressing everything else meanwhile).
    pub fn wait(self) -> Result<u32> {
        runtime::wait(self.req)?;
        self.outcome()
    }
}

/// Blocking agreement: start and wait.
pub fn agree(call: &'static str, members: Members, alloc: Alloc) -> Result<u32> {
    Agreement::start(call, members, alloc)?.wait()
}

/// Where a round stands.
enum At {
    /// About to contribute this process's mask for a new round.
    Contribute,
    /// Running a step of the round; what follows it.
    Run(Sched, Then),
    /// A step failed: its messages settle, then the request fails.
    Failed(Sched, Error),
    Done,
}

#[derive(Clone, Copy)]
enum Then {
    /// The agreed mask is in: settle the round.
    Settle,
    /// An intercommunicator's group has ANDed its masks: the leader swaps.
    Swap,
    /// The leaders have swapped: combine, then broadcast.
    Combine,
}

struct Rounds {
    call: &'static str,
    alloc: Alloc,
    members: Members,
    /// This round's contribution, ANDed in place.
    mask: Box<[u64; MASK_LEN]>,
    /// The other group's mask (intercommunicator leaders).
    theirs: Box<[u64; MASK_LEN]>,
    at: At,
    req: ReqId,
    out: Outcome,
}

fn bytes(m: &mut [u64; MASK_LEN]) -> &mut [u8] {
    // SAFETY: u64s are plain bytes; the slice borrows `m` exclusively.
    unsafe { std::slice::from_raw_parts_mut(m.as_mut_ptr().cast::<u8>(), MASK_LEN * 8) }
}

impl Rounds {
    fn allreduce(&mut self, cc: CollCtx) -> Result<Sched> {
        let band = Reduction::new(Op::Band, Some(Basic::U64), 8)?;
        // SAFETY: the mask is boxed and lives in `self` until the schedule ends.
        unsafe { coll::allreduce(cc, band, None, RawMut::of(bytes(&mut self.mask)), None) }
    }

    fn bcast(&mut self, cc: CollCtx, root: usize) -> Result<Sched> {
        // SAFETY: as for `allreduce`.
        unsafe { coll::bcast(cc, RawMut::of(bytes(&mut self.mask)), root as i32, None) }
    }

    fn swap(&mut self, pair: CollCtx) -> Sched {
        let mut s = Sched::new(self.call, pair);
        // SAFETY: both masks are boxed and live in `self` until the schedule
        // ends; the mask is only read (sent), `theirs` only written.
        unsafe {
            let mine = Raw::of(bytes(&mut self.mask));
            let a = s.ext(mine.ptr, mine.len);
            let t = RawMut::of(bytes(&mut self.theirs));
            let b = s.ext(t.ptr, t.len);
            s.sendrecv(1, a, b);
        }
        s
    }

    /// The next step of the round after `then`, or None when the round is over.
    fn next(&mut self, then: Then) -> Result<Option<At>> {
        Ok(Some(match (then, &self.members) {
            (Then::Settle, _) => return Ok(None),
            (Then::Swap, Members::Inter { pair: Some(p), .. }) => {
                let p = p.clone();
                At::Run(self.swap(p), Then::Combine)
            }
            (Then::Swap | Then::Combine, Members::Inter { local, leader, .. }) => {
                if matches!(then, Then::Combine) {
                    for i in 0..MASK_LEN {
                        self.mask[i] &= self.theirs[i];
                    }
                }
                let (cc, root) = (local.clone(), *leader);
                At::Run(self.bcast(cc, root)?, Then::Settle)
            }
            (_, Members::Intra(_)) => {
                return Err(Error::intern(
                    "intercommunicator step on an intracommunicator",
                ))
            }
        }))
    }

    fn finish(&mut self, engine: &mut Engine, r: Result<u32>) -> Result<bool> {
        let mut st = Status::empty();
        if let Err(e) = &r {
            st.error = Some(e.class);
        }
        *self.out.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        self.at = At::Done;
        engine.complete_external(self.req, st)?;
        Ok(true)
    }

    fn step(&mut self, engine: &mut Engine) -> Result<bool> {
        loop {
            match std::mem::replace(&mut self.at, At::Done) {
                At::Contribute => {
                    self.alloc.contribute(&mut self.mask);
                    self.at = match &self.members {
                        Members::Intra(cc) => {
                            let cc = cc.clone();
                            At::Run(self.allreduce(cc)?, Then::Settle)
                        }
                        Members::Inter { local, .. } => {
                            let cc = local.clone();
                            At::Run(self.allreduce(cc)?, Then::Swap)
                        }
                    };
                }
                At::Run(mut s, then) => match s.step(engine) {
                    Ok(false) => {
                        self.at = At::Run(s, then);
                        return Ok(false);
                    }
                    Ok(true) => match self.next(then)? {
                        Some(at) => self.at = at,
                        None => match self.alloc.settle(&self.mask, self.call) {
                            Ok(Some(ctx)) => return self.finish(engine, Ok(ctx)),
                            Ok(None) => {
                                // Round again at the next pass, not now: the
                                // other allocations on this process must get
                                // to run first (one whose members are all here
                                // would otherwise round at once, for ever,
                                // under the runtime lock).
                                self.at = At::Contribute;
                                return Ok(false);
                            }
                            Err(e) => return self.finish(engine, Err(e)),
                        },
                    },
                    Err(e) => self.at = At::Failed(s, e),
                },
                At::Failed(mut s, e) => {
                    if !s.settle_pass(engine)? {
                        self.at = At::Failed(s, e);
                        return Ok(false);
                    }
                    return self.finish(engine, Err(e));
                }
                At::Done => return Ok(true),
            }
        }
    }
}

impl Schedule for Rounds {
    fn advance(&mut self, engine: &mut Engine) -> Result<bool> {
        match self.step(engine) {
            Ok(done) => Ok(done),
            // A round that cannot even be built: the request fails with it.
            Err(e) => self.finish(engine, Err(e)),
        }
    }
}
