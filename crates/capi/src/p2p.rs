//! Point-to-point: the send modes (standard, synchronous, buffered, ready) blocking,
//! nonblocking and persistent; receives; sendrecv; probes and matched probes; the
//! buffered-send buffer.

use crate::consts::*;
use crate::dtype::{
    add_fixup, check_count, for_comm, for_comm_cow, out, recv_target, recv_target_of, send_data,
    send_data_of, Datatype, Fixup, SendData,
};
use crate::err::{err, fail, R};
use crate::req::{proc_null_c_status, status_error, to_c, write_status, Kind, ReqObj};
use crate::state::{self, st};
use std::borrow::Cow;
use std::ffi::c_void;
use std::os::raw::c_int;
use vmpi::sys;
use vmpi::sys::comm::Comm;
use vmpi::sys::p2p::{Pattern, SendMode, Status};
use vmpi::sys::p2p::{RecvBuf, SendBuf};

const MPI_BYTE: MPI_Datatype = 0x4c00010d;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Standard,
    Synchronous,
    Buffered,
    Ready,
}

/// What MPI_Start does for a persistent request. It holds the datatype itself,
/// which stays valid when the application frees the handle after MPI_Send_init.
pub struct PSpec {
    pub buf: usize,
    pub count: MPI_Count,
    pub datatype: Datatype,
    pub peer: c_int,
    pub tag: c_int,
    pub comm: MPI_Comm,
    /// None: a receive.
    pub mode: Option<Mode>,
}

/// A message taken by MPI_Mprobe/MPI_Improbe.
pub struct MsgObj {
    pub msg: vmpi::sys::p2p::Message,
    pub comm: MPI_Comm,
}

/// The buffer of MPI_Buffer_attach. Buffered sends copy their data into memory of
/// their own, but count against its size as MPI says (data + MPI_BSEND_OVERHEAD).
#[derive(Default)]
pub struct BsendBuf {
    pub attached: Option<(usize, usize)>,
    pub used: usize,
}

fn comm_of(call: &str, comm: MPI_Comm) -> R<Comm> {
    state::comm(comm).map_err(|mut e| {
        e.msg = format!("{call}: {}", e.msg);
        e
    })
}

/// A send or receive whose arguments are checked: what the engine is given, and
/// what must live (or run) until it completes.
enum Checked {
    /// Nothing to post: MPI_PROC_NULL, or a buffered send already handed over.
    Done(Status),
    Send {
        sb: SendBuf,
        to: usize,
        ctx: u32,
        me: c_int,
        tag: c_int,
        mode: SendMode,
        /// Keeps the packed copy of a noncontiguous buffer.
        fx: Fixup,
    },
    Recv {
        rb: RecvBuf,
        pat: Pattern,
        /// Unpacks a temporary into a noncontiguous buffer.
        fx: Fixup,
    },
}

impl Checked {
    /// # Safety
    /// The buffer must stay valid (and a send buffer unchanged) until the request
    /// completes: MPI's rule for the caller, and `fx` for temporaries.
    unsafe fn post(&self, rt: &mut sys::Core) -> vmpi::Result<vmpi::sys::p2p::ReqId> {
        match self {
            Checked::Send {
                sb,
                to,
                ctx,
                me,
                tag,
                mode,
                ..
            } => rt.isend(*sb, *to, *ctx, *me, *tag, *mode),
            Checked::Recv { rb, pat, .. } => rt.irecv(*rb, *pat),
            Checked::Done(_) => Err(vmpi::Error::intern("posting a finished operation")),
        }
    }

    /// Post; the request waits with its temporaries in the fixup table.
    fn start(self, call: &str) -> R<Kind> {
        if let Checked::Done(s) = self {
            return Ok(Kind::Done(s));
        }
        // SAFETY: the user's buffer is MPI's promise; temporaries go to the fixup
        // table below and live until the request is finished.
        let id = sys::with(call, |rt| unsafe { self.post(rt) })?;
        if let Checked::Send { fx, .. } | Checked::Recv { fx, .. } = self {
            add_fixup(id, fx);
        }
        Ok(Kind::Engine(id))
    }

