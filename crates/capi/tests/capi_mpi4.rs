//! The MPI-4 functions of MPICH 4.0's ABI: the large-count `_c` forms, the
//! nonblocking sendrecv, and the MPI-4 additions to info, sessions and communicator
//! duplication. Each C program in `tests/c/mpi4_*.c` is built with our mpicc and
//! with mpicc.mpich, run on 1 to 4 ranks under our mpirun, and compared with real
//! MPICH where its output is deterministic.
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

mod common;
use common::*;

#[test]
fn large_count_point_to_point() {
    check_both_builds("mpi4_p2p.c", &[1, 2, 3, 4], true);
}

#[test]
fn large_count_datatypes_pack_and_ops() {
    check_both_builds("mpi4_dtype.c", &[1, 2], true);
}

#[test]
fn large_count_collectives_and_neighborhood_collectives() {
    check_both_builds("mpi4_coll.c", &[1, 2, 3, 4], true);
}

#[test]
fn idup_with_info_info_strings_and_session_errhandlers() {
    check_both_builds("mpi4_misc.c", &[1, 2, 3], true);
}

#[test]
fn isendrecv_completes_when_both_halves_have() {
    // Not compared with MPICH 4.0.2: its MPI_Isendrecv leaves the status empty
    // and its MPI_Isendrecv_replace of a derived type fails an assertion.
    check_both_builds("mpi4_isendrecv.c", &[1, 2, 3, 4], false);
}

#[test]
fn fortran_2008_status_conversions_and_dup_fn() {
    // Our build only: MPICH 4.0.2 defines the conversions in its Fortran library.
    let exe = tmp().join("mpi4_status_f08");
    compile(&prefix().join("bin/mpicc"), "mpi4_status_f08.c", &exe);
    for n in [1, 2] {
        expect_pass(n, &exe);
    }
}
