//! The MPI tool information interface (MPI_T, MPI-3.1 chapter 14).
//!
//! Control variables are vmpi's runtime parameters (`vmpi::sys::config::PARAMS`, in that
//! order): read-only (`MPI_T_SCOPE_READONLY`: the runtime reads them once at init),
//! bound to no object, an `MPI_INT` where the default is a number (byte counts with
//! K/M/G suffixes included, flags read as 0/1), else an `MPI_CHAR` string. A read
//! gives the value in effect: the environment's when set, else the default. vmpi
//! has no performance variables (pvar sessions exist, every index and handle is
//! invalid) and no enumerations; one category, "vmpi", holds every cvar. Nor
//! does it raise MPI-4 events: there are no events and no event sources, so
//! every event index, registration and instance is invalid (a tool that asks
//! learns that, as from MPI_T_event_get_num).
//!
//! Every MPI_T call returns an MPI_T error code itself (error handlers are not
//! involved), `MPI_T_ERR_NOT_INITIALIZED` outside MPI_T_init_thread/finalize, which
//! are reference counted and independent of MPI_Init.

use crate::consts::*;
use std::collections::{HashMap, HashSet};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Mutex, MutexGuard};
use vmpi::sys::config::{parse_bool, parse_size, Param, PARAMS};

pub const MPI_T_ERR_NOT_INITIALIZED: c_int = 60;
pub const MPI_T_ERR_INVALID_INDEX: c_int = 62;
pub const MPI_T_ERR_INVALID_HANDLE: c_int = 64;
pub const MPI_T_ERR_INVALID_SESSION: c_int = 67;
pub const MPI_T_ERR_CVAR_SET_NEVER: c_int = 69;
pub const MPI_T_ERR_INVALID: c_int = 74;
pub const MPI_T_ERR_INVALID_NAME: c_int = 73;

const VERBOSITY_USER_BASIC: c_int = 221;
const VERBOSITY_TUNER_BASIC: c_int = 224;
const BIND_NO_OBJECT: c_int = 9700;
const SCOPE_READONLY: c_int = 60439;
const T_INT: MPI_Datatype = 0x4c000405;
const T_CHAR: MPI_Datatype = 0x4c000101;

const CATEGORY: &str = "vmpi";
const CATEGORY_DESC: &str =
    "vmpi runtime parameters (environment variables read once at initialization)";

/// A cvar handle: which parameter, and the count announced at allocation.
struct Cvar {
    index: usize,
    count: usize,
}

#[derive(Default)]
struct T {
    /// MPI_T_init_thread calls not yet matched by MPI_T_finalize.
    refs: usize,
    /// Handles are opaque tokens (never dereferenced): `next` shifted past the
    /// alignment bits, so they are non-null and never MPI_T_PVAR_ALL_HANDLES.
    next: usize,
    cvars: HashMap<usize, Cvar>,
    sessions: HashSet<usize>,
}

static TS: Mutex<Option<T>> = Mutex::new(None);

fn t() -> MutexGuard<'static, Option<T>> {
    TS.lock().unwrap_or_else(|p| p.into_inner())
}

type TR = Result<(), c_int>;

/// The state of an initialized interface, or MPI_T_ERR_NOT_INITIALIZED.
fn init_state(g: &mut Option<T>) -> Result<&mut T, c_int> {
    match g.as_mut() {
        Some(s) if s.refs > 0 => Ok(s),
        _ => Err(MPI_T_ERR_NOT_INITIALIZED),
    }
}

fn initialized() -> TR {
    init_state(&mut t()).map(|_| ())
}

/// `PMPI_T_x` runs the body (returning an MPI_T code), `MPI_T_x` calls it.
macro_rules! mpit_fn {
    (fn $name:ident / $pname:ident ( $($a:ident : $t:ty),* $(,)? ) $body:block) => {
        #[no_mangle]
        pub unsafe extern "C" fn $pname($($a: $t),*) -> c_int {
            #[allow(clippy::redundant_closure_call)]
            let r: TR = (|| $body)();
            match r {
                Ok(()) => MPI_SUCCESS,
                Err(code) => code,
            }
        }
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> c_int {
            $pname($($a),*)
        }
    };
}

unsafe fn outp<'a, T>(p: *mut T) -> Result<&'a mut T, c_int> {
    if p.is_null() {
        Err(MPI_T_ERR_INVALID)
    } else {
        Ok(&mut *p)
    }
}

