//! Requests: completion (wait/test in all their forms), cancel, free, status
//! queries, persistent requests' life, generalized requests.
//!
//! Statuses: the calls that complete one operation (MPI_Wait, MPI_Test,
//! MPI_Waitany, MPI_Testany, MPI_Request_get_status, and the receives and probes
//! of p2p.rs) leave the caller's `MPI_ERROR` field as it was ([`write_status`]);
//! only the calls that complete several (MPI_Waitall, MPI_Testall, MPI_Waitsome,
//! MPI_Testsome) set it in each status ([`write_status_all`]), as MPI-3.1 §3.2.5
//! and §3.7.5 say. A null or inactive request completes with the empty status
//! (§3.7.3, [`empty_c_status`]): source MPI_ANY_SOURCE, tag MPI_ANY_TAG, count 0.
//!
//! Cancelling a send: vmpi hands a send to its channel at once (eager data or the
//! rendezvous announcement), as MPICH does for a send already on its way, so
//! MPI_Cancel on a send returns MPI_SUCCESS and the request completes normally;
//! MPI_Test_cancelled then says false. Receives not yet matched are cancelled.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, MpiErr, R};
use crate::state::st;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys;
use vmpi::sys::p2p::{ReqId, Status};

pub type QueryFn = unsafe extern "C" fn(*mut c_void, *mut MPI_Status) -> c_int;
pub type FreeFn = unsafe extern "C" fn(*mut c_void) -> c_int;
pub type CancelFn = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;

/// One operation as a request handle sees it.
pub enum Kind {
    /// In the engine.
    Engine(ReqId),
    /// Already complete (PROC_NULL, a buffered send whose data is copied).
    Done(Status),
    /// Persistent: what `MPI_Start` does, and the operation it started, if any
    /// (inactive: None).
    Persistent {
        spec: Spec,
        active: Option<Box<Kind>>,
    },
    Grequest {
        id: ReqId,
        query: Option<QueryFn>,
        free: Option<FreeFn>,
        cancel: Option<CancelFn>,
        extra: usize,
    },
    /// MPI_Comm_idup: the agreement's engine request and the handle that gets
    /// the communicator when it completes.
    NewComm {
        id: ReqId,
        handle: MPI_Comm,
        pending: Box<vmpi::sys::comm::mgmt::PendingComm>,
    },
}

/// What MPI_Start does for each kind of persistent request.
pub enum Spec {
    /// MPI_Send_init and its modes, MPI_Recv_init.
    P2p(crate::p2p::PSpec),
    /// MPI_Bcast_init and the other persistent collectives: each start builds a
    /// fresh schedule through the builder of the `MPI_I*` form.
    Coll(crate::coll::Persist),
    /// MPI_Psend_init, MPI_Precv_init.
    Part(crate::part::PSpec),
}

pub struct ReqObj {
    pub kind: Kind,
    pub comm: MPI_Comm,
    pub recv: bool,
}

/// The empty status (MPI-3.1 §3.7.3) of a null or inactive request, and of
/// MPI_Waitany/Testany over no active request: source MPI_ANY_SOURCE, tag
/// MPI_ANY_TAG, count 0, not cancelled.
pub fn empty_c_status() -> MPI_Status {
    MPI_Status {
        count_lo: 0,
        count_hi_and_cancelled: 0,
        MPI_SOURCE: MPI_ANY_SOURCE,
        MPI_TAG: MPI_ANY_TAG,
        MPI_ERROR: MPI_SUCCESS,
    }
}

/// The status of a receive or probe of MPI_PROC_NULL (§3.11): source
/// MPI_PROC_NULL, tag MPI_ANY_TAG, count 0.
pub fn proc_null_c_status() -> MPI_Status {
    to_c(&Status::empty())
}

pub fn set_bytes(s: &mut MPI_Status, bytes: u64) {
    s.count_lo = bytes as u32 as c_int;
    s.count_hi_and_cancelled = (s.count_hi_and_cancelled & 1) | (((bytes >> 32) as c_int) << 1);
}

pub fn bytes_of(s: &MPI_Status) -> u64 {
    (s.count_lo as u32 as u64) | (((s.count_hi_and_cancelled as u32 >> 1) as u64) << 32)
}

pub fn to_c(s: &Status) -> MPI_Status {
    let mut c = MPI_Status {
        count_lo: 0,
        count_hi_and_cancelled: s.cancelled as c_int,
        MPI_SOURCE: s.source,
        MPI_TAG: s.tag,
        MPI_ERROR: s.error.map_or(MPI_SUCCESS, |e| e as c_int),
    };
    set_bytes(&mut c, s.count as u64);
    c
}

