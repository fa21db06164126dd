//! Environment: init and finalize, thread levels, versions, timers.

use crate::consts::*;
use crate::dtype::out;
use crate::err::{fail, R};
use crate::state::{st, CommObj};
use std::os::raw::{c_char, c_int};
use vmpi::sys;

pub(crate) fn init(call: &str) -> R<()> {
    if sys::is_initialized() {
        return fail(
            MPI_ERR_OTHER,
            if sys::is_finalized() {
                format!("{call} called after MPI_Finalize")
            } else {
                format!("{call} called twice")
            },
        );
    }
    sys::init()?;
    let (rank, size) = sys::with(call, |rt| Ok((rt.rank(), rt.size())))?;
    let mut s = st();
    s.world = Some((rank, size));
    s.main_thread = Some(std::thread::current().id());
    for (h, comm, name) in [
        (
            MPI_COMM_WORLD,
            vmpi::sys::comm::Comm::world(rank, size),
            "MPI_COMM_WORLD",
        ),
        (
            MPI_COMM_SELF,
            vmpi::sys::comm::Comm::self_comm(rank),
            "MPI_COMM_SELF",
        ),
    ] {
        s.insert_comm(
            h,
            CommObj {
                comm,
                name: name.into(),
                errh: MPI_ERRORS_ARE_FATAL,
                attrs: Default::default(),
            },
        );
    }
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Init / PMPI_Init(argc: *mut c_int, argv: *mut *mut *mut c_char) {
    let _ = (argc, argv);
    init("MPI_Init")
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Init_thread / PMPI_Init_thread(argc: *mut c_int, argv: *mut *mut *mut c_char, required: c_int, provided: *mut c_int) {
    let _ = (argc, argv, required);
    init("MPI_Init_thread")?;
    // Every call takes the runtime's lock: MPI_THREAD_MULTIPLE whatever was asked.
    if !provided.is_null() {
        *provided = MPI_THREAD_MULTIPLE;
    }
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Initialized / PMPI_Initialized(flag: *mut c_int) {
    *out(flag, "flag")? = sys::is_initialized() as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Finalized / PMPI_Finalized(flag: *mut c_int) {
    *out(flag, "flag")? = sys::is_finalized() as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Finalize / PMPI_Finalize() {
    st().comm(MPI_COMM_WORLD)?;
    // MPI_COMM_SELF's attributes are deleted first: libraries hook finalize there.
    crate::attr::delete_all(MPI_COMM_SELF)?;
    crate::req::drain_detached_at_finalize()?;
    sys::finalize()?;
    let mut s = st();
    s.world = None;
    s.clear_comms();
    Ok(())
}}

mpi_fn! { comm => fn MPI_Abort / PMPI_Abort(comm: MPI_Comm, errorcode: c_int) {
    let rank = crate::state::world_rank();
    let msg = match rank {
        Some(r) => format!("MPI_Abort(comm={:#x}, errorcode={errorcode}) called on rank {r}", comm as u32),
        None => format!("MPI_Abort(comm={:#x}, errorcode={errorcode}) called", comm as u32),
    };
    sys::abort(errorcode, &msg)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Query_thread / PMPI_Query_thread(provided: *mut c_int) {
    *out(provided, "provided")? = st().thread_level;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Is_thread_main / PMPI_Is_thread_main(flag: *mut c_int) {
    let main = st().main_thread;
    *out(flag, "flag")? = (main == Some(std::thread::current().id())) as c_int;
    Ok(())
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_version / PMPI_Get_version(version: *mut c_int, subversion: *mut c_int) {
    *out(version, "version")? = 3;
    *out(subversion, "subversion")? = 1;
    Ok(())
}}

pub const LIBRARY_VERSION: &str = concat!(
    "vmpi ",
    env!("CARGO_PKG_VERSION"),
    " (MPI 3.1, MPICH 4.x ABI: libmpi.so.12)"
);

unsafe fn put_string(s: &str, dst: *mut c_char, max: usize, len: *mut c_int) -> R<()> {
    if dst.is_null() {
        return fail(MPI_ERR_ARG, "output string is a null pointer");
    }
    let b = s.as_bytes();
    let n = b.len().min(max - 1);
    std::ptr::copy_nonoverlapping(b.as_ptr() as *const c_char, dst, n);
    *dst.add(n) = 0;
    *out(len, "resultlen")? = n as c_int;
    Ok(())
}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_library_version / PMPI_Get_library_version(version: *mut c_char, resultlen: *mut c_int) {
    put_string(LIBRARY_VERSION, version, MPI_MAX_LIBRARY_VERSION_STRING, resultlen)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Get_processor_name / PMPI_Get_processor_name(name: *mut c_char, resultlen: *mut c_int) {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let h = if libc::gethostname(buf.as_mut_ptr() as *mut c_char, buf.len()) == 0 {
        let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".to_string()
    };
    put_string(&h, name, MPI_MAX_PROCESSOR_NAME, resultlen)
}}

mpi_plain! { fn MPI_Wtime / PMPI_Wtime() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}}

mpi_plain! { fn MPI_Wtick / PMPI_Wtick() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    libc::clock_getres(libc::CLOCK_MONOTONIC, &mut t);
    (t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9).max(1e-9)
}}

mpi_plain! { fn MPI_Pcontrol / PMPI_Pcontrol(level: c_int) -> c_int {
    // Variadic in C; the extra arguments are ignored (the x86-64 calling
    // convention lets a non-variadic definition receive the call).
    let _ = level;
    MPI_SUCCESS
}}