/// MPI_T's string rule (MPICH's MPIR_T_strncpy): with no buffer or a zero length,
/// `*len` becomes the length needed (with the NUL); else copy what fits, NUL
/// terminated, and set `*len` to the bytes written (with the NUL).
unsafe fn put_str(s: &str, dst: *mut c_char, len: *mut c_int) {
    if len.is_null() {
        return;
    }
    let b = s.as_bytes();
    if dst.is_null() || *len <= 0 {
        *len = b.len() as c_int + 1;
        return;
    }
    let n = b.len().min(*len as usize - 1);
    std::ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, dst, n);
    *dst.add(n) = 0;
    *len = n as c_int + 1;
}

unsafe fn set<T: Copy>(p: *mut T, v: T) {
    if !p.is_null() {
        *p = v;
    }
}

fn param(i: c_int) -> Result<&'static Param, c_int> {
    usize::try_from(i)
        .ok()
        .and_then(|i| PARAMS.get(i))
        .ok_or(MPI_T_ERR_INVALID_INDEX)
}

/// A number the runtime understands for `p` (a byte count or a flag).
fn number(p: &Param, v: &str) -> Option<c_int> {
    parse_size(p.name, v)
        .ok()
        .and_then(|n| c_int::try_from(n).ok())
        .or_else(|| parse_bool(p.name, v).ok().map(c_int::from))
}

/// Numeric parameters are those whose default is a number.
fn is_int(p: &Param) -> bool {
    !p.default.is_empty() && number(p, p.default).is_some()
}

/// The value in effect: the environment's if set, else the default.
fn current(p: &Param) -> String {
    std::env::var(p.name).unwrap_or_else(|_| p.default.to_string())
}

fn verbosity(p: &Param) -> c_int {
    if p.name.starts_with("MV2_") {
        VERBOSITY_USER_BASIC
    } else {
        VERBOSITY_TUNER_BASIC
    }
}

// ---- init and finalize -------------------------------------------------------------

mpit_fn! { fn MPI_T_init_thread / PMPI_T_init_thread(required: c_int, provided: *mut c_int) {
    let _ = required;
    let p = outp(provided)?;
    let mut g = t();
    g.get_or_insert_with(T::default).refs += 1;
    // As MPI_Init_thread: every call takes the runtime's lock.
    *p = MPI_THREAD_MULTIPLE;
    Ok(())
}}

mpit_fn! { fn MPI_T_finalize / PMPI_T_finalize() {
    let mut g = t();
    let s = init_state(&mut g)?;
    s.refs -= 1;
    if s.refs == 0 {
        // Handles and sessions end with the interface.
        *g = None;
    }
    Ok(())
}}

// ---- control variables ---------------------------------------------------------------

mpit_fn! { fn MPI_T_cvar_get_num / PMPI_T_cvar_get_num(num_cvar: *mut c_int) {
    initialized()?;
    *outp(num_cvar)? = PARAMS.len() as c_int;
    Ok(())
}}

mpit_fn! { fn MPI_T_cvar_get_info / PMPI_T_cvar_get_info(cvar_index: c_int, name: *mut c_char, name_len: *mut c_int, verbosity_: *mut c_int, datatype: *mut MPI_Datatype, enumtype: *mut *mut c_void, desc: *mut c_char, desc_len: *mut c_int, bind: *mut c_int, scope: *mut c_int) {
    initialized()?;
    let p = param(cvar_index)?;
    put_str(p.name, name, name_len);
    set(verbosity_, verbosity(p));
    set(datatype, if is_int(p) { T_INT } else { T_CHAR });
    set(enumtype, std::ptr::null_mut());
    put_str(p.meaning, desc, desc_len);
    set(bind, BIND_NO_OBJECT);
    set(scope, SCOPE_READONLY);
    Ok(())
}}

mpit_fn! { fn MPI_T_cvar_handle_alloc / PMPI_T_cvar_handle_alloc(cvar_index: c_int, obj_handle: *mut c_void, handle: *mut *mut c_void, count: *mut c_int) {
    let _ = obj_handle; // MPI_T_BIND_NO_OBJECT: ignored
    let mut g = t();
    let s = init_state(&mut g)?;
    let p = param(cvar_index)?;
    let h = outp(handle)?;
    let c = outp(count)?;
    let n = if is_int(p) { 1 } else { current(p).len() + 1 };
    s.next += 1;
    let tok = s.next << 4;
    s.cvars.insert(tok, Cvar { index: cvar_index as usize, count: n });
    *h = tok as *mut c_void;
    *c = n as c_int;
    Ok(())
}}