    /// Post without a request of its own: the engine request (None: nothing to
    /// post) and what must live until it completes.
    fn post_only(self, call: &str) -> R<(Option<vmpi::sys::p2p::ReqId>, Fixup)> {
        if let Checked::Done(_) = self {
            return Ok((None, Fixup::default()));
        }
        // SAFETY: the user's buffer is MPI's promise; the caller keeps the returned
        // fixup (the temporaries) until the request has completed.
        let id = sys::with(call, |rt| unsafe { self.post(rt) })?;
        match self {
            Checked::Send { fx, .. } | Checked::Recv { fx, .. } => Ok((Some(id), fx)),
            Checked::Done(_) => Ok((None, Fixup::default())),
        }
    }

    /// Post and wait (the blocking calls): one acquisition of the runtime lock when
    /// the operation completes at once, no request or fixup table.
    fn run(self, call: &str) -> R<MPI_Status> {
        if let Checked::Done(s) = self {
            return Ok(to_c(&s));
        }
        // SAFETY: the user's buffer is MPI's promise; `self` (and its temporaries)
        // lives until the request has completed, here.
        let (_, s) = sys::post_and_wait(call, |rt| unsafe { self.post(rt) })?;
        if let Checked::Send { fx, .. } | Checked::Recv { fx, .. } = self {
            fx.run(s.count as usize);
        }
        Ok(to_c(&s))
    }
}

/// The datatype of an operation: a handle to resolve (and check) now, or the type
/// a persistent request holds.
#[derive(Clone, Copy)]
enum Ty<'a> {
    Handle(MPI_Datatype),
    Held(&'a Datatype),
}

impl Ty<'_> {
    fn resolve(self) -> R<Cow<'static, Datatype>> {
        match self {
            Ty::Handle(h) => for_comm_cow(h),
            Ty::Held(t) => Ok(Cow::Owned(t.clone())),
        }
    }
}

/// Check a send; a buffered send is handed to the engine here (it completes
/// locally: `Checked::Done`).
unsafe fn check_send(
    call: &str,
    buf: *const c_void,
    count: MPI_Count,
    dt: Ty,
    dest: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Mode,
) -> R<Checked> {
    let (to, ctx, me) = state::with_comm(call, comm, |c| {
        c.check_dest(call, dest)?;
        let to = (dest != MPI_PROC_NULL).then(|| c.world_rank(dest));
        Ok((to, c.ctx, c.rank))
    })?;
    let n = check_count(count)?;
    let data = send_data_of(buf as *const u8, n, &*dt.resolve()?)?;
    let bytes = data.ptr_len().1;
    Comm::check_send_tag(call, tag)?;
    let Some(to) = to else {
        return Ok(Checked::Done(Status::empty()));
    };
    let smode = if mode == Mode::Synchronous {
        SendMode::Synchronous
    } else {
        SendMode::Standard
    };
    if mode == Mode::Buffered {
        crate::req::reap()?;
        let mut s = st();
        let (_, size) = s.bsend.attached.ok_or_else(|| {
            err(
                MPI_ERR_BUFFER,
                "no buffer attached (MPI_Buffer_attach) for a buffered send",
            )
        })?;
        if s.bsend.used + bytes + MPI_BSEND_OVERHEAD > size {
            return fail(
                MPI_ERR_BUFFER,
                format!("attached buffer too small: {} bytes free, the message needs {} + MPI_BSEND_OVERHEAD ({MPI_BSEND_OVERHEAD})", size - s.bsend.used.min(size), bytes),
            );
        }
        let copy = match data {
            SendData::Packed(v) => v,
            SendData::Direct(p, n) => std::slice::from_raw_parts(p, n).to_vec(),
        };
        // SAFETY: the copy's heap block lives in `detached` until the send completes.
        let sb = SendBuf::new(copy.as_ptr(), copy.len());
        let id = sys::with(call, |rt| rt.isend(sb, to, ctx, me, tag, smode))?;
        s.bsend.used += bytes + MPI_BSEND_OVERHEAD;
        s.detached.push((id, Some(copy)));
        return Ok(Checked::Done(Status::empty()));
    }
    // SAFETY: MPI's rule: the buffer stays valid and unchanged until completion;
    // a packed temporary lives in `fx` until then.
    let (p, n) = data.ptr_len();
    let sb = SendBuf::new(p, n);
    let mut fx = Fixup::default();
    if let SendData::Packed(v) = data {
        fx.keep.push(v);
    }
    Ok(Checked::Send {
        sb,
        to,
        ctx,
        me,
        tag,
        mode: smode,
        fx,
    })
}

