//! PMI-2 client over `PMI_FD`, for Slurm's `mpi/pmi2` plugin (`srun --mpi=pmi2`).
//!
//! The wire rules learned against Slurm 22.05 (crate `vmpi-pmi`, module `wire2`):
//! the first message is one PMI-1 line `cmd=init pmi_version=2 pmi_subversion=0`
//! whose reply is a PMI-1 line; after it every message is a 6-byte `%-6d` length and
//! a `cmd=...;key=value;` body, read with exact reads; one request at a time, each
//! reply awaited with a timeout (a server drops what it does not understand without
//! a word). Values are at most 1024 bytes and cannot hold `;`: this client escapes
//! `%` and `;` in values (`%25`, `%3B`) and unescapes what it gets, so callers may
//! put any value that fits. Only `PMI_process_mapping` and `universeSize` are asked
//! with `info-getjobattr` (Slurm answers junk for some unknown keys).

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use vmpi_pmi::wire2::{Message, HEADER, MAX_VALUE};

/// How long to wait for a reply that should come at once.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// A fence waits for the slowest rank (oversubscribed, under a debugger): no limit
/// beyond a day; srun's own time limit ends a job that hangs.
const FENCE_TIMEOUT: Duration = Duration::from_secs(86400);

pub struct Client {
    stream: UnixStream,
    pub rank: usize,
    pub size: usize,
    /// The job id (`job-getid`), used as the kvsname.
    pub kvsname: String,
    /// `PMI_process_mapping`, e.g. `(vector,(0,3,2))`.
    pub mapping: Option<String>,
    /// `universeSize`.
    pub universe: Option<usize>,
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

/// `%` and `;` as `%25` and `%3B` (Slurm has no escaping of its own).
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' => s.push_str("%25"),
            ';' => s.push_str("%3B"),
            c => s.push(c),
        }
    }
    s
}

/// The inverse of [`escape`]; a `%` not followed by `25` or `3B` is kept as it is.
pub fn unescape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('%') {
        s.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("%25") {
            s.push('%');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("%3B") {
            s.push(';');
            rest = t;
        } else {
            s.push('%');
            rest = &tail[1..];
        }
    }
    s.push_str(rest);
    s
}

impl Client {
    /// Connect over the inherited `PMI_FD` (the caller decided that it is PMI-2).
    pub fn from_env() -> Result<Client> {
        let fd = env_num("PMI_FD")?.ok_or_else(|| Error::other("MPI_Init: PMI_FD is not set"))?;
        let fd = super::check_pmi_fd(fd)?;
        // Keep it from leaking into programs the rank starts.
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        // SAFETY: the process manager gave this descriptor to us alone (PMI_FD); we
        // check_pmi_fd found an open socket that is not stdin/stdout/stderr, and
        // nothing else in this process owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let rank = env_num("PMI_RANK")?
            .ok_or_else(|| Error::other("MPI_Init: PMI_FD is set but PMI_RANK is not"))?;
        let jobid = std::env::var("PMI_JOBID").unwrap_or_default();
        Client::connect(UnixStream::from(owned), &jobid, rank)
    }

