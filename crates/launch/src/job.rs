//! One running job: spawns the ranks, then a single poll loop serves PMI on every
//! rank's socket, forwards output and stdin, reaps ranks (SIGCHLD through a
//! signalfd), reacts to SIGINT/SIGTERM/SIGHUP, the timeout, abort and rank failures,
//! and decides mpirun's exit code. Cleanup on every path is `cleanup::JobGuard`'s.

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use vmpi_pmi::wire::{Command, LineBuffer};

use crate::cleanup::{signal_group, JobGuard};
use crate::output::LineForwarder;
use crate::pmi_server::{Event, Server};
use crate::spawn::{spawn_rank, RankSpec};

/// Time between SIGTERM and SIGKILL when the job is being torn down.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How much of mpirun's stdin is held for rank 0 before reading pauses.
const STDIN_HOLD: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;

/// Everything the job needs to start.
pub struct JobConfig {
    pub name: String,
    pub kvsname: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Host of every rank (all local).
    pub hosts: Vec<String>,
    pub mapping: Option<String>,
    pub prepend_rank: bool,
    pub timeout: Option<u64>,
}

struct PmiConn {
    fd: OwnedFd,
    input: LineBuffer,
    output: Vec<u8>,
    close_when_flushed: bool,
}

struct Stream {
    fd: OwnedFd,
    fwd: LineForwarder,
}

struct Rank {
    pid: Pid,
    host: String,
    child: Child,
    status: Option<ExitStatus>,
    pmi: Option<PmiConn>,
    stdout: Option<Stream>,
    stderr: Option<Stream>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Signal,
    Stdin,
    Rank0Stdin,
    Pmi(usize),
    Stdout(usize),
    Stderr(usize),
}

enum Phase {
    Running,
    Terminating {
        code: i32,
        kill_at: Instant,
        killed: bool,
    },
}

struct Job {
    cfg: JobConfig,
    ranks: Vec<Rank>,
    server: Server,
    phase: Phase,
    sigfd: SignalFd,
    stdin_open: bool,
    stdin_buf: Vec<u8>,
    rank0_stdin: Option<OwnedFd>,
    deadline: Option<Instant>,
    out_broken: bool,
}

fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Reads what is there now: `Ok(None)` means nothing (EAGAIN), `Ok(Some(0))` EOF.
fn read_now(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
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
fn write_now(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
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

/// Blocks the signals the loop handles and returns a signalfd for them. SIGINT,
/// SIGTERM and SIGCHLD get the default disposition first so that an inherited
/// "ignore" cannot hide them (or auto-reap the ranks); SIGHUP keeps an inherited
/// "ignore" (nohup).
fn signal_fd() -> nix::Result<SignalFd> {
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

fn rank_spec(hosts: &[String], rank: usize) -> RankSpec {
    let host = &hosts[rank];
    let local: Vec<usize> = (0..hosts.len()).filter(|&r| hosts[r] == *host).collect();
    RankSpec {
        rank,
        size: hosts.len(),
        host: host.clone(),
        local_rank: local.iter().position(|&r| r == rank).unwrap_or(0),
        local_size: local.len(),
    }
}

/// Runs the job to its end and returns mpirun's exit code. `guard` kills what is left
/// and removes the job's /dev/shm files when the caller drops it.
pub fn run(cfg: JobConfig, guard: &mut JobGuard) -> i32 {
    let sigfd = match signal_fd() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: cannot set up signal handling: {e}", cfg.name);
            return 1;
        }
    };
    let mut ranks = Vec::with_capacity(cfg.hosts.len());
    let mut rank0_stdin = None;
    let mut failed = None;
    for rank in 0..cfg.hosts.len() {
        let spec = rank_spec(&cfg.hosts, rank);
        match spawn_rank(
            &cfg.program,
            &cfg.args,
            &cfg.env,
            &spec,
            &cfg.kvsname,
            rank == 0,
        ) {
            Ok(s) => {
                let pid = Pid::from_raw(s.child.id() as i32);
                guard.add_group(pid);
                if s.stdin.is_some() {
                    rank0_stdin = s.stdin;
                }
                let prefix = cfg.prepend_rank.then(|| format!("[{rank}] "));
                ranks.push(Rank {
                    pid,
                    host: spec.host,
                    child: s.child,
                    status: None,
                    pmi: Some(PmiConn {
                        fd: s.pmi,
                        input: LineBuffer::new(),
                        output: Vec::new(),
                        close_when_flushed: false,
                    }),
                    stdout: Some(Stream {
                        fd: s.stdout,
                        fwd: LineForwarder::new(prefix.clone()),
                    }),
                    stderr: Some(Stream {
                        fd: s.stderr,
                        fwd: LineForwarder::new(prefix),
                    }),
                });
            }
            Err(e) => {
                let tail = if rank > 0 {
                    "; terminating the job"
                } else {
                    ""
                };
                eprintln!(
                    "{}: cannot start rank {rank} ({:?} on {}): {e}{tail}",
                    cfg.name, cfg.program, spec.host
                );
                failed = Some(match e.kind() {
                    io::ErrorKind::NotFound => 127,
                    io::ErrorKind::PermissionDenied => 126,
                    _ => 1,
                });
                break;
            }
        }
    }
    let mut job = Job::new(cfg, ranks, sigfd, rank0_stdin);
    if let Some(code) = failed {
        job.terminate(code);
    }
    job.event_loop()
}

impl Job {
    fn new(cfg: JobConfig, ranks: Vec<Rank>, sigfd: SignalFd, rank0_stdin: Option<OwnedFd>) -> Job {
        let server = Server::new(&cfg.kvsname, cfg.hosts.len(), cfg.mapping.clone());
        let deadline = cfg.timeout.map(|s| Instant::now() + Duration::from_secs(s));
        Job {
            stdin_open: rank0_stdin.is_some(),
            cfg,
            ranks,
            server,
            phase: Phase::Running,
            sigfd,
            stdin_buf: Vec::new(),
            rank0_stdin,
            deadline,
            out_broken: false,
        }
    }

    fn log(&self, msg: &str) {
        eprintln!("{}: {msg}", self.cfg.name);
    }

    /// Starts the teardown: SIGTERM to every rank's group now, SIGKILL after the
    /// grace period. The first reason to terminate decides the exit code.
    fn terminate(&mut self, code: i32) {
        if let Phase::Terminating { .. } = self.phase {
            return;
        }
        self.phase = Phase::Terminating {
            code,
            kill_at: Instant::now() + KILL_GRACE,
            killed: false,
        };
        self.stop_stdin();
        self.signal_all(Signal::SIGTERM);
    }

    fn signal_all(&self, sig: Signal) {
        for r in &self.ranks {
            if let Err(e) = signal_group(r.pid, sig) {
                self.log(&format!("cannot signal process group {}: {e}", r.pid));
            }
        }
    }

    fn kill_now(&mut self) {
        if let Phase::Terminating { killed, .. } = &mut self.phase {
            *killed = true;
        }
        self.signal_all(Signal::SIGKILL);
    }

    fn stop_stdin(&mut self) {
        self.stdin_open = false;
        self.stdin_buf.clear();
        self.rank0_stdin = None;
    }

    fn all_exited(&self) -> bool {
        self.ranks.iter().all(|r| r.status.is_some())
    }

    fn outputs_open(&self) -> bool {
        self.ranks
            .iter()
            .any(|r| r.stdout.is_some() || r.stderr.is_some())
    }

    fn event_loop(mut self) -> i32 {
        let mut leftovers_killed = false;
        let mut drain_until: Option<Instant> = None;
        loop {
            if self.all_exited() {
                if !leftovers_killed {
                    // Whatever is left in the ranks' groups outlived its rank.
                    self.signal_all(Signal::SIGKILL);
                    leftovers_killed = true;
                    drain_until = Some(Instant::now() + KILL_GRACE);
                }
                let drained = drain_until.is_some_and(|t| Instant::now() >= t);
                if !self.outputs_open() || drained {
                    break;
                }
            }
            let now = Instant::now();
            let mut wake: Option<Instant> = drain_until;
            if let Phase::Running = self.phase {
                wake = min_opt(wake, self.deadline);
            }
            if let Phase::Terminating {
                kill_at,
                killed: false,
                ..
            } = self.phase
            {
                wake = min_opt(wake, Some(kill_at));
            }
            let timeout = match wake {
                None => PollTimeout::NONE,
                Some(t) => {
                    let ms = t.saturating_duration_since(now).as_millis() + 1;
                    PollTimeout::try_from(ms.min(60_000)).unwrap_or(PollTimeout::MAX)
                }
            };
            let ready = match self.poll_once(timeout) {
                Ok(r) => r,
                Err(e) => {
                    self.log(&format!("poll failed: {e}; terminating the job"));
                    self.terminate(1);
                    self.kill_now();
                    Vec::new()
                }
            };
            for (token, flags) in ready {
                self.dispatch(token, flags);
            }
            self.check_deadlines();
            self.check_barrier_deadlock();
            self.check_abandoned();
        }
        self.finish_outputs();
        match self.phase {
            Phase::Running => 0,
            Phase::Terminating { code, .. } => code,
        }
    }

    fn poll_once(&self, timeout: PollTimeout) -> nix::Result<Vec<(Token, PollFlags)>> {
        let stdin = io::stdin();
        let mut want: Vec<(Token, BorrowedFd<'_>, PollFlags)> = Vec::new();
        let mut add = |t, fd, f| want.push((t, fd, f));
        add(Token::Signal, self.sigfd.as_fd(), PollFlags::POLLIN);
        if self.stdin_open && self.stdin_buf.len() < STDIN_HOLD {
            add(Token::Stdin, stdin.as_fd(), PollFlags::POLLIN);
        }
        if let Some(fd) = &self.rank0_stdin {
            if !self.stdin_buf.is_empty() {
                add(Token::Rank0Stdin, fd.as_fd(), PollFlags::POLLOUT);
            }
        }
        for (i, r) in self.ranks.iter().enumerate() {
            if let Some(c) = &r.pmi {
                let mut f = PollFlags::POLLIN;
                if !c.output.is_empty() {
                    f |= PollFlags::POLLOUT;
                }
                add(Token::Pmi(i), c.fd.as_fd(), f);
            }
            if let Some(s) = &r.stdout {
                add(Token::Stdout(i), s.fd.as_fd(), PollFlags::POLLIN);
            }
            if let Some(s) = &r.stderr {
                add(Token::Stderr(i), s.fd.as_fd(), PollFlags::POLLIN);
            }
        }
        let tokens: Vec<Token> = want.iter().map(|w| w.0).collect();
        let mut fds: Vec<PollFd<'_>> = want.iter().map(|w| PollFd::new(w.1, w.2)).collect();
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        Ok(tokens
            .into_iter()
            .zip(fds.iter())
            .filter_map(|(t, fd)| {
                let r = fd.revents().unwrap_or(PollFlags::empty());
                (!r.is_empty()).then_some((t, r))
            })
            .collect())
    }

    fn dispatch(&mut self, token: Token, flags: PollFlags) {
        match token {
            Token::Signal => self.on_signals(),
            Token::Stdin => self.on_stdin(),
            Token::Rank0Stdin => self.flush_rank0_stdin(),
            Token::Pmi(r) => self.on_pmi(r, flags),
            Token::Stdout(r) => self.on_output(r, false),
            Token::Stderr(r) => self.on_output(r, true),
        }
    }

    fn on_signals(&mut self) {
        loop {
            match self.sigfd.read_signal() {
                Ok(Some(info)) => {
                    let sig = info.ssi_signo as i32;
                    if sig == Signal::SIGCHLD as i32 {
                        self.reap();
                    } else {
                        self.on_mpirun_signal(sig);
                    }
                }
                Ok(None) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    self.log(&format!("reading the signalfd failed: {e}"));
                    break;
                }
            }
        }
        // SIGCHLD may coalesce; reap anyway.
        self.reap();
    }

    fn on_mpirun_signal(&mut self, sig: i32) {
        match self.phase {
            Phase::Running => {
                self.log(&format!(
                    "received {}; terminating the job",
                    signal_name(sig)
                ));
                self.terminate(128 + sig);
            }
            Phase::Terminating { .. } => {
                self.log(&format!(
                    "received {} again; killing the job now",
                    signal_name(sig)
                ));
                self.kill_now();
            }
        }
    }

    fn reap(&mut self) {
        for i in 0..self.ranks.len() {
            if self.ranks[i].status.is_some() {
                continue;
            }
            let status = match self.ranks[i].child.try_wait() {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => {
                    self.log(&format!("waiting for rank {i} failed: {e}"));
                    continue;
                }
            };
            self.ranks[i].status = Some(status);
            if i == 0 {
                self.stop_stdin();
            }
            if !matches!(self.phase, Phase::Running) {
                continue;
            }
            let r = &self.ranks[i];
            let who = format!("rank {i} (pid {} on {})", r.pid, r.host);
            let others = self.ranks.iter().any(|r| r.status.is_none());
            let tail = if others { "; terminating the job" } else { "" };
            if let Some(sig) = status.signal() {
                self.log(&format!(
                    "{who} killed by signal {sig} ({}){tail}",
                    signal_name(sig)
                ));
                self.terminate(128 + sig);
            } else if let Some(code) = status.code().filter(|&c| c != 0) {
                self.log(&format!("{who} exited with code {code}{tail}"));
                self.terminate(code);
            }
        }
    }

    /// A rank that started MPI and exited with status 0 without finalizing leaves the
    /// others waiting for it forever (Hydra calls this a bad termination too). Judged
    /// once its PMI connection is drained, so a `finalize` still in the socket counts.
    fn check_abandoned(&mut self) {
        if !matches!(self.phase, Phase::Running) || self.ranks.iter().all(|r| r.status.is_some()) {
            return;
        }
        let gone = (0..self.ranks.len()).find(|&i| {
            let r = &self.ranks[i];
            r.status.is_some_and(|s| s.code() == Some(0))
                && r.pmi.is_none()
                && self.server.left_without_finalize(i)
        });
        if let Some(i) = gone {
            let r = &self.ranks[i];
            self.log(&format!(
                "rank {i} (pid {} on {}) exited without calling MPI_Finalize; terminating the job",
                r.pid, r.host
            ));
            self.terminate(1);
        }
    }

    /// A rank that has exited without entering the barrier others wait in would leave
    /// them hanging forever.
    fn check_barrier_deadlock(&mut self) {
        if !matches!(self.phase, Phase::Running) || self.server.waiting_in_barrier() == 0 {
            return;
        }
        let gone = (0..self.ranks.len())
            .find(|&i| self.ranks[i].status.is_some() && !self.server.is_in_barrier(i));
        if let Some(i) = gone {
            let r = &self.ranks[i];
            self.log(&format!(
                "rank {i} (pid {} on {}) exited while other ranks wait for it in a PMI barrier; terminating the job",
                r.pid, r.host
            ));
            self.terminate(1);
        }
    }

    fn check_deadlines(&mut self) {
        let now = Instant::now();
        match self.phase {
            Phase::Running => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.log(&format!(
                        "timeout of {} s reached; terminating the job",
                        self.cfg.timeout.unwrap_or(0)
                    ));
                    self.terminate(124);
                }
            }
            Phase::Terminating {
                kill_at,
                killed: false,
                ..
            } if now >= kill_at => self.kill_now(),
            Phase::Terminating { .. } => {}
        }
    }

    fn on_stdin(&mut self) {
        let mut buf = vec![0u8; STDIN_HOLD - self.stdin_buf.len()];
        match read_now(io::stdin().as_fd(), &mut buf) {
            Ok(Some(0)) | Err(_) => {
                // EOF (or an unreadable stdin): close rank 0's stdin once drained.
                self.stdin_open = false;
                if self.stdin_buf.is_empty() {
                    self.rank0_stdin = None;
                }
            }
            Ok(Some(n)) => {
                self.stdin_buf.extend_from_slice(&buf[..n]);
                self.flush_rank0_stdin();
            }
            Ok(None) => {}
        }
    }

    fn flush_rank0_stdin(&mut self) {
        let Some(fd) = &self.rank0_stdin else {
            self.stdin_buf.clear();
            return;
        };
        match write_now(fd.as_fd(), &self.stdin_buf) {
            Ok(n) => {
                self.stdin_buf.drain(..n);
                if self.stdin_buf.is_empty() && !self.stdin_open {
                    self.rank0_stdin = None;
                }
            }
            Err(_) => {
                // Rank 0 closed its stdin: stop forwarding.
                self.stop_stdin();
            }
        }
    }

    fn on_output(&mut self, i: usize, is_err: bool) {
        let mut buf = vec![0u8; READ_CHUNK];
        let rank = &mut self.ranks[i];
        let slot = if is_err {
            &mut rank.stderr
        } else {
            &mut rank.stdout
        };
        let Some(stream) = slot else { return };
        let result = read_now(stream.fd.as_fd(), &mut buf);
        let write_result = match result {
            Ok(None) => Ok(()),
            Ok(Some(0)) | Err(_) => {
                let mut s = slot.take().expect("checked above");
                with_out(is_err, |out| s.fwd.finish(out))
            }
            Ok(Some(n)) => with_out(is_err, |out| stream.fwd.feed(&buf[..n], out)),
        };
        if let Err(e) = write_result {
            if !self.out_broken {
                self.out_broken = true;
                self.log(&format!(
                    "cannot write rank output to {}: {e}; discarding it",
                    if is_err { "stderr" } else { "stdout" }
                ));
            }
        }
    }

    fn finish_outputs(&mut self) {
        for i in 0..self.ranks.len() {
            for is_err in [false, true] {
                let r = &mut self.ranks[i];
                let slot = if is_err { &mut r.stderr } else { &mut r.stdout };
                if let Some(mut s) = slot.take() {
                    let _ = with_out(is_err, |out| s.fwd.finish(out));
                }
            }
        }
    }

    fn on_pmi(&mut self, i: usize, flags: PollFlags) {
        if flags.contains(PollFlags::POLLOUT) {
            self.flush_pmi(i);
        }
        if flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            self.read_pmi(i);
        }
    }

    fn close_pmi(&mut self, i: usize, why: Option<String>) {
        if let Some(msg) = why {
            self.log(&format!("rank {i}: {msg}; closing its PMI connection"));
            // Already reported; it cannot finalize through a closed connection.
            self.server.disown(i);
        }
        self.ranks[i].pmi = None;
    }

    fn read_pmi(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        let Some(conn) = &mut self.ranks[i].pmi else {
            return;
        };
        match read_now(conn.fd.as_fd(), &mut buf) {
            Ok(None) => return,
            Ok(Some(0)) => {
                let partial = conn.input.pending();
                let why = (partial > 0).then(|| {
                    format!("PMI connection closed after a partial line of {partial} bytes")
                });
                return self.close_pmi(i, why);
            }
            Ok(Some(n)) => conn.input.push(&buf[..n]),
            Err(e) => return self.close_pmi(i, Some(format!("PMI read failed: {e}"))),
        }
        loop {
            let Some(conn) = &mut self.ranks[i].pmi else {
                return;
            };
            let line = match conn.input.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => return self.close_pmi(i, Some(format!("bad PMI input: {e}"))),
            };
            let cmd = match Command::parse(&line) {
                Ok(c) => c,
                Err(e) => return self.close_pmi(i, Some(format!("bad PMI input: {e}"))),
            };
            let resp = self.server.handle(i, &cmd);
            if let Some(msg) = &resp.log {
                self.log(msg);
            }
            for (to, reply) in &resp.replies {
                self.send_pmi(*to, reply);
            }
            match resp.event {
                Event::None => {}
                Event::Finalized => {
                    if let Some(c) = &mut self.ranks[i].pmi {
                        c.close_when_flushed = true;
                    }
                    self.flush_pmi(i);
                }
                Event::Abort { code, message } => {
                    if matches!(self.phase, Phase::Running) {
                        let r = &self.ranks[i];
                        let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
                        self.log(&format!(
                            "rank {i} (pid {} on {}) called abort with exit code {code}{detail}; terminating the job",
                            r.pid, r.host
                        ));
                        self.terminate(code);
                    }
                    return;
                }
            }
        }
    }

    fn send_pmi(&mut self, to: usize, reply: &Command) {
        let line = match reply.encode() {
            Ok(l) => l,
            Err(e) => {
                self.log(&format!(
                    "internal error: cannot encode a PMI reply to rank {to}: {e}"
                ));
                return;
            }
        };
        if let Some(c) = &mut self.ranks[to].pmi {
            c.output.extend_from_slice(line.as_bytes());
            self.flush_pmi(to);
        }
    }

    fn flush_pmi(&mut self, i: usize) {
        let Some(c) = &mut self.ranks[i].pmi else {
            return;
        };
        match write_now(c.fd.as_fd(), &c.output) {
            Ok(n) => {
                c.output.drain(..n);
                if c.output.is_empty() && c.close_when_flushed {
                    self.ranks[i].pmi = None;
                }
            }
            Err(e) => self.close_pmi(i, Some(format!("PMI write failed: {e}"))),
        }
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn with_out(is_err: bool, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    if is_err {
        f(&mut io::stderr().lock())
    } else {
        f(&mut io::stdout().lock())
    }
}
