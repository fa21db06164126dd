//! Attribute caching on communicators: keyvals with copy and delete callbacks, the
//! predefined attributes (MPI_TAG_UB, MPI_HOST, MPI_IO, MPI_WTIME_IS_GLOBAL,
//! MPI_UNIVERSE_SIZE, MPI_LASTUSEDCODE, MPI_APPNUM), and the MPI-1 names.
//!
//! An object's attributes are kept in the order they were set ([`Attrs`]); deleting
//! them all (MPI_Comm_free, MPI_Type_free, MPI_Finalize for MPI_COMM_SELF) runs the
//! delete callbacks in the reverse order, as MPI-3.1 §8.7.1 asks of MPI_Finalize
//! and MPICH does everywhere. A copy callback that fails makes MPI_Comm_dup or
//! MPI_Type_dup fail with its code; the attributes already copied to the new
//! object are deleted through their callbacks and the object is freed.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, R};
use crate::state::st;
use std::ffi::c_void;
use std::os::raw::c_int;

pub type CopyFn = unsafe extern "C" fn(
    MPI_Comm,
    c_int,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_int,
) -> c_int;
pub type DeleteFn = unsafe extern "C" fn(MPI_Comm, c_int, *mut c_void, *mut c_void) -> c_int;

#[derive(Clone, Copy)]
pub struct Keyval {
    pub copy: Option<CopyFn>,
    pub delete: Option<DeleteFn>,
    pub extra: usize,
    /// The kind of object the keyval was made for: usable on that kind only.
    pub kind: Object,
}

/// What a keyval attaches to (MPI_Comm_create_keyval, MPI_Type_create_keyval,
/// MPI_Win_create_keyval).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Comm,
    Type,
    Win,
}

/// The attributes of one object: (keyval, value) in the order of setting; setting
/// a keyval again replaces its value in place.
#[derive(Clone, Default)]
pub struct Attrs(Vec<(c_int, usize)>);

impl Attrs {
    pub fn get(&self, k: &c_int) -> Option<&usize> {
        self.0.iter().find(|(x, _)| x == k).map(|(_, v)| v)
    }
    pub fn insert(&mut self, k: c_int, v: usize) {
        match self.0.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k, v)),
        }
    }
    pub fn remove(&mut self, k: &c_int) -> Option<usize> {
        let i = self.0.iter().position(|(x, _)| x == k)?;
        Some(self.0.remove(i).1)
    }
    /// The most recently set attribute, taken out.
    pub fn pop_last(&mut self) -> Option<(c_int, usize)> {
        self.0.pop()
    }
    /// In the order of setting.
    pub fn iter(&self) -> impl Iterator<Item = (c_int, usize)> + '_ {
        self.0.iter().copied()
    }
}

/// MPI_DUP_FN / MPI_COMM_DUP_FN: the copy gets the same value.
#[no_mangle]
pub unsafe extern "C" fn MPIR_Dup_fn(
    _comm: MPI_Comm,
    _keyval: c_int,
    _extra: *mut c_void,
    attr_in: *mut c_void,
    attr_out: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    *(attr_out as *mut *mut c_void) = attr_in;
    *flag = 1;
    MPI_SUCCESS
}

// `MPI_DUP_FN` as a function (MPICH exports it beside the macro that names
// `MPIR_Dup_fn`).
mpi_plain! {
    fn MPI_DUP_FN / PMPI_DUP_FN(comm: MPI_Comm, keyval: c_int, extra: *mut c_void, attr_in: *mut c_void, attr_out: *mut c_void, flag: *mut c_int) -> c_int {
        MPIR_Dup_fn(comm, keyval, extra, attr_in, attr_out, flag)
    }
}

// Values the predefined attributes point at (MPI hands out their addresses).
static mut TAG_UB_VAL: c_int = vmpi::sys::comm::TAG_UB;
static mut HOST_VAL: c_int = MPI_PROC_NULL;
static mut IO_VAL: c_int = MPI_ANY_SOURCE;
static mut WTIME_GLOBAL_VAL: c_int = 0;
static mut UNIVERSE_VAL: c_int = 1;
static mut LASTCODE_VAL: c_int = 0;
static mut APPNUM_VAL: c_int = 0;

fn keyval(k: c_int) -> R<Keyval> {
    keyval_of(k, Object::Comm)
}

