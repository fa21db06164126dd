//! The epoll set that drives the transport: a thin wrapper of the epoll syscalls, the
//! tokens that say which socket an event is for, and `poll_once`, which waits once and
//! hands each event to the code that owns that socket (accept, dial, connection).

use super::TcpTransport;
use crate::error::Result;
use nix::errno::Errno;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(super) const TOK_LISTENER: u64 = u64::MAX;
const TOK_SHIFT: u32 = 40;
pub(super) const TOK_DIAL: u64 = 1 << TOK_SHIFT;
pub(super) const TOK_CONN: u64 = 2 << TOK_SHIFT;
pub(super) const TOK_INCOMING: u64 = 3 << TOK_SHIFT;
pub(super) const TOK_INDEX: u64 = (1 << TOK_SHIFT) - 1;

pub(super) const EV_IN: u32 = libc::EPOLLIN as u32;
pub(super) const EV_OUT: u32 = libc::EPOLLOUT as u32;
pub(super) const EV_ERR: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// A thin owner of an epoll instance (nix's epoll needs a feature this crate does not
/// enable, so this wraps the three libc calls).
pub(super) struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created by the kernel for us and nothing else owns it.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn ctl(
        &self,
        op: libc::c_int,
        fd: RawFd,
        events: u32,
        token: u64,
    ) -> std::result::Result<(), Errno> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a valid, initialized epoll_event that lives across the call; the
        // kernel only reads it. Bad descriptors are reported as errors, not UB.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    pub(super) fn add(&self, fd: RawFd, events: u32, token: u64) -> std::result::Result<(), Errno> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub(super) fn modify(
        &self,
        fd: RawFd,
        events: u32,
        token: u64,
    ) -> std::result::Result<(), Errno> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Remove `fd` before it is closed. Closing would remove it too; failure is harmless.
    pub(super) fn remove(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    pub(super) fn wait(
        &self,
        events: &mut [libc::epoll_event],
        timeout_ms: i32,
    ) -> std::result::Result<usize, Errno> {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: `events` is a writable buffer of at least `max` entries that outlives the
        // call; the kernel writes at most `max` entries into it.
        let rc =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(rc as usize)
        }
    }
}

impl TcpTransport {
    /// One `epoll_wait` and the work it reports.
    pub(super) fn poll_once(&mut self, timeout_ms: i32) -> Result<()> {
        let mut first_err = None;
        let n = match self.epoll.wait(&mut self.events, timeout_ms) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(self.err(format_args!("epoll_wait: {e}"))),
        };
        for i in 0..n {
            let ev = self.events[i];
            let (bits, tok) = (ev.events, ev.u64);
            let idx = tok & TOK_INDEX;
            let res = if tok == TOK_LISTENER {
                self.accept_all()
            } else {
                match tok & !TOK_INDEX {
                    TOK_DIAL => self.dial_event(idx as usize, bits),
                    TOK_CONN => self.conn_event(idx as usize, bits),
                    TOK_INCOMING => self.incoming_event(idx),
                    _ => Err(self.err(format_args!("epoll returned an unknown token {tok:#x}"))),
                }
            };
            if let Err(e) = res {
                first_err.get_or_insert(e);
            }
        }
        // After the events, so that a connect that completed is not taken for a timeout.
        if !self.dialing.is_empty() {
            self.check_dial_timeouts(&mut first_err);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
