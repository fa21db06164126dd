//! What the vmpi library and the vmpi launcher must agree on byte for byte: the PMI-1
//! wire format (simple PMI v1.1, as MPICH Hydra and Slurm speak it) and the names of
//! a job's files in /dev/shm.

pub mod jobkey;
pub mod wire;
