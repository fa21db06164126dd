//! Types that travel as their bytes: plain numbers and arrays of them.

/// A type whose values are plain bytes: every bit pattern is a valid value and it
/// has no padding, so a slice of it can be sent and received as bytes.
///
/// # Safety
/// Implement only for types with no padding and no invalid bit patterns.
pub unsafe trait Equivalence: Copy + 'static {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive number: no padding, every bit pattern valid.
        unsafe impl Equivalence for $t {}
    )* };
}
plain!(u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, usize, isize, f32, f64);

// SAFETY: an array of plain values is plain (no padding between elements).
unsafe impl<T: Equivalence, const N: usize> Equivalence for [T; N] {}

pub(crate) fn bytes<T: Equivalence>(s: &[T]) -> &[u8] {
    // SAFETY: T is plain (Equivalence), so its bytes are initialized and readable.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

pub(crate) fn bytes_mut<T: Equivalence>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: T is plain: any bytes written make valid values.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}
