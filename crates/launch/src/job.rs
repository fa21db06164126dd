//! One running job, as mpirun sees it: a proxy per host (started through the
//! launch agent, connected back over TCP), and a single poll loop that serves
//! PMI for every rank (the key space and barrier live here; each proxy keeps a
//! copy of the committed keys for `get`), forwards output and stdin, learns of
//! rank exits, reacts to SIGINT/SIGTERM/SIGHUP, the timeout, abort, rank
//! failures and lost proxies, and decides mpirun's exit code. The proxies kill
//! their ranks and remove the job's files on their hosts; mpirun's own
//! `cleanup::JobGuard` sweeps this host once more on every exit path.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;
use vmpi_pmi::wire::Command;

use crate::agent::{self, Agent};
use crate::cleanup::JobGuard;
use crate::conn::{read_now, signal_fd, signal_name, Conn};
use crate::output::LineForwarder;
use crate::pmi_server::{Event, Server};
use crate::proto::{End, FromProxy, Launch, ToProxy, MAGIC};

/// Time between SIGTERM and SIGKILL when the job is being torn down.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How much of mpirun's stdin may be on its way to rank 0.
const STDIN_HOLD: usize = 64 * 1024;
/// How long proxies have to connect back after their agents were started.
const CONNECT_LIMIT: Duration = Duration::from_secs(60);
/// How long a proxy has to say hello after connecting.
const HELLO_LIMIT: Duration = Duration::from_secs(10);
/// How long mpirun waits for its proxies to finish after the job has ended.
const FINISH_LIMIT: Duration = Duration::from_secs(5);
/// How long a rank's failure (a non-zero exit, an abort) waits before it ends the
/// job, in case another rank's death by a signal arrives meanwhile: a rank killed
/// from outside makes its peers fail at once (a CMA read of a dead process, a
/// reset connection), and their report can reach mpirun before the dead rank's.
/// The death by signal is the cause and is named instead.
const CULPRIT_GRACE: Duration = Duration::from_millis(500);

/// Everything the job needs to start.
pub struct JobConfig {
    pub name: String,
    pub kvsname: String,
    pub program: String,
    pub args: Vec<String>,
    /// The ranks' environment (mpirun's, with the user's settings applied).
    pub env: Vec<(String, String)>,
    /// Host of every rank.
    pub hosts: Vec<String>,
    /// Which of them are this machine.
    pub local: Vec<bool>,
    pub mapping: Option<String>,
    pub prepend_rank: bool,
    pub timeout: Option<u64>,
    pub agent: Agent,
    /// The `vmpi-proxy` program (the same path on every host).
    pub proxy: PathBuf,
    pub shm_prefix: String,
}

/// How a rank ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RankEnd {
    Exit(End),
    /// Never started (its program could not be run, or the job ended first).
    NotStarted,
    /// Its proxy was lost: its fate is unknown here (the proxy kills it).
    Lost,
}

struct Rank {
    proxy: usize,
    pid: Option<u32>,
    end: Option<RankEnd>,
    out: [Option<LineForwarder>; 2],
}

struct Proxy {
    host: String,
    local: bool,
    ranks: Vec<usize>,
    conn: Option<Conn>,
    /// The local proxy, or the agent process (ssh, srun, ...) behind it.
    child: Option<Child>,
    /// The connection has said hello (and was sent the launch).
    ready: bool,
    /// Its connection has ended (after the shutdown, or lost).
    gone: bool,
    /// The host name the proxy reported, where the host list names it otherwise
    /// (an address, say).
    alias: Option<String>,
}

/// A connection accepted but not yet identified.
struct Pending {
    stream: TcpStream,
    buf: Vec<u8>,
    since: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Signal,
    Stdin,
    Listener,
    Pending(usize),
    Proxy(usize),
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
    proxies: Vec<Proxy>,
    srun: Option<Child>,
    listener: TcpListener,
    pending: Vec<Pending>,
    cookie: u64,
    connect_by: Instant,
    server: Server,
    phase: Phase,
    sigfd: SignalFd,
    stdin_open: bool,
    stdin_inflight: usize,
    deadline: Option<Instant>,
    out_broken: bool,
    /// Set when every rank has ended: Shutdown sent, proxies finishing.
    finishing: Option<Instant>,
    /// A rank's failure waiting out `CULPRIT_GRACE`: (until, exit code, message).
    suspect: Option<(Instant, i32, String)>,
    /// When the PMI connection of a rank closed before `finalize` (the rank may
    /// live on, but can never enter a PMI barrier again). A rank that dies closes
    /// it too, just before its exit is reported: it counts as living on only after
    /// `CULPRIT_GRACE`.
    pmi_gone: Vec<Option<Instant>>,
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = (std::process::id() as u64 ^ t).to_le_bytes();
    }
    u64::from_le_bytes(b)
}

