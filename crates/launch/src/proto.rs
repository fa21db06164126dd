//! The control protocol between `mpirun` and its proxies (one `vmpi-proxy` per
//! host, connected back to mpirun over TCP): framed messages, encoded and decoded
//! here, with no I/O. A frame is a 4-byte little-endian length, then a kind byte
//! and the fields (integers little-endian, strings and byte strings as a 4-byte
//! length and the bytes). Everything read is checked: a malformed frame is an
//! error naming what is wrong, never a panic, and no frame may exceed
//! [`MAX_FRAME`].

/// Largest frame either side accepts (a launch message with a large environment
/// and many ranks stays far below it).
pub const MAX_FRAME: usize = 16 << 20;

/// The first bytes a proxy sends, before its `Hello`: refuses strangers (and
/// other versions of the protocol) at once.
pub const MAGIC: &[u8; 8] = b"vmpiPX01";

/// How a rank ended, as its proxy saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Code(i32),
    Signal(i32),
}

/// mpirun to proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToProxy {
    /// Start these ranks.
    Launch(Box<Launch>),
    /// A PMI reply line for a rank of this proxy.
    Pmi {
        rank: u32,
        line: String,
    },
    /// Keys committed by a PMI barrier (sent before its `barrier_out` lines), for
    /// the proxy's cache that answers `get`.
    Kvs(Vec<(String, String)>),
    /// Bytes for rank 0's stdin.
    Stdin(Vec<u8>),
    /// mpirun's stdin reached its end: close rank 0's.
    StdinEof,
    /// Send this signal to every rank's process group.
    Signal(i32),
    /// The job is over: kill what is left, remove the job's files, exit.
    Shutdown,
    Ping,
}

/// What a proxy starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub kvsname: String,
    pub program: String,
    pub args: Vec<String>,
    /// The ranks' environment (PMI variables are added by the proxy).
    pub env: Vec<(String, String)>,
    /// mpirun's working directory, where the ranks start if this host has it.
    pub cwd: String,
    /// World ranks on this host, ascending.
    pub ranks: Vec<u32>,
    pub size: u32,
    /// Prefix of the job's /dev/shm files (removed by the proxy at the end).
    pub shm_prefix: String,
    /// Keys visible from the start (`PMI_process_mapping`).
    pub kvs: Vec<(String, String)>,
}

/// Proxy to mpirun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromProxy {
    /// First message: which proxy this is (`id` from the command line; None when
    /// started by srun, which cannot pass each task its own), the host's name,
    /// its pid, the job cookie.
    Hello {
        id: Option<u32>,
        host: String,
        pid: u32,
        cookie: u64,
    },
    Started {
        rank: u32,
        pid: u32,
    },
    /// The program could not be started: `code` is mpirun's exit code for it
    /// (127 not found, 126 not executable, 1 otherwise).
    StartFailed {
        rank: u32,
        code: i32,
        msg: String,
    },
    /// A PMI command line from a rank (without its newline).
    Pmi {
        rank: u32,
        line: String,
    },
    /// The rank's PMI connection closed; `why` when it was for bad input.
    PmiClosed {
        rank: u32,
        why: Option<String>,
    },
    /// Output of a rank: `err` for stderr.
    Output {
        rank: u32,
        err: bool,
        data: Vec<u8>,
    },
    /// Bytes of rank 0's stdin that reached it (mpirun may send that many more).
    StdinTaken(u32),
    Exited {
        rank: u32,
        end: End,
    },
    /// Something for mpirun's stderr.
    Log(String),
    Ping,
}

struct W(Vec<u8>);

