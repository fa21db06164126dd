//! Pack and unpack: gathering a typed buffer into a packed byte stream and scattering
//! it back, natively (the bytes as they are in memory) and in external32 (big-endian,
//! IEEE formats, MPI-3.1 §13.5.2). This is the only module of the datatype layer with
//! `unsafe`: it reads and writes the caller's raw buffers at the offsets the type map
//! gives. Contiguous types are one copy; other types copy whole runs (merged where
//! they continue each other), never byte by byte.

use std::ptr;

use super::basic::{Basic, Repr};
use super::types::Datatype;
use crate::error::{Error, ErrorClass, Result};

fn room(call: &str, what: &str, have: usize, pos: usize, need: usize) -> Result<()> {
    if pos > have || have - pos < need {
        return Err(Error::new(
            ErrorClass::Truncate,
            format!(
                "{call}: {what} of {have} bytes at position {pos} has room for {} bytes, {need} needed",
                have.saturating_sub(pos)
            ),
        ));
    }
    Ok(())
}

/// x87 extended precision (16 native bytes) to IEEE binary128 bits. The exponent bias
/// is the same; the explicit integer bit goes, the fraction moves to the top.
fn x87_to_quad(b: [u8; 16]) -> u128 {
    let m = u64::from_le_bytes(b[0..8].try_into().unwrap());
    let se = u16::from_le_bytes([b[8], b[9]]) as u128;
    let frac = ((m & (u64::MAX >> 1)) as u128) << 49;
    ((se >> 15) << 127) | ((se & 0x7fff) << 112) | frac
}

/// IEEE binary128 bits to x87 extended precision (rounding toward zero).
fn quad_to_x87(q: u128) -> [u8; 16] {
    let exp = ((q >> 112) & 0x7fff) as u16;
    let sign = (q >> 127) as u16;
    let mut m = ((q & ((1u128 << 112) - 1)) >> 49) as u64;
    if exp != 0 {
        m |= 1 << 63;
    }
    let mut out = [0u8; 16];
    out[0..8].copy_from_slice(&m.to_le_bytes());
    out[8..10].copy_from_slice(&((sign << 15) | exp).to_le_bytes());
    out
}

/// One native part (`len` bytes, little-endian) to its external32 bytes (`out`:
/// as many as the part has there).
fn to_external(repr: Repr, native: &[u8], out: &mut [u8]) {
    match repr {
        Repr::Raw => out.copy_from_slice(native),
        // The low `out.len()` bytes, most significant first.
        Repr::Swap | Repr::Narrow | Repr::NarrowU => {
            let low = &native[..out.len()];
            for (o, n) in out.iter_mut().zip(low.iter().rev()) {
                *o = *n;
            }
        }
        Repr::X87 => out.copy_from_slice(&x87_to_quad(native.try_into().unwrap()).to_be_bytes()),
    }
}

/// External32 bytes of one part to its native bytes (`out`, little-endian; a
/// narrowed integer is sign- or zero-extended).
fn from_external(repr: Repr, ext: &[u8], out: &mut [u8]) {
    match repr {
        Repr::Raw => out.copy_from_slice(ext),
        Repr::Swap | Repr::Narrow | Repr::NarrowU => {
            for (o, n) in out.iter_mut().zip(ext.iter().rev()) {
                *o = *n;
            }
            let negative = repr == Repr::Narrow && ext.first().is_some_and(|b| b & 0x80 != 0);
            out[ext.len()..].fill(if negative { 0xff } else { 0 });
        }
        Repr::X87 => {
            out.copy_from_slice(&quad_to_x87(u128::from_be_bytes(ext.try_into().unwrap())))
        }
    }
}

impl Datatype {
    /// `MPI_Pack`: packs `count` elements of the buffer at `src` into `dst[*pos..]`
    /// and advances `pos`. Fails with `Truncate` (writing nothing) if they do not fit.
    ///
    /// # Safety
    /// Every byte of the type map of `count` elements, at its offset from `src`, must
    /// be readable, and must not overlap `dst`.
    pub unsafe fn pack(
        &self,
        src: *const u8,
        count: usize,
        dst: &mut [u8],
        pos: &mut usize,
    ) -> Result<()> {
        let need = self.packed_size(count, "MPI_Pack")?;
        room("MPI_Pack", "the output buffer", dst.len(), *pos, need)?;
        // SAFETY: the caller vouches for the source bytes; the window fits dst (checked).
        let n = unsafe { self.pack_range(src, count, 0, &mut dst[*pos..*pos + need]) };
        *pos += n;
        Ok(())
    }

