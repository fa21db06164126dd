//! Schedules: a collective as a list of steps (send, receive, reduce, copy) cut
//! into rounds by fences. Steps of a round start in order; a fence waits for every
//! send and receive started before it. Blocking collectives drive a schedule in
//! their own wait loop ([`run_blocking`]); nonblocking ones hand it to the progress
//! engine ([`start_nonblocking`]) behind an external request, so they complete like
//! any other request.
//!
//! Every message of one collective call carries the call's tag ([`CollCtx::tag`]):
//! a per-communicator sequence number, so several collectives in flight on one
//! communicator never match each other's messages. Within a call, two messages
//! between the same pair are told apart by order (MPI's non-overtaking rule), which
//! holds because both sides build the same schedule.

use crate::datatype::Basic;
use crate::error::{Cause, Error, ErrorClass, Result};
use crate::op::{self, Op};
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Engine, Pattern, ReqId, SendMode, Status};
use crate::runtime::{self, Schedule};
use std::sync::Arc;

/// The part of a communicator one schedule needs: the collective context, this
/// rank, the group (world ranks) and the call's tag. (The shared collective area
/// is not here: a schedule never uses it; see `coll::entry`.)
#[derive(Debug, Clone)]
pub struct CollCtx {
    pub ctx: u32,
    pub rank: usize,
    pub group: Arc<[usize]>,
    pub tag: i32,
    /// The rank each member goes by in message headers, where it is not its
    /// place in `group`: the members of a create_group subgroup are known on
    /// their parent's context by their parent ranks, so that the agreements of
    /// two subgroups in flight at once never match each other's messages.
    pub wire: Option<Arc<[i32]>>,
    /// A schedule of an intercommunicator's collective (`coll::inter`): `group`
    /// is the local group followed by the remote group, and the members from
    /// [`Far::from`] on are the remote ones, reached with [`Far::tag`] (while
    /// `tag` carries the local group's own tag bit).
    pub far: Option<Far>,
}

/// The remote group of an intercommunicator's schedule (see [`CollCtx::far`]).
#[derive(Debug, Clone, Copy)]
pub struct Far {
    /// The place in `group` of the remote group's rank 0 (the local group's size).
    pub from: usize,
    /// The tag of the messages between the two groups.
    pub tag: i32,
}

impl CollCtx {
    pub fn size(&self) -> usize {
        self.group.len()
    }

    /// The rank member `r` goes by in message headers (a remote member: its
    /// rank in the remote group).
    pub fn wire_rank(&self, r: usize) -> i32 {
        match self.far {
            Some(f) if r >= f.from => (r - f.from) as i32,
            _ => self.wire.as_ref().map_or(r as i32, |w| w[r]),
        }
    }

    /// The tag of the messages to and from member `r`.
    pub fn tag_for(&self, r: usize) -> i32 {
        match self.far {
            Some(f) if r >= f.from => f.tag,
            _ => self.tag,
        }
    }
}

/// What a reduction computes: the operation, the predefined element kind (None
/// only for user operations on types without one) and the bytes per element as the
/// operation counts them (`unit`; blocks are split only at multiples of it).
#[derive(Debug, Clone)]
pub struct Reduction {
    pub op: Op,
    pub kind: Option<Basic>,
    pub unit: usize,
}

impl Reduction {
    pub fn new(op: Op, kind: Option<Basic>, unit: usize) -> Result<Reduction> {
        match (&op, kind) {
            (Op::User(_), _) => {}
            (_, Some(k)) => op.check(k)?,
            (_, None) => {
                return Err(Error::new(
                    ErrorClass::Type,
                    format!("{} needs a predefined element type", op.name()),
                ))
            }
        }
        if unit == 0 {
            return Err(Error::new(
                ErrorClass::Type,
                "reduction on a zero-sized type",
            ));
        }
        Ok(Reduction { op, kind, unit })
    }

    pub fn commutative(&self) -> bool {
        self.op.is_commutative()
    }

    /// inout = in op inout on whole elements.
    pub fn run(&self, inb: &[u8], inout: &mut [u8]) -> Result<()> {
        match (&self.op, self.kind) {
            (Op::User(_), _) => op::apply(&self.op, Basic::Byte, inb.len() / self.unit, inb, inout),
            (_, Some(k)) => op::apply(&self.op, k, inb.len() / k.size(), inb, inout),
            (_, None) => Err(Error::intern("predefined op without a kind")),
        }
    }
}

