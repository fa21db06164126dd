//! A communicator's shared collective area: small blocking collectives among ranks
//! of one shm domain without point-to-point messages.
//!
//! When every member of an intracommunicator shares one shm domain, its first
//! blocking collective creates one /dev/shm file for it (the communicator's rank 0
//! creates, the others attach, rank 0 unlinks once all are in; the launcher removes
//! it by job tag if the job dies first). Each member owns a control block and two
//! data slots. Operation `k` on the area (all members count the same operations)
//! works like this:
//!
//! - **publish**: a rank that contributes data waits until every member has
//!   finished operation `k - 2` (the last user of slot `k % 2`), copies its bytes
//!   into that slot, writes their length, and stores `k + 1` in its `seq` word
//!   (release);
//! - **read**: a rank that needs another's data waits for that rank's `seq` to
//!   reach `k + 1` (acquire) and copies the bytes out;
//! - **done**: every rank stores `k + 1` in its `done` word when it has read all
//!   it needs.
//!
//! A root that only publishes (bcast, scatter) or a rank that only contributes
//! (reduce, gather) returns as soon as its data is in place; a barrier is every rank
//! publishing nothing and reading everyone's `seq` (or, with more ranks than cores,
//! rank 0 reading everyone's and the others reading rank 0's: see [`Area::barrier`]). Reductions are computed by each
//! reader from the published inputs in rank order, `x0 op (x1 op (... op x(n-1)))`,
//! so every rank of an allreduce gets the same bits and non-commutative operations
//! come out in the canonical order.
//!
//! Only blocking calls use the area (nonblocking collectives may complete in any
//! order, the area's counters need call order), and only when each rank publishes at
//! most the area's slot size (`VMPI_COLL_SHM_SIZE`); everything else runs its
//! point-to-point schedule. Every rank takes the same decision from the same
//! arguments. The area is untrusted shared memory: counters and lengths are checked,
//! and bytes are copied, never referenced.
//!
//! Layout after the region header: per member a `Ctl` block, written by that
//! member only: a line pair whose first cache line holds `seq`, the lengths
//! published for parity 0 and 1 and, for contributions of at most 20 bytes, the
//! data itself, all of which readers poll together; then `done` alone on the next
//! line pair, which peers rarely read (see below), so storing it seldom costs a
//! transfer (on the same pair, a reader polling `seq` would fetch it too, and the
//! store would wait for that copy to go). Then per member two slots of `slot` bytes.
//!
//! A rank remembers what it has seen of each peer: having seen `seq = j + 1` (the
//! peer published operation `j`) proves the peer finished `j - 1`, so after any
//! operation where everyone publishes, the next publish needs no look at the
//! peers' `done` words at all.

use super::sched::{CollCtx, Reduction};
use crate::bootstrap::jobkey;
use crate::datatype::Basic;
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;
use crate::runtime;
use crate::transport::region::{
    self, Alone, Overlay, Region, RegionInfo, HEADER_BYTES, MAX_MEMBERS,
};
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A member's control block, written by that member only.
#[repr(C)]
struct Ctl {
    /// What readers poll, one cache line.
    published: Alone<Published>,
    /// Operations this member has finished (release): read by a publisher only
    /// when it cannot tell otherwise that the member is done with a slot.
    done: Alone<AtomicU64>,
}

/// The line a member publishes an operation in.
#[repr(C)]
struct Published {
    /// `k + 1` once operation `k`'s contribution is in place (release).
    seq: AtomicU64,
    /// Per slot parity, a [`len_word`].
    len: [AtomicU64; 2],
    /// Per slot parity, a contribution of at most [`INLINE`] bytes (copied as
    /// bytes, like the slots).
    inline: [[AtomicU8; INLINE]; 2],
}

// SAFETY: repr(C), atomics only.
unsafe impl Overlay for Ctl {}

/// Bytes of a control block.
const CTL: usize = size_of::<Ctl>();
/// Contributions of at most this many bytes travel in the control line itself,
/// after the lengths: one for each slot parity (so a reader's one transfer of the
/// line brings `seq`, the length and the data).
const INLINE: usize = 20;
/// Offset of the inline data in a control block.
const INLINE_AT: usize = offset_of!(Ctl, published) + offset_of!(Published, inline);

