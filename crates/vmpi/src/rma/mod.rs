//! One-sided communication (MPI-3.1 §11): windows, their operations and every
//! synchronization mode.
//!
//! A window is a private duplicate of its communicator: requests to a target
//! travel as point-to-point messages on its first context ([`proto`]), replies on
//! its second (tags above every collective's), and its collectives (creation,
//! fence, free) use the second context as any communicator does. The target's
//! side ([`target::TargetSide`]) is a service the progress loop runs for every
//! window, so a target carries out requests whenever it is inside any MPI call:
//! passive-target operations progress while the target computes only if it
//! calls MPI now and then (as with MPICH without a progress thread; documented
//! in docs/c-abi.md).
//!
//! Origins check what they can (an epoch that allows the access, the target's
//! window bounds of fixed windows, element kinds and sizes), targets check
//! every request again (the memory a dynamic window has attached; bytes from
//! another process are untrusted) and report a request outside their memory
//! at the origin's next synchronization.
//!
//! Windows whose ranks all share one shm domain and whose memory MPI
//! allocates (MPI_Win_allocate, MPI_Win_allocate_shared) are one /dev/shm file
//! that every rank maps ([`Direct`]): operations on them are copies done by the
//! origin itself, complete when the call returns, and accumulates take the
//! target segment's lock word in the file (every rank accumulates this way, so
//! they stay atomic with each other). Shared windows require one shm domain;
//! the ranks load and store each other's segments directly.

pub mod direct;
pub mod memory;
pub mod proto;
pub mod target;

use crate::comm::{mgmt, Comm};
use crate::datatype::Datatype;
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Engine, Pattern, ReqId, SendMode, Status, PROC_NULL};
use crate::runtime::{self, Runtime};
use direct::{map_shared, one_domain, Direct};
use memory::{Exposed, Owned};
use proto::{Head, Kind};
use std::collections::{BTreeMap, BTreeSet};
use target::TargetSide;

/// How a window's memory came to be (MPI_WIN_CREATE_FLAVOR; MPICH's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Create = 1,
    Allocate = 2,
    Dynamic = 3,
    Shared = 4,
}

/// Assertions (MPI_MODE_*; MPICH's values).
pub const MODE_NOCHECK: i32 = 1024;
pub const MODE_NOSTORE: i32 = 2048;
pub const MODE_NOPUT: i32 = 4096;
pub const MODE_NOPRECEDE: i32 = 8192;
pub const MODE_NOSUCCEED: i32 = 16384;
const MODES: i32 = MODE_NOCHECK | MODE_NOSTORE | MODE_NOPUT | MODE_NOPRECEDE | MODE_NOSUCCEED;

/// Reply tags: above every collective's sequence tag on the same context.
const REPLY_TAG: u32 = 1 << 29;
const REPLY_MASK: u32 = (1 << 28) - 1;

/// The access epoch an origin is in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    None,
    /// Between fences.
    Fence,
    /// Between MPI_Win_start and MPI_Win_complete, to these ranks.
    Start(Vec<i32>),
    /// Passive target: rank -> whether its lock was taken without a message
    /// (MPI_MODE_NOCHECK).
    Lock(BTreeMap<i32, bool>),
    /// MPI_Win_lock_all (true: MPI_MODE_NOCHECK).
    LockAll(bool),
}

/// What to do when a pending request completes.
enum Then {
    /// A request sent: its buffer can go.
    Sent,
    /// A reply with data: store it (after the status word) at the origin.
    Store {
        ptr: usize,
        count: usize,
        dt: Datatype,
        dense: bool,
    },
    /// A reply that is only a status (a grant, an acknowledgement).
    Status,
}

struct Pending {
    req: ReqId,
    target: i32,
    buf: Vec<u8>,
    then: Then,
    /// The user's request (MPI_Rput and friends), completed with this.
    user: Option<ReqId>,
}

/// One window, as this rank holds it.
pub struct Window {
    comm: Comm,
    flavor: Flavor,
    base: usize,
    size: usize,
    disp_unit: usize,
    /// Per rank: (size, displacement unit) of its memory (fixed windows).
    peers: Vec<(u64, u64)>,
    /// Per rank: the address of its memory in its own process (created
    /// windows: written and read with CMA where the pair's probe passed).
    bases: Vec<u64>,
    target: TargetSide,
    _owned: Option<Owned>,
    /// The file every rank maps, when the window lives in one.
    direct: Option<Direct>,
    /// Passive-target locks of a direct window this rank holds: rank ->
    /// exclusive.
    held: BTreeMap<i32, bool>,
    pending: Vec<Pending>,
    next_tag: u32,
    access: Access,
    /// MPI_Win_post's group while its exposure epoch lasts.
    exposure: Option<Vec<i32>>,
    /// Ranks sent requests since their last flush (fence completes these).
    touched: BTreeSet<i32>,
    /// A request fell outside its target's memory: reported at the next
    /// synchronization.
    fault: Option<Error>,
}

/// Every window of this process, advanced by the progress loop.
#[derive(Default)]
pub struct Windows(Vec<Window>);

