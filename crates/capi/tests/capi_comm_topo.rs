//! Groups, communicator management, topologies, neighborhood collectives and
//! sessions from C: each program built with our mpicc and with Debian's
//! mpicc.mpich (run on our libmpich.so.12), on 1 to 4 ranks under our mpirun;
//! where the output is deterministic it must equal real MPICH's (mpiexec.mpich)
//! line for line (sorted: ranks print in any order).
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

mod common;
use common::*;

#[test]
fn groups_communicators_intercommunicators_errors() {
    check_both_builds("comm_groups.c", &[1, 2, 3, 4], true);
}

#[test]
fn topologies_and_neighborhood_collectives() {
    check_both_builds("topo_neighbors.c", &[1, 2, 3, 4], true);
}

#[test]
fn sessions_world_and_self() {
    check_both_builds("session_world_self.c", &[1, 2, 4], true);
}
