//! One-sided communication in C: window handles and their table (names,
//! attributes, info, error handlers), the operations (MPI_Put ... MPI_Rget_accumulate
//! and their `_c` forms) and every synchronization call, over `vmpi::sys::rma`.
//!
//! Errors of a call on a window go to the window's error handler (MPI_Win_set_errhandler;
//! MPI_ERRORS_ARE_FATAL by default, as MPICH); those of the creation calls to the
//! communicator's; those on a handle that is no window to MPI_COMM_WORLD's.

use crate::attr::{keyval_of, run_delete, Attrs, Keyval, Object};
use crate::consts::*;
use crate::dtype::out;
use crate::err::{err, fail, raise, CommErrFn, MpiErr, R};
use crate::info::InfoObj;
use crate::req::{Kind, ReqObj};
use crate::state::{st, Table};
use std::ffi::{c_void, CStr};
use std::os::raw::{c_char, c_int};
use std::sync::{Mutex, MutexGuard};
use vmpi::sys::rma::{self, Action, Buf, Flavor, Spec, Target};

/// Window handles: MPICH's prefix for windows.
pub const DYN_WIN: u32 = 0xa000_0000;

const MPI_WIN_BASE: c_int = 0x66000001;
const MPI_WIN_SIZE: c_int = 0x66000003;
const MPI_WIN_DISP_UNIT: c_int = 0x66000005;
const MPI_WIN_CREATE_FLAVOR: c_int = 0x66000007;
const MPI_WIN_MODEL: c_int = 0x66000009;
const MPI_WIN_UNIFIED: c_int = 2;
const MPI_LOCK_EXCLUSIVE: c_int = 234;
const MPI_LOCK_SHARED: c_int = 235;

/// The values the predefined attributes point at (MPI hands out their addresses).
struct Vals {
    size: MPI_Aint,
    disp_unit: c_int,
    flavor: c_int,
    model: c_int,
}

pub struct WinObj {
    id: u32,
    base: usize,
    name: String,
    errh: MPI_Errhandler,
    attrs: Attrs,
    info: Vec<(String, String)>,
    vals: Box<Vals>,
}

static WINS: Mutex<Option<Table<WinObj>>> = Mutex::new(None);

fn wins() -> MutexGuard<'static, Option<Table<WinObj>>> {
    WINS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `f` on the window behind `h`, or MPI_ERR_WIN.
fn with_win<T>(h: MPI_Win, f: impl FnOnce(&mut WinObj) -> R<T>) -> R<T> {
    let mut g = wins();
    let o = g.get_or_insert_with(|| Table::new(DYN_WIN)).get_mut(h);
    match o {
        Some(o) => f(o),
        None if h == MPI_WIN_NULL => fail(MPI_ERR_WIN, "null window (MPI_WIN_NULL)"),
        None => fail(MPI_ERR_WIN, format!("invalid window {:#x}", h as u32)),
    }
}

fn id_of(h: MPI_Win) -> R<u32> {
    with_win(h, |o| Ok(o.id))
}

/// Report `e` from `call` through the error handler of `win` (MPI_COMM_WORLD's
/// when `win` is no window); returns the code the call returns.
pub fn raise_win(call: &str, args: &str, win: MPI_Win, e: MpiErr) -> c_int {
    let Ok(h) = with_win(win, |o| Ok(o.errh)) else {
        return raise(call, args, MPI_COMM_WORLD, e);
    };
    let mut code = e.code;
    match h {
        MPI_ERRORS_RETURN | MPIR_ERRORS_THROW_EXCEPTIONS => code,
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_ABORT => crate::file::fatal(call, args, &e),
        _ => match st().errhs.get(h).copied() {
            Some(f) => {
                let mut w = win;
                // SAFETY: a handler the application registered with
                // MPI_Win_create_errhandler: it takes (MPI_Win *, int *, ...); both
                // arguments are pointers, as CommErrFn's are.
                unsafe { f(&mut w as *mut MPI_Win as *mut MPI_Comm, &mut code) };
                code
            }
            None => crate::file::fatal(call, args, &e),
        },
    }
}

/// `mpi_fn!` for window calls: errors go to the window's handler (the value of
/// the expression before `=>`, taken before the body runs).
macro_rules! win_fn {
    ($($t:tt)*) => {
        object_fn!(raise_win, MPI_Win, $($t)*);
    };
}

