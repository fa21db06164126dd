//! The core interface under the C ABI (crate `vmpi-capi`) and the project's own
//! tools: everything they may use of this crate besides its Rust API, and nothing
//! else. The layers themselves (`bootstrap`, `locality`, `transport`, `p2p`,
//! `comm`, `coll`, `io`, `runtime`) are private to the crate.
//!
//! Not a stable interface for Rust programs: they use the crate root.
//!
//! The C layer keeps its own handle tables and argument checks; what it asks of the
//! core goes through:
//! - [`with`], [`progress_until`] and [`post_and_wait`], which lend a [`Core`]: the
//!   request and message operations of the engine under one acquisition of the
//!   runtime lock (several steps under one acquisition are atomic to the other
//!   threads, and a small message costs one acquisition);
//! - the collective entry point ([`coll`]), the communicator, datatype, operation
//!   and file objects, and the configuration table (for MPI_T).

use crate::error::Result;
use crate::p2p::buffers::{RecvBuf, SendBuf};
use crate::p2p::{Message, Pattern, ReqId, SendMode, Status};
use crate::runtime::{self, Runtime};

pub use crate::runtime::{abort, finalize, init, is_finalized, is_initialized, wait};

/// Point-to-point vocabulary: buffers, patterns, requests, statuses.
pub mod p2p {
    pub use crate::p2p::buffers::{RecvBuf, SendBuf};
    pub use crate::p2p::{Message, Pattern, ReqId, SendMode, Status};
}

/// Communicators, groups and their management.
pub mod comm {
    pub use crate::comm::mgmt;
    pub use crate::comm::{Comm, Group, TAG_UB};
}

/// The collective entry point both front ends call, and its argument forms.
pub mod coll {
    pub use crate::coll::{barrier, run, shortcut, start, Args, Raw, RawMut, Reduction, ROOT};
}

/// Datatypes as the C layer builds and decodes them.
pub mod datatype {
    pub use crate::datatype::{Basic, Combiner, Datatype, Distrib, Order};
}

/// Reduction operations.
pub mod op {
    pub use crate::op::Op;
}

/// One-sided communication: windows, operations, synchronization.
pub mod rma {
    pub use crate::rma::{
        attach, complete, create, detach, facts, fence, flush, free, lock, lock_all, operate, post,
        shared_query, start, sync, unlock, unlock_all, wait, Action, Buf, Facts, Flavor, Spec,
        Target,
    };
}

/// MPI-IO files.
pub mod io {
    pub use crate::io::file::{delete, Deliver};
    pub use crate::io::{File, View, MODE_SEQUENTIAL};
}

/// The configuration table (MPI_T control variables, `vmpi-info`).
pub mod config {
    pub use crate::config::{parse_bool, parse_size, Param, PARAMS};
}

/// What the project's tools and test programs inspect below the API: evidence,
/// CPU binding, shared regions, IVSHMEM devices and the bootstrap connection.
pub mod tools {
    pub use crate::bootstrap::connection;
    pub use crate::bootstrap::jobkey::shm_prefix;
    pub use crate::locality::binding;
    pub use crate::locality::evidence::NAMESPACES;
    pub use crate::locality::Evidence;
    pub use crate::transport::ivshmem;
    pub use crate::transport::region::Region;

    /// Whether this rank's waits yield the CPU (more ranks than cores to run on).
    #[inline]
    pub fn oversubscribed(call: &str) -> crate::Result<bool> {
        crate::runtime::with(call, |rt| Ok(rt.backoff.oversubscribed()))
    }
}

/// The engine's request and message operations, lent under the runtime lock.
pub struct Core<'a> {
    rt: &'a mut Runtime,
}

