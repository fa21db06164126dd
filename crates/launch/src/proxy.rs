//! `vmpi-proxy`: the launcher's agent on one host. mpirun starts one per host
//! (forked on mpirun's own host, through ssh / rsh / a user command / srun on the
//! others); it connects back to mpirun, receives the launch, starts its ranks
//! (each in its own process group with a PMI socket as `PMI_FD`), and then one
//! poll loop serves them:
//! - PMI: `get` is answered from the proxy's copy of the committed key space
//!   (mpirun sends what each barrier commits before the barrier's replies), every
//!   other command goes to mpirun, whose server keeps the key space and barrier;
//! - stdout / stderr chunks go to mpirun (which cuts them into lines), stdin
//!   comes from mpirun for rank 0;
//! - exits go to mpirun; signals from mpirun go to every rank's process group.
//!
//! When mpirun goes away (the connection closes, or stays silent past
//! `conn::SILENCE_LIMIT`: host down, network cut), or the proxy is told to stop,
//! it kills its ranks (SIGTERM, then SIGKILL), removes the job's /dev/shm files
//! on this host and exits: nothing outlives a job on any host.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::unistd::Pid;
use vmpi_pmi::wire::{Command, LineBuffer};

use crate::cleanup::{remove_shm, shm_dirs, signal_group};
use crate::conn::{read_now, signal_fd, write_now, Conn};
use crate::pmi_server::answer_get;
use crate::proto::{End, FromProxy, Launch, ToProxy, MAGIC};
use crate::spawn::{spawn_rank, RankSpec};

/// Time between SIGTERM and SIGKILL when the proxy tears its ranks down alone.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for mpirun's launch message after connecting.
const LAUNCH_WAIT: Duration = Duration::from_secs(60);
/// Output and PMI commands are not read while this much waits to go to mpirun
/// (backpressure).
const OUT_HIGH_WATER: usize = 4 << 20;
const READ_CHUNK: usize = 64 * 1024;
/// PMI replies a rank may leave unread before its connection is closed (a client
/// that never reads must not make the proxy hold without limit).
const PMI_OUT_LIMIT: usize = 1 << 20;
/// How a `PmiClosed` reason starts when a rank passed [`PMI_OUT_LIMIT`]: its PMI
/// stream is lost, so mpirun ends the job.
pub const UNREAD_REPLIES: &str = "it leaves its PMI replies unread";

/// The proxy's command line: `--control HOST:PORT[,HOST:PORT...] --cookie HEX
/// [--id N]` (the addresses are tried in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyArgs {
    pub control: String,
    pub cookie: u64,
    pub id: Option<u32>,
}

pub fn parse_args(args: &[String]) -> Result<ProxyArgs, String> {
    let (mut control, mut cookie, mut id) = (None, None, None);
    let mut i = 0;
    while i < args.len() {
        let v = args
            .get(i + 1)
            .ok_or_else(|| format!("option {} needs a value", args[i]))?;
        match args[i].as_str() {
            "--control" => control = Some(v.clone()),
            "--cookie" => {
                cookie = Some(
                    u64::from_str_radix(v, 16)
                        .map_err(|_| format!("--cookie: expected hex digits, got {v:?}"))?,
                )
            }
            "--id" => {
                id = Some(
                    v.parse()
                        .map_err(|_| format!("--id: expected a number, got {v:?}"))?,
                )
            }
            o => return Err(format!("unknown option {o:?}")),
        }
        i += 2;
    }
    Ok(ProxyArgs {
        control: control.ok_or("--control HOST:PORT is required")?,
        cookie: cookie.ok_or("--cookie is required")?,
        id,
    })
}

struct PmiConn {
    fd: OwnedFd,
    input: LineBuffer,
    output: Vec<u8>,
    close_when_flushed: bool,
}

struct Local {
    world: u32,
    child: Option<Child>,
    pid: Option<Pid>,
    ended: bool,
    pmi: Option<PmiConn>,
    out: [Option<OwnedFd>; 2],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Signal,
    Control,
    Stdin,
    Pmi(usize),
    Out(usize, usize),
}