unsafe fn check_recv(
    call: &str,
    buf: *mut c_void,
    count: MPI_Count,
    dt: Ty,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
) -> R<Checked> {
    let ctx = state::with_comm(call, comm, |c| {
        c.check_source(call, source)?;
        Ok(c.ctx)
    })?;
    let n = check_count(count)?;
    let (p, bytes, fx) = recv_target_of(buf as *mut u8, n, dt.resolve()?)?;
    Comm::check_recv_tag(call, tag)?;
    if source == MPI_PROC_NULL {
        return Ok(Checked::Done(Status::empty()));
    }
    // SAFETY: MPI's rule: the buffer stays valid and untouched until completion;
    // a temporary lives in the fixup, which unpacks it at completion.
    let rb = RecvBuf::new(p, bytes);
    Ok(Checked::Recv {
        rb,
        pat: Pattern {
            ctx,
            src: source,
            tag,
        },
        fx,
    })
}

/// Wait for an operation that has no handle; its status.
fn wait_kind(call: &str, k: Kind) -> R<MPI_Status> {
    match k {
        Kind::Engine(id) => {
            let s = sys::post_and_wait(call, |_| Ok(id))?.1;
            crate::dtype::finish(id, s.count as usize);
            Ok(to_c(&s))
        }
        Kind::Done(s) => Ok(to_c(&s)),
        _ => fail(
            MPI_ERR_INTERN,
            "waiting for a request kind without a handle",
        ),
    }
}

fn new_request(k: Kind, comm: MPI_Comm, recv: bool) -> MPI_Request {
    st().reqs.insert(ReqObj {
        kind: k,
        comm,
        recv,
    })
}

// Each family is one macro instantiated twice: the int form and the `_c` form
// (MPI_Count counts). Both convert the count once and share the checks below.
macro_rules! blocking_send {
    ($name:ident, $pname:ident, $ct:ty, $mode:expr) => {
        mpi_fn! { comm => fn $name / $pname(buf: *const c_void, count: $ct, datatype: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm) {
            let call = stringify!($name);
            check_send(call, buf, count.into(), Ty::Handle(datatype), dest, tag, comm, $mode)?.run(call).map(|_| ())
        }}
    };
}
blocking_send!(MPI_Send, PMPI_Send, c_int, Mode::Standard);
blocking_send!(MPI_Ssend, PMPI_Ssend, c_int, Mode::Synchronous);
blocking_send!(MPI_Bsend, PMPI_Bsend, c_int, Mode::Buffered);
blocking_send!(MPI_Rsend, PMPI_Rsend, c_int, Mode::Ready);
blocking_send!(MPI_Send_c, PMPI_Send_c, MPI_Count, Mode::Standard);
blocking_send!(MPI_Ssend_c, PMPI_Ssend_c, MPI_Count, Mode::Synchronous);
blocking_send!(MPI_Bsend_c, PMPI_Bsend_c, MPI_Count, Mode::Buffered);
blocking_send!(MPI_Rsend_c, PMPI_Rsend_c, MPI_Count, Mode::Ready);

macro_rules! nonblocking_send {
    ($name:ident, $pname:ident, $ct:ty, $mode:expr) => {
        mpi_fn! { comm => fn $name / $pname(buf: *const c_void, count: $ct, datatype: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            let o = out(request, "request")?;
            let call = stringify!($name);
            let k = check_send(call, buf, count.into(), Ty::Handle(datatype), dest, tag, comm, $mode)?.start(call)?;
            *o = new_request(k, comm, false);
            Ok(())
        }}
    };
}
nonblocking_send!(MPI_Isend, PMPI_Isend, c_int, Mode::Standard);
nonblocking_send!(MPI_Issend, PMPI_Issend, c_int, Mode::Synchronous);
nonblocking_send!(MPI_Ibsend, PMPI_Ibsend, c_int, Mode::Buffered);
nonblocking_send!(MPI_Irsend, PMPI_Irsend, c_int, Mode::Ready);
nonblocking_send!(MPI_Isend_c, PMPI_Isend_c, MPI_Count, Mode::Standard);
nonblocking_send!(MPI_Issend_c, PMPI_Issend_c, MPI_Count, Mode::Synchronous);
nonblocking_send!(MPI_Ibsend_c, PMPI_Ibsend_c, MPI_Count, Mode::Buffered);
nonblocking_send!(MPI_Irsend_c, PMPI_Irsend_c, MPI_Count, Mode::Ready);