impl Windows {
    /// One pass over every window: its target service and its origin's pending
    /// requests.
    #[inline]
    pub fn progress(&mut self, engine: &mut Engine) -> Result<bool> {
        let mut did = false;
        for w in &mut self.0 {
            did |= w.target.serve(engine, &w.comm)?;
            did |= w.reap(engine)?;
        }
        Ok(did)
    }

    fn get(&mut self, call: &str, id: u32) -> Result<&mut Window> {
        self.0
            .iter_mut()
            .find(|w| w.comm.ctx == id)
            .ok_or_else(|| Error::new(ErrorClass::Win, format!("{call}: no such window")))
    }
}

fn sync_err(call: &str, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorClass::RmaSync, format!("{call}: {what}"))
}

impl Window {
    fn n(&self) -> usize {
        self.comm.size() as usize
    }

    /// Complete what finished among the pending requests.
    fn reap(&mut self, engine: &mut Engine) -> Result<bool> {
        let mut did = false;
        let mut i = 0;
        while i < self.pending.len() {
            let Some(st) = engine.test(self.pending[i].req)? else {
                i += 1;
                continue;
            };
            let p = self.pending.swap_remove(i);
            did = true;
            match p.then {
                Then::Sent => {}
                Then::Store {
                    ptr,
                    count,
                    dt,
                    dense,
                } => {
                    self.note(p.target, &p.buf[..st.count]);
                    if st.count >= 8 {
                        // SAFETY: the origin's result buffer, which MPI keeps
                        // untouched until this operation completes.
                        unsafe {
                            memory::store(&p.buf[8..st.count], ptr as *mut u8, count, &dt, dense)
                        };
                    }
                }
                Then::Status => self.note(p.target, &p.buf[..st.count]),
            }
            if let Some(u) = p.user {
                engine.complete_external(u, Status::empty())?;
            }
        }
        Ok(did)
    }

    /// Remember a reply's bad status.
    fn note(&mut self, target: i32, reply: &[u8]) {
        if proto::status_of(reply) != proto::OK && self.fault.is_none() {
            self.fault = Some(Error::new(
                ErrorClass::RmaRange,
                format!(
                    "an operation on rank {target} of the window fell outside the memory it exposes"
                ),
            ));
        }
    }

    fn check_fault(&mut self, call: &str) -> Result<()> {
        match self.fault.take() {
            Some(e) => Err(e.within(call)),
            None => Ok(()),
        }
    }

    fn tag(&mut self) -> u32 {
        self.next_tag = self.next_tag.wrapping_add(1);
        REPLY_TAG | (self.next_tag & REPLY_MASK)
    }

    /// Send a request to `to`; its buffer is kept until sent.
    fn send(
        &mut self,
        engine: &mut Engine,
        to: i32,
        msg: Vec<u8>,
        user: Option<ReqId>,
    ) -> Result<()> {
        let kind = msg[0] as i32;
        // SAFETY: `msg`'s heap block stays put and unchanged in `pending` until the
        // send completes.
        let req = unsafe {
            engine.isend(
                SendBuf::new(msg.as_ptr(), msg.len()),
                self.comm.world_rank(to),
                self.comm.ctx,
                self.comm.rank,
                kind,
                SendMode::Standard,
            )?
        };
        self.pending.push(Pending {
            req,
            target: to,
            buf: msg,
            then: Then::Sent,
            user,
        });
        Ok(())
    }

    /// Post the receive of a reply of `len` data bytes from `from`.
    fn expect(
        &mut self,
        engine: &mut Engine,
        from: i32,
        len: usize,
        then: Then,
        user: Option<ReqId>,
    ) -> Result<u32> {
        let tag = self.tag();
        let mut buf = vec![0u8; 8 + len];
        // SAFETY: `buf`'s heap block stays put and untouched in `pending` until the
        // receive completes.
        let req = unsafe {
            engine.irecv(
                RecvBuf::new(buf.as_mut_ptr(), buf.len()),
                Pattern {
                    ctx: self.comm.coll_ctx,
                    src: from,
                    tag: tag as i32,
                },
            )?
        };
        self.pending.push(Pending {
            req,
            target: from,
            buf,
            then,
            user,
        });
        Ok(tag)
    }

    /// A control request that the target answers with a status.
    fn ask(&mut self, engine: &mut Engine, to: i32, kind: Kind, flags: u8) -> Result<()> {
        let reply = if kind.replies() {
            self.expect(engine, to, 0, Then::Status, None)?
        } else {
            0
        };
        let head = Head {
            kind,
            op: 0,
            basic: 0,
            flags,
            reply,
            addr: 0,
        };
        self.send(engine, to, proto::encode(&head, &[], 0), None)
    }

    fn waiting_on(&self, t: Option<i32>) -> bool {
        self.pending.iter().any(|p| t.is_none_or(|t| p.target == t))
    }

    /// MPI_ERR_RANK unless `t` is a rank of the window or MPI_PROC_NULL.
    fn check_rank(&self, call: &str, t: i32) -> Result<()> {
        if t != PROC_NULL && (t < 0 || t as usize >= self.n()) {
            return Err(Error::new(
                ErrorClass::Rank,
                format!(
                    "{call}: rank {t} is not in the window's group of {}",
                    self.n()
                ),
            ));
        }
        Ok(())
    }