/// The keyval `k` of the given kind (communicator or datatype), or MPI_ERR_KEYVAL.
pub(crate) fn keyval_of(k: c_int, of: Object) -> R<Keyval> {
    st().keyvals
        .get(k)
        .copied()
        .filter(|kv| kv.kind == of)
        .ok_or_else(|| {
            let kind = match of {
                Object::Comm => "communicator",
                Object::Type => "datatype",
                Object::Win => "window",
            };
            err(
                MPI_ERR_KEYVAL,
                format!("invalid {kind} keyval {:#x}", k as u32),
            )
        })
}

/// Run the delete callback of `k` for `value` on `comm` (a communicator or datatype
/// handle; no lock held).
pub(crate) unsafe fn run_delete(comm: MPI_Comm, k: c_int, kv: Keyval, value: usize) -> R<()> {
    if let Some(d) = kv.delete {
        let rc = d(comm, k, value as *mut c_void, kv.extra as *mut c_void);
        if rc != MPI_SUCCESS {
            return fail(
                rc,
                format!(
                    "the delete callback of keyval {:#x} returned {rc}",
                    k as u32
                ),
            );
        }
    }
    Ok(())
}

/// Delete every attribute of `comm`, last set first, calling the delete
/// callbacks (MPI_Finalize for MPI_COMM_SELF; communicator management for
/// MPI_Comm_free). A callback may set or delete attributes itself: each round
/// takes the last one left.
pub fn delete_all(comm: MPI_Comm) -> R<()> {
    loop {
        let next = {
            let mut s = st();
            let Ok(c) = s.comm_mut(comm) else {
                return Ok(());
            };
            let Some((k, v)) = c.attrs.pop_last() else {
                return Ok(());
            };
            (k, v, s.keyvals.get(k).copied())
        };
        if let (k, v, Some(kv)) = next {
            // SAFETY: callbacks the application registered with this signature.
            unsafe { run_delete(comm, k, kv, v)? };
        }
    }
}

/// Run `kv`'s copy callback for attribute `k` = `value` of object `from` (a
/// communicator or datatype handle): Some(new value) when the callback says to copy.
fn run_copy(from: c_int, k: c_int, kv: Keyval, value: usize) -> R<Option<usize>> {
    let Some(copy) = kv.copy else { return Ok(None) };
    let mut outv: *mut c_void = std::ptr::null_mut();
    let mut flag: c_int = 0;
    // SAFETY: a callback the application registered with this signature.
    let rc = unsafe {
        copy(
            from,
            k,
            kv.extra as *mut c_void,
            value as *mut c_void,
            &mut outv as *mut _ as *mut c_void,
            &mut flag,
        )
    };
    if rc != MPI_SUCCESS {
        return fail(
            rc,
            format!("the copy callback of keyval {:#x} returned {rc}", k as u32),
        );
    }
    Ok((flag != 0).then_some(outv as usize))
}