/// Ranks grouped by host, in order of first appearance; every local name is one
/// host (one proxy).
fn group_hosts(hosts: &[String], local: &[bool]) -> Vec<Proxy> {
    let mut out: Vec<Proxy> = Vec::new();
    for (r, h) in hosts.iter().enumerate() {
        let at = out.iter().position(|p| {
            if local[r] {
                p.local
            } else {
                !p.local && p.host == *h
            }
        });
        match at {
            Some(i) => out[i].ranks.push(r),
            None => out.push(Proxy {
                host: h.clone(),
                local: local[r],
                ranks: vec![r],
                conn: None,
                child: None,
                ready: false,
                gone: false,
                alias: None,
            }),
        }
    }
    out
}

/// Runs the job to its end and returns mpirun's exit code. `guard` kills what is left
/// on this host and removes the job's /dev/shm files when the caller drops it.
pub fn run(cfg: JobConfig, guard: &mut JobGuard) -> i32 {
    let fail = |msg: String| {
        eprintln!("{}: {msg}", cfg.name);
        1
    };
    let sigfd = match signal_fd() {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot set up signal handling: {e}")),
    };
    let listener = match TcpListener::bind("0.0.0.0:0").and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen for the proxies: {e}")),
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => return fail(format!("getsockname: {e}")),
    };
    let mut proxies = group_hosts(&cfg.hosts, &cfg.local);
    let ranks: Vec<Rank> = (0..cfg.hosts.len())
        .map(|r| {
            let prefix = cfg.prepend_rank.then(|| format!("[{r}] "));
            Rank {
                proxy: proxies
                    .iter()
                    .position(|p| p.ranks.contains(&r))
                    .expect("grouped"),
                pid: None,
                end: None,
                out: [
                    Some(LineForwarder::new(prefix.clone())),
                    Some(LineForwarder::new(prefix)),
                ],
            }
        })
        .collect();
    let cookie = random_u64();
    // Start every proxy: forked here, through the agent elsewhere (one srun for
    // all under Slurm).
    let mut srun = None;
    let remote: Vec<String> = proxies
        .iter()
        .filter(|p| !p.local || cfg.agent == Agent::Slurm)
        .map(|p| p.host.clone())
        .collect();
    if cfg.agent == Agent::Slurm && !remote.is_empty() {
        let addrs = agent::addresses_towards(&remote[0], port);
        let words = agent::proxy_words(&cfg.proxy, &addrs, cookie, None);
        match agent::start_srun(&remote, &words) {
            Ok(c) => {
                guard.add_group(Pid::from_raw(c.id() as i32));
                srun = Some(c);
            }
            Err(e) => return fail(format!("cannot run srun to start the proxies: {e}")),
        }
    }
    for (i, p) in proxies.iter_mut().enumerate() {
        if cfg.agent == Agent::Slurm {
            continue;
        }
        let addrs = if p.local {
            vec![SocketAddr::new([127, 0, 0, 1].into(), port)]
        } else {
            agent::addresses_towards(&p.host, port)
        };
        let words = agent::proxy_words(&cfg.proxy, &addrs, cookie, Some(i));
        match agent::start(&cfg.agent, &p.host, p.local, &words) {
            Ok(c) => {
                if let Some(c) = &c {
                    guard.add_group(Pid::from_raw(c.id() as i32));
                }
                p.child = c;
            }
            Err(e) => {
                let how = if p.local {
                    cfg.proxy.display().to_string()
                } else {
                    cfg.agent.name()
                };
                return fail(format!(
                    "cannot start the proxy of host {} ({how}): {e}",
                    p.host
                ));
            }
        }
    }
    let server = Server::new(&cfg.kvsname, cfg.hosts.len(), cfg.mapping.clone());
    let deadline = cfg.timeout.map(|s| Instant::now() + Duration::from_secs(s));
    let job = Job {
        stdin_open: true,
        stdin_inflight: 0,
        ranks,
        proxies,
        srun,
        listener,
        pending: Vec::new(),
        cookie,
        connect_by: Instant::now() + CONNECT_LIMIT,
        server,
        phase: Phase::Running,
        sigfd,
        deadline,
        out_broken: false,
        finishing: None,
        suspect: None,
        pmi_gone: vec![None; cfg.hosts.len()],
        cfg,
    };
    job.event_loop(guard)
}