    /// Whether an operation may go to `t` now.
    fn may_access(&self, t: i32) -> bool {
        match &self.access {
            Access::None => false,
            Access::Fence | Access::LockAll(_) => true,
            Access::Start(g) => g.contains(&t),
            Access::Lock(m) => m.contains_key(&t),
        }
    }

    /// Passive-target epoch calls may begin: no epoch, or a fence epoch in
    /// which nothing was done.
    fn idle(&self) -> bool {
        match self.access {
            Access::None => true,
            Access::Fence => self.touched.is_empty() && self.pending.is_empty(),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------
// Creation and destruction.

/// What MPI_Win_create and friends are given.
pub struct Spec {
    pub flavor: Flavor,
    /// Create: the application's memory.
    pub base: *mut u8,
    pub size: usize,
    pub disp_unit: usize,
    /// Shared: each rank's segment on its own page.
    pub noncontig: bool,
}

/// A new window on `comm` (collective). Returns its id and this rank's base.
pub fn create(call: &str, comm: &Comm, spec: Spec) -> Result<(u32, *mut u8)> {
    comm.check_intra(call)?;
    if spec.disp_unit == 0 && spec.flavor != Flavor::Dynamic {
        return Err(Error::new(
            ErrorClass::Disp,
            format!("{call}: disp_unit must be positive"),
        ));
    }
    let wcomm = mgmt::dup(comm)?;
    match make(call, &wcomm, spec) {
        Ok(w) => {
            let base = w.base as *mut u8;
            let id = wcomm.ctx;
            runtime::with(call, |rt| {
                rt.rma.0.push(w);
                Ok(())
            })?;
            Ok((id, base))
        }
        Err(e) => {
            mgmt::free(wcomm);
            Err(e)
        }
    }
}

fn make(call: &str, wcomm: &Comm, spec: Spec) -> Result<Window> {
    let n = wcomm.size() as usize;
    let me = wcomm.rank as usize;
    let mut owned = None;
    let mut direct = None;
    let (base, size, unit) = match spec.flavor {
        Flavor::Create => (spec.base as usize, spec.size, spec.disp_unit),
        Flavor::Dynamic => (0, 0, 1),
        Flavor::Allocate if one_domain(call, wcomm)? => {
            let d = map_shared(call, wcomm, spec.size, true)?;
            let (off, len) = d.segs[me];
            let b = d.region.app_memory(off, len) as usize;
            direct = Some(d);
            (b, spec.size, spec.disp_unit)
        }
        Flavor::Allocate => {
            let o = Owned::new(spec.size).ok_or_else(|| {
                Error::new(
                    ErrorClass::NoMem,
                    format!("{call}: cannot allocate {} bytes", spec.size),
                )
            })?;
            let b = o.ptr() as usize;
            owned = Some(o);
            (b, spec.size, spec.disp_unit)
        }
        Flavor::Shared => {
            if !one_domain(call, wcomm)? {
                return Err(Error::new(
                    ErrorClass::RmaShared,
                    format!("{call}: the ranks of the communicator do not share memory (they are in different shm domains: other hosts, VMs or isolated containers); use MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) first"),
                ));
            }
            let d = map_shared(call, wcomm, spec.size, spec.noncontig)?;
            let (off, len) = d.segs[me];
            let b = d.region.app_memory(off, len) as usize;
            direct = Some(d);
            (b, spec.size, spec.disp_unit)
        }
    };
    // Everyone's size and displacement unit.
    let all = allgather_words(wcomm, &[size as u64, unit as u64, base as u64])?;
    let peers = all.iter().map(|w| (w[0], w[1])).collect();
    let bases = all.iter().map(|w| w[2]).collect();
    let exposed = match spec.flavor {
        Flavor::Dynamic => Exposed::Dynamic(Vec::new()),
        _ => Exposed::Fixed { base, size },
    };
    Ok(Window {
        comm: wcomm.clone(),
        flavor: spec.flavor,
        base,
        size,
        disp_unit: unit,
        peers,
        bases,
        target: TargetSide::new(exposed, n),
        _owned: owned,
        direct,
        held: BTreeMap::new(),
        pending: Vec::new(),
        next_tag: 0,
        access: Access::None,
        exposure: None,
        touched: BTreeSet::new(),
        fault: None,
    })
}

/// Every rank's `mine` (the same number of words on every rank), in rank
/// order (collective).
fn allgather_words(comm: &Comm, mine: &[u64]) -> Result<Vec<Vec<u64>>> {
    let k = mine.len();
    let bytes: Vec<u8> = mine.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut all = vec![0u8; bytes.len() * comm.size() as usize];
    // SAFETY: both buffers outlive the blocking call.
    unsafe {
        crate::coll::run(
            comm,
            crate::coll::Args::Allgather {
                send: Some(crate::coll::Raw {
                    ptr: bytes.as_ptr(),
                    len: bytes.len(),
                }),
                recv: crate::coll::RawMut {
                    ptr: all.as_mut_ptr(),
                    len: all.len(),
                },
            },
        )?
    };
    Ok(all
        .chunks_exact(8 * k.max(1))
        .map(|c| {
            c.chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
                .collect()
        })
        .collect())
}

/// MPI_Win_free (collective): every epoch must be closed.
pub fn free(call: &str, id: u32) -> Result<()> {
    let comm = runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        if !w.idle() || w.exposure.is_some() {
            return Err(sync_err(call, "an epoch of this window is still open"));
        }
        Ok(w.comm.clone())
    })?;
    barrier(&comm)?;
    // Replies and acknowledgements of this rank finish before their buffers go.
    runtime::progress_until(call, |rt| {
        let w = rt.rma.get(call, id)?;
        Ok(!w.target.busy() && w.pending.is_empty())
    })?;
    let w = runtime::with(call, |rt| {
        let at = rt
            .rma
            .0
            .iter()
            .position(|w| w.comm.ctx == id)
            .ok_or_else(|| Error::new(ErrorClass::Win, format!("{call}: no such window")))?;
        Ok(rt.rma.0.swap_remove(at))
    })?;
    mgmt::free(w.comm.clone());
    Ok(())
}

/// A barrier of the window's ranks that keeps every window served while it
/// waits (a schedule, never the shared collective area's spin).
fn barrier(comm: &Comm) -> Result<()> {
    // SAFETY: a barrier has no buffers.
    let req = unsafe { crate::coll::start(comm, crate::coll::Args::Barrier)? };
    runtime::wait(req).map(|_| ())
}

// ---------------------------------------------------------------------------
// Queries.

/// What the attribute and group calls report.
pub struct Facts {
    pub base: *mut u8,
    pub size: usize,
    pub disp_unit: usize,
    pub flavor: Flavor,
    pub comm: Comm,
}

pub fn facts(call: &str, id: u32) -> Result<Facts> {
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        Ok(Facts {
            base: w.base as *mut u8,
            size: w.size,
            disp_unit: w.disp_unit,
            flavor: w.flavor,
            comm: w.comm.clone(),
        })
    })
}

