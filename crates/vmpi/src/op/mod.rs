//! Reduction operations (MPI-3.1 §5.9): the predefined operations on the predefined
//! element kinds ([`Basic`]) and user-defined operations on packed elements.
//!
//! [`apply`] computes `inout[i] = in[i] op inout[i]` on `count` packed elements. Which
//! operation is defined on which kind follows §5.9.2:
//!
//! | op | defined on |
//! |---|---|
//! | MAX, MIN | C integer, floating point (incl. long double) |
//! | SUM, PROD | C integer, floating point, complex |
//! | LAND, LOR, LXOR | C integer, logical (`C_BOOL`, `LOGICAL`) |
//! | BAND, BOR, BXOR | C integer, byte |
//! | MAXLOC, MINLOC | the pair types (value, index); ties keep the lower index |
//! | REPLACE, NO_OP | every kind (one-sided accumulate semantics) |
//!
//! Anything else is an `ErrorClass::Op` error naming the operation and the kind.
//! Buffers need not be aligned: aligned dense buffers take a vectorized typed loop,
//! others are loaded element by element from bytes. `long double` and
//! `long double _Complex` are computed by a small C file (`longdouble.c`, built by
//! `build.rs` with the `cc` crate), because Rust has no 80-bit float.

use crate::datatype::Basic;
use crate::error::{Error, ErrorClass, Result};
use std::fmt;
use std::sync::Arc;

/// A user-defined operation on packed elements: `f(in, inout, count)` computes
/// `inout = in op inout` element-wise on `count` elements.
#[derive(Clone)]
pub struct UserOp {
    pub f: Arc<dyn Fn(&[u8], &mut [u8], usize) -> Result<()> + Send + Sync>,
    pub commute: bool,
}

impl fmt::Debug for UserOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserOp {{ commute: {} }}", self.commute)
    }
}

/// A reduction operation.
#[derive(Debug, Clone)]
pub enum Op {
    Max,
    Min,
    Sum,
    Prod,
    Land,
    Band,
    Lor,
    Bor,
    Lxor,
    Bxor,
    MaxLoc,
    MinLoc,
    Replace,
    NoOp,
    User(UserOp),
}

impl Op {
    /// A user operation (MPI_Op_create).
    pub fn user(
        commute: bool,
        f: impl Fn(&[u8], &mut [u8], usize) -> Result<()> + Send + Sync + 'static,
    ) -> Op {
        Op::User(UserOp {
            f: Arc::new(f),
            commute,
        })
    }

    /// The MPI name (`MPI_SUM`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Max => "MPI_MAX",
            Op::Min => "MPI_MIN",
            Op::Sum => "MPI_SUM",
            Op::Prod => "MPI_PROD",
            Op::Land => "MPI_LAND",
            Op::Band => "MPI_BAND",
            Op::Lor => "MPI_LOR",
            Op::Bor => "MPI_BOR",
            Op::Lxor => "MPI_LXOR",
            Op::Bxor => "MPI_BXOR",
            Op::MaxLoc => "MPI_MAXLOC",
            Op::MinLoc => "MPI_MINLOC",
            Op::Replace => "MPI_REPLACE",
            Op::NoOp => "MPI_NO_OP",
            Op::User(_) => "user operation",
        }
    }

    /// Every predefined operation commutes; user ones say so themselves.
    pub fn is_commutative(&self) -> bool {
        match self {
            Op::User(u) => u.commute,
            // REPLACE is not commutative, but it never appears in a collective.
            Op::Replace => false,
            _ => true,
        }
    }

    pub fn is_user(&self) -> bool {
        matches!(self, Op::User(_))
    }

    /// Check that this operation is defined on `kind` (user ops: always).
    pub fn check(&self, kind: Basic) -> Result<()> {
        if let Op::User(_) = self {
            return Ok(());
        }
        apply(self, kind, 0, &[], &mut [])
    }
}

