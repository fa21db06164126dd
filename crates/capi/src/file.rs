//! MPI-IO (MPI-3.1 chapter 13): the `MPI_File_*` functions over the core's
//! `vmpi::io`. An `MPI_File` is a pointer in MPICH's ABI (`struct ADIOI_FileD *`);
//! vmpi's is the handle number of a table slot (`0xd4000000 | index`) cast to a
//! pointer, never dereferenced; MPI_File_c2f gives that number.
//!
//! Errors go to the file's error handler (MPI_ERRORS_RETURN by default, as
//! MPI-3.1 §13.7 says); errors of MPI_File_open, MPI_File_delete and of calls on
//! an invalid file go to the handler set on MPI_FILE_NULL.
//!
//! Nonblocking accesses run on the core's I/O thread and complete their request
//! there; so do split collectives (`_begin` starts, `_end` waits). The file
//! pointers move and the file pieces are found in the starting call.

use crate::consts::*;
use crate::dtype::{out, send_data_of};
use crate::err::{err, fail, CommErrFn, MpiErr, R};
use crate::req::{empty_c_status, set_bytes, write_status, Kind, ReqObj};
use crate::state::{st, Table};
use std::borrow::Cow;
use std::ffi::{c_void, CStr};
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use vmpi::sys::datatype::Datatype;
use vmpi::sys::io::{File, View};

pub type MPI_File = *mut c_void;
pub type MPI_Offset = i64;
pub const MPI_FILE_NULL: MPI_File = std::ptr::null_mut();
pub const DYN_FILE: u32 = 0xd400_0000;
pub const MPI_DISPLACEMENT_CURRENT: MPI_Offset = -54278278;
const MPI_BYTE: MPI_Datatype = 0x4c00010d;
const MPI_ERR_BAD_FILE: c_int = 22;
const MPI_ERR_FILE: c_int = 27;
const MPI_ERR_UNSUPPORTED_DATAREP: c_int = 43;
const MPI_ERR_UNSUPPORTED_OPERATION: c_int = 44;

pub struct FileObj {
    file: Arc<Mutex<File>>,
    errh: MPI_Errhandler,
    amode: c_int,
    /// The handles set_view got (returned by get_view as they are when
    /// predefined; derived ones come back as new handles).
    etype: MPI_Datatype,
    filetype: MPI_Datatype,
    /// The split collective begun and not yet ended (its request).
    split: Option<vmpi::sys::p2p::ReqId>,
}

/// The open files (handle = `DYN_FILE | index`).
static FILES: Mutex<Option<Table<FileObj>>> = Mutex::new(None);

fn files() -> std::sync::MutexGuard<'static, Option<Table<FileObj>>> {
    let mut g = FILES.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        *g = Some(Table::new(DYN_FILE));
    }
    g
}

/// The handler of MPI_FILE_NULL: hears errors of open/delete and bad handles.
static NULL_ERRH: AtomicI32 = AtomicI32::new(MPI_ERRORS_RETURN);

fn handle_of(fh: MPI_File) -> c_int {
    fh as usize as u32 as c_int
}

fn ptr_of(h: c_int) -> MPI_File {
    h as u32 as usize as MPI_File
}

fn with_obj<T>(fh: MPI_File, f: impl FnOnce(&mut FileObj) -> R<T>) -> R<T> {
    if fh.is_null() {
        return fail(MPI_ERR_FILE, "null file handle (MPI_FILE_NULL)");
    }
    let mut g = files();
    match g.as_mut().expect("made").get_mut(handle_of(fh)) {
        Some(o) => f(o),
        None => fail(MPI_ERR_FILE, format!("invalid file handle {fh:p}")),
    }
}

fn file_of(fh: MPI_File) -> R<Arc<Mutex<File>>> {
    with_obj(fh, |o| Ok(o.file.clone()))
}

/// Run `f` on the core file (not under the table's lock: it may be collective).
fn with_file<T>(fh: MPI_File, f: impl FnOnce(&mut File) -> vmpi::Result<T>) -> R<T> {
    let a = file_of(fh)?;
    let mut g = a.lock().unwrap_or_else(|p| p.into_inner());
    Ok(f(&mut g)?)
}

/// Report `e` from `call` through the error handler of `fh` (MPI_FILE_NULL's
/// when `fh` is not an open file); returns the code the call returns.
pub fn raise_file(call: &str, args: &str, fh: MPI_File, e: MpiErr) -> c_int {
    let mut code = e.code;
    let h = with_obj(fh, |o| Ok(o.errh)).unwrap_or_else(|_| NULL_ERRH.load(Ordering::Relaxed));
    match h {
        MPI_ERRORS_RETURN | MPIR_ERRORS_THROW_EXCEPTIONS => code,
        MPI_ERRORS_ARE_FATAL | MPI_ERRORS_ABORT => fatal(call, args, &e),
        _ => {
            let f: Option<CommErrFn> = st().errhs.get(h).copied();
            match f {
                Some(f) => {
                    let mut fh = fh;
                    // SAFETY: a handler the application registered with
                    // MPI_File_create_errhandler: it takes (MPI_File *, int *, ...);
                    // both arguments are pointers, as CommErrFn's are.
                    unsafe { f(&mut fh as *mut MPI_File as *mut MPI_Comm, &mut code) };
                    code
                }
                None => fatal(call, args, &e),
            }
        }
    }
}

