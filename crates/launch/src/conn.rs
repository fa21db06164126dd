//! The plumbing mpirun and its proxies share: non-blocking reads and writes, one
//! `poll` over their descriptors, the signalfd both loops read their signals from,
//! and `Conn`, one framed control connection (a TCP stream with its frame reader,
//! output queue and heartbeat clock).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::proto::Framer;

/// A side that has sent nothing for this long sends a ping.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// A side that has heard nothing for this long counts the other as gone (its
/// host down or its network cut): seconds, not TCP's minutes. Only time this side
/// was running counts (see [`Heartbeat::silent`]).
pub const SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// A gap this long between two checks means this side was not running: its loop
/// wakes at least every [`PING_EVERY`].
const STALL: Duration = Duration::from_secs(2);

/// The heartbeat clock of one connection: when this side last heard the other,
/// last said something, and last checked.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat {
    heard: Instant,
    said: Instant,
    checked: Instant,
}

impl Heartbeat {
    pub fn new(now: Instant) -> Heartbeat {
        Heartbeat {
            heard: now,
            said: now,
            checked: now,
        }
    }

    /// Due to send a ping (nothing sent for [`PING_EVERY`])?
    pub fn ping_due(&self, now: Instant) -> bool {
        now.duration_since(self.said) >= PING_EVERY
    }

    /// Silent for longer than [`SILENCE_LIMIT`] of this side's running time? A
    /// gap between two checks longer than [`STALL`] is time this side did not run
    /// (starved of the CPU on a loaded host: at a load of 40 on 2 cores, healthy
    /// jobs were killed after 5 s): it could hear nothing then, so that time is
    /// not the other side's silence.
    pub fn silent(&mut self, now: Instant) -> bool {
        let gap = now.saturating_duration_since(self.checked);
        self.checked = now;
        if gap > STALL {
            self.heard = (self.heard + (gap - PING_EVERY)).min(now);
        }
        now.saturating_duration_since(self.heard) >= SILENCE_LIMIT
    }

    /// When the next heartbeat check is due.
    pub fn next_check(&self) -> Instant {
        (self.said + PING_EVERY).min(self.heard + SILENCE_LIMIT)
    }
}

/// One `poll` over `want` (a token, a descriptor, the events asked): the tokens
/// whose descriptors are ready, with what they reported; none when a signal
/// interrupted the wait (the signalfd reports it next time).
pub fn poll_ready<T: Copy>(
    want: &[(T, BorrowedFd<'_>, PollFlags)],
    timeout: PollTimeout,
) -> nix::Result<Vec<(T, PollFlags)>> {
    let mut fds: Vec<PollFd<'_>> = want.iter().map(|w| PollFd::new(w.1, w.2)).collect();
    match poll(&mut fds, timeout) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    Ok(want
        .iter()
        .zip(fds.iter())
        .filter_map(|(w, fd)| {
            let r = fd.revents().unwrap_or(PollFlags::empty());
            (!r.is_empty()).then_some((w.0, r))
        })
        .collect())
}

/// Reads what is there now: `Ok(None)` means nothing (EAGAIN), `Ok(Some(0))` EOF.
pub fn read_now(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match nix::unistd::read(fd.as_raw_fd(), buf) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes as much as the fd takes now; returns the number of bytes written.
pub fn write_now(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match nix::unistd::write(fd, &data[done..]) {
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// Blocks the signals a loop handles and returns a signalfd for them. SIGINT,
/// SIGTERM and SIGCHLD get the default disposition first so that an inherited
/// "ignore" cannot hide them (or auto-reap the children); SIGHUP keeps an
/// inherited "ignore" (nohup).
pub fn signal_fd() -> nix::Result<SignalFd> {
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
        // SAFETY: SIG_DFL installs no handler code; the signals are blocked just
        // below and then read through the signalfd.
        unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }?;
    }
    let mut mask = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
    ] {
        mask.add(sig);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
}

pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// One framed control connection, non-blocking.
pub struct Conn {
    stream: TcpStream,
    frames: Framer,
    out: Vec<u8>,
    out_at: usize,
    beat: Heartbeat,
}

impl Conn {
    pub fn new(stream: TcpStream) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            frames: Framer::default(),
            out: Vec::new(),
            out_at: 0,
            beat: Heartbeat::new(Instant::now()),
        })
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// Queue an encoded frame and write what the socket takes now.
    pub fn send(&mut self, frame: Vec<u8>) -> io::Result<()> {
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
        }
        self.out.extend_from_slice(&frame);
        self.flush()
    }

    /// Write queued bytes while the socket takes them.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_at < self.out.len() {
            match self.stream.write(&self.out[self.out_at..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")),
                Ok(n) => {
                    self.out_at += n;
                    self.beat.said = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.out_at > 1 << 20 {
            self.out.drain(..self.out_at);
            self.out_at = 0;
        }
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.out.len() - self.out_at
    }

    /// Read what has arrived; the whole frame bodies it completes. An error on
    /// EOF, a socket error or a malformed frame.
    pub fn receive(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(if self.frames.pending() > 0 {
                        format!(
                            "connection closed in the middle of a message ({} bytes)",
                            self.frames.pending()
                        )
                    } else {
                        "connection closed".to_string()
                    })
                }
                Ok(n) => {
                    self.beat.heard = Instant::now();
                    self.frames.push(&buf[..n]);
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
        let mut out = Vec::new();
        while let Some(f) = self.frames.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    /// Due to send a ping (see [`Heartbeat::ping_due`])?
    pub fn ping_due(&self, now: Instant) -> bool {
        self.beat.ping_due(now)
    }

    /// Silent too long (see [`Heartbeat::silent`])?
    pub fn silent(&mut self, now: Instant) -> bool {
        self.beat.silent(now)
    }

    /// When the next heartbeat check is due.
    pub fn next_check(&self) -> Instant {
        self.beat.next_check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_counts_only_while_this_side_runs() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_millis(n);
        // Checked every second, nothing heard: gone after SILENCE_LIMIT.
        let mut b = Heartbeat::new(t0);
        for ms in (1000..5000).step_by(1000) {
            assert!(!b.silent(s(ms)));
        }
        assert!(b.silent(s(5000)));
        // Starved for 8 s (no check ran): not the other side's silence ...
        let mut b = Heartbeat::new(t0);
        assert!(!b.silent(s(1000)));
        assert!(!b.silent(s(9000)));
        // ... but silence after this side runs again still counts.
        for ms in (10_000..12_000).step_by(1000) {
            assert!(!b.silent(s(ms)));
        }
        assert!(b.silent(s(12_000)));
        // Hearing resets it.
        let mut b = Heartbeat::new(t0);
        b.heard = s(4000);
        for ms in (1000..9000).step_by(1000) {
            assert!(!b.silent(s(ms)));
        }
        assert!(b.silent(s(9000)));
    }
}