mod ffi {
    extern "C" {
        #[cfg(test)]
        pub fn vmpi_ld_size() -> usize;
        #[cfg(test)]
        pub fn vmpi_ld_from_double(d: f64, out: *mut u8);
        #[cfg(test)]
        pub fn vmpi_ld_to_double(inp: *const u8) -> f64;
        pub fn vmpi_ld_apply(op: i32, inp: *const u8, io: *mut u8, n: usize) -> i32;
        pub fn vmpi_cld_apply(op: i32, inp: *const u8, io: *mut u8, n: usize) -> i32;
        pub fn vmpi_ldi_apply(maxloc: i32, inp: *const u8, io: *mut u8, n: usize) -> i32;
    }
}

/// `long double` conversions through C, for the tests.
#[cfg(test)]
pub mod long_double {
    use super::ffi;
    /// Size of C `long double` (16 on x86-64).
    pub fn size() -> usize {
        // SAFETY: a pure C function without arguments.
        unsafe { ffi::vmpi_ld_size() }
    }
    /// The 16 bytes of `d` as a C `long double`.
    pub fn from_f64(d: f64) -> [u8; 16] {
        assert_eq!(size(), 16, "long double is not 16 bytes on this target");
        let mut b = [0u8; 16];
        // SAFETY: `b` has room for one long double (checked above).
        unsafe { ffi::vmpi_ld_from_double(d, b.as_mut_ptr()) };
        b
    }
    /// A C `long double` given as bytes, rounded to f64.
    pub fn to_f64(b: &[u8; 16]) -> f64 {
        assert_eq!(size(), 16, "long double is not 16 bytes on this target");
        // SAFETY: `b` holds one long double (checked above).
        unsafe { ffi::vmpi_ld_to_double(b.as_ptr()) }
    }
}

/// A number loaded from and stored to unaligned bytes. Only primitive integers and
/// floats implement it (every bit pattern valid: [`typed`] relies on that).
trait Num: Copy {
    const N: usize;
    fn rd(b: &[u8]) -> Self;
    fn wr(self, b: &mut [u8]);
}

macro_rules! num {
    ($($t:ty),*) => { $(
        impl Num for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn rd(b: &[u8]) -> Self { <$t>::from_ne_bytes(b[..Self::N].try_into().unwrap()) }
            #[inline(always)]
            fn wr(self, b: &mut [u8]) { b[..Self::N].copy_from_slice(&self.to_ne_bytes()) }
        }
    )* };
}
num!(i8, u8, i16, u16, i32, u32, i64, u64, f32, f64);

/// Both buffers as slices of `T`, when both are aligned for `T` and hold whole
/// elements (the usual case: user vectors and the schedules' 16-byte-aligned
/// scratch, cut at multiples of the element size).
#[inline(always)]
fn typed<'a, T: Num>(a: &'a [u8], b: &'a mut [u8]) -> Option<(&'a [T], &'a mut [T])> {
    // SAFETY: `Num` is implemented only for primitive integers and floats (the
    // `num!` list below), for which every bit pattern is a valid value, so viewing
    // initialized bytes as `T` is sound; `align_to` only yields the aligned middle.
    let (pa, ma, sa) = unsafe { a.align_to::<T>() };
    // SAFETY: as above; any `T` written back is a valid byte pattern too.
    let (pb, mb, sb) = unsafe { b.align_to_mut::<T>() };
    (pa.is_empty() && sa.is_empty() && pb.is_empty() && sb.is_empty() && ma.len() == mb.len())
        .then_some((ma, mb))
}

/// inout[i] = f(in[i], inout[i]) on elements of `stride` bytes whose first `T::N`
/// bytes hold a T. Dense, aligned buffers take a typed loop the compiler
/// vectorizes (AVX2 where the CPU has it, else SSE2); anything else is loaded
/// element by element from unaligned bytes.
#[inline(always)]
fn zip<T: Num>(n: usize, stride: usize, a: &[u8], b: &mut [u8], f: impl Fn(T, T) -> T) {
    if stride == T::N {
        let bytes = n * stride;
        if let Some((x, y)) = typed::<T>(&a[..bytes], &mut b[..bytes]) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above, at run time).
                unsafe { lanes_avx2(x, y, f) };
                return;
            }
            lanes(x, y, f);
            return;
        }
    }
    for (x, y) in a
        .chunks_exact(stride)
        .zip(b.chunks_exact_mut(stride))
        .take(n)
    {
        f(T::rd(x), T::rd(y)).wr(y);
    }
}