pub(crate) fn fatal(call: &str, args: &str, e: &MpiErr) -> ! {
    let msg = e
        .msg
        .strip_prefix(call)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(&e.msg);
    let line = match crate::state::world_rank() {
        Some(r) => format!("vmpi: {call}({args}) on rank {r}: {msg}"),
        None => format!("vmpi: {call}({args}): {msg}"),
    };
    eprintln!("{line}");
    let code = if e.code > 0 && e.code < 256 {
        e.code
    } else {
        1
    };
    vmpi::sys::abort(code, &line)
}

/// `mpi_fn!` for file calls: errors go to the file's handler (the value of
/// the expression before `=>`, taken before the body runs).
macro_rules! file_fn {
    ($($t:tt)*) => {
        object_fn!(raise_file, MPI_File, $($t)*);
    };
}

unsafe fn cstr<'a>(p: *const c_char, what: &str) -> R<&'a str> {
    if p.is_null() {
        return fail(MPI_ERR_ARG, format!("{what} is a null pointer"));
    }
    // SAFETY: a NUL-terminated string of the caller's (MPI's rule).
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| err(MPI_ERR_BAD_FILE, format!("{what} is not UTF-8")))
}

/// ROMIO's file-system prefixes ("ufs:/path") name the same POSIX file.
fn strip_prefix(name: &str) -> &str {
    for p in ["ufs:", "nfs:", "tmpfs:", "xfs:", "lustre:", "gpfs:"] {
        if let Some(rest) = name.strip_prefix(p) {
            return rest;
        }
    }
    name
}

fn info_pairs(info: MPI_Info) -> R<Vec<(String, String)>> {
    if info == MPI_INFO_NULL {
        return Ok(Vec::new());
    }
    Ok(crate::info::get(info)?.pairs)
}

fn count_of(count: i64) -> R<usize> {
    if count < 0 {
        return fail(MPI_ERR_COUNT, format!("invalid count {count}"));
    }
    Ok(count as usize)
}

unsafe fn set_status(status: *mut MPI_Status, bytes: usize) {
    let mut s = empty_c_status();
    set_bytes(&mut s, bytes as u64);
    write_status(status, s);
}

// ---- opening, closing, the file's attributes ----

file_fn! { MPI_FILE_NULL => fn MPI_File_open / PMPI_File_open(comm: MPI_Comm, filename: *const c_char, amode: c_int, info: MPI_Info, fh: *mut MPI_File) {
    let o = out(fh, "fh")?;
    let c = crate::state::comm(comm)?;
    if c.is_inter() {
        return fail(MPI_ERR_COMM, "MPI_File_open: an intercommunicator");
    }
    let name = strip_prefix(cstr(filename, "filename")?);
    let pairs = info_pairs(info)?;
    let f = File::open(&c, name, amode, &pairs)?;
    let h = files().as_mut().expect("made").insert(FileObj {
        file: Arc::new(Mutex::new(f)),
        errh: NULL_ERRH.load(Ordering::Relaxed),
        amode,
        etype: MPI_BYTE,
        filetype: MPI_BYTE,
        split: None,
    });
    *o = ptr_of(h);
    Ok(())
}}

file_fn! { if fh.is_null() { MPI_FILE_NULL } else { *fh } => fn MPI_File_close / PMPI_File_close(fh: *mut MPI_File) {
    let o = out(fh, "fh")?;
    let h = *o;
    with_obj(h, |_| Ok(()))?;
    let obj = files().as_mut().expect("made").remove(handle_of(h)).expect("present");
    let f = match Arc::try_unwrap(obj.file) {
        Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(_) => return fail(MPI_ERR_FILE, "MPI_File_close: the file is in use by another thread"),
    };
    *o = MPI_FILE_NULL;
    f.close()?;
    Ok(())
}}

file_fn! { MPI_FILE_NULL => fn MPI_File_delete / PMPI_File_delete(filename: *const c_char, info: MPI_Info) {
    let name = strip_prefix(cstr(filename, "filename")?);
    info_pairs(info)?;
    vmpi::sys::io::delete(name)?;
    Ok(())
}}

file_fn! { fh => fn MPI_File_set_size / PMPI_File_set_size(fh: MPI_File, size: MPI_Offset) {
    with_file(fh, |f| f.set_size(size))
}}

file_fn! { fh => fn MPI_File_preallocate / PMPI_File_preallocate(fh: MPI_File, size: MPI_Offset) {
    with_file(fh, |f| f.preallocate(size))
}}

file_fn! { fh => fn MPI_File_get_size / PMPI_File_get_size(fh: MPI_File, size: *mut MPI_Offset) {
    let o = out(size, "size")?;
    *o = with_file(fh, |f| f.size("MPI_File_get_size"))?;
    Ok(())
}}

file_fn! { fh => fn MPI_File_get_group / PMPI_File_get_group(fh: MPI_File, group: *mut MPI_Group) {
    let o = out(group, "group")?;
    let g = with_file(fh, |f| Ok(f.comm.group()))?;
    *o = crate::group::new_handle(g);
    Ok(())
}}

