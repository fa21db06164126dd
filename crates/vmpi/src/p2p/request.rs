//! Requests: the state of every operation in flight, in a slab addressed by
//! [`ReqId`]s that carry a generation, so a stale or forged id is detected instead
//! of touching someone else's operation.

use super::buffers::{RecvBuf, SendBuf};
use crate::error::{Error, ErrorClass, Result};

/// Wildcards and special ranks, with MPICH's values.
pub const ANY_SOURCE: i32 = -2;
pub const ANY_TAG: i32 = -1;
pub const PROC_NULL: i32 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReqId(pub u64);

impl ReqId {
    fn new(idx: usize, gen: u32) -> ReqId {
        ReqId(((gen as u64) << 32) | idx as u64)
    }
    fn idx(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    fn gen(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// What a completed operation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Rank of the sender in the communicator (receives), or [`PROC_NULL`].
    pub source: i32,
    pub tag: i32,
    /// Bytes received (or sent).
    pub count: usize,
    pub cancelled: bool,
    /// `Some(Truncate)` when the message was larger than the buffer.
    pub error: Option<ErrorClass>,
    /// The sender marked the message as sent by a failed collective
    /// (`SendBuf::failed`).
    pub sender_failed: bool,
}

impl Status {
    pub fn empty() -> Status {
        Status {
            source: PROC_NULL,
            tag: ANY_TAG,
            count: 0,
            cancelled: false,
            error: None,
            sender_failed: false,
        }
    }
}

/// Where an operation stands.
#[derive(Debug)]
pub enum Phase {
    /// A send whose packets are queued or on their way; done when `waiting` is zero.
    Send {
        peer: usize,
        buf: SendBuf,
    },
    /// A receive posted and not matched yet.
    Posted {
        buf: RecvBuf,
    },
    /// A receive matched to a rendezvous message whose chunks are arriving.
    Receiving {
        buf: RecvBuf,
        peer: usize,
        expected: u64,
        received: u64,
    },
    /// Completed by a layer above (a collective schedule, a generalized request).
    External,
    Done,
}

#[derive(Debug)]
pub struct Request {
    pub phase: Phase,
    /// Events still needed before a send completes (packets to push, acks to get).
    pub waiting: u32,
    pub status: Status,
}

impl Request {
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }
}

struct Slot {
    gen: u32,
    req: Option<Request>,
}

/// All requests of a rank.
#[derive(Default)]
pub struct Requests {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
}

impl Requests {
    pub fn insert(&mut self, r: Request) -> ReqId {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            let s = &mut self.slots[i];
            s.gen = s.gen.wrapping_add(1);
            s.req = Some(r);
            ReqId::new(i, s.gen)
        } else {
            self.slots.push(Slot {
                gen: 1,
                req: Some(r),
            });
            ReqId::new(self.slots.len() - 1, 1)
        }
    }

    pub fn get(&self, id: ReqId) -> Option<&Request> {
        self.slots
            .get(id.idx())
            .filter(|s| s.gen == id.gen())
            .and_then(|s| s.req.as_ref())
    }

    pub fn get_mut(&mut self, id: ReqId) -> Option<&mut Request> {
        self.slots
            .get_mut(id.idx())
            .filter(|s| s.gen == id.gen())
            .and_then(|s| s.req.as_mut())
    }

    /// The request, or an error naming the call for an id that is not live.
    pub fn expect_mut(&mut self, id: ReqId, call: &str) -> Result<&mut Request> {
        self.get_mut(id).ok_or_else(|| {
            Error::new(
                ErrorClass::Request,
                format!("{call}: request {:#x} is not active", id.0),
            )
        })
    }

    pub fn remove(&mut self, id: ReqId) -> Option<Request> {
        let s = self.slots.get_mut(id.idx()).filter(|s| s.gen == id.gen())?;
        let r = s.req.take()?;
        self.free.push(id.idx());
        self.live -= 1;
        Some(r)
    }

    /// Requests not yet freed.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_ids_are_rejected() {
        let mut r = Requests::default();
        let a = r.insert(Request {
            phase: Phase::Done,
            waiting: 0,
            status: Status::empty(),
        });
        assert!(r.get(a).is_some());
        r.remove(a).unwrap();
        let b = r.insert(Request {
            phase: Phase::Done,
            waiting: 0,
            status: Status::empty(),
        });
        assert!(r.get(a).is_none() && r.get(b).is_some());
        assert_eq!(
            r.expect_mut(a, "MPI_Wait").unwrap_err().class,
            ErrorClass::Request
        );
        assert_eq!(r.live(), 1);
    }
}