mpit_fn! { fn MPI_T_cvar_handle_free / PMPI_T_cvar_handle_free(handle: *mut *mut c_void) {
    let mut g = t();
    let s = init_state(&mut g)?;
    let h = outp(handle)?;
    if s.cvars.remove(&(*h as usize)).is_none() {
        return Err(MPI_T_ERR_INVALID_HANDLE);
    }
    *h = std::ptr::null_mut();
    Ok(())
}}

mpit_fn! { fn MPI_T_cvar_read / PMPI_T_cvar_read(handle: *mut c_void, buf: *mut c_void) {
    let (index, count) = {
        let mut g = t();
        let s = init_state(&mut g)?;
        let c = s.cvars.get(&(handle as usize)).ok_or(MPI_T_ERR_INVALID_HANDLE)?;
        (c.index, c.count)
    };
    if buf.is_null() {
        return Err(MPI_T_ERR_INVALID);
    }
    let p = &PARAMS[index];
    let v = current(p);
    if is_int(p) {
        // A value the runtime would refuse at init has no number to give.
        *(buf as *mut c_int) = number(p, &v).ok_or(MPI_T_ERR_INVALID)?;
    } else {
        let b = v.as_bytes();
        let n = b.len().min(count.saturating_sub(1));
        std::ptr::copy_nonoverlapping(b.as_ptr(), buf as *mut u8, n);
        *(buf as *mut u8).add(n) = 0;
    }
    Ok(())
}}

mpit_fn! { fn MPI_T_cvar_write / PMPI_T_cvar_write(handle: *mut c_void, buf: *const c_void) {
    let _ = buf;
    let mut g = t();
    let s = init_state(&mut g)?;
    if !s.cvars.contains_key(&(handle as usize)) {
        return Err(MPI_T_ERR_INVALID_HANDLE);
    }
    // Read once at init (MPI_T_SCOPE_READONLY): no later write takes effect.
    Err(MPI_T_ERR_CVAR_SET_NEVER)
}}

// ---- performance variables (none) -----------------------------------------------------

fn session_ok(s: &T, session: *mut c_void) -> TR {
    if s.sessions.contains(&(session as usize)) {
        Ok(())
    } else {
        Err(MPI_T_ERR_INVALID_SESSION)
    }
}

mpit_fn! { fn MPI_T_pvar_get_num / PMPI_T_pvar_get_num(num_pvar: *mut c_int) {
    initialized()?;
    *outp(num_pvar)? = 0;
    Ok(())
}}

mpit_fn! { fn MPI_T_pvar_get_info / PMPI_T_pvar_get_info(pvar_index: c_int, name: *mut c_char, name_len: *mut c_int, verbosity_: *mut c_int, var_class: *mut c_int, datatype: *mut MPI_Datatype, enumtype: *mut *mut c_void, desc: *mut c_char, desc_len: *mut c_int, bind: *mut c_int, readonly: *mut c_int, continuous: *mut c_int, atomic: *mut c_int) {
    let _ = (pvar_index, name, name_len, verbosity_, var_class, datatype, enumtype, desc, desc_len, bind, readonly, continuous, atomic);
    initialized()?;
    Err(MPI_T_ERR_INVALID_INDEX)
}}

mpit_fn! { fn MPI_T_pvar_session_create / PMPI_T_pvar_session_create(session: *mut *mut c_void) {
    let mut g = t();
    let s = init_state(&mut g)?;
    let o = outp(session)?;
    s.next += 1;
    let tok = s.next << 4;
    s.sessions.insert(tok);
    *o = tok as *mut c_void;
    Ok(())
}}

mpit_fn! { fn MPI_T_pvar_session_free / PMPI_T_pvar_session_free(session: *mut *mut c_void) {
    let mut g = t();
    let s = init_state(&mut g)?;
    let o = outp(session)?;
    if !s.sessions.remove(&(*o as usize)) {
        return Err(MPI_T_ERR_INVALID_SESSION);
    }
    *o = std::ptr::null_mut();
    Ok(())
}}