impl W {
    fn new(kind: u8) -> W {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&[0, 0, 0, 0, kind]);
        W(v)
    }
    fn u8(mut self, x: u8) -> W {
        self.0.push(x);
        self
    }
    fn u32(mut self, x: u32) -> W {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn i32(self, x: i32) -> W {
        self.u32(x as u32)
    }
    fn u64(mut self, x: u64) -> W {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn bytes(self, b: &[u8]) -> W {
        let mut w = self.u32(b.len() as u32);
        w.0.extend_from_slice(b);
        w
    }
    fn str(self, s: &str) -> W {
        self.bytes(s.as_bytes())
    }
    fn strs(self, v: &[String]) -> W {
        let mut w = self.u32(v.len() as u32);
        for s in v {
            w = w.str(s);
        }
        w
    }
    fn pairs(self, v: &[(String, String)]) -> W {
        let mut w = self.u32(v.len() as u32);
        for (k, x) in v {
            w = w.str(k).str(x);
        }
        w
    }
    fn done(mut self) -> Vec<u8> {
        let n = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&n.to_le_bytes());
        self.0
    }
}

/// A frame's body being read.
struct R<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.b.len() < n {
            return Err(format!("{}: frame ends early", self.what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn str(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?)
            .map_err(|_| format!("{}: a string is not UTF-8", self.what))
    }
    /// A count of items that each take at least `min` bytes (so a hostile count
    /// cannot make us allocate more than the frame holds).
    fn count(&mut self, min: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.b.len() {
            return Err(format!(
                "{}: a count of {n} does not fit the frame",
                self.what
            ));
        }
        Ok(n)
    }
    fn strs(&mut self) -> Result<Vec<String>, String> {
        let n = self.count(4)?;
        (0..n).map(|_| self.str()).collect()
    }
    fn pairs(&mut self) -> Result<Vec<(String, String)>, String> {
        let n = self.count(8)?;
        (0..n).map(|_| Ok((self.str()?, self.str()?))).collect()
    }
    fn end(self) -> Result<(), String> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: {} bytes after the last field",
                self.what,
                self.b.len()
            ))
        }
    }
}

impl ToProxy {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ToProxy::Launch(l) => {
                let mut w = W::new(1)
                    .str(&l.kvsname)
                    .str(&l.program)
                    .strs(&l.args)
                    .pairs(&l.env)
                    .str(&l.cwd)
                    .u32(l.ranks.len() as u32);
                for r in &l.ranks {
                    w = w.u32(*r);
                }
                w.u32(l.size).str(&l.shm_prefix).pairs(&l.kvs).done()
            }
            ToProxy::Pmi { rank, line } => W::new(2).u32(*rank).str(line).done(),
            ToProxy::Kvs(p) => W::new(3).pairs(p).done(),
            ToProxy::Stdin(d) => W::new(4).bytes(d).done(),
            ToProxy::StdinEof => W::new(5).done(),
            ToProxy::Signal(s) => W::new(6).i32(*s).done(),
            ToProxy::Shutdown => W::new(7).done(),
            ToProxy::Ping => W::new(8).done(),
        }
    }

    /// Decodes one frame body (after the length).
    pub fn decode(body: &[u8]) -> Result<ToProxy, String> {
        let mut r = R {
            b: body,
            what: "message from mpirun",
        };
        let m = match r.u8()? {
            1 => {
                let kvsname = r.str()?;
                let program = r.str()?;
                let args = r.strs()?;
                let env = r.pairs()?;
                let cwd = r.str()?;
                let n = r.count(4)?;
                let ranks = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
                let size = r.u32()?;
                let shm_prefix = r.str()?;
                let kvs = r.pairs()?;
                ToProxy::Launch(Box::new(Launch {
                    kvsname,
                    program,
                    args,
                    env,
                    cwd,
                    ranks,
                    size,
                    shm_prefix,
                    kvs,
                }))
            }
            2 => ToProxy::Pmi {
                rank: r.u32()?,
                line: r.str()?,
            },
            3 => ToProxy::Kvs(r.pairs()?),
            4 => ToProxy::Stdin(r.bytes()?),
            5 => ToProxy::StdinEof,
            6 => ToProxy::Signal(r.i32()?),
            7 => ToProxy::Shutdown,
            8 => ToProxy::Ping,
            k => return Err(format!("message from mpirun of unknown kind {k}")),
        };
        r.end()?;
        Ok(m)
    }
}