// Every member maps the same layout (and region VERSION names it).
const _: () = {
    assert!(offset_of!(Published, seq) == 0 && offset_of!(Published, len) == 8);
    assert!(INLINE_AT == 24 && size_of::<Published>() == 64);
    assert!(offset_of!(Ctl, done) == 128 && CTL == 256);
    assert!(HEADER_BYTES.is_multiple_of(128));
};

/// Which counter of a member's control block to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    Seq,
    Done,
}

/// A length word holds the bytes published (low 32 bits) and, above them, how many
/// more pieces of the same collective follow (0 but for a large bcast, which runs
/// as several operations of at most a slot each).
const REST_SHIFT: u32 = 32;
const LEN_MASK: u64 = (1 << REST_SHIFT) - 1;

/// On two ranks with the automatic slot, the largest bcast, scatter, allgather,
/// alltoall and reduce (bytes a rank publishes) that the area takes. Above, their
/// schedules win: each is one CMA copy per message (read by the receiver, or by
/// the rank that combines), where the area copies in and then out; at 32 KiB the
/// area wins each. Gather and allreduce keep the whole slot (docs/performance.md,
/// "Measurements behind constants and choices in the code").
const TWO_RANK_MAX: usize = 32 << 10;

/// The largest bcast the area takes in pieces: on 4 ranks, pieces beat the
/// binomial/scatter-allgather schedules up to 1 MiB (docs/performance.md,
/// "Measurements behind constants and choices in the code").
const BCAST_PIECEWISE_MAX: usize = 1 << 20;

/// The error for a length word `word` where `expect` was due from rank `r`.
fn truncate(call: &str, r: usize, word: u64, expect: u64) -> Error {
    let (sent, want) = (word & LEN_MASK, expect & LEN_MASK);
    let (more, due) = (word >> REST_SHIFT, expect >> REST_SHIFT);
    let what = if more != due {
        format!("sends {} more pieces of {sent} bytes where this rank expects {} of {want} (a message of another length)", more, due)
    } else {
        format!("sent {sent} bytes where this rank expects {want}")
    };
    Error::new(
        ErrorClass::Truncate,
        format!("{call}: rank {r} {what} (counts differ between ranks?)"),
    )
}

fn len_word(len: usize, rest: usize) -> u64 {
    len as u64 | (rest as u64) << REST_SHIFT
}

/// Which collective a call on the area is, for [`Limits::accepts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    Barrier,
    Bcast,
    Gather,
    Scatter,
    Allgather,
    Alltoall,
    Reduce,
    Allreduce,
}

/// What an area takes, the same on every member: its member count, slot size,
/// and whether the slot size is the automatic one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub n: usize,
    pub slot: usize,
    pub auto_slot: bool,
}

impl Limits {
    /// Can a collective of `kind` in which each publishing rank puts `bytes` go
    /// through the area (the same answer on every rank)? Up to a slot; a bcast
    /// on three ranks or more in pieces up to [`BCAST_PIECEWISE_MAX`]; on two
    /// ranks with the automatic slot, the calls whose schedule is one CMA copy
    /// only up to [`TWO_RANK_MAX`].
    #[inline]
    pub fn accepts(&self, kind: AreaKind, bytes: usize) -> bool {
        match kind {
            AreaKind::Bcast if self.n >= 3 => bytes <= self.slot.max(BCAST_PIECEWISE_MAX),
            AreaKind::Bcast
            | AreaKind::Scatter
            | AreaKind::Allgather
            | AreaKind::Alltoall
            | AreaKind::Reduce
                if self.auto_slot && self.n == 2 =>
            {
                bytes <= self.slot.min(TWO_RANK_MAX)
            }
            _ => bytes <= self.slot,
        }
    }
}

/// The area of one communicator, mapped in this process.
pub struct Area {
    region: Arc<Region>,
    n: usize,
    me: usize,
    slot: usize,
    /// Operations this rank has started on the area.
    next: AtomicU64,
    /// Polls of a counter before waiting drives the rest of MPI too (0 when ranks
    /// outnumber cores: the core should go to the rank we wait for).
    spin: u32,
    /// Barriers fan in to rank 0, which releases the rest (all members agreed at
    /// setup; chosen when ranks outnumber cores, see [`Area::barrier`]).
    fan_in: bool,
    /// The slot size is the automatic one (`VMPI_COLL_SHM_SIZE` unset): the
    /// measured per-collective limits of [`Limits::accepts`] apply.
    auto_slot: bool,
    /// Per member, operations it is known to have finished (from its `done` or
    /// `seq` words as last seen by this rank).
    known_done: Vec<AtomicU64>,
}