mpit_fn! { fn MPI_T_pvar_handle_alloc / PMPI_T_pvar_handle_alloc(session: *mut c_void, pvar_index: c_int, obj_handle: *mut c_void, handle: *mut *mut c_void, count: *mut c_int) {
    let _ = (obj_handle, handle, count, pvar_index);
    let mut g = t();
    let s = init_state(&mut g)?;
    session_ok(s, session)?;
    Err(MPI_T_ERR_INVALID_INDEX)
}}

mpit_fn! { fn MPI_T_pvar_handle_free / PMPI_T_pvar_handle_free(session: *mut c_void, handle: *mut *mut c_void) {
    let mut g = t();
    let s = init_state(&mut g)?;
    session_ok(s, session)?;
    outp(handle)?;
    Err(MPI_T_ERR_INVALID_HANDLE)
}}

fn all_handles(h: *mut c_void) -> bool {
    h as usize == usize::MAX // crate::misc::MPI_T_PVAR_ALL_HANDLES
}

/// start, stop, reset: MPI_T_PVAR_ALL_HANDLES names the session's handles (none,
/// so nothing to do); any other handle is invalid.
fn pvar_all_ok(session: *mut c_void, handle: *mut c_void) -> TR {
    let mut g = t();
    let s = init_state(&mut g)?;
    session_ok(s, session)?;
    if all_handles(handle) {
        Ok(())
    } else {
        Err(MPI_T_ERR_INVALID_HANDLE)
    }
}

/// read, write, readreset: one handle, and there are none.
fn pvar_one(session: *mut c_void, handle: *mut c_void) -> TR {
    let _ = handle;
    let mut g = t();
    let s = init_state(&mut g)?;
    session_ok(s, session)?;
    Err(MPI_T_ERR_INVALID_HANDLE)
}

mpit_fn! { fn MPI_T_pvar_start / PMPI_T_pvar_start(session: *mut c_void, handle: *mut c_void) {
    pvar_all_ok(session, handle)
}}
mpit_fn! { fn MPI_T_pvar_stop / PMPI_T_pvar_stop(session: *mut c_void, handle: *mut c_void) {
    pvar_all_ok(session, handle)
}}
mpit_fn! { fn MPI_T_pvar_reset / PMPI_T_pvar_reset(session: *mut c_void, handle: *mut c_void) {
    pvar_all_ok(session, handle)
}}
mpit_fn! { fn MPI_T_pvar_read / PMPI_T_pvar_read(session: *mut c_void, handle: *mut c_void, buf: *mut c_void) {
    let _ = buf;
    pvar_one(session, handle)
}}
mpit_fn! { fn MPI_T_pvar_readreset / PMPI_T_pvar_readreset(session: *mut c_void, handle: *mut c_void, buf: *mut c_void) {
    let _ = buf;
    pvar_one(session, handle)
}}
mpit_fn! { fn MPI_T_pvar_write / PMPI_T_pvar_write(session: *mut c_void, handle: *mut c_void, buf: *const c_void) {
    let _ = buf;
    pvar_one(session, handle)
}}

// ---- categories -----------------------------------------------------------------------

fn category(i: c_int) -> TR {
    initialized()?;
    if i == 0 {
        Ok(())
    } else {
        Err(MPI_T_ERR_INVALID_INDEX)
    }
}

mpit_fn! { fn MPI_T_category_get_num / PMPI_T_category_get_num(num_cat: *mut c_int) {
    initialized()?;
    *outp(num_cat)? = 1;
    Ok(())
}}

mpit_fn! { fn MPI_T_category_get_info / PMPI_T_category_get_info(cat_index: c_int, name: *mut c_char, name_len: *mut c_int, desc: *mut c_char, desc_len: *mut c_int, num_cvars: *mut c_int, num_pvars: *mut c_int, num_categories: *mut c_int) {
    category(cat_index)?;
    put_str(CATEGORY, name, name_len);
    put_str(CATEGORY_DESC, desc, desc_len);
    set(num_cvars, PARAMS.len() as c_int);
    set(num_pvars, 0);
    set(num_categories, 0);
    Ok(())
}}

mpit_fn! { fn MPI_T_category_get_cvars / PMPI_T_category_get_cvars(cat_index: c_int, len: c_int, indices: *mut c_int) {
    category(cat_index)?;
    if len < 0 {
        return Err(MPI_T_ERR_INVALID);
    }
    let n = (len as usize).min(PARAMS.len());
    if n > 0 && indices.is_null() {
        return Err(MPI_T_ERR_INVALID);
    }
    for i in 0..n {
        *indices.add(i) = i as c_int;
    }
    Ok(())
}}

