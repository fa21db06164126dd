//! Errors of the C interface: a class (or a user-added code), a message, and the
//! communicator whose error handler hears about it; the error handlers themselves.

use crate::consts::*;
use crate::state;
use std::ffi::c_void;
use std::fmt;
use std::os::raw::c_int;

/// An error of a C call. Boxed, so that `R<()>` is one register (see
/// `vmpi::Error`: a result returned through memory makes the caller wait for the
/// collective's stores into shared memory).
#[derive(Debug)]
pub struct MpiErr(Box<ErrInfo>);

#[derive(Debug)]
pub struct ErrInfo {
    pub code: c_int,
    pub msg: String,
    /// Raise on this communicator rather than the call's (a request's own).
    pub comm: Option<MPI_Comm>,
}

impl std::ops::Deref for MpiErr {
    type Target = ErrInfo;
    fn deref(&self) -> &ErrInfo {
        &self.0
    }
}

impl std::ops::DerefMut for MpiErr {
    fn deref_mut(&mut self) -> &mut ErrInfo {
        &mut self.0
    }
}

impl MpiErr {
    /// An error raised on `comm`'s handler.
    pub fn on(comm: MPI_Comm, code: c_int, msg: impl Into<String>) -> MpiErr {
        MpiErr(Box::new(ErrInfo {
            code,
            msg: msg.into(),
            comm: Some(comm),
        }))
    }
}

pub type R<T> = Result<T, MpiErr>;

pub fn err(code: c_int, msg: impl Into<String>) -> MpiErr {
    MpiErr(Box::new(ErrInfo {
        code,
        msg: msg.into(),
        comm: None,
    }))
}

pub fn fail<T>(code: c_int, msg: impl Into<String>) -> R<T> {
    Err(err(code, msg))
}

impl From<vmpi::Error> for MpiErr {
    fn from(e: vmpi::Error) -> Self {
        let class = e.class as c_int;
        err(class, e.into_message())
    }
}

/// How an argument shows in an error message: handles in hex, pointers as
/// addresses, numbers as numbers.
pub struct Arg<'a, T>(pub &'a T);

pub trait ShowArg {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}
impl ShowArg for c_int {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self >= 0x0400_0000 || *self < -0x1000_0000 {
            write!(f, "{:#x}", *self as u32)
        } else {
            write!(f, "{self}")
        }
    }
}
macro_rules! show_plain {
    ($($t:ty),*) => {$(impl ShowArg for $t {
        fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{:?}", self) }
    })*};
}
show_plain!(isize, i64, f64);
impl<T> ShowArg for *const T {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}", *self)
    }
}
impl<T> ShowArg for *mut T {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}", *self)
    }
}
impl<T> ShowArg for Option<T> {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", if self.is_some() { "<function>" } else { "NULL" })
    }
}
impl<T: ShowArg> fmt::Display for Arg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.show(f)
    }
}

/// A user's communicator error handler (`MPI_Comm_errhandler_function`).
pub type CommErrFn = unsafe extern "C" fn(*mut MPI_Comm, *mut c_int, ...);

/// Report `e` from `call` through the error handler of `comm`; returns the code
/// the call returns (unless the handler ends the job).
pub fn raise(call: &str, args: &str, comm: MPI_Comm, e: MpiErr) -> c_int {
    let comm = e.comm.unwrap_or(comm);
    let handler = state::errhandler_of(comm);
    let mut code = e.code;
    match handler {
        Handler::Return => code,
        Handler::Fatal => {
            let msg = e
                .msg
                .strip_prefix(call)
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&e.msg);
            let line = match state::world_rank() {
                Some(r) => format!("vmpi: {call}({args}) on rank {r}: {msg}"),
                None => format!("vmpi: {call}({args}): {msg}"),
            };
            eprintln!("{line}");
            vmpi::sys::abort(if code > 0 && code < 256 { code } else { 1 }, &line)
        }
        Handler::User(f, mut c) => {
            // SAFETY: a function the application registered with this signature.
            unsafe { f(&mut c, &mut code) };
            code
        }
    }
}

pub enum Handler {
    Fatal,
    Return,
    User(CommErrFn, MPI_Comm),
}

/// The standard text of each predefined class.
pub fn class_string(class: c_int) -> Option<&'static str> {
    Some(match class {
        0 => "No MPI error",
        1 => "Invalid buffer pointer",
        2 => "Invalid count argument",
        3 => "Invalid datatype argument",
        4 => "Invalid tag argument",
        5 => "Invalid communicator",
        6 => "Invalid rank",
        7 => "Invalid root",
        8 => "Invalid group",
        9 => "Invalid MPI_Op",
        10 => "Invalid topology",
        11 => "Invalid dimension argument",
        12 => "Invalid argument",
        13 => "Unknown error",
        14 => "Message truncated",
        15 => "Other MPI error",
        16 => "Internal MPI error",
        17 => "Error code is in status",
        18 => "Pending request",
        19 => "Invalid MPI_Request",
        20 => "Permission denied",
        21 => "Invalid amode value",
        22 => "Invalid file name",
        23 => "Error in data conversion",
        24 => "Duplicate data representation",
        25 => "File exists",
        26 => "File in use",
        27 => "Invalid MPI_File",
        28 => "Invalid MPI_Info",
        29 => "Invalid key for MPI_Info",
        30 => "Invalid MPI_Info value",
        31 => "MPI_Info key not found",
        32 => "Other I/O error",
        33 => "Invalid service name",
        34 => "Out of memory",
        35 => "Objects not identical",
        36 => "Not enough space for file",
        37 => "File does not exist",
        38 => "Invalid port",
        39 => "Quota exceeded",
        40 => "Read-only file or filesystem",
        41 => "Attempt to lookup an unknown service name",
        42 => "Error in spawn call",
        43 => "Unsupported datarep",
        44 => "Operation not supported",
        45 => "Invalid MPI_Win",
        46 => "Invalid base address",
        47 => "Invalid lock type",
        48 => "Invalid keyval",
        49 => "Conflicting accesses to window",
        50 => "Wrong synchronization of RMA calls",
        51 => "Invalid size",
        52 => "Invalid displacement",
        53 => "Invalid assert",
        55 => "Address out of window",
        56 => "Memory cannot be attached",
        57 => "Memory cannot be shared",
        58 => "Invalid window flavor",
        59..=74 | 78 => "MPI tool interface error",
        75 => "Invalid session",
        76 => "Process aborted",
        77 => "Value too large",
        _ => return None,
    })
}

/// The user's `extra_state`/attribute pointers travel as usize inside the tables.
pub fn ptr_val(p: *mut c_void) -> usize {
    p as usize
}