#[inline(always)]
fn lanes<T: Num>(x: &[T], y: &mut [T], f: impl Fn(T, T) -> T) {
    for (x, y) in x.iter().zip(y.iter_mut()) {
        *y = f(*x, *y);
    }
}

/// [`lanes`] compiled for AVX2: 32 bytes per instruction instead of SSE2's 16,
/// twice as fast on cache-resident data; AVX-512 code was slower (docs/performance.md,
/// "Measurements behind constants and choices in the code").
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lanes_avx2<T: Num>(x: &[T], y: &mut [T], f: impl Fn(T, T) -> T) {
    lanes(x, y, f)
}

/// The categories of §5.9.2.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Int,
    Float,
    Complex,
    Logical,
    Byte,
    Pair,
    /// Text (`MPI_WCHAR`): no reduction but REPLACE / NO_OP.
    Text,
}

fn class(kind: Basic) -> Class {
    use Basic::*;
    match kind {
        // MPI_CHAR is text to the standard, but MPICH and Open MPI both reduce it as
        // a signed char with every integer operation, and programs rely on that
        // (osu_allreduce's default datatype): vmpi follows them (docs/c-abi.md).
        Char | I8 | U8 | I16 | U16 | I32 | U32 | I64 | U64 | Long | ULong => Class::Int,
        F32 | F64 | LongDouble => Class::Float,
        ComplexF32 | ComplexF64 | ComplexLongDouble => Class::Complex,
        CBool | Logical => Class::Logical,
        Byte => Class::Byte,
        WChar => Class::Text,
        FloatInt | DoubleInt | LongInt | TwoInt | ShortInt | LongDoubleInt | TwoInteger
        | TwoReal | TwoDouble => Class::Pair,
    }
}

fn undefined(op: &Op, kind: Basic) -> Error {
    Error::new(
        ErrorClass::Op,
        format!(
            "{} is not defined on {kind:?} elements (MPI-3.1 §5.9.2)",
            op.name()
        ),
    )
}

macro_rules! int_op {
    ($t:ty, $op:expr, $kind:expr, $n:expr, $a:expr, $b:expr) => {{
        const S: usize = std::mem::size_of::<$t>();
        let z: $t = 0;
        match $op {
            Op::Max => zip::<$t>($n, S, $a, $b, |x, y| x.max(y)),
            Op::Min => zip::<$t>($n, S, $a, $b, |x, y| x.min(y)),
            Op::Sum => zip::<$t>($n, S, $a, $b, |x, y| x.wrapping_add(y)),
            Op::Prod => zip::<$t>($n, S, $a, $b, |x, y| x.wrapping_mul(y)),
            Op::Land => zip::<$t>($n, S, $a, $b, |x, y| ((x != z) && (y != z)) as $t),
            Op::Lor => zip::<$t>($n, S, $a, $b, |x, y| ((x != z) || (y != z)) as $t),
            Op::Lxor => zip::<$t>($n, S, $a, $b, |x, y| ((x != z) != (y != z)) as $t),
            Op::Band => zip::<$t>($n, S, $a, $b, |x, y| x & y),
            Op::Bor => zip::<$t>($n, S, $a, $b, |x, y| x | y),
            Op::Bxor => zip::<$t>($n, S, $a, $b, |x, y| x ^ y),
            _ => return Err(undefined($op, $kind)),
        }
    }};
}

macro_rules! float_op {
    ($t:ty, $op:expr, $kind:expr, $n:expr, $a:expr, $b:expr) => {{
        const S: usize = std::mem::size_of::<$t>();
        match $op {
            Op::Max => zip::<$t>($n, S, $a, $b, |x, y| if x > y { x } else { y }),
            Op::Min => zip::<$t>($n, S, $a, $b, |x, y| if x < y { x } else { y }),
            Op::Sum => zip::<$t>($n, S, $a, $b, |x, y| x + y),
            Op::Prod => zip::<$t>($n, S, $a, $b, |x, y| x * y),
            _ => return Err(undefined($op, $kind)),
        }
    }};
}