/// A persistent send or receive (`mode` None): checked now, posted by MPI_Start.
unsafe fn persistent(
    call: &str,
    buf: usize,
    count: MPI_Count,
    datatype: MPI_Datatype,
    peer: c_int,
    tag: c_int,
    comm: MPI_Comm,
    mode: Option<Mode>,
    request: *mut MPI_Request,
) -> R<()> {
    let o = out(request, "request")?;
    let c = comm_of(call, comm)?;
    check_count(count)?;
    let datatype = for_comm(datatype)?;
    if mode.is_some() {
        c.check_dest(call, peer)?;
        Comm::check_send_tag(call, tag)?;
    } else {
        c.check_source(call, peer)?;
        Comm::check_recv_tag(call, tag)?;
    }
    let spec = PSpec {
        buf,
        count,
        datatype,
        peer,
        tag,
        comm,
        mode,
    };
    *o = new_request(
        Kind::Persistent {
            spec: crate::req::Spec::P2p(spec),
            active: None,
        },
        comm,
        mode.is_none(),
    );
    Ok(())
}

macro_rules! persistent_send {
    ($name:ident, $pname:ident, $ct:ty, $mode:expr) => {
        mpi_fn! { comm => fn $name / $pname(buf: *const c_void, count: $ct, datatype: MPI_Datatype, dest: c_int, tag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            persistent(stringify!($name), buf as usize, count.into(), datatype, dest, tag, comm, Some($mode), request)
        }}
    };
}
persistent_send!(MPI_Send_init, PMPI_Send_init, c_int, Mode::Standard);
persistent_send!(MPI_Ssend_init, PMPI_Ssend_init, c_int, Mode::Synchronous);
persistent_send!(MPI_Bsend_init, PMPI_Bsend_init, c_int, Mode::Buffered);
persistent_send!(MPI_Rsend_init, PMPI_Rsend_init, c_int, Mode::Ready);
persistent_send!(MPI_Send_init_c, PMPI_Send_init_c, MPI_Count, Mode::Standard);
persistent_send!(
    MPI_Ssend_init_c,
    PMPI_Ssend_init_c,
    MPI_Count,
    Mode::Synchronous
);
persistent_send!(
    MPI_Bsend_init_c,
    PMPI_Bsend_init_c,
    MPI_Count,
    Mode::Buffered
);
persistent_send!(MPI_Rsend_init_c, PMPI_Rsend_init_c, MPI_Count, Mode::Ready);

macro_rules! recv_fns {
    ($ct:ty, $recv:ident / $precv:ident, $irecv:ident / $pirecv:ident, $init:ident / $pinit:ident) => {
        mpi_fn! { comm => fn $recv / $precv(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
            let call = stringify!($recv);
            let s = check_recv(call, buf, count.into(), Ty::Handle(datatype), source, tag, comm)?.run(call)?;
            write_status(status, s);
            status_error(call, comm, &s)
        }}

        mpi_fn! { comm => fn $irecv / $pirecv(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            let call = stringify!($irecv);
            let o = out(request, "request")?;
            let k = check_recv(call, buf, count.into(), Ty::Handle(datatype), source, tag, comm)?.start(call)?;
            *o = new_request(k, comm, true);
            Ok(())
        }}

        mpi_fn! { comm => fn $init / $pinit(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, source: c_int, tag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            persistent(stringify!($init), buf as usize, count.into(), datatype, source, tag, comm, None, request)
        }}
    };
}
recv_fns!(
    c_int,
    MPI_Recv / PMPI_Recv,
    MPI_Irecv / PMPI_Irecv,
    MPI_Recv_init / PMPI_Recv_init
);
recv_fns!(
    MPI_Count,
    MPI_Recv_c / PMPI_Recv_c,
    MPI_Irecv_c / PMPI_Irecv_c,
    MPI_Recv_init_c / PMPI_Recv_init_c
);

