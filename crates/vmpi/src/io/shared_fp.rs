//! The shared file pointer: an 8-byte counter (in etypes of the current view) in
//! a hidden sidecar file next to the data file, `.<name>.vmpi-shfp-<pid>-<n>`
//! (rank 0's pid and its count of opens: each opening has its own), read and
//! advanced under an `fcntl` open-file-description write lock. Every rank opens
//! it at MPI_File_open (rank 0 creates it, zeroed, before the others), so a
//! `_shared` call needs no other rank's progress; rank 0 removes it at the
//! collective close. The lock keeps other processes out; the threads of one
//! rank take turns on the file handle's own lock (the C layer's), since `fcntl`
//! locks of one open file description never conflict with each other.

use super::fs::{io_error, pread_full, pwrite_all, RangeLock};
use crate::error::Result;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

pub struct SharedFp {
    pub path: PathBuf,
    f: File,
}

/// Where the counter of one opening of `data_path` lives: `tag` (rank 0's pid
/// and its count of opens) keeps two openings of one file apart.
pub fn sidecar_of(data_path: &str, tag: &str) -> PathBuf {
    let p = Path::new(data_path);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
    let side = format!(".{name}.vmpi-shfp-{tag}");
    match dir {
        Some(d) => d.join(side),
        None => PathBuf::from(side),
    }
}

impl SharedFp {
    /// Rank 0: make (or reset) the counter at `start`.
    pub fn create(data_path: &str, tag: &str, start: i64) -> std::io::Result<SharedFp> {
        let path = sidecar_of(data_path, tag);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        pwrite_all(&f, &start.to_le_bytes(), 0)?;
        Ok(SharedFp { path, f })
    }

    /// The other ranks, after rank 0 made it.
    pub fn open(data_path: &str, tag: &str) -> std::io::Result<SharedFp> {
        let path = sidecar_of(data_path, tag);
        let f = OpenOptions::new().read(true).write(true).open(&path)?;
        Ok(SharedFp { path, f })
    }

    fn err(&self, call: &str, e: std::io::Error) -> crate::error::Error {
        io_error(
            call,
            &self.path.to_string_lossy(),
            "updating the shared file pointer in",
            &e,
        )
    }

    fn load(&self) -> std::io::Result<i64> {
        let mut b = [0u8; 8];
        pread_full(&self.f, &mut b, 0)?;
        Ok(i64::from_le_bytes(b))
    }

    /// Advance the pointer by `n` etypes; returns where it was.
    pub fn fetch_add(&self, call: &str, n: i64) -> Result<i64> {
        let r = (|| {
            let _g = RangeLock::take(&self.f, true, 0, 8)?;
            let v = self.load()?;
            pwrite_all(&self.f, &(v + n).to_le_bytes(), 0)?;
            Ok(v)
        })();
        r.map_err(|e| self.err(call, e))
    }

    pub fn get(&self, call: &str) -> Result<i64> {
        let r = (|| {
            let _g = RangeLock::take(&self.f, false, 0, 8)?;
            self.load()
        })();
        r.map_err(|e| self.err(call, e))
    }

    pub fn set(&self, call: &str, v: i64) -> Result<()> {
        let r = (|| {
            let _g = RangeLock::take(&self.f, true, 0, 8)?;
            pwrite_all(&self.f, &v.to_le_bytes(), 0)
        })();
        r.map_err(|e| self.err(call, e))
    }
}
