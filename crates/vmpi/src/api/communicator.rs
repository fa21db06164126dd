//! Blocking point-to-point and the barrier on a communicator, with MPI's argument
//! checks; the nonblocking forms live in [`super::Scope`].

use super::equivalence::{bytes, bytes_mut, Equivalence};
use crate::comm::Comm;
use crate::error::{Error, ErrorClass, Result};
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Pattern, ReqId, SendMode, Status, PROC_NULL};
use crate::runtime;

/// A communicator: a group of ranks and a private matching space.
#[derive(Debug, Clone)]
pub struct Communicator {
    pub(crate) comm: Comm,
}

/// Start a send of `buf`; None for PROC_NULL.
///
/// # Safety
/// `buf` must stay valid and unchanged until the request completes.
pub(crate) unsafe fn start_send(
    comm: &Comm,
    buf: &[u8],
    dest: i32,
    tag: i32,
    mode: SendMode,
    call: &str,
) -> Result<Option<ReqId>> {
    comm.check_dest(call, dest)?;
    Comm::check_send_tag(call, tag)?;
    if dest == PROC_NULL {
        return Ok(None);
    }
    runtime::with(call, |rt| {
        // SAFETY: forwarded from this function's contract.
        let sb = unsafe { SendBuf::new(buf.as_ptr(), buf.len()) };
        // SAFETY: as above.
        unsafe {
            rt.engine
                .isend(sb, comm.world_rank(dest), comm.ctx, comm.rank, tag, mode)
        }
        .map(Some)
    })
}

/// Post a receive into `buf`; None for PROC_NULL.
///
/// # Safety
/// `buf` must stay valid and untouched until the request completes.
pub(crate) unsafe fn start_recv(
    comm: &Comm,
    buf: &mut [u8],
    src: i32,
    tag: i32,
    call: &str,
) -> Result<Option<ReqId>> {
    comm.check_source(call, src)?;
    Comm::check_recv_tag(call, tag)?;
    if src == PROC_NULL {
        return Ok(None);
    }
    runtime::with(call, |rt| {
        // SAFETY: forwarded from this function's contract.
        let rb = unsafe { RecvBuf::new(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: as above.
        unsafe {
            rt.engine.irecv(
                rb,
                Pattern {
                    ctx: comm.ctx,
                    src,
                    tag,
                },
            )
        }
        .map(Some)
    })
}

/// The status of a completed receive, or the truncation error it reports.
pub(crate) fn finish(call: &str, st: Status) -> Result<Status> {
    match st.error {
        Some(ErrorClass::Truncate) => Err(Error::new(
            ErrorClass::Truncate,
            format!("{call}: message from rank {} with tag {} was truncated to the receive buffer ({} bytes)", st.source, st.tag, st.count),
        )),
        Some(c) => Err(Error::new(c, format!("{call}: failed ({c:?})"))),
        None => Ok(st),
    }
}

/// Wait for an optional request (None = PROC_NULL, complete at once).
pub(crate) fn wait_opt(call: &str, req: Option<ReqId>) -> Result<Status> {
    match req {
        Some(r) => finish(call, runtime::wait(r)?),
        None => Ok(Status::empty()),
    }
}

impl Communicator {
    pub(crate) fn from_comm(comm: Comm) -> Communicator {
        Communicator { comm }
    }

    pub fn rank(&self) -> i32 {
        self.comm.rank
    }

    pub fn size(&self) -> i32 {
        self.comm.size()
    }

    /// Send `buf` to `dest` with `tag` (standard mode; returns when `buf` may be reused).
    pub fn send<T: Equivalence>(&self, buf: &[T], dest: i32, tag: i32) -> Result<()> {
        // SAFETY: we wait for completion before `buf`'s borrow ends.
        let r = unsafe {
            start_send(
                &self.comm,
                bytes(buf),
                dest,
                tag,
                SendMode::Standard,
                "MPI_Send",
            )?
        };
        wait_opt("MPI_Send", r).map(|_| ())
    }

    /// Synchronous send: returns once the matching receive has started.
    pub fn ssend<T: Equivalence>(&self, buf: &[T], dest: i32, tag: i32) -> Result<()> {
        // SAFETY: we wait for completion before `buf`'s borrow ends.
        let r = unsafe {
            start_send(
                &self.comm,
                bytes(buf),
                dest,
                tag,
                SendMode::Synchronous,
                "MPI_Ssend",
            )?
        };
        wait_opt("MPI_Ssend", r).map(|_| ())
    }

    /// Receive into `buf` from `source` (or [`crate::ANY_SOURCE`]) with `tag` (or
    /// [`crate::ANY_TAG`]). A larger message is an `ErrorClass::Truncate` error.
    pub fn recv<T: Equivalence>(&self, buf: &mut [T], source: i32, tag: i32) -> Result<Status> {
        // SAFETY: we wait for completion before `buf`'s borrow ends.
        let r = unsafe { start_recv(&self.comm, bytes_mut(buf), source, tag, "MPI_Recv")? };
        wait_opt("MPI_Recv", r)
    }

    /// Send and receive at once (no deadlock whatever the peers' order).
    pub fn sendrecv<S: Equivalence, R: Equivalence>(
        &self,
        sendbuf: &[S],
        dest: i32,
        sendtag: i32,
        recvbuf: &mut [R],
        source: i32,
        recvtag: i32,
    ) -> Result<Status> {
        // SAFETY: both requests are waited for before the borrows end.
        let rr = unsafe {
            start_recv(
                &self.comm,
                bytes_mut(recvbuf),
                source,
                recvtag,
                "MPI_Sendrecv",
            )?
        };
        // SAFETY: as above.
        let sr = unsafe {
            start_send(
                &self.comm,
                bytes(sendbuf),
                dest,
                sendtag,
                SendMode::Standard,
                "MPI_Sendrecv",
            )?
        };
        let s = wait_opt("MPI_Sendrecv", sr);
        let r = wait_opt("MPI_Sendrecv", rr);
        s?;
        r
    }

    /// Wait for a matching message and describe it without receiving it.
    pub fn probe(&self, source: i32, tag: i32) -> Result<Status> {
        let mut found = None;
        let pattern = self.pattern("MPI_Probe", source, tag)?;
        let Some(pattern) = pattern else {
            return Ok(Status::empty());
        };
        runtime::progress_until("MPI_Probe", |rt| {
            found = rt.engine.iprobe(&pattern)?;
            Ok(found.is_some())
        })?;
        Ok(found.expect("loop ends when found"))
    }

    /// Describe a matching message if one has arrived.
    pub fn iprobe(&self, source: i32, tag: i32) -> Result<Option<Status>> {
        match self.pattern("MPI_Iprobe", source, tag)? {
            None => Ok(Some(Status::empty())),
            Some(p) => runtime::with("MPI_Iprobe", |rt| {
                rt.progress()?;
                rt.engine.iprobe(&p)
            }),
        }
    }

    fn pattern(&self, call: &str, source: i32, tag: i32) -> Result<Option<Pattern>> {
        self.comm.check_source(call, source)?;
        Comm::check_recv_tag(call, tag)?;
        Ok((source != PROC_NULL).then_some(Pattern {
            ctx: self.comm.ctx,
            src: source,
            tag,
        }))
    }

    /// Block until every rank of the communicator has called `barrier`.
    pub fn barrier(&self) -> Result<()> {
        crate::coll::barrier(&self.comm)
    }
}