    /// The PMI-2 handshake over `stream`: init, fullinit, job-getid, the two job
    /// attributes.
    pub fn connect(stream: UnixStream, jobid: &str, rank: usize) -> Result<Client> {
        let mut c = Client {
            stream,
            rank,
            size: 0,
            kvsname: String::new(),
            mapping: None,
            universe: None,
        };
        c.init_line()?;
        let mut full = Message::new("fullinit");
        if !jobid.is_empty() {
            full = full.arg("pmijobid", jobid);
        }
        let r = c.call(
            full.arg("pmirank", rank).arg("threaded", "FALSE"),
            "fullinit-response",
        )?;
        let num = |key: &str| -> Result<usize> {
            r.get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| Error::other(format!("MPI_Init: PMI-2 fullinit: no {key} in {r:?}")))
        };
        c.rank = num("rank")?;
        c.size = num("size")?;
        if c.rank >= c.size {
            return Err(Error::other(format!(
                "MPI_Init: PMI-2 rank {} is not below size {}",
                c.rank, c.size
            )));
        }
        let r = c.call(Message::new("job-getid"), "job-getid-response")?;
        c.kvsname = r
            .get("jobid")
            .filter(|j| !j.is_empty())
            .ok_or_else(|| Error::other("MPI_Init: PMI-2 job-getid: no jobid"))?
            .to_string();
        c.mapping = c.job_attr("PMI_process_mapping")?;
        c.universe = c.job_attr("universeSize")?.and_then(|v| v.parse().ok());
        Ok(c)
    }

    /// `cmd=init pmi_version=2 pmi_subversion=0` and its PMI-1 reply.
    fn init_line(&mut self) -> Result<()> {
        let line = vmpi_pmi::wire::Command::new("init")
            .arg("pmi_version", 2)
            .arg("pmi_subversion", 0)
            .encode()
            .map_err(|e| Error::intern(format!("PMI-2 init: {e}")))?;
        self.write(line.as_bytes(), "init")?;
        self.stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| Error::other(format!("PMI-2: {e}")))?;
        // Byte by byte: nothing after the newline may be taken (PMI-2 framing follows).
        let mut reply = Vec::new();
        loop {
            let mut b = [0u8; 1];
            self.read_exact(&mut b, REPLY_TIMEOUT, "init")?;
            if b[0] == b'\n' {
                break;
            }
            reply.push(b[0]);
            if reply.len() >= vmpi_pmi::wire::MAX_LINE {
                return Err(Error::other(
                    "PMI-2 init: reply line longer than 1024 bytes",
                ));
            }
        }
        let text = String::from_utf8_lossy(&reply);
        let r = vmpi_pmi::wire::Command::parse(&text)
            .map_err(|e| Error::other(format!("PMI-2 init: bad reply {text:?}: {e}")))?;
        if r.cmd != "response_to_init"
            || r.get("rc") != Some("0")
            || r.get("pmi_version") != Some("2")
        {
            return Err(Error::other(format!(
                "MPI_Init: the process manager does not serve PMI-2: {text}"
            )));
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8], what: &str) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| Error::other(format!("PMI-2 {what}: lost the process manager: {e}")))
    }

    fn read_exact(&mut self, buf: &mut [u8], timeout: Duration, what: &str) -> Result<()> {
        self.stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| Error::other(format!("PMI-2: {e}")))?;
        let mut got = 0;
        while got < buf.len() {
            match self.stream.read(&mut buf[got..]) {
                Ok(0) => {
                    return Err(Error::other(format!(
                        "PMI-2 {what}: the process manager closed the connection (job aborted?)"
                    )))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::other(format!(
                        "PMI-2 {what}: no reply from the process manager in {} s",
                        timeout.as_secs()
                    )))
                }
                Err(e) => return Err(Error::other(format!("PMI-2 {what}: read: {e}"))),
            }
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Duration, what: &str) -> Result<Message> {
        let mut h = [0u8; HEADER];
        self.read_exact(&mut h, timeout, what)?;
        let n =
            Message::parse_header(&h).map_err(|e| Error::other(format!("PMI-2 {what}: {e}")))?;
        let mut body = vec![0u8; n];
        self.read_exact(&mut body, timeout, what)?;
        Message::parse(&body).map_err(|e| Error::other(format!("PMI-2 {what}: {e}")))
    }

    fn call_with(&mut self, m: Message, reply: &str, timeout: Duration) -> Result<Message> {
        let what = m.cmd.clone();
        let bytes = m
            .encode()
            .map_err(|e| Error::intern(format!("PMI-2 {what}: {e}")))?;
        self.write(&bytes, &what)?;
        let r = self.recv(timeout, &what)?;
        if r.cmd != reply {
            return Err(Error::other(format!(
                "PMI-2 {what}: expected {reply}, the process manager sent {}",
                r.cmd
            )));
        }
        match r.rc() {
            Ok(0) => Ok(r),
            _ => Err(Error::other(format!(
                "PMI-2 {what} failed: rc={} {}",
                r.get("rc").unwrap_or("?"),
                r.get("errmsg").unwrap_or("")
            ))),
        }
    }

    fn call(&mut self, m: Message, reply: &str) -> Result<Message> {
        self.call_with(m, reply, REPLY_TIMEOUT)
    }

    fn job_attr(&mut self, key: &str) -> Result<Option<String>> {
        let r = self.call(
            Message::new("info-getjobattr").arg("key", key),
            "info-getjobattr-response",
        )?;
        Ok(r.found().then(|| r.get("value").unwrap_or("").to_string()))
    }

    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        let v = escape(value);
        if v.len() > MAX_VALUE {
            return Err(Error::intern(format!(
                "PMI-2 kvs-put {key}: {} bytes once escaped, more than {MAX_VALUE}",
                v.len()
            )));
        }
        self.call(
            Message::new("kvs-put").arg("key", key).arg("value", v),
            "kvs-put-response",
        )
        .map(|_| ())
    }

    pub fn fence(&mut self) -> Result<()> {
        self.call_with(
            Message::new("kvs-fence"),
            "kvs-fence-response",
            FENCE_TIMEOUT,
        )
        .map(|_| ())
    }

    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        let jobid = self.kvsname.clone();
        let r = self.call(
            Message::new("kvs-get")
                .arg("jobid", jobid)
                .arg("srcid", -1)
                .arg("key", key),
            "kvs-get-response",
        )?;
        Ok(r.found().then(|| unescape(r.get("value").unwrap_or(""))))
    }

    /// Ask Slurm to end the step. No reply comes: slurmstepd kills every task; if
    /// that has not happened after a while, leave with `code`. The message goes to
    /// stderr first (Slurm only logs it).
    pub fn abort(&mut self, code: i32, msg: &str) -> Result<()> {
        eprintln!("vmpi: rank {}: MPI_Abort({code}): {msg}", self.rank);
        let clean: String = msg
            .chars()
            .map(|c| if c == ';' || c.is_control() { ' ' } else { c })
            .take(512)
            .collect();
        let bytes = Message::new("abort")
            .arg("isworld", "TRUE")
            .arg("msg", clean)
            .encode()
            .map_err(|e| Error::intern(format!("PMI-2 abort: {e}")))?;
        self.write(&bytes, "abort")?;
        std::thread::sleep(Duration::from_secs(10));
        std::process::exit(code)
    }

    /// `finalize`; Slurm closes the connection after its answer.
    pub fn finalize(&mut self) -> Result<()> {
        self.call(Message::new("finalize"), "finalize-response")
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn escape_round_trip() {
        for v in ["", "a;b", "%", "%3B", "v1;boot:x;tcp:1.2.3.4:5", "%%;;%25"] {
            assert_eq!(unescape(&escape(v)), v, "{v:?}");
            assert!(!escape(v).contains(';'));
        }
        assert_eq!(unescape("50%"), "50%");
        assert_eq!(unescape("%4"), "%4");
    }

    /// A PMI-2 server that speaks as Slurm 22.05 does (header and body in separate
    /// writes), for one client; `kvs` is shared by the fence only in the sense that
    /// this server has one client: puts show after a fence.
    fn fake_slurm(mut s: UnixStream, size: usize, rank: usize) {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while b[0] != b'\n' {
            s.read_exact(&mut b).unwrap();
            line.push(b[0]);
        }
        assert_eq!(line, b"cmd=init pmi_version=2 pmi_subversion=0\n");
        s.write_all(b"cmd=response_to_init rc=0 pmi_version=2 pmi_subversion=0\n")
            .unwrap();
        let mut staged = HashMap::new();
        let mut kvs: HashMap<String, String> = HashMap::new();
        loop {
            let mut h = [0u8; 6];
            if s.read_exact(&mut h).is_err() {
                return;
            }
            let n = Message::parse_header(&h).unwrap();
            let mut body = vec![0u8; n];
            s.read_exact(&mut body).unwrap();
            let m = Message::parse(&body).unwrap();
            let reply = match m.cmd.as_str() {
                "fullinit" => {
                    assert_eq!(m.get("pmirank"), Some(rank.to_string().as_str()));
                    format!("cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank={rank};size={size};appnum=-1;debugged=FALSE;pmiverbose=FALSE;")
                }
                "job-getid" => "cmd=job-getid-response;rc=0;jobid=9.0;".into(),
                "info-getjobattr" => match m.get("key") {
                    Some("PMI_process_mapping") => {
                        "cmd=info-getjobattr-response;rc=0;found=TRUE;value=(vector,(0,1,2));"
                            .into()
                    }
                    Some("universeSize") => {
                        format!("cmd=info-getjobattr-response;rc=0;found=TRUE;value={size};")
                    }
                    k => panic!("asked for job attribute {k:?}"),
                },
                "kvs-put" => {
                    let v = m.get("value").unwrap();
                    assert!(v.len() <= MAX_VALUE);
                    staged.insert(m.get("key").unwrap().to_string(), v.to_string());
                    "cmd=kvs-put-response;rc=0;".into()
                }
                "kvs-fence" => {
                    kvs.extend(staged.drain());
                    "cmd=kvs-fence-response;rc=0;".into()
                }
                "kvs-get" => match kvs.get(m.get("key").unwrap()) {
                    Some(v) => format!("cmd=kvs-get-response;rc=0;found=TRUE;value={v};"),
                    None => "cmd=kvs-get-response;rc=0;found=FALSE;".into(),
                },
                "finalize" => {
                    let r = "cmd=finalize-response;rc=0;";
                    s.write_all(format!("{:<6}", r.len()).as_bytes()).unwrap();
                    s.write_all(r.as_bytes()).unwrap();
                    return; // closes the socket, as Slurm does
                }
                "silence" => continue, // as Slurm with a command it does not know
                c => panic!("unexpected command {c}"),
            };
            s.write_all(format!("{:<6}", reply.len()).as_bytes())
                .unwrap();
            std::thread::sleep(Duration::from_millis(1));
            s.write_all(reply.as_bytes()).unwrap();
        }
    }

    #[test]
    fn speaks_pmi2_as_slurm_expects() {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || fake_slurm(b, 4, 2));
        let mut c = Client::connect(a, "9.0", 2).unwrap();
        assert_eq!((c.rank, c.size, c.kvsname.as_str()), (2, 4, "9.0"));
        assert_eq!(c.mapping.as_deref(), Some("(vector,(0,1,2))"));
        assert_eq!(c.universe, Some(4));
        let card = "v1;boot:x;ns:1,2;host:n1;tcp:10.202.0.11:4000,127.0.0.1:4000;pct:%";
        c.put("vmpi-card-2", card).unwrap();
        assert_eq!(
            c.get("vmpi-card-2").unwrap(),
            None,
            "visible only after the fence"
        );
        c.fence().unwrap();
        assert_eq!(c.get("vmpi-card-2").unwrap().as_deref(), Some(card));
        assert_eq!(c.get("nothing").unwrap(), None);
        // too long once escaped: an error here, never a crash of slurmstepd
        assert!(c.put("k", &";".repeat(400)).is_err());
        // a command the server ignores: the read times out with a clear error
        let e = c
            .call_with(Message::new("silence"), "x", Duration::from_millis(200))
            .unwrap_err();
        assert!(e.to_string().contains("no reply"), "{e}");
        c.finalize().unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_server_that_does_not_serve_pmi2_is_an_error() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let _ = b.read(&mut buf).unwrap();
            b.write_all(b"cmd=response_to_init rc=-1 pmi_version=1 pmi_subversion=1 msg=only_pmi_version_1_is_served\n")
                .unwrap();
        });
        let e = Client::connect(a, "", 0).err().unwrap();
        assert!(e.to_string().contains("does not serve PMI-2"), "{e}");
        server.join().unwrap();
    }
}