/// MPI_Start of one persistent request.
pub unsafe fn start(h: MPI_Request) -> R<()> {
    let (buf, count, dt, peer, tag, comm, mode) = {
        let s = st();
        match s.reqs.get(h).map(|o| &o.kind) {
            Some(Kind::Persistent {
                active: None,
                spec: crate::req::Spec::P2p(spec),
            }) => (
                spec.buf,
                spec.count,
                spec.datatype.clone(),
                spec.peer,
                spec.tag,
                spec.comm,
                spec.mode,
            ),
            Some(Kind::Persistent { .. }) => {
                return fail(
                    MPI_ERR_REQUEST,
                    format!("persistent request {:#x} is already active", h as u32),
                )
            }
            _ => {
                return fail(
                    MPI_ERR_REQUEST,
                    format!("{:#x} is not a persistent request", h as u32),
                )
            }
        }
    };
    let k = match mode {
        Some(m) => check_send(
            "MPI_Start",
            buf as *const c_void,
            count,
            Ty::Held(&dt),
            peer,
            tag,
            comm,
            m,
        )?,
        None => check_recv(
            "MPI_Start",
            buf as *mut c_void,
            count,
            Ty::Held(&dt),
            peer,
            tag,
            comm,
        )?,
    }
    .start("MPI_Start")?;
    crate::req::set_active(h, k);
    Ok(())
}

/// MPI_Sendrecv(_c): the receive is posted first, then the send; both are waited for.
unsafe fn sendrecv(
    call: &str,
    sendbuf: *const c_void,
    sendcount: MPI_Count,
    sendtype: MPI_Datatype,
    dest: c_int,
    sendtag: c_int,
    recvbuf: *mut c_void,
    recvcount: MPI_Count,
    recvtype: MPI_Datatype,
    source: c_int,
    recvtag: c_int,
    comm: MPI_Comm,
    status: *mut MPI_Status,
) -> R<()> {
    let r = check_recv(
        call,
        recvbuf,
        recvcount,
        Ty::Handle(recvtype),
        source,
        recvtag,
        comm,
    )?
    .start(call)?;
    let s = check_send(
        call,
        sendbuf,
        sendcount,
        Ty::Handle(sendtype),
        dest,
        sendtag,
        comm,
        Mode::Standard,
    )
    .and_then(|c| c.start(call));
    let s = match s {
        Ok(s) => s,
        Err(e) => {
            if let Kind::Engine(id) = r {
                // Take the posted receive back before reporting.
                let _ = sys::with(call, |rt| rt.cancel(id));
                st().detached.push((id, None));
            }
            return Err(e);
        }
    };
    wait_kind(call, s)?;
    let rs = wait_kind(call, r)?;
    write_status(status, rs);
    status_error(call, comm, &rs)
}

/// MPI_Sendrecv_replace(_c): the outgoing data is packed first (a copy), then the
/// buffer receives.
unsafe fn sendrecv_replace(
    call: &str,
    buf: *mut c_void,
    count: MPI_Count,
    datatype: MPI_Datatype,
    dest: c_int,
    sendtag: c_int,
    source: c_int,
    recvtag: c_int,
    comm: MPI_Comm,
    status: *mut MPI_Status,
) -> R<()> {
    let data = send_data(buf as *const u8, count, datatype)?;
    let copy = match data {
        SendData::Packed(v) => v,
        SendData::Direct(p, n) => std::slice::from_raw_parts(p, n).to_vec(),
    };
    let n = copy.len() as MPI_Count;
    let r = check_recv(
        call,
        buf,
        count,
        Ty::Handle(datatype),
        source,
        recvtag,
        comm,
    )?
    .start(call)?;
    let s = match check_send(
        call,
        copy.as_ptr() as *const c_void,
        n,
        Ty::Handle(MPI_BYTE),
        dest,
        sendtag,
        comm,
        Mode::Standard,
    )
    .and_then(|c| c.start(call))
    {
        Ok(s) => s,
        Err(e) => {
            if let Kind::Engine(id) = r {
                sys::with(call, |rt| rt.cancel(id))?;
                sys::progress_until(call, |rt| rt.is_complete(id))?;
                sys::with(call, |rt| rt.test(id))?;
                crate::dtype::finish(id, 0);
            }
            return Err(e);
        }
    };
    wait_kind(call, s)?;
    let rs = wait_kind(call, r)?;
    drop(copy);
    write_status(status, rs);
    status_error(call, comm, &rs)
}

