//! Matching: posted receives and unexpected messages, both kept in arrival order so
//! that MPI's non-overtaking rule holds (messages from one sender on one
//! communicator match in the order they were sent, receives in the order posted).

use super::header::Header;
use super::request::{ReqId, ANY_SOURCE, ANY_TAG};
use std::collections::VecDeque;

/// What a receive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern {
    pub ctx: u32,
    /// A rank in the communicator, or [`ANY_SOURCE`].
    pub src: i32,
    /// A tag, or [`ANY_TAG`].
    pub tag: i32,
}

impl Pattern {
    pub fn matches(&self, h: &Header) -> bool {
        self.ctx == h.ctx
            && (self.src == ANY_SOURCE || self.src == h.src)
            && (self.tag == ANY_TAG || self.tag == h.tag)
    }
}

/// A receive waiting for its message.
#[derive(Debug)]
pub struct Posted {
    pub req: ReqId,
    pub pattern: Pattern,
}

/// The data of a message that arrived before its receive.
#[derive(Debug)]
pub enum Held {
    /// An eager message's bytes.
    Eager(Vec<u8>),
    /// A rendezvous request: the data is still at the sender.
    Rts,
}

/// A message that arrived before its receive.
#[derive(Debug)]
pub struct Unexpected {
    /// World rank it came from.
    pub peer: usize,
    pub hdr: Header,
    pub held: Held,
}

#[derive(Default)]
pub struct Queues {
    pub posted: VecDeque<Posted>,
    pub unexpected: VecDeque<Unexpected>,
}

impl Queues {
    /// Remove and return the first posted receive that `h` matches.
    pub fn take_posted(&mut self, h: &Header) -> Option<Posted> {
        let i = self.posted.iter().position(|p| p.pattern.matches(h))?;
        self.posted.remove(i)
    }

    /// Remove and return the first unexpected message `p` matches.
    pub fn take_unexpected(&mut self, p: &Pattern) -> Option<Unexpected> {
        let i = self.unexpected.iter().position(|u| p.matches(&u.hdr))?;
        self.unexpected.remove(i)
    }

    /// The first unexpected message `p` matches, left in place (probe).
    pub fn find_unexpected(&self, p: &Pattern) -> Option<&Unexpected> {
        self.unexpected.iter().find(|u| p.matches(&u.hdr))
    }

    /// Remove a posted receive (cancel); true if it was still posted.
    pub fn unpost(&mut self, req: ReqId) -> bool {
        match self.posted.iter().position(|p| p.req == req) {
            Some(i) => {
                self.posted.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::Kind;
    use super::*;

    fn h(ctx: u32, src: i32, tag: i32) -> Header {
        Header {
            kind: Kind::Eager,
            flags: 0,
            ctx,
            src,
            tag,
            len: 0,
            id: 0,
            addr: 0,
        }
    }

    #[test]
    fn wildcards_and_order() {
        let mut q = Queues::default();
        for (i, tag) in [5, 6, 5].iter().enumerate() {
            q.unexpected.push_back(Unexpected {
                peer: 1,
                hdr: Header {
                    id: i as u64,
                    ..h(0, 1, *tag)
                },
                held: Held::Rts,
            });
        }
        let any = Pattern {
            ctx: 0,
            src: ANY_SOURCE,
            tag: ANY_TAG,
        };
        assert_eq!(q.find_unexpected(&any).unwrap().hdr.id, 0);
        let t6 = Pattern {
            ctx: 0,
            src: 1,
            tag: 6,
        };
        assert_eq!(q.take_unexpected(&t6).unwrap().hdr.id, 1);
        let t5 = Pattern {
            ctx: 0,
            src: ANY_SOURCE,
            tag: 5,
        };
        assert_eq!(q.take_unexpected(&t5).unwrap().hdr.id, 0);
        assert_eq!(q.take_unexpected(&t5).unwrap().hdr.id, 2);
        assert!(q.take_unexpected(&any).is_none());
        assert!(!Pattern {
            ctx: 1,
            src: ANY_SOURCE,
            tag: ANY_TAG
        }
        .matches(&h(0, 1, 1)));
    }
}