/// Copy the attributes of `from` to `to` through their copy callbacks (MPI_Comm_dup).
pub fn copy_all(from: MPI_Comm, to: MPI_Comm) -> R<()> {
    let attrs: Vec<(c_int, usize)> = st().comm(from)?.attrs.iter().collect();
    for (k, v) in attrs {
        let kv = keyval(k)?;
        if let Some(outv) = run_copy(from, k, kv, v)? {
            st().comm_mut(to)?.attrs.insert(k, outv);
        }
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_create_keyval / PMPI_Comm_create_keyval(comm_copy_attr_fn: Option<CopyFn>, comm_delete_attr_fn: Option<DeleteFn>, comm_keyval: *mut c_int, extra_state: *mut c_void) {
    let o = out(comm_keyval, "comm_keyval")?;
    *o = st().keyvals.insert(Keyval { copy: comm_copy_attr_fn, delete: comm_delete_attr_fn, extra: extra_state as usize, kind: Object::Comm });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Keyval_create / PMPI_Keyval_create(copy_fn: Option<CopyFn>, delete_fn: Option<DeleteFn>, keyval: *mut c_int, extra_state: *mut c_void) {
    let o = out(keyval, "keyval")?;
    *o = st().keyvals.insert(Keyval { copy: copy_fn, delete: delete_fn, extra: extra_state as usize, kind: Object::Comm });
    Ok(())
}}

unsafe fn free_keyval(k: *mut c_int) -> R<()> {
    let h = out(k, "keyval")?;
    if (*h as u32) & 0xfc00_0000 == 0x6400_0000 {
        return fail(MPI_ERR_KEYVAL, "a predefined keyval cannot be freed");
    }
    keyval(*h)?;
    // Attributes already set keep their callbacks until deleted (MPI's rule); the
    // keyval's slot is kept for them, its handle becomes invalid for new use.
    *h = MPI_KEYVAL_INVALID;
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_free_keyval / PMPI_Comm_free_keyval(comm_keyval: *mut c_int) {
    free_keyval(comm_keyval)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Keyval_free / PMPI_Keyval_free(keyval: *mut c_int) {
    free_keyval(keyval)
}}

unsafe fn set_attr(comm: MPI_Comm, k: c_int, v: *mut c_void) -> R<()> {
    if (k as u32) & 0xfc00_0000 == 0x6400_0000 {
        return fail(
            MPI_ERR_KEYVAL,
            format!("predefined attribute {:#x} cannot be set", k as u32),
        );
    }
    let kv = keyval(k)?;
    let old = st().comm_mut(comm)?.attrs.get(&k).copied();
    if let Some(old) = old {
        run_delete(comm, k, kv, old)?;
    }
    st().comm_mut(comm)?.attrs.insert(k, v as usize);
    Ok(())
}

unsafe fn get_attr(comm: MPI_Comm, k: c_int, v: *mut c_void, flag: *mut c_int) -> R<()> {
    let (world_size, known) = {
        let s = st();
        s.comm(comm)?;
        (s.world.map(|w| w.1).unwrap_or(1), s.last_code)
    };
    let f = out(flag, "flag")?;
    if v.is_null() {
        return fail(MPI_ERR_ARG, "attribute_val is a null pointer");
    }
    let slot = v as *mut *mut c_void;
    let p: *mut c_int = match k {
        MPI_TAG_UB => std::ptr::addr_of_mut!(TAG_UB_VAL),
        MPI_HOST => std::ptr::addr_of_mut!(HOST_VAL),
        MPI_IO => std::ptr::addr_of_mut!(IO_VAL),
        MPI_WTIME_IS_GLOBAL => std::ptr::addr_of_mut!(WTIME_GLOBAL_VAL),
        MPI_UNIVERSE_SIZE => {
            *std::ptr::addr_of_mut!(UNIVERSE_VAL) = world_size as c_int;
            std::ptr::addr_of_mut!(UNIVERSE_VAL)
        }
        MPI_LASTUSEDCODE => {
            *std::ptr::addr_of_mut!(LASTCODE_VAL) = known;
            std::ptr::addr_of_mut!(LASTCODE_VAL)
        }
        MPI_APPNUM => std::ptr::addr_of_mut!(APPNUM_VAL),
        _ => {
            keyval(k)?;
            match st().comm(comm)?.attrs.get(&k) {
                Some(&val) => {
                    *slot = val as *mut c_void;
                    *f = 1;
                }
                None => *f = 0,
            }
            return Ok(());
        }
    };
    *slot = p as *mut c_void;
    *f = 1;
    Ok(())
}

unsafe fn delete_attr(comm: MPI_Comm, k: c_int) -> R<()> {
    let kv = keyval(k)?;
    let v = st().comm_mut(comm)?.attrs.remove(&k);
    match v {
        Some(v) => run_delete(comm, k, kv, v),
        None => fail(
            MPI_ERR_KEYVAL,
            format!(
                "no attribute for keyval {:#x} on this communicator",
                k as u32
            ),
        ),
    }
}

mpi_fn! { comm => fn MPI_Comm_set_attr / PMPI_Comm_set_attr(comm: MPI_Comm, comm_keyval: c_int, attribute_val: *mut c_void) {
    set_attr(comm, comm_keyval, attribute_val)
}}
mpi_fn! { comm => fn MPI_Attr_put / PMPI_Attr_put(comm: MPI_Comm, keyval: c_int, attribute_val: *mut c_void) {
    set_attr(comm, keyval, attribute_val)
}}
mpi_fn! { comm => fn MPI_Comm_get_attr / PMPI_Comm_get_attr(comm: MPI_Comm, comm_keyval: c_int, attribute_val: *mut c_void, flag: *mut c_int) {
    get_attr(comm, comm_keyval, attribute_val, flag)
}}
mpi_fn! { comm => fn MPI_Attr_get / PMPI_Attr_get(comm: MPI_Comm, keyval: c_int, attribute_val: *mut c_void, flag: *mut c_int) {
    get_attr(comm, keyval, attribute_val, flag)
}}
mpi_fn! { comm => fn MPI_Comm_delete_attr / PMPI_Comm_delete_attr(comm: MPI_Comm, comm_keyval: c_int) {
    delete_attr(comm, comm_keyval)
}}
mpi_fn! { comm => fn MPI_Attr_delete / PMPI_Attr_delete(comm: MPI_Comm, keyval: c_int) {
    delete_attr(comm, keyval)
}}

// ---- datatype attributes ----------------------------------------------------------------
// The same keyval table and callbacks as communicators (MPI_Type_copy_attr_function
// has MPI_Comm_copy_attr_function's shape: the handle is an int in both), the
// values kept per datatype in `State::type_attrs`.

/// Delete every attribute of datatype `dt`, last set first, through the delete
/// callbacks (MPI_Type_free).
pub fn type_delete_all(dt: MPI_Datatype) -> R<()> {
    loop {
        let next = {
            let mut s = st();
            let Some(m) = s.type_attrs.get_mut(&dt) else {
                return Ok(());
            };
            let Some((k, v)) = m.pop_last() else {
                s.type_attrs.remove(&dt);
                return Ok(());
            };
            (k, v, s.keyvals.get(k).copied())
        };
        if let (k, v, Some(kv)) = next {
            // SAFETY: callbacks the application registered with this signature.
            unsafe { run_delete(dt, k, kv, v)? };
        }
    }
}

/// Copy the attributes of `from` to the new datatype `to` through their copy
/// callbacks (MPI_Type_dup).
pub fn type_copy_all(from: MPI_Datatype, to: MPI_Datatype) -> R<()> {
    let attrs: Vec<(c_int, usize)> = match st().type_attrs.get(&from) {
        Some(m) => m.iter().collect(),
        None => return Ok(()),
    };
    for (k, v) in attrs {
        let kv = keyval_of(k, Object::Type)?;
        if let Some(outv) = run_copy(from, k, kv, v)? {
            st().type_attrs.entry(to).or_default().insert(k, outv);
        }
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_create_keyval / PMPI_Type_create_keyval(type_copy_attr_fn: Option<CopyFn>, type_delete_attr_fn: Option<DeleteFn>, type_keyval: *mut c_int, extra_state: *mut c_void) {
    let o = out(type_keyval, "type_keyval")?;
    *o = st().keyvals.insert(Keyval { copy: type_copy_attr_fn, delete: type_delete_attr_fn, extra: extra_state as usize, kind: Object::Type });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_free_keyval / PMPI_Type_free_keyval(type_keyval: *mut c_int) {
    let h = out(type_keyval, "type_keyval")?;
    keyval_of(*h, Object::Type)?;
    // As for communicators: attributes already set keep their callbacks.
    *h = MPI_KEYVAL_INVALID;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_set_attr / PMPI_Type_set_attr(datatype: MPI_Datatype, type_keyval: c_int, attribute_val: *mut c_void) {
    crate::dtype::info(datatype)?;
    let kv = keyval_of(type_keyval, Object::Type)?;
    let old = st().type_attrs.get(&datatype).and_then(|m| m.get(&type_keyval).copied());
    if let Some(old) = old {
        run_delete(datatype, type_keyval, kv, old)?;
    }
    st().type_attrs.entry(datatype).or_default().insert(type_keyval, attribute_val as usize);
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_get_attr / PMPI_Type_get_attr(datatype: MPI_Datatype, type_keyval: c_int, attribute_val: *mut c_void, flag: *mut c_int) {
    crate::dtype::info(datatype)?;
    keyval_of(type_keyval, Object::Type)?;
    let f = out(flag, "flag")?;
    if attribute_val.is_null() {
        return fail(MPI_ERR_ARG, "attribute_val is a null pointer");
    }
    match st().type_attrs.get(&datatype).and_then(|m| m.get(&type_keyval).copied()) {
        Some(v) => {
            *(attribute_val as *mut *mut c_void) = v as *mut c_void;
            *f = 1;
        }
        None => *f = 0,
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Type_delete_attr / PMPI_Type_delete_attr(datatype: MPI_Datatype, type_keyval: c_int) {
    crate::dtype::info(datatype)?;
    let kv = keyval_of(type_keyval, Object::Type)?;
    let v = st().type_attrs.get_mut(&datatype).and_then(|m| m.remove(&type_keyval));
    match v {
        Some(v) => run_delete(datatype, type_keyval, kv, v),
        None => fail(MPI_ERR_KEYVAL, format!("no attribute for keyval {:#x} on datatype {:#x}", type_keyval as u32, datatype as u32)),
    }
}}