/// MPI_Isendrecv(_replace)(_c): the receive and the send are posted now; the
/// request is the core's join of the two (`sys::Core::join`), which the
/// progress loop completes with the receive's status once both halves have. `keep`: a packed copy of
/// the outgoing data (MPI_Isendrecv_replace), kept until then.
unsafe fn isendrecv(
    call: &str,
    recv: Checked,
    send: Checked,
    keep: Option<Vec<u8>>,
    comm: MPI_Comm,
    request: &mut MPI_Request,
) -> R<()> {
    let (rid, mut fx) = recv.post_only(call)?;
    let (sid, sfx) = match send.post_only(call) {
        Ok(x) => x,
        Err(e) => {
            if let Some(id) = rid {
                // Take the posted receive back before reporting.
                let _ = sys::with(call, |rt| rt.cancel(id));
                add_fixup(id, fx);
                st().detached.push((id, None));
            }
            return Err(e);
        }
    };
    fx.keep.extend(sfx.keep);
    fx.then.extend(sfx.then);
    fx.keep.extend(keep);
    let ext = sys::with(call, |rt| Ok(rt.join(sid, rid)))?;
    add_fixup(ext, fx);
    // Not a receive for MPI_Cancel: the pair runs to its end.
    *request = new_request(Kind::Engine(ext), comm, false);
    Ok(())
}

macro_rules! isendrecv_fns {
    ($ct:ty, $sr:ident / $psr:ident, $srr:ident / $psrr:ident) => {
        mpi_fn! { comm => fn $sr / $psr(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, dest: c_int, sendtag: c_int,
                recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, source: c_int, recvtag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            let call = stringify!($sr);
            let o = out(request, "request")?;
            let r = check_recv(call, recvbuf, recvcount.into(), Ty::Handle(recvtype), source, recvtag, comm)?;
            let s = check_send(call, sendbuf, sendcount.into(), Ty::Handle(sendtype), dest, sendtag, comm, Mode::Standard)?;
            isendrecv(call, r, s, None, comm, o)
        }}

        mpi_fn! { comm => fn $srr / $psrr(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, dest: c_int, sendtag: c_int,
                source: c_int, recvtag: c_int, comm: MPI_Comm, request: *mut MPI_Request) {
            let call = stringify!($srr);
            let o = out(request, "request")?;
            // The outgoing data is packed first (a copy), then the buffer receives.
            let copy = match send_data(buf as *const u8, count, datatype)? {
                SendData::Packed(v) => v,
                SendData::Direct(p, n) => std::slice::from_raw_parts(p, n).to_vec(),
            };
            let r = check_recv(call, buf, count.into(), Ty::Handle(datatype), source, recvtag, comm)?;
            let s = check_send(call, copy.as_ptr() as *const c_void, copy.len() as MPI_Count, Ty::Handle(MPI_BYTE), dest, sendtag, comm, Mode::Standard)?;
            // The copy's heap block does not move with the Vec: the send reads it
            // until the pair completes, when the fixup drops it.
            isendrecv(call, r, s, Some(copy), comm, o)
        }}
    };
}
isendrecv_fns!(
    c_int,
    MPI_Isendrecv / PMPI_Isendrecv,
    MPI_Isendrecv_replace / PMPI_Isendrecv_replace
);
isendrecv_fns!(
    MPI_Count,
    MPI_Isendrecv_c / PMPI_Isendrecv_c,
    MPI_Isendrecv_replace_c / PMPI_Isendrecv_replace_c
);

macro_rules! sendrecv_fns {
    ($ct:ty, $sr:ident / $psr:ident, $srr:ident / $psrr:ident) => {
        mpi_fn! { comm => fn $sr / $psr(sendbuf: *const c_void, sendcount: $ct, sendtype: MPI_Datatype, dest: c_int, sendtag: c_int,
                recvbuf: *mut c_void, recvcount: $ct, recvtype: MPI_Datatype, source: c_int, recvtag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
            sendrecv(stringify!($sr), sendbuf, sendcount.into(), sendtype, dest, sendtag, recvbuf, recvcount.into(), recvtype, source, recvtag, comm, status)
        }}

        mpi_fn! { comm => fn $srr / $psrr(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, dest: c_int, sendtag: c_int,
                source: c_int, recvtag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
            sendrecv_replace(stringify!($srr), buf, count.into(), datatype, dest, sendtag, source, recvtag, comm, status)
        }}
    };
}
sendrecv_fns!(
    c_int,
    MPI_Sendrecv / PMPI_Sendrecv,
    MPI_Sendrecv_replace / PMPI_Sendrecv_replace
);
sendrecv_fns!(
    MPI_Count,
    MPI_Sendrecv_c / PMPI_Sendrecv_c,
    MPI_Sendrecv_replace_c / PMPI_Sendrecv_replace_c
);