fn with_call(call: &str, e: vmpi::Error) -> MpiErr {
    let m: MpiErr = e.into();
    if m.msg.starts_with(call) {
        m
    } else {
        let code = m.code;
        err(code, format!("{call}: {}", m.msg))
    }
}

// ---- creation and destruction -------------------------------------------------------

fn info_pairs(info: MPI_Info) -> R<Vec<(String, String)>> {
    if info == MPI_INFO_NULL {
        return Ok(Vec::new());
    }
    Ok(crate::info::get(info)?.pairs)
}

unsafe fn make(
    call: &str,
    comm: MPI_Comm,
    flavor: Flavor,
    base: *mut c_void,
    size: MPI_Aint,
    disp_unit: MPI_Aint,
    info: MPI_Info,
    win: *mut MPI_Win,
) -> R<*mut u8> {
    let w = out(win, "win")?;
    let c = crate::state::comm(comm)?;
    if c.is_inter() {
        return fail(MPI_ERR_COMM, "windows need an intracommunicator");
    }
    if size < 0 {
        return fail(MPI_ERR_SIZE, format!("invalid size {size}"));
    }
    if disp_unit <= 0 && flavor != Flavor::Dynamic {
        return fail(MPI_ERR_DISP, format!("invalid disp_unit {disp_unit}"));
    }
    if flavor == Flavor::Create && size > 0 && base.is_null() {
        return fail(MPI_ERR_BASE, "base is a null pointer with a nonzero size");
    }
    let pairs = info_pairs(info)?;
    let noncontig = pairs
        .iter()
        .any(|(k, v)| k == "alloc_shared_noncontig" && v == "true");
    let (id, b) = rma::create(
        call,
        &c,
        Spec {
            flavor,
            base: base as *mut u8,
            size: size as usize,
            disp_unit: disp_unit as usize,
            noncontig,
        },
    )
    .map_err(|e| with_call(call, e))?;
    let o = WinObj {
        id,
        base: b as usize,
        name: String::new(),
        errh: MPI_ERRORS_ARE_FATAL,
        attrs: Attrs::default(),
        info: pairs,
        vals: Box::new(Vals {
            size: if flavor == Flavor::Dynamic { 0 } else { size },
            disp_unit: if flavor == Flavor::Dynamic {
                1
            } else {
                disp_unit as c_int
            },
            flavor: flavor as c_int,
            model: MPI_WIN_UNIFIED,
        }),
    };
    *w = wins().get_or_insert_with(|| Table::new(DYN_WIN)).insert(o);
    Ok(b)
}

mpi_fn! { comm => fn MPI_Win_create / PMPI_Win_create(base: *mut c_void, size: MPI_Aint, disp_unit: c_int, info: MPI_Info, comm: MPI_Comm, win: *mut MPI_Win) {
    make("MPI_Win_create", comm, Flavor::Create, base, size, disp_unit as MPI_Aint, info, win).map(|_| ())
}}
mpi_fn! { comm => fn MPI_Win_create_c / PMPI_Win_create_c(base: *mut c_void, size: MPI_Aint, disp_unit: MPI_Aint, info: MPI_Info, comm: MPI_Comm, win: *mut MPI_Win) {
    make("MPI_Win_create_c", comm, Flavor::Create, base, size, disp_unit, info, win).map(|_| ())
}}

unsafe fn allocate(
    call: &str,
    flavor: Flavor,
    size: MPI_Aint,
    disp_unit: MPI_Aint,
    info: MPI_Info,
    comm: MPI_Comm,
    baseptr: *mut c_void,
    win: *mut MPI_Win,
) -> R<()> {
    let bp = out(baseptr as *mut *mut c_void, "baseptr")?;
    let b = make(
        call,
        comm,
        flavor,
        std::ptr::null_mut(),
        size,
        disp_unit,
        info,
        win,
    )?;
    *bp = b as *mut c_void;
    Ok(())
}