impl std::fmt::Debug for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Area({} ranks, {} B slots)", self.n, self.slot)
    }
}

fn area_bytes(n: usize, slot: usize) -> usize {
    HEADER_BYTES + n * CTL + 2 * n * slot
}

impl Area {
    fn ctl(&self, r: usize) -> &Ctl {
        self.region.view(HEADER_BYTES + r * CTL)
    }

    /// Where rank `r`'s `len` bytes for operation `k` are: in its control line
    /// when they fit there, else in its slot for `k`'s parity.
    fn data(&self, r: usize, k: u64, len: usize) -> usize {
        let parity = (k & 1) as usize;
        if len <= INLINE {
            HEADER_BYTES + r * CTL + INLINE_AT + parity * INLINE
        } else {
            HEADER_BYTES + self.n * CTL + (2 * r + parity) * self.slot
        }
    }

    pub fn size(&self) -> usize {
        self.n
    }

    /// Wait until `ready` holds: a short spin on the counter alone (a peer that is
    /// running publishes within a few hundred nanoseconds), then polling with the
    /// rest of MPI progressing and the usual backoff.
    fn wait(&self, call: &str, mut ready: impl FnMut() -> Result<bool>) -> Result<()> {
        for _ in 0..=self.spin {
            if ready()? {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        if self.spin > 0 {
            return runtime::progress_until(call, |_| ready());
        }
        // More ranks than cores: the rank we wait for may be off-core, so give the
        // core away at once, and keep the rest of MPI going between yields.
        loop {
            std::thread::yield_now();
            if ready()? {
                return Ok(());
            }
            runtime::with(call, |rt| rt.progress())?;
            if ready()? {
                return Ok(());
            }
        }
    }

    /// Wait until rank `r`'s counter `word` reaches `at_least`. A `seq` beyond
    /// `k + 2` is impossible for an honest peer during this rank's operation `k`
    /// (publishing `k + 2` needs this rank done with `k`); `done` has no such bound
    /// (a gather root with empty blocks neither publishes nor reads).
    fn wait_counter(
        &self,
        call: &str,
        r: usize,
        word: Counter,
        at_least: u64,
        k: u64,
    ) -> Result<()> {
        let ctl = self.ctl(r);
        let w = match word {
            Counter::Seq => &ctl.published.0.seq,
            Counter::Done => &ctl.done.0,
        };
        let mut seen = 0;
        self.wait(call, || {
            seen = w.load(Ordering::Acquire);
            if word == Counter::Seq && seen > k + 2 {
                return Err(Error::other(format!(
                    "{call}: the shared collective area is corrupted (rank {r} claims operation {seen} during {k})"
                )));
            }
            Ok(seen >= at_least)
        })?;
        // A published operation j (seq j + 1) comes after finishing j - 1.
        let finished = if word == Counter::Seq {
            seen.saturating_sub(1)
        } else {
            seen
        };
        // Only this rank's collective calls on the communicator touch its entries
        // (MPI orders them), so a plain load and store do; no locked instruction.
        let known = &self.known_done[r];
        if finished > known.load(Ordering::Relaxed) {
            known.store(finished, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Put `bytes` in this rank's slot for operation `k`.
    fn publish(&self, call: &str, k: u64, bytes: &[u8]) -> Result<()> {
        self.publish_parts(call, k, &[bytes], 0)
    }

    /// Put `parts`, one after the other, in this rank's slot for operation `k`
    /// (`rest`: pieces of the same collective that follow).
    fn publish_parts(&self, call: &str, k: u64, parts: &[&[u8]], rest: usize) -> Result<()> {
        if k >= 2 {
            for r in (0..self.n).filter(|&r| r != self.me) {
                if self.known_done[r].load(Ordering::Relaxed) < k - 1 {
                    self.wait_counter(call, r, Counter::Done, k - 1, k)?;
                }
            }
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut at = self.data(self.me, k, len);
        for p in parts {
            self.region.write_bytes(at, p);
            at += p.len();
        }
        let mine = &self.ctl(self.me).published.0;
        mine.len[(k & 1) as usize].store(len_word(len, rest), Ordering::Relaxed);
        mine.seq.store(k + 1, Ordering::Release);
        Ok(())
    }

    /// Wait for rank `r`'s contribution to operation `k`; its length word (the
    /// length, and the pieces that follow above [`REST_SHIFT`]).
    fn published_by(&self, call: &str, r: usize, k: u64) -> Result<u64> {
        self.wait_counter(call, r, Counter::Seq, k + 1, k)?;
        let word = self.ctl(r).published.0.len[(k & 1) as usize].load(Ordering::Relaxed);
        let len = (word & LEN_MASK) as usize;
        if len > self.slot {
            return Err(Error::other(format!(
                "{call}: the shared collective area is corrupted (rank {r} published {len} bytes in a {}-byte slot)",
                self.slot
            )));
        }
        Ok(word)
    }

    /// Copy `dst.len()` bytes at `off` of rank `r`'s contribution to operation `k`,
    /// whose length word must be `expect` ([`len_word`]).
    fn fetch(
        &self,
        call: &str,
        r: usize,
        k: u64,
        expect: u64,
        off: usize,
        dst: &mut [u8],
    ) -> Result<()> {
        let word = self.published_by(call, r, k)?;
        if word != expect {
            return Err(truncate(call, r, word, expect));
        }
        let len = (word & LEN_MASK) as usize;
        debug_assert!(off + dst.len() <= len);
        self.region.read_bytes(self.data(r, k, len) + off, dst);
        Ok(())
    }

    /// Run operation `f` as this rank's next one on the area.
    fn op(&self, f: impl FnOnce(u64) -> Result<()>) -> Result<()> {
        // One collective at a time per communicator (MPI's rule): no locked
        // instruction needed, which would wait for the last shared store to land.
        let k = self.next.load(Ordering::Relaxed);
        self.next.store(k + 1, Ordering::Relaxed);
        let res = f(k);
        // Done even after an error, so that nobody waits for this rank's slot.
        self.ctl(self.me).done.0.store(k + 1, Ordering::Release);
        res
    }

    /// Every rank publishes nothing and waits for the others. Two shapes:
    /// - all-to-all (cores for everyone): each rank reads every `seq`, one
    ///   cache-line transfer deep;
    /// - fan-in (more ranks than cores): rank 0 waits for every arrival, then
    ///   publishes the release the others wait for. Two transfers deep, but rank 0
    ///   leaves first while the others may still be off-core, so a collective rooted
    ///   at 0 right after finds its readers' data already there when they run;
    ///   with all-to-all the last rank to arrive leaves first, and readers then
    ///   wait for a root that has to be scheduled again.
    pub fn barrier(&self, call: &str) -> Result<()> {
        self.op(|k| {
            if !self.fan_in {
                self.publish(call, k, &[])?;
                for r in 0..self.n {
                    self.published_by(call, r, k)?;
                }
            } else if self.me == 0 {
                for r in 1..self.n {
                    self.published_by(call, r, k)?;
                }
                self.publish(call, k, &[])?;
            } else {
                self.publish(call, k, &[])?;
                self.published_by(call, 0, k)?;
                // Rank 0 released after seeing every rank publish `k`, which
                // each did after finishing `k - 1`.
                for known in &self.known_done {
                    if known.load(Ordering::Relaxed) < k {
                        known.store(k, Ordering::Relaxed);
                    }
                }
            }
            Ok(())
        })
    }

    /// A message longer than a slot goes in pieces of a slot, one operation each:
    /// the readers copy piece `i` out while the root copies `i + 1` in. A reader
    /// whose count gives another number of pieces than the root's learns it at the
    /// first piece (the length word says how many follow), fails with `Truncate`
    /// and counts the root's remaining operations as done, so the area stays in
    /// step and the root does not wait for it.
    pub fn bcast(&self, call: &str, root: usize, buf: &mut [u8]) -> Result<()> {
        let step = self.slot.max(1);
        let total = buf.len();
        let count = total.div_ceil(step).max(1);
        for (i, off) in (0..count).map(|i| (i, i * step)) {
            let rest = count - 1 - i;
            let piece = &mut buf[off..(off + step).min(total)];
            let mut skip = 0;
            let res = self.op(|k| {
                if self.me == root {
                    return self.publish_parts(call, k, &[piece], rest);
                }
                let expect = len_word(piece.len(), rest);
                if i == 0 {
                    let word = self.published_by(call, root, k)?;
                    if word >> REST_SHIFT != expect >> REST_SHIFT {
                        skip = word >> REST_SHIFT;
                        return Err(truncate(call, root, word, expect));
                    }
                }
                self.fetch(call, root, k, expect, 0, piece)
            });
            if skip > 0 {
                self.skip(skip);
            }
            res?;
        }
        Ok(())
    }

    /// Count `m` operations as done without taking part (see [`bcast`](Self::bcast)).
    fn skip(&self, m: u64) {
        let next = self.next.load(Ordering::Relaxed) + m;
        self.next.store(next, Ordering::Relaxed);
        self.ctl(self.me).done.0.store(next, Ordering::Release);
    }

    /// What calls the area takes (for the planner).
    #[inline]
    pub fn limits(&self) -> Limits {
        Limits {
            n: self.n,
            slot: self.slot,
            auto_slot: self.auto_slot,
        }
    }

    /// `send` None: in place at the root (its block is already in `recv`).
    pub fn gather(
        &self,
        call: &str,
        root: usize,
        send: Option<&[u8]>,
        recv: Option<&mut [u8]>,
        blk: usize,
    ) -> Result<()> {
        self.op(|k| {
            if self.me != root {
                let m = send.ok_or_else(|| Error::intern("gather without a send block"))?;
                return self.publish(call, k, m);
            }
            let recv = recv.ok_or_else(|| Error::intern("gather without a receive buffer"))?;
            for (r, b) in recv.chunks_exact_mut(blk.max(1)).enumerate().take(self.n) {
                match (r == root, send) {
                    (true, Some(m)) => b.copy_from_slice(m),
                    (true, None) => {}
                    (false, _) => self.fetch(call, r, k, blk as u64, 0, b)?,
                }
            }
            Ok(())
        })
    }

    /// `recv` None: in place at the root (its block stays in `send`).
    pub fn scatter(
        &self,
        call: &str,
        root: usize,
        send: Option<&[u8]>,
        recv: Option<&mut [u8]>,
        blk: usize,
    ) -> Result<()> {
        self.op(|k| {
            let me = self.me;
            if me == root {
                let w = send.ok_or_else(|| Error::intern("scatter without a send buffer"))?;
                let n = self.n;
                self.publish_parts(call, k, &[&w[..me * blk], &w[(me + 1) * blk..n * blk]], 0)?;
                if let Some(m) = recv {
                    m.copy_from_slice(&w[me * blk..(me + 1) * blk]);
                }
                return Ok(());
            }
            let m = recv.ok_or_else(|| Error::intern("scatter without a receive block"))?;
            // The root publishes the others' blocks only: as in alltoall.
            let at = if me < root { me } else { me - 1 };
            self.fetch(call, root, k, ((self.n - 1) * blk) as u64, at * blk, m)
        })
    }

    /// `send` None: in place (this rank's block is already in `recv`).
    pub fn allgather(
        &self,
        call: &str,
        send: Option<&[u8]>,
        recv: &mut [u8],
        blk: usize,
    ) -> Result<()> {
        self.op(|k| {
            let me = self.me;
            match send {
                Some(m) => {
                    self.publish(call, k, m)?;
                    recv[me * blk..(me + 1) * blk].copy_from_slice(m);
                }
                None => self.publish(call, k, &recv[me * blk..(me + 1) * blk])?,
            }
            for r in (0..self.n).filter(|&r| r != me) {
                self.fetch(call, r, k, blk as u64, 0, &mut recv[r * blk..(r + 1) * blk])?;
            }
            Ok(())
        })
    }

    /// `send` None: in place (`recv` holds the blocks to send). Each rank publishes
    /// only the `n - 1` blocks for the others (its own is copied locally); rank
    /// `r`'s block from `w` is `w`'s block number `r`, less one above `w`.
    pub fn alltoall(
        &self,
        call: &str,
        send: Option<&[u8]>,
        recv: &mut [u8],
        blk: usize,
    ) -> Result<()> {
        self.op(|k| {
            let (n, me) = (self.n, self.me);
            let out = send.unwrap_or(recv);
            self.publish_parts(
                call,
                k,
                &[&out[..me * blk], &out[(me + 1) * blk..n * blk]],
                0,
            )?;
            if let Some(m) = send {
                recv[me * blk..(me + 1) * blk].copy_from_slice(&m[me * blk..(me + 1) * blk]);
            }
            for w in (0..n).filter(|&w| w != me) {
                let at = if me < w { me } else { me - 1 };
                self.fetch(
                    call,
                    w,
                    k,
                    ((n - 1) * blk) as u64,
                    at * blk,
                    &mut recv[w * blk..(w + 1) * blk],
                )?;
            }
            Ok(())
        })
    }

    /// `send` None: in place at the root (its input is in `recv`). A root with a
    /// send buffer combines its input from there and publishes nothing.
    pub fn reduce(
        &self,
        call: &str,
        red: &Reduction,
        root: usize,
        send: Option<&[u8]>,
        recv: Option<&mut [u8]>,
    ) -> Result<()> {
        self.op(|k| {
            let me_root = self.me == root;
            match (send, &recv) {
                (Some(_), _) if me_root => {}
                (Some(i), _) => self.publish(call, k, i)?,
                (None, Some(o)) => self.publish(call, k, o)?,
                (None, None) => return Err(Error::intern("reduce without an input")),
            }
            if me_root {
                let o = recv.ok_or_else(|| Error::intern("reduce without a result buffer"))?;
                self.combine(call, red, k, send, o)?;
            }
            Ok(())
        })
    }

    /// `send` None: in place (the input is in `recv`).
    pub fn allreduce(
        &self,
        call: &str,
        red: &Reduction,
        send: Option<&[u8]>,
        recv: &mut [u8],
    ) -> Result<()> {
        self.op(|k| {
            self.publish(call, k, send.unwrap_or(recv))?;
            self.combine(call, red, k, send, recv)
        })
    }

    /// `out` = x0 op (x1 op (... op x(n-1))) from the published inputs; this
    /// rank's own from `mine` when it has it apart from `out` (else it published
    /// it too).
    fn combine(
        &self,
        call: &str,
        red: &Reduction,
        k: u64,
        mine: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<()> {
        let last = self.n - 1;
        let len = out.len();
        match mine {
            Some(m) if last == self.me => out.copy_from_slice(m),
            _ => self.fetch(call, last, k, len as u64, 0, out)?,
        }
        let op = |x: &[u8], out: &mut [u8]| red.run(x, out).map_err(|e| e.within(call));
        super::sched::with_scratch(len, |x| {
            for r in (0..last).rev() {
                match mine {
                    Some(m) if r == self.me => op(m, out)?,
                    _ => {
                        self.fetch(call, r, k, len as u64, 0, x)?;
                        op(x, out)?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// A communicator's area: not yet tried, absent (not one shm domain, or it could
/// not be set up), or mapped. Shared by every copy of the communicator handle.
#[derive(Debug, Default)]
pub struct AreaCell {
    area: OnceLock<Option<Area>>,
    setting_up: Mutex<()>,
}

impl AreaCell {
    /// None before the first blocking collective has tried to set the area up;
    /// then the area, or Some(None) where there is none.
    pub fn tried(&self) -> Option<Option<&Area>> {
        self.area.get().map(|a| a.as_ref())
    }

    /// The area, set up on first use: a collective step among the communicator's
    /// ranks (every rank calls it at the same blocking collective).
    pub fn get(&self, cc: &CollCtx) -> Result<Option<&Area>> {
        if let Some(a) = self.area.get() {
            return Ok(a.as_ref());
        }
        let _g = self.setting_up.lock().unwrap_or_else(|p| p.into_inner());
        if self.area.get().is_none() {
            let a = set_up(cc)?;
            let _ = self.area.set(a);
        }
        Ok(self.area.get().and_then(|a| a.as_ref()))
    }
}

/// The slot size when `VMPI_COLL_SHM_SIZE` is not set: 1 MiB of slots per member
/// count, so an area stays within 2 MiB however many ranks share the domain
/// (Docker's /dev/shm is 64 MB), between 4 KiB and 256 KiB; two ranks 64 KiB.
/// On 2 ranks the area wins up to 64 KiB and the schedules' single-copy CMA above;
/// on 4 ranks the area still wins at 128-256 KiB (docs/performance.md,
/// "Measurements behind constants and choices in the code"). Whole 128-byte line
/// pairs, so that no two ranks' slots share one.
fn auto_slot(n: usize) -> usize {
    if n <= 2 {
        64 << 10
    } else {
        ((1 << 20) / n).clamp(4 << 10, 256 << 10) & !127
    }
}

/// Where and how large an area is, as this rank sees it.
struct Plan {
    auto_slot: bool,
    spin: u32,
    dir: PathBuf,
    prefix: String,
    job_check: u64,
    slot: usize,
}

/// Files created by this process (part of each area's name).
static CREATED: AtomicU64 = AtomicU64::new(1);
static WARNED: AtomicBool = AtomicBool::new(false);

fn warn(call: &str, what: &str) {
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!("vmpi: warning: {call}: no shared collective area ({what}); small collectives on this communicator use point-to-point");
    }
}

fn set_up(cc: &CollCtx) -> Result<Option<Area>> {
    let call = "collective area setup";
    let n = cc.size();
    let plan = runtime::with(call, |rt| {
        let slot = rt.cfg.coll_shm_size.unwrap_or_else(|| auto_slot(n));
        let domain = &rt.map.domain_of[cc.group[0]];
        let one_domain = domain.len() > 1 && cc.group.iter().all(|w| domain.contains(w));
        if slot == 0 || n < 2 || n > MAX_MEMBERS || !one_domain {
            return Ok(None);
        }
        Ok(Some(Plan {
            spin: if rt.backoff.oversubscribed() { 0 } else { 2000 },
            dir: rt.cfg.shm_dir.clone(),
            prefix: jobkey::shm_prefix(&rt.boot.kvsname),
            job_check: rt.job_check,
            slot,
            auto_slot: rt.cfg.coll_shm_size.is_none(),
        }))
    })?;
    let Some(plan) = plan else {
        return Ok(None);
    };
    let leader = cc.group[0];
    let path_of = |id: u64| {
        plan.dir
            .join(format!("{}coll-{leader}-{}-{id}", plan.prefix, cc.ctx))
    };
    let members: Vec<u32> = cc.group.iter().map(|&w| w as u32).collect();
    let mut region = None;
    let mut id = [0u8; 8];
    if cc.rank == 0 {
        let i = CREATED.fetch_add(1, Ordering::Relaxed);
        let info = RegionInfo {
            size: area_bytes(n, plan.slot),
            job_check: plan.job_check,
            unit: plan.slot as u64,
            members: members.clone(),
        };
        match Region::create(&path_of(i), info) {
            Ok(r) => {
                region = Some(r);
                id = i.to_le_bytes();
            }
            Err(e) => warn(call, &e.message),
        }
    }
    // Every rank learns the file (0: none), attaches, and all agree it worked,
    // through two schedules. A schedule is planned with the area `Absent`
    // (`coll::sched_algo`): the area is what these calls set up, so they must
    // not be planned onto it, nor find it untried and set it up again.
    // SAFETY: `id` outlives the blocking run.
    super::run_blocking(unsafe { super::bcast(cc.clone(), super::RawMut::of(&mut id), 0, None)? })?;
    let i = u64::from_le_bytes(id);
    if i != 0 && cc.rank != 0 {
        match Region::attach(
            &path_of(i),
            plan.job_check,
            &members,
            Duration::from_secs(10),
        ) {
            Ok(r) => {
                let slot = r.info().unit as usize;
                if slot % 128 == 0 && r.len() == area_bytes(n, slot) {
                    region = Some(r);
                } else {
                    warn(call, "the area file has an impossible layout");
                }
            }
            Err(e) => warn(call, &e.message),
        }
    }
    // Bit 0: attached; bit 1: ranks outnumber cores (so all pick one barrier shape).
    let mut ok = (u64::from(region.is_some()) | u64::from(plan.spin == 0) << 1).to_le_bytes();
    let band = Reduction::new(Op::Band, Some(Basic::U64), 8)?;
    // SAFETY: `ok` outlives the blocking run.
    super::run_blocking(unsafe {
        super::allreduce(cc.clone(), band, None, super::RawMut::of(&mut ok), None)?
    })?;
    if cc.rank == 0 && i != 0 {
        region::unlink(&path_of(i));
    }
    let ok = u64::from_le_bytes(ok);
    if ok & 1 == 0 {
        return Ok(None);
    }
    let region = region.expect("attached when all agree");
    let slot = region.info().unit as usize;
    Ok(Some(Area {
        region,
        n,
        me: cc.rank,
        slot,
        next: AtomicU64::new(0),
        spin: plan.spin,
        fan_in: ok & 2 != 0,
        auto_slot: plan.auto_slot,
        known_done: (0..n).map(|_| AtomicU64::new(0)).collect(),
    }))
}
