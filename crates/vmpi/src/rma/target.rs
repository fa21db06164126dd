//! The target side of a window: the service the progress loop runs for it. It
//! takes every request on the window's context out of matching, in arrival
//! order, and carries each out once its bytes are here and every earlier one
//! is done, so requests of one origin apply in the order they were made
//! (MPI's default accumulate ordering) and a flush, unlock or complete is
//! answered after everything before it. Locks are granted here, in the order
//! asked; posts and completes of general active target synchronization are
//! counted here.
//!
//! Accumulates are atomic because the service carries out one request at a
//! time, under the runtime lock.

use super::memory::{self, Exposed};
use super::proto::{self, Kind, Request};
use crate::comm::Comm;
use crate::error::{Error, ErrorClass, Result};
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Engine, Pattern, ReqId, SendMode, ANY_SOURCE, ANY_TAG};
use std::collections::VecDeque;

/// A request being received.
struct Incoming {
    req: ReqId,
    buf: Vec<u8>,
}

#[derive(Debug, Default)]
struct Locks {
    exclusive: Option<i32>,
    shared: usize,
    /// Waiting: (origin, exclusive, reply tag).
    queue: VecDeque<(i32, bool, u32)>,
}

impl Locks {
    fn fits(&self, exclusive: bool) -> bool {
        self.exclusive.is_none() && (!exclusive || self.shared == 0)
    }
}

/// What a window's target side holds.
pub struct TargetSide {
    pub exposed: Exposed,
    locks: Locks,
    inflight: VecDeque<Incoming>,
    /// Replies on their way: (send, its buffer).
    replies: Vec<(ReqId, Vec<u8>)>,
    /// Per origin: a request of it fell outside the exposed memory since the
    /// last status sent to it.
    faults: Vec<bool>,
    /// Per rank: MPI_Win_post calls of it seen and not yet consumed by a start.
    pub posts: Vec<u32>,
    /// Per rank: MPI_Win_complete calls of it seen and not yet consumed by a wait.
    pub completes: Vec<u32>,
}

impl TargetSide {
    pub fn new(exposed: Exposed, n: usize) -> TargetSide {
        TargetSide {
            exposed,
            locks: Locks::default(),
            inflight: VecDeque::new(),
            replies: Vec::new(),
            faults: vec![false; n],
            posts: vec![0; n],
            completes: vec![0; n],
        }
    }

    /// Whether requests are still being received or replies sent.
    pub fn busy(&self) -> bool {
        !self.inflight.is_empty() || !self.replies.is_empty()
    }