/// The status of a call that completes one operation: every field but
/// `MPI_ERROR`, which stays what the caller had there (the call's return value
/// carries the error).
pub unsafe fn write_status(dst: *mut MPI_Status, s: MPI_Status) {
    if !dst.is_null() && dst as usize != STATUS_IGNORE {
        // SAFETY: a status the caller passed to be written (MPI's rule); null and
        // MPI_STATUS_IGNORE are excluded.
        *dst = MPI_Status {
            MPI_ERROR: (*dst).MPI_ERROR,
            ..s
        };
    }
}

/// A status of a call that completes several operations: `MPI_ERROR` included.
pub unsafe fn write_status_all(dst: *mut MPI_Status, s: MPI_Status) {
    if !dst.is_null() && dst as usize != STATUS_IGNORE {
        // SAFETY: as in write_status.
        *dst = s;
    }
}

/// The error a completed operation reports (truncation), raised on `comm`.
pub fn status_error(call: &str, comm: MPI_Comm, s: &MPI_Status) -> R<()> {
    if s.MPI_ERROR == MPI_ERR_TRUNCATE {
        return Err(MpiErr::on(
            comm,
            MPI_ERR_TRUNCATE,
            format!(
                "{call}: message from rank {} with tag {} truncated to the receive buffer ({} bytes)",
                s.MPI_SOURCE,
                s.MPI_TAG,
                bytes_of(s)
            ),
        ));
    }
    if s.MPI_ERROR != MPI_SUCCESS {
        return Err(MpiErr::on(
            comm,
            s.MPI_ERROR,
            format!("{call}: operation failed"),
        ));
    }
    Ok(())
}

/// The engine request to poll for `h`; None when it is complete or inactive.
fn poll_target(h: MPI_Request) -> R<Option<ReqId>> {
    poll_target_in(&st(), h)
}

/// [`poll_target`] of every handle, under one acquisition of the state lock.
fn poll_targets(hs: &[MPI_Request]) -> R<Vec<Option<ReqId>>> {
    let s = st();
    hs.iter().map(|h| poll_target_in(&s, *h)).collect()
}

fn poll_target_in(s: &crate::state::State, h: MPI_Request) -> R<Option<ReqId>> {
    if h == MPI_REQUEST_NULL {
        return Ok(None);
    }
    let o = s
        .reqs
        .get(h)
        .ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", h as u32)))?;
    Ok(match &o.kind {
        Kind::Engine(id) | Kind::Grequest { id, .. } | Kind::NewComm { id, .. } => Some(*id),
        Kind::Persistent {
            active: Some(a), ..
        } => match **a {
            Kind::Engine(id) => Some(id),
            _ => None,
        },
        _ => None,
    })
}

/// Does `h` take part in waitany/waitsome (not null, not an inactive persistent)?
fn is_active(h: MPI_Request) -> bool {
    if h == MPI_REQUEST_NULL {
        return false;
    }
    match st().reqs.get(h).map(|o| &o.kind) {
        Some(Kind::Persistent { active: None, .. }) => false,
        Some(_) => true,
        None => true, // reported as invalid when completed
    }
}

fn ready(id: Option<ReqId>) -> R<bool> {
    match id {
        None => Ok(true),
        Some(id) => Ok(sys::with("MPI_Test", |rt| rt.is_complete(id))?),
    }
}

/// Finish an operation known to be complete: its status, and the handle set to
/// MPI_REQUEST_NULL (or made inactive, for a persistent request).
unsafe fn complete(h: &mut MPI_Request) -> R<(MPI_Status, MPI_Comm)> {
    if *h == MPI_REQUEST_NULL {
        return Ok((empty_c_status(), MPI_COMM_WORLD));
    }
    let mut s = st();
    let o = s
        .reqs
        .get_mut(*h)
        .ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", *h as u32)))?;
    let comm = o.comm;
    let take = |k: &Kind| -> R<(MPI_Status, Option<ReqId>)> {
        match k {
            Kind::Engine(id) => {
                let st = sys::with("MPI_Wait", |rt| rt.test(*id))?;
                Ok((
                    to_c(&st.ok_or_else(|| err(MPI_ERR_INTERN, "completing a pending request"))?),
                    Some(*id),
                ))
            }
            Kind::Done(st) => Ok((to_c(st), None)),
            _ => Ok((empty_c_status(), None)),
        }
    };
    // Unpack what a derived-datatype receive (or collective) left in temporaries.
    let fix = |s: &mut crate::state::State, st: &MPI_Status, id: Option<ReqId>| {
        if let Some(f) = id.and_then(|id| s.take_fixup(id)) {
            f.run(bytes_of(st) as usize);
        }
    };
    match &mut o.kind {
        Kind::Persistent { active, spec } => {
            let part = matches!(spec, Spec::Part(_));
            let (mut st, id) = match active.take() {
                Some(a) => take(&a)?,
                None => (empty_c_status(), None),
            };
            if part {
                st.MPI_TAG = crate::part::user_tag(st.MPI_TAG);
            }
            fix(&mut s, &st, id);
            Ok((st, comm))
        }
        Kind::Grequest { .. } | Kind::NewComm { .. } => {
            let kind = s.reqs.remove(*h).expect("present").kind;
            drop(s);
            *h = MPI_REQUEST_NULL;
            Ok((finish_owned(kind)?, comm))
        }
        k => {
            let (st, id) = take(k)?;
            fix(&mut s, &st, id);
            s.reqs.remove(*h);
            *h = MPI_REQUEST_NULL;
            Ok((st, comm))
        }
    }
}

