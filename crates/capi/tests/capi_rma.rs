//! One-sided communication (MPI_Win_*): the C programs `tests/c/rma_*.c`, each
//! built with our mpicc and with Debian's mpicc.mpich, run under our mpirun on 1 to
//! 4 ranks (every rank must print `rank R of N: PASS`, both builds the same lines),
//! and compared line for line (sorted) with real MPICH 4.0.2 (mpiexec.mpich), which
//! passes every one of them at 1 to 4 ranks. Then our build alone with every pair
//! over TCP (`MV2_USE_SHARED_MEM=0`) and with shared memory and TCP mixed
//! (`VMPI_SHM_DOMAIN_SPLIT=2`: ranks 0-1 and 2-3 are two "hosts") at 4 ranks, still
//! compared with MPICH's output (it does not depend on the transport), and the
//! heaviest two at 8 ranks (rma_ops compared with MPICH there too).
//!
//! The programs print what they check, so a failure names the case, rank and
//! element: rma_ops (every operation under every synchronization mode, ring and
//! all-to-one), rma_datatypes (derived layouts on both sides), rma_flavors (create,
//! allocate, allocate_shared with direct load/store, dynamic; attributes, names,
//! info, keyvals), rma_atomicity (contended counters, non-tearing, accumulate
//! ordering), rma_errors (error classes, window error handlers).
//!
//! Every run of ours has a time limit (`MPIEXEC_TIMEOUT`): a hang in a
//! synchronization call fails the test instead of stopping the suite.
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

mod common;
use common::*;

const LIMIT: (&str, &str) = ("MPIEXEC_TIMEOUT", "120");
const TCP: (&str, &str) = ("MV2_USE_SHARED_MEM", "0");
const SPLIT: (&str, &str) = ("VMPI_SHM_DOMAIN_SPLIT", "2");

fn one_to_four(src: &str) {
    check_both_builds_env(src, &[1, 2, 3, 4], true, &[LIMIT]);
}

fn over_tcp(src: &str) {
    check_both_builds_env(src, &[4], true, &[LIMIT, TCP]);
}

fn shm_and_tcp_mixed(src: &str) {
    check_both_builds_env(src, &[4], true, &[LIMIT, SPLIT]);
}

#[test]
fn every_operation_under_every_synchronization() {
    one_to_four("rma_ops.c");
}

#[test]
fn every_operation_under_every_synchronization_over_tcp() {
    over_tcp("rma_ops.c");
}

#[test]
fn every_operation_under_every_synchronization_shm_and_tcp_mixed() {
    shm_and_tcp_mixed("rma_ops.c");
}

#[test]
fn every_operation_under_every_synchronization_on_8_ranks() {
    check_both_builds_env("rma_ops.c", &[8], true, &[LIMIT]);
}

#[test]
fn derived_datatypes_on_both_sides() {
    one_to_four("rma_datatypes.c");
}

#[test]
fn derived_datatypes_on_both_sides_over_tcp() {
    over_tcp("rma_datatypes.c");
}

#[test]
fn derived_datatypes_on_both_sides_shm_and_tcp_mixed() {
    shm_and_tcp_mixed("rma_datatypes.c");
}

#[test]
fn window_flavors_and_attributes() {
    one_to_four("rma_flavors.c");
}

#[test]
fn window_flavors_and_attributes_over_tcp() {
    over_tcp("rma_flavors.c");
}

#[test]
fn window_flavors_and_attributes_shm_and_tcp_mixed() {
    // MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) gives each "host" of two ranks its
    // own shared window; the program works for any node size.
    shm_and_tcp_mixed("rma_flavors.c");
}

#[test]
fn atomicity_under_contention() {
    one_to_four("rma_atomicity.c");
}

#[test]
fn atomicity_under_contention_over_tcp() {
    over_tcp("rma_atomicity.c");
}

#[test]
fn atomicity_under_contention_shm_and_tcp_mixed() {
    shm_and_tcp_mixed("rma_atomicity.c");
}

#[test]
fn atomicity_under_contention_on_8_ranks() {
    // Not compared with MPICH at 8 ranks: it passes, but takes 20-30 s on 2 cores.
    check_both_builds_env("rma_atomicity.c", &[8], false, &[LIMIT]);
}

#[test]
fn error_classes_and_window_error_handlers() {
    one_to_four("rma_errors.c");
}

#[test]
fn error_classes_and_window_error_handlers_over_tcp() {
    over_tcp("rma_errors.c");
}