struct Proxy {
    conn: Conn,
    launch: Launch,
    kvs: HashMap<String, String>,
    ranks: Vec<Local>,
    by_world: HashMap<u32, usize>,
    sigfd: SignalFd,
    stdin: Option<OwnedFd>,
    stdin_buf: Vec<u8>,
    stdin_eof: bool,
    /// Why the proxy is going away on its own, and when to SIGKILL.
    leaving: Option<(String, Instant, bool)>,
    shutdown: bool,
}

fn log(msg: &str) {
    eprintln!("vmpi-proxy ({}): {msg}", hostname());
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into())
}

/// The host name a proxy reports: Slurm's node name where srun started it,
/// else the kernel's.
fn reported_host() -> String {
    std::env::var("SLURMD_NODENAME").unwrap_or_else(|_| hostname())
}

/// Connect to mpirun at the first of `list` (`HOST:PORT`, comma-separated) that
/// answers.
fn connect(list: &str) -> Result<TcpStream, String> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in list.split(',').filter(|a| !a.is_empty()) {
        match addr.to_socket_addrs() {
            Ok(a) => addrs.extend(a),
            Err(e) => eprintln!("vmpi-proxy: cannot resolve mpirun's address {addr}: {e}"),
        }
    }
    let mut last = format!("no usable address in {list}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to mpirun at {a}: {e}"),
        }
    }
    Err(last)
}

/// Read one frame, blocking up to `limit`.
fn read_frame(s: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, String> {
    s.set_read_timeout(Some(limit))
        .map_err(|e| format!("socket: {e}"))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| format!("waiting for mpirun's launch message: {e}"))?;
    let n = u32::from_le_bytes(len) as usize;
    if n > crate::proto::MAX_FRAME {
        return Err(format!("mpirun sent a frame of {n} bytes"));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body)
        .map_err(|e| format!("reading mpirun's launch message: {e}"))?;
    Ok(body)
}

/// The `main` of `vmpi-proxy`; returns its exit code.
pub fn main_proxy(args: &[String]) -> i32 {
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            log(&format!(
                "{e} (usage: vmpi-proxy --control HOST:PORT --cookie HEX [--id N])"
            ));
            return 2;
        }
    };
    let sigfd = match signal_fd() {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot set up signal handling: {e}"));
            return 1;
        }
    };
    let mut stream = match connect(&a.control) {
        Ok(s) => s,
        Err(e) => {
            log(&e);
            return 1;
        }
    };
    let hello = FromProxy::Hello {
        id: a.id,
        host: reported_host(),
        pid: std::process::id(),
        cookie: a.cookie,
    };
    if let Err(e) = stream
        .write_all(MAGIC)
        .and_then(|_| stream.write_all(&hello.encode()))
    {
        log(&format!("cannot greet mpirun at {}: {e}", a.control));
        return 1;
    }
    let launch = match read_frame(&mut stream, LAUNCH_WAIT).and_then(|b| ToProxy::decode(&b)) {
        Ok(ToProxy::Launch(l)) => *l,
        Ok(ToProxy::Shutdown) => return 0,
        Ok(other) => {
            log(&format!(
                "expected a launch message from mpirun, got {other:?}"
            ));
            return 1;
        }
        Err(e) => {
            log(&e);
            return 1;
        }
    };
    let conn = match Conn::new(stream) {
        Ok(c) => c,
        Err(e) => {
            log(&format!("socket: {e}"));
            return 1;
        }
    };
    let mut p = Proxy {
        conn,
        kvs: launch.kvs.iter().cloned().collect(),
        ranks: Vec::new(),
        by_world: HashMap::new(),
        launch,
        sigfd,
        stdin: None,
        stdin_buf: Vec::new(),
        stdin_eof: false,
        leaving: None,
        shutdown: false,
    };
    p.start_ranks();
    p.run()
}

impl Proxy {
    fn send(&mut self, m: FromProxy) {
        if self.leaving.is_some() {
            return;
        }
        if let Err(e) = self.conn.send(m.encode()) {
            self.leave(format!("lost mpirun: write failed: {e}"));
        }
    }

