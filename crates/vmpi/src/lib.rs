//! # vmpi: MPI for HPC clouds
//!
//! vmpi is an MPI library for clusters whose ranks live in virtual machines and
//! containers. At start-up it finds out by evidence (kernel boot id, namespaces, a
//! /dev/shm probe, a Cross Memory Attach probe) which ranks share memory, and gives
//! every pair of ranks the fastest channel that really works: shared-memory queues
//! (with CMA single-copy for large messages) or TCP.
//!
//! ```
//! fn main() -> vmpi::Result<()> {
//!     let universe = vmpi::init()?;
//!     let world = universe.world();
//!     let (rank, size) = (world.rank(), world.size());
//!     let next = (rank + 1) % size;
//!     let prev = (rank + size - 1) % size;
//!     let mut token = [0u64];
//!     if rank == 0 {
//!         world.send(&[42u64], next, 0)?;
//!         world.recv(&mut token, prev, 0)?;
//!     } else {
//!         world.recv(&mut token, prev, 0)?;
//!         world.send(&token, next, 0)?;
//!     }
//!     // Nonblocking operations live in a scope that outlives their buffers.
//!     let mine = [rank; 4];
//!     let mut got = vec![0i32; 4];
//!     vmpi::scope(|s| -> vmpi::Result<()> {
//!         let r = s.irecv(world, &mut got, vmpi::ANY_SOURCE, 7)?;
//!         let t = s.isend(world, &mine, prev, 7)?;
//!         vmpi::wait_all(&mut [r, t])?;
//!         Ok(())
//!     })?;
//!     world.barrier()?;
//!     println!("rank {rank}: {:?}, channel to {next}: {:?}", got, universe.channel_to(next as usize)?);
//!     Ok(())
//! }
//! ```
//!
//! Started alone (as this example runs under `cargo test`) it is a world of one rank
//! that talks to itself. Run it with `mpirun -np 4 ./prog` (or MPICH's `mpiexec.mpich`). The layers are
//! described in docs/architecture.md: `bootstrap`, `locality`, `transport`,
//! `p2p`, `comm`, `coll` and `io`, private to this crate, and this crate's API on
//! top. The C ABI (crate `vmpi-capi`) reaches the layers through [`sys`] only.

pub(crate) mod api;
pub(crate) mod bootstrap;
pub(crate) mod coll;
pub(crate) mod comm;
pub(crate) mod config;
pub(crate) mod datatype;
pub(crate) mod error;
#[cfg(all(test, not(loom)))]
pub(crate) mod harness;
pub(crate) mod io;
pub(crate) mod locality;
pub(crate) mod op;
pub(crate) mod p2p;
pub(crate) mod rma;
pub(crate) mod runtime;
#[doc(hidden)]
pub mod sys;
pub(crate) mod transport;

pub use api::wtime;
pub use api::{
    init, scope, test_all, user_op, wait_all, wait_any, wait_some, ChannelInfo, Communicator,
    Complex32, Complex64, DoubleInt, Equivalence, FloatInt, Input, LongInt, Request, Scope, TwoInt,
    Universe,
};
pub use coll::ROOT;
pub use comm::mgmt::COMM_TYPE_SHARED;
pub use comm::{Compare, Group, UNDEFINED};
pub use datatype::Basic;
pub use error::{Cause, Error, ErrorClass, PeerFault, Result};
pub use op::Op;
pub use p2p::{Status, ANY_SOURCE, ANY_TAG, PROC_NULL};