file_fn! { fh => fn MPI_File_get_amode / PMPI_File_get_amode(fh: MPI_File, amode: *mut c_int) {
    let o = out(amode, "amode")?;
    *o = with_obj(fh, |f| Ok(f.amode))?;
    Ok(())
}}

file_fn! { fh => fn MPI_File_set_info / PMPI_File_set_info(fh: MPI_File, info: MPI_Info) {
    let pairs = info_pairs(info)?;
    with_file(fh, |f| {
        f.set_hints(&pairs);
        Ok(())
    })
}}

file_fn! { fh => fn MPI_File_get_info / PMPI_File_get_info(fh: MPI_File, info_used: *mut MPI_Info) {
    let o = out(info_used, "info_used")?;
    let pairs = with_file(fh, |f| Ok(f.hints.pairs(f.aggrs.len())))?;
    *o = st().infos.insert(crate::info::InfoObj { pairs });
    Ok(())
}}

file_fn! { fh => fn MPI_File_sync / PMPI_File_sync(fh: MPI_File) {
    with_file(fh, |f| f.sync())
}}

file_fn! { fh => fn MPI_File_set_atomicity / PMPI_File_set_atomicity(fh: MPI_File, flag: c_int) {
    with_file(fh, |f| f.set_atomicity(flag != 0))
}}

file_fn! { fh => fn MPI_File_get_atomicity / PMPI_File_get_atomicity(fh: MPI_File, flag: *mut c_int) {
    let o = out(flag, "flag")?;
    *o = with_file(fh, |f| Ok(f.atomic as c_int))?;
    Ok(())
}}

// ---- views ----

fn check_datarep(call: &str, rep: &str) -> R<()> {
    if rep.eq_ignore_ascii_case("native") {
        return Ok(());
    }
    fail(
        MPI_ERR_UNSUPPORTED_DATAREP,
        format!("{call}: data representation \"{rep}\" is not supported: vmpi implements \"native\" only"),
    )
}

file_fn! { fh => fn MPI_File_set_view / PMPI_File_set_view(fh: MPI_File, disp: MPI_Offset, etype: MPI_Datatype, filetype: MPI_Datatype, datarep: *const c_char, info: MPI_Info) {
    let call = "MPI_File_set_view";
    let rep = if datarep.is_null() { "native" } else { cstr(datarep, "datarep")? };
    check_datarep(call, rep)?;
    let pairs = info_pairs(info)?;
    let et = crate::dtype::for_comm(etype)?;
    let ft = crate::dtype::for_comm(filetype)?;
    let amode = with_obj(fh, |o| Ok(o.amode))?;
    with_file(fh, |f| {
        let disp = if disp == MPI_DISPLACEMENT_CURRENT {
            if amode & vmpi::sys::io::MODE_SEQUENTIAL == 0 {
                return Err(vmpi::Error::new(
                    vmpi::ErrorClass::Arg,
                    format!("{call}: MPI_DISPLACEMENT_CURRENT needs a file opened MPI_MODE_SEQUENTIAL"),
                ));
            }
            let pos = f.position_shared()?;
            f.byte_offset(pos)?
        } else {
            disp
        };
        let v = View::new(disp, et, ft)?;
        f.set_hints(&pairs);
        f.set_view(v)
    })?;
    with_obj(fh, |o| {
        o.etype = etype;
        o.filetype = filetype;
        Ok(())
    })
}}

/// A handle for a type of the view: a predefined one as it is, a derived one
/// as a new (committed) handle the caller frees.
fn view_type(h: MPI_Datatype, t: &Datatype) -> MPI_Datatype {
    if crate::dtype::basic_of(h).is_some() || crate::dtype::predefined(h).is_some() {
        return h;
    }
    let n = crate::dtype::new_type(t.dup(), Vec::new());
    if let Some(o) = st().dtypes.get_mut(n) {
        o.committed = true;
    }
    n
}

file_fn! { fh => fn MPI_File_get_view / PMPI_File_get_view(fh: MPI_File, disp: *mut MPI_Offset, etype: *mut MPI_Datatype, filetype: *mut MPI_Datatype, datarep: *mut c_char) {
    let (eh, fth) = with_obj(fh, |o| Ok((o.etype, o.filetype)))?;
    let v = with_file(fh, |f| Ok(f.view.clone()))?;
    *out(disp, "disp")? = v.disp;
    *out(etype, "etype")? = view_type(eh, &v.etype);
    *out(filetype, "filetype")? = view_type(fth, &v.filetype);
    if !datarep.is_null() {
        for (i, b) in b"native\0".iter().enumerate() {
            // SAFETY: the caller's buffer of MPI_MAX_DATAREP_STRING characters.
            *datarep.add(i) = *b as c_char;
        }
    }
    Ok(())
}}

file_fn! { fh => fn MPI_File_get_type_extent / PMPI_File_get_type_extent(fh: MPI_File, datatype: MPI_Datatype, extent: *mut MPI_Aint) {
    with_obj(fh, |_| Ok(()))?;
    let (_, _, ext, _, _) = crate::dtype::info(datatype)?;
    *out(extent, "extent")? = ext as MPI_Aint;
    Ok(())
}}

