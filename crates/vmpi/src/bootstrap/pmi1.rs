//! PMI-1 (simple PMI v1.1) client. One command per write, then wait for its reply;
//! never pipeline (Slurm and Hydra read one command per read()). Connects over the
//! inherited `PMI_FD`, or to `PMI_PORT` with `PMI_ID` as MPICH's simple PMI does.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use vmpi_pmi::wire::{Command, MAX_LINE};

/// A stream to the process manager.
enum Stream {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

impl Stream {
    fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(b),
            Stream::Tcp(s) => s.write_all(b),
        }
    }
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(b),
            Stream::Tcp(s) => s.read(b),
        }
    }
    fn set_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tcp(s) => s.set_read_timeout(t),
        }
    }
}

pub struct Client {
    stream: Stream,
    pending: Vec<u8>,
    pub rank: usize,
    pub size: usize,
    pub kvsname: String,
}

fn env_num(name: &str) -> Result<Option<usize>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            Error::other(format!(
                "MPI_Init: environment variable {name}={v} is not a number"
            ))
        }),
    }
}

/// How long to wait for a reply that should come at once.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

impl Client {
    /// Connect if the environment names a PMI-1 server; Ok(None) for a singleton.
    pub fn from_env() -> Result<Option<Client>> {
        let stream = if let Some(fd) = env_num("PMI_FD")? {
            // The fd must be an open socket we inherited.
            let fd = super::check_pmi_fd(fd)?;
            // Keep it from leaking into programs the rank starts.
            let _ = nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
            // SAFETY: the process manager gave this descriptor to us alone (PMI_FD);
            // check_pmi_fd found an open socket that is not stdin/stdout/stderr, and
            // nothing else in this process owns it.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            Stream::Unix(std::os::unix::net::UnixStream::from(owned))
        } else if let Ok(port) = std::env::var("PMI_PORT") {
            let s = std::net::TcpStream::connect(&port).map_err(|e| {
                Error::other(format!("MPI_Init: cannot connect to PMI_PORT={port}: {e}"))
            })?;
            let _ = s.set_nodelay(true);
            Stream::Tcp(s)
        } else {
            return Ok(None);
        };
        let mut c = Client {
            stream,
            pending: Vec::new(),
            rank: 0,
            size: 1,
            kvsname: String::new(),
        };
        if let (Some(id), true) = (env_num("PMI_ID")?, matches!(c.stream, Stream::Tcp(_))) {
            // MPICH simple PMI over a port: identify, then the server sets size and rank.
            c.send(&Command::new("initack").arg("pmiid", id))?;
            c.expect("initack")?;
            for _ in 0..3 {
                let set = c.recv(REPLY_TIMEOUT)?;
                if set.cmd != "set" {
                    return Err(Error::other(format!(
                        "MPI_Init: PMI server sent {} during initack",
                        set.cmd
                    )));
                }
                if let Some(v) = set.get("size") {
                    c.size = v
                        .parse()
                        .map_err(|_| Error::other("MPI_Init: bad PMI size"))?;
                }
                if let Some(v) = set.get("rank") {
                    c.rank = v
                        .parse()
                        .map_err(|_| Error::other("MPI_Init: bad PMI rank"))?;
                }
            }
        } else {
            c.rank = env_num("PMI_RANK")?
                .ok_or_else(|| Error::other("MPI_Init: PMI_FD is set but PMI_RANK is not"))?;
            c.size = env_num("PMI_SIZE")?
                .ok_or_else(|| Error::other("MPI_Init: PMI_FD is set but PMI_SIZE is not"))?;
        }
        let r = c.call(
            Command::new("init")
                .arg("pmi_version", 1)
                .arg("pmi_subversion", 1),
            "response_to_init",
        )?;
        check_rc(&r, "init")?;
        let r = c.call(Command::new("get_maxes"), "maxes")?;
        check_rc(&r, "get_maxes")?;
        let r = c.call(Command::new("get_my_kvsname"), "my_kvsname")?;
        check_rc(&r, "get_my_kvsname")?;
        c.kvsname = r
            .get("kvsname")
            .ok_or_else(|| Error::other("MPI_Init: PMI server sent no kvsname"))?
            .to_string();
        if c.rank >= c.size {
            return Err(Error::other(format!(
                "MPI_Init: PMI rank {} is not below size {}",
                c.rank, c.size
            )));
        }
        Ok(Some(c))
    }

