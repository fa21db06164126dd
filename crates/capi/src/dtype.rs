//! Datatypes as the C interface sees them: the predefined handles (MPICH's values,
//! each mapped to a `vmpi::sys::datatype::Basic`) and derived datatypes built by the
//! MPI_Type_* constructors (`derived`), handles `0xcc000000 | index` (MPICH uses
//! 0x8c.. for its own derived and pair types; 0xcc.. is free). Every handle resolves
//! to a `vmpi::sys::datatype::Datatype` ([`get`]); communication takes committed types
//! only ([`for_comm`]). A buffer of a contiguous type goes to the engine as it is;
//! any other is packed into a temporary for sending, and received data is unpacked
//! into the user's buffer when the request completes ([`Fixup`], kept in
//! `State::dt_fixups` under the engine request).
//!
//! A request holds its datatype, not the handle: MPI_Type_free of a type in use by
//! a pending or persistent operation frees the handle only (MPI-3.1 §4.1.9). A
//! `Datatype` is reference counted; nonblocking operations pack or resolve it when
//! they start (the unpacking fixup keeps a reference), persistent ones keep it in
//! their `PSpec`.

use crate::consts::*;
use crate::err::{fail, R};
use crate::state::st;
use std::os::raw::{c_char, c_int};

pub struct Predef {
    pub handle: MPI_Datatype,
    pub name: &'static str,
    /// Bytes of data (MPI_Type_size).
    pub size: usize,
    /// Bytes from one element to the next (MPI_Type_get_extent).
    pub extent: usize,
    /// Basic elements in one (MPI_Get_elements): 2 for the pair types.
    pub elems: usize,
}

const fn p(handle: u32, name: &'static str, size: usize, extent: usize, elems: usize) -> Predef {
    Predef {
        handle: handle as i32,
        name,
        size,
        extent,
        elems,
    }
}

pub static PREDEFINED: &[Predef] = &[
    p(0x4c000101, "MPI_CHAR", 1, 1, 1),
    p(0x4c000118, "MPI_SIGNED_CHAR", 1, 1, 1),
    p(0x4c000102, "MPI_UNSIGNED_CHAR", 1, 1, 1),
    p(0x4c00010d, "MPI_BYTE", 1, 1, 1),
    p(0x4c00040e, "MPI_WCHAR", 4, 4, 1),
    p(0x4c000203, "MPI_SHORT", 2, 2, 1),
    p(0x4c000204, "MPI_UNSIGNED_SHORT", 2, 2, 1),
    p(0x4c000405, "MPI_INT", 4, 4, 1),
    p(0x4c000406, "MPI_UNSIGNED", 4, 4, 1),
    p(0x4c000807, "MPI_LONG", 8, 8, 1),
    p(0x4c000808, "MPI_UNSIGNED_LONG", 8, 8, 1),
    p(0x4c00040a, "MPI_FLOAT", 4, 4, 1),
    p(0x4c00080b, "MPI_DOUBLE", 8, 8, 1),
    p(0x4c00100c, "MPI_LONG_DOUBLE", 16, 16, 1),
    p(0x4c000809, "MPI_LONG_LONG_INT", 8, 8, 1),
    p(0x4c000819, "MPI_UNSIGNED_LONG_LONG", 8, 8, 1),
    p(0x4c00010f, "MPI_PACKED", 1, 1, 1),
    p(0x4c000010, "MPI_LB", 0, 0, 0),
    p(0x4c000011, "MPI_UB", 0, 0, 0),
    p(0x8c000000, "MPI_FLOAT_INT", 8, 8, 2),
    p(0x8c000001, "MPI_DOUBLE_INT", 12, 16, 2),
    p(0x8c000002, "MPI_LONG_INT", 12, 16, 2),
    p(0x8c000003, "MPI_SHORT_INT", 6, 8, 2),
    p(0x4c000816, "MPI_2INT", 8, 8, 2),
    p(0x8c000004, "MPI_LONG_DOUBLE_INT", 20, 32, 2),
    p(0x4c00081e, "MPI_COMPLEX", 8, 8, 1),
    p(0x4c001022, "MPI_DOUBLE_COMPLEX", 16, 16, 1),
    p(0x4c00041d, "MPI_LOGICAL", 4, 4, 1),
    p(0x4c00041c, "MPI_REAL", 4, 4, 1),
    p(0x4c00081f, "MPI_DOUBLE_PRECISION", 8, 8, 1),
    p(0x4c00041b, "MPI_INTEGER", 4, 4, 1),
    p(0x4c000820, "MPI_2INTEGER", 8, 8, 2),
    p(0x4c000821, "MPI_2REAL", 8, 8, 2),
    p(0x4c001023, "MPI_2DOUBLE_PRECISION", 16, 16, 2),
    p(0x4c00011a, "MPI_CHARACTER", 1, 1, 1),
    p(0x4c000427, "MPI_REAL4", 4, 4, 1),
    p(0x4c000829, "MPI_REAL8", 8, 8, 1),
    p(0x4c00102b, "MPI_REAL16", 16, 16, 1),
    p(0x4c000828, "MPI_COMPLEX8", 8, 8, 1),
    p(0x4c00102a, "MPI_COMPLEX16", 16, 16, 1),
    p(0x4c00202c, "MPI_COMPLEX32", 32, 32, 1),
    p(0x4c00012d, "MPI_INTEGER1", 1, 1, 1),
    p(0x4c00022f, "MPI_INTEGER2", 2, 2, 1),
    p(0x4c000430, "MPI_INTEGER4", 4, 4, 1),
    p(0x4c000831, "MPI_INTEGER8", 8, 8, 1),
    p(0x4c000137, "MPI_INT8_T", 1, 1, 1),
    p(0x4c000238, "MPI_INT16_T", 2, 2, 1),
    p(0x4c000439, "MPI_INT32_T", 4, 4, 1),
    p(0x4c00083a, "MPI_INT64_T", 8, 8, 1),
    p(0x4c00013b, "MPI_UINT8_T", 1, 1, 1),
    p(0x4c00023c, "MPI_UINT16_T", 2, 2, 1),
    p(0x4c00043d, "MPI_UINT32_T", 4, 4, 1),
    p(0x4c00083e, "MPI_UINT64_T", 8, 8, 1),
    p(0x4c00013f, "MPI_C_BOOL", 1, 1, 1),
    p(0x4c000840, "MPI_C_FLOAT_COMPLEX", 8, 8, 1),
    p(0x4c001041, "MPI_C_DOUBLE_COMPLEX", 16, 16, 1),
    p(0x4c002042, "MPI_C_LONG_DOUBLE_COMPLEX", 32, 32, 1),
    p(0x4c000246, "MPIX_C_FLOAT16", 2, 2, 1),
    p(0x4c000843, "MPI_AINT", 8, 8, 1),
    p(0x4c000844, "MPI_OFFSET", 8, 8, 1),
    p(0x4c000845, "MPI_COUNT", 8, 8, 1),
    p(0x4c000133, "MPI_CXX_BOOL", 1, 1, 1),
    p(0x4c000834, "MPI_CXX_FLOAT_COMPLEX", 8, 8, 1),
    p(0x4c001035, "MPI_CXX_DOUBLE_COMPLEX", 16, 16, 1),
    p(0x4c002036, "MPI_CXX_LONG_DOUBLE_COMPLEX", 32, 32, 1),
];

pub fn predefined(dt: MPI_Datatype) -> Option<&'static Predef> {
    PREDEFINED.iter().find(|p| p.handle == dt)
}

/// A count argument: not negative.
// A nonnegative `MPI_Count` is a `usize` here: no count is cut short.
const _: () = assert!(usize::BITS >= 64);