/// Complete a request that owns work of the C layer (a generalized request's
/// callbacks, the communicator an MPI_Comm_idup made), taken out of the table
/// and known to be complete: its status.
unsafe fn finish_owned(kind: Kind) -> R<MPI_Status> {
    let mut st = empty_c_status();
    match kind {
        Kind::Grequest {
            id,
            query,
            free,
            extra,
            ..
        } => {
            sys::with("MPI_Wait", |rt| rt.test(id))?;
            if let Some(q) = query {
                let rc = q(extra as *mut c_void, &mut st);
                if rc != MPI_SUCCESS {
                    st.MPI_ERROR = rc;
                }
            }
            if let Some(f) = free {
                let rc = f(extra as *mut c_void);
                if rc != MPI_SUCCESS && st.MPI_ERROR == MPI_SUCCESS {
                    st.MPI_ERROR = rc;
                }
            }
        }
        Kind::NewComm {
            id,
            handle,
            pending,
        } => {
            sys::with("MPI_Wait", |rt| rt.test(id))?;
            if let Err(e) = crate::comm::finish_idup(handle, *pending) {
                st.MPI_ERROR = e.code;
                eprintln!("vmpi: MPI_Comm_idup: {}", e.msg);
            }
        }
        _ => {
            return Err(err(
                MPI_ERR_INTERN,
                "finish_owned on a request the engine completes",
            ))
        }
    }
    Ok(st)
}

/// Free what completed among the requests nobody waits for.
pub fn reap() -> R<()> {
    let mut s = st();
    if !s.freed_idups.is_empty() {
        let idups = std::mem::take(&mut s.freed_idups);
        let mut keep = Vec::new();
        let mut done = Vec::new();
        sys::with("MPI_Request_free", |rt| {
            for (id, h, p) in idups {
                if rt.is_complete(id)? {
                    rt.test(id)?;
                    done.push((h, p));
                } else {
                    keep.push((id, h, p));
                }
            }
            Ok(())
        })?;
        s.freed_idups = keep;
        drop(s);
        for (h, p) in done {
            if let Err(e) = crate::comm::finish_idup(h, *p) {
                eprintln!("vmpi: MPI_Comm_idup (request freed): {}", e.msg);
            }
        }
        s = st();
    }
    if s.detached.is_empty() {
        return Ok(());
    }
    let det = std::mem::take(&mut s.detached);
    let mut keep = Vec::new();
    let mut freed = 0;
    let mut done = Vec::new();
    sys::with("MPI_Request_free", |rt| {
        for (id, copy) in det {
            if rt.is_complete(id)? {
                let stt = rt.test(id)?;
                done.push((id, stt.map_or(0, |x| x.count as usize)));
                if let Some(c) = copy {
                    freed += c.len() + MPI_BSEND_OVERHEAD;
                }
            } else {
                keep.push((id, copy));
            }
        }
        Ok(())
    })?;
    s.detached = keep;
    s.bsend.used -= freed;
    for (id, n) in done {
        if let Some(f) = s.take_fixup(id) {
            f.run(n);
        }
    }
    Ok(())
}