/// A byte range of one of the schedule's buffers.
#[derive(Debug, Clone, Copy)]
pub struct B {
    pub slot: usize,
    pub off: usize,
    pub len: usize,
}

impl B {
    /// `len` bytes at `off` within this range.
    pub fn sub(self, off: usize, len: usize) -> B {
        debug_assert!(off + len <= self.len);
        B {
            slot: self.slot,
            off: self.off + off,
            len,
        }
    }

    /// Do the two ranges share a byte (same buffer, intersecting offsets)? Distinct
    /// buffers never alias: callers check that (MPI forbids it but for MPI_IN_PLACE,
    /// which arrives as one buffer).
    pub fn overlaps(self, o: B) -> bool {
        self.slot == o.slot && self.off < o.off + o.len && o.off < self.off + self.len
    }
}

enum Slot {
    /// A user buffer (the caller guarantees validity until completion).
    Ext { ptr: *mut u8, len: usize },
    /// Scratch owned by the schedule, 16-byte aligned.
    Tmp(Vec<u128>, usize),
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Send {
        peer: usize,
        b: B,
    },
    /// `read_here`: a reduction reads `b` next (see `RecvBuf::read_here`).
    Recv {
        peer: usize,
        b: B,
        read_here: bool,
    },
    Reduce {
        inb: B,
        inout: B,
    },
    Copy {
        src: B,
        dst: B,
    },
    Fence,
}

/// Scratch buffers kept between collectives. A fresh megabyte from the allocator
/// is fresh pages from the kernel (mmap above 128 KiB): zeroing and faulting them
/// in cost about as much as moving the data, on every call. The pool keeps a few
/// recently freed buffers (at most `KEEP`, none above `MAX_WORDS`) and hands out
/// the smallest that fits.
mod pool {
    use std::sync::Mutex;
    const KEEP: usize = 8;
    const MAX_WORDS: usize = (16 << 20) / 16;
    static POOL: Mutex<Vec<Vec<u128>>> = Mutex::new(Vec::new());

    pub fn take(words: usize) -> Vec<u128> {
        if words == 0 {
            return Vec::new();
        }
        let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let best = p
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= words)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        let mut v = match best {
            Some(i) => p.swap_remove(i),
            None => Vec::new(),
        };
        drop(p);
        // Only words never handed out before are zeroed (resize); the rest keep
        // old contents, which schedules overwrite before use.
        v.truncate(words);
        v.resize(words, 0);
        v
    }

    pub fn give(v: Vec<u128>) {
        if v.capacity() == 0 || v.capacity() > MAX_WORDS {
            return;
        }
        let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() < KEEP {
            p.push(v);
        } else if let Some((i, _)) = p
            .iter()
            .enumerate()
            .min_by_key(|(_, x)| x.capacity())
            .filter(|(_, x)| x.capacity() < v.capacity())
        {
            p[i] = v;
        }
    }
}

/// Run `f` on `len` bytes of 16-byte aligned scratch (this thread's, reused; a
/// fresh buffer if it is in use further up the stack). Contents are left over from
/// earlier users: `f` writes before it reads.
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let words = len.div_ceil(16);
    let view = |v: &mut Vec<u128>| {
        if v.len() < words {
            v.resize(words, 0);
        }
        // SAFETY: `v` holds at least `len` initialized bytes (`words` u128s), any
        // byte pattern is a valid u8, and the slice borrows `v` exclusively.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), len) }
    };
    SCRATCH.with(|c| match c.try_borrow_mut() {
        Ok(mut v) => f(view(&mut v)),
        Err(_) => f(view(&mut Vec::new())),
    })
}

impl Drop for Sched {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            // Failed with messages still posted into scratch: leak it rather than
            // let a later collective share a buffer the engine may still write.
            for s in self.slots.drain(..) {
                if let Slot::Tmp(v, _) = s {
                    std::mem::forget(v);
                }
            }
            return;
        }
        for s in self.slots.drain(..) {
            if let Slot::Tmp(v, _) = s {
                pool::give(v);
            }
        }
    }
}

/// A message of a schedule in flight: its engine request, the bytes due
/// (usize::MAX for a send) and the step that posted it (a message cut into
/// pieces posts several).
#[derive(Debug, Clone, Copy)]
pub(super) struct InFlight {
    pub req: ReqId,
    pub expect: usize,
    pub step: usize,
}

