//! Independent access to a list of file pieces, with data sieving (ROMIO's
//! name): many small pieces close together are read as one large span (and for a
//! write, patched in memory and written back under a byte-range lock, so a
//! concurrent writer of the holes loses nothing), instead of one system call per
//! piece.

use super::fs::{pread_full, pwrite_all, Handle, RangeLock};
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

/// Write `data` to the pieces `runs`. `locked`: the caller holds the locks
/// over the whole access already (atomic mode), so sieving takes none of its own.
pub fn write(
    f: &Handle,
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
            Some((f.turn(), RangeLock::take(f, true, lo, hi - lo)?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_respect_the_span() {
        let runs: Vec<Run> = (0..10)
            .map(|k| Run {
                off: k * 100,
                len: 10,
                pos: k as usize * 10,
            })
            .collect();
        let w = windows(&runs, 350);
        assert_eq!(w, vec![(0, 4, 0, 310), (4, 8, 400, 710), (8, 10, 800, 910)]);
        assert!(worth(Switch::Automatic, &runs[0..4], 0, 310));
        assert!(!worth(Switch::Disable, &runs[0..4], 0, 310));
        assert!(!worth(Switch::Enable, &runs[0..1], 0, 10));
    }

    #[test]
    fn sieved_writes_keep_the_holes() {
        let dir = std::env::temp_dir().join(format!("vmpi-sieve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let f = Handle::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap(),
        );
        pwrite_all(&f, &[b'.'; 40], 0).unwrap();
        let runs = [
            Run {
                off: 2,
                len: 3,
                pos: 0,
            },
            Run {
                off: 10,
                len: 2,
                pos: 3,
            },
            Run {
                off: 30,
                len: 4,
                pos: 5,
            },
        ];
        write(&f, &runs, b"abcdefghi", Switch::Enable, 1 << 20, false).unwrap();
        let mut back = [0u8; 40];
        pread_full(&f, &mut back, 0).unwrap();
        assert_eq!(&back[..], b"..abc.....de..................fghi......");
        let mut got = [0u8; 9];
        read(&f, &runs, &mut got, Switch::Enable, 1 << 20).unwrap();
        assert_eq!(&got, b"abcdefghi");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
