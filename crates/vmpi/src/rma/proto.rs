//! The one-sided wire protocol: what an origin asks a target to do, as one
//! point-to-point message on the window's private context, and what comes back.
//!
//! A request is a fixed [`Head`], then `nruns` runs `(offset, len)` of bytes at
//! the target (relative to the target address `addr`: the flattened target
//! datatype), then the data. A reply travels on the window's second context with
//! the tag the request named, and starts with a status word.
//!
//! Requests come from other processes: [`Request::decode`] checks every length
//! against the message, so a bad one is an error, never a crash.

use crate::datatype::Basic;
use crate::error::{Error, Result};
use crate::op::Op;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Write the data into the runs.
    Put = 1,
    /// Reply with the runs' bytes.
    Get = 2,
    /// Combine the data into the runs element by element with `op`.
    Acc = 3,
    /// Reply with the runs' bytes, then combine (MPI_Get_accumulate,
    /// MPI_Fetch_and_op).
    GetAcc = 4,
    /// One element: reply with it, and replace it with the first half of the
    /// data if it equals the second half.
    Cas = 5,
    /// Grant a lock (flag [`EXCLUSIVE`]) when it is free: reply then.
    Lock = 6,
    /// Release the origin's lock; reply once released, with the status.
    Unlock = 7,
    /// Reply once every earlier request of this origin is done, with the status.
    Flush = 8,
    /// Target to origin: the target's exposure epoch for it has begun
    /// (MPI_Win_post); no reply.
    Post = 9,
    /// Origin to target: its access epoch has ended (MPI_Win_complete), after
    /// all its requests; no reply.
    Complete = 10,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Put,
            2 => Kind::Get,
            3 => Kind::Acc,
            4 => Kind::GetAcc,
            5 => Kind::Cas,
            6 => Kind::Lock,
            7 => Kind::Unlock,
            8 => Kind::Flush,
            9 => Kind::Post,
            10 => Kind::Complete,
            _ => return None,
        })
    }
    /// Whether the target answers this request.
    pub fn replies(self) -> bool {
        !matches!(self, Kind::Put | Kind::Acc | Kind::Post | Kind::Complete)
    }
}

/// Flag of [`Kind::Lock`]: an exclusive lock.
pub const EXCLUSIVE: u8 = 1;

/// The predefined operations a request may carry (user operations are not
/// allowed in one-sided accumulates, MPI-3.1 §11.3.4).
const OPS: [Op; 14] = [
    Op::Max,
    Op::Min,
    Op::Sum,
    Op::Prod,
    Op::Land,
    Op::Band,
    Op::Lor,
    Op::Bor,
    Op::Lxor,
    Op::Bxor,
    Op::MaxLoc,
    Op::MinLoc,
    Op::Replace,
    Op::NoOp,
];

/// The wire number of a predefined operation; None for a user operation.
pub fn op_code(op: &Op) -> Option<u8> {
    OPS.iter()
        .position(|o| std::mem::discriminant(o) == std::mem::discriminant(op))
        .map(|i| i as u8)
}

/// The fixed part of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub kind: Kind,
    /// [`op_code`] of accumulates.
    pub op: u8,
    /// `Basic as u8` of accumulates.
    pub basic: u8,
    /// [`EXCLUSIVE`] for locks.
    pub flags: u8,
    /// The reply's tag (requests that reply).
    pub reply: u32,
    /// Byte offset into the target's window, or an absolute address in a dynamic
    /// window.
    pub addr: u64,
}

const HEAD_BYTES: usize = 24;
const RUN_BYTES: usize = 16;

/// A request as built by an origin.
pub fn encode(head: &Head, runs: &[(i64, usize)], data_len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEAD_BYTES + runs.len() * RUN_BYTES + data_len);
    v.push(head.kind as u8);
    v.push(head.op);
    v.push(head.basic);
    v.push(head.flags);
    v.extend_from_slice(&head.reply.to_le_bytes());
    v.extend_from_slice(&head.addr.to_le_bytes());
    v.extend_from_slice(&(runs.len() as u64).to_le_bytes());
    for &(off, len) in runs {
        v.extend_from_slice(&off.to_le_bytes());
        v.extend_from_slice(&(len as u64).to_le_bytes());
    }
    v
}