impl Job {
    fn log(&self, msg: &str) {
        eprintln!("{}: {msg}", self.cfg.name);
    }

    /// A host as messages name it: as the host list does, and by the name it
    /// gave itself where that differs.
    fn host_name(&self, p: usize) -> String {
        let px = &self.proxies[p];
        match &px.alias {
            Some(a) => format!("{} ({a})", px.host),
            None => px.host.clone(),
        }
    }

    fn who(&self, r: usize) -> String {
        let host = self.host_name(self.ranks[r].proxy);
        match self.ranks[r].pid {
            Some(pid) => format!("rank {r} (pid {pid} on {host})"),
            None => format!("rank {r} (on {host})"),
        }
    }

    fn send(&mut self, p: usize, m: ToProxy) {
        let Some(c) = self.proxies[p].conn.as_mut() else {
            return;
        };
        if let Err(e) = c.send(m.encode()) {
            self.lose(p, format!("write failed: {e}"));
        }
    }

    /// Starts the teardown: SIGTERM to every rank now, SIGKILL after the grace
    /// period. The first reason to terminate decides the exit code.
    fn terminate(&mut self, code: i32) {
        if let Phase::Terminating { .. } = self.phase {
            return;
        }
        // A failure reported earlier and still in its grace period came first.
        let code = match self.suspect.take() {
            Some((_, c, msg)) => {
                self.log(&msg);
                c
            }
            None => code,
        };
        self.phase = Phase::Terminating {
            code,
            kill_at: Instant::now() + KILL_GRACE,
            killed: false,
        };
        self.stop_stdin();
        self.signal_all(Signal::SIGTERM);
    }

    fn signal_all(&mut self, sig: Signal) {
        for p in 0..self.proxies.len() {
            self.send(p, ToProxy::Signal(sig as i32));
        }
    }

    fn kill_now(&mut self) {
        if let Phase::Terminating { killed, .. } = &mut self.phase {
            *killed = true;
        }
        self.signal_all(Signal::SIGKILL);
    }

    fn stop_stdin(&mut self) {
        if self.stdin_open {
            self.stdin_open = false;
            let p = self.ranks[0].proxy;
            self.send(p, ToProxy::StdinEof);
        }
    }