/// A count checked once, int or `MPI_Count` (the `_c` forms): negative is
/// `MPI_ERR_COUNT`; any other fits the core's `usize` on the 64-bit targets vmpi builds for.
pub fn check_count(count: impl Into<MPI_Count>) -> R<usize> {
    let count: MPI_Count = count.into();
    if count < 0 {
        fail(MPI_ERR_COUNT, format!("invalid count {count}"))
    } else {
        Ok(count as usize)
    }
}

pub unsafe fn out<T>(p: *mut T, what: &str) -> R<&'static mut T> {
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(&mut *p)
}

pub unsafe fn copy_name(name: &str, dst: *mut c_char, len: *mut c_int) {
    let b = name.as_bytes();
    let n = b.len().min(MPI_MAX_OBJECT_NAME - 1);
    std::ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, dst, n);
    *dst.add(n) = 0;
    if !len.is_null() {
        *len = n as c_int;
    }
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_name / PMPI_Type_get_name(datatype: MPI_Datatype, type_name: *mut c_char, resultlen: *mut c_int) {
    info(datatype)?;
    if type_name.is_null() {
        return fail(MPI_ERR_ARG, "type_name is a null pointer");
    }
    let name = st().type_names.get(&datatype).cloned();
    let name = name.unwrap_or_else(|| predefined(datatype).map(|p| p.name.to_string()).unwrap_or_default());
    copy_name(&name, type_name, resultlen);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_set_name / PMPI_Type_set_name(datatype: MPI_Datatype, type_name: *const c_char) {
    info(datatype)?;
    if type_name.is_null() {
        return fail(MPI_ERR_ARG, "type_name is a null pointer");
    }
    let s = std::ffi::CStr::from_ptr(type_name).to_string_lossy().into_owned();
    st().type_names.insert(datatype, s);
    Ok(())
}}

// ---- handles -> vmpi datatypes ---------------------------------------------------

pub use vmpi::sys::datatype::{Basic, Datatype};

/// The element kind of a predefined handle; None for MPI_LB/MPI_UB (markers, not
/// types) and anything else.
pub fn basic_of(h: MPI_Datatype) -> Option<Basic> {
    use Basic::*;
    Some(match h as u32 {
        0x4c000101 | 0x4c00011a => Char,
        0x4c000118 | 0x4c000137 | 0x4c00012d => I8,
        0x4c000102 | 0x4c00013b => U8,
        0x4c00010d | 0x4c00010f => Byte,
        0x4c00040e => WChar,
        0x4c000203 | 0x4c000238 | 0x4c00022f => I16,
        0x4c000204 | 0x4c00023c | 0x4c000246 => U16,
        0x4c000405 | 0x4c000439 | 0x4c00041b | 0x4c000430 => I32,
        0x4c000406 | 0x4c00043d => U32,
        // MPI_LONG and MPI_UNSIGNED_LONG differ from the 64-bit types in external32 only.
        0x4c000807 => Long,
        0x4c000808 => ULong,
        0x4c000809 | 0x4c00083a | 0x4c000831 | 0x4c000843 | 0x4c000844 | 0x4c000845 => I64,
        0x4c000819 | 0x4c00083e => U64,
        0x4c00040a | 0x4c00041c | 0x4c000427 => F32,
        0x4c00080b | 0x4c00081f | 0x4c000829 => F64,
        0x4c00100c | 0x4c00102b => LongDouble,
        0x4c00041d => Logical,
        0x4c00013f | 0x4c000133 => CBool,
        0x4c00081e | 0x4c000828 | 0x4c000840 | 0x4c000834 => ComplexF32,
        0x4c001022 | 0x4c00102a | 0x4c001041 | 0x4c001035 => ComplexF64,
        0x4c00202c | 0x4c002042 | 0x4c002036 => ComplexLongDouble,
        0x8c000000 => FloatInt,
        0x8c000001 => DoubleInt,
        0x8c000002 => LongInt,
        0x8c000003 => ShortInt,
        0x4c000816 => TwoInt,
        0x8c000004 => LongDoubleInt,
        0x4c000820 => TwoInteger,
        0x4c000821 => TwoReal,
        0x4c001023 => TwoDouble,
        _ => return None,
    })
}

/// A derived datatype behind a `DYN_DTYPE` handle.
pub struct DtObj {
    pub dt: Datatype,
    pub committed: bool,
    /// The handles the constructor was given (MPI_Type_get_contents returns
    /// predefined ones as they are).
    pub inner: Vec<MPI_Datatype>,
    /// Built by a large-count (`_c`) constructor: MPI_Type_get_envelope_c and
    /// MPI_Type_get_contents_c report its counts and displacements as large counts.
    pub large: bool,
}

pub const DYN_DTYPE: u32 = 0xcc00_0000;

/// The datatype behind any handle (committed or not), or MPI_ERR_TYPE.
pub fn get(h: MPI_Datatype) -> R<Datatype> {
    if h == MPI_DATATYPE_NULL {
        return fail(MPI_ERR_TYPE, "null datatype (MPI_DATATYPE_NULL)");
    }
    if let Some(b) = basic_of(h) {
        return Ok(Datatype::basic(b));
    }
    if h as u32 == 0x4c000010 || h as u32 == 0x4c000011 {
        return fail(MPI_ERR_TYPE, "MPI_LB and MPI_UB are markers (removed in MPI-3), not types to build with or communicate");
    }
    match st().dtypes.get(h) {
        Some(o) => Ok(o.dt.clone()),
        None => fail(MPI_ERR_TYPE, format!("invalid datatype {:#x}", h as u32)),
    }
}

/// A datatype to communicate with: committed (MPICH: MPI_ERR_TYPE otherwise). A
/// predefined type is borrowed, so no reference count is touched (the collectives'
/// hot paths: a locked increment right after a collective stored its flag in shared
/// memory waits for that store to reach the peer).
pub fn for_comm_cow(h: MPI_Datatype) -> R<std::borrow::Cow<'static, Datatype>> {
    // Predefined types are always committed: no table lookup on the hot path.
    if let Some(b) = basic_of(h) {
        return Ok(std::borrow::Cow::Borrowed(Datatype::basic_ref(b)));
    }
    let t = get(h)?;
    if let Some(o) = st().dtypes.get(h) {
        if !o.committed {
            return fail(
                MPI_ERR_TYPE,
                format!(
                    "datatype {:#x} is not committed (MPI_Type_commit)",
                    h as u32
                ),
            );
        }
    }
    Ok(std::borrow::Cow::Owned(t))
}

/// [`for_comm_cow`], owned.
pub fn for_comm(h: MPI_Datatype) -> R<Datatype> {
    Ok(for_comm_cow(h)?.into_owned())
}

/// (size, lb, extent, true_lb, true_extent) of a handle; MPI_LB/MPI_UB are zeros.
pub fn info(h: MPI_Datatype) -> R<(i64, i64, i64, i64, i64)> {
    if h as u32 == 0x4c000010 || h as u32 == 0x4c000011 {
        return Ok((0, 0, 0, 0, 0));
    }
    let t = get(h)?;
    Ok((t.size(), t.lb(), t.extent(), t.true_lb(), t.true_extent()))
}

/// Elements of `dt` in `bytes` of packed data (MPI_UNDEFINED when it ends inside one).
pub fn elements_in(h: MPI_Datatype, bytes: u64) -> R<i64> {
    let t = get(h)?;
    Ok(t.elements_in(bytes as usize)
        .unwrap_or(MPI_UNDEFINED as i64))
}

/// Work left for when a request completes: unpacking received data into the user's
/// buffer; the temporaries the engine reads from or writes to live here until then.
#[derive(Default)]
pub struct Fixup {
    pub keep: Vec<Vec<u8>>,
    pub then: Vec<Box<dyn FnOnce(usize) + Send>>,
}