impl Core<'_> {
    /// This process's rank in the world.
    #[inline]
    pub fn rank(&self) -> usize {
        self.rt.engine.rank()
    }
    /// The number of ranks in the world.
    #[inline]
    pub fn size(&self) -> usize {
        self.rt.engine.size()
    }
    /// How long MPI_Finalize waits for requests freed while active
    /// (`VMPI_FINALIZE_WAIT`; None: for ever).
    #[inline]
    pub fn finalize_wait(&self) -> Option<std::time::Duration> {
        self.rt.cfg.finalize_wait
    }
    /// One progress pass: the engine, then every nonblocking collective.
    #[inline]
    pub fn progress(&mut self) -> Result<bool> {
        self.rt.progress()
    }
    /// Start a send (see `Engine::isend`).
    ///
    /// # Safety
    /// `buf` must stay valid and unchanged until the returned request completes.
    #[inline]
    pub unsafe fn isend(
        &mut self,
        buf: SendBuf,
        peer: usize,
        ctx: u32,
        src: i32,
        tag: i32,
        mode: SendMode,
    ) -> Result<ReqId> {
        // SAFETY: the caller keeps `buf` valid until the request completes.
        unsafe { self.rt.engine.isend(buf, peer, ctx, src, tag, mode) }
    }
    /// Post a receive.
    ///
    /// # Safety
    /// `buf` must stay valid and untouched until the returned request completes.
    #[inline]
    pub unsafe fn irecv(&mut self, buf: RecvBuf, pattern: Pattern) -> Result<ReqId> {
        // SAFETY: the caller keeps `buf` valid until the request completes.
        unsafe { self.rt.engine.irecv(buf, pattern) }
    }
    /// Receive a message taken by [`Core::improbe`].
    ///
    /// # Safety
    /// `buf` must stay valid and untouched until the returned request completes.
    #[inline]
    pub unsafe fn imrecv(&mut self, buf: RecvBuf, msg: Message) -> Result<ReqId> {
        // SAFETY: the caller keeps `buf` valid until the request completes.
        unsafe { self.rt.engine.imrecv(buf, msg) }
    }
    /// The status of a message that matches, left in place.
    #[inline]
    pub fn iprobe(&mut self, pattern: &Pattern) -> Result<Option<Status>> {
        self.rt.engine.iprobe(pattern)
    }
    /// A message that matches, taken out of matching.
    #[inline]
    pub fn improbe(&mut self, pattern: &Pattern) -> Result<Option<(Message, Status)>> {
        self.rt.engine.improbe(pattern)
    }
    /// The status of a complete request, which is freed; None while pending.
    #[inline]
    pub fn test(&mut self, req: ReqId) -> Result<Option<Status>> {
        self.rt.engine.test(req)
    }
    /// Whether a request is complete (it stays allocated).
    #[inline]
    pub fn is_complete(&self, req: ReqId) -> Result<bool> {
        self.rt.engine.is_complete(req)
    }
    /// The status of a complete request without freeing it.
    #[inline]
    pub fn peek_status(&self, req: ReqId) -> Result<Option<Status>> {
        self.rt.engine.peek_status(req)
    }
    /// Cancel a request; true if it was cancelled.
    #[inline]
    pub fn cancel(&mut self, req: ReqId) -> Result<bool> {
        self.rt.engine.cancel(req)
    }
    /// A request completed from outside the engine (generalized requests).
    #[inline]
    pub fn new_external(&mut self) -> ReqId {
        self.rt.engine.new_external()
    }
    /// Complete a request made by [`Core::new_external`].
    #[inline]
    pub fn complete_external(&mut self, req: ReqId, status: Status) -> Result<()> {
        self.rt.engine.complete_external(req, status)
    }
    /// One request for a send and a receive (MPI_Isendrecv; None: a half done
    /// at once): it completes, with the receive's status, once both halves have,
    /// advanced by the progress loop like a nonblocking collective.
    pub fn join(&mut self, send: Option<ReqId>, recv: Option<ReqId>) -> ReqId {
        let whole = self.rt.engine.new_external();
        self.rt
            .schedules
            .push(Box::new(runtime::Join { whole, send, recv }));
        whole
    }
    /// Let the external request `whole` (from [`Core::new_external`]) complete
    /// once every one of `parts` has (which frees them), advanced by the
    /// progress loop; with no parts it completes now. Its status is the empty
    /// one, or the first part's that carries an error.
    pub fn join_all(&mut self, whole: ReqId, parts: Vec<ReqId>) -> Result<()> {
        if parts.is_empty() {
            return self.rt.engine.complete_external(whole, Status::empty());
        }
        self.rt
            .schedules
            .push(Box::new(runtime::JoinAll { whole, parts }));
        Ok(())
    }
    /// A request in words (kind, peer, tag, size), for warnings.
    #[inline]
    pub fn describe(&self, req: ReqId) -> String {
        self.rt.engine.describe(req)
    }
}

/// Run `f` on the core, or fail naming `call` if MPI is not running.
pub fn with<R>(call: &str, f: impl FnOnce(&mut Core) -> Result<R>) -> Result<R> {
    runtime::with(call, |rt| f(&mut Core { rt }))
}

/// Poll, backing off, until `cond` holds (see `runtime::progress_until`).
pub fn progress_until(call: &str, mut cond: impl FnMut(&mut Core) -> Result<bool>) -> Result<()> {
    runtime::progress_until(call, |rt| cond(&mut Core { rt }))
}

/// Post an operation and wait for it under the same first acquisition of the lock
/// (see `runtime::post_and_wait`); the request is freed.
pub fn post_and_wait(
    call: &str,
    post: impl FnOnce(&mut Core) -> Result<ReqId>,
) -> Result<(ReqId, Status)> {
    runtime::post_and_wait(call, |rt| post(&mut Core { rt }))
}