file_fn! { fh => fn MPI_File_get_type_extent_c / PMPI_File_get_type_extent_c(fh: MPI_File, datatype: MPI_Datatype, extent: *mut MPI_Count) {
    with_obj(fh, |_| Ok(()))?;
    let (_, _, ext, _, _) = crate::dtype::info(datatype)?;
    *out(extent, "extent")? = ext;
    Ok(())
}}

pub type DatarepConvFn = unsafe extern "C" fn(
    *mut c_void,
    MPI_Datatype,
    c_int,
    *mut c_void,
    MPI_Offset,
    *mut c_void,
) -> c_int;
pub type DatarepExtentFn = unsafe extern "C" fn(MPI_Datatype, *mut MPI_Aint, *mut c_void) -> c_int;

file_fn! { MPI_FILE_NULL => fn MPI_Register_datarep / PMPI_Register_datarep(datarep: *const c_char, read_conversion_fn: Option<DatarepConvFn>, write_conversion_fn: Option<DatarepConvFn>, dtype_file_extent_fn: Option<DatarepExtentFn>, extra_state: *mut c_void) {
    let rep = cstr(datarep, "datarep")?;
    fail(MPI_ERR_UNSUPPORTED_OPERATION, format!("MPI_Register_datarep: user data representations (\"{rep}\") are not supported: vmpi files use \"native\" only"))
}}

file_fn! { MPI_FILE_NULL => fn MPI_Register_datarep_c / PMPI_Register_datarep_c(datarep: *const c_char, read_conversion_fn: Option<DatarepConvFn>, write_conversion_fn: Option<DatarepConvFn>, dtype_file_extent_fn: Option<DatarepExtentFn>, extra_state: *mut c_void) {
    let rep = cstr(datarep, "datarep")?;
    fail(MPI_ERR_UNSUPPORTED_OPERATION, format!("MPI_Register_datarep_c: user data representations (\"{rep}\") are not supported: vmpi files use \"native\" only"))
}}

// ---- data access ----

#[derive(Clone, Copy)]
enum Pos {
    At(i64),
    Individual,
    Shared,
    Ordered,
}

/// Where the bytes of a read land: the user's buffer itself when the type is
/// contiguous, else a temporary unpacked afterwards.
struct Target {
    buf: *mut u8,
    count: usize,
    t: Cow<'static, Datatype>,
    bytes: usize,
    tmp: Option<Vec<u8>>,
}

impl Target {
    unsafe fn new(buf: *mut u8, count: usize, dt: MPI_Datatype) -> R<Target> {
        let t = crate::dtype::for_comm_cow(dt)?;
        let bytes = t.packed_size(count, "read")?;
        if bytes > 0 && buf.is_null() && t.true_lb() == 0 {
            return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
        }
        let tmp = (!t.is_contiguous()).then(|| vec![0u8; bytes]);
        Ok(Target {
            buf,
            count,
            t,
            bytes,
            tmp,
        })
    }

    fn slice(&mut self) -> &mut [u8] {
        match &mut self.tmp {
            Some(v) => v,
            None if self.bytes == 0 => &mut [],
            // SAFETY: a contiguous type: the buffer holds `bytes` bytes from its
            // true lower bound (MPI's rule on the caller's buffer).
            None => unsafe {
                std::slice::from_raw_parts_mut(
                    self.buf.wrapping_offset(self.t.true_lb() as isize),
                    self.bytes,
                )
            },
        }
    }

    /// Unpack the first `got` bytes into the user's buffer.
    fn finish(self, got: usize) {
        if let Some(v) = &self.tmp {
            // SAFETY: the caller's buffer holds `count` elements of the type.
            unsafe {
                self.t
                    .unpack_range(&v[..got.min(v.len())], 0, self.buf, self.count)
            };
        }
    }
}

unsafe fn write_bytes<'a>(buf: *const u8, count: usize, dt: MPI_Datatype) -> R<Cow<'a, [u8]>> {
    let t = crate::dtype::for_comm_cow(dt)?;
    Ok(match send_data_of(buf, count, &t)? {
        crate::dtype::SendData::Packed(v) => Cow::Owned(v),
        crate::dtype::SendData::Direct(p, n) if n > 0 => {
            // SAFETY: the caller's buffer of `count` elements (MPI's rule).
            Cow::Borrowed(std::slice::from_raw_parts(p, n))
        }
        crate::dtype::SendData::Direct(..) => Cow::Borrowed(&[]),
    })
}

fn blocking_write(
    call: &str,
    f: &mut File,
    pos: Pos,
    coll: bool,
    data: &[u8],
) -> vmpi::Result<usize> {
    match (pos, coll) {
        (Pos::At(o), false) => {
            f.check_explicit(call)?;
            f.write_at(call, o, data)
        }
        (Pos::At(o), true) => {
            f.check_explicit(call)?;
            f.write_at_all(call, o, data)
        }
        (Pos::Individual, false) => f.write(call, data),
        (Pos::Individual, true) => f.write_all(call, data),
        (Pos::Shared, _) => f.write_shared(call, data),
        (Pos::Ordered, _) => f.write_ordered(call, data),
    }
}