mpit_fn! { fn MPI_T_category_get_pvars / PMPI_T_category_get_pvars(cat_index: c_int, len: c_int, indices: *mut c_int) {
    let _ = indices;
    category(cat_index)?;
    if len < 0 { Err(MPI_T_ERR_INVALID) } else { Ok(()) }
}}

mpit_fn! { fn MPI_T_category_get_categories / PMPI_T_category_get_categories(cat_index: c_int, len: c_int, indices: *mut c_int) {
    let _ = indices;
    category(cat_index)?;
    if len < 0 { Err(MPI_T_ERR_INVALID) } else { Ok(()) }
}}

mpit_fn! { fn MPI_T_category_changed / PMPI_T_category_changed(update_number: *mut c_int) {
    initialized()?;
    // Variables and categories are fixed: the number never changes.
    *outp(update_number)? = 0;
    Ok(())
}}

// ---- enumerations (none) ----------------------------------------------------------------

// No variable has an enumeration, so every enumtype (MPI_T_ENUM_NULL included) is
// an invalid handle, as MPICH answers for MPI_T_ENUM_NULL.
mpit_fn! { fn MPI_T_enum_get_info / PMPI_T_enum_get_info(enumtype: *mut c_void, num: *mut c_int, name: *mut c_char, name_len: *mut c_int) {
    let _ = (enumtype, num, name, name_len);
    initialized()?;
    Err(MPI_T_ERR_INVALID_HANDLE)
}}

mpit_fn! { fn MPI_T_enum_get_item / PMPI_T_enum_get_item(enumtype: *mut c_void, indx: c_int, value: *mut c_int, name: *mut c_char, name_len: *mut c_int) {
    let _ = (enumtype, indx, value, name, name_len);
    initialized()?;
    Err(MPI_T_ERR_INVALID_HANDLE)
}}

// ---- lookups by name --------------------------------------------------------------------

unsafe fn name_of<'a>(name: *const c_char) -> Result<&'a [u8], c_int> {
    if name.is_null() {
        return Err(MPI_T_ERR_INVALID);
    }
    // SAFETY: a NUL-terminated string of the caller's (MPI's rule).
    Ok(std::ffi::CStr::from_ptr(name).to_bytes())
}

mpit_fn! { fn MPI_T_cvar_get_index / PMPI_T_cvar_get_index(name: *const c_char, cvar_index: *mut c_int) {
    initialized()?;
    let n = name_of(name)?;
    let i = PARAMS.iter().position(|p| p.name.as_bytes() == n).ok_or(MPI_T_ERR_INVALID_NAME)?;
    *outp(cvar_index)? = i as c_int;
    Ok(())
}}

mpit_fn! { fn MPI_T_pvar_get_index / PMPI_T_pvar_get_index(name: *const c_char, var_class: c_int, pvar_index: *mut c_int) {
    initialized()?;
    let _ = (name_of(name)?, var_class, outp(pvar_index)?);
    Err(MPI_T_ERR_INVALID_NAME)
}}

mpit_fn! { fn MPI_T_category_get_index / PMPI_T_category_get_index(name: *const c_char, cat_index: *mut c_int) {
    initialized()?;
    if name_of(name)? != b"vmpi" {
        return Err(MPI_T_ERR_INVALID_NAME);
    }
    *outp(cat_index)? = 0;
    Ok(())
}}

// ---- events (none) and their sources (none) ------------------------------------------

mpit_fn! { fn MPI_T_category_get_num_events / PMPI_T_category_get_num_events(cat_index: c_int, num_events: *mut c_int) {
    category(cat_index)?;
    *outp(num_events)? = 0;
    Ok(())
}}

mpit_fn! { fn MPI_T_category_get_events / PMPI_T_category_get_events(cat_index: c_int, len: c_int, indices: *mut c_int) {
    // The category holds no events: nothing to write, whatever `len`.
    let _ = (len, indices);
    category(cat_index)
}}

mpit_fn! { fn MPI_T_event_get_num / PMPI_T_event_get_num(num_events: *mut c_int) {
    initialized()?;
    *outp(num_events)? = 0;
    Ok(())
}}

