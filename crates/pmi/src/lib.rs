//! What the vmpi library and the vmpi launcher must agree on byte for byte: the PMI-1
//! wire format (simple PMI v1.1, as MPICH Hydra and Slurm speak it), the PMI-2 wire
//! format the library speaks to Slurm's `mpi/pmi2` plugin, and the names of a job's
//! files in /dev/shm.

pub mod jobkey;
pub mod wire;
pub mod wire2;
