//! Context ids that every member of a new communicator agrees on, for any
//! interleaving of threads and of nonblocking constructors (MPICH's protocol).
//!
//! Each process keeps a bitmap of free context pairs (pair i = point-to-point
//! context 2i, collective context 2i+1; world holds pair 0, self pair 1). An
//! allocation runs in rounds ([`super::agree`] drives them): each member
//! contributes a mask ([`Alloc::contribute`]), the members AND their masks, and
//! all take the lowest pair free everywhere ([`Alloc::settle`]), or all go
//! round again. Two allocations in flight on one process must never be offered
//! the same free pair, so a process lends its free pairs to one allocation at a
//! time and contributes zeros to the others:
//! - the first round of an allocation uses the *eager* words (the first
//!   [`EAGER_WORDS`] of the mask), if no other first round holds them;
//! - later rounds use the other words, lent only to the allocation at the head
//!   of this process's waiting list, ordered by (parent context, tag), and only
//!   while no other round holds them.
//!
//! The order makes progress certain: the waiting allocation with the lowest
//! parent context is at the head of every member's list once all members have
//! reached it. The eager round keeps a nonblocking allocation in flight (an
//! `MPI_Comm_idup` whose peers have not called it yet) from starving a blocking
//! one that its peers are in. The last word of a contribution says whether the
//! contributor lent its mask (or does not care, [`Alloc::new`]'s `ignore`): when
//! every member lent it and still no pair is free everywhere, the context ids
//! are exhausted.

use crate::error::{Error, ErrorClass, Result};
use std::sync::Mutex;

/// Number of 64-bit words in the mask: 2048 context pairs.
pub const WORDS: usize = 32;
/// Words of a contribution: the mask and the "lent" flag.
pub const MASK_LEN: usize = WORDS + 1;
/// Words of the mask tried on an allocation's first round (62 pairs after world
/// and self).
const EAGER_WORDS: usize = 1;

struct Space {
    free: [u64; WORDS],
    eager_lent: bool,
    main_lent: bool,
    /// Allocations that failed a round, in priority order: (parent context, tag,
    /// allocation id).
    waiting: Vec<(u32, i32, u64)>,
    next_id: u64,
}

static SPACE: Mutex<Space> = Mutex::new(Space {
    free: initial(),
    eager_lent: false,
    main_lent: false,
    waiting: Vec::new(),
    next_id: 1,
});

const fn initial() -> [u64; WORDS] {
    let mut m = [u64::MAX; WORDS];
    m[0] &= !0b11; // world and self
    m
}

fn space() -> std::sync::MutexGuard<'static, Space> {
    SPACE.lock().unwrap_or_else(|p| p.into_inner())
}

/// One allocation of a context pair on this process, from its first round to
/// its end. Dropping it mid-way (an error in a round) gives back what it holds.
#[derive(Debug)]
pub struct Alloc {
    parent: u32,
    tag: i32,
    id: u64,
    ignore: bool,
    round: u32,
    eager: bool,
    main: bool,
    listed: bool,
}

impl Alloc {
    /// An allocation for a communicator made from the one with collective
    /// context `parent` (with `tag` where several may be made from one parent at
    /// once: create_group). `ignore`: this process takes part but will not be a
    /// member (MPI_UNDEFINED in a split, outside the group of a create).
    pub fn new(parent: u32, tag: i32, ignore: bool) -> Alloc {
        let mut s = space();
        let id = s.next_id;
        s.next_id += 1;
        Alloc {
            parent,
            tag,
            id,
            ignore,
            round: 0,
            eager: false,
            main: false,
            listed: false,
        }
    }

    /// This process's mask for the next round.
    pub fn contribute(&mut self, m: &mut [u64; MASK_LEN]) {
        let mut s = space();
        m.fill(0);
        if self.ignore {
            m.fill(u64::MAX);
            m[WORDS] = 1;
            return;
        }
        if self.round == 0 {
            if !s.eager_lent {
                m[..EAGER_WORDS].copy_from_slice(&s.free[..EAGER_WORDS]);
                s.eager_lent = true;
                self.eager = true;
            }
        } else if !s.main_lent && s.waiting.first().is_some_and(|w| w.2 == self.id) {
            m[EAGER_WORDS..WORDS].copy_from_slice(&s.free[EAGER_WORDS..]);
            s.main_lent = true;
            self.main = true;
            m[WORDS] = 1;
        }
    }

    /// The round's outcome from `agreed` (every member's contribution ANDed):
    /// the point-to-point context of the pair all members take (this process
    /// takes it unless it ignores the result), None to go round again, or an
    /// error when no pair is free on every member.
    pub fn settle(&mut self, agreed: &[u64; MASK_LEN], call: &str) -> Result<Option<u32>> {
        let mut s = space();
        self.give_back(&mut s);
        self.round += 1;
        let pair = agreed[..WORDS]
            .iter()
            .enumerate()
            .find(|(_, &w)| w != 0)
            .map(|(i, &w)| i * 64 + w.trailing_zeros() as usize);
        if let Some(p) = pair {
            if !self.ignore {
                debug_assert!(s.free[p / 64] & (1 << (p % 64)) != 0, "lent pairs are free");
                s.free[p / 64] &= !(1u64 << (p % 64));
            }
            self.unlist(&mut s);
            return Ok(Some(2 * p as u32));
        }
        if agreed[WORDS] == 1 {
            self.unlist(&mut s);
            let n: u32 = s.free.iter().map(|w| w.count_ones()).sum();
            return Err(Error::new(
                ErrorClass::Other,
                format!(
                    "{call}: no context id is free on every member ({n} of {} free on this process; free some communicators)",
                    WORDS * 64
                ),
            ));
        }
        if !self.listed && !self.ignore {
            let key = (self.parent, self.tag, self.id);
            let at = s.waiting.partition_point(|w| *w < key);
            s.waiting.insert(at, key);
            self.listed = true;
        }
        Ok(None)
    }

