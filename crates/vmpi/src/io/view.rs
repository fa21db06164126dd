//! File views (MPI-3.1 §13.3): a displacement, an etype and a filetype tiled from
//! the displacement. The data a rank sees is the filetype's type map repeated; a
//! position in it (in bytes of data) maps to file offsets through the datatype's
//! own walk of its type map ([`Datatype::for_each_run`]), so any derived type
//! works: vector, subarray, struct, resized.

use crate::datatype::{Basic, Datatype};
use crate::error::{Error, ErrorClass, Result};

/// One contiguous piece of an access: `len` bytes at file offset `off`, which are
/// bytes `pos..pos + len` of the (packed) memory data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub off: i64,
    pub len: usize,
    pub pos: usize,
}

#[derive(Debug, Clone)]
pub struct View {
    pub disp: i64,
    pub etype: Datatype,
    pub filetype: Datatype,
}

impl Default for View {
    /// The view a file opens with: displacement 0, etype and filetype MPI_BYTE.
    fn default() -> Self {
        View {
            disp: 0,
            etype: Datatype::basic(Basic::Byte),
            filetype: Datatype::basic(Basic::Byte),
        }
    }
}

impl View {
    /// A view, checked as MPI_File_set_view does.
    pub fn new(disp: i64, etype: Datatype, filetype: Datatype) -> Result<View> {
        let call = "MPI_File_set_view";
        if disp < 0 {
            return Err(Error::new(
                ErrorClass::Arg,
                format!("{call}: negative displacement {disp}"),
            ));
        }
        if etype.size() <= 0 {
            return Err(Error::new(
                ErrorClass::Type,
                format!("{call}: the etype has size 0"),
            ));
        }
        if filetype.size() <= 0 {
            return Err(Error::new(
                ErrorClass::Type,
                format!("{call}: the filetype has size 0"),
            ));
        }
        if filetype.size() % etype.size() != 0 {
            return Err(Error::new(
                ErrorClass::Type,
                format!(
                    "{call}: the filetype's size {} is not a multiple of the etype's size {}",
                    filetype.size(),
                    etype.size()
                ),
            ));
        }
        let mut last = i64::MIN;
        let mut monotone = true;
        for (o, _) in filetype.segments(1) {
            if o < last {
                monotone = false;
            }
            last = o;
        }
        if !monotone || filetype.true_lb() < 0 {
            return Err(Error::new(
                ErrorClass::Type,
                format!("{call}: the filetype's displacements must be non-negative and nondecreasing (MPI-3.1 §13.3)"),
            ));
        }
        Ok(View {
            disp,
            etype,
            filetype,
        })
    }

    pub fn etype_size(&self) -> usize {
        self.etype.size() as usize
    }

    /// True when the view is the file's bytes in order from `disp`.
    fn dense(&self) -> bool {
        let f = &self.filetype;
        f.is_contiguous() && f.true_lb() == 0 && f.lb() == 0 && f.extent() == f.size()
    }

    /// The file pieces of data bytes `[start, start + len)` of the view, in data
    /// order, adjacent pieces merged; `pos` counts from `start`.
    pub fn runs(&self, start: u64, len: usize) -> Vec<Run> {
        let mut out: Vec<Run> = Vec::new();
        if len == 0 {
            return out;
        }
        if self.dense() {
            out.push(Run {
                off: self.disp + start as i64,
                len,
                pos: 0,
            });
            return out;
        }
        let size = self.filetype.size() as u64;
        let end = start + len as u64;
        let count = end.div_ceil(size) as usize;
        let disp = self.disp;
        self.filetype
            .for_each_run(count, start as usize, end as usize, |o, p, l| {
                let off = disp + o;
                let pos = p - start as usize;
                match out.last_mut() {
                    Some(r) if r.off + r.len as i64 == off && r.pos + r.len == pos => r.len += l,
                    _ => out.push(Run { off, len: l, pos }),
                }
            });
        out
    }

    /// The file offset of data byte `start` (MPI_File_get_byte_offset): where the
    /// next byte would go, the start of the next tile past a tile's last byte.
    pub fn byte_offset(&self, start: u64) -> i64 {
        match self.runs(start, 1).first() {
            Some(r) => r.off,
            None => self.disp,
        }
    }
}

impl View {
    /// How many bytes of data of the view lie before file offset `off` (for
    /// MPI_SEEK_END: the end of the file as a view position).
    pub fn data_before(&self, off: i64) -> u64 {
        if off <= self.disp {
            return 0;
        }
        let rel = off - self.disp;
        if self.dense() {
            return rel as u64;
        }
        let ext = self.filetype.extent().max(1);
        let (k, rem) = (rel / ext, rel % ext);
        let mut n = k as u64 * self.filetype.size() as u64;
        for (o, l) in self.filetype.segments(1) {
            if o >= rem {
                break;
            }
            n += (l as i64).min(rem - o) as u64;
        }
        n
    }
}

/// The bytes of data an access of `runs` finds before the end of a file of
/// `size` bytes (a read stops at end of file).
pub fn bytes_before_eof(runs: &[Run], size: i64) -> usize {
    let mut n = 0;
    for r in runs {
        if r.off + r.len as i64 <= size {
            n = r.pos + r.len;
        } else {
            if r.off < size {
                n = r.pos + (size - r.off) as usize;
            }
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_view_runs() {
        let int = Datatype::basic(Basic::I32);
        let ft = Datatype::vector(2, 1, 4, &int).unwrap();
        let ft = Datatype::resized(&ft, 0, 32).unwrap();
        let v = View::new(100, int, ft).unwrap();
        let r = v.runs(0, 16);
        assert_eq!(
            r,
            vec![
                Run {
                    off: 100,
                    len: 4,
                    pos: 0
                },
                Run {
                    off: 116,
                    len: 4,
                    pos: 4
                },
                Run {
                    off: 132,
                    len: 4,
                    pos: 8
                },
                Run {
                    off: 148,
                    len: 4,
                    pos: 12
                },
            ]
        );
        assert_eq!(
            v.runs(6, 4)[0],
            Run {
                off: 118,
                len: 2,
                pos: 0
            }
        );
        assert_eq!(v.byte_offset(8), 132);
        assert_eq!(bytes_before_eof(&r, 134), 10);
    }
}
