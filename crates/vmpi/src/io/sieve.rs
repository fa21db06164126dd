//! Independent access to a list of file pieces, with data sieving (ROMIO's
//! name): many small pieces close together are read as one large span (and for a
//! write, patched in memory and written back under a byte-range lock, so a
//! concurrent writer of the holes loses nothing), instead of one system call per
//! piece.

use super::fs::{pread_full, pwrite_all, RangeLock};
use super::hints::Switch;
use super::view::Run;
use std::fs::File;
use std::io;

/// Pieces smaller than this on average are worth sieving.
const SMALL: usize = 64 << 10;

/// Group `runs` into windows of at most `span` bytes of file; each window is
/// `(first index, end index, file start, file end)`.
fn windows(runs: &[Run], span: usize) -> Vec<(usize, usize, i64, i64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let lo = runs[i].off;
        let mut hi = runs[i].off + runs[i].len as i64;
        let mut j = i + 1;
        while j < runs.len() {
            let end = runs[j].off + runs[j].len as i64;
            // Monotone views give nondecreasing offsets; a piece behind the
            // window (or a span too large) starts a new window.
            if runs[j].off < hi || end - lo > span as i64 {
                break;
            }
            hi = end;
            j += 1;
        }
        out.push((i, j, lo, hi));
        i = j;
    }
    out
}

fn worth(sw: Switch, runs: &[Run], lo: i64, hi: i64) -> bool {
    let n = runs.len();
    match sw {
        Switch::Disable => false,
        Switch::Enable => n > 1,
        Switch::Automatic => {
            let bytes: usize = runs.iter().map(|r| r.len).sum();
            n > 1 && bytes / n < SMALL && (hi - lo) as usize <= 4 * bytes.max(1) + (1 << 20)
        }
    }
}

/// Write `data` to the pieces `runs`. `locked`: the caller holds a lock over
/// the whole access already (atomic mode), so sieving takes none of its own.
pub fn write(
    f: &File,
    runs: &[Run],
    data: &[u8],
    sw: Switch,
    span: usize,
    locked: bool,
) -> io::Result<()> {
    for (i, j, lo, hi) in windows(runs, span) {
        let w = &runs[i..j];
        if !worth(sw, w, lo, hi) {
            for r in w {
                pwrite_all(f, &data[r.pos..r.pos + r.len], r.off as u64)?;
            }
            continue;
        }
        let _g = if locked {
            None
        } else {
            Some(RangeLock::take(f, true, lo, hi - lo)?)
        };
        let mut buf = vec![0u8; (hi - lo) as usize];
        match pread_full(f, &mut buf, lo as u64) {
            Ok(_) => {}
            // A write-only descriptor (the file's permissions allowed no
            // more): no sieving, one write per piece.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                for r in w {
                    pwrite_all(f, &data[r.pos..r.pos + r.len], r.off as u64)?;
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        for r in w {
            let a = (r.off - lo) as usize;
            buf[a..a + r.len].copy_from_slice(&data[r.pos..r.pos + r.len]);
        }
        pwrite_all(f, &buf, lo as u64)?;
    }
    Ok(())
}

/// Read the pieces `runs` into `data` (bytes past the end of the file read as
/// zero).
pub fn read(f: &File, runs: &[Run], data: &mut [u8], sw: Switch, span: usize) -> io::Result<()> {
    for (i, j, lo, hi) in windows(runs, span) {
        let w = &runs[i..j];
        if !worth(sw, w, lo, hi) {
            for r in w {
                let d = &mut data[r.pos..r.pos + r.len];
                let n = pread_full(f, d, r.off as u64)?;
                d[n..].fill(0);
            }
            continue;
        }
        let mut buf = vec![0u8; (hi - lo) as usize];
        pread_full(f, &mut buf, lo as u64)?;
        for r in w {
            let a = (r.off - lo) as usize;
            data[r.pos..r.pos + r.len].copy_from_slice(&buf[a..a + r.len]);
        }
    }
    Ok(())
}