/// MPI_Win_shared_query: (size, disp_unit, base) of `rank`'s segment
/// (PROC_NULL: the first rank with a nonzero size).
pub fn shared_query(call: &str, id: u32, rank: i32) -> Result<(usize, usize, *mut u8)> {
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        let (
            Flavor::Shared,
            Some(Direct {
                region: r, segs, ..
            }),
        ) = (w.flavor, &w.direct)
        else {
            return Err(Error::new(
                ErrorClass::RmaFlavor,
                format!("{call}: the window was not made by MPI_Win_allocate_shared"),
            ));
        };
        let at = if rank == PROC_NULL {
            match segs.iter().position(|s| s.1 > 0) {
                Some(i) => i,
                None => return Ok((0, 0, std::ptr::null_mut())),
            }
        } else if rank < 0 || rank as usize >= segs.len() {
            return Err(Error::new(
                ErrorClass::Rank,
                format!(
                    "{call}: rank {rank} is not in the window's group of {}",
                    segs.len()
                ),
            ));
        } else {
            rank as usize
        };
        let (off, len) = segs[at];
        Ok((len, w.peers[at].1 as usize, r.app_memory(off, len)))
    })
}

/// MPI_Win_attach.
pub fn attach(call: &str, id: u32, base: usize, size: usize) -> Result<()> {
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        let Exposed::Dynamic(regions) = &mut w.target.exposed else {
            return Err(Error::new(
                ErrorClass::RmaFlavor,
                format!("{call}: the window was not made by MPI_Win_create_dynamic"),
            ));
        };
        if size > 0
            && regions
                .iter()
                .any(|&(b, l)| base < b + l && b < base + size)
        {
            return Err(Error::new(
                ErrorClass::RmaAttach,
                format!("{call}: memory at {base:#x} overlaps memory already attached"),
            ));
        }
        regions.push((base, size));
        Ok(())
    })
}

/// MPI_Win_detach.
pub fn detach(call: &str, id: u32, base: usize) -> Result<()> {
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        let Exposed::Dynamic(regions) = &mut w.target.exposed else {
            return Err(Error::new(
                ErrorClass::RmaFlavor,
                format!("{call}: the window was not made by MPI_Win_create_dynamic"),
            ));
        };
        match regions.iter().position(|&(b, _)| b == base) {
            Some(i) => {
                regions.swap_remove(i);
                Ok(())
            }
            None => Err(Error::new(
                ErrorClass::RmaAttach,
                format!("{call}: no memory is attached at {base:#x}"),
            )),
        }
    })
}

// ---------------------------------------------------------------------------
// Operations.

/// A buffer and its datatype.
#[derive(Clone, Copy)]
pub struct Buf<'a> {
    pub ptr: *const u8,
    pub count: usize,
    pub dt: &'a Datatype,
}

/// Where an operation lands.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub rank: i32,
    pub disp: i64,
    pub count: usize,
    pub dt: &'a Datatype,
}