/// A request as a target reads it.
#[derive(Debug)]
pub struct Request<'a> {
    pub head: Head,
    pub runs: Vec<(i64, usize)>,
    pub data: &'a [u8],
}

impl<'a> Request<'a> {
    /// Check and split a request from rank `from`.
    pub fn decode(msg: &'a [u8], from: i32) -> Result<Request<'a>> {
        let bad = |what: &str| {
            Error::intern(format!(
                "one-sided request from rank {from}: {what} ({} bytes)",
                msg.len()
            ))
        };
        if msg.len() < HEAD_BYTES {
            return Err(bad("shorter than its header"));
        }
        let word = |at: usize| u64::from_le_bytes(msg[at..at + 8].try_into().expect("8 bytes"));
        let kind = Kind::from_u8(msg[0]).ok_or_else(|| bad("unknown kind"))?;
        let head = Head {
            kind,
            op: msg[1],
            basic: msg[2],
            flags: msg[3],
            reply: u32::from_le_bytes(msg[4..8].try_into().expect("4 bytes")),
            addr: word(8),
        };
        let nruns = word(16);
        let data_at = nruns
            .checked_mul(RUN_BYTES as u64)
            .and_then(|b| b.checked_add(HEAD_BYTES as u64))
            .filter(|&e| e <= msg.len() as u64)
            .ok_or_else(|| bad("more runs than bytes"))? as usize;
        let mut runs = Vec::with_capacity(nruns as usize);
        for i in 0..nruns as usize {
            let at = HEAD_BYTES + i * RUN_BYTES;
            runs.push((word(at) as i64, word(at + 8) as usize));
        }
        Ok(Request {
            head,
            runs,
            data: &msg[data_at..],
        })
    }

    /// The operation of an accumulate.
    pub fn op(&self) -> Result<Op> {
        OPS.get(self.head.op as usize)
            .cloned()
            .ok_or_else(|| Error::intern("one-sided request: unknown operation"))
    }

    /// The element kind of an accumulate.
    pub fn basic(&self) -> Result<Basic> {
        Basic::ALL
            .get(self.head.basic as usize)
            .copied()
            .ok_or_else(|| Error::intern("one-sided request: unknown element kind"))
    }

    /// Bytes the runs cover.
    pub fn span(&self) -> Option<usize> {
        self.runs
            .iter()
            .try_fold(0usize, |a, &(_, l)| a.checked_add(l))
    }
}

/// Status words of replies.
pub const OK: u64 = 0;
/// Some request of this origin fell outside the target's memory since the last
/// reply (or this one did).
pub const OUT_OF_RANGE: u64 = 1;

/// A reply: the status word, then the data.
pub fn reply(status: u64, data_len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data_len);
    v.extend_from_slice(&status.to_le_bytes());
    v
}

/// The status word of a reply (a short reply is out of range: it never is one).
pub fn status_of(reply: &[u8]) -> u64 {
    match reply.get(..8) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => OUT_OF_RANGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let head = Head {
            kind: Kind::GetAcc,
            op: op_code(&Op::Sum).unwrap(),
            basic: Basic::F64 as u8,
            flags: 0,
            reply: 77,
            addr: 4096,
        };
        let runs = [(0i64, 16usize), (64, 8)];
        let mut m = encode(&head, &runs, 24);
        m.extend_from_slice(&[9u8; 24]);
        let r = Request::decode(&m, 3).unwrap();
        assert_eq!(r.head, head);
        assert_eq!(r.runs, runs);
        assert_eq!(r.data.len(), 24);
        assert_eq!(r.span(), Some(24));
        assert!(matches!(r.op().unwrap(), Op::Sum));
        assert_eq!(r.basic().unwrap(), Basic::F64);
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(Request::decode(&[1, 0, 0], 0).is_err());
        let mut m = encode(
            &Head {
                kind: Kind::Put,
                op: 0,
                basic: 0,
                flags: 0,
                reply: 0,
                addr: 0,
            },
            &[(0, 8)],
            0,
        );
        m[16] = 200; // 200 runs claimed, one present
        assert!(Request::decode(&m, 0).is_err());
        m[16] = 1;
        m[0] = 99;
        assert!(Request::decode(&m, 0).is_err());
        assert!(op_code(&Op::user(true, |_, _, _| Ok(()))).is_none());
    }
}