mpi_fn! { comm => fn MPI_Win_allocate / PMPI_Win_allocate(size: MPI_Aint, disp_unit: c_int, info: MPI_Info, comm: MPI_Comm, baseptr: *mut c_void, win: *mut MPI_Win) {
    allocate("MPI_Win_allocate", Flavor::Allocate, size, disp_unit as MPI_Aint, info, comm, baseptr, win)
}}
mpi_fn! { comm => fn MPI_Win_allocate_c / PMPI_Win_allocate_c(size: MPI_Aint, disp_unit: MPI_Aint, info: MPI_Info, comm: MPI_Comm, baseptr: *mut c_void, win: *mut MPI_Win) {
    allocate("MPI_Win_allocate_c", Flavor::Allocate, size, disp_unit, info, comm, baseptr, win)
}}
mpi_fn! { comm => fn MPI_Win_allocate_shared / PMPI_Win_allocate_shared(size: MPI_Aint, disp_unit: c_int, info: MPI_Info, comm: MPI_Comm, baseptr: *mut c_void, win: *mut MPI_Win) {
    allocate("MPI_Win_allocate_shared", Flavor::Shared, size, disp_unit as MPI_Aint, info, comm, baseptr, win)
}}
mpi_fn! { comm => fn MPI_Win_allocate_shared_c / PMPI_Win_allocate_shared_c(size: MPI_Aint, disp_unit: MPI_Aint, info: MPI_Info, comm: MPI_Comm, baseptr: *mut c_void, win: *mut MPI_Win) {
    allocate("MPI_Win_allocate_shared_c", Flavor::Shared, size, disp_unit, info, comm, baseptr, win)
}}
mpi_fn! { comm => fn MPI_Win_create_dynamic / PMPI_Win_create_dynamic(info: MPI_Info, comm: MPI_Comm, win: *mut MPI_Win) {
    make("MPI_Win_create_dynamic", comm, Flavor::Dynamic, std::ptr::null_mut(), 0, 1, info, win).map(|_| ())
}}

unsafe fn shared_query(
    call: &str,
    win: MPI_Win,
    rank: c_int,
    size: *mut MPI_Aint,
    baseptr: *mut c_void,
) -> R<usize> {
    let s = out(size, "size")?;
    let bp = out(baseptr as *mut *mut c_void, "baseptr")?;
    let (len, unit, b) =
        rma::shared_query(call, id_of(win)?, rank).map_err(|e| with_call(call, e))?;
    *s = len as MPI_Aint;
    *bp = b as *mut c_void;
    Ok(unit)
}

win_fn! { win => fn MPI_Win_shared_query / PMPI_Win_shared_query(win: MPI_Win, rank: c_int, size: *mut MPI_Aint, disp_unit: *mut c_int, baseptr: *mut c_void) {
    let d = out(disp_unit, "disp_unit")?;
    *d = shared_query("MPI_Win_shared_query", win, rank, size, baseptr)? as c_int;
    Ok(())
}}
win_fn! { win => fn MPI_Win_shared_query_c / PMPI_Win_shared_query_c(win: MPI_Win, rank: c_int, size: *mut MPI_Aint, disp_unit: *mut MPI_Aint, baseptr: *mut c_void) {
    let d = out(disp_unit, "disp_unit")?;
    *d = shared_query("MPI_Win_shared_query_c", win, rank, size, baseptr)? as MPI_Aint;
    Ok(())
}}

win_fn! { win => fn MPI_Win_attach / PMPI_Win_attach(win: MPI_Win, base: *mut c_void, size: MPI_Aint) {
    if size < 0 {
        return fail(MPI_ERR_SIZE, format!("invalid size {size}"));
    }
    if base.is_null() && size > 0 {
        return fail(MPI_ERR_BASE, "base is a null pointer");
    }
    rma::attach("MPI_Win_attach", id_of(win)?, base as usize, size as usize).map_err(|e| with_call("MPI_Win_attach", e))
}}

win_fn! { win => fn MPI_Win_detach / PMPI_Win_detach(win: MPI_Win, base: *const c_void) {
    rma::detach("MPI_Win_detach", id_of(win)?, base as usize).map_err(|e| with_call("MPI_Win_detach", e))
}}

/// Delete every attribute of `win`, last set first, through the delete callbacks.
fn delete_attrs(win: MPI_Win) -> R<()> {
    loop {
        let Some((k, v)) = with_win(win, |o| Ok(o.attrs.pop_last()))? else {
            return Ok(());
        };
        let kv = keyval_of(k, Object::Win)?;
        // SAFETY: the application's callback, called with the values it set.
        unsafe { run_delete(win, k, kv, v)? };
    }
}

win_fn! { if win.is_null() { MPI_WIN_NULL } else { *win } => fn MPI_Win_free / PMPI_Win_free(win: *mut MPI_Win) {
    let h = out(win, "win")?;
    let id = id_of(*h)?;
    delete_attrs(*h)?;
    rma::free("MPI_Win_free", id).map_err(|e| with_call("MPI_Win_free", e))?;
    if let Some(t) = wins().as_mut() {
        t.remove(*h);
    }
    *h = MPI_WIN_NULL;
    Ok(())
}}