impl Fixup {
    /// Run the unpacks; `bytes`: what arrived (p2p) or usize::MAX (collectives).
    pub fn run(self, bytes: usize) {
        for f in self.then {
            f(bytes);
        }
        drop(self.keep);
    }
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty() && self.then.is_empty()
    }
}

/// Run the fixup of engine request `id`, if it has one.
pub fn finish(id: vmpi::sys::p2p::ReqId, bytes: usize) {
    let f = st().take_fixup(id);
    if let Some(f) = f {
        f.run(bytes);
    }
}

pub fn add_fixup(id: vmpi::sys::p2p::ReqId, f: Fixup) {
    if !f.is_empty() {
        st().dt_fixups.insert(id, f);
    }
}

/// Can data starting `start` bytes into `buf` (a displacement plus the type's
/// true lower bound) be addressed? From any real buffer, yes; from a null one
/// (MPI_BOTTOM) only at an absolute address, which is never in the first page:
/// there it is a null buffer passed by mistake. Point-to-point and the
/// collectives both ask this.
pub fn addressable(buf: *const u8, start: i64) -> bool {
    !buf.is_null() || start >= 4096
}

fn bad_buf(buf: *const u8, n: usize, t: &Datatype) -> R<()> {
    if n > 0 && t.size() > 0 && !addressable(buf, t.true_lb()) {
        return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
    }
    Ok(())
}

/// The bytes to send for `count` elements of `dt` at `buf`: the buffer itself
/// when the type is contiguous, else a packed copy.
pub enum SendData {
    Direct(*const u8, usize),
    Packed(Vec<u8>),
}

impl SendData {
    pub fn ptr_len(&self) -> (*const u8, usize) {
        match self {
            SendData::Direct(p, n) => (*p, *n),
            SendData::Packed(v) => (v.as_ptr(), v.len()),
        }
    }
}

pub unsafe fn send_data(
    buf: *const u8,
    count: impl Into<MPI_Count>,
    h: MPI_Datatype,
) -> R<SendData> {
    let n = check_count(count)?;
    let t = for_comm_cow(h)?;
    send_data_of(buf, n, &t)
}

/// [`send_data`] of a type already resolved (one a persistent request holds).
pub unsafe fn send_data_of(buf: *const u8, n: usize, t: &Datatype) -> R<SendData> {
    bad_buf(buf, n, t)?;
    let bytes = t.packed_size(n, "send")?;
    if t.is_contiguous() || bytes == 0 {
        return Ok(SendData::Direct(
            buf.wrapping_offset(t.true_lb() as isize),
            bytes,
        ));
    }
    let mut v = vec![0u8; bytes];
    t.pack_range(buf, n, 0, &mut v);
    Ok(SendData::Packed(v))
}

/// Where to receive `count` elements of `dt` at `buf`: (pointer, capacity, fixup
/// that unpacks a temporary on completion).
pub unsafe fn recv_target(
    buf: *mut u8,
    count: impl Into<MPI_Count>,
    h: MPI_Datatype,
) -> R<(*mut u8, usize, Fixup)> {
    let n = check_count(count)?;
    let t = for_comm_cow(h)?;
    recv_target_of(buf, n, t)
}

/// [`recv_target`] of a type already resolved (one a persistent request holds);
/// the unpacking fixup keeps its own reference to the type.
pub unsafe fn recv_target_of(
    buf: *mut u8,
    n: usize,
    t: std::borrow::Cow<'static, Datatype>,
) -> R<(*mut u8, usize, Fixup)> {
    bad_buf(buf, n, &t)?;
    let bytes = t.packed_size(n, "receive")?;
    if t.is_contiguous() || bytes == 0 {
        return Ok((
            buf.wrapping_offset(t.true_lb() as isize),
            bytes,
            Fixup::default(),
        ));
    }
    let mut v = vec![0u8; bytes];
    let p = v.as_mut_ptr();
    let (src, dst) = (p as usize, buf as usize);
    let mut f = Fixup::default();
    f.keep.push(v);
    f.then.push(Box::new(move |got: usize| {
        let got = got.min(bytes);
        // SAFETY: the temporary lives in `keep` until after this runs; the user's
        // buffer is valid until completion (MPI's rule).
        let s = std::slice::from_raw_parts(src as *const u8, got);
        t.unpack_range(s, 0, dst as *mut u8, n);
    }));
    Ok((p, bytes, f))
}

// ---- constructors ------------------------------------------------------------------

unsafe fn arr<'a, T>(p: *const T, n: impl Into<MPI_Count>, what: &str) -> R<&'a [T]> {
    let n: MPI_Count = n.into();
    if n < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid count {n}"));
    }
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(std::slice::from_raw_parts(p, n as usize))
}

/// An integer argument of a constructor, int, MPI_Aint or MPI_Count: the core
/// takes all of them as i64, widened once here.
pub(crate) trait Wide: Copy + 'static {
    fn wide(self) -> i64;
}
impl Wide for c_int {
    fn wide(self) -> i64 {
        self as i64
    }
}
impl Wide for isize {
    fn wide(self) -> i64 {
        self as i64
    }
}
impl Wide for i64 {
    fn wide(self) -> i64 {
        self
    }
}

/// The array argument `p[0..n]`, widened; `n` int or MPI_Count.
pub(crate) unsafe fn wide_arr<T: Wide>(
    p: *const T,
    n: impl Into<MPI_Count>,
    what: &str,
) -> R<Vec<i64>> {
    let n: MPI_Count = n.into();
    if n < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid count {n}"));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    Ok(std::slice::from_raw_parts(p, n as usize)
        .iter()
        .map(|x| x.wide())
        .collect())
}

/// A new derived handle for `dt` (uncommitted), built from `inner`.
pub fn new_type(dt: Datatype, inner: Vec<MPI_Datatype>) -> MPI_Datatype {
    st().dtypes.insert(DtObj {
        dt,
        committed: false,
        inner,
        large: false,
    })
}

/// Build a new type from `inner`'s; `large`: by a `_c` constructor.
unsafe fn make(
    newtype: *mut MPI_Datatype,
    inner: Vec<MPI_Datatype>,
    large: bool,
    build: impl FnOnce(&[Datatype]) -> vmpi::Result<Datatype>,
) -> R<()> {
    let o = out(newtype, "newtype")?;
    let olds = inner.iter().map(|&h| get(h)).collect::<R<Vec<_>>>()?;
    let t = build(&olds)?;
    *o = new_type(t, inner);
    if let Some(x) = st().dtypes.get_mut(*o) {
        x.large = large;
    }
    Ok(())
}

// Every constructor below is one function on i64 arguments; its int (and MPI_Aint)
// form and its `_c` form (MPI_Count) widen their arguments once and call it.