/// The operation.
pub enum Action<'a> {
    Put,
    Get,
    /// MPI_Accumulate.
    Acc(&'a Op),
    /// MPI_Get_accumulate / MPI_Fetch_and_op: the old values go to the buffer.
    GetAcc(&'a Op, Buf<'a>),
    /// MPI_Compare_and_swap: the compare element, the result buffer.
    Cas(*const u8, *mut u8),
}

impl Action<'_> {
    fn kind(&self) -> Kind {
        match self {
            Action::Put => Kind::Put,
            Action::Get => Kind::Get,
            Action::Acc(_) => Kind::Acc,
            Action::GetAcc(..) => Kind::GetAcc,
            Action::Cas(..) => Kind::Cas,
        }
    }
    fn dense(&self) -> bool {
        !matches!(self, Action::Put | Action::Get)
    }
}

/// Start one operation; with `request`, a request that completes with it
/// (MPI_Rput and friends; at once for MPI_PROC_NULL).
///
/// # Safety
/// `origin` (read, or written by a get) and a result buffer must stay valid and
/// untouched by the application until the operation completes locally (MPI's
/// rule).
pub unsafe fn operate(
    call: &str,
    id: u32,
    origin: Buf,
    target: Target,
    action: Action,
    request: bool,
) -> Result<Option<ReqId>> {
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        let user = request.then(|| engine.new_external());
        let t = target.rank;
        if t == PROC_NULL {
            if let Some(u) = user {
                engine.complete_external(u, Status::empty())?;
            }
            return Ok(user);
        }
        if t < 0 || t as usize >= w.n() {
            return Err(Error::new(
                ErrorClass::Rank,
                format!(
                    "{call}: target rank {t} is not in the window's group of {}",
                    w.n()
                ),
            ));
        }
        if !w.may_access(t) {
            return Err(sync_err(
                call,
                format!("no access epoch to rank {t} is open (MPI_Win_fence, _start, _lock or _lock_all first)"),
            ));
        }
        if request && !matches!(w.access, Access::Lock(_) | Access::LockAll(_)) {
            return Err(sync_err(
                call,
                "request-based operations need a passive-target epoch (MPI_Win_lock or _lock_all)",
            ));
        }
        let kind = action.kind();
        let dense = action.dense();
        // Element kinds and sizes.
        let mut op_code = 0u8;
        let mut basic = 0u8;
        let mut elem = None;
        if dense {
            let Some((tk, _)) = target.dt.reduce_kind() else {
                return Err(Error::new(
                    ErrorClass::Type,
                    format!("{call}: the target datatype is not made of one predefined type"),
                ));
            };
            basic = tk as u8;
            elem = Some(tk);
            let op = match &action {
                Action::Acc(op) | Action::GetAcc(op, _) => Some(*op),
                _ => None,
            };
            if let Some(op) = op {
                op_code = proto::op_code(op).ok_or_else(|| {
                    Error::new(
                        ErrorClass::Op,
                        format!("{call}: user-defined operations are not allowed in one-sided accumulates"),
                    )
                })?;
                op.check(tk).map_err(|e| {
                    Error::new(ErrorClass::Op, format!("{call}: {}", e.into_message()))
                })?;
            }
            let origin_used = !matches!(op, Some(Op::NoOp));
            if origin_used && origin.count > 0 {
                match origin.dt.reduce_kind() {
                    Some((ok, _)) if ok == tk => {}
                    _ => {
                        return Err(Error::new(
                            ErrorClass::Type,
                            format!("{call}: the origin and target datatypes are not made of the same predefined type"),
                        ))
                    }
                }
            }
        }
        let runs = memory::runs(target.dt, target.count, dense);
        let span: usize = runs.iter().map(|r| r.1).sum();
        let origin_bytes = if dense {
            memory::dense_bytes(origin.dt, origin.count)
        } else {
            origin.dt.size() as usize * origin.count
        };
        let needs_origin = match &action {
            Action::GetAcc(Op::NoOp, _) => false,
            _ => true,
        };
        if needs_origin && origin_bytes != span {
            return Err(Error::new(
                ErrorClass::Type,
                format!(
                    "{call}: the origin buffer holds {origin_bytes} bytes of data and the target layout {span}: their type signatures differ"
                ),
            ));
        }
        // Where it lands, checked against a fixed window's size.
        let (size, unit) = w.peers[t as usize];
        let addr = if w.flavor == Flavor::Dynamic {
            target.disp as u64
        } else {
            let lo = runs.iter().map(|r| r.0).min().unwrap_or(0);
            let hi = runs.iter().map(|r| r.0 + r.1 as i64).max().unwrap_or(0);
            let at = (target.disp as i128) * unit as i128;
            if !runs.is_empty() && (at + (lo as i128) < 0 || at + hi as i128 > size as i128) {
                return Err(Error::new(
                    ErrorClass::RmaRange,
                    format!(
                        "{call}: target displacement {} (unit {unit}) with this datatype reaches bytes {}..{} of rank {t}'s window of {size} bytes",
                        target.disp,
                        at + lo as i128,
                        at + hi as i128
                    ),
                ));
            }
            at as u64
        };
        if let Action::GetAcc(_, res) = &action {
            let rb = memory::dense_bytes(res.dt, res.count);
            if rb != span {
                return Err(Error::new(
                    ErrorClass::Type,
                    format!("{call}: the result buffer holds {rb} bytes of data and the target layout {span}"),
                ));
            }
        }
        if let Some(d) = &w.direct {
            // SAFETY: the caller's contract for the origin and result buffers.
            unsafe {
                d.operate(
                    call,
                    t,
                    addr,
                    &runs,
                    span,
                    origin,
                    &action,
                    elem,
                    needs_origin,
                )?
            };
            if let Some(u) = user {
                engine.complete_external(u, Status::empty())?;
            }
            return Ok(user);
        }
        // A created window of a peer whose memory this rank may read and write
        // with CMA: put and get are system calls of the origin alone.
        if w.flavor == Flavor::Create
            && matches!(action, Action::Put | Action::Get)
            && t != w.comm.rank
        {
            if let Some(pid) = engine.cma_pid(w.comm.world_rank(t)) {
                let theirs = Exposed::Fixed {
                    base: w.bases[t as usize] as usize,
                    size: size as usize,
                };
                let rg = theirs.resolve(addr, &runs).ok_or_else(|| {
                    Error::new(
                        ErrorClass::RmaRange,
                        format!("{call}: the operation falls outside rank {t}'s window"),
                    )
                })?;
                let mut data = Vec::with_capacity(span);
                if let Action::Put = action {
                    // SAFETY: the caller's contract for the origin buffer.
                    unsafe { memory::load(origin.ptr, origin.count, origin.dt, false, &mut data) };
                    let mut at = 0;
                    for (a, len) in rg {
                        crate::transport::cma::write_to(pid, a as u64, &data[at..at + len])
                            .map_err(|e| e.within(call))?;
                        at += len;
                    }
                } else {
                    data.resize(span, 0);
                    let mut at = 0;
                    for (a, len) in rg {
                        crate::transport::cma::read_from(pid, a as u64, &mut data[at..at + len])
                            .map_err(|e| e.within(call))?;
                        at += len;
                    }
                    // SAFETY: the caller's contract for the origin buffer.
                    unsafe {
                        memory::store(&data, origin.ptr as *mut u8, origin.count, origin.dt, false)
                    };
                }
                if let Some(u) = user {
                    engine.complete_external(u, Status::empty())?;
                }
                return Ok(user);
            }
        }
        // Operations with a reply: where it lands, and the user's request
        // completes with the reply rather than the send.
        let landing = match &action {
            Action::Get => Some((origin.ptr as usize, origin.count, origin.dt, false)),
            Action::GetAcc(_, res) => Some((res.ptr as usize, res.count, res.dt, true)),
            Action::Cas(_, result) => Some((*result as usize, 1, origin.dt, true)),
            _ => None,
        };
        let (reply, send_user) = match landing {
            Some((ptr, count, dt, dense)) => {
                let then = Then::Store {
                    ptr,
                    count,
                    dt: dt.clone(),
                    dense,
                };
                (w.expect(engine, t, span, then, user)?, None)
            }
            None => (0, user),
        };
        let head = Head {
            kind,
            op: op_code,
            basic,
            flags: 0,
            reply,
            addr,
        };
        let data_len = match kind {
            Kind::Get => 0,
            Kind::Cas => 2 * span,
            _ => span,
        };
        let mut msg = proto::encode(&head, &runs, data_len);
        match &action {
            Action::Get => {}
            _ if needs_origin => {
                // SAFETY: the caller's contract for the origin buffer.
                unsafe { memory::load(origin.ptr, origin.count, origin.dt, dense, &mut msg) };
            }
            _ => msg.resize(msg.len() + span, 0),
        }
        if let Action::Cas(compare, _) = &action {
            // SAFETY: one element of the origin type at `compare` (the caller's contract).
            unsafe { memory::load(*compare, 1, origin.dt, true, &mut msg) };
        }
        w.send(engine, t, msg, send_user)?;
        w.touched.insert(t);
        Ok(user)
    })
}