    /// One pass: take new requests, carry out those ready, let go of replies
    /// sent. True if something moved.
    pub fn serve(&mut self, engine: &mut Engine, comm: &Comm) -> Result<bool> {
        let mut did = false;
        let pattern = Pattern {
            ctx: comm.ctx,
            src: ANY_SOURCE,
            tag: ANY_TAG,
        };
        while let Some((msg, st)) = engine.improbe(&pattern)? {
            let mut buf = vec![0u8; st.count];
            // SAFETY: `buf`'s heap block stays put (moved with its Vec into
            // `inflight`) and untouched until the receive completes.
            let req = unsafe { engine.imrecv(RecvBuf::new(buf.as_mut_ptr(), buf.len()), msg)? };
            self.inflight.push_back(Incoming { req, buf });
            did = true;
        }
        while let Some(front) = self.inflight.front() {
            let Some(st) = engine.test(front.req)? else {
                break;
            };
            let inc = self.inflight.pop_front().expect("front");
            self.carry_out(engine, comm, &inc.buf[..st.count], st.source)?;
            did = true;
        }
        let before = self.replies.len();
        let mut i = 0;
        while i < self.replies.len() {
            if engine.test(self.replies[i].0)?.is_some() {
                self.replies.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(did || self.replies.len() != before)
    }

    fn carry_out(&mut self, engine: &mut Engine, comm: &Comm, msg: &[u8], from: i32) -> Result<()> {
        let n = self.faults.len();
        if from < 0 || from as usize >= n {
            return Err(Error::intern(format!(
                "one-sided request from rank {from}, outside the window's {n} ranks"
            )));
        }
        let o = from as usize;
        let r = Request::decode(msg, from)?;
        let span = r.span();
        // The exposed ranges of a data request, if it is sound.
        let ranges = || -> Option<Vec<(usize, usize)>> {
            let span = span?;
            let want = match r.head.kind {
                Kind::Put | Kind::Acc => span,
                Kind::GetAcc => span,
                Kind::Cas => 2 * span,
                _ => 0,
            };
            (r.data.len() == want).then_some(())?;
            self.exposed.resolve(r.head.addr, &r.runs)
        };
        match r.head.kind {
            Kind::Put => match ranges() {
                // SAFETY: resolved inside the exposed memory.
                Some(rg) => unsafe { memory::scatter(&rg, r.data) },
                None => self.faults[o] = true,
            },
            Kind::Get => {
                let len = span.unwrap_or(0);
                let mut out;
                match ranges() {
                    Some(rg) => {
                        out = proto::reply(proto::OK, len);
                        // SAFETY: resolved inside the exposed memory.
                        unsafe { memory::gather(&rg, &mut out) };
                    }
                    None => {
                        out = proto::reply(proto::OUT_OF_RANGE, len);
                        out.resize(8 + len, 0);
                    }
                }
                self.reply(engine, comm, from, r.head.reply, out)?;
            }
            Kind::Acc | Kind::GetAcc | Kind::Cas => {
                let len = span.unwrap_or(0);
                let rg = ranges();
                let applied = match &rg {
                    Some(rg) => {
                        let mut old = Vec::with_capacity(len);
                        // SAFETY: resolved inside the exposed memory.
                        unsafe { memory::gather(rg, &mut old) };
                        let op = match r.head.kind {
                            Kind::Cas => None,
                            _ => Some(r.op()?),
                        };
                        let new = combine(r.head.kind, op.as_ref(), r.basic()?, r.data, &old)?;
                        if let Some(new) = &new {
                            // SAFETY: as above.
                            unsafe { memory::scatter(rg, new) };
                        }
                        Some(old)
                    }
                    None => None,
                };
                if r.head.kind != Kind::Acc {
                    let out = match applied {
                        Some(old) => {
                            let mut out = proto::reply(proto::OK, len);
                            out.extend_from_slice(&old);
                            out
                        }
                        None => {
                            let mut out = proto::reply(proto::OUT_OF_RANGE, len);
                            out.resize(8 + len, 0);
                            out
                        }
                    };
                    self.reply(engine, comm, from, r.head.reply, out)?;
                } else if rg.is_none() {
                    self.faults[o] = true;
                }
            }
            Kind::Lock => {
                let exclusive = r.head.flags & proto::EXCLUSIVE != 0;
                if self.locks.queue.is_empty() && self.locks.fits(exclusive) {
                    self.grant(engine, comm, from, exclusive, r.head.reply)?;
                } else {
                    self.locks.queue.push_back((from, exclusive, r.head.reply));
                }
            }
            Kind::Unlock => {
                if self.locks.exclusive == Some(from) {
                    self.locks.exclusive = None;
                } else if self.locks.shared > 0 {
                    self.locks.shared -= 1;
                }
                let st = self.status_for(o);
                self.reply(engine, comm, from, r.head.reply, proto::reply(st, 0))?;
                while let Some(&(who, excl, tag)) = self.locks.queue.front() {
                    if !self.locks.fits(excl) {
                        break;
                    }
                    self.locks.queue.pop_front();
                    self.grant(engine, comm, who, excl, tag)?;
                }
            }
            Kind::Flush => {
                let st = self.status_for(o);
                self.reply(engine, comm, from, r.head.reply, proto::reply(st, 0))?;
            }
            Kind::Post => self.posts[o] += 1,
            Kind::Complete => self.completes[o] += 1,
        }
        Ok(())
    }

    fn status_for(&mut self, o: usize) -> u64 {
        if std::mem::take(&mut self.faults[o]) {
            proto::OUT_OF_RANGE
        } else {
            proto::OK
        }
    }

    fn grant(
        &mut self,
        engine: &mut Engine,
        comm: &Comm,
        to: i32,
        excl: bool,
        tag: u32,
    ) -> Result<()> {
        if excl {
            self.locks.exclusive = Some(to);
        } else {
            self.locks.shared += 1;
        }
        self.reply(engine, comm, to, tag, proto::reply(proto::OK, 0))
    }

    fn reply(
        &mut self,
        engine: &mut Engine,
        comm: &Comm,
        to: i32,
        tag: u32,
        buf: Vec<u8>,
    ) -> Result<()> {
        // SAFETY: `buf`'s heap block stays put and unchanged in `replies` until
        // the send completes.
        let req = unsafe {
            engine.isend(
                SendBuf::new(buf.as_ptr(), buf.len()),
                comm.world_rank(to),
                comm.coll_ctx,
                comm.rank,
                tag as i32,
                SendMode::Standard,
            )?
        };
        self.replies.push((req, buf));
        Ok(())
    }
}

/// The new bytes of an accumulate or compare-and-swap (`op` None) of `data`
/// (for a compare-and-swap: the new element, then the compare element) over
/// `old`; None: leave them.
pub fn combine(
    kind: Kind,
    op: Option<&crate::op::Op>,
    basic: crate::datatype::Basic,
    data: &[u8],
    old: &[u8],
) -> Result<Option<Vec<u8>>> {
    let Some(op) = op.filter(|_| kind != Kind::Cas) else {
        let (origin, compare) = data.split_at(old.len().min(data.len()));
        return Ok((old == compare).then(|| origin.to_vec()));
    };
    if matches!(op, crate::op::Op::NoOp) {
        return Ok(None);
    }
    let size = basic.size();
    if size == 0 || !old.len().is_multiple_of(size) || data.len() != old.len() {
        return Err(Error::intern(
            "one-sided accumulate: runs of partial elements",
        ));
    }
    let mut new = old.to_vec();
    crate::op::apply(op, basic, old.len() / size, data, &mut new)
        .map_err(|e| Error::new(ErrorClass::Op, e.into_message()))?;
    Ok(Some(new))
}