/// A collective in progress.
pub struct Sched {
    cc: CollCtx,
    call: &'static str,
    slots: Vec<Slot>,
    steps: Vec<Step>,
    pc: usize,
    pending: Vec<InFlight>,
    /// The first mismatch this rank saw (a message of another length than its
    /// schedule says, or one its sender marked failed): the schedule runs on so
    /// that the ranks after this one are not left waiting, its later messages
    /// are marked failed (`SendBuf::failed`), and the call returns this error.
    mismatch: Option<Error>,
    red: Option<Reduction>,
    /// Messages of (seg, max] bytes go as seg-byte pieces (see [`Segments`]);
    /// set from the runtime's configuration when the schedule starts.
    seg: Segments,
    /// The `max` of `seg` (see [`Sched::cut_up_to`]).
    seg_max: usize,
}

/// How medium messages are cut. A message above the shm eager size goes by
/// rendezvous (request to send, then a CMA pull or a pipelined copy, then a reply):
/// a round trip before any byte moves. Cut into eager-sized pieces it streams
/// through the shared-memory ring instead, the receiver copying piece k out while
/// the sender copies piece k+1 in. Above `max` the single-copy CMA pull (split
/// between both sides from `VMPI_CMA_SPLIT_MIN`) wins again. Both ends of every
/// message derive the cut from the message length and the same configuration
/// (`MV2_SMP_EAGERSIZE`, which mpirun passes to every rank), so their pieces match.
#[derive(Debug, Clone, Copy, Default)]
pub struct Segments {
    pub seg: usize,
    pub max: usize,
}

impl Segments {
    /// The cut for this runtime: pieces of the shm eager size, for messages up to
    /// `max` bytes.
    pub fn from_config(eager: usize, max: usize) -> Segments {
        if eager < 1024 {
            return Segments::default();
        }
        Segments { seg: eager, max }
    }

    /// The piece length for a message of `len` bytes (`len` itself: not cut).
    pub fn piece(&self, len: usize) -> usize {
        if self.seg > 0 && len > self.seg && len <= self.max {
            self.seg
        } else {
            len.max(1)
        }
    }
}

// SAFETY: the raw pointers name user buffers that the caller keeps valid until the
// schedule completes (the contract of `Sched::ext`); the schedule is only touched
// under the runtime lock.
unsafe impl Send for Sched {}

impl Sched {
    pub fn new(call: &'static str, cc: CollCtx) -> Sched {
        Sched {
            cc,
            call,
            slots: Vec::new(),
            steps: Vec::new(),
            pc: 0,
            pending: Vec::new(),
            mismatch: None,
            red: None,
            seg: Segments::default(),
            seg_max: super::tuning::SEGMENT_MAX,
        }
    }

    /// Cut messages up to `max` bytes into eager pieces, not only up to
    /// [`super::tuning::SEGMENT_MAX`] (every rank's schedule of the call must say
    /// the same, so that the pieces match).
    pub fn cut_up_to(&mut self, max: usize) {
        self.seg_max = max;
    }

    pub fn cc(&self) -> &CollCtx {
        &self.cc
    }

    pub fn set_reduction(&mut self, r: Reduction) {
        self.red = Some(r);
    }

    pub fn reduction(&self) -> &Reduction {
        self.red.as_ref().expect("reduction set")
    }

    /// A user buffer as a slot.
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay valid until the schedule completes; it is read by
    /// sends and written by receives, reductions and copies only where the
    /// algorithm says (an input buffer is never written).
    pub unsafe fn ext(&mut self, ptr: *const u8, len: usize) -> B {
        self.slots.push(Slot::Ext {
            ptr: ptr as *mut u8,
            len,
        });
        B {
            slot: self.slots.len() - 1,
            off: 0,
            len,
        }
    }

    /// A scratch buffer of `len` bytes (from the scratch pool: its contents are
    /// whatever the last user left; every algorithm writes scratch before reading).
    pub fn tmp(&mut self, len: usize) -> B {
        self.slots
            .push(Slot::Tmp(pool::take(len.div_ceil(16)), len));
        B {
            slot: self.slots.len() - 1,
            off: 0,
            len,
        }
    }