    fn give_back(&mut self, s: &mut Space) {
        if std::mem::take(&mut self.eager) {
            s.eager_lent = false;
        }
        if std::mem::take(&mut self.main) {
            s.main_lent = false;
        }
    }

    fn unlist(&mut self, s: &mut Space) {
        if std::mem::take(&mut self.listed) {
            s.waiting.retain(|w| w.2 != self.id);
        }
    }
}

impl Drop for Alloc {
    fn drop(&mut self) {
        if self.eager || self.main || self.listed {
            let mut s = space();
            self.give_back(&mut s);
            self.unlist(&mut s);
        }
    }
}

/// Give a pair back (its point-to-point context).
pub fn release(ctx: u32) {
    let pair = (ctx / 2) as usize;
    if pair >= 2 && pair < WORDS * 64 {
        space().free[pair / 64] |= 1u64 << (pair % 64);
    }
}

/// Is the pair of point-to-point context `ctx` taken on this process?
#[cfg(test)]
pub fn in_use(ctx: u32) -> bool {
    let pair = (ctx / 2) as usize;
    pair < WORDS * 64 && space().free[pair / 64] & (1u64 << (pair % 64)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the members agree on: the AND of their contributions.
    fn and(ms: &[[u64; MASK_LEN]]) -> [u64; MASK_LEN] {
        let mut r = [u64::MAX; MASK_LEN];
        for m in ms {
            for i in 0..MASK_LEN {
                r[i] &= m[i];
            }
        }
        r
    }

    // The tests share the process's one context space, so they run as one test.
    #[test]
    fn rounds() {
        // One allocation alone: agreed in its eager round.
        let mut a = Alloc::new(1, 0, false);
        let mut m = [0; MASK_LEN];
        a.contribute(&mut m);
        assert_eq!(m[WORDS], 0, "an eager round does not lend the main mask");
        let ctx = a.settle(&m, "t").unwrap().unwrap();
        assert!(ctx >= 4 && in_use(ctx));

        // Two at once on this process: the second gets zeros in the eager round,
        // both fail when their peers contributed the same way, then the one with
        // the lower parent context goes first.
        let mut x = Alloc::new(9, 0, false);
        let mut y = Alloc::new(5, 0, false);
        let (mut mx, mut my) = ([0; MASK_LEN], [0; MASK_LEN]);
        x.contribute(&mut mx);
        y.contribute(&mut my);
        assert!(mx[..WORDS].iter().any(|&w| w != 0));
        assert!(my.iter().all(|&w| w == 0));
        let peer_zero = [0u64; MASK_LEN];
        assert_eq!(x.settle(&and(&[mx, peer_zero]), "t").unwrap(), None);
        assert_eq!(y.settle(&and(&[my, peer_zero]), "t").unwrap(), None);
        x.contribute(&mut mx);
        y.contribute(&mut my);
        assert!(
            mx.iter().all(|&w| w == 0),
            "x waits behind y (parent 5 < 9)"
        );
        assert_eq!(my[WORDS], 1);
        assert_eq!(my[0], 0, "later rounds use the main words only");
        let cy = y.settle(&my, "t").unwrap().unwrap();
        assert!(cy >= 128);
        assert_eq!(x.settle(&mx, "t").unwrap(), None);
        x.contribute(&mut mx);
        let cx = x.settle(&mx, "t").unwrap().unwrap();
        assert_ne!(cx, cy);

        // A process that ignores the result takes nothing.
        let mut z = Alloc::new(1, 0, true);
        let mut mz = [0; MASK_LEN];
        z.contribute(&mut mz);
        assert!(mz[..WORDS].iter().all(|&w| w == u64::MAX) && mz[WORDS] == 1);
        let before: u32 = space().free.iter().map(|w| w.count_ones()).sum();
        assert!(z.settle(&mz, "t").unwrap().is_some());
        let after: u32 = space().free.iter().map(|w| w.count_ones()).sum();
        assert_eq!(before, after);

        // Everyone lent their mask and nothing is free: exhausted.
        let mut e = Alloc::new(1, 0, false);
        let mut me = [0; MASK_LEN];
        e.contribute(&mut me);
        assert_eq!(e.settle(&[0; MASK_LEN], "t").unwrap(), None);
        e.contribute(&mut me);
        let mut none = [0u64; MASK_LEN];
        none[WORDS] = me[WORDS];
        assert!(e
            .settle(&none, "t")
            .unwrap_err()
            .message
            .contains("no context id"));

        // A dropped allocation gives its loan and its place back.
        let mut d = Alloc::new(0, 0, false);
        let mut md = [0; MASK_LEN];
        d.contribute(&mut md);
        drop(d);
        let mut f = Alloc::new(1, 0, false);
        f.contribute(&mut md);
        assert!(md[..WORDS].iter().any(|&w| w != 0));
        drop(f);

        for c in [ctx, cx, cy] {
            release(c);
            assert!(!in_use(c));
        }
    }
}