unsafe fn contiguous(
    count: i64,
    oldtype: MPI_Datatype,
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_count(count)?;
    make(newtype, vec![oldtype], large, |o| {
        Datatype::contiguous(count, &o[0])
    })
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_contiguous / PMPI_Type_contiguous(count: c_int, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    contiguous(count.wide(), oldtype, newtype, false)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_contiguous_c / PMPI_Type_contiguous_c(count: MPI_Count, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    contiguous(count, oldtype, newtype, true)
}}

unsafe fn vector(
    count: i64,
    blocklength: i64,
    stride: i64,
    oldtype: MPI_Datatype,
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_count(count)?;
    check_count(blocklength)?;
    make(newtype, vec![oldtype], large, |o| {
        Datatype::vector(count, blocklength, stride, &o[0])
    })
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_vector / PMPI_Type_vector(count: c_int, blocklength: c_int, stride: c_int, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    vector(count.wide(), blocklength.wide(), stride.wide(), oldtype, newtype, false)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_vector_c / PMPI_Type_vector_c(count: MPI_Count, blocklength: MPI_Count, stride: MPI_Count, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    vector(count, blocklength, stride, oldtype, newtype, true)
}}

unsafe fn hvector(
    count: i64,
    blocklength: i64,
    stride: i64,
    oldtype: MPI_Datatype,
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_count(count)?;
    check_count(blocklength)?;
    make(newtype, vec![oldtype], large, |o| {
        Datatype::hvector(count, blocklength, stride, &o[0])
    })
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_hvector / PMPI_Type_create_hvector(count: c_int, blocklength: c_int, stride: MPI_Aint, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    hvector(count.wide(), blocklength.wide(), stride.wide(), oldtype, newtype, false)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_hvector / PMPI_Type_hvector(count: c_int, blocklength: c_int, stride: MPI_Aint, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    hvector(count.wide(), blocklength.wide(), stride.wide(), oldtype, newtype, false)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_hvector_c / PMPI_Type_create_hvector_c(count: MPI_Count, blocklength: MPI_Count, stride: MPI_Count, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    hvector(count, blocklength, stride, oldtype, newtype, true)
}}

fn check_blocks(b: &[i64]) -> R<()> {
    for (i, &x) in b.iter().enumerate() {
        if x < 0 {
            return fail(
                MPI_ERR_ARG,
                format!("array_of_blocklengths[{i}] = {x} is negative"),
            );
        }
    }
    Ok(())
}

/// MPI_Type_indexed (`bytes` false: displacements in extents of oldtype) and
/// MPI_Type_create_hindexed (`bytes` true), their old names and `_c` forms.
unsafe fn indexed(
    b: Vec<i64>,
    d: Vec<i64>,
    bytes: bool,
    oldtype: MPI_Datatype,
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_blocks(&b)?;
    make(newtype, vec![oldtype], large, |o| {
        if bytes {
            Datatype::hindexed(&b, &d, &o[0])
        } else {
            Datatype::indexed(&b, &d, &o[0])
        }
    })
}

macro_rules! indexed_fns {
    ($name:ident / $pname:ident, $ct:ty, $bt:ty, $dt:ty, $bytes:expr, $large:expr) => {
        mpi_fn! { MPI_COMM_WORLD => fn $name / $pname(count: $ct, array_of_blocklengths: *const $bt, array_of_displacements: *const $dt, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
            let b = wide_arr(array_of_blocklengths, count, "array_of_blocklengths")?;
            let d = wide_arr(array_of_displacements, count, "array_of_displacements")?;
            indexed(b, d, $bytes, oldtype, newtype, $large)
        }}
    };
}
indexed_fns!(
    MPI_Type_indexed / PMPI_Type_indexed,
    c_int,
    c_int,
    c_int,
    false,
    false
);
indexed_fns!(
    MPI_Type_indexed_c / PMPI_Type_indexed_c,
    MPI_Count,
    MPI_Count,
    MPI_Count,
    false,
    true
);
indexed_fns!(
    MPI_Type_create_hindexed / PMPI_Type_create_hindexed,
    c_int,
    c_int,
    MPI_Aint,
    true,
    false
);
indexed_fns!(
    MPI_Type_hindexed / PMPI_Type_hindexed,
    c_int,
    c_int,
    MPI_Aint,
    true,
    false
);
indexed_fns!(
    MPI_Type_create_hindexed_c / PMPI_Type_create_hindexed_c,
    MPI_Count,
    MPI_Count,
    MPI_Count,
    true,
    true
);

/// MPI_Type_create_indexed_block and MPI_Type_create_hindexed_block (`bytes`).
unsafe fn indexed_block(
    blocklength: i64,
    d: Vec<i64>,
    bytes: bool,
    oldtype: MPI_Datatype,
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_count(blocklength)?;
    make(newtype, vec![oldtype], large, |o| {
        if bytes {
            Datatype::hindexed_block(blocklength, &d, &o[0])
        } else {
            Datatype::indexed_block(blocklength, &d, &o[0])
        }
    })
}

macro_rules! indexed_block_fns {
    ($name:ident / $pname:ident, $ct:ty, $dt:ty, $bytes:expr, $large:expr) => {
        mpi_fn! { MPI_COMM_WORLD => fn $name / $pname(count: $ct, blocklength: $ct, array_of_displacements: *const $dt, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
            let d = wide_arr(array_of_displacements, count, "array_of_displacements")?;
            indexed_block(blocklength.wide(), d, $bytes, oldtype, newtype, $large)
        }}
    };
}
indexed_block_fns!(
    MPI_Type_create_indexed_block / PMPI_Type_create_indexed_block,
    c_int,
    c_int,
    false,
    false
);
indexed_block_fns!(
    MPI_Type_create_indexed_block_c / PMPI_Type_create_indexed_block_c,
    MPI_Count,
    MPI_Count,
    false,
    true
);
indexed_block_fns!(
    MPI_Type_create_hindexed_block / PMPI_Type_create_hindexed_block,
    c_int,
    MPI_Aint,
    true,
    false
);
indexed_block_fns!(
    MPI_Type_create_hindexed_block_c / PMPI_Type_create_hindexed_block_c,
    MPI_Count,
    MPI_Count,
    true,
    true
);

unsafe fn structure(
    b: Vec<i64>,
    d: Vec<i64>,
    t: &[MPI_Datatype],
    newtype: *mut MPI_Datatype,
    large: bool,
) -> R<()> {
    check_blocks(&b)?;
    make(newtype, t.to_vec(), large, |o| {
        Datatype::structure(&b, &d, o)
    })
}

macro_rules! struct_fns {
    ($name:ident / $pname:ident, $ct:ty, $bt:ty, $dt:ty, $large:expr) => {
        mpi_fn! { MPI_COMM_WORLD => fn $name / $pname(count: $ct, array_of_blocklengths: *const $bt, array_of_displacements: *const $dt, array_of_types: *const MPI_Datatype, newtype: *mut MPI_Datatype) {
            let b = wide_arr(array_of_blocklengths, count, "array_of_blocklengths")?;
            let d = wide_arr(array_of_displacements, count, "array_of_displacements")?;
            let t = arr(array_of_types, count, "array_of_types")?;
            structure(b, d, t, newtype, $large)
        }}
    };
}
struct_fns!(
    MPI_Type_create_struct / PMPI_Type_create_struct,
    c_int,
    c_int,
    MPI_Aint,
    false
);
struct_fns!(
    MPI_Type_struct / PMPI_Type_struct,
    c_int,
    c_int,
    MPI_Aint,
    false
);
struct_fns!(
    MPI_Type_create_struct_c / PMPI_Type_create_struct_c,
    MPI_Count,
    MPI_Count,
    MPI_Count,
    true
);

fn order(o: c_int) -> R<vmpi::sys::datatype::Order> {
    vmpi::sys::datatype::Order::from_mpi(o as i64).ok_or_else(|| {
        crate::err::err(
            MPI_ERR_ARG,
            format!("invalid order {o} (MPI_ORDER_C or MPI_ORDER_FORTRAN)"),
        )
    })
}

fn check_ndims(ndims: c_int) -> R<()> {
    if ndims <= 0 {
        return fail(MPI_ERR_DIMS, format!("invalid ndims {ndims}"));
    }
    Ok(())
}

macro_rules! subarray_fns {
    ($name:ident / $pname:ident, $at:ty, $large:expr) => {
        mpi_fn! { MPI_COMM_WORLD => fn $name / $pname(ndims: c_int, array_of_sizes: *const $at, array_of_subsizes: *const $at, array_of_starts: *const $at, order_: c_int, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
            check_ndims(ndims)?;
            let a = wide_arr(array_of_sizes, ndims, "array_of_sizes")?;
            let b = wide_arr(array_of_subsizes, ndims, "array_of_subsizes")?;
            let c = wide_arr(array_of_starts, ndims, "array_of_starts")?;
            let ord = order(order_)?;
            make(newtype, vec![oldtype], $large, |o| Datatype::subarray(&a, &b, &c, ord, &o[0]))
        }}
    };
}
subarray_fns!(
    MPI_Type_create_subarray / PMPI_Type_create_subarray,
    c_int,
    false
);
subarray_fns!(
    MPI_Type_create_subarray_c / PMPI_Type_create_subarray_c,
    MPI_Count,
    true
);

macro_rules! darray_fns {
    ($name:ident / $pname:ident, $gt:ty, $large:expr) => {
        mpi_fn! { MPI_COMM_WORLD => fn $name / $pname(size: c_int, rank: c_int, ndims: c_int, array_of_gsizes: *const $gt, array_of_distribs: *const c_int, array_of_dargs: *const c_int, array_of_psizes: *const c_int, order_: c_int, oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
            check_ndims(ndims)?;
            let g = wide_arr(array_of_gsizes, ndims, "array_of_gsizes")?;
            let di = arr(array_of_distribs, ndims, "array_of_distribs")?;
            let da = wide_arr(array_of_dargs, ndims, "array_of_dargs")?;
            let p = wide_arr(array_of_psizes, ndims, "array_of_psizes")?;
            let dis = di.iter().map(|&x| vmpi::sys::datatype::Distrib::from_mpi(x as i64).ok_or_else(|| crate::err::err(MPI_ERR_ARG, format!("invalid distribution {x}")))).collect::<R<Vec<_>>>()?;
            let ord = order(order_)?;
            make(newtype, vec![oldtype], $large, |o| Datatype::darray(size as i64, rank as i64, &g, &dis, &da, &p, ord, &o[0]))
        }}
    };
}
darray_fns!(
    MPI_Type_create_darray / PMPI_Type_create_darray,
    c_int,
    false
);
darray_fns!(
    MPI_Type_create_darray_c / PMPI_Type_create_darray_c,
    MPI_Count,
    true
);

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_resized / PMPI_Type_create_resized(oldtype: MPI_Datatype, lb: MPI_Aint, extent: MPI_Aint, newtype: *mut MPI_Datatype) {
    make(newtype, vec![oldtype], false, |o| Datatype::resized(&o[0], lb.wide(), extent.wide()))
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_resized_c / PMPI_Type_create_resized_c(oldtype: MPI_Datatype, lb: MPI_Count, extent: MPI_Count, newtype: *mut MPI_Datatype) {
    make(newtype, vec![oldtype], true, |o| Datatype::resized(&o[0], lb, extent))
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_dup / PMPI_Type_dup(oldtype: MPI_Datatype, newtype: *mut MPI_Datatype) {
    let o = out(newtype, "newtype")?;
    // On an error (a copy callback's) no type is left: MPI_DATATYPE_NULL.
    *o = MPI_DATATYPE_NULL;
    let t = get(oldtype)?;
    let committed = basic_of(oldtype).is_some() || st().dtypes.get(oldtype).map_or(false, |x| x.committed);
    let h = new_type(t.dup(), vec![oldtype]);
    if let Some(x) = st().dtypes.get_mut(h) {
        x.committed = committed;
    }
    // Attributes travel through their copy callbacks (MPI-3.1 §6.7.4).
    if let Err(e) = crate::attr::type_copy_all(oldtype, h) {
        let _ = crate::attr::type_delete_all(h);
        st().dtypes.remove(h);
        return Err(e);
    }
    // Names are not copied (MPI-3.1 §6.8).
    *o = h;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_commit / PMPI_Type_commit(datatype: *mut MPI_Datatype) {
    let h = *out(datatype, "datatype")?;
    get(h)?;
    if let Some(o) = st().dtypes.get_mut(h) {
        o.committed = true;
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_free / PMPI_Type_free(datatype: *mut MPI_Datatype) {
    let p = out(datatype, "datatype")?;
    let h = *p;
    get(h)?;
    if st().dtypes.get(h).is_none() || is_f90(h) {
        return fail(MPI_ERR_TYPE, format!("predefined datatype {:#x} cannot be freed", h as u32));
    }
    // Delete callbacks run first; one that fails leaves the type alive.
    crate::attr::type_delete_all(h)?;
    let mut s = st();
    s.dtypes.remove(h);
    s.type_names.remove(&h);
    *p = MPI_DATATYPE_NULL;
    Ok(())
}}

fn combiner_code(c: vmpi::sys::datatype::Combiner) -> c_int {
    use vmpi::sys::datatype::Combiner::*;
    match c {
        Named => 1,
        Dup => 2,
        Contiguous => 3,
        Vector => 4,
        Hvector => 6,
        Indexed => 7,
        Hindexed => 9,
        IndexedBlock => 10,
        Struct => 12,
        Subarray => 13,
        Darray => 14,
        Resized => 18,
        HindexedBlock => 19,
    }
}

/// What MPI_Type_get_envelope(_c) and MPI_Type_get_contents(_c) report: the
/// combiner, integers, addresses, large counts and the number of datatypes. A type
/// built by a `_c` constructor has its counts and displacements among the large
/// counts (MPI-4.0 §5.1.13): all of them but subarray's ndims and order and darray's
/// size, rank, ndims, distributions, arguments, process grid and order.
struct Layout {
    combiner: c_int,
    ints: Vec<i64>,
    addrs: Vec<i64>,
    large: Vec<i64>,
    ntypes: usize,
    /// Built by a `_c` constructor.
    is_large: bool,
}

fn layout(h: MPI_Datatype) -> R<Layout> {
    let t = get(h)?;
    if let Some((c, p, r)) = f90_of(h) {
        let ints = if c == COMBINER_F90_INTEGER {
            vec![r as i64]
        } else {
            vec![p as i64, r as i64]
        };
        return Ok(Layout {
            combiner: c,
            ints,
            addrs: vec![],
            large: vec![],
            ntypes: 0,
            is_large: false,
        });
    }
    if basic_of(h).is_some() {
        let c = combiner_code(vmpi::sys::datatype::Combiner::Named);
        return Ok(Layout {
            combiner: c,
            ints: vec![],
            addrs: vec![],
            large: vec![],
            ntypes: 0,
            is_large: false,
        });
    }
    let is_large = st().dtypes.get(h).map_or(false, |o| o.large);
    let (_, _, _, comb) = t.envelope();
    let (i, a, d) = t.contents();
    let combiner = combiner_code(comb);
    let ntypes = d.len();
    if !is_large {
        return Ok(Layout {
            combiner,
            ints: i,
            addrs: a.into_iter().map(|x| x as i64).collect(),
            large: vec![],
            ntypes,
            is_large,
        });
    }
    use vmpi::sys::datatype::Combiner;
    let (ints, large) = match comb {
        Combiner::Subarray => {
            let n = i[0] as usize;
            (vec![i[0], i[3 * n + 1]], i[1..3 * n + 1].to_vec())
        }
        Combiner::Darray => {
            let n = i[2] as usize;
            let mut ints = i[..3].to_vec();
            ints.extend_from_slice(&i[3 + n..]);
            (ints, i[3..3 + n].to_vec())
        }
        _ => {
            let mut large = i;
            large.extend(a.iter().map(|&x| x as i64));
            (vec![], large)
        }
    };
    let addrs = if matches!(comb, Combiner::Subarray | Combiner::Darray) {
        a.into_iter().map(|x| x as i64).collect()
    } else {
        vec![]
    };
    Ok(Layout {
        combiner,
        ints,
        addrs,
        large,
        ntypes,
        is_large,
    })
}

fn int_of(what: &str, n: usize) -> R<c_int> {
    c_int::try_from(n).or_else(|_| {
        fail(
            MPI_ERR_COUNT,
            format!("{what} = {n} does not fit in an int"),
        )
    })
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_envelope / PMPI_Type_get_envelope(datatype: MPI_Datatype, num_integers: *mut c_int, num_addresses: *mut c_int, num_datatypes: *mut c_int, combiner: *mut c_int) {
    let l = layout(datatype)?;
    if l.is_large {
        return fail(MPI_ERR_TYPE, format!("datatype {:#x} was built by a large-count constructor: its envelope needs MPI_Type_get_envelope_c", datatype as u32));
    }
    *out(num_integers, "num_integers")? = int_of("num_integers", l.ints.len())?;
    *out(num_addresses, "num_addresses")? = int_of("num_addresses", l.addrs.len())?;
    *out(num_datatypes, "num_datatypes")? = int_of("num_datatypes", l.ntypes)?;
    *out(combiner, "combiner")? = l.combiner;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_envelope_c / PMPI_Type_get_envelope_c(datatype: MPI_Datatype, num_integers: *mut MPI_Count, num_addresses: *mut MPI_Count, num_large_counts: *mut MPI_Count, num_datatypes: *mut MPI_Count, combiner: *mut c_int) {
    let l = layout(datatype)?;
    *out(num_integers, "num_integers")? = l.ints.len() as MPI_Count;
    *out(num_addresses, "num_addresses")? = l.addrs.len() as MPI_Count;
    *out(num_large_counts, "num_large_counts")? = l.large.len() as MPI_Count;
    *out(num_datatypes, "num_datatypes")? = l.ntypes as MPI_Count;
    *out(combiner, "combiner")? = l.combiner;
    Ok(())
}}

/// MPI_Type_get_contents(_c): `max_large` None for the int form.
unsafe fn contents(
    datatype: MPI_Datatype,
    max_integers: MPI_Count,
    max_addresses: MPI_Count,
    max_large: Option<MPI_Count>,
    max_datatypes: MPI_Count,
    array_of_integers: *mut c_int,
    array_of_addresses: *mut MPI_Aint,
    array_of_large_counts: *mut MPI_Count,
    array_of_datatypes: *mut MPI_Datatype,
) -> R<()> {
    let l = layout(datatype)?;
    if l.combiner == combiner_code(vmpi::sys::datatype::Combiner::Named) {
        return fail(
            MPI_ERR_TYPE,
            format!(
                "MPI_Type_get_contents of predefined datatype {:#x}",
                datatype as u32
            ),
        );
    }
    if l.is_large && max_large.is_none() {
        return fail(MPI_ERR_TYPE, format!("datatype {:#x} was built by a large-count constructor: its contents need MPI_Type_get_contents_c", datatype as u32));
    }
    if max_integers < l.ints.len() as i64
        || max_addresses < l.addrs.len() as i64
        || max_large.unwrap_or(0) < l.large.len() as i64
        || max_datatypes < l.ntypes as i64
    {
        return fail(MPI_ERR_ARG, format!("the arrays are too small: the type needs {} integers, {} addresses, {} large counts, {} datatypes", l.ints.len(), l.addrs.len(), l.large.len(), l.ntypes));
    }
    for (p, v, what) in [
        (array_of_integers as usize, &l.ints, "array_of_integers"),
        (array_of_addresses as usize, &l.addrs, "array_of_addresses"),
        (
            array_of_large_counts as usize,
            &l.large,
            "array_of_large_counts",
        ),
    ] {
        if !v.is_empty() && p == 0 {
            return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
        }
    }
    for (k, v) in l.ints.iter().enumerate() {
        *array_of_integers.add(k) = *v as c_int;
    }
    for (k, v) in l.addrs.iter().enumerate() {
        *array_of_addresses.add(k) = *v as MPI_Aint;
    }
    for (k, v) in l.large.iter().enumerate() {
        *array_of_large_counts.add(k) = *v;
    }
    if l.ntypes == 0 {
        return Ok(());
    }
    let (t, inner) = match st().dtypes.get(datatype) {
        Some(o) => (o.dt.clone(), o.inner.clone()),
        None => return Ok(()),
    };
    let (_, _, d) = t.contents();
    for (k, t) in d.into_iter().enumerate() {
        let h = inner.get(k).copied().unwrap_or(MPI_DATATYPE_NULL);
        *array_of_datatypes.add(k) = if basic_of(h).is_some() || is_f90(h) {
            h
        } else {
            // A new handle on the same type (the caller frees it).
            let (inner2, large2) = st()
                .dtypes
                .get(h)
                .map(|o| (o.inner.clone(), o.large))
                .unwrap_or_default();
            let nh = new_type(t, inner2);
            if let Some(o) = st().dtypes.get_mut(nh) {
                o.committed = true;
                o.large = large2;
            }
            nh
        };
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_contents / PMPI_Type_get_contents(datatype: MPI_Datatype, max_integers: c_int, max_addresses: c_int, max_datatypes: c_int, array_of_integers: *mut c_int, array_of_addresses: *mut MPI_Aint, array_of_datatypes: *mut MPI_Datatype) {
    contents(datatype, max_integers.into(), max_addresses.into(), None, max_datatypes.into(), array_of_integers, array_of_addresses, std::ptr::null_mut(), array_of_datatypes)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_contents_c / PMPI_Type_get_contents_c(datatype: MPI_Datatype, max_integers: MPI_Count, max_addresses: MPI_Count, max_large_counts: MPI_Count, max_datatypes: MPI_Count, array_of_integers: *mut c_int, array_of_addresses: *mut MPI_Aint, array_of_large_counts: *mut MPI_Count, array_of_datatypes: *mut MPI_Datatype) {
    contents(datatype, max_integers, max_addresses, Some(max_large_counts), max_datatypes, array_of_integers, array_of_addresses, array_of_large_counts, array_of_datatypes)
}}

// ---- queries -------------------------------------------------------------------------

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_size / PMPI_Type_size(datatype: MPI_Datatype, size: *mut c_int) {
    let (s, ..) = info(datatype)?;
    *out(size, "size")? = if s > i32::MAX as i64 { MPI_UNDEFINED } else { s as c_int };
    Ok(())
}}

// The MPI_Count queries: the MPI-3 `_x` forms and the MPI-4 `_c` forms are the
// same functions under two names.
macro_rules! count_queries {
    ($size:ident / $psize:ident, $extent:ident / $pextent:ident, $true_extent:ident / $ptrue_extent:ident) => {
        mpi_fn! { MPI_COMM_WORLD => fn $size / $psize(datatype: MPI_Datatype, size: *mut MPI_Count) {
            *out(size, "size")? = info(datatype)?.0;
            Ok(())
        }}

        mpi_fn! { MPI_COMM_WORLD => fn $extent / $pextent(datatype: MPI_Datatype, lb: *mut MPI_Count, extent: *mut MPI_Count) {
            let (_, l, e, ..) = info(datatype)?;
            *out(lb, "lb")? = l;
            *out(extent, "extent")? = e;
            Ok(())
        }}

        mpi_fn! { MPI_COMM_WORLD => fn $true_extent / $ptrue_extent(datatype: MPI_Datatype, true_lb: *mut MPI_Count, true_extent: *mut MPI_Count) {
            let (.., l, e) = info(datatype)?;
            *out(true_lb, "true_lb")? = l;
            *out(true_extent, "true_extent")? = e;
            Ok(())
        }}
    };
}
count_queries!(
    MPI_Type_size_x / PMPI_Type_size_x,
    MPI_Type_get_extent_x / PMPI_Type_get_extent_x,
    MPI_Type_get_true_extent_x / PMPI_Type_get_true_extent_x
);
count_queries!(
    MPI_Type_size_c / PMPI_Type_size_c,
    MPI_Type_get_extent_c / PMPI_Type_get_extent_c,
    MPI_Type_get_true_extent_c / PMPI_Type_get_true_extent_c
);

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_extent / PMPI_Type_get_extent(datatype: MPI_Datatype, lb: *mut MPI_Aint, extent: *mut MPI_Aint) {
    let (_, l, e, ..) = info(datatype)?;
    *out(lb, "lb")? = l as MPI_Aint;
    *out(extent, "extent")? = e as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_true_extent / PMPI_Type_get_true_extent(datatype: MPI_Datatype, true_lb: *mut MPI_Aint, true_extent: *mut MPI_Aint) {
    let (.., l, e) = info(datatype)?;
    *out(true_lb, "true_lb")? = l as MPI_Aint;
    *out(true_extent, "true_extent")? = e as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_extent / PMPI_Type_extent(datatype: MPI_Datatype, extent: *mut MPI_Aint) {
    *out(extent, "extent")? = info(datatype)?.2 as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_lb / PMPI_Type_lb(datatype: MPI_Datatype, displacement: *mut MPI_Aint) {
    *out(displacement, "displacement")? = info(datatype)?.1 as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_ub / PMPI_Type_ub(datatype: MPI_Datatype, displacement: *mut MPI_Aint) {
    let (_, l, e, ..) = info(datatype)?;
    *out(displacement, "displacement")? = (l + e) as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_match_size / PMPI_Type_match_size(typeclass: c_int, size: c_int, datatype: *mut MPI_Datatype) {
    let o = out(datatype, "datatype")?;
    // MPICH answers with the Fortran sized types: REAL, INTEGER, COMPLEX.
    let cands: &[u32] = match typeclass {
        1 => &[0x4c000427, 0x4c000829, 0x4c00102b],
        2 => &[0x4c00012d, 0x4c00022f, 0x4c000430, 0x4c000831],
        3 => &[0x4c000828, 0x4c00102a, 0x4c00202c],
        _ => return fail(MPI_ERR_ARG, format!("invalid typeclass {typeclass}")),
    };
    for &c in cands {
        if predefined(c as i32).map(|p| p.size) == Some(size as usize) {
            *o = c as i32;
            return Ok(());
        }
    }
    fail(MPI_ERR_ARG, format!("no datatype of typeclass {typeclass} has size {size}"))
}}

// ---- pack and unpack -------------------------------------------------------------------

// MPI_Pack and friends: one function each on i64 counts, sizes and positions; the
// int (and MPI_Aint) forms and the `_c` forms read the position in, widened, and
// write it back (it never passes the size, which came in the caller's type).

/// A position argument, widened; a negative one is an error.
unsafe fn pos_in<T: Wide>(position: *mut T) -> R<i64> {
    let p = out(position, "position")?.wide();
    if p < 0 {
        return fail(MPI_ERR_ARG, format!("invalid position {p}"));
    }
    Ok(p)
}

/// MPI_Pack(_c) and MPI_Pack_external(_c) (`external`): packs `incount` elements at
/// `pos`, which it advances.
unsafe fn pack(
    call: &str,
    external: bool,
    inbuf: *const std::ffi::c_void,
    incount: i64,
    datatype: MPI_Datatype,
    outbuf: *mut std::ffi::c_void,
    outsize: i64,
    pos: &mut i64,
) -> R<()> {
    let n = check_count(incount)?;
    let t = for_comm(datatype)?;
    if outsize < 0 {
        return fail(MPI_ERR_ARG, format!("invalid outsize {outsize}"));
    }
    let need = if external {
        t.pack_external_size(n)
    } else {
        t.packed_size(n, call)?
    };
    if need == 0 {
        return Ok(());
    }
    bad_buf(inbuf as *const u8, n, &t)?;
    if outbuf.is_null() {
        return fail(MPI_ERR_ARG, "outbuf is a null pointer");
    }
    let dst = std::slice::from_raw_parts_mut(outbuf as *mut u8, outsize as usize);
    let mut p = *pos as usize;
    if external {
        t.pack_external(inbuf as *const u8, n, dst, &mut p)?;
    } else {
        t.pack(inbuf as *const u8, n, dst, &mut p)?;
    }
    *pos = p as i64;
    Ok(())
}

/// MPI_Unpack(_c) and MPI_Unpack_external(_c).
unsafe fn unpack(
    call: &str,
    external: bool,
    inbuf: *const std::ffi::c_void,
    insize: i64,
    pos: &mut i64,
    outbuf: *mut std::ffi::c_void,
    outcount: i64,
    datatype: MPI_Datatype,
) -> R<()> {
    let n = check_count(outcount)?;
    let t = for_comm(datatype)?;
    if insize < 0 {
        return fail(MPI_ERR_ARG, format!("invalid insize {insize}"));
    }
    let need = if external {
        t.pack_external_size(n)
    } else {
        t.packed_size(n, call)?
    };
    if need == 0 {
        return Ok(());
    }
    bad_buf(outbuf as *const u8, n, &t)?;
    if inbuf.is_null() {
        return fail(MPI_ERR_ARG, "inbuf is a null pointer");
    }
    let src = std::slice::from_raw_parts(inbuf as *const u8, insize as usize);
    let mut p = *pos as usize;
    if external {
        t.unpack_external(src, &mut p, outbuf as *mut u8, n)?;
    } else {
        t.unpack(src, &mut p, outbuf as *mut u8, n)?;
    }
    *pos = p as i64;
    Ok(())
}

mpi_fn! { comm => fn MPI_Pack / PMPI_Pack(inbuf: *const std::ffi::c_void, incount: c_int, datatype: MPI_Datatype, outbuf: *mut std::ffi::c_void, outsize: c_int, position: *mut c_int, comm: MPI_Comm) {
    crate::state::comm(comm)?;
    let mut p = pos_in(position)?;
    pack("MPI_Pack", false, inbuf, incount.wide(), datatype, outbuf, outsize.wide(), &mut p)?;
    *position = p as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Pack_c / PMPI_Pack_c(inbuf: *const std::ffi::c_void, incount: MPI_Count, datatype: MPI_Datatype, outbuf: *mut std::ffi::c_void, outsize: MPI_Count, position: *mut MPI_Count, comm: MPI_Comm) {
    crate::state::comm(comm)?;
    let mut p = pos_in(position)?;
    pack("MPI_Pack_c", false, inbuf, incount, datatype, outbuf, outsize, &mut p)?;
    *position = p;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Unpack / PMPI_Unpack(inbuf: *const std::ffi::c_void, insize: c_int, position: *mut c_int, outbuf: *mut std::ffi::c_void, outcount: c_int, datatype: MPI_Datatype, comm: MPI_Comm) {
    crate::state::comm(comm)?;
    let mut p = pos_in(position)?;
    unpack("MPI_Unpack", false, inbuf, insize.wide(), &mut p, outbuf, outcount.wide(), datatype)?;
    *position = p as c_int;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Unpack_c / PMPI_Unpack_c(inbuf: *const std::ffi::c_void, insize: MPI_Count, position: *mut MPI_Count, outbuf: *mut std::ffi::c_void, outcount: MPI_Count, datatype: MPI_Datatype, comm: MPI_Comm) {
    crate::state::comm(comm)?;
    let mut p = pos_in(position)?;
    unpack("MPI_Unpack_c", false, inbuf, insize, &mut p, outbuf, outcount, datatype)?;
    *position = p;
    Ok(())
}}

/// MPI_Pack_size(_c): the packed size of `incount` elements.
fn pack_size(call: &str, incount: i64, datatype: MPI_Datatype, comm: MPI_Comm) -> R<i64> {
    crate::state::comm(comm)?;
    let n = check_count(incount)?;
    let t = get(datatype)?;
    Ok(t.packed_size(n, call)? as i64)
}

mpi_fn! { comm => fn MPI_Pack_size / PMPI_Pack_size(incount: c_int, datatype: MPI_Datatype, comm: MPI_Comm, size: *mut c_int) {
    let s = pack_size("MPI_Pack_size", incount.wide(), datatype, comm)?;
    *out(size, "size")? = c_int::try_from(s).unwrap_or(MPI_UNDEFINED);
    Ok(())
}}

mpi_fn! { comm => fn MPI_Pack_size_c / PMPI_Pack_size_c(incount: MPI_Count, datatype: MPI_Datatype, comm: MPI_Comm, size: *mut MPI_Count) {
    *out(size, "size")? = pack_size("MPI_Pack_size_c", incount, datatype, comm)?;
    Ok(())
}}

unsafe fn datarep(d: *const c_char) -> R<()> {
    if d.is_null() {
        return fail(MPI_ERR_ARG, "datarep is a null pointer");
    }
    let s = std::ffi::CStr::from_ptr(d).to_string_lossy();
    if s != "external32" {
        return fail(
            MPI_ERR_ARG,
            format!("unsupported data representation \"{s}\" (only \"external32\")"),
        );
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pack_external / PMPI_Pack_external(datarep_: *const c_char, inbuf: *const std::ffi::c_void, incount: c_int, datatype: MPI_Datatype, outbuf: *mut std::ffi::c_void, outsize: MPI_Aint, position: *mut MPI_Aint) {
    datarep(datarep_)?;
    let mut p = pos_in(position)?;
    pack("MPI_Pack_external", true, inbuf, incount.wide(), datatype, outbuf, outsize.wide(), &mut p)?;
    *position = p as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pack_external_c / PMPI_Pack_external_c(datarep_: *const c_char, inbuf: *const std::ffi::c_void, incount: MPI_Count, datatype: MPI_Datatype, outbuf: *mut std::ffi::c_void, outsize: MPI_Count, position: *mut MPI_Count) {
    datarep(datarep_)?;
    let mut p = pos_in(position)?;
    pack("MPI_Pack_external_c", true, inbuf, incount, datatype, outbuf, outsize, &mut p)?;
    *position = p;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Unpack_external / PMPI_Unpack_external(datarep_: *const c_char, inbuf: *const std::ffi::c_void, insize: MPI_Aint, position: *mut MPI_Aint, outbuf: *mut std::ffi::c_void, outcount: c_int, datatype: MPI_Datatype) {
    datarep(datarep_)?;
    let mut p = pos_in(position)?;
    unpack("MPI_Unpack_external", true, inbuf, insize.wide(), &mut p, outbuf, outcount.wide(), datatype)?;
    *position = p as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Unpack_external_c / PMPI_Unpack_external_c(datarep_: *const c_char, inbuf: *const std::ffi::c_void, insize: MPI_Count, position: *mut MPI_Count, outbuf: *mut std::ffi::c_void, outcount: MPI_Count, datatype: MPI_Datatype) {
    datarep(datarep_)?;
    let mut p = pos_in(position)?;
    unpack("MPI_Unpack_external_c", true, inbuf, insize, &mut p, outbuf, outcount, datatype)?;
    *position = p;
    Ok(())
}}

/// MPI_Pack_external_size(_c).
unsafe fn pack_external_size(
    datarep_: *const c_char,
    incount: i64,
    datatype: MPI_Datatype,
) -> R<i64> {
    datarep(datarep_)?;
    let n = check_count(incount)?;
    let t = get(datatype)?;
    Ok(t.pack_external_size(n) as i64)
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pack_external_size / PMPI_Pack_external_size(datarep_: *const c_char, incount: c_int, datatype: MPI_Datatype, size: *mut MPI_Aint) {
    *out(size, "size")? = pack_external_size(datarep_, incount.wide(), datatype)? as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Pack_external_size_c / PMPI_Pack_external_size_c(datarep_: *const c_char, incount: MPI_Count, datatype: MPI_Datatype, size: *mut MPI_Count) {
    *out(size, "size")? = pack_external_size(datarep_, incount, datatype)?;
    Ok(())
}}

// ---- Fortran 90 parameterized types ----------------------------------------------------

pub const COMBINER_F90_REAL: c_int = 15;
pub const COMBINER_F90_COMPLEX: c_int = 16;
pub const COMBINER_F90_INTEGER: c_int = 17;

pub fn f90_of(h: MPI_Datatype) -> Option<(c_int, c_int, c_int)> {
    st().f90_types.get(&h).copied()
}

pub fn is_f90(h: MPI_Datatype) -> bool {
    f90_of(h).is_some()
}

/// The named type behind an f90 request, with MPICH's table: integers by decimal
/// range (1, 2, 4, 8 bytes), reals and complexes by precision and range (4 or 8
/// byte reals; MPICH offers no 16-byte one, and vmpi's REAL16 is the x87 long
/// double, not the quad precision p > 15 asks for). MPI_UNDEFINED (negative)
/// asks for nothing. No fit: MPI_ERR_OTHER, MPICH's class for it.
fn f90_base(comb: c_int, p: c_int, r: c_int) -> R<MPI_Datatype> {
    let h: u32 = if comb == COMBINER_F90_INTEGER {
        match r {
            _ if r <= 2 => 0x4c00012d,  // MPI_INTEGER1
            _ if r <= 4 => 0x4c00022f,  // MPI_INTEGER2
            _ if r <= 9 => 0x4c000430,  // MPI_INTEGER4
            _ if r <= 18 => 0x4c000831, // MPI_INTEGER8
            _ => {
                return fail(
                    MPI_ERR_OTHER,
                    format!("no Fortran integer kind has a decimal range of {r}"),
                )
            }
        }
    } else {
        let cplx = comb == COMBINER_F90_COMPLEX;
        if p <= 6 && r <= 37 {
            if cplx {
                0x4c000828
            } else {
                0x4c000427
            } // MPI_COMPLEX8 / MPI_REAL4
        } else if p <= 15 && r <= 307 {
            if cplx {
                0x4c00102a
            } else {
                0x4c000829
            } // MPI_COMPLEX16 / MPI_REAL8
        } else {
            return fail(
                MPI_ERR_OTHER,
                format!("no Fortran real kind has precision {p} and range {r}"),
            );
        }
    };
    Ok(h as MPI_Datatype)
}

/// MPICH's "unnamed predefined" types: a handle of its own per (combiner, p, r),
/// the same handle for the same arguments, committed, not freeable, with the F90
/// combiner and (p, r) from MPI_Type_get_envelope/get_contents.
unsafe fn f90(comb: c_int, p: c_int, r: c_int, newtype: *mut MPI_Datatype) -> R<()> {
    let o = out(newtype, "newtype")?;
    let base = f90_base(comb, p, r)?;
    let key = (comb, p, r);
    let known = st()
        .f90_types
        .iter()
        .find(|(_, k)| **k == key)
        .map(|(h, _)| *h);
    if let Some(h) = known {
        *o = h;
        return Ok(());
    }
    let h = new_type(get(base)?, vec![base]);
    let mut s = st();
    if let Some(x) = s.dtypes.get_mut(h) {
        x.committed = true;
    }
    s.f90_types.insert(h, key);
    *o = h;
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_f90_integer / PMPI_Type_create_f90_integer(r: c_int, newtype: *mut MPI_Datatype) {
    f90(COMBINER_F90_INTEGER, MPI_UNDEFINED, r, newtype)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_f90_real / PMPI_Type_create_f90_real(p: c_int, r: c_int, newtype: *mut MPI_Datatype) {
    f90(COMBINER_F90_REAL, p, r, newtype)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_f90_complex / PMPI_Type_create_f90_complex(p: c_int, r: c_int, newtype: *mut MPI_Datatype) {
    f90(COMBINER_F90_COMPLEX, p, r, newtype)
}}