/// Wait until every detached request is complete (MPI_Finalize, MPI_Buffer_detach).
pub fn drain_detached(call: &str) -> R<()> {
    let ids: Vec<ReqId> = st().detached.iter().map(|d| d.0).collect();
    if !ids.is_empty() {
        sys::progress_until(call, |rt| {
            for id in &ids {
                if !rt.is_complete(*id)? {
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
    }
    reap()
}

/// MPI_Finalize: wait for the detached requests (freed while active, buffered
/// sends) as `drain_detached` does, but at most `VMPI_FINALIZE_WAIT`. An erroneous
/// program (a freed receive nothing matches, a freed send nobody receives) would
/// hang here for ever without a word; after the wait each request left is named on
/// stderr (kind, peer, tag, size) and finalize goes on without it.
pub fn drain_detached_at_finalize() -> R<()> {
    let call = "MPI_Finalize";
    let ids: Vec<ReqId> = st().detached.iter().map(|d| d.0).collect();
    if ids.is_empty() {
        return reap();
    }
    let limit = sys::with(call, |rt| Ok(rt.finalize_wait()))?;
    let start = std::time::Instant::now();
    let mut expired = false;
    sys::progress_until(call, |rt| {
        for id in &ids {
            if !rt.is_complete(*id)? {
                expired = limit.is_some_and(|l| start.elapsed() >= l);
                return Ok(expired);
            }
        }
        Ok(true)
    })?;
    if expired {
        let rank = crate::state::world_rank().map_or("?".to_string(), |r| r.to_string());
        let waited = limit.map_or(0.0, |l| l.as_secs_f64());
        let left = sys::with(call, |rt| {
            let mut left = Vec::new();
            for id in &ids {
                if !rt.is_complete(*id)? {
                    left.push((*id, rt.describe(*id)));
                }
            }
            Ok(left)
        })?;
        for (_, what) in &left {
            eprintln!(
                "vmpi: warning: rank {rank}: MPI_Finalize: a request freed with \
                 MPI_Request_free is still pending after {waited} s: {what}; \
                 finishing without it (VMPI_FINALIZE_WAIT)"
            );
        }
        // Forgotten: nothing will complete them after MPI_Finalize.
        st().detached
            .retain(|d| !left.iter().any(|(id, _)| *id == d.0));
    }
    reap()
}

/// Block until `pred` holds over the readiness of `ids`.
fn wait_until(call: &str, ids: &[Option<ReqId>], all: bool) -> R<()> {
    let live: Vec<ReqId> = ids.iter().flatten().copied().collect();
    if live.len() < ids.len() && !all {
        return Ok(()); // something is complete already
    }
    if live.is_empty() {
        return Ok(());
    }
    sys::progress_until(call, |rt| {
        let mut n = 0;
        for id in &live {
            if rt.is_complete(*id)? {
                n += 1;
                if !all {
                    return Ok(true);
                }
            }
        }
        Ok(n == live.len())
    })?;
    Ok(())
}

fn progress_once(call: &str) -> R<()> {
    sys::with(call, |rt| rt.progress().map(|_| ()))?;
    Ok(())
}

unsafe fn slice_mut<'a, T>(p: *mut T, n: c_int, what: &str) -> R<&'a mut [T]> {
    if n < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid count {n}"));
    }
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(std::slice::from_raw_parts_mut(p, n as usize))
}

unsafe fn status_at(statuses: *mut MPI_Status, i: usize) -> *mut MPI_Status {
    if statuses.is_null() || statuses as usize == STATUS_IGNORE {
        statuses
    } else {
        statuses.add(i)
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Wait / PMPI_Wait(request: *mut MPI_Request, status: *mut MPI_Status) {
    let h = out(request, "request")?;
    reap()?;
    let id = poll_target(*h)?;
    wait_until("MPI_Wait", &[id], true)?;
    let (s, comm) = complete(h)?;
    write_status(status, s);
    status_error("MPI_Wait", comm, &s)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Test / PMPI_Test(request: *mut MPI_Request, flag: *mut c_int, status: *mut MPI_Status) {
    let h = out(request, "request")?;
    let f = out(flag, "flag")?;
    reap()?;
    let id = poll_target(*h)?;
    if id.is_some() {
        progress_once("MPI_Test")?;
    }
    if !ready(id)? {
        *f = 0;
        return Ok(());
    }
    *f = 1;
    let (s, comm) = complete(h)?;
    write_status(status, s);
    status_error("MPI_Test", comm, &s)
}}

/// Complete the plain engine requests among those at `idx` (each known to be
/// complete) under one acquisition of the state and of the runtime lock, where
/// [`complete`] takes both per request; None for the others (persistent,
/// generalized, null, already done), which go through [`complete`].
fn complete_engine_set(
    call: &str,
    reqs: &mut [MPI_Request],
    idx: &[usize],
) -> R<Vec<Option<(MPI_Status, MPI_Comm)>>> {
    let mut out = vec![None; idx.len()];
    let mut s = st();
    let plain: Vec<(usize, ReqId)> = idx
        .iter()
        .enumerate()
        .filter_map(|(k, &i)| match s.reqs.get(reqs[i]) {
            Some(ReqObj {
                kind: Kind::Engine(id),
                ..
            }) => Some((k, *id)),
            _ => None,
        })
        .collect();
    if plain.is_empty() {
        return Ok(out);
    }
    let sts = sys::with(call, |rt| {
        plain
            .iter()
            .map(|&(_, id)| rt.test(id))
            .collect::<vmpi::Result<Vec<_>>>()
    })?;
    for (&(k, id), st) in plain.iter().zip(sts) {
        let st = to_c(&st.ok_or_else(|| err(MPI_ERR_INTERN, "completing a pending request"))?);
        if let Some(f) = s.take_fixup(id) {
            f.run(bytes_of(&st) as usize);
        }
        let h = &mut reqs[idx[k]];
        let comm = s.reqs.remove(*h).map_or(MPI_COMM_WORLD, |o| o.comm);
        *h = MPI_REQUEST_NULL;
        out[k] = Some((st, comm));
    }
    Ok(out)
}

/// Complete the requests at `idx`, writing statuses; MPI_ERR_IN_STATUS if any failed
/// (when `multi`), else that one's error.
unsafe fn complete_set(
    call: &str,
    reqs: &mut [MPI_Request],
    idx: &[usize],
    statuses: *mut MPI_Status,
    slot_of: impl Fn(usize, usize) -> usize,
) -> R<()> {
    let mut failed = None;
    let done = complete_engine_set(call, reqs, idx)?;
    for (k, &i) in idx.iter().enumerate() {
        let (s, comm) = match done[k] {
            Some(d) => d,
            None => complete(&mut reqs[i])?,
        };
        if s.MPI_ERROR != MPI_SUCCESS && failed.is_none() {
            failed = Some((comm, s));
        }
        write_status_all(status_at(statuses, slot_of(k, i)), s);
    }
    match failed {
        Some((comm, s)) => {
            let mut e = status_error(call, comm, &s).unwrap_err();
            e.code = MPI_ERR_IN_STATUS;
            Err(e)
        }
        None => Ok(()),
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Waitall / PMPI_Waitall(count: c_int, array_of_requests: *mut MPI_Request, array_of_statuses: *mut MPI_Status) {
    let reqs = slice_mut(array_of_requests, count, "array_of_requests")?;
    reap()?;
    let ids = poll_targets(reqs)?;
    wait_until("MPI_Waitall", &ids, true)?;
    let idx: Vec<usize> = (0..reqs.len()).collect();
    complete_set("MPI_Waitall", reqs, &idx, array_of_statuses, |_, i| i)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Testall / PMPI_Testall(count: c_int, array_of_requests: *mut MPI_Request, flag: *mut c_int, array_of_statuses: *mut MPI_Status) {
    let reqs = slice_mut(array_of_requests, count, "array_of_requests")?;
    let f = out(flag, "flag")?;
    reap()?;
    progress_once("MPI_Testall")?;
    let ids = poll_targets(reqs)?;
    for id in &ids {
        if !ready(*id)? {
            *f = 0;
            return Ok(());
        }
    }
    *f = 1;
    let idx: Vec<usize> = (0..reqs.len()).collect();
    complete_set("MPI_Testall", reqs, &idx, array_of_statuses, |_, i| i)
}}

/// Indices of active requests that are complete (at most one unless `some`).
fn ready_set(reqs: &[MPI_Request], some: bool) -> R<(Vec<usize>, usize)> {
    let mut done = Vec::new();
    let mut active = 0;
    for (i, h) in reqs.iter().enumerate() {
        if !is_active(*h) {
            continue;
        }
        active += 1;
        if ready(poll_target(*h)?)? {
            done.push(i);
            if !some {
                break;
            }
        }
    }
    Ok((done, active))
}

unsafe fn any_or_some(
    call: &str,
    reqs: &mut [MPI_Request],
    block: bool,
    some: bool,
) -> R<Option<Vec<usize>>> {
    reap()?;
    loop {
        if !block {
            progress_once(call)?;
        }
        let (done, active) = ready_set(reqs, some)?;
        if active == 0 {
            return Ok(None);
        }
        if !done.is_empty() || !block {
            return Ok(Some(done));
        }
        let ids = reqs
            .iter()
            .filter(|h| is_active(**h))
            .map(|h| poll_target(*h))
            .collect::<R<Vec<_>>>()?;
        wait_until(call, &ids, false)?;
    }
}

unsafe fn waitany(
    call: &str,
    count: c_int,
    reqs: *mut MPI_Request,
    index: *mut c_int,
    flag: *mut c_int,
    status: *mut MPI_Status,
    block: bool,
) -> R<()> {
    let reqs = slice_mut(reqs, count, "array_of_requests")?;
    let ix = out(index, "index")?;
    let r = any_or_some(call, reqs, block, false)?;
    if !flag.is_null() {
        *flag = 0;
    }
    match r {
        None => {
            *ix = MPI_UNDEFINED;
            if !flag.is_null() {
                *flag = 1;
            }
            write_status(status, empty_c_status());
            Ok(())
        }
        Some(d) if d.is_empty() => {
            *ix = MPI_UNDEFINED;
            Ok(())
        }
        Some(d) => {
            let i = d[0];
            *ix = i as c_int;
            if !flag.is_null() {
                *flag = 1;
            }
            let (s, comm) = complete(&mut reqs[i])?;
            write_status(status, s);
            status_error(call, comm, &s)
        }
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Waitany / PMPI_Waitany(count: c_int, array_of_requests: *mut MPI_Request, index: *mut c_int, status: *mut MPI_Status) {
    waitany("MPI_Waitany", count, array_of_requests, index, std::ptr::null_mut(), status, true)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Testany / PMPI_Testany(count: c_int, array_of_requests: *mut MPI_Request, index: *mut c_int, flag: *mut c_int, status: *mut MPI_Status) {
    out(flag, "flag")?;
    waitany("MPI_Testany", count, array_of_requests, index, flag, status, false)
}}

unsafe fn waitsome(
    call: &str,
    incount: c_int,
    reqs: *mut MPI_Request,
    outcount: *mut c_int,
    indices: *mut c_int,
    statuses: *mut MPI_Status,
    block: bool,
) -> R<()> {
    let reqs = slice_mut(reqs, incount, "array_of_requests")?;
    let oc = out(outcount, "outcount")?;
    match any_or_some(call, reqs, block, true)? {
        None => {
            *oc = MPI_UNDEFINED;
            Ok(())
        }
        Some(d) => {
            *oc = d.len() as c_int;
            if !d.is_empty() {
                let ind = slice_mut(indices, d.len() as c_int, "array_of_indices")?;
                for (k, i) in d.iter().enumerate() {
                    ind[k] = *i as c_int;
                }
            }
            complete_set(call, reqs, &d, statuses, |k, _| k)
        }
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Waitsome / PMPI_Waitsome(incount: c_int, array_of_requests: *mut MPI_Request, outcount: *mut c_int, array_of_indices: *mut c_int, array_of_statuses: *mut MPI_Status) {
    waitsome("MPI_Waitsome", incount, array_of_requests, outcount, array_of_indices, array_of_statuses, true)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Testsome / PMPI_Testsome(incount: c_int, array_of_requests: *mut MPI_Request, outcount: *mut c_int, array_of_indices: *mut c_int, array_of_statuses: *mut MPI_Status) {
    waitsome("MPI_Testsome", incount, array_of_requests, outcount, array_of_indices, array_of_statuses, false)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Request_free / PMPI_Request_free(request: *mut MPI_Request) {
    let h = out(request, "request")?;
    if *h == MPI_REQUEST_NULL {
        return fail(MPI_ERR_REQUEST, "null request (MPI_REQUEST_NULL)");
    }
    let o = st().reqs.remove(*h).ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", *h as u32)))?;
    *h = MPI_REQUEST_NULL;
    let engine = match o.kind {
        Kind::Engine(id) => Some(id),
        Kind::Persistent { active, spec } => {
            if let Spec::Coll(p) = spec {
                p.release();
            }
            match active.map(|a| *a) {
                Some(Kind::Engine(id)) => Some(id),
                _ => None,
            }
        }
        Kind::Grequest { id, free, extra, .. } => {
            if let Some(f) = free {
                f(extra as *mut c_void);
            }
            Some(id)
        }
        Kind::NewComm { id, handle, pending } => {
            // The communicator is installed when the agreement completes.
            st().freed_idups.push((id, handle, pending));
            reap()?;
            None
        }
        _ => None,
    };
    if let Some(id) = engine {
        st().detached.push((id, None));
        reap()?;
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Cancel / PMPI_Cancel(request: *mut MPI_Request) {
    let h = *out(request, "request")?;
    if h == MPI_REQUEST_NULL {
        return fail(MPI_ERR_REQUEST, "null request (MPI_REQUEST_NULL)");
    }
    enum Act { Engine(ReqId), Grequest(Option<CancelFn>, usize, ReqId), Nothing }
    let act = {
        let s = st();
        let o = s.reqs.get(h).ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", h as u32)))?;
        match &o.kind {
            Kind::Engine(id) if o.recv => Act::Engine(*id),
            Kind::Persistent { active: Some(a), .. } if o.recv => match **a {
                Kind::Engine(id) => Act::Engine(id),
                _ => Act::Nothing,
            },
            Kind::Grequest { cancel, extra, id, .. } => Act::Grequest(*cancel, *extra, *id),
            _ => Act::Nothing,
        }
    };
    match act {
        Act::Engine(id) => {
            sys::with("MPI_Cancel", |rt| rt.cancel(id))?;
        }
        Act::Grequest(Some(c), extra, id) => {
            let done = sys::with("MPI_Cancel", |rt| rt.is_complete(id))?;
            let rc = c(extra as *mut c_void, done as c_int);
            if rc != MPI_SUCCESS {
                return fail(rc, "the generalized request's cancel function failed");
            }
        }
        _ => {}
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Request_get_status / PMPI_Request_get_status(request: MPI_Request, flag: *mut c_int, status: *mut MPI_Status) {
    let f = out(flag, "flag")?;
    if request == MPI_REQUEST_NULL {
        *f = 1;
        write_status(status, empty_c_status());
        return Ok(());
    }
    progress_once("MPI_Request_get_status")?;
    enum Look { Engine(ReqId), Now(MPI_Status), Greq(ReqId, Option<QueryFn>, usize) }
    let look = {
        let s = st();
        let o = s.reqs.get(request).ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid request {:#x}", request as u32)))?;
        match &o.kind {
            Kind::Engine(id) => Look::Engine(*id),
            Kind::Done(st) => Look::Now(to_c(st)),
            Kind::Persistent { active: None, .. } => Look::Now(empty_c_status()),
            Kind::Persistent { active: Some(a), .. } => match &**a {
                Kind::Engine(id) => Look::Engine(*id),
                Kind::Done(st) => Look::Now(to_c(st)),
                _ => Look::Now(empty_c_status()),
            },
            Kind::Grequest { id, query, extra, .. } => Look::Greq(*id, *query, *extra),
            Kind::NewComm { id, .. } => Look::Engine(*id),
        }
    };
    match look {
        Look::Engine(id) => match sys::with("MPI_Request_get_status", |rt| rt.peek_status(id))? {
            Some(s) => {
                *f = 1;
                // A partitioned receive's wire tag is the user's tag in a space of its own.
                let mut c = to_c(&s);
                c.MPI_TAG = crate::part::user_tag(c.MPI_TAG);
                write_status(status, c);
            }
            None => *f = 0,
        },
        Look::Now(s) => {
            *f = 1;
            write_status(status, s);
        }
        Look::Greq(id, q, extra) => {
            if sys::with("MPI_Request_get_status", |rt| rt.is_complete(id))? {
                *f = 1;
                let mut s = empty_c_status();
                if let Some(q) = q {
                    q(extra as *mut c_void, &mut s);
                }
                write_status(status, s);
            } else {
                *f = 0;
            }
        }
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Grequest_start / PMPI_Grequest_start(query_fn: Option<QueryFn>, free_fn: Option<FreeFn>, cancel_fn: Option<CancelFn>, extra_state: *mut c_void, request: *mut MPI_Request) {
    let o = out(request, "request")?;
    let id = sys::with("MPI_Grequest_start", |rt| Ok(rt.new_external()))?;
    *o = st().reqs.insert(ReqObj {
        kind: Kind::Grequest { id, query: query_fn, free: free_fn, cancel: cancel_fn, extra: extra_state as usize },
        comm: MPI_COMM_WORLD,
        recv: false,
    });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Grequest_complete / PMPI_Grequest_complete(request: MPI_Request) {
    let id = match st().reqs.get(request).map(|o| &o.kind) {
        Some(Kind::Grequest { id, .. }) => *id,
        _ => return fail(MPI_ERR_REQUEST, format!("{:#x} is not a generalized request", request as u32)),
    };
    sys::with("MPI_Grequest_complete", |rt| rt.complete_external(id, Status::empty()))?;
    Ok(())
}}

/// MPI_Start of one persistent request, by its kind.
unsafe fn start(h: MPI_Request) -> R<()> {
    enum What {
        P2p,
        Coll,
        Part,
    }
    let what = match st().reqs.get(h).map(|o| &o.kind) {
        Some(Kind::Persistent {
            active: Some(_), ..
        }) => {
            return fail(
                MPI_ERR_REQUEST,
                format!("persistent request {:#x} is already active", h as u32),
            )
        }
        Some(Kind::Persistent { spec, .. }) => match spec {
            Spec::P2p(_) => What::P2p,
            Spec::Coll(_) => What::Coll,
            Spec::Part(_) => What::Part,
        },
        _ => {
            return fail(
                MPI_ERR_REQUEST,
                format!("{:#x} is not a persistent request", h as u32),
            )
        }
    };
    let comm = st().reqs.get(h).map_or(MPI_COMM_WORLD, |o| o.comm);
    // What fails now is raised on the request's communicator.
    match what {
        What::P2p => crate::p2p::start(h),
        What::Coll => crate::coll::start_persistent(h),
        What::Part => crate::part::start(h),
    }
    .map_err(|mut e| {
        e.comm.get_or_insert(comm);
        e
    })
}

/// Make the persistent request `h` active with the operation `k` started.
pub fn set_active(h: MPI_Request, k: Kind) {
    if let Some(ReqObj {
        kind: Kind::Persistent { active, .. },
        ..
    }) = st().reqs.get_mut(h)
    {
        *active = Some(Box::new(k));
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Start / PMPI_Start(request: *mut MPI_Request) {
    let h = *out(request, "request")?;
    start(h)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Startall / PMPI_Startall(count: c_int, array_of_requests: *mut MPI_Request) {
    let reqs = slice_mut(array_of_requests, count, "array_of_requests")?;
    for h in reqs.iter() {
        start(*h)?;
    }
    Ok(())
}}

// ---- status queries ------------------------------------------------------------

unsafe fn status_in<'a>(s: *const MPI_Status) -> R<&'a MPI_Status> {
    if s.is_null() || s as usize == STATUS_IGNORE {
        return fail(MPI_ERR_ARG, "status is a null pointer or MPI_STATUS_IGNORE");
    }
    Ok(&*s)
}

/// Whole elements of `datatype` in a status; None (MPI_UNDEFINED) when the bytes
/// end inside one. MPI_Get_count and MPI_Get_count_c.
fn count_of(s: &MPI_Status, datatype: MPI_Datatype) -> R<Option<MPI_Count>> {
    let (size, ..) = crate::dtype::info(datatype)?;
    let b = bytes_of(s);
    Ok(if size == 0 {
        (b == 0).then_some(0)
    } else if b % size as u64 != 0 {
        None
    } else {
        Some((b / size as u64) as MPI_Count)
    })
}

/// An MPI_Count result for an int argument: MPI_UNDEFINED when it does not fit.
fn int_or_undefined(n: Option<MPI_Count>) -> c_int {
    n.and_then(|n| c_int::try_from(n).ok())
        .unwrap_or(MPI_UNDEFINED)
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_count / PMPI_Get_count(status: *const MPI_Status, datatype: MPI_Datatype, count: *mut c_int) {
    let s = status_in(status)?;
    *out(count, "count")? = int_or_undefined(count_of(s, datatype)?);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_count_c / PMPI_Get_count_c(status: *const MPI_Status, datatype: MPI_Datatype, count: *mut MPI_Count) {
    let s = status_in(status)?;
    *out(count, "count")? = count_of(s, datatype)?.unwrap_or(MPI_UNDEFINED.into());
    Ok(())
}}

fn elements(s: &MPI_Status, dt: MPI_Datatype) -> R<i64> {
    crate::dtype::elements_in(dt, bytes_of(s))
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_elements / PMPI_Get_elements(status: *const MPI_Status, datatype: MPI_Datatype, count: *mut c_int) {
    let s = status_in(status)?;
    let n = elements(s, datatype)?;
    *out(count, "count")? = int_or_undefined((n != MPI_UNDEFINED as i64).then_some(n));
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_elements_c / PMPI_Get_elements_c(status: *const MPI_Status, datatype: MPI_Datatype, count: *mut MPI_Count) {
    let s = status_in(status)?;
    *out(count, "count")? = elements(s, datatype)?;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_elements_x / PMPI_Get_elements_x(status: *const MPI_Status, datatype: MPI_Datatype, count: *mut MPI_Count) {
    let s = status_in(status)?;
    *out(count, "count")? = elements(s, datatype)?;
    Ok(())
}}

unsafe fn set_elements(status: *mut MPI_Status, dt: MPI_Datatype, count: i64) -> R<()> {
    if count < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid count {count}"));
    }
    let t = crate::dtype::get(dt)?;
    let s = out(status, "status")?;
    // Whole datatype elements: `per` basic elements of `size` bytes each.
    let size = t.size() as u64;
    let per = t.elements_in(size as usize).unwrap_or(1).max(1) as u64;
    let bytes = if size == 0 {
        0
    } else {
        (count as u64 / per) * size + (count as u64 % per) * (size / per)
    };
    set_bytes(s, bytes);
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_set_elements / PMPI_Status_set_elements(status: *mut MPI_Status, datatype: MPI_Datatype, count: c_int) {
    set_elements(status, datatype, count as i64)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_set_elements_x / PMPI_Status_set_elements_x(status: *mut MPI_Status, datatype: MPI_Datatype, count: MPI_Count) {
    set_elements(status, datatype, count)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Status_set_cancelled / PMPI_Status_set_cancelled(status: *mut MPI_Status, flag: c_int) {
    let s = out(status, "status")?;
    s.count_hi_and_cancelled = (s.count_hi_and_cancelled & !1) | (flag != 0) as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Test_cancelled / PMPI_Test_cancelled(status: *const MPI_Status, flag: *mut c_int) {
    let s = status_in(status)?;
    *out(flag, "flag")? = s.count_hi_and_cancelled & 1;
    Ok(())
}}