impl FromProxy {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            FromProxy::Hello {
                id,
                host,
                pid,
                cookie,
            } => W::new(1)
                .u8(id.is_some() as u8)
                .u32(id.unwrap_or(0))
                .str(host)
                .u32(*pid)
                .u64(*cookie)
                .done(),
            FromProxy::Started { rank, pid } => W::new(2).u32(*rank).u32(*pid).done(),
            FromProxy::StartFailed { rank, code, msg } => {
                W::new(3).u32(*rank).i32(*code).str(msg).done()
            }
            FromProxy::Pmi { rank, line } => W::new(4).u32(*rank).str(line).done(),
            FromProxy::PmiClosed { rank, why } => W::new(5)
                .u32(*rank)
                .u8(why.is_some() as u8)
                .str(why.as_deref().unwrap_or(""))
                .done(),
            FromProxy::Output { rank, err, data } => {
                W::new(6).u32(*rank).u8(*err as u8).bytes(data).done()
            }
            FromProxy::StdinTaken(n) => W::new(7).u32(*n).done(),
            FromProxy::Exited { rank, end } => {
                let (k, v) = match end {
                    End::Code(c) => (0, *c),
                    End::Signal(s) => (1, *s),
                };
                W::new(8).u32(*rank).u8(k).i32(v).done()
            }
            FromProxy::Log(s) => W::new(9).str(s).done(),
            FromProxy::Ping => W::new(10).done(),
        }
    }

    /// Decodes one frame body (after the length).
    pub fn decode(body: &[u8]) -> Result<FromProxy, String> {
        let mut r = R {
            b: body,
            what: "message from a proxy",
        };
        let m = match r.u8()? {
            1 => {
                let has = r.u8()? != 0;
                let id = r.u32()?;
                FromProxy::Hello {
                    id: has.then_some(id),
                    host: r.str()?,
                    pid: r.u32()?,
                    cookie: r.u64()?,
                }
            }
            2 => FromProxy::Started {
                rank: r.u32()?,
                pid: r.u32()?,
            },
            3 => FromProxy::StartFailed {
                rank: r.u32()?,
                code: r.i32()?,
                msg: r.str()?,
            },
            4 => FromProxy::Pmi {
                rank: r.u32()?,
                line: r.str()?,
            },
            5 => {
                let rank = r.u32()?;
                let has = r.u8()? != 0;
                let why = r.str()?;
                FromProxy::PmiClosed {
                    rank,
                    why: has.then_some(why),
                }
            }
            6 => FromProxy::Output {
                rank: r.u32()?,
                err: r.u8()? != 0,
                data: r.bytes()?,
            },
            7 => FromProxy::StdinTaken(r.u32()?),
            8 => {
                let rank = r.u32()?;
                let end = match r.u8()? {
                    0 => End::Code(r.i32()?),
                    1 => End::Signal(r.i32()?),
                    k => return Err(format!("message from a proxy: unknown end kind {k}")),
                };
                FromProxy::Exited { rank, end }
            }
            9 => FromProxy::Log(r.str()?),
            10 => FromProxy::Ping,
            k => return Err(format!("message from a proxy of unknown kind {k}")),
        };
        r.end()?;
        Ok(m)
    }
}

/// Cuts a byte stream into frame bodies.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
}