// ---------------------------------------------------------------------------
// Synchronization.

/// Wait until nothing is pending to `t` (None: to anyone), then report a fault.
fn settle(call: &str, id: u32, t: Option<i32>) -> Result<()> {
    runtime::progress_until(call, |rt| Ok(!rt.rma.get(call, id)?.waiting_on(t)))?;
    runtime::with(call, |rt| rt.rma.get(call, id)?.check_fault(call))
}

fn check_assert(call: &str, assert: i32) -> Result<()> {
    if assert & !MODES != 0 {
        return Err(Error::new(
            ErrorClass::Assert,
            format!("{call}: assert {assert:#x} has bits that are no MPI_MODE_*"),
        ));
    }
    Ok(())
}

/// MPI_Win_fence (collective).
pub fn fence(call: &str, id: u32, assert: i32) -> Result<()> {
    check_assert(call, assert)?;
    let comm = runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        if !matches!(w.access, Access::None | Access::Fence) {
            return Err(sync_err(
                call,
                "a start or lock epoch of this window is open",
            ));
        }
        if w.exposure.is_some() {
            return Err(sync_err(call, "an MPI_Win_post exposure epoch is open"));
        }
        for t in std::mem::take(&mut w.touched) {
            w.ask(engine, t, Kind::Flush, 0)?;
        }
        Ok(w.comm.clone())
    })?;
    settle(call, id, None)?;
    barrier(&comm)?;
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        w.access = if assert & MODE_NOSUCCEED != 0 {
            Access::None
        } else {
            Access::Fence
        };
        Ok(())
    })
}