macro_rules! complex_op {
    ($t:ty, $op:expr, $kind:expr, $n:expr, $a:expr, $b:expr) => {{
        const S: usize = std::mem::size_of::<$t>();
        let prod = matches!($op, Op::Prod);
        if !matches!($op, Op::Sum | Op::Prod) {
            return Err(undefined($op, $kind));
        }
        for (x, y) in $a
            .chunks_exact(2 * S)
            .zip($b.chunks_exact_mut(2 * S))
            .take($n)
        {
            let (xr, xi) = (<$t>::rd(&x[..S]), <$t>::rd(&x[S..]));
            let (yr, yi) = (<$t>::rd(&y[..S]), <$t>::rd(&y[S..]));
            let (r, i) = if prod {
                (xr * yr - xi * yi, xr * yi + xi * yr)
            } else {
                (xr + yr, xi + yi)
            };
            r.wr(&mut y[..S]);
            i.wr(&mut y[S..]);
        }
    }};
}

/// MAXLOC / MINLOC on a pair whose value is a `$v` at offset 0 and whose index is an
/// `$i` at offset `$io`, elements `$s` bytes apart. Ties keep the lower index.
macro_rules! loc_op {
    ($v:ty, $i:ty, $io:expr, $s:expr, $op:expr, $kind:expr, $n:expr, $a:expr, $b:expr) => {{
        let max = match $op {
            Op::MaxLoc => true,
            Op::MinLoc => false,
            _ => return Err(undefined($op, $kind)),
        };
        for (x, y) in $a.chunks_exact($s).zip($b.chunks_exact_mut($s)).take($n) {
            let (xv, xi) = (<$v>::rd(x), <$i>::rd(&x[$io..]));
            let (yv, yi) = (<$v>::rd(y), <$i>::rd(&y[$io..]));
            let x_wins = if max { xv > yv } else { xv < yv };
            if x_wins {
                xv.wr(y);
                xi.wr(&mut y[$io..]);
            } else if xv == yv && xi < yi {
                xi.wr(&mut y[$io..]);
            }
        }
    }};
}

fn ld_code(op: &Op, kind: Basic) -> Result<i32> {
    match op {
        Op::Max if kind == Basic::LongDouble => Ok(0),
        Op::Min if kind == Basic::LongDouble => Ok(1),
        Op::Sum => Ok(2),
        Op::Prod => Ok(3),
        _ => Err(undefined(op, kind)),
    }
}