fn blocking_read(
    call: &str,
    f: &mut File,
    pos: Pos,
    coll: bool,
    data: &mut [u8],
) -> vmpi::Result<usize> {
    match (pos, coll) {
        (Pos::At(o), false) => {
            f.check_explicit(call)?;
            f.read_at(call, o, data)
        }
        (Pos::At(o), true) => {
            f.check_explicit(call)?;
            f.read_at_all(call, o, data)
        }
        (Pos::Individual, false) => f.read(call, data),
        (Pos::Individual, true) => f.read_all(call, data),
        (Pos::Shared, _) => f.read_shared(call, data),
        (Pos::Ordered, _) => f.read_ordered(call, data),
    }
}

/// A blocking access: the bytes moved (read: before the end of the file).
#[allow(clippy::too_many_arguments)]
unsafe fn access(
    call: &str,
    fh: MPI_File,
    write: bool,
    pos: Pos,
    coll: bool,
    buf: *mut u8,
    count: i64,
    dt: MPI_Datatype,
) -> R<usize> {
    let n = count_of(count)?;
    if write {
        let data = write_bytes(buf, n, dt)?;
        with_file(fh, |f| blocking_write(call, f, pos, coll, &data))
    } else {
        let mut t = Target::new(buf, n, dt)?;
        let got = with_file(fh, |f| blocking_read(call, f, pos, coll, t.slice()))?;
        t.finish(got);
        Ok(got)
    }
}

/// The user's buffer, sent to the I/O thread.
struct UserBuf(*mut u8);
// SAFETY: MPI's rule: the buffer of a nonblocking access stays valid and is
// not touched by the application until the request completes.
unsafe impl Send for UserBuf {}

/// Start an access on the I/O thread (see the module's doc): the file
/// pointers move and the file pieces are found now; the bytes move there.
#[allow(clippy::too_many_arguments)]
unsafe fn start_id(
    call: &str,
    fh: MPI_File,
    write: bool,
    pos: Pos,
    coll: bool,
    buf: *mut u8,
    count: i64,
    dt: MPI_Datatype,
) -> R<vmpi::sys::p2p::ReqId> {
    let n = count_of(count)?;
    let at = |f: &mut File, len: usize| -> vmpi::Result<i64> {
        match pos {
            Pos::At(o) => {
                f.check_explicit(call)?;
                Ok(o)
            }
            Pos::Individual => f.take_fp(call, len),
            Pos::Shared => f.take_shared(call, len),
            Pos::Ordered => f.ordered_at(call, len),
        }
    };
    if write {
        let data = write_bytes(buf, n, dt)?.into_owned();
        return with_file(fh, |f| {
            let o = at(f, data.len())?;
            if coll {
                f.iwrite_at_all(call, o, data)
            } else {
                f.iwrite_at(call, o, data)
            }
        });
    }
    let t = crate::dtype::for_comm_cow(dt)?.into_owned();
    let bytes = t.packed_size(n, call)?;
    if bytes > 0 && buf.is_null() && t.true_lb() == 0 {
        return fail(MPI_ERR_BUFFER, "null buffer with a nonzero count");
    }
    let ub = UserBuf(buf);
    let deliver: vmpi::sys::io::Deliver = Box::new(move |got: &[u8]| {
        let ub = ub;
        if t.is_contiguous() {
            if !got.is_empty() {
                // SAFETY: see UserBuf: `bytes` bytes from the true lower bound.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        got.as_ptr(),
                        ub.0.wrapping_offset(t.true_lb() as isize),
                        got.len(),
                    )
                };
            }
        } else {
            // SAFETY: see UserBuf: the buffer holds `n` elements of the type.
            unsafe { t.unpack_range(got, 0, ub.0, n) };
        }
    });
    with_file(fh, |f| {
        let o = at(f, bytes)?;
        if coll {
            f.iread_at_all(call, o, bytes, deliver)
        } else {
            f.iread_at(call, o, bytes, deliver)
        }
    })
}

/// A nonblocking access's request handle.
#[allow(clippy::too_many_arguments)]
unsafe fn start(
    call: &str,
    fh: MPI_File,
    write: bool,
    pos: Pos,
    coll: bool,
    buf: *mut u8,
    count: i64,
    dt: MPI_Datatype,
    request: *mut MPI_Request,
) -> R<()> {
    let o = out(request, "request")?;
    let id = start_id(call, fh, write, pos, coll, buf, count, dt)?;
    *o = st().reqs.insert(ReqObj {
        kind: Kind::Engine(id),
        comm: MPI_COMM_SELF,
        recv: !write,
    });
    Ok(())
}

/// A split collective's begin: the access starts on the I/O thread; `_end`
/// waits for it.
unsafe fn begin(
    call: &str,
    fh: MPI_File,
    write: bool,
    pos: Pos,
    buf: *mut u8,
    count: i64,
    dt: MPI_Datatype,
) -> R<()> {
    if with_obj(fh, |o| Ok(o.split.is_some()))? {
        return fail(
            MPI_ERR_OTHER,
            format!("{call}: a split collective is already active on this file (MPI-3.1 §13.4.5)"),
        );
    }
    let id = start_id(call, fh, write, pos, true, buf, count, dt)?;
    with_obj(fh, |o| {
        o.split = Some(id);
        Ok(())
    })
}