    /// `MPI_Unpack`: unpacks `count` elements from `src[*pos..]` into the buffer at
    /// `dst` and advances `pos`. Fails with `Truncate` (writing nothing) if `src` holds
    /// fewer bytes than that.
    ///
    /// # Safety
    /// Every byte of the type map of `count` elements, at its offset from `dst`, must
    /// be writable, and must not overlap `src`.
    pub unsafe fn unpack(
        &self,
        src: &[u8],
        pos: &mut usize,
        dst: *mut u8,
        count: usize,
    ) -> Result<()> {
        let need = self.packed_size(count, "MPI_Unpack")?;
        room("MPI_Unpack", "the input buffer", src.len(), *pos, need)?;
        // SAFETY: the caller vouches for the destination bytes; the window fits src.
        let n = unsafe { self.unpack_range(&src[*pos..*pos + need], 0, dst, count) };
        *pos += n;
        Ok(())
    }

    /// Packs bytes `[first, first + dst.len())` of the packed stream of `count`
    /// elements at `src` into `dst` (for pipelined sends); returns the bytes written
    /// (fewer at the end of the stream).
    ///
    /// # Safety
    /// As for [`Datatype::pack`].
    pub unsafe fn pack_range(
        &self,
        src: *const u8,
        count: usize,
        first: usize,
        dst: &mut [u8],
    ) -> usize {
        let out = dst.as_mut_ptr();
        let hi = first.saturating_add(dst.len());
        let mut written = 0;
        self.for_each_run(count, first, hi, |mem, packed, len| {
            // SAFETY: `mem..mem+len` is part of the type map (readable, the caller's
            // promise); `packed - first + len <= dst.len()` because runs are clipped to
            // the window; the two do not overlap (the caller's promise).
            unsafe {
                ptr::copy_nonoverlapping(src.offset(mem as isize), out.add(packed - first), len)
            };
            written += len;
        });
        written
    }

    /// Unpacks `src`, which holds bytes `[first, first + src.len())` of the packed
    /// stream of `count` elements, into the buffer at `dst`; returns the bytes used.
    ///
    /// # Safety
    /// As for [`Datatype::unpack`].
    pub unsafe fn unpack_range(
        &self,
        src: &[u8],
        first: usize,
        dst: *mut u8,
        count: usize,
    ) -> usize {
        let inp = src.as_ptr();
        let hi = first.saturating_add(src.len());
        let mut used = 0;
        self.for_each_run(count, first, hi, |mem, packed, len| {
            // SAFETY: as in pack_range, with source and destination swapped.
            unsafe {
                ptr::copy_nonoverlapping(inp.add(packed - first), dst.offset(mem as isize), len)
            };
            used += len;
        });
        used
    }

    /// `MPI_Pack_external_size` for "external32": the sizes of MPI-3.1 Table 13.2,
    /// which are the native x86-64 sizes but for `long` / `unsigned long` (4, not 8),
    /// `wchar_t` (2, not 4) and the pairs made of them (MPI_LONG_INT: 8). Saturates.
    pub fn pack_external_size(&self, count: usize) -> usize {
        let mut one = 0usize;
        self.for_each_elems(1, |_, b, n| one += n * b.ext_size());
        one.saturating_mul(count)
    }

    /// [`Datatype::pack_external_size`], or an error naming `call` if it overflows.
    fn external_size(&self, count: usize, call: &str) -> Result<usize> {
        let mut one = 0usize;
        self.for_each_elems(1, |_, b, n| one += n * b.ext_size());
        one.checked_mul(count).ok_or_else(|| {
            Error::new(
                ErrorClass::Count,
                format!("{call}: count {count} overflows the packed size"),
            )
        })
    }

