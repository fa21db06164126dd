//! MPI-IO (MPI-3.1 chapter 13) on POSIX file systems: files opened collectively
//! on a communicator, views built from any datatype, independent accesses with
//! data sieving, collective accesses with two-phase collective buffering through
//! aggregators chosen from the locality map, a shared file pointer in a locked
//! sidecar file, atomic mode by byte-range locks, nonblocking accesses on I/O
//! threads. docs/mpi-io.md describes the design.
//!
//! - `fs`: the system calls and errno → error class (no `unsafe`).
//! - `view`: a view flattened into (file offset, length) pieces.
//! - `hints`: the info keys a file understands.
//! - `sieve`: independent access, data sieving.
//! - `twophase`: collective buffering.
//! - `shared_fp`: the shared file pointer.
//! - `worker`: the I/O threads of the nonblocking accesses.
//! - `file`: an open file and its operations.

pub mod file;
pub mod fs;
pub mod hints;
pub mod shared_fp;
pub mod sieve;
pub mod twophase;
pub mod view;
pub mod worker;

pub use file::File;
pub use view::View;

// Access modes and whence values, as MPICH's mpio.h numbers them.
pub const MODE_CREATE: i32 = 1;
pub const MODE_RDONLY: i32 = 2;
pub const MODE_WRONLY: i32 = 4;
pub const MODE_RDWR: i32 = 8;
pub const MODE_DELETE_ON_CLOSE: i32 = 16;
pub const MODE_UNIQUE_OPEN: i32 = 32;
pub const MODE_EXCL: i32 = 64;
pub const MODE_APPEND: i32 = 128;
pub const MODE_SEQUENTIAL: i32 = 256;
pub const SEEK_SET: i32 = 600;
pub const SEEK_CUR: i32 = 602;
pub const SEEK_END: i32 = 604;