    /// Send `b` to communicator rank `peer`.
    pub fn send(&mut self, peer: usize, b: B) {
        self.steps.push(Step::Send { peer, b });
    }
    /// Receive exactly `b.len` bytes from `peer` into `b`.
    pub fn recv(&mut self, peer: usize, b: B) {
        self.steps.push(Step::Recv {
            peer,
            b,
            read_here: false,
        });
    }
    /// Send and receive with one peer in the current round.
    pub fn sendrecv(&mut self, peer: usize, s: B, r: B) {
        self.recv(peer, r);
        self.send(peer, s);
    }
    /// inout = inb op inout (the schedule's reduction).
    pub fn reduce(&mut self, inb: B, inout: B) {
        if inb.len > 0 {
            // The receives of this round and the one before that fill either
            // operand are read right away.
            let mut fences = 0;
            for step in self.steps.iter_mut().rev() {
                match step {
                    Step::Fence if fences == 1 => break,
                    Step::Fence => fences += 1,
                    Step::Recv { b, read_here, .. } if b.overlaps(inb) || b.overlaps(inout) => {
                        *read_here = true
                    }
                    _ => {}
                }
            }
            self.steps.push(Step::Reduce { inb, inout });
        }
    }
    pub fn copy(&mut self, src: B, dst: B) {
        if src.len > 0 && !(src.slot == dst.slot && src.off == dst.off) {
            self.steps.push(Step::Copy { src, dst });
        }
    }
    /// End the round: later steps wait for every send and receive before.
    pub fn fence(&mut self) {
        if !matches!(self.steps.last(), None | Some(Step::Fence)) {
            self.steps.push(Step::Fence);
        }
    }

    fn ptr(&mut self, b: B) -> Result<*mut u8> {
        let (base, len) = match &mut self.slots[b.slot] {
            Slot::Ext { ptr, len } => (*ptr, *len),
            Slot::Tmp(v, len) => (v.as_mut_ptr().cast::<u8>(), *len),
        };
        if b.off.checked_add(b.len).map_or(true, |e| e > len) {
            return Err(Error::intern(format!(
                "{}: schedule range {}+{} outside buffer of {len}",
                self.call, b.off, b.len
            )));
        }
        if b.len == 0 {
            return Ok(std::ptr::NonNull::dangling().as_ptr());
        }
        // SAFETY: in bounds (checked).
        Ok(unsafe { base.add(b.off) })
    }