// ---- names, groups, info, attributes, error handlers ------------------------------------

win_fn! { win => fn MPI_Win_set_name / PMPI_Win_set_name(win: MPI_Win, win_name: *const c_char) {
    if win_name.is_null() {
        return fail(MPI_ERR_ARG, "win_name is a null pointer");
    }
    let n = CStr::from_ptr(win_name).to_string_lossy().into_owned();
    with_win(win, |o| {
        o.name = n;
        Ok(())
    })
}}

win_fn! { win => fn MPI_Win_get_name / PMPI_Win_get_name(win: MPI_Win, win_name: *mut c_char, resultlen: *mut c_int) {
    if win_name.is_null() || resultlen.is_null() {
        return fail(MPI_ERR_ARG, "win_name or resultlen is a null pointer");
    }
    let n = with_win(win, |o| Ok(o.name.clone()))?;
    crate::dtype::copy_name(&n, win_name, resultlen);
    Ok(())
}}

win_fn! { win => fn MPI_Win_get_group / PMPI_Win_get_group(win: MPI_Win, group: *mut MPI_Group) {
    let g = out(group, "group")?;
    let f = rma::facts("MPI_Win_get_group", id_of(win)?)?;
    *g = crate::group::new_handle(f.comm.group());
    Ok(())
}}

win_fn! { win => fn MPI_Win_set_info / PMPI_Win_set_info(win: MPI_Win, info: MPI_Info) {
    let pairs = info_pairs(info)?;
    with_win(win, |o| {
        for (k, v) in pairs {
            match o.info.iter_mut().find(|(x, _)| *x == k) {
                Some(e) => e.1 = v,
                None => o.info.push((k, v)),
            }
        }
        Ok(())
    })
}}

