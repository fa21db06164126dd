//! Datatypes as the C interface sees them. For now the predefined types only: each
//! is `size` contiguous bytes (plus padding up to `extent` for the pair types), so a
//! buffer of `count` elements is `count * extent` contiguous bytes. Derived
//! datatypes (vmpi::datatype::Datatype) plug in here: `layout` learns about them and
//! the p2p module packs/unpacks non-contiguous ones; their MPI_Type_* constructors
//! live in a module of their own.

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

/// What the p2p layer needs of a datatype: bytes per element in a buffer and in
/// the message (equal while every type is contiguous).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub size: usize,
    pub extent: usize,
    pub elems: usize,
}

/// The layout of `dt`, or MPI_ERR_TYPE.
pub fn layout(dt: MPI_Datatype) -> R<Layout> {
    if dt == MPI_DATATYPE_NULL {
        return fail(MPI_ERR_TYPE, "null datatype (MPI_DATATYPE_NULL)");
    }
    match predefined(dt) {
        Some(p) => Ok(Layout {
            size: p.size,
            extent: p.extent,
            elems: p.elems,
        }),
        None => fail(MPI_ERR_TYPE, format!("invalid datatype {:#x}", dt as u32)),
    }
}

/// A count argument: not negative.
pub fn check_count(count: c_int) -> R<usize> {
    if count < 0 {
        fail(MPI_ERR_COUNT, format!("invalid count {count}"))
    } else {
        Ok(count as usize)
    }
}

/// Bytes of a buffer of `count` elements of `dt`, with the checks MPI names.
pub fn buffer_bytes(buf: *const u8, count: c_int, dt: MPI_Datatype) -> R<usize> {
    let n = check_count(count)?;
    let l = layout(dt)?;
    if n > 0 && l.size > 0 && buf.is_null() {
        return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
    }
    Ok(n * l.extent)
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

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_size / PMPI_Type_size(datatype: MPI_Datatype, size: *mut c_int) {
    let l = layout(datatype)?;
    *out(size, "size")? = l.size as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_size_x / PMPI_Type_size_x(datatype: MPI_Datatype, size: *mut MPI_Count) {
    let l = layout(datatype)?;
    *out(size, "size")? = l.size as MPI_Count;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_extent / PMPI_Type_get_extent(datatype: MPI_Datatype, lb: *mut MPI_Aint, extent: *mut MPI_Aint) {
    let l = layout(datatype)?;
    *out(lb, "lb")? = 0;
    *out(extent, "extent")? = l.extent as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_extent_x / PMPI_Type_get_extent_x(datatype: MPI_Datatype, lb: *mut MPI_Count, extent: *mut MPI_Count) {
    let l = layout(datatype)?;
    *out(lb, "lb")? = 0;
    *out(extent, "extent")? = l.extent as MPI_Count;
    Ok(())
}}

/// The true extent of a predefined type covers its data bytes (the pair types'
/// trailing padding is not data).
fn true_extent(dt: MPI_Datatype) -> R<usize> {
    let l = layout(dt)?;
    Ok(match dt as u32 {
        0x8c000001 | 0x8c000002 => 12,
        0x8c000003 => 8,
        0x8c000004 => 20,
        _ => l.extent,
    })
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_true_extent / PMPI_Type_get_true_extent(datatype: MPI_Datatype, true_lb: *mut MPI_Aint, true_extent_: *mut MPI_Aint) {
    let t = true_extent(datatype)?;
    *out(true_lb, "true_lb")? = 0;
    *out(true_extent_, "true_extent")? = t as MPI_Aint;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_true_extent_x / PMPI_Type_get_true_extent_x(datatype: MPI_Datatype, true_lb: *mut MPI_Count, true_extent_: *mut MPI_Count) {
    let t = true_extent(datatype)?;
    *out(true_lb, "true_lb")? = 0;
    *out(true_extent_, "true_extent")? = t as MPI_Count;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_name / PMPI_Type_get_name(datatype: MPI_Datatype, type_name: *mut c_char, resultlen: *mut c_int) {
    layout(datatype)?;
    if type_name.is_null() {
        return fail(MPI_ERR_ARG, "type_name is a null pointer");
    }
    let name = st().type_names.get(&datatype).cloned();
    let name = name.unwrap_or_else(|| predefined(datatype).map(|p| p.name.to_string()).unwrap_or_default());
    copy_name(&name, type_name, resultlen);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_set_name / PMPI_Type_set_name(datatype: MPI_Datatype, type_name: *const c_char) {
    layout(datatype)?;
    if type_name.is_null() {
        return fail(MPI_ERR_ARG, "type_name is a null pointer");
    }
    let s = std::ffi::CStr::from_ptr(type_name).to_string_lossy().into_owned();
    st().type_names.insert(datatype, s);
    Ok(())
}}