    /// Run steps until one must wait; true when the whole schedule is done.
    pub fn step(&mut self, engine: &mut Engine) -> Result<bool> {
        loop {
            if !self.pending.is_empty() {
                let mut i = 0;
                while i < self.pending.len() {
                    let m = self.pending[i];
                    match engine.test(m.req)? {
                        Some(st) => {
                            // The engine has freed it: off the list before checking.
                            self.pending.swap_remove(i);
                            if let Err(e) = check_status(self.call, st, m.expect) {
                                if !mismatch(&e) {
                                    return Err(e);
                                }
                                // Later pieces of the same message will not come
                                // (the sender cut another length): withdraw them.
                                let mut j = 0;
                                while j < self.pending.len() {
                                    let p = self.pending[j];
                                    if p.step == m.step
                                        && p.expect != usize::MAX
                                        && engine.unpost(p.req)?
                                    {
                                        self.pending.swap_remove(j);
                                    } else {
                                        j += 1;
                                    }
                                }
                                self.mismatch.get_or_insert(e);
                                i = 0;
                            }
                        }
                        None => i += 1,
                    }
                }
            }
            if self.pc == self.steps.len() && self.pending.is_empty() {
                if let Some(e) = self.mismatch.take() {
                    return Err(e);
                }
            }
            if self.pc == self.steps.len() {
                return Ok(self.pending.is_empty());
            }
            let s = self.steps[self.pc];
            match s {
                Step::Fence => {
                    if !self.pending.is_empty() {
                        return Ok(false);
                    }
                }
                Step::Send { peer, b } => {
                    let p = self.ptr(b)?;
                    let piece = self.seg.piece(b.len);
                    let busy = self.busy_after(self.pc);
                    let mut off = 0;
                    loop {
                        let len = piece.min(b.len - off);
                        // SAFETY: `p+off..p+off+len` is in a live slot (checked by
                        // `ptr`), kept unchanged until the fence after this send
                        // (schedules never write a buffer in the round that sends it).
                        let req = unsafe {
                            let mut buf = SendBuf::new(p.add(off), len);
                            if busy {
                                buf = buf.busy();
                            }
                            if self.mismatch.is_some() {
                                buf = buf.failed();
                            }
                            engine.isend(
                                buf,
                                self.cc.group[peer],
                                self.cc.ctx,
                                self.cc.wire_rank(self.cc.rank),
                                self.cc.tag_for(peer),
                                SendMode::Standard,
                            )?
                        };
                        self.pending.push(InFlight {
                            req,
                            expect: usize::MAX,
                            step: self.pc,
                        });
                        off += len;
                        if off >= b.len {
                            break;
                        }
                    }
                }
                Step::Recv { peer, b, read_here } => {
                    let p = self.ptr(b)?;
                    let piece = self.seg.piece(b.len);
                    let busy = self.busy_after(self.pc);
                    let mut off = 0;
                    loop {
                        let len = piece.min(b.len - off);
                        // SAFETY: as for sends; nothing else touches the range
                        // before the fence. Pieces arrive in order (non-overtaking).
                        let req = unsafe {
                            let mut buf = RecvBuf::new(p.add(off), len);
                            if read_here {
                                buf = buf.read_here();
                            }
                            if busy {
                                buf = buf.busy();
                            }
                            engine.irecv(
                                buf,
                                Pattern {
                                    ctx: self.cc.ctx,
                                    src: self.cc.wire_rank(peer),
                                    tag: self.cc.tag_for(peer),
                                },
                            )?
                        };
                        self.pending.push(InFlight {
                            req,
                            expect: len,
                            step: self.pc,
                        });
                        off += len;
                        if off >= b.len {
                            break;
                        }
                    }
                }
                Step::Reduce { inb, inout } => {
                    if inb.slot == inout.slot
                        && inb.off < inout.off + inout.len
                        && inout.off < inb.off + inb.len
                    {
                        return Err(Error::intern("reduction on overlapping ranges"));
                    }
                    let (a, o) = (self.ptr(inb)?, self.ptr(inout)?);
                    // SAFETY: both ranges are in bounds and do not overlap (checked).
                    let (a, o) = unsafe {
                        (
                            std::slice::from_raw_parts(a, inb.len),
                            std::slice::from_raw_parts_mut(o, inout.len),
                        )
                    };
                    let red = self
                        .red
                        .as_ref()
                        .ok_or_else(|| Error::intern("no reduction"))?;
                    red.run(a, o).map_err(|e| e.within(self.call))?;
                }
                Step::Copy { src, dst } => {
                    let (a, o) = (self.ptr(src)?, self.ptr(dst)?);
                    // SAFETY: both in bounds; `copy` allows overlap.
                    unsafe { std::ptr::copy(a, o, src.len.min(dst.len)) };
                }
            }
            self.pc += 1;
        }
    }

    /// Does this rank work on after the send or receive at step `at`, while its
    /// message is in flight (steps before it are done by then)? A send's rank
    /// works when its round copies, reduces or sends again (its receives cost it
    /// nothing until the fence); a receive's when its round copies, reduces or
    /// receives again (its sends cost it nothing: their receivers pull). A busy
    /// sender is pulled whole (`SendBuf::busy`); a busy receiver has its sender
    /// write half of a large message (`RecvBuf::busy`).
    fn busy_after(&self, at: usize) -> bool {
        let sending = matches!(self.steps[at], Step::Send { .. });
        self.steps[at + 1..]
            .iter()
            .take_while(|s| !matches!(s, Step::Fence))
            .any(|s| match s {
                Step::Recv { .. } => !sending,
                Step::Send { .. } => sending,
                _ => true,
            })
    }
}

/// The outcome of one of a collective's messages: `st` of a send (`expected`
/// usize::MAX) or of a receive due `expected` bytes.
pub(super) fn check_status(call: &str, st: Status, expected: usize) -> Result<()> {
    if st.sender_failed && st.error.is_none() {
        return Err(Error::new(
            ErrorClass::Other,
            format!(
                "{call}: rank {} had a mismatch earlier in this collective (counts differ between ranks?), so the data it sent cannot be trusted",
                st.source
            ),
        )
        .caused_by(Cause::Mismatch {
            rank: st.source as usize,
        }));
    }
    match st.error {
        None if expected != usize::MAX && st.count != expected => Err(Error::new(
            ErrorClass::Truncate,
            format!(
                "{call}: rank {} sent {} bytes where this rank expects {expected} (counts differ between ranks?)",
                st.source, st.count
            ),
        )),
        None => Ok(()),
        Some(ErrorClass::Truncate) => Err(Error::new(
            ErrorClass::Truncate,
            format!(
                "{call}: rank {} sent more data than this rank expects (counts differ between ranks?)",
                st.source
            ),
        )),
        Some(c) => Err(Error::new(c, format!("{call}: a message failed ({c:?})"))),
    }
}

