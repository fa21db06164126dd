//! Every raw memory access of one-sided communication: a target's exposed memory
//! (the application's, or allocated here) checked against each request's runs,
//! and the origin's buffers packed and unpacked through their datatypes.
//!
//! Two representations of data travel: *packed* (the bytes of the type map,
//! [`Datatype::segments`]) for put and get, and *dense* (whole predefined
//! elements, padding of pair types included, [`Datatype::for_each_elems`]) for
//! accumulates, which the reduction code computes on.

use crate::datatype::Datatype;
use std::alloc::{alloc_zeroed, dealloc, Layout};

/// What a target exposes.
#[derive(Debug)]
pub enum Exposed {
    /// `size` bytes from `base` (created, allocated or shared windows).
    Fixed { base: usize, size: usize },
    /// The regions attached to a dynamic window: (address, length).
    Dynamic(Vec<(usize, usize)>),
}

impl Exposed {
    /// The absolute ranges of `runs` from window address `addr`, if every one
    /// lies inside the exposed memory (a request is untrusted input).
    pub fn resolve(&self, addr: u64, runs: &[(i64, usize)]) -> Option<Vec<(usize, usize)>> {
        let inside = |a: usize, len: usize| match self {
            Exposed::Fixed { base, size } => {
                a >= *base && a.checked_add(len).is_some_and(|e| e <= base + size)
            }
            Exposed::Dynamic(regions) => regions
                .iter()
                .any(|&(b, l)| a >= b && a.checked_add(len).is_some_and(|e| e <= b + l)),
        };
        let start = match self {
            Exposed::Fixed { base, .. } => (*base as u64).checked_add(addr)?,
            Exposed::Dynamic(_) => addr,
        };
        let mut out = Vec::with_capacity(runs.len());
        for &(off, len) in runs {
            if len == 0 {
                continue;
            }
            let a = usize::try_from(start.checked_add_signed(off)?).ok()?;
            if !inside(a, len) {
                return None;
            }
            out.push((a, len));
        }
        Some(out)
    }
}

/// Copy `data` into the ranges, in order (their lengths add up to `data`'s).
///
/// # Safety
/// Every range must be memory this window exposes (from [`Exposed::resolve`]):
/// the application gave it to MPI for the window's life, and MPI's rules keep
/// its own accesses apart from this one.
pub unsafe fn scatter(ranges: &[(usize, usize)], data: &[u8]) {
    let mut at = 0;
    for &(a, len) in ranges {
        let n = len.min(data.len() - at);
        // SAFETY: the caller vouches for the range; `data` is private memory.
        unsafe { std::ptr::copy(data.as_ptr().add(at), a as *mut u8, n) };
        at += n;
    }
}

/// The bytes of the ranges, in order.
///
/// # Safety
/// As for [`scatter`] (read instead of written).
pub unsafe fn gather(ranges: &[(usize, usize)], out: &mut Vec<u8>) {
    for &(a, len) in ranges {
        // SAFETY: the caller vouches for the range.
        out.extend_from_slice(unsafe { std::slice::from_raw_parts(a as *const u8, len) });
    }
}

/// The runs of `count` elements of `dt` at the target, relative to the target
/// address: packed runs, or dense runs of whole elements.
pub fn runs(dt: &Datatype, count: usize, dense: bool) -> Vec<(i64, usize)> {
    // A contiguous type has no padding: its dense and packed forms are one run
    // (and the element walk below costs a call per element).
    if !dense || dt.is_contiguous() {
        return dt.segments(count);
    }
    let mut v: Vec<(i64, usize)> = Vec::new();
    dt.for_each_elems(count, |off, b, n| {
        let len = n * b.size();
        match v.last_mut() {
            Some(last) if last.0 + last.1 as i64 == off => last.1 += len,
            _ => v.push((off, len)),
        }
    });
    v
}

