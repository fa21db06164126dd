//! Types that travel as their bytes: plain numbers and arrays of them.

use crate::datatype::Basic;

/// A type whose values are plain bytes: every bit pattern is a valid value and it
/// has no padding, so a slice of it can be sent and received as bytes.
///
/// # Safety
/// Implement only for types with no padding and no invalid bit patterns.
pub unsafe trait Equivalence: Copy + 'static {
    /// For reductions with predefined operations: the predefined element kind and
    /// how many of them one value holds (None: only user operations apply).
    fn reduce_kind() -> Option<(Basic, usize)> {
        None
    }
}

macro_rules! plain {
    ($($t:ty => $k:expr),*) => { $(
        // SAFETY: a primitive number: no padding, every bit pattern valid.
        unsafe impl Equivalence for $t {
            fn reduce_kind() -> Option<(Basic, usize)> {
                $k.map(|k: Basic| (k, 1))
            }
        }
    )* };
}
plain!(u8 => Some(Basic::U8), i8 => Some(Basic::I8), u16 => Some(Basic::U16), i16 => Some(Basic::I16),
    u32 => Some(Basic::U32), i32 => Some(Basic::I32), u64 => Some(Basic::U64), i64 => Some(Basic::I64),
    u128 => None, i128 => None, usize => Some(Basic::U64), isize => Some(Basic::I64),
    f32 => Some(Basic::F32), f64 => Some(Basic::F64));

// SAFETY: an array of plain values is plain (no padding between elements).
unsafe impl<T: Equivalence, const N: usize> Equivalence for [T; N] {
    fn reduce_kind() -> Option<(Basic, usize)> {
        T::reduce_kind().map(|(k, c)| (k, c * N))
    }
}

pub(crate) fn bytes<T: Equivalence>(s: &[T]) -> &[u8] {
    // SAFETY: T is plain (Equivalence), so its bytes are initialized and readable.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}

pub(crate) fn bytes_mut<T: Equivalence>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: T is plain: any bytes written make valid values.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(s)) }
}