/// Is `e` (from [`check_status`]) a mismatch between the ranks' arguments,
/// after which a schedule runs on (see `Sched::mismatch`)?
fn mismatch(e: &Error) -> bool {
    e.class == ErrorClass::Truncate || matches!(e.cause, Some(Cause::Mismatch { .. }))
}

/// One pass of settling a failed collective's messages (`pending`: request and
/// expected bytes, usize::MAX for a send): receives not yet matched are
/// withdrawn, matched ones (their data is on its way) are waited for, sends are
/// left to the engine (freed when they complete; only a peer's pull reads them).
/// True when nothing is left.
pub(super) fn settled<T>(
    e: &mut Engine,
    pending: &mut Vec<T>,
    of: impl Fn(&T) -> (ReqId, usize),
) -> Result<bool> {
    let mut i = 0;
    while i < pending.len() {
        let (req, expect) = of(&pending[i]);
        let gone = if expect == usize::MAX {
            e.free_on_complete(req)?;
            true
        } else {
            e.unpost(req)? || e.test(req)?.is_some()
        };
        if gone {
            pending.swap_remove(i);
        } else {
            i += 1;
        }
    }
    Ok(pending.is_empty())
}

#[cfg(all(test, not(loom)))]
impl Sched {
    /// Cut medium messages as a runtime with this shm eager size does (the
    /// in-process test job runs schedules without a runtime).
    pub(crate) fn cut_like(&mut self, eager: usize) {
        self.seg = Segments::from_config(eager, self.seg_max);
    }
}

/// Run a schedule to completion, polling the engine (other schedules progress too).
pub fn run_blocking(mut s: Sched) -> Result<()> {
    let call = s.call;
    let mut first = true;
    let r = runtime::progress_until(call, |rt| {
        if first {
            s.seg = Segments::from_config(rt.cfg.smp_eager_size, s.seg_max);
            first = false;
        }
        s.step(&mut rt.engine)
    });
    if r.is_err() {
        s.settle()?;
    }
    r
}

impl Sched {
    /// One pass of settling after a failed step (for schedules run inside
    /// another schedule); true when nothing is left (see [`settled`]).
    pub fn settle_pass(&mut self, engine: &mut Engine) -> Result<bool> {
        settled(engine, &mut self.pending, |m| (m.req, m.expect))
    }

    /// After a failed step: nothing of this schedule may write into the caller's
    /// buffers once the call returns (see [`settled`]).
    fn settle(&mut self) -> Result<()> {
        runtime::progress_until(self.call, |rt| {
            settled(&mut rt.engine, &mut self.pending, |m| (m.req, m.expect))
        })
    }
}

/// A schedule behind an external request.
struct Nonblocking {
    s: Sched,
    req: ReqId,
    /// Set when a step failed: the request completes with it once the schedule
    /// has settled (see `Sched::settle`).
    failed: Option<ErrorClass>,
}

impl Schedule for Nonblocking {
    fn advance(&mut self, engine: &mut Engine) -> Result<bool> {
        if self.failed.is_none() {
            match self.s.step(engine) {
                Ok(false) => return Ok(false),
                Ok(true) => {
                    engine.complete_external(self.req, Status::empty())?;
                    return Ok(true);
                }
                Err(e) => {
                    eprintln!("vmpi: rank {}: {e}", self.s.cc.rank);
                    self.failed = Some(e.class);
                }
            }
        }
        if !settled(engine, &mut self.s.pending, |m| (m.req, m.expect))? {
            return Ok(false);
        }
        let mut st = Status::empty();
        st.error = self.failed;
        engine.complete_external(self.req, st)?;
        Ok(true)
    }
}

/// Start a schedule as a nonblocking collective; its request completes when the
/// schedule does.
pub fn start_nonblocking(s: Sched) -> Result<ReqId> {
    runtime::with(s.call, |rt| {
        let req = rt.engine.new_external();
        let mut s = s;
        s.seg = Segments::from_config(rt.cfg.smp_eager_size, s.seg_max);
        let mut nb = Nonblocking {
            s,
            req,
            failed: None,
        };
        if !nb.advance(&mut rt.engine)? {
            rt.schedules.push(Box::new(nb));
        }
        Ok(req)
    })
}