unsafe fn end(call: &str, fh: MPI_File, status: *mut MPI_Status) -> R<()> {
    let id = with_obj(fh, |o| Ok(o.split.take()))?;
    let Some(id) = id else {
        return fail(
            MPI_ERR_OTHER,
            format!("{call}: no split collective was begun on this file"),
        );
    };
    let s = vmpi::sys::wait(id)?;
    if let Some(c) = s.error {
        return fail(c as c_int, format!("{call}: the access failed ({c:?})"));
    }
    set_status(status, s.count);
    Ok(())
}

/// The blocking forms with a status: explicit offset (`at`) or not, int and
/// MPI_Count counts.
macro_rules! blocking {
    (at, $write:expr, $coll:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: c_int, datatype: MPI_Datatype, status: *mut MPI_Status) {
            let n = access(stringify!($name), fh, $write, Pos::At(offset), $coll, buf as *mut u8, count as i64, datatype)?;
            set_status(status, n);
            Ok(())
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: MPI_Count, datatype: MPI_Datatype, status: *mut MPI_Status) {
            let n = access(stringify!($cname), fh, $write, Pos::At(offset), $coll, buf as *mut u8, count, datatype)?;
            set_status(status, n);
            Ok(())
        }}
    };
    ($pos:expr, $write:expr, $coll:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, buf: $bt, count: c_int, datatype: MPI_Datatype, status: *mut MPI_Status) {
            let n = access(stringify!($name), fh, $write, $pos, $coll, buf as *mut u8, count as i64, datatype)?;
            set_status(status, n);
            Ok(())
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, buf: $bt, count: MPI_Count, datatype: MPI_Datatype, status: *mut MPI_Status) {
            let n = access(stringify!($cname), fh, $write, $pos, $coll, buf as *mut u8, count, datatype)?;
            set_status(status, n);
            Ok(())
        }}
    };
}

macro_rules! nonblocking {
    (at, $write:expr, $coll:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: c_int, datatype: MPI_Datatype, request: *mut MPI_Request) {
            start(stringify!($name), fh, $write, Pos::At(offset), $coll, buf as *mut u8, count as i64, datatype, request)
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: MPI_Count, datatype: MPI_Datatype, request: *mut MPI_Request) {
            start(stringify!($cname), fh, $write, Pos::At(offset), $coll, buf as *mut u8, count, datatype, request)
        }}
    };
    ($pos:expr, $write:expr, $coll:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, buf: $bt, count: c_int, datatype: MPI_Datatype, request: *mut MPI_Request) {
            start(stringify!($name), fh, $write, $pos, $coll, buf as *mut u8, count as i64, datatype, request)
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, buf: $bt, count: MPI_Count, datatype: MPI_Datatype, request: *mut MPI_Request) {
            start(stringify!($cname), fh, $write, $pos, $coll, buf as *mut u8, count, datatype, request)
        }}
    };
}

macro_rules! split {
    (at, $write:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident, $end:ident / $pend:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: c_int, datatype: MPI_Datatype) {
            begin(stringify!($name), fh, $write, Pos::At(offset), buf as *mut u8, count as i64, datatype)
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, offset: MPI_Offset, buf: $bt, count: MPI_Count, datatype: MPI_Datatype) {
            begin(stringify!($cname), fh, $write, Pos::At(offset), buf as *mut u8, count, datatype)
        }}
        file_fn! { fh => fn $end / $pend(fh: MPI_File, buf: $bt, status: *mut MPI_Status) {
            end(stringify!($end), fh, status)
        }}
    };
    ($pos:expr, $write:expr, $bt:ty, $name:ident / $pname:ident, $cname:ident / $pcname:ident, $end:ident / $pend:ident) => {
        file_fn! { fh => fn $name / $pname(fh: MPI_File, buf: $bt, count: c_int, datatype: MPI_Datatype) {
            begin(stringify!($name), fh, $write, $pos, buf as *mut u8, count as i64, datatype)
        }}
        file_fn! { fh => fn $cname / $pcname(fh: MPI_File, buf: $bt, count: MPI_Count, datatype: MPI_Datatype) {
            begin(stringify!($cname), fh, $write, $pos, buf as *mut u8, count, datatype)
        }}
        file_fn! { fh => fn $end / $pend(fh: MPI_File, buf: $bt, status: *mut MPI_Status) {
            end(stringify!($end), fh, status)
        }}
    };
}

type RBuf = *mut c_void;
type WBuf = *const c_void;