/// inout = in op inout on `count` packed elements of `kind` (user operations get
/// the bytes and `count` as they are).
pub fn apply(op: &Op, kind: Basic, count: usize, inbuf: &[u8], inout: &mut [u8]) -> Result<()> {
    if let Op::User(u) = op {
        return (u.f)(inbuf, inout, count);
    }
    let bytes = count.checked_mul(kind.size()).ok_or_else(|| {
        Error::new(
            ErrorClass::Count,
            format!("{}: count {count} overflows", op.name()),
        )
    })?;
    if inbuf.len() < bytes || inout.len() < bytes {
        return Err(Error::new(
            ErrorClass::Buffer,
            format!(
                "{}: {count} {kind:?} elements need {bytes} bytes; got {} and {}",
                op.name(),
                inbuf.len(),
                inout.len()
            ),
        ));
    }
    let (a, b) = (&inbuf[..bytes], &mut inout[..bytes]);
    let n = count;
    match op {
        Op::NoOp => return Ok(()),
        Op::Replace => {
            b.copy_from_slice(a);
            return Ok(());
        }
        _ => {}
    }
    use Basic::*;
    match (class(kind), kind) {
        (Class::Int, I8 | Char) => int_op!(i8, op, kind, n, a, b),
        (Class::Int, U8) => int_op!(u8, op, kind, n, a, b),
        (Class::Int, I16) => int_op!(i16, op, kind, n, a, b),
        (Class::Int, U16) => int_op!(u16, op, kind, n, a, b),
        (Class::Int, I32) => int_op!(i32, op, kind, n, a, b),
        (Class::Int, U32) => int_op!(u32, op, kind, n, a, b),
        (Class::Int, I64 | Long) => int_op!(i64, op, kind, n, a, b),
        (Class::Int, U64 | ULong) => int_op!(u64, op, kind, n, a, b),
        (Class::Float, F32) => float_op!(f32, op, kind, n, a, b),
        (Class::Float, F64) => float_op!(f64, op, kind, n, a, b),
        (Class::Float, LongDouble) => {
            let code = ld_code(op, kind)?;
            if n > 0 {
                // SAFETY: both buffers hold `n` long doubles (checked above: size 16).
                unsafe { ffi::vmpi_ld_apply(code, a.as_ptr(), b.as_mut_ptr(), n) };
            }
        }
        (Class::Complex, ComplexF32) => complex_op!(f32, op, kind, n, a, b),
        (Class::Complex, ComplexF64) => complex_op!(f64, op, kind, n, a, b),
        (Class::Complex, ComplexLongDouble) => {
            let code = match op {
                Op::Sum | Op::Prod => ld_code(op, kind)?,
                _ => return Err(undefined(op, kind)),
            };
            if n > 0 {
                // SAFETY: both buffers hold `n` long double complex values (32 bytes).
                unsafe { ffi::vmpi_cld_apply(code, a.as_ptr(), b.as_mut_ptr(), n) };
            }
        }
        (Class::Logical, CBool) => logical::<u8>(op, kind, n, a, b)?,
        (Class::Logical, Logical) => logical::<i32>(op, kind, n, a, b)?,
        (Class::Byte, _) => match op {
            Op::Band => zip::<u8>(n, 1, a, b, |x, y| x & y),
            Op::Bor => zip::<u8>(n, 1, a, b, |x, y| x | y),
            Op::Bxor => zip::<u8>(n, 1, a, b, |x, y| x ^ y),
            _ => return Err(undefined(op, kind)),
        },
        (Class::Pair, FloatInt) => loc_op!(f32, i32, 4, 8, op, kind, n, a, b),
        (Class::Pair, DoubleInt) => loc_op!(f64, i32, 8, 16, op, kind, n, a, b),
        (Class::Pair, LongInt) => loc_op!(i64, i32, 8, 16, op, kind, n, a, b),
        (Class::Pair, TwoInt) | (Class::Pair, TwoInteger) => {
            loc_op!(i32, i32, 4, 8, op, kind, n, a, b)
        }
        (Class::Pair, ShortInt) => loc_op!(i16, i32, 4, 8, op, kind, n, a, b),
        (Class::Pair, TwoReal) => loc_op!(f32, f32, 4, 8, op, kind, n, a, b),
        (Class::Pair, TwoDouble) => loc_op!(f64, f64, 8, 16, op, kind, n, a, b),
        (Class::Pair, LongDoubleInt) => {
            let code = match op {
                Op::MaxLoc => 1,
                Op::MinLoc => 0,
                _ => return Err(undefined(op, kind)),
            };
            if n > 0 {
                // SAFETY: both buffers hold `n` 32-byte long-double-int pairs.
                unsafe { ffi::vmpi_ldi_apply(code, a.as_ptr(), b.as_mut_ptr(), n) };
            }
        }
        _ => return Err(undefined(op, kind)),
    }
    Ok(())
}

fn logical<T: Num + PartialEq + From<u8>>(
    op: &Op,
    kind: Basic,
    n: usize,
    a: &[u8],
    b: &mut [u8],
) -> Result<()> {
    let z = T::from(0u8);
    let t = |v: bool| T::from(v as u8);
    match op {
        Op::Land => zip::<T>(n, T::N, a, b, |x, y| t(x != z && y != z)),
        Op::Lor => zip::<T>(n, T::N, a, b, |x, y| t(x != z || y != z)),
        Op::Lxor => zip::<T>(n, T::N, a, b, |x, y| t((x != z) != (y != z))),
        _ => return Err(undefined(op, kind)),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
