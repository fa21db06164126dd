//! The C ABI of vmpi: `libmpi.so.12`, binary compatible with MPICH 4.x.
//!
//! Every MPI function is defined once as `PMPI_x` (the profiling name) and exported
//! again as `MPI_x`, a thin call to it, so that a tool can interpose on `MPI_x`.
//! Handles are ints with MPICH's values; objects live in the tables of [`state`].
//! Every call checks its arguments the way MPICH does and reports an error through
//! the error handler of its communicator ([`err`]): `MPI_ERRORS_ARE_FATAL` (the
//! default) prints the call with its arguments, the rank and the reason, and ends
//! the job; `MPI_ERRORS_RETURN` returns the class; a user handler is called.
//!
//! One module per family. Families built elsewhere plug in as modules of their own
//! when they land (derived datatypes: `dtype` grows; collectives and reduction ops:
//! `coll`; communicator management: `comm`); until then their functions are absent
//! from the library (their prototypes stay in mpi.h). docs/c-abi.md lists them.
#![allow(non_snake_case, non_camel_case_types, clippy::missing_safety_doc)]

#[macro_use]
mod macros;
pub mod consts;
pub mod err;
pub mod state;

pub mod attr;
pub mod coll;
pub mod comm;
pub mod dtype;
pub mod dynamic;
pub mod env;
pub mod errh;
pub mod file;
pub mod info;
pub mod misc;
pub mod mpit;
pub mod op;
pub mod p2p;
pub mod part;
pub mod req;
// groups, topologies, sessions (capi-comm)
pub mod group;
pub mod neighbor;
pub mod session;
pub mod topo;
pub mod win;