    /// Stop on our own: mpirun is gone.
    fn leave(&mut self, why: String) {
        if self.leaving.is_none() {
            log(&format!("{why}; killing this host's ranks"));
            self.leaving = Some((why, Instant::now() + KILL_GRACE, false));
            self.signal_ranks(Signal::SIGTERM);
        }
    }

    fn signal_ranks(&self, sig: Signal) {
        for r in &self.ranks {
            if let (Some(pid), false) = (r.pid, r.ended) {
                let _ = signal_group(pid, sig);
            }
        }
    }

    fn start_ranks(&mut self) {
        let l = self.launch.clone();
        let mut env: Vec<(String, String)> = l.env.clone();
        // The ranks publish first the address of the interface that reaches
        // mpirun (the library's TCP card; VMPI_TCP_IF overrides).
        if let Ok(std::net::SocketAddr::V4(a)) = self.conn.peer_addr() {
            env.retain(|(k, _)| k != "VMPI_LAUNCHER_ADDR");
            env.push(("VMPI_LAUNCHER_ADDR".into(), a.ip().to_string()));
        }
        let cwd = std::path::Path::new(&l.cwd);
        let cwd_ok = cwd.is_dir();
        if !cwd_ok {
            self.send(FromProxy::Log(format!(
                "vmpi-proxy ({}): mpirun's working directory {} does not exist here; the ranks start in {}",
                hostname(),
                l.cwd,
                std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()
            )));
        } else if let Err(e) = std::env::set_current_dir(cwd) {
            self.send(FromProxy::Log(format!(
                "vmpi-proxy ({}): cannot enter {}: {e}",
                hostname(),
                l.cwd
            )));
        }
        for (i, &w) in l.ranks.iter().enumerate() {
            self.by_world.insert(w, i);
            let spec = RankSpec {
                rank: w as usize,
                size: l.size as usize,
                host: hostname(),
                local_rank: i,
                local_size: l.ranks.len(),
            };
            let inherited = env.iter().map(|(k, v)| (k.into(), v.into()));
            match spawn_rank(
                &l.program,
                &l.args,
                inherited,
                &[],
                &spec,
                &l.kvsname,
                w == 0,
            ) {
                Ok(s) => {
                    let pid = Pid::from_raw(s.child.id() as i32);
                    if let Some(fd) = s.stdin {
                        self.stdin = Some(fd);
                    }
                    self.ranks.push(Local {
                        world: w,
                        child: Some(s.child),
                        pid: Some(pid),
                        ended: false,
                        pmi: Some(PmiConn {
                            fd: s.pmi,
                            input: LineBuffer::new(),
                            output: Vec::new(),
                            close_when_flushed: false,
                        }),
                        out: [Some(s.stdout), Some(s.stderr)],
                    });
                    self.send(FromProxy::Started {
                        rank: w,
                        pid: pid.as_raw() as u32,
                    });
                }
                Err(e) => {
                    let code = match e.kind() {
                        io::ErrorKind::NotFound => 127,
                        io::ErrorKind::PermissionDenied => 126,
                        _ => 1,
                    };
                    self.ranks.push(Local {
                        world: w,
                        child: None,
                        pid: None,
                        ended: true,
                        pmi: None,
                        out: [None, None],
                    });
                    self.send(FromProxy::StartFailed {
                        rank: w,
                        code,
                        msg: e.to_string(),
                    });
                    // mpirun terminates the job; the rest need not start.
                    for &w2 in &l.ranks[i + 1..] {
                        self.by_world.insert(w2, self.ranks.len());
                        self.ranks.push(Local {
                            world: w2,
                            child: None,
                            pid: None,
                            ended: true,
                            pmi: None,
                            out: [None, None],
                        });
                    }
                    break;
                }
            }
        }
    }

