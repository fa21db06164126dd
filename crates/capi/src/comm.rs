//! Communicator queries that need no new communicator: rank, size, compare, names,
//! the inter test. Communicator management (dup, split, create, groups,
//! intercommunicators) plugs in beside this module when vmpi::comm has it: it adds
//! entries to `State::comms` (handles from `State::next_comm`, prefix DYN_COMM),
//! copies attributes with `attr::copy_all` and deletes them with `attr::delete_all`.

use crate::consts::*;
use crate::dtype::{copy_name, out};
use crate::err::{fail, R};
use crate::state::st;
use std::os::raw::{c_char, c_int};

mpi_fn! { comm => fn MPI_Comm_rank / PMPI_Comm_rank(comm: MPI_Comm, rank: *mut c_int) {
    let r = st().comm(comm)?.comm.rank;
    *out(rank, "rank")? = r;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_size / PMPI_Comm_size(comm: MPI_Comm, size: *mut c_int) {
    let n = st().comm(comm)?.comm.size();
    *out(size, "size")? = n;
    Ok(())
}}

mpi_fn! { comm1 => fn MPI_Comm_compare / PMPI_Comm_compare(comm1: MPI_Comm, comm2: MPI_Comm, result: *mut c_int) {
    let s = st();
    let a = s.comm(comm1)?.comm.clone();
    let b = s.comm(comm2)?.comm.clone();
    drop(s);
    *out(result, "result")? = if comm1 == comm2 {
        MPI_IDENT
    } else if a.group == b.group {
        if a.rank == b.rank { MPI_CONGRUENT } else { 2 /* MPI_SIMILAR */ }
    } else {
        MPI_UNEQUAL
    };
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_get_name / PMPI_Comm_get_name(comm: MPI_Comm, comm_name: *mut c_char, resultlen: *mut c_int) {
    let name = st().comm(comm)?.name.clone();
    if comm_name.is_null() {
        return fail(MPI_ERR_ARG, "comm_name is a null pointer");
    }
    copy_name(&name, comm_name, resultlen);
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_set_name / PMPI_Comm_set_name(comm: MPI_Comm, comm_name: *const c_char) {
    if comm_name.is_null() {
        return fail(MPI_ERR_ARG, "comm_name is a null pointer");
    }
    let n = std::ffi::CStr::from_ptr(comm_name).to_string_lossy().into_owned();
    st().comm_mut(comm)?.name = n;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Comm_test_inter / PMPI_Comm_test_inter(comm: MPI_Comm, flag: *mut c_int) {
    st().comm(comm)?;
    *out(flag, "flag")? = 0;
    Ok(())
}}

mpi_fn! { comm => fn MPI_Topo_test / PMPI_Topo_test(comm: MPI_Comm, status: *mut c_int) {
    st().comm(comm)?;
    *out(status, "status")? = MPI_UNDEFINED;
    Ok(())
}}

/// For the argument checks of the calls on a communicator.
pub fn check(comm: MPI_Comm) -> R<vmpi::comm::Comm> {
    crate::state::comm(comm)
}