win_fn! { win => fn MPI_Win_get_info / PMPI_Win_get_info(win: MPI_Win, info_used: *mut MPI_Info) {
    let o = out(info_used, "info_used")?;
    let (set, shared) = with_win(win, |w| Ok((w.info.clone(), w.vals.flavor == Flavor::Shared as c_int)))?;
    // The hints vmpi honours, with their values: what the application set, or
    // the default (MPI-3.1 §11.2.1).
    let mut pairs: Vec<(String, String)> = [
        ("no_locks", "false"),
        ("accumulate_ordering", "rar,raw,war,waw"),
        ("accumulate_ops", "same_op_no_op"),
        ("same_size", "false"),
        ("same_disp_unit", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if shared {
        pairs.push(("alloc_shared_noncontig".into(), "false".into()));
    }
    for (k, v) in set {
        match pairs.iter_mut().find(|(x, _)| *x == k) {
            Some(e) => e.1 = v,
            None => pairs.push((k, v)),
        }
    }
    *o = st().infos.insert(InfoObj { pairs });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Win_create_keyval / PMPI_Win_create_keyval(win_copy_attr_fn: Option<crate::attr::CopyFn>, win_delete_attr_fn: Option<crate::attr::DeleteFn>, win_keyval: *mut c_int, extra_state: *mut c_void) {
    let o = out(win_keyval, "win_keyval")?;
    *o = st().keyvals.insert(Keyval { copy: win_copy_attr_fn, delete: win_delete_attr_fn, extra: extra_state as usize, kind: Object::Win });
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Win_free_keyval / PMPI_Win_free_keyval(win_keyval: *mut c_int) {
    let h = out(win_keyval, "win_keyval")?;
    if (*h as u32) & 0xfc00_0000 == 0x6400_0000 {
        return fail(MPI_ERR_KEYVAL, "a predefined keyval cannot be freed");
    }
    keyval_of(*h, Object::Win)?;
    *h = MPI_KEYVAL_INVALID;
    Ok(())
}}

win_fn! { win => fn MPI_Win_set_attr / PMPI_Win_set_attr(win: MPI_Win, win_keyval: c_int, attribute_val: *mut c_void) {
    if (win_keyval as u32) & 0xfc00_0000 == 0x6400_0000 {
        return fail(MPI_ERR_KEYVAL, format!("predefined attribute {:#x} cannot be set", win_keyval as u32));
    }
    let kv = keyval_of(win_keyval, Object::Win)?;
    let old = with_win(win, |o| Ok(o.attrs.get(&win_keyval).copied()))?;
    if let Some(old) = old {
        run_delete(win, win_keyval, kv, old)?;
    }
    with_win(win, |o| {
        o.attrs.insert(win_keyval, attribute_val as usize);
        Ok(())
    })
}}

win_fn! { win => fn MPI_Win_get_attr / PMPI_Win_get_attr(win: MPI_Win, win_keyval: c_int, attribute_val: *mut c_void, flag: *mut c_int) {
    let f = out(flag, "flag")?;
    let slot = out(attribute_val as *mut *mut c_void, "attribute_val")?;
    let v: Option<*mut c_void> = with_win(win, |o| {
        Ok(match win_keyval {
            MPI_WIN_BASE => Some(o.base as *mut c_void),
            MPI_WIN_SIZE => Some(&mut o.vals.size as *mut MPI_Aint as *mut c_void),
            MPI_WIN_DISP_UNIT => Some(&mut o.vals.disp_unit as *mut c_int as *mut c_void),
            MPI_WIN_CREATE_FLAVOR => Some(&mut o.vals.flavor as *mut c_int as *mut c_void),
            MPI_WIN_MODEL => Some(&mut o.vals.model as *mut c_int as *mut c_void),
            _ => None,
        })
    })?;
    if let Some(v) = v {
        *slot = v;
        *f = 1;
        return Ok(());
    }
    keyval_of(win_keyval, Object::Win)?;
    match with_win(win, |o| Ok(o.attrs.get(&win_keyval).copied()))? {
        Some(v) => {
            *slot = v as *mut c_void;
            *f = 1;
        }
        None => *f = 0,
    }
    Ok(())
}}

win_fn! { win => fn MPI_Win_delete_attr / PMPI_Win_delete_attr(win: MPI_Win, win_keyval: c_int) {
    let kv = keyval_of(win_keyval, Object::Win)?;
    match with_win(win, |o| Ok(o.attrs.remove(&win_keyval)))? {
        Some(v) => run_delete(win, win_keyval, kv, v),
        None => fail(MPI_ERR_KEYVAL, format!("no attribute for keyval {:#x} on this window", win_keyval as u32)),
    }
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Win_create_errhandler / PMPI_Win_create_errhandler(win_errhandler_fn: Option<CommErrFn>, errhandler: *mut MPI_Errhandler) {
    let Some(f) = win_errhandler_fn else {
        return fail(MPI_ERR_ARG, "the handler function is a null pointer");
    };
    let o = out(errhandler, "errhandler")?;
    *o = st().errhs.insert(f);
    Ok(())
}}

win_fn! { win => fn MPI_Win_set_errhandler / PMPI_Win_set_errhandler(win: MPI_Win, errhandler: MPI_Errhandler) {
    crate::errh::check_errh(errhandler)?;
    with_win(win, |o| {
        o.errh = errhandler;
        Ok(())
    })
}}

win_fn! { win => fn MPI_Win_get_errhandler / PMPI_Win_get_errhandler(win: MPI_Win, errhandler: *mut MPI_Errhandler) {
    let h = with_win(win, |o| Ok(o.errh))?;
    *out(errhandler, "errhandler")? = h;
    Ok(())
}}

#[no_mangle]
pub unsafe extern "C" fn PMPI_Win_call_errhandler(win: MPI_Win, errorcode: c_int) -> c_int {
    if let Err(e) = id_of(win) {
        return raise_win("MPI_Win_call_errhandler", "", win, e);
    }
    raise_win(
        "MPI_Win_call_errhandler",
        &format!("win={:#x}, errorcode={errorcode}", win as u32),
        win,
        err(
            errorcode,
            format!("error code {errorcode} raised by the application"),
        ),
    );
    MPI_SUCCESS
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Win_call_errhandler(win: MPI_Win, errorcode: c_int) -> c_int {
    PMPI_Win_call_errhandler(win, errorcode)
}

// ---- operations ------------------------------------------------------------------------

/// What a C operation call asks.
enum Op {
    Put,
    Get,
    Acc(MPI_Op),
    GetAcc(MPI_Op, *mut c_void, MPI_Count, MPI_Datatype),
}

fn count(c: MPI_Count, what: &str) -> R<usize> {
    if c < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid {what} {c}"));
    }
    Ok(c as usize)
}

#[allow(clippy::too_many_arguments)]
unsafe fn operate(
    call: &str,
    win: MPI_Win,
    origin: *const c_void,
    ocount: MPI_Count,
    odt: MPI_Datatype,
    rank: c_int,
    disp: MPI_Aint,
    tcount: MPI_Count,
    tdt: MPI_Datatype,
    op: Op,
    request: *mut MPI_Request,
) -> R<()> {
    let id = id_of(win)?;
    let req = if request.is_null() {
        None
    } else {
        Some(out(request, "request")?)
    };
    let ocount = count(ocount, "origin_count")?;
    let tcount = count(tcount, "target_count")?;
    let tt = crate::dtype::for_comm(tdt)?;
    let no_op = match &op {
        Op::GetAcc(o, ..) => *o as u32 == 0x5800000e, // MPI_NO_OP
        _ => false,
    };
    // MPI_NO_OP ignores the origin buffer and its datatype.
    let ot = if no_op {
        tt.clone()
    } else {
        crate::dtype::for_comm(odt)?
    };
    let ob = Buf {
        ptr: origin as *const u8,
        count: if no_op { 0 } else { ocount },
        dt: &ot,
    };
    let target = Target {
        rank,
        disp: disp as i64,
        count: tcount,
        dt: &tt,
    };
    let vop;
    let rt;
    let action = match op {
        Op::Put => Action::Put,
        Op::Get => Action::Get,
        Op::Acc(o) => {
            vop = crate::op::predefined_only(o)?;
            Action::Acc(&vop)
        }
        Op::GetAcc(o, rbuf, rcount, rdt) => {
            vop = crate::op::predefined_only(o)?;
            rt = crate::dtype::for_comm(rdt)?;
            let rc = count(rcount, "result_count")?;
            Action::GetAcc(
                &vop,
                Buf {
                    ptr: rbuf as *const u8,
                    count: rc,
                    dt: &rt,
                },
            )
        }
    };
    let r = rma::operate(call, id, ob, target, action, req.is_some())
        .map_err(|e| with_call(call, e))?;
    if let (Some(out), Some(r)) = (req, r) {
        *out = st().reqs.insert(ReqObj {
            kind: Kind::Engine(r),
            comm: MPI_COMM_WORLD,
            recv: false,
        });
    }
    Ok(())
}

/// The int and `_c` forms of the operations: one implementation, counts as
/// `MPI_Count`.
macro_rules! operations {
    ($cnt:ty, $put:ident / $pput:ident, $get:ident / $pget:ident, $acc:ident / $pacc:ident, $gacc:ident / $pgacc:ident,
     $rput:ident / $prput:ident, $rget:ident / $prget:ident, $racc:ident / $pracc:ident, $rgacc:ident / $prgacc:ident) => {
        win_fn! { win => fn $put / $pput(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, win: MPI_Win) {
            operate(stringify!($put), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Put, std::ptr::null_mut())
        }}
        win_fn! { win => fn $get / $pget(origin_addr: *mut c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, win: MPI_Win) {
            operate(stringify!($get), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Get, std::ptr::null_mut())
        }}
        win_fn! { win => fn $acc / $pacc(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, op: MPI_Op, win: MPI_Win) {
            operate(stringify!($acc), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Acc(op), std::ptr::null_mut())
        }}
        win_fn! { win => fn $gacc / $pgacc(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, result_addr: *mut c_void, result_count: $cnt, result_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, op: MPI_Op, win: MPI_Win) {
            operate(stringify!($gacc), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::GetAcc(op, result_addr, result_count as MPI_Count, result_datatype), std::ptr::null_mut())
        }}
        win_fn! { win => fn $rput / $prput(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, win: MPI_Win, request: *mut MPI_Request) {
            out(request, "request")?;
            operate(stringify!($rput), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Put, request)
        }}
        win_fn! { win => fn $rget / $prget(origin_addr: *mut c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, win: MPI_Win, request: *mut MPI_Request) {
            out(request, "request")?;
            operate(stringify!($rget), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Get, request)
        }}
        win_fn! { win => fn $racc / $pracc(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, op: MPI_Op, win: MPI_Win, request: *mut MPI_Request) {
            out(request, "request")?;
            operate(stringify!($racc), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::Acc(op), request)
        }}
        win_fn! { win => fn $rgacc / $prgacc(origin_addr: *const c_void, origin_count: $cnt, origin_datatype: MPI_Datatype, result_addr: *mut c_void, result_count: $cnt, result_datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, target_count: $cnt, target_datatype: MPI_Datatype, op: MPI_Op, win: MPI_Win, request: *mut MPI_Request) {
            out(request, "request")?;
            operate(stringify!($rgacc), win, origin_addr, origin_count as MPI_Count, origin_datatype, target_rank, target_disp, target_count as MPI_Count, target_datatype, Op::GetAcc(op, result_addr, result_count as MPI_Count, result_datatype), request)
        }}
    };
}

operations!(
    c_int,
    MPI_Put / PMPI_Put,
    MPI_Get / PMPI_Get,
    MPI_Accumulate / PMPI_Accumulate,
    MPI_Get_accumulate / PMPI_Get_accumulate,
    MPI_Rput / PMPI_Rput,
    MPI_Rget / PMPI_Rget,
    MPI_Raccumulate / PMPI_Raccumulate,
    MPI_Rget_accumulate / PMPI_Rget_accumulate
);
operations!(
    MPI_Count,
    MPI_Put_c / PMPI_Put_c,
    MPI_Get_c / PMPI_Get_c,
    MPI_Accumulate_c / PMPI_Accumulate_c,
    MPI_Get_accumulate_c / PMPI_Get_accumulate_c,
    MPI_Rput_c / PMPI_Rput_c,
    MPI_Rget_c / PMPI_Rget_c,
    MPI_Raccumulate_c / PMPI_Raccumulate_c,
    MPI_Rget_accumulate_c / PMPI_Rget_accumulate_c
);

win_fn! { win => fn MPI_Fetch_and_op / PMPI_Fetch_and_op(origin_addr: *const c_void, result_addr: *mut c_void, datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, op: MPI_Op, win: MPI_Win) {
    operate("MPI_Fetch_and_op", win, origin_addr, 1, datatype, target_rank, target_disp, 1, datatype, Op::GetAcc(op, result_addr, 1, datatype), std::ptr::null_mut())
}}

win_fn! { win => fn MPI_Compare_and_swap / PMPI_Compare_and_swap(origin_addr: *const c_void, compare_addr: *const c_void, result_addr: *mut c_void, datatype: MPI_Datatype, target_rank: c_int, target_disp: MPI_Aint, win: MPI_Win) {
    let id = id_of(win)?;
    let t = crate::dtype::for_comm(datatype)?;
    // C and Fortran integers, logicals, bytes (MPI-3.1 §11.3.4); MPI_CHAR too,
    // as integer reductions take it.
    use vmpi::sys::datatype::Basic as B;
    let ok = matches!(
        t.basic_kind(),
        Some(B::Char | B::I8 | B::U8 | B::Byte | B::I16 | B::U16 | B::I32 | B::U32 | B::I64 | B::U64
            | B::Long | B::ULong | B::CBool | B::Logical)
    );
    if !ok {
        return fail(
            MPI_ERR_TYPE,
            format!("datatype {:#x} is not an integer, logical or byte type", datatype as u32),
        );
    }
    if origin_addr.is_null() || compare_addr.is_null() || result_addr.is_null() {
        return fail(MPI_ERR_BUFFER, "a buffer is a null pointer");
    }
    rma::operate(
        "MPI_Compare_and_swap",
        id,
        Buf { ptr: origin_addr as *const u8, count: 1, dt: &t },
        Target { rank: target_rank, disp: target_disp as i64, count: 1, dt: &t },
        Action::Cas(compare_addr as *const u8, result_addr as *mut u8),
        false,
    )
    .map(|_| ())
    .map_err(|e| with_call("MPI_Compare_and_swap", e))
}}

// ---- synchronization ---------------------------------------------------------------------

/// The window ranks of a group's members (MPI_ERR_GROUP for one outside it).
fn ranks_of(call: &str, id: u32, group: MPI_Group) -> R<Vec<i32>> {
    let g = crate::group::group(group)?;
    let f = rma::facts(call, id)?;
    let wg = f.comm.group();
    g.world_ranks()
        .iter()
        .map(|&w| {
            wg.rank_of_world(w).ok_or_else(|| {
                err(
                    crate::group::MPI_ERR_GROUP,
                    format!("{call}: a member of the group is not in the window"),
                )
            })
        })
        .collect()
}

win_fn! { win => fn MPI_Win_fence / PMPI_Win_fence(assert: c_int, win: MPI_Win) {
    rma::fence("MPI_Win_fence", id_of(win)?, assert).map_err(|e| with_call("MPI_Win_fence", e))
}}

win_fn! { win => fn MPI_Win_start / PMPI_Win_start(group: MPI_Group, assert: c_int, win: MPI_Win) {
    let id = id_of(win)?;
    let g = ranks_of("MPI_Win_start", id, group)?;
    rma::start("MPI_Win_start", id, g, assert).map_err(|e| with_call("MPI_Win_start", e))
}}

win_fn! { win => fn MPI_Win_complete / PMPI_Win_complete(win: MPI_Win) {
    rma::complete("MPI_Win_complete", id_of(win)?).map_err(|e| with_call("MPI_Win_complete", e))
}}

win_fn! { win => fn MPI_Win_post / PMPI_Win_post(group: MPI_Group, assert: c_int, win: MPI_Win) {
    let id = id_of(win)?;
    let g = ranks_of("MPI_Win_post", id, group)?;
    rma::post("MPI_Win_post", id, g, assert).map_err(|e| with_call("MPI_Win_post", e))
}}

win_fn! { win => fn MPI_Win_wait / PMPI_Win_wait(win: MPI_Win) {
    rma::wait("MPI_Win_wait", id_of(win)?, true).map(|_| ()).map_err(|e| with_call("MPI_Win_wait", e))
}}

win_fn! { win => fn MPI_Win_test / PMPI_Win_test(win: MPI_Win, flag: *mut c_int) {
    let f = out(flag, "flag")?;
    *f = rma::wait("MPI_Win_test", id_of(win)?, false).map_err(|e| with_call("MPI_Win_test", e))? as c_int;
    Ok(())
}}

win_fn! { win => fn MPI_Win_lock / PMPI_Win_lock(lock_type: c_int, rank: c_int, assert: c_int, win: MPI_Win) {
    let exclusive = match lock_type {
        MPI_LOCK_EXCLUSIVE => true,
        MPI_LOCK_SHARED => false,
        _ => return fail(MPI_ERR_LOCKTYPE, format!("invalid lock_type {lock_type}")),
    };
    rma::lock("MPI_Win_lock", id_of(win)?, exclusive, rank, assert).map_err(|e| with_call("MPI_Win_lock", e))
}}

win_fn! { win => fn MPI_Win_unlock / PMPI_Win_unlock(rank: c_int, win: MPI_Win) {
    rma::unlock("MPI_Win_unlock", id_of(win)?, rank).map_err(|e| with_call("MPI_Win_unlock", e))
}}

win_fn! { win => fn MPI_Win_lock_all / PMPI_Win_lock_all(assert: c_int, win: MPI_Win) {
    rma::lock_all("MPI_Win_lock_all", id_of(win)?, assert).map_err(|e| with_call("MPI_Win_lock_all", e))
}}

win_fn! { win => fn MPI_Win_unlock_all / PMPI_Win_unlock_all(win: MPI_Win) {
    rma::unlock_all("MPI_Win_unlock_all", id_of(win)?).map_err(|e| with_call("MPI_Win_unlock_all", e))
}}

win_fn! { win => fn MPI_Win_flush / PMPI_Win_flush(rank: c_int, win: MPI_Win) {
    rma::flush("MPI_Win_flush", id_of(win)?, Some(rank)).map_err(|e| with_call("MPI_Win_flush", e))
}}

win_fn! { win => fn MPI_Win_flush_local / PMPI_Win_flush_local(rank: c_int, win: MPI_Win) {
    rma::flush("MPI_Win_flush_local", id_of(win)?, Some(rank)).map_err(|e| with_call("MPI_Win_flush_local", e))
}}

win_fn! { win => fn MPI_Win_flush_all / PMPI_Win_flush_all(win: MPI_Win) {
    rma::flush("MPI_Win_flush_all", id_of(win)?, None).map_err(|e| with_call("MPI_Win_flush_all", e))
}}

win_fn! { win => fn MPI_Win_flush_local_all / PMPI_Win_flush_local_all(win: MPI_Win) {
    rma::flush("MPI_Win_flush_local_all", id_of(win)?, None).map_err(|e| with_call("MPI_Win_flush_local_all", e))
}}

win_fn! { win => fn MPI_Win_sync / PMPI_Win_sync(win: MPI_Win) {
    rma::sync("MPI_Win_sync", id_of(win)?).map_err(|e| with_call("MPI_Win_sync", e))
}}