    /// A rank failed (not by a signal): end the job with `code` after
    /// `CULPRIT_GRACE`, unless a rank's death by a signal is reported first. The
    /// first such failure is kept.
    fn suspect(&mut self, code: i32, msg: String) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        if self.suspect.is_none() {
            self.suspect = Some((Instant::now() + CULPRIT_GRACE, code, msg));
        }
    }

    /// The grace period of a reported failure is over (or nothing else can be
    /// reported: every rank has ended): it ends the job.
    fn settle_suspect(&mut self, now: Instant) {
        let due = self
            .suspect
            .as_ref()
            .is_some_and(|(until, _, _)| now >= *until || self.all_ended());
        if due {
            // terminate() logs the suspect's message and takes its code.
            self.terminate(1);
        }
    }

    fn all_ended(&self) -> bool {
        self.ranks.iter().all(|r| r.end.is_some())
    }

    fn outputs_open(&self) -> bool {
        self.ranks.iter().any(|r| {
            r.end != Some(RankEnd::Lost)
                && r.end != Some(RankEnd::NotStarted)
                && r.out.iter().any(Option::is_some)
        })
    }

    fn event_loop(mut self, guard: &mut JobGuard) -> i32 {
        let mut drain_until: Option<Instant> = None;
        loop {
            let now = Instant::now();
            self.settle_suspect(now);
            if self.all_ended() {
                let drained = drain_until.get_or_insert(now + KILL_GRACE);
                if self.finishing.is_none() && (!self.outputs_open() || now >= *drained) {
                    self.finishing = Some(now + FINISH_LIMIT);
                    for p in 0..self.proxies.len() {
                        self.send(p, ToProxy::Shutdown);
                    }
                }
            }
            if let Some(by) = self.finishing {
                self.reap_agents();
                let done = self.proxies.iter().all(|p| p.gone || p.conn.is_none())
                    && self.proxies.iter().all(|p| p.child.is_none())
                    && self.srun.is_none();
                if done || now >= by {
                    break;
                }
            }
            let mut wake: Option<Instant> = drain_until.into_iter().chain(self.finishing).min();
            if let Phase::Running = self.phase {
                wake = min_opt(wake, self.deadline);
                wake = min_opt(wake, self.suspect.as_ref().map(|s| s.0));
                for (r, t) in self.ranks.iter().zip(&self.pmi_gone) {
                    if let (None, Some(t)) = (r.end, t) {
                        if *t + CULPRIT_GRACE > now {
                            wake = min_opt(wake, Some(*t + CULPRIT_GRACE));
                        }
                    }
                }
            }
            if let Phase::Terminating {
                kill_at,
                killed: false,
                ..
            } = self.phase
            {
                wake = min_opt(wake, Some(kill_at));
            }
            for p in &self.proxies {
                if let (Some(c), false) = (&p.conn, p.gone) {
                    wake = min_opt(wake, Some(c.next_check()));
                }
            }
            if self.proxies.iter().any(|p| !p.ready && !p.gone) {
                wake = min_opt(wake, Some(self.connect_by));
            }
            let timeout = match wake {
                None => PollTimeout::NONE,
                Some(t) => {
                    let ms = t.saturating_duration_since(Instant::now()).as_millis() + 1;
                    PollTimeout::try_from(ms.min(1000)).unwrap_or(PollTimeout::MAX)
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
            self.check_proxies();
            self.settle_suspect(Instant::now());
            self.check_deadlines();
            self.check_barrier_deadlock();
            self.check_abandoned();
        }
        self.finish_outputs();
        if let Some(s) = self.server.unknown_summary() {
            self.log(&s);
        }
        // Whatever agents are left go with the guard (their process groups).
        for p in &mut self.proxies {
            if let Some(c) = p.child.as_mut() {
                guard.add_group(Pid::from_raw(c.id() as i32));
            }
        }
        match self.phase {
            Phase::Running => 0,
            Phase::Terminating { code, .. } => code,
        }
    }

    fn poll_once(&self, timeout: PollTimeout) -> nix::Result<Vec<(Token, PollFlags)>> {
        let stdin = io::stdin();
        let mut want: Vec<(Token, BorrowedFd<'_>, PollFlags)> = Vec::new();
        want.push((Token::Signal, self.sigfd.as_fd(), PollFlags::POLLIN));
        let rank0_up = self.ranks[0].pid.is_some() && self.ranks[0].end.is_none();
        if self.stdin_open && rank0_up && self.stdin_inflight < STDIN_HOLD {
            want.push((Token::Stdin, stdin.as_fd(), PollFlags::POLLIN));
        }
        if self.proxies.iter().any(|p| p.conn.is_none() && !p.gone) {
            want.push((Token::Listener, self.listener.as_fd(), PollFlags::POLLIN));
        }
        for (i, p) in self.pending.iter().enumerate() {
            want.push((Token::Pending(i), p.stream.as_fd(), PollFlags::POLLIN));
        }
        for (i, p) in self.proxies.iter().enumerate() {
            if let (Some(c), false) = (&p.conn, p.gone) {
                let mut f = PollFlags::POLLIN;
                if c.backlog() > 0 {
                    f |= PollFlags::POLLOUT;
                }
                want.push((Token::Proxy(i), c.fd(), f));
            }
        }
        crate::conn::poll_ready(&want, timeout)
    }

    fn dispatch(&mut self, token: Token, flags: PollFlags) {
        match token {
            Token::Signal => self.on_signals(),
            Token::Stdin => self.on_stdin(),
            Token::Listener => self.on_accept(),
            Token::Pending(i) => self.on_pending(i),
            Token::Proxy(p) => {
                if flags.contains(PollFlags::POLLOUT) {
                    if let Some(c) = self.proxies[p].conn.as_mut() {
                        if let Err(e) = c.flush() {
                            return self.lose(p, format!("write failed: {e}"));
                        }
                    }
                }
                if flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.on_proxy(p);
                }
            }
        }
    }

    fn on_signals(&mut self) {
        loop {
            match self.sigfd.read_signal() {
                Ok(Some(info)) => {
                    let sig = info.ssi_signo as i32;
                    if sig != Signal::SIGCHLD as i32 {
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
        self.reap_agents();
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

    /// Notice proxies (or their agents) that exited. One that exits before its
    /// proxy connected failed to start it.
    fn reap_agents(&mut self) {
        for i in 0..self.proxies.len() {
            let Some(c) = self.proxies[i].child.as_mut() else {
                continue;
            };
            let st = match c.try_wait() {
                Ok(Some(s)) => s,
                _ => continue,
            };
            self.proxies[i].child = None;
            let p = &self.proxies[i];
            if !p.ready && !p.gone && self.finishing.is_none() {
                let how = match (st.code(), st.signal()) {
                    (Some(c), _) => format!("exit code {c}"),
                    (_, Some(s)) => format!("signal {}", signal_name(s)),
                    _ => "an unknown status".into(),
                };
                let what = if p.local {
                    "the proxy".to_string()
                } else {
                    format!("the launch agent ({})", self.cfg.agent.name())
                };
                self.lose(
                    i,
                    format!("{what} ended with {how} before the proxy connected"),
                );
            }
        }
        if let Some(c) = self.srun.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                self.srun = None;
                if self.finishing.is_none() {
                    let waiting: Vec<usize> = (0..self.proxies.len())
                        .filter(|&i| !self.proxies[i].gone)
                        .collect();
                    for i in waiting {
                        self.lose(i, format!("srun (the launch agent) ended ({st})"));
                    }
                }
            }
        }
    }

    /// A proxy is gone before the job's end: its ranks' fate is unknown here
    /// (the proxy kills them when it notices), so the job ends.
    fn lose(&mut self, p: usize, why: String) {
        if self.proxies[p].gone {
            return;
        }
        self.proxies[p].gone = true;
        self.proxies[p].conn = None;
        if self.finishing.is_some() {
            return;
        }
        let open: Vec<usize> = self.proxies[p]
            .ranks
            .iter()
            .copied()
            .filter(|&r| self.ranks[r].end.is_none())
            .collect();
        for &r in &open {
            self.ranks[r].end = Some(RankEnd::Lost);
        }
        if open.is_empty() {
            return;
        }
        if matches!(self.phase, Phase::Running) {
            let host = self.host_name(p);
            self.log(&format!(
                "lost the proxy of host {host} (ranks {}): {why}; terminating the job",
                ranges(&open)
            ));
            self.terminate(1);
        }
    }

    fn check_proxies(&mut self) {
        let now = Instant::now();
        for p in 0..self.proxies.len() {
            if self.proxies[p].gone {
                continue;
            }
            let silent = self.proxies[p].conn.as_mut().is_some_and(|c| c.silent(now));
            match &self.proxies[p].conn {
                Some(_) if silent => {
                    let s = crate::conn::SILENCE_LIMIT.as_secs();
                    self.lose(
                        p,
                        format!("heard nothing from it for {s} s (host down or network cut?)"),
                    );
                }
                Some(c) if c.ping_due(now) => self.send(p, ToProxy::Ping),
                Some(_) => {}
                None if now >= self.connect_by => {
                    let s = CONNECT_LIMIT.as_secs();
                    self.lose(p, format!("it did not connect within {s} s"));
                }
                None => {}
            }
        }
        let limit = HELLO_LIMIT;
        self.pending.retain(|c| now.duration_since(c.since) < limit);
    }

    fn on_accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((s, _)) => {
                    if s.set_nonblocking(true).is_ok() {
                        self.pending.push(Pending {
                            stream: s,
                            buf: Vec::new(),
                            since: Instant::now(),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log(&format!("accepting a proxy failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Read a new connection's magic and hello; give it its launch. (`i` may be
    /// stale: an earlier token of the same poll removed an entry; the moved one is
    /// read instead, or next time.)
    fn on_pending(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        let Some(c) = self.pending.get_mut(i) else {
            return;
        };
        match read_now(c.stream.as_fd(), &mut buf) {
            Ok(None) => return,
            Ok(Some(n)) if n > 0 => c.buf.extend_from_slice(&buf[..n]),
            _ => {
                self.pending.swap_remove(i);
                return;
            }
        }
        if c.buf.len() < MAGIC.len() + 4 {
            return;
        }
        if &c.buf[..MAGIC.len()] != MAGIC {
            self.pending.swap_remove(i);
            return;
        }
        let body = &c.buf[MAGIC.len()..];
        let n = u32::from_le_bytes(body[..4].try_into().expect("4 bytes")) as usize;
        if n > 4096 {
            self.pending.swap_remove(i);
            return;
        }
        if body.len() < 4 + n {
            return;
        }
        let hello = FromProxy::decode(&body[4..4 + n]);
        let rest = body[4 + n..].to_vec();
        let c = self.pending.swap_remove(i);
        let (id, host) = match hello {
            Ok(FromProxy::Hello {
                id, host, cookie, ..
            }) if cookie == self.cookie => (id, host),
            _ => return, // a stranger: dropped
        };
        let slot = match id {
            Some(k) => (k as usize) < self.proxies.len() && !self.proxies[k as usize].ready,
            None => true,
        };
        let p = match id {
            Some(k) if slot => Some(k as usize),
            Some(_) => None,
            // srun's proxies are matched by the node name they report.
            None => self
                .proxies
                .iter()
                .position(|p| !p.ready && !p.gone && host_matches(&p.host, &host)),
        };
        let Some(p) = p else {
            self.log(&format!(
                "a proxy on {host} connected that this job did not expect; ignored"
            ));
            return;
        };
        let mut conn = match Conn::new(c.stream) {
            Ok(c) => c,
            Err(e) => return self.lose(p, format!("socket: {e}")),
        };
        if !rest.is_empty() {
            self.log(&format!(
                "the proxy of host {host} sent data before its launch; ignored"
            ));
        }
        let launch = Launch {
            kvsname: self.cfg.kvsname.clone(),
            program: self.cfg.program.clone(),
            args: self.cfg.args.clone(),
            env: self.cfg.env.clone(),
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "/".into()),
            ranks: self.proxies[p].ranks.iter().map(|&r| r as u32).collect(),
            size: self.ranks.len() as u32,
            shm_prefix: self.cfg.shm_prefix.clone(),
            kvs: self.server.committed(),
        };
        if let Err(e) = conn.send(ToProxy::Launch(Box::new(launch)).encode()) {
            return self.lose(p, format!("cannot send the launch: {e}"));
        }
        self.proxies[p].conn = Some(conn);
        self.proxies[p].ready = true;
        if !host_matches(&self.proxies[p].host, &host) && !self.proxies[p].local {
            self.proxies[p].alias = Some(host);
        }
        if !matches!(self.phase, Phase::Running) {
            // Ended before this host started: stop its ranks at once.
            self.send(p, ToProxy::Signal(Signal::SIGKILL as i32));
        }
    }

    fn on_proxy(&mut self, p: usize) {
        let frames = match self.proxies[p].conn.as_mut().map(Conn::receive) {
            Some(Ok(f)) => f,
            Some(Err(e)) => return self.lose(p, e),
            None => return,
        };
        for body in frames {
            match FromProxy::decode(&body) {
                Ok(m) => self.on_message(p, m),
                Err(e) => return self.lose(p, format!("bad message: {e}")),
            }
            if self.proxies[p].gone {
                return;
            }
        }
    }

    /// Is `r` a rank of proxy `p`? (A proxy speaks for its own ranks only.)
    fn owns(&mut self, p: usize, r: u32) -> Option<usize> {
        let r = r as usize;
        if r < self.ranks.len() && self.ranks[r].proxy == p {
            Some(r)
        } else {
            self.lose(
                p,
                format!("it spoke for rank {r}, which is not on its host"),
            );
            None
        }
    }

    fn on_message(&mut self, p: usize, m: FromProxy) {
        match m {
            FromProxy::Hello { .. } => self.lose(p, "a second hello".into()),
            FromProxy::Ping => {}
            FromProxy::Log(s) => self.log(&s),
            FromProxy::Started { rank, pid } => {
                if let Some(r) = self.owns(p, rank) {
                    self.ranks[r].pid = Some(pid);
                }
            }
            FromProxy::StartFailed { rank, code, msg } => {
                let Some(r) = self.owns(p, rank) else { return };
                for x in self.proxies[p].ranks.clone() {
                    if x >= r && self.ranks[x].end.is_none() {
                        self.ranks[x].end = Some(RankEnd::NotStarted);
                    }
                }
                if matches!(self.phase, Phase::Running) {
                    let tail = if self.ranks.len() > 1 {
                        "; terminating the job"
                    } else {
                        ""
                    };
                    let host = self.host_name(p);
                    self.log(&format!(
                        "cannot start rank {r} ({:?} on {host}): {msg}{tail}",
                        self.cfg.program
                    ));
                    self.terminate(code);
                }
            }
            FromProxy::Pmi { rank, line } => {
                if let Some(r) = self.owns(p, rank) {
                    self.on_pmi_line(r, &line);
                }
            }
            FromProxy::PmiClosed { rank, why } => {
                let Some(r) = self.owns(p, rank) else { return };
                if !self.server.finalized(r) && self.pmi_gone[r].is_none() {
                    self.pmi_gone[r] = Some(Instant::now());
                }
                if let Some(msg) = why {
                    // While the job is being ended every rank's link goes down:
                    // no line for each (the reason that ended it was given).
                    if matches!(self.phase, Phase::Running) {
                        if msg.starts_with(crate::proxy::UNREAD_REPLIES) {
                            // Its replies are lost: it can never finish PMI, and
                            // the others would wait for it.
                            self.log(&format!("rank {r}: {msg}; terminating the job"));
                            self.terminate(1);
                        } else {
                            self.log(&format!("rank {r}: {msg}; closing its PMI connection"));
                        }
                    }
                    // Already reported; it cannot finalize through a closed connection.
                    self.server.disown(r);
                }
            }
            FromProxy::Output { rank, err, data } => {
                if let Some(r) = self.owns(p, rank) {
                    self.on_output(r, err, &data);
                }
            }
            FromProxy::StdinTaken(n) => {
                self.stdin_inflight = self.stdin_inflight.saturating_sub(n as usize);
            }
            FromProxy::Exited { rank, end } => {
                if let Some(r) = self.owns(p, rank) {
                    self.on_exit(r, end);
                }
            }
        }
    }

    fn on_exit(&mut self, i: usize, end: End) {
        if self.ranks[i].end.is_some() {
            return;
        }
        self.ranks[i].end = Some(RankEnd::Exit(end));
        if i == 0 {
            self.stdin_open = false;
        }
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        let who = self.who(i);
        let others = self.ranks.iter().any(|r| r.end.is_none());
        let tail = if others { "; terminating the job" } else { "" };
        match end {
            End::Signal(sig) => {
                // The cause, even if another rank's failure was reported just
                // before (a consequence of this death).
                if let Some((_, _, msg)) = self.suspect.take() {
                    let msg = msg.trim_end_matches("; terminating the job");
                    self.log(&format!(
                        "{who} killed by signal {sig} ({}){tail} \
                         (reported just before it: {msg})",
                        signal_name(sig)
                    ));
                } else {
                    self.log(&format!(
                        "{who} killed by signal {sig} ({}){tail}",
                        signal_name(sig)
                    ));
                }
                self.terminate(128 + sig);
            }
            End::Code(0) => {}
            End::Code(code) => {
                self.suspect(code, format!("{who} exited with code {code}{tail}"));
            }
        }
    }

    /// A rank that started MPI and exited with status 0 without finalizing leaves
    /// the others waiting for it forever (Hydra calls this a bad termination too).
    /// Its proxy reads the rank's PMI connection to the end before reporting the
    /// exit, so a `finalize` still in the socket counts.
    fn check_abandoned(&mut self) {
        if !matches!(self.phase, Phase::Running) || self.all_ended() || self.suspect.is_some() {
            return;
        }
        let gone = (0..self.ranks.len()).find(|&i| {
            self.ranks[i].end == Some(RankEnd::Exit(End::Code(0)))
                && self.server.left_without_finalize(i)
        });
        if let Some(i) = gone {
            let who = self.who(i);
            self.log(&format!(
                "{who} exited without calling MPI_Finalize; terminating the job"
            ));
            self.terminate(1);
        }
    }

    /// A rank that has exited, or closed its PMI connection, without entering the
    /// barrier others wait in would leave them hanging forever.
    fn check_barrier_deadlock(&mut self) {
        if !matches!(self.phase, Phase::Running)
            || self.suspect.is_some()
            || self.server.waiting_in_barrier() == 0
        {
            return;
        }
        let now = Instant::now();
        let gone = (0..self.ranks.len()).find(|&i| {
            let closed = self.pmi_gone[i].is_some_and(|t| now >= t + CULPRIT_GRACE);
            (self.ranks[i].end.is_some() || closed) && !self.server.is_in_barrier(i)
        });
        if let Some(i) = gone {
            let who = self.who(i);
            let what = if self.ranks[i].end.is_some() {
                "exited"
            } else {
                "closed its PMI connection (the process lives on)"
            };
            self.log(&format!(
                "{who} {what} while other ranks wait for it in a PMI barrier; terminating the job"
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
        let mut buf = vec![0u8; STDIN_HOLD - self.stdin_inflight];
        match read_now(io::stdin().as_fd(), &mut buf) {
            Ok(Some(0)) | Err(_) => self.stop_stdin(),
            Ok(Some(n)) => {
                buf.truncate(n);
                self.stdin_inflight += n;
                let p = self.ranks[0].proxy;
                self.send(p, ToProxy::Stdin(buf));
            }
            Ok(None) => {}
        }
    }

    fn on_output(&mut self, i: usize, is_err: bool, data: &[u8]) {
        let slot = &mut self.ranks[i].out[is_err as usize];
        let Some(fwd) = slot else { return };
        let result = if data.is_empty() {
            let mut f = slot.take().expect("checked above");
            with_out(is_err, |out| f.finish(out))
        } else {
            with_out(is_err, |out| fwd.feed(data, out))
        };
        if let Err(e) = result {
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
        for r in &mut self.ranks {
            for (k, slot) in r.out.iter_mut().enumerate() {
                if let Some(mut f) = slot.take() {
                    let _ = with_out(k == 1, |out| f.finish(out));
                }
            }
        }
    }

    fn on_pmi_line(&mut self, i: usize, line: &str) {
        let cmd = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                self.log(&format!("rank {i}: bad PMI input: {e}"));
                return;
            }
        };
        let resp = self.server.handle(i, &cmd);
        if let Some(msg) = &resp.log {
            self.log(msg);
        }
        if let Event::Fenced(new) = &resp.event {
            // Every proxy's copy of the key space first, then the replies.
            if !new.is_empty() {
                for p in 0..self.proxies.len() {
                    self.send(p, ToProxy::Kvs(new.clone()));
                }
            }
        }
        for (to, reply) in &resp.replies {
            self.send_pmi(*to, reply);
        }
        if let Event::Abort { code, message } = resp.event {
            if matches!(self.phase, Phase::Running) {
                let who = self.who(i);
                let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
                self.suspect(
                    code,
                    format!(
                        "{who} called abort with exit code {code}{detail}; terminating the job"
                    ),
                );
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
        let p = self.ranks[to].proxy;
        self.send(
            p,
            ToProxy::Pmi {
                rank: to as u32,
                line: line.trim_end_matches('\n').to_string(),
            },
        );
    }
}

/// Does the host name a proxy reports name the host list's `want`? Either may be
/// a short or a fully qualified name.
fn host_matches(want: &str, got: &str) -> bool {
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    want.eq_ignore_ascii_case(got) || short(want) == short(got)
}

/// `0-3,7` for a sorted list of ranks.
fn ranges(v: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(",")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_group_in_order_and_local_names_merge() {
        let h: Vec<String> = ["localhost", "b", "127.0.0.1", "b", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let g = group_hosts(&h, &[true, false, true, false, false]);
        let r: Vec<(&str, Vec<usize>)> = g
            .iter()
            .map(|p| (p.host.as_str(), p.ranks.clone()))
            .collect();
        assert_eq!(
            r,
            [("localhost", vec![0, 2]), ("b", vec![1, 3]), ("c", vec![4])]
        );
    }

    #[test]
    fn rank_ranges_and_host_names() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranges(&[3]), "3");
        assert!(host_matches("n1", "n1.cluster"));
        assert!(host_matches("N1.cluster", "n1"));
        assert!(!host_matches("n1", "n11"));
    }
}