    fn run(mut self) -> i32 {
        loop {
            let all_ended = self.ranks.iter().all(|r| r.ended);
            if self.shutdown || (self.leaving.is_some() && all_ended) {
                break;
            }
            if let Some((_, at, false)) = &self.leaving {
                if Instant::now() >= *at {
                    self.signal_ranks(Signal::SIGKILL);
                    if let Some(l) = &mut self.leaving {
                        l.2 = true;
                    }
                }
            }
            let now = Instant::now();
            if self.leaving.is_none() {
                if self.conn.silent(now) {
                    self.leave(format!(
                        "heard nothing from mpirun for {} s (its host down or the network cut?)",
                        crate::conn::SILENCE_LIMIT.as_secs()
                    ));
                    continue;
                }
                if self.conn.ping_due(now) {
                    self.send(FromProxy::Ping);
                }
            }
            let mut wake = self.conn.next_check();
            if let Some((_, at, false)) = &self.leaving {
                wake = wake.min(*at);
            }
            let ms = wake.saturating_duration_since(Instant::now()).as_millis() + 1;
            let timeout = PollTimeout::try_from(ms.min(1000)).unwrap_or(PollTimeout::MAX);
            let ready = match self.poll_once(timeout) {
                Ok(r) => r,
                Err(e) => {
                    self.leave(format!("poll failed: {e}"));
                    Vec::new()
                }
            };
            for (t, f) in ready {
                self.dispatch(t, f);
            }
        }
        self.finish()
    }

    /// The end: kill what is left in the ranks' groups, remove the job's files.
    fn finish(mut self) -> i32 {
        for r in &self.ranks {
            if let Some(pid) = r.pid {
                let _ = signal_group(pid, Signal::SIGKILL);
            }
        }
        for r in &mut self.ranks {
            if let Some(c) = r.child.as_mut() {
                let _ = c.wait();
            }
        }
        for e in remove_shm(&shm_dirs(&self.launch.env), &self.launch.shm_prefix) {
            log(&e);
        }
        let _ = self.conn.flush();
        if self.leaving.is_some() {
            1
        } else {
            0
        }
    }

