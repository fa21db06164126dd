//! An open file: its descriptor, its own communicator (a dup of the one it was
//! opened on, so file traffic never matches user messages), access mode, view,
//! individual file pointer, atomicity, hints, aggregators and shared pointer.
//! Accesses take the data as packed bytes; the C layer packs and unpacks the
//! memory datatype.

use super::fs::{io_error, Handle, RangeLock};
use super::hints::{Hints, Switch};
use super::shared_fp::SharedFp;
use super::twophase::{self, Plan};
use super::view::{bytes_before_eof, Run, View};
use super::{sieve, worker};
use super::{
    MODE_APPEND, MODE_CREATE, MODE_DELETE_ON_CLOSE, MODE_EXCL, MODE_RDONLY, MODE_RDWR,
    MODE_SEQUENTIAL, MODE_UNIQUE_OPEN, MODE_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use crate::api::{Communicator, Input};
use crate::comm::{mgmt, Comm};
use crate::error::{Error, ErrorClass, Result};
use crate::op::Op;
use crate::p2p::{ReqId, Status};
use crate::runtime;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What a nonblocking read calls with the bytes it read (on the I/O thread).
pub type Deliver = Box<dyn FnOnce(&[u8]) + Send>;

pub struct File {
    pub comm: Communicator,
    pub path: String,
    pub f: Arc<Handle>,
    pub amode: i32,
    pub view: View,
    /// The individual file pointer, in etypes of the view.
    pub fp: i64,
    pub atomic: bool,
    pub hints: Hints,
    /// Ranks (of `comm`) that aggregate collective accesses.
    pub aggrs: Vec<i32>,
    shfp: std::result::Result<SharedFp, String>,
    /// Nonblocking collective jobs queued on the file's thread and not done.
    pending: Arc<AtomicUsize>,
    /// The thread of this file's nonblocking collective accesses.
    coll_queue: std::sync::OnceLock<worker::Queue>,
}

fn e(class: ErrorClass, msg: String) -> Error {
    Error::new(class, msg)
}

/// MPI-3.1 §13.2.1's rules on the access mode.
pub fn check_amode(amode: i32) -> Result<()> {
    let call = "MPI_File_open";
    let known = MODE_RDONLY
        | MODE_RDWR
        | MODE_WRONLY
        | MODE_CREATE
        | MODE_EXCL
        | MODE_DELETE_ON_CLOSE
        | MODE_UNIQUE_OPEN
        | MODE_APPEND
        | MODE_SEQUENTIAL;
    let bad = |m: &str| {
        Err(e(
            ErrorClass::Amode,
            format!("{call}: amode {amode:#x}: {m}"),
        ))
    };
    if amode & !known != 0 {
        return bad("unknown bits");
    }
    let rw = [MODE_RDONLY, MODE_RDWR, MODE_WRONLY]
        .iter()
        .filter(|&&m| amode & m != 0)
        .count();
    if rw != 1 {
        return bad("exactly one of MPI_MODE_RDONLY, MPI_MODE_RDWR, MPI_MODE_WRONLY is required");
    }
    if amode & MODE_RDONLY != 0 && amode & (MODE_CREATE | MODE_EXCL) != 0 {
        return bad("MPI_MODE_RDONLY cannot go with MPI_MODE_CREATE or MPI_MODE_EXCL");
    }
    if amode & MODE_RDWR != 0 && amode & MODE_SEQUENTIAL != 0 {
        return bad("MPI_MODE_RDWR cannot go with MPI_MODE_SEQUENTIAL");
    }
    Ok(())
}

/// The aggregators: `want` of them (default: one per shared-memory domain),
/// taken round-robin over the domains, lowest ranks first.
fn aggregators(comm: &Comm, want: Option<usize>) -> Result<Vec<i32>> {
    let domains = comm.domains()?;
    let size = comm.size() as usize;
    let n = want.unwrap_or(domains.len()).clamp(1, size);
    let mut out = Vec::with_capacity(n);
    let mut k = 0;
    while out.len() < n {
        for d in domains.iter() {
            if k < d.len() && out.len() < n {
                out.push(d[k] as i32);
            }
        }
        k += 1;
    }
    out.sort_unstable();
    Ok(out)
}

fn class_code(c: ErrorClass) -> i64 {
    c as i64
}

fn class_from(code: i64) -> ErrorClass {
    use ErrorClass::*;
    [
        Access, Amode, BadFile, FileExists, FileInUse, Io, NoSpace, NoSuchFile, Quota, ReadOnly,
        NotSame, Other, Intern,
    ]
    .into_iter()
    .find(|c| *c as i64 == code)
    .unwrap_or(Io)
}

impl File {
    /// MPI_File_open (collective over `comm`).
    pub fn open(comm: &Comm, path: &str, amode: i32, info: &[(String, String)]) -> Result<File> {
        check_amode(amode)?;
        let comm = Communicator::from_comm(mgmt::dup(comm)?);
        // The file's communicator gives its context ids back when the open
        // fails, as at close.
        let ctx = comm.comm.clone();
        File::open_on(comm, path, amode, info).inspect_err(|_| mgmt::free(ctx))
    }

    fn open_on(
        comm: Communicator,
        path: &str,
        amode: i32,
        info: &[(String, String)],
    ) -> Result<File> {
        let call = "MPI_File_open";
        let mut hints = Hints::default();
        for (k, v) in info {
            hints.set(k, v);
        }
        // Every rank must pass the same amode.
        let mine = [amode as i64, -(amode as i64)];
        let mut agreed = [0i64; 2];
        comm.allreduce(Input::Buf(&mine), &mut agreed, &Op::Min)?;
        if agreed[0] != -agreed[1] {
            return Err(e(
                ErrorClass::NotSame,
                format!("{call}: the ranks passed different amodes for \"{path}\""),
            ));
        }
        let opts = |create: bool| {
            let mut o = OpenOptions::new();
            if amode & MODE_RDONLY != 0 {
                o.read(true);
            } else {
                // Write-only files are opened read-write when possible, so data
                // sieving can read the holes it writes back.
                o.read(amode & MODE_RDWR != 0).write(true);
            }
            if create && amode & MODE_CREATE != 0 {
                if amode & MODE_EXCL != 0 {
                    o.create_new(true);
                } else {
                    o.create(true);
                }
            }
            o.mode(0o666);
            o
        };
        let try_open = |create: bool| -> std::io::Result<std::fs::File> {
            if amode & MODE_WRONLY != 0 {
                let mut o = opts(create);
                o.read(true);
                if let Ok(f) = o.open(path) {
                    return Ok(f);
                }
            }
            opts(create).open(path)
        };
        let rank = comm.rank();
        // Rank 0 creates the file (EXCL decides there) and the shared pointer's
        // counter; the others open what it made.
        let mut opened: Option<std::result::Result<std::fs::File, Error>> = None;
        let mut shfp = Err(String::new());
        let mut c0 = 0i64;
        if rank == 0 {
            let r = try_open(true).map_err(|x| io_error(call, path, "opening", &x));
            if let Err(x) = &r {
                c0 = class_code(x.class);
            }
            opened = Some(r);
        }
        let mut code = [0i64];
        comm.allreduce(Input::Buf(&[c0]), &mut code, &Op::Max)?;
        if code[0] != 0 {
            return Err(match opened {
                Some(Err(x)) => x,
                _ => e(
                    class_from(code[0]),
                    format!("{call}: opening \"{path}\" failed on rank 0 of the communicator"),
                ),
            });
        }
        if rank != 0 {
            opened = Some(try_open(false).map_err(|x| io_error(call, path, "opening", &x)));
        }
        let opened = opened.expect("set above");
        let mine = opened.as_ref().err().map_or(0, |x| class_code(x.class));
        comm.allreduce(Input::Buf(&[mine]), &mut code, &Op::Max)?;
        let f = match opened {
            Err(x) => return Err(x),
            Ok(_) if code[0] != 0 => {
                return Err(e(
                    class_from(code[0]),
                    format!("{call}: opening \"{path}\" failed on another rank"),
                ))
            }
            Ok(f) => f,
        };
        let meta = f
            .metadata()
            .map_err(|x| io_error(call, path, "fstat", &x))?;
        if meta.is_dir() {
            return Err(e(
                ErrorClass::BadFile,
                format!("{call}: \"{path}\" is a directory"),
            ));
        }
        let start = if amode & MODE_APPEND != 0 {
            f.metadata().map(|m| m.len() as i64).unwrap_or(0)
        } else {
            0
        };
        static OPENS: AtomicUsize = AtomicUsize::new(0);
        let mut tag = [0i64; 2];
        if rank == 0 {
            tag = [
                std::process::id() as i64,
                OPENS.fetch_add(1, Ordering::Relaxed) as i64,
            ];
        }
        comm.bcast(&mut tag, 0)?;
        let tag = format!("{}-{}", tag[0], tag[1]);
        // A device or a pipe gets no sidecar (none in /dev).
        let regular = meta.is_file();
        if rank == 0 && regular {
            shfp = SharedFp::create(path, &tag, start).map_err(|x| x.to_string());
        }
        comm.barrier()?;
        if rank != 0 && regular {
            shfp = SharedFp::open(path, &tag).map_err(|x| x.to_string());
        }
        if !regular {
            shfp = Err("not a regular file".into());
        }
        let aggrs = aggregators(&comm.comm, hints.cb_nodes)?;
        Ok(File {
            comm,
            path: path.to_string(),
            f: Arc::new(Handle::new(f)),
            amode,
            view: View::default(),
            fp: start,
            atomic: false,
            hints,
            aggrs,
            shfp,
            pending: Arc::new(AtomicUsize::new(0)),
            coll_queue: std::sync::OnceLock::new(),
        })
    }

    /// MPI_File_close (collective): rank 0 removes the shared pointer's counter
    /// and, with MPI_MODE_DELETE_ON_CLOSE, the file, once everyone is done.
    pub fn close(self) -> Result<()> {
        self.quiet();
        self.comm.barrier()?;
        // Nothing of the file's uses its communicator any more (the jobs of its
        // thread are done): its context ids go back.
        mgmt::free(self.comm.comm.clone());
        if self.comm.rank() == 0 {
            if let Ok(s) = &self.shfp {
                let _ = std::fs::remove_file(&s.path);
            }
            if self.amode & MODE_DELETE_ON_CLOSE != 0 {
                std::fs::remove_file(&self.path)
                    .map_err(|x| io_error("MPI_File_close", &self.path, "deleting", &x))?;
            }
        }
        Ok(())
    }

    /// One rank does `f` once every rank got here (their earlier accesses
    /// done); everyone learns its error class (collective).
    fn on_rank0(&self, call: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
        self.quiet();
        self.comm.barrier()?;
        let mut mine = Ok(());
        if self.comm.rank() == 0 {
            mine = f();
        }
        let c = mine.as_ref().err().map_or(0, |x| class_code(x.class));
        let mut all = [0i64];
        self.comm.allreduce(Input::Buf(&[c]), &mut all, &Op::Max)?;
        mine?;
        if all[0] != 0 {
            return Err(e(
                class_from(all[0]),
                format!(
                    "{call}: failed on rank 0 of the file's communicator for \"{}\"",
                    self.path
                ),
            ));
        }
        Ok(())
    }

    pub fn set_size(&self, size: i64) -> Result<()> {
        let call = "MPI_File_set_size";
        self.writable(call)?;
        if size < 0 {
            return Err(e(ErrorClass::Arg, format!("{call}: negative size {size}")));
        }
        self.on_rank0(call, || {
            self.f
                .set_len(size as u64)
                .map_err(|x| io_error(call, &self.path, "truncating", &x))
        })
    }

    pub fn preallocate(&self, size: i64) -> Result<()> {
        let call = "MPI_File_preallocate";
        self.writable(call)?;
        if size < 0 {
            return Err(e(ErrorClass::Arg, format!("{call}: negative size {size}")));
        }
        self.on_rank0(call, || {
            super::fs::preallocate(&self.f, size)
                .map_err(|x| io_error(call, &self.path, "preallocating", &x))
        })
    }

    pub fn size(&self, call: &str) -> Result<i64> {
        self.f
            .metadata()
            .map(|m| m.len() as i64)
            .map_err(|x| io_error(call, &self.path, "fstat", &x))
    }

    pub fn sync(&self) -> Result<()> {
        self.quiet();
        let call = "MPI_File_sync";
        if self.amode & MODE_RDONLY == 0 {
            self.f
                .sync_all()
                .map_err(|x| io_error(call, &self.path, "fsync", &x))?;
        }
        self.comm.barrier()
    }

    pub fn set_atomicity(&mut self, flag: bool) -> Result<()> {
        self.quiet();
        let mine = [flag as i64, -(flag as i64)];
        let mut all = [0i64; 2];
        self.comm.allreduce(Input::Buf(&mine), &mut all, &Op::Min)?;
        if all[0] != -all[1] {
            return Err(e(
                ErrorClass::NotSame,
                "MPI_File_set_atomicity: the ranks passed different flags".into(),
            ));
        }
        self.atomic = flag;
        Ok(())
    }

    /// MPI_File_set_view (collective): both file pointers go back to 0.
    pub fn set_view(&mut self, view: View) -> Result<()> {
        self.quiet();
        let call = "MPI_File_set_view";
        self.view = view;
        self.fp = 0;
        // Everyone has read the old pointer (MPI_DISPLACEMENT_CURRENT) before
        // rank 0 resets it.
        self.comm.barrier()?;
        if self.comm.rank() == 0 {
            if let Ok(s) = &self.shfp {
                s.set(call, 0)?;
            }
        }
        self.comm.barrier()
    }

    pub fn set_hints(&mut self, info: &[(String, String)]) {
        for (k, v) in info {
            self.hints.set(k, v);
        }
        // cb_nodes can change only before the first collective; vmpi takes it
        // whenever it comes, all ranks alike.
        if let Ok(a) = aggregators(&self.comm.comm, self.hints.cb_nodes) {
            self.aggrs = a;
        }
    }

    fn writable(&self, call: &str) -> Result<()> {
        if self.amode & MODE_RDONLY != 0 {
            return Err(e(
                ErrorClass::ReadOnly,
                format!("{call}: \"{}\" was opened MPI_MODE_RDONLY", self.path),
            ));
        }
        Ok(())
    }

    fn readable(&self, call: &str) -> Result<()> {
        if self.amode & MODE_WRONLY != 0 {
            return Err(e(
                ErrorClass::Access,
                format!("{call}: \"{}\" was opened MPI_MODE_WRONLY", self.path),
            ));
        }
        Ok(())
    }

    fn no_sequential(&self, call: &str) -> Result<()> {
        if self.amode & MODE_SEQUENTIAL != 0 {
            return Err(e(
                ErrorClass::UnsupportedOperation,
                format!(
                    "{call}: \"{}\" was opened MPI_MODE_SEQUENTIAL: only shared file pointers",
                    self.path
                ),
            ));
        }
        Ok(())
    }

    /// The file pieces of `len` bytes of data at view position `off` (etypes).
    pub fn runs(&self, call: &str, off: i64, len: usize) -> Result<Vec<Run>> {
        let es = self.view.etype_size();
        if off < 0 {
            return Err(e(ErrorClass::Arg, format!("{call}: negative offset {off}")));
        }
        if !len.is_multiple_of(es) {
            return Err(e(
                ErrorClass::Io,
                format!("{call}: {len} bytes is not a whole number of etypes ({es} bytes each)"),
            ));
        }
        Ok(self.view.runs(off as u64 * es as u64, len))
    }

    fn ioe(&self, call: &str, what: &str, x: std::io::Error) -> Error {
        io_error(call, &self.path, what, &x)
    }

    // ---- independent accesses ----

    pub fn write_at(&self, call: &str, off: i64, data: &[u8]) -> Result<usize> {
        self.writable(call)?;
        let runs = self.runs(call, off, data.len())?;
        independent_write(&self.f, &runs, data, &self.hints, self.atomic)
            .map_err(|x| self.ioe(call, "writing", x))?;
        Ok(data.len())
    }

    pub fn read_at(&self, call: &str, off: i64, data: &mut [u8]) -> Result<usize> {
        self.readable(call)?;
        let runs = self.runs(call, off, data.len())?;
        independent_read(&self.f, &runs, data, &self.hints, self.atomic)
            .map_err(|x| self.ioe(call, "reading", x))?;
        let size = self.size(call)?;
        Ok(bytes_before_eof(&runs, size))
    }

    /// Explicit offsets are not allowed on MPI_MODE_SEQUENTIAL files.
    pub fn check_explicit(&self, call: &str) -> Result<()> {
        self.no_sequential(call)
    }

    fn advance(&mut self, len: usize) {
        self.fp += (len / self.view.etype_size()) as i64;
    }

    pub fn write(&mut self, call: &str, data: &[u8]) -> Result<usize> {
        self.no_sequential(call)?;
        let n = self.write_at(call, self.fp, data)?;
        self.advance(data.len());
        Ok(n)
    }

    /// The individual pointer moves past what was read (less at end of file).
    pub fn read(&mut self, call: &str, data: &mut [u8]) -> Result<usize> {
        self.no_sequential(call)?;
        let n = self.read_at(call, self.fp, data)?;
        self.advance(n);
        Ok(n)
    }

    // ---- collective accesses ----

    /// What a collective access needs, owned: the I/O thread runs nonblocking
    /// collective accesses with it.
    fn coll(&self) -> Coll {
        Coll {
            comm: self.comm.clone(),
            f: self.f.clone(),
            path: self.path.clone(),
            hints: self.hints.clone(),
            aggrs: self.aggrs.clone(),
            atomic: self.atomic,
        }
    }

    /// The file's pieces for a collective access, or the error this rank
    /// reports after taking part with nothing (an argument error on one rank
    /// must not leave the others waiting in the exchange).
    fn coll_runs(
        &self,
        call: &str,
        write: bool,
        off: i64,
        len: usize,
    ) -> (Vec<Run>, Option<Error>) {
        let ok = if write {
            self.writable(call)
        } else {
            self.readable(call)
        };
        match ok.and_then(|()| self.runs(call, off, len)) {
            Ok(r) => (r, None),
            Err(x) => (Vec::new(), Some(x)),
        }
    }

    pub fn write_at_all(&self, call: &str, off: i64, data: &[u8]) -> Result<usize> {
        self.quiet();
        let (runs, err) = self.coll_runs(call, true, off, data.len());
        self.coll().write(call, &runs, data, err)
    }

    pub fn read_at_all(&self, call: &str, off: i64, data: &mut [u8]) -> Result<usize> {
        self.quiet();
        let (runs, err) = self.coll_runs(call, false, off, data.len());
        self.coll().read(call, &runs, data, err)
    }

    /// Start a collective write on the I/O thread (it takes part in the
    /// exchange there, while this thread goes on); the request completes when
    /// this rank's part is done.
    pub fn iwrite_at_all(&self, call: &str, off: i64, data: Vec<u8>) -> Result<ReqId> {
        let (runs, err) = self.coll_runs(call, true, off, data.len());
        let c = self.coll();
        let call = call.to_string();
        self.start_coll(move || c.write(&call, &runs, &data, err))
    }

    /// Start a collective read on the I/O thread; `deliver` gets the bytes.
    pub fn iread_at_all(
        &self,
        call: &str,
        off: i64,
        len: usize,
        deliver: Deliver,
    ) -> Result<ReqId> {
        let (runs, err) = self.coll_runs(call, false, off, len);
        let c = self.coll();
        let call = call.to_string();
        self.start_coll(move || {
            let mut buf = vec![0u8; len];
            let n = c.read(&call, &runs, &mut buf, err)?;
            deliver(&buf);
            Ok(n)
        })
    }

    /// Queue a collective job on the file's own thread; the file counts it
    /// until it ends, so that a blocking collective call on the file waits for
    /// it (`quiet`): that thread and this one never run collectives on the
    /// file's communicator at the same time, and every rank runs them in the
    /// same order.
    fn start_coll(&self, job: impl FnOnce() -> Result<usize> + Send + 'static) -> Result<ReqId> {
        let pending = self.pending.clone();
        let q = self
            .coll_queue
            .get_or_init(|| worker::Queue::new("vmpi-io-coll"));
        pending.fetch_add(1, Ordering::AcqRel);
        let r = start_on(
            "MPI-IO",
            move || {
                let r = job();
                pending.fetch_sub(1, Ordering::AcqRel);
                r.map_err(|e| e.class)
            },
            |j| q.push(j),
        );
        if r.is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        r
    }

    /// Wait until the file's thread has finished its collective jobs.
    pub fn quiet(&self) {
        while self.pending.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
    }

    pub fn write_all(&mut self, call: &str, data: &[u8]) -> Result<usize> {
        self.no_sequential(call)?;
        let n = self.write_at_all(call, self.fp, data)?;
        self.advance(data.len());
        Ok(n)
    }

    pub fn read_all(&mut self, call: &str, data: &mut [u8]) -> Result<usize> {
        self.no_sequential(call)?;
        let n = self.read_at_all(call, self.fp, data)?;
        self.advance(n);
        Ok(n)
    }

    // ---- file pointers ----

    fn shared(&self, call: &str) -> Result<&SharedFp> {
        self.shfp.as_ref().map_err(|why| {
            e(
                ErrorClass::UnsupportedOperation,
                format!(
                    "{call}: no shared file pointer for \"{}\": its counter file could not be made ({why})",
                    self.path
                ),
            )
        })
    }

    /// The end of the file as a position of the view, in etypes.
    fn eof_position(&self, call: &str) -> Result<i64> {
        let size = self.size(call)?;
        Ok((self.view.data_before(size) / self.view.etype_size() as u64) as i64)
    }

    fn seek_target(&self, call: &str, cur: i64, off: i64, whence: i32) -> Result<i64> {
        let to = match whence {
            SEEK_SET => off,
            SEEK_CUR => cur + off,
            SEEK_END => self.eof_position(call)? + off,
            _ => {
                return Err(e(
                    ErrorClass::Arg,
                    format!("{call}: invalid whence {whence}"),
                ))
            }
        };
        if to < 0 {
            return Err(e(
                ErrorClass::Arg,
                format!("{call}: the pointer would move before the start of the view ({to})"),
            ));
        }
        Ok(to)
    }

    pub fn seek(&mut self, off: i64, whence: i32) -> Result<()> {
        let call = "MPI_File_seek";
        self.no_sequential(call)?;
        self.fp = self.seek_target(call, self.fp, off, whence)?;
        Ok(())
    }

    pub fn byte_offset(&self, off: i64) -> Result<i64> {
        if off < 0 {
            return Err(e(
                ErrorClass::Arg,
                format!("MPI_File_get_byte_offset: negative offset {off}"),
            ));
        }
        Ok(self
            .view
            .byte_offset(off as u64 * self.view.etype_size() as u64))
    }

    pub fn position_shared(&self) -> Result<i64> {
        let call = "MPI_File_get_position_shared";
        self.shared(call)?.get(call)
    }

    /// MPI_File_seek_shared (collective; every rank must pass the same values).
    pub fn seek_shared(&self, off: i64, whence: i32) -> Result<()> {
        self.quiet();
        let call = "MPI_File_seek_shared";
        let s = self.shared(call)?;
        let mine = [off, whence as i64, -off, -(whence as i64)];
        let mut all = [0i64; 4];
        self.comm.allreduce(Input::Buf(&mine), &mut all, &Op::Min)?;
        if all[0] != -all[2] || all[1] != -all[3] {
            return Err(e(
                ErrorClass::NotSame,
                format!("{call}: the ranks passed different offsets or whence"),
            ));
        }
        self.on_rank0(call, || {
            let cur = s.get(call)?;
            let to = self.seek_target(call, cur, off, whence)?;
            s.set(call, to)
        })?;
        Ok(())
    }

    pub fn write_shared(&self, call: &str, data: &[u8]) -> Result<usize> {
        let s = self.shared(call)?;
        self.writable(call)?;
        let n = (data.len() / self.view.etype_size()) as i64;
        let at = s.fetch_add(call, n)?;
        self.write_at(call, at, data)
    }

    pub fn read_shared(&self, call: &str, data: &mut [u8]) -> Result<usize> {
        let s = self.shared(call)?;
        self.readable(call)?;
        let n = (data.len() / self.view.etype_size()) as i64;
        let at = s.fetch_add(call, n)?;
        self.read_at(call, at, data)
    }

    /// Where this rank's part of an ordered access goes: the shared pointer
    /// plus the sizes of the lower ranks' parts; the pointer moves past all.
    pub fn ordered_at(&self, call: &str, len: usize) -> Result<i64> {
        self.quiet();
        let s = self.shared(call)?;
        let n = (len / self.view.etype_size()) as i64;
        let size = self.comm.size() as usize;
        let mut all = vec![0i64; size];
        self.comm.allgather(Input::Buf(&[n]), &mut all)?;
        let before: i64 = all[..self.comm.rank() as usize].iter().sum();
        let total: i64 = all.iter().sum();
        let mut base = [0i64];
        if self.comm.rank() == 0 {
            base[0] = s.fetch_add(call, total)?;
        }
        self.comm.bcast(&mut base, 0)?;
        Ok(base[0] + before)
    }

    pub fn write_ordered(&self, call: &str, data: &[u8]) -> Result<usize> {
        let at = self.ordered_at(call, data.len())?;
        self.write_at_all(call, at, data)
    }

    pub fn read_ordered(&self, call: &str, data: &mut [u8]) -> Result<usize> {
        let at = self.ordered_at(call, data.len())?;
        self.read_at_all(call, at, data)
    }

    // ---- nonblocking independent accesses (on the I/O thread) ----

    /// Start writing `data` at view position `off`; the request completes on
    /// the I/O thread when the bytes are written.
    pub fn iwrite_at(&self, call: &str, off: i64, data: Vec<u8>) -> Result<ReqId> {
        self.writable(call)?;
        let runs = self.runs(call, off, data.len())?;
        let (f, hints, atomic) = (self.f.clone(), self.hints.clone(), self.atomic);
        let len = data.len();
        start(call, move || {
            independent_write(&f, &runs, &data, &hints, atomic)
                .map(|()| len)
                .map_err(|x| super::fs::class_of_errno(x.raw_os_error().unwrap_or(libc::EIO)))
        })
    }

    /// Start reading `len` bytes at view position `off`; `deliver` gets them
    /// (on the I/O thread) before the request completes.
    pub fn iread_at(&self, call: &str, off: i64, len: usize, deliver: Deliver) -> Result<ReqId> {
        self.readable(call)?;
        let runs = self.runs(call, off, len)?;
        let (f, hints, atomic) = (self.f.clone(), self.hints.clone(), self.atomic);
        start(call, move || {
            let mut buf = vec![0u8; len];
            independent_read(&f, &runs, &mut buf, &hints, atomic)
                .map_err(|x| super::fs::class_of_errno(x.raw_os_error().unwrap_or(libc::EIO)))?;
            deliver(&buf);
            let size = f.metadata().map(|m| m.len() as i64).unwrap_or(i64::MAX);
            Ok(bytes_before_eof(&runs, size))
        })
    }

    /// The individual pointer moves at the start of a nonblocking access.
    pub fn take_fp(&mut self, call: &str, len: usize) -> Result<i64> {
        self.no_sequential(call)?;
        let at = self.fp;
        self.advance(len);
        Ok(at)
    }

    pub fn take_shared(&self, call: &str, len: usize) -> Result<i64> {
        let n = (len / self.view.etype_size()) as i64;
        self.shared(call)?.fetch_add(call, n)
    }
}

/// A request the I/O thread completes with the result of `job` (bytes, or the
/// error class the status carries).
fn start(
    call: &str,
    job: impl FnOnce() -> std::result::Result<usize, ErrorClass> + Send + 'static,
) -> Result<ReqId> {
    start_on(call, job, worker::submit)
}

/// [`start`] on the thread `submit` queues to.
fn start_on(
    call: &str,
    job: impl FnOnce() -> std::result::Result<usize, ErrorClass> + Send + 'static,
    submit: impl FnOnce(worker::Job),
) -> Result<ReqId> {
    let id = runtime::with(call, |rt| Ok(rt.engine.new_external()))?;
    submit(Box::new(move || {
        let r = job();
        let mut st = Status::empty();
        match r {
            Ok(n) => st.count = n,
            Err(class) => st.error = Some(class),
        }
        // After MPI_Finalize there is nobody to tell.
        let _ = runtime::with("MPI-IO completion", |rt| {
            rt.engine.complete_external(id, st)
        });
    }));
    Ok(id)
}

/// A collective access's context (see [`File::coll`]).
struct Coll {
    comm: Communicator,
    f: Arc<Handle>,
    path: String,
    hints: Hints,
    aggrs: Vec<i32>,
    atomic: bool,
}

impl Coll {
    fn ioe(&self, call: &str, what: &str, x: std::io::Error) -> Error {
        io_error(call, &self.path, what, &x)
    }

    /// Two-phase unless atomic mode or the hints say otherwise; `automatic`
    /// uses it when some rank's access is not one contiguous piece.
    fn plan(&self, runs: &[Run], sw: Switch) -> Result<Option<Plan>> {
        if self.atomic || sw == Switch::Disable {
            return Ok(None);
        }
        let noncontig = runs.len() > 1;
        let mut any = [0i64];
        if sw == Switch::Automatic {
            self.comm
                .allreduce(Input::Buf(&[noncontig as i64]), &mut any, &Op::Max)?;
            if any[0] == 0 {
                return Ok(None);
            }
        }
        let align = self.hints.striping_unit.unwrap_or(1);
        Plan::make(
            &self.comm,
            runs,
            self.aggrs.len(),
            self.hints.cb_buffer_size,
            align,
        )
    }

    fn write(&self, call: &str, runs: &[Run], data: &[u8], err: Option<Error>) -> Result<usize> {
        match self.plan(runs, self.hints.cb_write)? {
            Some(plan) => {
                if let Some(x) =
                    twophase::write_all(&self.comm, &self.f, runs, data, &self.aggrs, &plan)?
                {
                    return Err(self.ioe(call, "writing", x));
                }
            }
            None if err.is_none() => {
                independent_write(&self.f, runs, data, &self.hints, self.atomic)
                    .map_err(|x| self.ioe(call, "writing", x))?;
            }
            None => {}
        }
        match err {
            Some(x) => Err(x),
            None => Ok(data.len()),
        }
    }

    fn read(&self, call: &str, runs: &[Run], data: &mut [u8], err: Option<Error>) -> Result<usize> {
        match self.plan(runs, self.hints.cb_read)? {
            Some(plan) => {
                if let Some(x) =
                    twophase::read_all(&self.comm, &self.f, runs, data, &self.aggrs, &plan)?
                {
                    return Err(self.ioe(call, "reading", x));
                }
            }
            None if err.is_none() => {
                independent_read(&self.f, runs, data, &self.hints, self.atomic)
                    .map_err(|x| self.ioe(call, "reading", x))?;
            }
            None => {}
        }
        if let Some(x) = err {
            return Err(x);
        }
        let size = self
            .f
            .metadata()
            .map(|m| m.len() as i64)
            .map_err(|x| self.ioe(call, "fstat", x))?;
        Ok(bytes_before_eof(runs, size))
    }
}

fn span(runs: &[Run]) -> (i64, i64) {
    let lo = runs.iter().map(|r| r.off).min().unwrap_or(0);
    let hi = runs.iter().map(|r| r.off + r.len as i64).max().unwrap_or(0);
    (lo, hi)
}

/// An independent write; in atomic mode under a write lock of its whole span
/// (and this process's turn at the file).
pub fn independent_write(
    f: &Handle,
    runs: &[Run],
    data: &[u8],
    hints: &Hints,
    atomic: bool,
) -> std::io::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let _g = if atomic {
        let (lo, hi) = span(runs);
        Some((f.turn(), RangeLock::take(f, true, lo, hi - lo)?))
    } else {
        None
    };
    sieve::write(
        f,
        runs,
        data,
        hints.ds_write,
        hints.ind_wr_buffer_size,
        atomic,
    )
}

/// An independent read; in atomic mode under a read lock of its whole span
/// (and this process's turn at the file).
pub fn independent_read(
    f: &Handle,
    runs: &[Run],
    data: &mut [u8],
    hints: &Hints,
    atomic: bool,
) -> std::io::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let _g = if atomic {
        let (lo, hi) = span(runs);
        Some((f.turn(), RangeLock::take(f, false, lo, hi - lo)?))
    } else {
        None
    };
    sieve::read(f, runs, data, hints.ds_read, hints.ind_rd_buffer_size)
}

/// MPI_File_delete.
pub fn delete(path: &str) -> Result<()> {
    std::fs::remove_file(path).map_err(|x| io_error("MPI_File_delete", path, "deleting", &x))
}