    /// `MPI_Pack_external` ("external32"): big-endian, long double as IEEE binary128,
    /// `long` in 4 bytes (a value that does not fit keeps its low 32 bits, as MPICH
    /// packs it), `wchar_t` in 2 (likewise).
    ///
    /// # Safety
    /// As for [`Datatype::pack`].
    pub unsafe fn pack_external(
        &self,
        src: *const u8,
        count: usize,
        dst: &mut [u8],
        pos: &mut usize,
    ) -> Result<()> {
        let need = self.external_size(count, "MPI_Pack_external")?;
        room(
            "MPI_Pack_external",
            "the output buffer",
            dst.len(),
            *pos,
            need,
        )?;
        let mut at = *pos;
        self.for_each_elems(count, |mem, b, n| {
            let len = n * b.ext_size();
            // SAFETY: the parts of these `n` elements at `src + mem` are in the type
            // map (readable: the caller's promise).
            unsafe { convert_out(b, n, src.offset(mem as isize), &mut dst[at..at + len]) };
            at += len;
        });
        *pos = at;
        Ok(())
    }

    /// `MPI_Unpack_external` ("external32").
    ///
    /// # Safety
    /// As for [`Datatype::unpack`].
    pub unsafe fn unpack_external(
        &self,
        src: &[u8],
        pos: &mut usize,
        dst: *mut u8,
        count: usize,
    ) -> Result<()> {
        let need = self.external_size(count, "MPI_Unpack_external")?;
        room(
            "MPI_Unpack_external",
            "the input buffer",
            src.len(),
            *pos,
            need,
        )?;
        let mut at = *pos;
        self.for_each_elems(count, |mem, b, n| {
            let len = n * b.ext_size();
            // SAFETY: the parts of these `n` elements at `dst + mem` are in the type
            // map (writable, disjoint from `src`: the caller's promise).
            unsafe { convert_in(b, n, &src[at..at + len], dst.offset(mem as isize)) };
            at += len;
        });
        *pos = at;
        Ok(())
    }
}

/// `n` native elements at `native` (`b.size()` apart) to external32 in `out`
/// (`n * b.ext_size()` bytes). Only the data parts are read, never the padding.
///
/// # Safety
/// The parts of the `n` elements must be readable.
unsafe fn convert_out(b: Basic, n: usize, native: *const u8, out: &mut [u8]) {
    let parts = b.parts();
    if parts.len() == 1 && parts[0].repr == Repr::Raw {
        // SAFETY: one-byte raw elements are dense: `n` readable bytes; out has n bytes.
        unsafe { ptr::copy_nonoverlapping(native, out.as_mut_ptr(), out.len()) };
        return;
    }
    let mut o = 0;
    let mut tmp = [0u8; 16];
    for i in 0..n {
        for p in parts {
            // SAFETY: part `p` of element `i` is readable (the caller's promise) and
            // `p.len <= 16`.
            unsafe {
                ptr::copy_nonoverlapping(native.add(i * b.size() + p.off), tmp.as_mut_ptr(), p.len)
            };
            to_external(p.repr, &tmp[..p.len], &mut out[o..o + p.ext]);
            o += p.ext;
        }
    }
}

/// External32 bytes `ext` to `n` native elements at `native`; padding is left alone.
///
/// # Safety
/// The parts of the `n` elements must be writable and disjoint from `ext`.
unsafe fn convert_in(b: Basic, n: usize, ext: &[u8], native: *mut u8) {
    let parts = b.parts();
    if parts.len() == 1 && parts[0].repr == Repr::Raw {
        // SAFETY: one-byte raw elements are dense: `n` writable bytes, disjoint.
        unsafe { ptr::copy_nonoverlapping(ext.as_ptr(), native, ext.len()) };
        return;
    }
    let mut i = 0;
    let mut tmp = [0u8; 16];
    for k in 0..n {
        for p in parts {
            from_external(p.repr, &ext[i..i + p.ext], &mut tmp[..p.len]);
            // SAFETY: part `p` of element `k` is writable (the caller's promise).
            unsafe {
                ptr::copy_nonoverlapping(tmp.as_ptr(), native.add(k * b.size() + p.off), p.len)
            };
            i += p.ext;
        }
    }
}