    fn poll_once(&self, timeout: PollTimeout) -> nix::Result<Vec<(Token, PollFlags)>> {
        let mut want: Vec<(Token, BorrowedFd<'_>, PollFlags)> = Vec::new();
        want.push((Token::Signal, self.sigfd.as_fd(), PollFlags::POLLIN));
        if self.leaving.is_none() {
            let mut f = PollFlags::POLLIN;
            if self.conn.backlog() > 0 {
                f |= PollFlags::POLLOUT;
            }
            want.push((Token::Control, self.conn.fd(), f));
        }
        if let Some(fd) = &self.stdin {
            if !self.stdin_buf.is_empty() {
                want.push((Token::Stdin, fd.as_fd(), PollFlags::POLLOUT));
            }
        }
        let read_out = self.conn.backlog() < OUT_HIGH_WATER;
        for (i, r) in self.ranks.iter().enumerate() {
            if let Some(c) = &r.pmi {
                // A rank's PMI commands wait in its socket, as its output does,
                // while mpirun has not taken what this proxy already sent.
                let mut f = if read_out {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                };
                if !c.output.is_empty() {
                    f |= PollFlags::POLLOUT;
                }
                want.push((Token::Pmi(i), c.fd.as_fd(), f));
            }
            for (k, o) in r.out.iter().enumerate() {
                if let (Some(fd), true) = (o, read_out) {
                    want.push((Token::Out(i, k), fd.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        crate::conn::poll_ready(&want, timeout)
    }

    fn dispatch(&mut self, t: Token, f: PollFlags) {
        match t {
            Token::Signal => self.on_signals(),
            Token::Control => {
                if f.contains(PollFlags::POLLOUT) {
                    if let Err(e) = self.conn.flush() {
                        return self.leave(format!("lost mpirun: write failed: {e}"));
                    }
                }
                if f.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.on_control();
                }
            }
            Token::Stdin => self.flush_stdin(),
            Token::Pmi(i) => {
                if f.contains(PollFlags::POLLOUT) {
                    self.flush_pmi(i);
                }
                if f.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    self.read_pmi(i);
                }
            }
            Token::Out(i, k) => {
                self.read_output(i, k);
            }
        }
    }

    fn on_signals(&mut self) {
        loop {
            match self.sigfd.read_signal() {
                Ok(Some(info)) => {
                    let sig = info.ssi_signo as i32;
                    if sig != Signal::SIGCHLD as i32 {
                        // The agent (ssh, srun) or the host is stopping us.
                        self.leave(format!("received {}", crate::conn::signal_name(sig)));
                    }
                }
                Ok(None) => break,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        self.reap();
    }

    fn reap(&mut self) {
        for i in 0..self.ranks.len() {
            if self.ranks[i].ended {
                continue;
            }
            let Some(child) = self.ranks[i].child.as_mut() else {
                continue;
            };
            let st = match child.try_wait() {
                Ok(Some(s)) => s,
                _ => continue,
            };
            self.ranks[i].ended = true;
            let end = match st.signal() {
                Some(s) => End::Signal(s),
                None => End::Code(st.code().unwrap_or(1)),
            };
            let rank = self.ranks[i].world;
            if rank == 0 {
                self.stdin = None;
                self.stdin_buf.clear();
            }
            // What is still in its PMI connection and pipes goes first (one
            // connection to mpirun, in order): a `finalize` there counts.
            while self.read_pmi(i) {}
            for k in 0..2 {
                while self.ranks[i].out[k].is_some() {
                    if !self.read_output(i, k) {
                        break;
                    }
                }
            }
            self.send(FromProxy::Exited { rank, end });
        }
    }

    fn on_control(&mut self) {
        let frames = match self.conn.receive() {
            Ok(f) => f,
            Err(e) => return self.leave(format!("lost mpirun: {e}")),
        };
        for body in frames {
            let m = match ToProxy::decode(&body) {
                Ok(m) => m,
                Err(e) => return self.leave(format!("bad message from mpirun: {e}")),
            };
            match m {
                ToProxy::Launch(_) => self.send(FromProxy::Log(
                    "vmpi-proxy: a second launch message ignored".into(),
                )),
                ToProxy::Pmi { rank, line } => self.pmi_reply(rank, line),
                ToProxy::Kvs(pairs) => self.kvs.extend(pairs),
                ToProxy::Stdin(d) => {
                    if self.stdin.is_some() {
                        self.stdin_buf.extend_from_slice(&d);
                        self.flush_stdin();
                    } else {
                        self.send(FromProxy::StdinTaken(d.len() as u32));
                    }
                }
                ToProxy::StdinEof => {
                    self.stdin_eof = true;
                    if self.stdin_buf.is_empty() {
                        self.stdin = None;
                    }
                }
                ToProxy::Signal(s) => {
                    if let Ok(sig) = Signal::try_from(s) {
                        self.signal_ranks(sig);
                    }
                }
                ToProxy::Shutdown => self.shutdown = true,
                ToProxy::Ping => {}
            }
        }
    }

    fn flush_stdin(&mut self) {
        let Some(fd) = &self.stdin else {
            return;
        };
        match write_now(fd.as_fd(), &self.stdin_buf) {
            Ok(n) => {
                self.stdin_buf.drain(..n);
                if n > 0 {
                    self.send(FromProxy::StdinTaken(n as u32));
                }
                if self.stdin_buf.is_empty() && self.stdin_eof {
                    self.stdin = None;
                }
            }
            Err(_) => {
                // Rank 0 closed its stdin: what is held will never be taken.
                let n = self.stdin_buf.len() as u32;
                self.stdin = None;
                self.stdin_buf.clear();
                self.send(FromProxy::StdinTaken(n));
            }
        }
    }

    /// Read one chunk of a rank's output and pass it on; false when nothing
    /// more is there now (or the stream ended).
    fn read_output(&mut self, i: usize, k: usize) -> bool {
        let mut buf = vec![0u8; READ_CHUNK];
        let Some(fd) = &self.ranks[i].out[k] else {
            return false;
        };
        let rank = self.ranks[i].world;
        match read_now(fd.as_fd(), &mut buf) {
            Ok(None) => false,
            Ok(Some(0)) | Err(_) => {
                self.ranks[i].out[k] = None;
                // An empty chunk: the stream ended.
                self.send(FromProxy::Output {
                    rank,
                    err: k == 1,
                    data: Vec::new(),
                });
                false
            }
            Ok(Some(n)) => {
                buf.truncate(n);
                self.send(FromProxy::Output {
                    rank,
                    err: k == 1,
                    data: buf,
                });
                true
            }
        }
    }

    fn close_pmi(&mut self, i: usize, why: Option<String>) {
        self.ranks[i].pmi = None;
        let rank = self.ranks[i].world;
        self.send(FromProxy::PmiClosed { rank, why });
    }

    /// Read what a rank's PMI connection holds and serve its commands; false
    /// when nothing more is there now (or the connection ended).
    fn read_pmi(&mut self, i: usize) -> bool {
        let mut buf = [0u8; 4096];
        let Some(c) = &mut self.ranks[i].pmi else {
            return false;
        };
        match read_now(c.fd.as_fd(), &mut buf) {
            Ok(None) => return false,
            Ok(Some(0)) => {
                let partial = c.input.pending();
                let why = (partial > 0).then(|| {
                    format!("PMI connection closed after a partial line of {partial} bytes")
                });
                self.close_pmi(i, why);
                return false;
            }
            Ok(Some(n)) => c.input.push(&buf[..n]),
            // A rank that ends with replies unread resets its socket: that is its
            // end (reported with its exit), not a PMI failure worth a line.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                self.close_pmi(i, None);
                return false;
            }
            Err(e) => {
                self.close_pmi(i, Some(format!("PMI read failed: {e}")));
                return false;
            }
        }
        let rank = self.ranks[i].world;
        loop {
            let Some(c) = &mut self.ranks[i].pmi else {
                return false;
            };
            let line = match c.input.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return true,
                Err(e) => {
                    self.close_pmi(i, Some(format!("bad PMI input: {e}")));
                    return false;
                }
            };
            let cmd = match Command::parse(&line) {
                Ok(c) => c,
                Err(e) => {
                    self.close_pmi(i, Some(format!("bad PMI input: {e}")));
                    return false;
                }
            };
            if cmd.cmd == "get" {
                let reply = answer_get(&self.launch.kvsname, &self.kvs, &cmd);
                match reply.encode() {
                    Ok(l) => self.pmi_reply(rank, l.trim_end_matches('\n').to_string()),
                    Err(e) => self.send(FromProxy::Log(format!(
                        "vmpi-proxy: cannot encode a PMI reply to rank {rank}: {e}"
                    ))),
                }
            } else {
                self.send(FromProxy::Pmi { rank, line });
            }
        }
    }

    fn pmi_reply(&mut self, rank: u32, line: String) {
        let Some(&i) = self.by_world.get(&rank) else {
            return;
        };
        let Some(c) = &mut self.ranks[i].pmi else {
            return;
        };
        if line.starts_with("cmd=finalize_ack") {
            c.close_when_flushed = true;
        }
        c.output.extend_from_slice(line.as_bytes());
        c.output.push(b'\n');
        self.flush_pmi(i);
        let waiting = self.ranks[i].pmi.as_ref().map_or(0, |c| c.output.len());
        if waiting > PMI_OUT_LIMIT {
            self.close_pmi(
                i,
                Some(format!("{UNREAD_REPLIES} ({waiting} bytes waiting)")),
            );
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
            // The rank is gone (its exit is reported on its own).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                self.close_pmi(i, None)
            }
            Err(e) => self.close_pmi(i, Some(format!("PMI write failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse_args(&s(&[
            "--control",
            "10.0.0.1:5",
            "--cookie",
            "ff",
            "--id",
            "3",
        ]))
        .unwrap();
        assert_eq!(
            a,
            ProxyArgs {
                control: "10.0.0.1:5".into(),
                cookie: 255,
                id: Some(3)
            }
        );
        assert_eq!(
            parse_args(&s(&["--control", "h:1", "--cookie", "1"]))
                .unwrap()
                .id,
            None
        );
        assert!(parse_args(&s(&["--control", "h:1"]))
            .unwrap_err()
            .contains("cookie"));
        assert!(parse_args(&s(&["--cookie", "zz", "--control", "h:1"])).is_err());
        assert!(parse_args(&s(&["--bogus", "1"])).is_err());
        assert!(parse_args(&s(&["--id"])).is_err());
    }
}
