//! Error handlers and error codes: MPI_Comm_{create,set,get,call}_errhandler,
//! MPI_Errhandler_free, MPI_Error_{string,class}, MPI_Add_error_{class,code,string}.
//! Codes returned by the library are the classes themselves (MPICH also answers
//! MPI_Error_class(c) == c for them), so `rc == MPI_ERR_RANK` works.
//!
//! Classes and codes the application adds are numbered in one sequence above
//! MPI_ERR_LASTCODE (0x3fffffff), from 0x40000001 (MPICH's first added class), so
//! they never collide with the library's own codes; MPI_LASTUSEDCODE is the last
//! one handed out (MPI_ERR_LASTCODE before any). MPICH numbers a code as
//! `index << 8 | class` (below MPI_ERR_LASTCODE for a predefined class) and its
//! MPI_LASTUSEDCODE follows the classes only; vmpi follows every added value, as
//! MPI-3.1 §8.5 describes the attribute.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{class_string, err, fail, raise, CommErrFn, R};
use crate::state::st;
use std::os::raw::{c_char, c_int};

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_create_errhandler / PMPI_Comm_create_errhandler(comm_errhandler_fn: Option<CommErrFn>, errhandler: *mut MPI_Errhandler) {
    let Some(f) = comm_errhandler_fn else {
        return fail(MPI_ERR_ARG, "the handler function is a null pointer");
    };
    let o = out(errhandler, "errhandler")?;
    *o = st().errhs.insert(f);
    Ok(())
}}

pub(crate) fn check_errh(h: MPI_Errhandler) -> R<()> {
    match h {
        MPI_ERRORS_ARE_FATAL
        | MPI_ERRORS_RETURN
        | MPI_ERRORS_ABORT
        | MPIR_ERRORS_THROW_EXCEPTIONS => Ok(()),
        _ if st().errhs.get(h).is_some() => Ok(()),
        MPI_ERRHANDLER_NULL => fail(MPI_ERR_ARG, "null error handler (MPI_ERRHANDLER_NULL)"),
        _ => fail(
            MPI_ERR_ARG,
            format!("invalid error handler {:#x}", h as u32),
        ),
    }
}

