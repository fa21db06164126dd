//! Nonblocking operations. A [`Scope`] borrows the buffers of the operations started
//! in it and waits for all of them before it ends, so no buffer can be freed or
//! reused while a channel still reads or writes it (even if a request is leaked).

use super::communicator::{finish, start_recv, start_send, Communicator};
use super::equivalence::{bytes, bytes_mut, Equivalence};
use crate::error::{Error, ErrorClass, Result};
use crate::p2p::{ReqId, SendMode, Status};
use crate::runtime;
use std::cell::RefCell;
use std::marker::PhantomData;

/// Where nonblocking operations whose buffers live for `'a` are started.
pub struct Scope<'a> {
    started: RefCell<Vec<ReqId>>,
    _buffers: PhantomData<&'a mut &'a ()>,
}

/// One nonblocking operation. `None` inside means PROC_NULL (complete at once).
#[must_use = "a request must be waited for or tested"]
pub struct Request<'a> {
    id: Option<ReqId>,
    done: bool,
    call: &'static str,
    _buffers: PhantomData<&'a ()>,
}

/// Run `f` with a scope; every operation started in it is complete when `scope`
/// returns (also when `f` panics).
pub fn scope<'a, R>(f: impl FnOnce(&Scope<'a>) -> R) -> R {
    struct WaitAll<'s, 'a>(&'s Scope<'a>);
    impl Drop for WaitAll<'_, '_> {
        fn drop(&mut self) {
            for id in self.0.started.borrow_mut().drain(..) {
                let live = runtime::with("scope", |rt| Ok(rt.engine.is_complete(id).is_ok()))
                    .unwrap_or(false);
                if live {
                    if let Err(e) = runtime::wait(id) {
                        eprintln!("vmpi: a request left pending at the end of a scope failed: {e}");
                    }
                }
            }
        }
    }
    let s = Scope {
        started: RefCell::new(Vec::new()),
        _buffers: PhantomData,
    };
    let guard = WaitAll(&s);
    let r = f(guard.0);
    drop(guard);
    r
}

impl<'a> Scope<'a> {
    pub(crate) fn track(&self, id: Option<ReqId>, call: &'static str) -> Request<'a> {
        if let Some(id) = id {
            self.started.borrow_mut().push(id);
        }
        Request {
            id,
            done: false,
            call,
            _buffers: PhantomData,
        }
    }

    /// Start sending `buf` (MPI_Isend).
    pub fn isend<T: Equivalence>(
        &self,
        comm: &Communicator,
        buf: &'a [T],
        dest: i32,
        tag: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: `buf` is borrowed for 'a, and the scope waits for the request
        // before 'a can end.
        let id = unsafe {
            start_send(
                &comm.comm,
                bytes(buf),
                dest,
                tag,
                SendMode::Standard,
                "MPI_Isend",
            )?
        };
        Ok(self.track(id, "MPI_Isend"))
    }

    /// Start a synchronous send (MPI_Issend).
    pub fn issend<T: Equivalence>(
        &self,
        comm: &Communicator,
        buf: &'a [T],
        dest: i32,
        tag: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: as for isend.
        let id = unsafe {
            start_send(
                &comm.comm,
                bytes(buf),
                dest,
                tag,
                SendMode::Synchronous,
                "MPI_Issend",
            )?
        };
        Ok(self.track(id, "MPI_Issend"))
    }

    /// Start receiving into `buf` (MPI_Irecv).
    pub fn irecv<T: Equivalence>(
        &self,
        comm: &Communicator,
        buf: &'a mut [T],
        source: i32,
        tag: i32,
    ) -> Result<Request<'a>> {
        // SAFETY: `buf` is borrowed mutably for 'a, and the scope waits for the
        // request before 'a can end.
        let id = unsafe { start_recv(&comm.comm, bytes_mut(buf), source, tag, "MPI_Irecv")? };
        Ok(self.track(id, "MPI_Irecv"))
    }
}

impl<'a> Request<'a> {
    /// Block until complete (MPI_Wait).
    pub fn wait(mut self) -> Result<Status> {
        self.wait_mut()
    }

    fn wait_mut(&mut self) -> Result<Status> {
        if self.done {
            return Err(Error::new(
                ErrorClass::Request,
                format!("MPI_Wait: the {} request already completed", self.call),
            ));
        }
        self.done = true;
        match self.id {
            None => Ok(Status::empty()),
            Some(id) => finish(self.call, runtime::wait(id)?),
        }
    }

    /// Complete it if it can be without blocking (MPI_Test).
    pub fn test(&mut self) -> Result<Option<Status>> {
        if self.done {
            return Err(Error::new(
                ErrorClass::Request,
                format!("MPI_Test: the {} request already completed", self.call),
            ));
        }
        let Some(id) = self.id else {
            self.done = true;
            return Ok(Some(Status::empty()));
        };
        let st = runtime::with("MPI_Test", |rt| {
            if let Some(st) = rt.engine.test(id)? {
                return Ok(Some(st));
            }
            rt.progress()?;
            rt.engine.test(id)
        })?;
        match st {
            Some(st) => {
                self.done = true;
                finish(self.call, st).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Cancel a receive that has not matched (MPI_Cancel); true if it was cancelled.
    pub fn cancel(&mut self) -> Result<bool> {
        match self.id {
            Some(id) if !self.done => runtime::with("MPI_Cancel", |rt| rt.engine.cancel(id)),
            _ => Ok(false),
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Wait for all (MPI_Waitall). Statuses in request order; the first error wins.
pub fn wait_all(reqs: &mut [Request<'_>]) -> Result<Vec<Status>> {
    let mut out = Vec::with_capacity(reqs.len());
    let mut first_err = None;
    for r in reqs.iter_mut().filter(|r| !r.done) {
        match r.wait_mut() {
            Ok(s) => out.push(s),
            Err(e) => {
                out.push(Status::empty());
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Complete all if all can complete now (MPI_Testall); else None and nothing changes
/// for those not yet complete.
pub fn test_all(reqs: &mut [Request<'_>]) -> Result<Option<Vec<Status>>> {
    let ids: Vec<ReqId> = reqs
        .iter()
        .filter(|r| !r.done)
        .filter_map(|r| r.id)
        .collect();
    let all = runtime::with("MPI_Testall", |rt| {
        rt.progress()?;
        ids.iter()
            .try_fold(true, |acc, id| Ok(acc && rt.engine.is_complete(*id)?))
    })?;
    if !all {
        return Ok(None);
    }
    wait_all(reqs).map(Some)
}

/// Wait for one (MPI_Waitany): its index and status; None when all are done.
pub fn wait_any(reqs: &mut [Request<'_>]) -> Result<Option<(usize, Status)>> {
    if reqs.iter().all(|r| r.done) {
        return Ok(None);
    }
    let mut backoff = runtime::with("MPI_Waitany", |rt| Ok(rt.backoff))?;
    loop {
        for (i, r) in reqs.iter_mut().enumerate() {
            if !r.done {
                if let Some(st) = r.test()? {
                    return Ok(Some((i, st)));
                }
            }
        }
        backoff.idle();
    }
}

/// Wait until at least one completes (MPI_Waitsome): indices and statuses.
pub fn wait_some(reqs: &mut [Request<'_>]) -> Result<Vec<(usize, Status)>> {
    let Some(first) = wait_any(reqs)? else {
        return Ok(Vec::new());
    };
    let mut out = vec![first];
    for (i, r) in reqs.iter_mut().enumerate() {
        if !r.done {
            if let Some(st) = r.test()? {
                out.push((i, st));
            }
        }
    }
    Ok(out)
}
