//! Collectives. The collectives family (vmpi::coll, vmpi::op) plugs in here when it
//! lands; for now only the barrier, which the core already has.

use crate::consts::*;
use crate::state;

mpi_fn! { comm => fn MPI_Barrier / PMPI_Barrier(comm: MPI_Comm) {
    let c = state::comm(comm)?;
    vmpi::coll::barrier(&c)?;
    Ok(())
}}
