//! Dynamic processes (MPI-3.1 chapter 10): spawning, ports, connect/accept, join
//! and name publishing. vmpi's launchers start a job's processes once; nothing
//! starts more of them or joins two jobs yet. Each function exists, so that
//! programs and bindings that mention them (mpi4py resolves every one at import)
//! link and load, and each fails with its class (`MPI_ERR_SPAWN`, `MPI_ERR_PORT`,
//! `MPI_ERR_NAME`, `MPI_ERR_SERVICE`) and a message through the error handler,
//! after the usual argument checks. `MPI_Comm_get_parent` (in comm.rs) gives
//! `MPI_COMM_NULL`: no process has a parent.

use crate::consts::*;
use crate::err::{fail, R};
use crate::state::st;
use std::os::raw::{c_char, c_int};

pub const MPI_ERR_NAME: c_int = 33;
pub const MPI_ERR_PORT: c_int = 38;
pub const MPI_ERR_SERVICE: c_int = 41;
pub const MPI_ERR_SPAWN: c_int = 42;

const NO_SPAWN: &str = "vmpi does not start processes after launch: a job is the processes \
                        its launcher started (run them all with mpirun -np, or srun)";
const NO_PORTS: &str = "vmpi does not connect separate jobs (no ports, connect/accept or join): \
                        start the processes as one job";
const NO_NAMES: &str = "vmpi has no name publishing service (it does not connect separate jobs)";

/// The outputs a failed spawn still sets: the new intercommunicator is
/// MPI_COMM_NULL and every process's error code is MPI_ERR_SPAWN.
unsafe fn spawn_failed(intercomm: *mut MPI_Comm, errcodes: *mut c_int, n: c_int) -> R<()> {
    if !intercomm.is_null() {
        // SAFETY: the caller's output argument, not null.
        *intercomm = MPI_COMM_NULL;
    }
    if !errcodes.is_null() && n > 0 {
        // SAFETY: MPI makes the caller give one error code per process asked for.
        std::slice::from_raw_parts_mut(errcodes, n as usize).fill(MPI_ERR_SPAWN);
    }
    fail(MPI_ERR_SPAWN, NO_SPAWN)
}

fn check_root(comm: MPI_Comm, root: c_int) -> R<()> {
    crate::coll::root_ok(&st().comm(comm)?.comm, root)
}

mpi_fn! { comm => fn MPI_Comm_spawn / PMPI_Comm_spawn(command: *const c_char, argv: *mut *mut c_char, maxprocs: c_int, info: MPI_Info, root: c_int, comm: MPI_Comm, intercomm: *mut MPI_Comm, array_of_errcodes: *mut c_int) {
    let _ = (command, argv, info);
    check_root(comm, root)?;
    if intercomm.is_null() {
        return fail(MPI_ERR_ARG, "intercomm is a null pointer");
    }
    spawn_failed(intercomm, array_of_errcodes, maxprocs)
}}

mpi_fn! { comm => fn MPI_Comm_spawn_multiple / PMPI_Comm_spawn_multiple(count: c_int, array_of_commands: *mut *mut c_char, array_of_argv: *mut *mut *mut c_char, array_of_maxprocs: *const c_int, array_of_info: *const MPI_Info, root: c_int, comm: MPI_Comm, intercomm: *mut MPI_Comm, array_of_errcodes: *mut c_int) {
    let _ = (array_of_commands, array_of_argv, array_of_info);
    check_root(comm, root)?;
    if intercomm.is_null() {
        return fail(MPI_ERR_ARG, "intercomm is a null pointer");
    }
    let mut total: c_int = 0;
    if count > 0 && !array_of_maxprocs.is_null() {
        // SAFETY: MPI makes the caller give `count` process counts.
        for &m in std::slice::from_raw_parts(array_of_maxprocs, count as usize) {
            total = total.saturating_add(m.max(0));
        }
    }
    spawn_failed(intercomm, array_of_errcodes, total)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Open_port / PMPI_Open_port(info: MPI_Info, port_name: *mut c_char) {
    let _ = (info, port_name);
    fail(MPI_ERR_PORT, NO_PORTS)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Close_port / PMPI_Close_port(port_name: *const c_char) {
    let _ = port_name;
    fail(MPI_ERR_PORT, format!("no port was opened: {NO_PORTS}"))
}}

mpi_fn! { comm => fn MPI_Comm_accept / PMPI_Comm_accept(port_name: *const c_char, info: MPI_Info, root: c_int, comm: MPI_Comm, newcomm: *mut MPI_Comm) {
    let _ = (port_name, info);
    check_root(comm, root)?;
    if !newcomm.is_null() {
        // SAFETY: the caller's output argument, not null.
        *newcomm = MPI_COMM_NULL;
    }
    fail(MPI_ERR_PORT, NO_PORTS)
}}

mpi_fn! { comm => fn MPI_Comm_connect / PMPI_Comm_connect(port_name: *const c_char, info: MPI_Info, root: c_int, comm: MPI_Comm, newcomm: *mut MPI_Comm) {
    let _ = (port_name, info);
    check_root(comm, root)?;
    if !newcomm.is_null() {
        // SAFETY: the caller's output argument, not null.
        *newcomm = MPI_COMM_NULL;
    }
    fail(MPI_ERR_PORT, NO_PORTS)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Comm_join / PMPI_Comm_join(fd: c_int, intercomm: *mut MPI_Comm) {
    let _ = fd;
    if !intercomm.is_null() {
        // SAFETY: the caller's output argument, not null.
        *intercomm = MPI_COMM_NULL;
    }
    fail(MPI_ERR_PORT, NO_PORTS)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Publish_name / PMPI_Publish_name(service_name: *const c_char, info: MPI_Info, port_name: *const c_char) {
    let _ = (service_name, info, port_name);
    fail(MPI_ERR_SERVICE, NO_NAMES)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Unpublish_name / PMPI_Unpublish_name(service_name: *const c_char, info: MPI_Info, port_name: *const c_char) {
    let _ = (service_name, info, port_name);
    fail(MPI_ERR_SERVICE, NO_NAMES)
}}

mpi_fn! { MPI_COMM_WORLD => fn MPI_Lookup_name / PMPI_Lookup_name(service_name: *const c_char, info: MPI_Info, port_name: *mut c_char) {
    let _ = (service_name, info, port_name);
    fail(MPI_ERR_NAME, NO_NAMES)
}}