/// The matching pattern of a probe; None for MPI_PROC_NULL.
fn pattern(call: &str, source: c_int, tag: c_int, comm: MPI_Comm) -> R<Option<Pattern>> {
    let c = comm_of(call, comm)?;
    c.check_source(call, source)?;
    Comm::check_recv_tag(call, tag)?;
    Ok((source != MPI_PROC_NULL).then_some(Pattern {
        ctx: c.ctx,
        src: source,
        tag,
    }))
}

mpi_fn! { comm => fn MPI_Iprobe / PMPI_Iprobe(source: c_int, tag: c_int, comm: MPI_Comm, flag: *mut c_int, status: *mut MPI_Status) {
    let f = out(flag, "flag")?;
    let Some(p) = pattern("MPI_Iprobe", source, tag, comm)? else {
        *f = 1;
        write_status(status, proc_null_c_status());
        return Ok(());
    };
    let found = sys::with("MPI_Iprobe", |rt| {
        rt.progress()?;
        rt.iprobe(&p)
    })?;
    *f = found.is_some() as c_int;
    if let Some(s) = found {
        write_status(status, to_c(&s));
    }
    Ok(())
}}

mpi_fn! { comm => fn MPI_Probe / PMPI_Probe(source: c_int, tag: c_int, comm: MPI_Comm, status: *mut MPI_Status) {
    let Some(p) = pattern("MPI_Probe", source, tag, comm)? else {
        write_status(status, proc_null_c_status());
        return Ok(());
    };
    let mut found = None;
    sys::progress_until("MPI_Probe", |rt| {
        found = rt.iprobe(&p)?;
        Ok(found.is_some())
    })?;
    write_status(status, to_c(&found.expect("found")));
    Ok(())
}}

unsafe fn improbe(
    call: &str,
    source: c_int,
    tag: c_int,
    comm: MPI_Comm,
    block: bool,
    flag: *mut c_int,
    message: *mut MPI_Message,
    status: *mut MPI_Status,
) -> R<()> {
    let m = out(message, "message")?;
    let Some(p) = pattern(call, source, tag, comm)? else {
        *m = MPI_MESSAGE_NO_PROC;
        if !flag.is_null() {
            *flag = 1;
        }
        write_status(status, proc_null_c_status());
        return Ok(());
    };
    let mut found = None;
    if block {
        sys::progress_until(call, |rt| {
            found = rt.improbe(&p)?;
            Ok(found.is_some())
        })?;
    } else {
        found = sys::with(call, |rt| {
            rt.progress()?;
            rt.improbe(&p)
        })?;
    }
    if !flag.is_null() {
        *flag = found.is_some() as c_int;
    }
    if let Some((msg, s)) = found {
        *m = st().msgs.insert(MsgObj { msg, comm });
        write_status(status, to_c(&s));
    }
    Ok(())
}

mpi_fn! { comm => fn MPI_Improbe / PMPI_Improbe(source: c_int, tag: c_int, comm: MPI_Comm, flag: *mut c_int, message: *mut MPI_Message, status: *mut MPI_Status) {
    out(flag, "flag")?;
    improbe("MPI_Improbe", source, tag, comm, false, flag, message, status)
}}

mpi_fn! { comm => fn MPI_Mprobe / PMPI_Mprobe(source: c_int, tag: c_int, comm: MPI_Comm, message: *mut MPI_Message, status: *mut MPI_Status) {
    improbe("MPI_Mprobe", source, tag, comm, true, std::ptr::null_mut(), message, status)
}}