impl Framer {
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame's body, None until one is complete; an error for a
    /// length over [`MAX_FRAME`].
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let n = u32::from_le_bytes(avail[..4].try_into().expect("4 bytes")) as usize;
        if n > MAX_FRAME {
            return Err(format!("a frame of {n} bytes (the limit is {MAX_FRAME})"));
        }
        if avail.len() < 4 + n {
            return Ok(None);
        }
        let body = avail[4..4 + n].to_vec();
        self.start += 4 + n;
        if self.start > 1 << 20 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(body))
    }

    /// Bytes held that are not a whole frame yet.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_to(m: ToProxy) {
        let f = m.encode();
        let mut fr = Framer::default();
        fr.push(&f[..3]);
        assert_eq!(fr.next_frame().unwrap(), None);
        fr.push(&f[3..]);
        let body = fr.next_frame().unwrap().unwrap();
        assert_eq!(ToProxy::decode(&body).unwrap(), m);
        assert_eq!(fr.pending(), 0);
    }

    fn round_trip_from(m: FromProxy) {
        let f = m.encode();
        assert_eq!(FromProxy::decode(&f[4..]).unwrap(), m);
    }

    #[test]
    fn every_message_round_trips() {
        round_trip_to(ToProxy::Launch(Box::new(Launch {
            kvsname: "kvs".into(),
            program: "./p".into(),
            args: vec!["a".into(), "b c".into()],
            env: vec![("K".into(), "V=1".into())],
            cwd: "/tmp".into(),
            ranks: vec![1, 4],
            size: 6,
            shm_prefix: "vmpi-0123-".into(),
            kvs: vec![("PMI_process_mapping".into(), "(vector,(0,3,2))".into())],
        })));
        round_trip_to(ToProxy::Pmi {
            rank: 3,
            line: "cmd=barrier_out rc=0".into(),
        });
        round_trip_to(ToProxy::Kvs(vec![("k".into(), "v".into())]));
        round_trip_to(ToProxy::Stdin(vec![0, 1, 2]));
        for m in [
            ToProxy::StdinEof,
            ToProxy::Signal(15),
            ToProxy::Shutdown,
            ToProxy::Ping,
        ] {
            round_trip_to(m);
        }
        for m in [
            FromProxy::Hello {
                id: Some(2),
                host: "n1".into(),
                pid: 7,
                cookie: u64::MAX,
            },
            FromProxy::Hello {
                id: None,
                host: "n2".into(),
                pid: 8,
                cookie: 1,
            },
            FromProxy::Started { rank: 1, pid: 99 },
            FromProxy::StartFailed {
                rank: 1,
                code: 127,
                msg: "no such file".into(),
            },
            FromProxy::Pmi {
                rank: 0,
                line: "cmd=init".into(),
            },
            FromProxy::PmiClosed { rank: 2, why: None },
            FromProxy::PmiClosed {
                rank: 2,
                why: Some("bad".into()),
            },
            FromProxy::Output {
                rank: 5,
                err: true,
                data: b"x\n".to_vec(),
            },
            FromProxy::StdinTaken(12),
            FromProxy::Exited {
                rank: 1,
                end: End::Signal(9),
            },
            FromProxy::Exited {
                rank: 1,
                end: End::Code(-3),
            },
            FromProxy::Log("hi".into()),
            FromProxy::Ping,
        ] {
            round_trip_from(m);
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(ToProxy::decode(&[]).is_err());
        assert!(ToProxy::decode(&[99]).is_err());
        assert!(ToProxy::decode(&[6, 1, 2]).is_err(), "short integer");
        assert!(ToProxy::decode(&[8, 0]).is_err(), "trailing byte");
        // a count far larger than the frame
        assert!(ToProxy::decode(&[3, 0xff, 0xff, 0xff, 0x7f]).is_err());
        // a string that is not UTF-8
        assert!(FromProxy::decode(&[9, 1, 0, 0, 0, 0xff]).is_err());
        let mut fr = Framer::default();
        fr.push(&(MAX_FRAME as u32 + 1).to_le_bytes());
        assert!(fr.next_frame().is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small xorshift: every prefix of pseudo-random frames of every kind.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| (x.rotate_left(i as u32 * 7) & 0xff) as u8)
                .collect();
            let _ = ToProxy::decode(&bytes);
            let _ = FromProxy::decode(&bytes);
            let mut fr = Framer::default();
            fr.push(&bytes);
            while let Ok(Some(b)) = fr.next_frame() {
                let _ = FromProxy::decode(&b);
            }
        }
    }
}