mpi_fn! { comm => fn MPI_Comm_set_errhandler / PMPI_Comm_set_errhandler(comm: MPI_Comm, errhandler: MPI_Errhandler) {
    check_errh(errhandler)?;
    st().comm_mut(comm)?.errh = errhandler;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_get_errhandler / PMPI_Comm_get_errhandler(comm: MPI_Comm, errhandler: *mut MPI_Errhandler) {
    let h = st().comm(comm)?.errh;
    *out(errhandler, "errhandler")? = h;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Errhandler_set / PMPI_Errhandler_set(comm: MPI_Comm, errhandler: MPI_Errhandler) {
    check_errh(errhandler)?;
    st().comm_mut(comm)?.errh = errhandler;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Errhandler_get / PMPI_Errhandler_get(comm: MPI_Comm, errhandler: *mut MPI_Errhandler) {
    let h = st().comm(comm)?.errh;
    *out(errhandler, "errhandler")? = h;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Errhandler_create / PMPI_Errhandler_create(function: Option<CommErrFn>, errhandler: *mut MPI_Errhandler) {
    PMPI_Comm_create_errhandler_checked(function, errhandler)
}}

unsafe fn PMPI_Comm_create_errhandler_checked(
    f: Option<CommErrFn>,
    h: *mut MPI_Errhandler,
) -> R<()> {
    let Some(f) = f else {
        return fail(MPI_ERR_ARG, "the handler function is a null pointer");
    };
    let o = out(h, "errhandler")?;
    *o = st().errhs.insert(f);
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Errhandler_free / PMPI_Errhandler_free(errhandler: *mut MPI_Errhandler) {
    let h = out(errhandler, "errhandler")?;
    check_errh(*h)?;
    // A user handler stays usable by the communicators that have it set (MPI says
    // it is freed once none refers to it); its slot is small, so it is kept.
    *h = MPI_ERRHANDLER_NULL;
    Ok(())
}}

#[no_mangle]
pub unsafe extern "C" fn PMPI_Comm_call_errhandler(comm: MPI_Comm, errorcode: c_int) -> c_int {
    if let Err(e) = st().comm(comm) {
        return raise("MPI_Comm_call_errhandler", "", comm, e);
    }
    raise(
        "MPI_Comm_call_errhandler",
        &format!("comm={:#x}, errorcode={errorcode}", comm as u32),
        comm,
        err(
            errorcode,
            format!("error code {errorcode} raised by the application"),
        ),
    );
    MPI_SUCCESS
}
#[no_mangle]
pub unsafe extern "C" fn MPI_Comm_call_errhandler(comm: MPI_Comm, errorcode: c_int) -> c_int {
    PMPI_Comm_call_errhandler(comm, errorcode)
}

/// The class of an error code, if the code is known.
pub fn class_of(code: c_int) -> Option<c_int> {
    if (0..=MPICH_ERR_LAST_CLASS).contains(&code) || (101..=105).contains(&code) {
        return Some(code);
    }
    let s = st();
    if s.user_classes.contains(&code) {
        return Some(code);
    }
    s.user_codes.get(&code).copied()
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Error_class / PMPI_Error_class(errorcode: c_int, errorclass: *mut c_int) {
    let c = class_of(errorcode).ok_or_else(|| err(MPI_ERR_ARG, format!("invalid error code {errorcode}")))?;
    *out(errorclass, "errorclass")? = c;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Error_string / PMPI_Error_string(errorcode: c_int, string: *mut c_char, resultlen: *mut c_int) {
    let user = st().err_strings.get(&errorcode).cloned();
    let text = match user {
        Some(s) => s,
        None => match class_string(errorcode) {
            Some(s) => s.to_string(),
            None if (101..=105).contains(&errorcode) => "Process failure or revoked communicator".to_string(),
            None if class_of(errorcode).is_some() => String::new(),
            None => return fail(MPI_ERR_ARG, format!("invalid error code {errorcode}")),
        },
    };
    if string.is_null() {
        return fail(MPI_ERR_ARG, "string is a null pointer");
    }
    let n = text.len().min(MPI_MAX_ERROR_STRING - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr() as *const c_char, string, n);
    *string.add(n) = 0;
    *out(resultlen, "resultlen")? = n as c_int;
    Ok(())
}}

/// The next class or code to add; MPI_ERR_OTHER once the numbers run out.
fn next_code() -> R<c_int> {
    let mut s = st();
    s.last_code = match s.last_code {
        MPI_ERR_LASTCODE => MPI_ERR_LASTCODE + 2,
        c if c < c_int::MAX => c + 1,
        _ => {
            return fail(
                MPI_ERR_OTHER,
                "no error class or code is left to add (all up to INT_MAX are used)",
            )
        }
    };
    Ok(s.last_code)
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Add_error_class / PMPI_Add_error_class(errorclass: *mut c_int) {
    let o = out(errorclass, "errorclass")?;
    let c = next_code()?;
    st().user_classes.push(c);
    *o = c;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Add_error_code / PMPI_Add_error_code(errorclass: c_int, errorcode: *mut c_int) {
    let known = (0..=MPICH_ERR_LAST_CLASS).contains(&errorclass) || st().user_classes.contains(&errorclass);
    if !known {
        return fail(MPI_ERR_ARG, format!("invalid error class {errorclass}"));
    }
    let o = out(errorcode, "errorcode")?;
    let c = next_code()?;
    st().user_codes.insert(c, errorclass);
    *o = c;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Add_error_string / PMPI_Add_error_string(errorcode: c_int, string: *const c_char) {
    let mut s = st();
    if !(s.user_classes.contains(&errorcode) || s.user_codes.contains_key(&errorcode)) {
        return fail(MPI_ERR_ARG, format!("error code {errorcode} was not added by MPI_Add_error_class/code"));
    }
    if string.is_null() {
        return fail(MPI_ERR_ARG, "string is a null pointer");
    }
    let t = std::ffi::CStr::from_ptr(string).to_string_lossy().into_owned();
    if t.len() >= MPI_MAX_ERROR_STRING {
        return fail(MPI_ERR_ARG, format!("string longer than MPI_MAX_ERROR_STRING ({})", t.len()));
    }
    s.err_strings.insert(errorcode, t);
    Ok(())
}}