blocking!(
    at,
    false,
    false,
    RBuf,
    MPI_File_read_at / PMPI_File_read_at,
    MPI_File_read_at_c / PMPI_File_read_at_c
);
blocking!(
    at,
    false,
    true,
    RBuf,
    MPI_File_read_at_all / PMPI_File_read_at_all,
    MPI_File_read_at_all_c / PMPI_File_read_at_all_c
);
blocking!(
    at,
    true,
    false,
    WBuf,
    MPI_File_write_at / PMPI_File_write_at,
    MPI_File_write_at_c / PMPI_File_write_at_c
);
blocking!(
    at,
    true,
    true,
    WBuf,
    MPI_File_write_at_all / PMPI_File_write_at_all,
    MPI_File_write_at_all_c / PMPI_File_write_at_all_c
);
blocking!(
    Pos::Individual,
    false,
    false,
    RBuf,
    MPI_File_read / PMPI_File_read,
    MPI_File_read_c / PMPI_File_read_c
);
blocking!(
    Pos::Individual,
    false,
    true,
    RBuf,
    MPI_File_read_all / PMPI_File_read_all,
    MPI_File_read_all_c / PMPI_File_read_all_c
);
blocking!(
    Pos::Individual,
    true,
    false,
    WBuf,
    MPI_File_write / PMPI_File_write,
    MPI_File_write_c / PMPI_File_write_c
);
blocking!(
    Pos::Individual,
    true,
    true,
    WBuf,
    MPI_File_write_all / PMPI_File_write_all,
    MPI_File_write_all_c / PMPI_File_write_all_c
);
blocking!(
    Pos::Shared,
    false,
    false,
    RBuf,
    MPI_File_read_shared / PMPI_File_read_shared,
    MPI_File_read_shared_c / PMPI_File_read_shared_c
);
blocking!(
    Pos::Shared,
    true,
    false,
    WBuf,
    MPI_File_write_shared / PMPI_File_write_shared,
    MPI_File_write_shared_c / PMPI_File_write_shared_c
);
blocking!(
    Pos::Ordered,
    false,
    true,
    RBuf,
    MPI_File_read_ordered / PMPI_File_read_ordered,
    MPI_File_read_ordered_c / PMPI_File_read_ordered_c
);
blocking!(
    Pos::Ordered,
    true,
    true,
    WBuf,
    MPI_File_write_ordered / PMPI_File_write_ordered,
    MPI_File_write_ordered_c / PMPI_File_write_ordered_c
);

nonblocking!(
    at,
    false,
    false,
    RBuf,
    MPI_File_iread_at / PMPI_File_iread_at,
    MPI_File_iread_at_c / PMPI_File_iread_at_c
);
nonblocking!(
    at,
    true,
    false,
    WBuf,
    MPI_File_iwrite_at / PMPI_File_iwrite_at,
    MPI_File_iwrite_at_c / PMPI_File_iwrite_at_c
);
nonblocking!(
    at,
    false,
    true,
    RBuf,
    MPI_File_iread_at_all / PMPI_File_iread_at_all,
    MPI_File_iread_at_all_c / PMPI_File_iread_at_all_c
);
nonblocking!(
    at,
    true,
    true,
    WBuf,
    MPI_File_iwrite_at_all / PMPI_File_iwrite_at_all,
    MPI_File_iwrite_at_all_c / PMPI_File_iwrite_at_all_c
);
nonblocking!(
    Pos::Individual,
    false,
    false,
    RBuf,
    MPI_File_iread / PMPI_File_iread,
    MPI_File_iread_c / PMPI_File_iread_c
);
nonblocking!(
    Pos::Individual,
    true,
    false,
    WBuf,
    MPI_File_iwrite / PMPI_File_iwrite,
    MPI_File_iwrite_c / PMPI_File_iwrite_c
);
nonblocking!(
    Pos::Individual,
    false,
    true,
    RBuf,
    MPI_File_iread_all / PMPI_File_iread_all,
    MPI_File_iread_all_c / PMPI_File_iread_all_c
);
nonblocking!(
    Pos::Individual,
    true,
    true,
    WBuf,
    MPI_File_iwrite_all / PMPI_File_iwrite_all,
    MPI_File_iwrite_all_c / PMPI_File_iwrite_all_c
);
nonblocking!(
    Pos::Shared,
    false,
    false,
    RBuf,
    MPI_File_iread_shared / PMPI_File_iread_shared,
    MPI_File_iread_shared_c / PMPI_File_iread_shared_c
);
nonblocking!(
    Pos::Shared,
    true,
    false,
    WBuf,
    MPI_File_iwrite_shared / PMPI_File_iwrite_shared,
    MPI_File_iwrite_shared_c / PMPI_File_iwrite_shared_c
);