/// Start receiving a matched message; Done for MPI_MESSAGE_NO_PROC.
unsafe fn start_mrecv(
    call: &str,
    buf: *mut c_void,
    count: MPI_Count,
    dt: MPI_Datatype,
    message: *mut MPI_Message,
) -> R<(Kind, MPI_Comm)> {
    let m = out(message, "message")?;
    let (p, bytes, fx) = recv_target(buf as *mut u8, count, dt)?;
    if *m == MPI_MESSAGE_NO_PROC {
        *m = MPI_MESSAGE_NULL;
        return Ok((Kind::Done(Status::empty()), MPI_COMM_WORLD));
    }
    let o = st()
        .msgs
        .remove(*m)
        .ok_or_else(|| err(MPI_ERR_REQUEST, format!("invalid message {:#x}", *m as u32)))?;
    *m = MPI_MESSAGE_NULL;
    // SAFETY: MPI's rule: the buffer stays valid and untouched until completion.
    let rb = RecvBuf::new(p, bytes);
    let id = sys::with(call, |rt| rt.imrecv(rb, o.msg))?;
    add_fixup(id, fx);
    Ok((Kind::Engine(id), o.comm))
}

macro_rules! mrecv_fns {
    ($ct:ty, $mr:ident / $pmr:ident, $imr:ident / $pimr:ident) => {
        mpi_fn! { MPI_COMM_WORLD => fn $mr / $pmr(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, message: *mut MPI_Message, status: *mut MPI_Status) {
            let call = stringify!($mr);
            let (k, comm) = start_mrecv(call, buf, count.into(), datatype, message)?;
            let s = wait_kind(call, k)?;
            write_status(status, s);
            status_error(call, comm, &s)
        }}

        mpi_fn! { MPI_COMM_WORLD => fn $imr / $pimr(buf: *mut c_void, count: $ct, datatype: MPI_Datatype, message: *mut MPI_Message, request: *mut MPI_Request) {
            let o = out(request, "request")?;
            let (k, comm) = start_mrecv(stringify!($imr), buf, count.into(), datatype, message)?;
            *o = new_request(k, comm, true);
            Ok(())
        }}
    };
}
mrecv_fns!(c_int, MPI_Mrecv / PMPI_Mrecv, MPI_Imrecv / PMPI_Imrecv);
mrecv_fns!(
    MPI_Count,
    MPI_Mrecv_c / PMPI_Mrecv_c,
    MPI_Imrecv_c / PMPI_Imrecv_c
);

/// MPI_Buffer_attach(_c).
unsafe fn buffer_attach(buffer: *mut c_void, size: MPI_Count) -> R<()> {
    if size < 0 {
        return fail(MPI_ERR_ARG, format!("invalid buffer size {size}"));
    }
    if buffer.is_null() && size > 0 {
        return fail(MPI_ERR_BUFFER, "null buffer");
    }
    let mut s = st();
    if s.bsend.attached.is_some() {
        return fail(MPI_ERR_BUFFER, "a buffer is already attached");
    }
    s.bsend.attached = Some((buffer as usize, size as usize));
    Ok(())
}

/// MPI_Buffer_detach(_c): `max` is the largest size the caller's type holds; a
/// larger buffer stays attached and the call fails before anything is detached.
unsafe fn buffer_detach(buffer_addr: *mut c_void, max: MPI_Count) -> R<MPI_Count> {
    match st().bsend.attached {
        None => return fail(MPI_ERR_BUFFER, "no buffer is attached"),
        Some((_, n)) if n as MPI_Count > max => {
            return fail(
                MPI_ERR_COUNT,
                format!(
                "the attached buffer's size {n} does not fit in an int: use MPI_Buffer_detach_c"
            ),
            )
        }
        Some(_) => {}
    }
    // Blocks until the buffered messages are on their way.
    crate::req::drain_detached("MPI_Buffer_detach")?;
    let (p, n) = st().bsend.attached.take().expect("checked");
    if !buffer_addr.is_null() {
        *(buffer_addr as *mut *mut c_void) = p as *mut c_void;
    }
    Ok(n as MPI_Count)
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Buffer_attach / PMPI_Buffer_attach(buffer: *mut c_void, size: c_int) {
    buffer_attach(buffer, size.into())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Buffer_attach_c / PMPI_Buffer_attach_c(buffer: *mut c_void, size: MPI_Count) {
    buffer_attach(buffer, size)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Buffer_detach / PMPI_Buffer_detach(buffer_addr: *mut c_void, size: *mut c_int) {
    let o = out(size, "size")?;
    *o = buffer_detach(buffer_addr, c_int::MAX.into())? as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Buffer_detach_c / PMPI_Buffer_detach_c(buffer_addr: *mut c_void, size: *mut MPI_Count) {
    let o = out(size, "size")?;
    *o = buffer_detach(buffer_addr, MPI_Count::MAX)?;
    Ok(())
}}