mpit_fn! { fn MPI_T_event_get_info / PMPI_T_event_get_info(event_index: c_int, name: *mut c_char, name_len: *mut c_int, verbosity_: *mut c_int, array_of_datatypes: *mut MPI_Datatype, array_of_displacements: *mut MPI_Aint, num_elements: *mut c_int, enumtype: *mut *mut c_void, info: *mut MPI_Info, desc: *mut c_char, desc_len: *mut c_int, bind: *mut c_int) {
    initialized()?;
    let _ = (event_index, name, name_len, verbosity_, array_of_datatypes, array_of_displacements, num_elements, enumtype, info, desc, desc_len, bind);
    Err(MPI_T_ERR_INVALID_INDEX)
}}

mpit_fn! { fn MPI_T_event_get_index / PMPI_T_event_get_index(name: *const c_char, event_index: *mut c_int) {
    initialized()?;
    let _ = (name_of(name)?, outp(event_index)?);
    Err(MPI_T_ERR_INVALID_NAME)
}}

mpit_fn! { fn MPI_T_event_handle_alloc / PMPI_T_event_handle_alloc(event_index: c_int, obj_handle: *mut c_void, info: MPI_Info, event_registration: *mut *mut c_void) {
    initialized()?;
    let _ = (event_index, obj_handle, info, event_registration);
    Err(MPI_T_ERR_INVALID_INDEX)
}}

/// Calls on a registration or an instance: none can exist.
macro_rules! no_such_handle {
    ($(fn $name:ident / $pname:ident ( $($a:ident : $t:ty),* );)*) => {$(
        mpit_fn! { fn $name / $pname($($a: $t),*) {
            initialized()?;
            let _ = ($($a,)*);
            Err(MPI_T_ERR_INVALID_HANDLE)
        }}
    )*};
}

no_such_handle! {
    fn MPI_T_event_handle_free / PMPI_T_event_handle_free(event_registration: *mut c_void, user_data: *mut c_void, free_cb_function: *mut c_void);
    fn MPI_T_event_handle_get_info / PMPI_T_event_handle_get_info(event_registration: *mut c_void, info_used: *mut MPI_Info);
    fn MPI_T_event_handle_set_info / PMPI_T_event_handle_set_info(event_registration: *mut c_void, info: MPI_Info);
    fn MPI_T_event_register_callback / PMPI_T_event_register_callback(event_registration: *mut c_void, cb_safety: c_int, info: MPI_Info, user_data: *mut c_void, event_cb_function: *mut c_void);
    fn MPI_T_event_callback_get_info / PMPI_T_event_callback_get_info(event_registration: *mut c_void, cb_safety: c_int, info_used: *mut MPI_Info);
    fn MPI_T_event_callback_set_info / PMPI_T_event_callback_set_info(event_registration: *mut c_void, cb_safety: c_int, info: MPI_Info);
    fn MPI_T_event_set_dropped_handler / PMPI_T_event_set_dropped_handler(event_registration: *mut c_void, dropped_cb_function: *mut c_void);
    fn MPI_T_event_read / PMPI_T_event_read(event_instance: *mut c_void, element_index: c_int, buffer: *mut c_void);
    fn MPI_T_event_copy / PMPI_T_event_copy(event_instance: *mut c_void, buffer: *mut c_void);
    fn MPI_T_event_get_timestamp / PMPI_T_event_get_timestamp(event_instance: *mut c_void, event_timestamp: *mut MPI_Count);
    fn MPI_T_event_get_source / PMPI_T_event_get_source(event_instance: *mut c_void, source_index: *mut c_int);
}

mpit_fn! { fn MPI_T_source_get_num / PMPI_T_source_get_num(num_sources: *mut c_int) {
    initialized()?;
    *outp(num_sources)? = 0;
    Ok(())
}}

mpit_fn! { fn MPI_T_source_get_info / PMPI_T_source_get_info(source_index: c_int, name: *mut c_char, name_len: *mut c_int, desc: *mut c_char, desc_len: *mut c_int, ordering: *mut c_int, ticks_per_second: *mut MPI_Count, max_ticks: *mut MPI_Count, info: *mut MPI_Info) {
    initialized()?;
    let _ = (source_index, name, name_len, desc, desc_len, ordering, ticks_per_second, max_ticks, info);
    Err(MPI_T_ERR_INVALID_INDEX)
}}

mpit_fn! { fn MPI_T_source_get_timestamp / PMPI_T_source_get_timestamp(source_index: c_int, timestamp: *mut MPI_Count) {
    initialized()?;
    let _ = (source_index, timestamp);
    Err(MPI_T_ERR_INVALID_INDEX)
}}