split!(
    at,
    false,
    RBuf,
    MPI_File_read_at_all_begin / PMPI_File_read_at_all_begin,
    MPI_File_read_at_all_begin_c / PMPI_File_read_at_all_begin_c,
    MPI_File_read_at_all_end / PMPI_File_read_at_all_end
);
split!(
    at,
    true,
    WBuf,
    MPI_File_write_at_all_begin / PMPI_File_write_at_all_begin,
    MPI_File_write_at_all_begin_c / PMPI_File_write_at_all_begin_c,
    MPI_File_write_at_all_end / PMPI_File_write_at_all_end
);
split!(
    Pos::Individual,
    false,
    RBuf,
    MPI_File_read_all_begin / PMPI_File_read_all_begin,
    MPI_File_read_all_begin_c / PMPI_File_read_all_begin_c,
    MPI_File_read_all_end / PMPI_File_read_all_end
);
split!(
    Pos::Individual,
    true,
    WBuf,
    MPI_File_write_all_begin / PMPI_File_write_all_begin,
    MPI_File_write_all_begin_c / PMPI_File_write_all_begin_c,
    MPI_File_write_all_end / PMPI_File_write_all_end
);
split!(
    Pos::Ordered,
    false,
    RBuf,
    MPI_File_read_ordered_begin / PMPI_File_read_ordered_begin,
    MPI_File_read_ordered_begin_c / PMPI_File_read_ordered_begin_c,
    MPI_File_read_ordered_end / PMPI_File_read_ordered_end
);
split!(
    Pos::Ordered,
    true,
    WBuf,
    MPI_File_write_ordered_begin / PMPI_File_write_ordered_begin,
    MPI_File_write_ordered_begin_c / PMPI_File_write_ordered_begin_c,
    MPI_File_write_ordered_end / PMPI_File_write_ordered_end
);

// ---- file pointers ----

file_fn! { fh => fn MPI_File_seek / PMPI_File_seek(fh: MPI_File, offset: MPI_Offset, whence: c_int) {
    with_file(fh, |f| f.seek(offset, whence))
}}

file_fn! { fh => fn MPI_File_get_position / PMPI_File_get_position(fh: MPI_File, offset: *mut MPI_Offset) {
    let o = out(offset, "offset")?;
    *o = with_file(fh, |f| Ok(f.fp))?;
    Ok(())
}}

file_fn! { fh => fn MPI_File_get_byte_offset / PMPI_File_get_byte_offset(fh: MPI_File, offset: MPI_Offset, disp: *mut MPI_Offset) {
    let o = out(disp, "disp")?;
    *o = with_file(fh, |f| f.byte_offset(offset))?;
    Ok(())
}}

file_fn! { fh => fn MPI_File_seek_shared / PMPI_File_seek_shared(fh: MPI_File, offset: MPI_Offset, whence: c_int) {
    with_file(fh, |f| f.seek_shared(offset, whence))
}}

file_fn! { fh => fn MPI_File_get_position_shared / PMPI_File_get_position_shared(fh: MPI_File, offset: *mut MPI_Offset) {
    let o = out(offset, "offset")?;
    *o = with_file(fh, |f| f.position_shared())?;
    Ok(())
}}

// ---- error handlers ----

file_fn! { MPI_FILE_NULL => fn MPI_File_create_errhandler / PMPI_File_create_errhandler(file_errhandler_fn: Option<CommErrFn>, errhandler: *mut MPI_Errhandler) {
    let Some(f) = file_errhandler_fn else {
        return fail(MPI_ERR_ARG, "the handler function is a null pointer");
    };
    let o = out(errhandler, "errhandler")?;
    *o = st().errhs.insert(f);
    Ok(())
}}

file_fn! { fh => fn MPI_File_set_errhandler / PMPI_File_set_errhandler(fh: MPI_File, errhandler: MPI_Errhandler) {
    crate::errh::check_errh(errhandler)?;
    if fh.is_null() {
        NULL_ERRH.store(errhandler, Ordering::Relaxed);
        return Ok(());
    }
    with_obj(fh, |o| {
        o.errh = errhandler;
        Ok(())
    })
}}

file_fn! { fh => fn MPI_File_get_errhandler / PMPI_File_get_errhandler(fh: MPI_File, errhandler: *mut MPI_Errhandler) {
    let o = out(errhandler, "errhandler")?;
    *o = if fh.is_null() {
        NULL_ERRH.load(Ordering::Relaxed)
    } else {
        with_obj(fh, |f| Ok(f.errh))?
    };
    Ok(())
}}

#[no_mangle]
pub unsafe extern "C" fn PMPI_File_call_errhandler(fh: MPI_File, errorcode: c_int) -> c_int {
    if !fh.is_null() {
        if let Err(e) = with_obj(fh, |_| Ok(())) {
            return raise_file("MPI_File_call_errhandler", "", MPI_FILE_NULL, e);
        }
    }
    raise_file(
        "MPI_File_call_errhandler",
        &format!("fh={fh:p}, errorcode={errorcode}"),
        fh,
        err(
            errorcode,
            format!("error code {errorcode} raised by the application"),
        ),
    );
    MPI_SUCCESS
}
#[no_mangle]
pub unsafe extern "C" fn MPI_File_call_errhandler(fh: MPI_File, errorcode: c_int) -> c_int {
    PMPI_File_call_errhandler(fh, errorcode)
}

// ---- handle conversions ----

mpi_plain! { fn MPI_File_c2f / PMPI_File_c2f(fh: MPI_File) -> MPI_Fint {
    if fh.is_null() { 0 } else { handle_of(fh) }
}}

mpi_plain! { fn MPI_File_f2c / PMPI_File_f2c(fh: MPI_Fint) -> MPI_File {
    if fh == 0 || with_obj(ptr_of(fh), |_| Ok(())).is_err() { MPI_FILE_NULL } else { ptr_of(fh) }
}}