/// MPI_Win_start: an access epoch to `group` (ranks of the window), once each
/// has posted.
pub fn start(call: &str, id: u32, group: Vec<i32>, assert: i32) -> Result<()> {
    check_assert(call, assert)?;
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        if !w.idle() {
            return Err(sync_err(
                call,
                "another access epoch of this window is open",
            ));
        }
        if let Some(&bad) = group.iter().find(|&&r| r < 0 || r as usize >= w.n()) {
            return Err(Error::new(
                ErrorClass::Group,
                format!("{call}: rank {bad} is not in the window"),
            ));
        }
        Ok(())
    })?;
    if assert & MODE_NOCHECK == 0 {
        runtime::progress_until(call, |rt| {
            let w = rt.rma.get(call, id)?;
            Ok(group.iter().all(|&t| w.target.posts[t as usize] > 0))
        })?;
    }
    runtime::with(call, |rt| {
        let w = rt.rma.get(call, id)?;
        if assert & MODE_NOCHECK == 0 {
            for &t in &group {
                w.target.posts[t as usize] -= 1;
            }
        }
        w.access = Access::Start(group);
        Ok(())
    })
}

/// MPI_Win_complete: end the access epoch of MPI_Win_start.
pub fn complete(call: &str, id: u32) -> Result<()> {
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        let Access::Start(g) = std::mem::replace(&mut w.access, Access::None) else {
            return Err(sync_err(call, "no MPI_Win_start epoch is open"));
        };
        for t in g {
            w.ask(engine, t, Kind::Complete, 0)?;
            w.touched.remove(&t);
        }
        Ok(())
    })?;
    settle(call, id, None)
}

/// MPI_Win_post: an exposure epoch to `group`.
pub fn post(call: &str, id: u32, group: Vec<i32>, assert: i32) -> Result<()> {
    check_assert(call, assert)?;
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        if w.exposure.is_some() {
            return Err(sync_err(
                call,
                "an exposure epoch of this window is already open",
            ));
        }
        if let Some(&bad) = group.iter().find(|&&r| r < 0 || r as usize >= w.n()) {
            return Err(Error::new(
                ErrorClass::Group,
                format!("{call}: rank {bad} is not in the window"),
            ));
        }
        if assert & MODE_NOCHECK == 0 {
            for &o in &group {
                w.ask(engine, o, Kind::Post, 0)?;
            }
        }
        w.exposure = Some(group);
        Ok(())
    })
}

/// MPI_Win_wait (block) / MPI_Win_test (`block` false: whether it ended).
pub fn wait(call: &str, id: u32, block: bool) -> Result<bool> {
    let ready = |w: &Window| match &w.exposure {
        Some(g) => Ok(g.iter().all(|&o| w.target.completes[o as usize] > 0)),
        None => Err(sync_err(call, "no MPI_Win_post epoch is open")),
    };
    if block {
        runtime::progress_until(call, |rt| ready(rt.rma.get(call, id)?))?;
    }
    runtime::with(call, |rt| {
        if !block {
            rt.progress()?;
        }
        let w = rt.rma.get(call, id)?;
        if !ready(w)? {
            return Ok(false);
        }
        for o in w.exposure.take().expect("open") {
            w.target.completes[o as usize] -= 1;
        }
        Ok(true)
    })
}

/// MPI_Win_lock.
pub fn lock(call: &str, id: u32, exclusive: bool, t: i32, assert: i32) -> Result<()> {
    check_assert(call, assert)?;
    let nocheck = assert & MODE_NOCHECK != 0;
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        if t == PROC_NULL {
            return Ok(());
        }
        if t < 0 || t as usize >= w.n() {
            return Err(Error::new(
                ErrorClass::Rank,
                format!("{call}: rank {t} is not in the window's group of {}", w.n()),
            ));
        }
        let idle = w.idle();
        match &mut w.access {
            Access::Lock(m) if m.contains_key(&t) => {
                return Err(sync_err(
                    call,
                    format!("rank {t} of this window is already locked"),
                ))
            }
            Access::Lock(m) => {
                m.insert(t, nocheck);
            }
            _ if idle => w.access = Access::Lock(BTreeMap::from([(t, nocheck)])),
            _ => return Err(sync_err(call, "another epoch of this window is open")),
        }
        if !nocheck && w.direct.is_none() {
            w.ask(
                engine,
                t,
                Kind::Lock,
                if exclusive { proto::EXCLUSIVE } else { 0 },
            )?;
        }
        Ok(())
    })?;
    if t != PROC_NULL && !nocheck {
        // A direct window's lock is a word in the file: taken here, while
        // every window keeps being served.
        runtime::progress_until(call, |rt| {
            let w = rt.rma.get(call, id)?;
            let Some(d) = &w.direct else {
                return Ok(true);
            };
            if !d.try_lock(t as usize, exclusive) {
                return Ok(false);
            }
            w.held.insert(t, exclusive);
            Ok(true)
        })?;
    }
    settle(call, id, Some(t))
}