/// Bytes of `count` elements of `dt` in the dense form (0 for a type not made
/// of one predefined kind, which accumulates refuse before asking).
pub fn dense_bytes(dt: &Datatype, count: usize) -> usize {
    dt.reduce_kind()
        .map_or(0, |(k, units)| count * units * k.size())
}

/// Append `count` elements of `dt` at `buf` to `out`, packed or dense.
///
/// # Safety
/// Every byte of the type map of `count` elements at `buf` must be readable
/// (the origin buffer of a one-sided call, valid while the call runs).
pub unsafe fn load(buf: *const u8, count: usize, dt: &Datatype, dense: bool, out: &mut Vec<u8>) {
    for (off, len) in runs(dt, count, dense) {
        // SAFETY: the caller vouches for the type map's bytes at `buf`.
        out.extend_from_slice(unsafe {
            std::slice::from_raw_parts(buf.wrapping_offset(off as isize), len)
        });
    }
}

/// Store `data` (packed or dense) as `count` elements of `dt` at `buf`.
///
/// # Safety
/// Every byte of the type map of `count` elements at `buf` must be writable
/// and untouched by anyone else (a result buffer of a pending one-sided call).
pub unsafe fn store(data: &[u8], buf: *mut u8, count: usize, dt: &Datatype, dense: bool) {
    let mut at = 0;
    for (off, len) in runs(dt, count, dense) {
        let n = len.min(data.len().saturating_sub(at));
        // SAFETY: the caller vouches for the destination; `data` is private.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr().add(at),
                buf.wrapping_offset(off as isize),
                n,
            )
        };
        at += n;
    }
}

/// Memory MPI_Win_allocate allocated (zeroed, 64-byte aligned), freed with the
/// window.
#[derive(Debug)]
pub struct Owned {
    ptr: *mut u8,
    layout: Layout,
}

// SAFETY: plain heap memory owned by the window; accessed under the runtime lock
// by MPI and by the application through the base pointer MPI handed out.
unsafe impl Send for Owned {}

impl Owned {
    /// `size` zeroed bytes, or None when the allocator has none.
    pub fn new(size: usize) -> Option<Owned> {
        let layout = Layout::from_size_align(size.max(1), 64).ok()?;
        // SAFETY: the layout has a nonzero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        (!ptr.is_null()).then_some(Owned { ptr, layout })
    }
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; freed once.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datatype::Basic;

    #[test]
    fn runs_outside_the_window_are_refused() {
        let mem = vec![0u8; 64];
        let base = mem.as_ptr() as usize;
        let e = Exposed::Fixed { base, size: 64 };
        assert_eq!(
            e.resolve(8, &[(0, 8), (16, 8)]),
            Some(vec![(base + 8, 8), (base + 24, 8)])
        );
        assert_eq!(e.resolve(60, &[(0, 8)]), None);
        assert_eq!(e.resolve(0, &[(-8, 8)]), None);
        assert_eq!(e.resolve(u64::MAX, &[(0, 8)]), None);
        let d = Exposed::Dynamic(vec![(base, 16)]);
        assert!(d.resolve(base as u64, &[(0, 16)]).is_some());
        assert!(d.resolve(base as u64 + 8, &[(0, 16)]).is_none());
    }

    #[test]
    fn dense_and_packed_round_trip_through_a_vector() {
        let dt = Datatype::vector(3, 1, 2, &Datatype::basic(Basic::I32)).unwrap();
        let src: Vec<i32> = (0..6).collect();
        let mut packed = Vec::new();
        // SAFETY: the vector covers 5 ints of the 6.
        unsafe { load(src.as_ptr().cast(), 1, &dt, false, &mut packed) };
        assert_eq!(packed.len(), 12);
        let mut dst = vec![-1i32; 6];
        // SAFETY: as above.
        unsafe { store(&packed, dst.as_mut_ptr().cast(), 1, &dt, true) };
        assert_eq!(dst, [0, -1, 2, -1, 4, -1]);
        assert_eq!(runs(&dt, 1, true), vec![(0, 4), (8, 4), (16, 4)]);
    }
}