    fn send(&mut self, cmd: &Command) -> Result<()> {
        let line = cmd
            .encode()
            .map_err(|e| Error::intern(format!("PMI {}: {e}", cmd.cmd)))?;
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| Error::other(format!("PMI {}: lost the process manager: {e}", cmd.cmd)))
    }

    fn recv(&mut self, timeout: Duration) -> Result<Command> {
        self.stream
            .set_timeout(Some(timeout))
            .map_err(|e| Error::other(format!("PMI: {e}")))?;
        loop {
            if let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=nl).collect();
                let text = String::from_utf8(line)
                    .map_err(|_| Error::other("PMI: the process manager sent non-UTF-8"))?;
                return Command::parse(&text)
                    .map_err(|e| Error::other(format!("PMI: bad reply {text:?}: {e}")));
            }
            if self.pending.len() > MAX_LINE {
                return Err(Error::other("PMI: reply line longer than 1024 bytes"));
            }
            let mut buf = [0u8; 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(Error::other(
                        "PMI: the process manager closed the connection (job aborted?)",
                    ))
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::other(format!(
                        "PMI: no reply from the process manager in {} s",
                        timeout.as_secs()
                    )))
                }
                Err(e) => return Err(Error::other(format!("PMI: read: {e}"))),
            }
        }
    }

    fn expect(&mut self, what: &str) -> Result<Command> {
        let r = self.recv(REPLY_TIMEOUT)?;
        if r.cmd != what {
            return Err(Error::other(format!(
                "PMI: expected {what}, the process manager sent {}",
                r.cmd
            )));
        }
        Ok(r)
    }

    fn call(&mut self, cmd: Command, reply: &str) -> Result<Command> {
        self.send(&cmd)?;
        self.expect(reply)
    }

    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        // The wire escapes them, but Hydra 4.0 stores a value only up to its
        // first space and returns backslashes as they came: keep stored values
        // free of both, so every server gives back what was put.
        if let Some(c) = value.chars().find(|c| matches!(c, ' ' | '\\')) {
            return Err(Error::intern(format!(
                "PMI put of key {key}: the value holds {c:?}, which not every PMI-1 server stores faithfully"
            )));
        }
        let kvs = self.kvsname.clone();
        let r = self.call(
            Command::new("put")
                .arg("kvsname", kvs)
                .arg("key", key)
                .arg("value", value),
            "put_result",
        )?;
        check_rc(&r, "put")
    }

    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        let kvs = self.kvsname.clone();
        let r = self.call(
            Command::new("get").arg("kvsname", kvs).arg("key", key),
            "get_result",
        )?;
        match r.get("rc") {
            Some("0") => Ok(Some(r.get("value").unwrap_or("").to_string())),
            _ => Ok(None),
        }
    }

    pub fn barrier(&mut self) -> Result<()> {
        self.send(&Command::new("barrier_in"))?;
        // Other ranks may be slow to start (oversubscribed, under a debugger): no limit
        // beyond a day; the launcher's own timeout ends a job that hangs.
        let r = self.recv(Duration::from_secs(86400))?;
        if r.cmd != "barrier_out" {
            return Err(Error::other(format!(
                "PMI: expected barrier_out, got {}",
                r.cmd
            )));
        }
        check_rc(&r, "barrier")
    }

    pub fn abort(&mut self, code: i32, msg: &str) -> Result<()> {
        let (text, whole) = abort_message(code, msg);
        // vmpi's mpirun (which sets VMPI_LAUNCHER_ADDR) prints the reason it gets;
        // Hydra does not, so elsewhere, or when the reason is too long for one
        // PMI line, the whole reason goes to our stderr (which launchers forward).
        if !whole || std::env::var_os("VMPI_LAUNCHER_ADDR").is_none() {
            eprintln!("vmpi: rank {}: abort({code}): {msg}", self.rank);
        }
        self.send(
            &Command::new("abort")
                .arg("exitcode", code)
                .arg("message", text),
        )?;
        // No reply: the process manager kills us. Give it a moment, then leave.
        std::thread::sleep(Duration::from_secs(5));
        std::process::exit(code)
    }

    pub fn finalize(&mut self) -> Result<()> {
        let r = self.call(Command::new("finalize"), "finalize_ack")?;
        check_rc(&r, "finalize")
    }
}

/// The abort reason as it fits one PMI-1 line (spaces travel escaped, line breaks
/// become spaces), and whether it is whole: a longer one is cut at a character
/// boundary and says so.
fn abort_message(code: i32, msg: &str) -> (String, bool) {
    let flat: String = msg
        .chars()
        .map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c })
        .collect();
    let fits = |t: &str| {
        Command::new("abort")
            .arg("exitcode", code)
            .arg("message", t)
            .encode()
            .is_ok()
    };
    if fits(&flat) {
        return (flat, true);
    }
    const CUT: &str = " ... (cut; the whole reason is on the rank's stderr)";
    let mut end = flat.len().min(MAX_LINE);
    loop {
        end = end.saturating_sub(16);
        while !flat.is_char_boundary(end) {
            end -= 1;
        }
        let t = format!("{}{CUT}", &flat[..end]);
        if fits(&t) || end == 0 {
            return (t, false);
        }
    }
}

fn check_rc(r: &Command, what: &str) -> Result<()> {
    match r.get("rc") {
        Some("0") | None => Ok(()),
        Some(rc) => Err(Error::other(format!(
            "PMI {what} failed: rc={rc} {}",
            r.get("msg").unwrap_or("")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_message_keeps_spaces_and_length() {
        let m = "MPI_Send(MPI_COMM_WORLD): invalid count -1\nsecond line";
        let (t, whole) = abort_message(7, m);
        assert!(whole);
        assert_eq!(t, "MPI_Send(MPI_COMM_WORLD): invalid count -1 second line");
        let line = Command::new("abort")
            .arg("exitcode", 7)
            .arg("message", &t)
            .encode()
            .unwrap();
        assert_eq!(
            Command::parse(&line).unwrap().get("message"),
            Some(t.as_str())
        );
        // 700 characters with spaces fit whole (the old client cut at 200).
        let long = "word ".repeat(140);
        assert_eq!(abort_message(1, &long), (long.clone(), true));
        // Too long for a line: cut at a character boundary, and said so.
        let huge = "é ".repeat(2000);
        let (t, whole) = abort_message(1, &huge);
        assert!(!whole && t.ends_with("stderr)") && t.len() > 400, "{t}");
    }
}
