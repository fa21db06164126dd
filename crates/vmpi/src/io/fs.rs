//! The POSIX calls of MPI-IO, on `std::fs::File` (pread/pwrite through
//! `FileExt`, ftruncate, fsync) and `nix` (fcntl open-file-description locks,
//! posix_fallocate), with errno turned into MPI's I/O error classes. No `unsafe`.

use crate::error::{Error, ErrorClass};
use nix::fcntl::{fcntl, FcntlArg};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

/// The MPI class of an errno, as ROMIO maps them.
pub fn class_of_errno(errno: i32) -> ErrorClass {
    match errno {
        libc::ENOENT => ErrorClass::NoSuchFile,
        libc::EACCES | libc::EPERM => ErrorClass::Access,
        libc::ENOSPC | libc::EFBIG => ErrorClass::NoSpace,
        libc::EDQUOT => ErrorClass::Quota,
        libc::EEXIST => ErrorClass::FileExists,
        libc::EROFS => ErrorClass::ReadOnly,
        libc::ENOTDIR | libc::ENAMETOOLONG | libc::EISDIR | libc::ELOOP => ErrorClass::BadFile,
        libc::ETXTBSY | libc::EBUSY => ErrorClass::FileInUse,
        _ => ErrorClass::Io,
    }
}

/// An error of `call` on file `path`: the errno's class, its text and number.
pub fn io_error(call: &str, path: &str, what: &str, e: &io::Error) -> Error {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    Error::new(
        class_of_errno(errno),
        format!(
            "{call}: {what} \"{path}\" failed: {} ({:?}, errno {errno})",
            nix::errno::Errno::from_raw(errno).desc(),
            nix::errno::Errno::from_raw(errno)
        ),
    )
}

/// Read `buf.len()` bytes at `off`, fewer only at the end of the file; returns
/// the bytes read.
pub fn pread_full(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Write all of `buf` at `off`.
pub fn pwrite_all(f: &File, buf: &[u8], off: u64) -> io::Result<()> {
    f.write_all_at(buf, off)
}

/// A byte-range lock on an open file description (`F_OFD_SETLKW`): released when
/// dropped. Locks of one description never conflict with each other (threads
/// of this process take [`Handle::turn`] too), and a caller takes at most one at
/// a time per range (releasing a nested one would release the outer's bytes).
pub struct RangeLock<'a> {
    f: &'a File,
    start: i64,
    len: i64,
}

fn flock(kind: i32, start: i64, len: i64) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: start,
        l_len: len,
        l_pid: 0,
    }
}

impl<'a> RangeLock<'a> {
    /// Wait for a lock on `[start, start + len)` (len 0: to the end of all files).
    pub fn take(f: &'a File, write: bool, start: i64, len: i64) -> io::Result<RangeLock<'a>> {
        let kind = if write { libc::F_WRLCK } else { libc::F_RDLCK };
        let l = flock(kind, start, len);
        loop {
            match fcntl(f.as_raw_fd(), FcntlArg::F_OFD_SETLKW(&l)) {
                Ok(_) => return Ok(RangeLock { f, start, len }),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io::Error::from_raw_os_error(e as i32)),
            }
        }
    }
}

impl Drop for RangeLock<'_> {
    fn drop(&mut self) {
        let l = flock(libc::F_UNLCK, self.start, self.len);
        let _ = fcntl(self.f.as_raw_fd(), FcntlArg::F_OFD_SETLK(&l));
    }
}

/// An open file and the lock its threads take around accesses that
/// read-modify-write (data sieving) or must be atomic: `fcntl` locks of one
/// open file description never conflict with each other, so they keep other
/// processes out but not this process's other threads (the I/O threads of
/// nonblocking accesses, the application's).
pub struct Handle {
    pub file: File,
    pub local: std::sync::Mutex<()>,
}

impl Handle {
    pub fn new(file: File) -> Handle {
        Handle {
            file,
            local: std::sync::Mutex::new(()),
        }
    }

    /// This process's turn at the file (see the type's doc).
    pub fn turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::ops::Deref for Handle {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

/// posix_fallocate: make sure `[0, size)` has blocks (never shrinks).
pub fn preallocate(f: &File, size: i64) -> io::Result<()> {
    if size <= 0 {
        return Ok(());
    }
    match nix::fcntl::posix_fallocate(f.as_raw_fd(), 0, size) {
        Ok(()) => Ok(()),
        // File systems without fallocate: grow by writing zeros past the end.
        Err(nix::errno::Errno::EOPNOTSUPP) => {
            let cur = f.metadata()?.len() as i64;
            if cur < size {
                f.set_len(size as u64)?;
            }
            Ok(())
        }
        Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
    }
}