/// MPI_Win_unlock.
pub fn unlock(call: &str, id: u32, t: i32) -> Result<()> {
    if t == PROC_NULL {
        return Ok(());
    }
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        w.check_rank(call, t)?;
        let Access::Lock(m) = &mut w.access else {
            return Err(sync_err(
                call,
                format!("rank {t} of this window is not locked"),
            ));
        };
        let Some(nocheck) = m.remove(&t) else {
            return Err(sync_err(
                call,
                format!("rank {t} of this window is not locked"),
            ));
        };
        if m.is_empty() {
            w.access = Access::None;
        }
        if let Some(d) = &w.direct {
            if let Some(ex) = w.held.remove(&t) {
                d.unlock(t as usize, ex);
            }
            return Ok(());
        }
        w.ask(
            engine,
            t,
            if nocheck { Kind::Flush } else { Kind::Unlock },
            0,
        )?;
        w.touched.remove(&t);
        Ok(())
    })?;
    settle(call, id, Some(t))
}

/// MPI_Win_lock_all.
pub fn lock_all(call: &str, id: u32, assert: i32) -> Result<()> {
    check_assert(call, assert)?;
    let nocheck = assert & MODE_NOCHECK != 0;
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        if !w.idle() {
            return Err(sync_err(call, "another epoch of this window is open"));
        }
        w.access = Access::LockAll(nocheck);
        if !nocheck && w.direct.is_none() {
            for t in 0..w.n() as i32 {
                w.ask(engine, t, Kind::Lock, 0)?;
            }
        }
        Ok(())
    })?;
    if !nocheck {
        runtime::progress_until(call, |rt| {
            let w = rt.rma.get(call, id)?;
            let Some(d) = &w.direct else {
                return Ok(true);
            };
            for t in 0..w.comm.size() {
                if !w.held.contains_key(&t) {
                    if !d.try_lock(t as usize, false) {
                        return Ok(false);
                    }
                    w.held.insert(t, false);
                }
            }
            Ok(true)
        })?;
    }
    settle(call, id, None)
}

/// MPI_Win_unlock_all.
pub fn unlock_all(call: &str, id: u32) -> Result<()> {
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        let Access::LockAll(nocheck) = w.access else {
            return Err(sync_err(call, "no MPI_Win_lock_all epoch is open"));
        };
        w.access = Access::None;
        if let Some(d) = &w.direct {
            for (t, ex) in std::mem::take(&mut w.held) {
                d.unlock(t as usize, ex);
            }
            return Ok(());
        }
        for t in 0..w.n() as i32 {
            w.ask(
                engine,
                t,
                if nocheck { Kind::Flush } else { Kind::Unlock },
                0,
            )?;
        }
        w.touched.clear();
        Ok(())
    })?;
    settle(call, id, None)
}

/// MPI_Win_flush / _flush_local (`t`), MPI_Win_flush_all / _flush_local_all
/// (None): every operation to those targets is complete there. (Local
/// completion is not offered apart: the remote one implies it.)
pub fn flush(call: &str, id: u32, t: Option<i32>) -> Result<()> {
    runtime::with(call, |rt| {
        let Runtime { engine, rma, .. } = rt;
        let w = rma.get(call, id)?;
        if let Some(t) = t {
            w.check_rank(call, t)?;
        }
        let targets: Vec<i32> = match (&w.access, t) {
            (Access::LockAll(_), None) => (0..w.n() as i32).collect(),
            (Access::Lock(m), None) => m.keys().copied().collect(),
            (_, Some(PROC_NULL)) => vec![],
            (Access::LockAll(_), Some(t)) => vec![t],
            (Access::Lock(m), Some(t)) if m.contains_key(&t) => vec![t],
            (_, Some(t)) => {
                return Err(sync_err(
                    call,
                    format!("rank {t} of this window is not locked"),
                ))
            }
            _ => {
                return Err(sync_err(
                    call,
                    "no passive-target epoch of this window is open",
                ))
            }
        };
        for t in targets {
            if w.touched.remove(&t) {
                w.ask(engine, t, Kind::Flush, 0)?;
            }
        }
        Ok(())
    })?;
    settle(call, id, t.filter(|&t| t != PROC_NULL))
}

/// MPI_Win_sync: this process's stores and loads of the window memory are
/// ordered with the other processes' (a full memory fence).
pub fn sync(call: &str, id: u32) -> Result<()> {
    runtime::with(call, |rt| rt.rma.get(call, id).map(|_| ()))?;
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    Ok(())
}
