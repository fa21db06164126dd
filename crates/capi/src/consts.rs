//! Handle values and constants of the MPICH ABI (the same numbers as include/mpi.h).
use std::os::raw::c_int;

pub type MPI_Comm = c_int;
pub type MPI_Datatype = c_int;
pub type MPI_Group = c_int;
pub type MPI_Op = c_int;
pub type MPI_Errhandler = c_int;
pub type MPI_Request = c_int;
pub type MPI_Message = c_int;
pub type MPI_Info = c_int;
pub type MPI_Win = c_int;
pub type MPI_Session = c_int;
pub type MPI_Fint = c_int;
pub type MPI_Aint = isize;
pub type MPI_Count = i64;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MPI_Status {
    pub count_lo: c_int,
    pub count_hi_and_cancelled: c_int,
    pub MPI_SOURCE: c_int,
    pub MPI_TAG: c_int,
    pub MPI_ERROR: c_int,
}

pub const MPI_COMM_NULL: MPI_Comm = 0x04000000;
pub const MPI_COMM_WORLD: MPI_Comm = 0x44000000;
pub const MPI_COMM_SELF: MPI_Comm = 0x44000001;
pub const MPI_DATATYPE_NULL: MPI_Datatype = 0x0c000000;
pub const MPI_REQUEST_NULL: MPI_Request = 0x2c000000;
pub const MPI_MESSAGE_NULL: MPI_Message = 0x2c000000;
pub const MPI_MESSAGE_NO_PROC: MPI_Message = 0x6c000000;
pub const MPI_ERRHANDLER_NULL: MPI_Errhandler = 0x14000000;
pub const MPI_INFO_NULL: MPI_Info = 0x1c000000;
pub const MPI_WIN_NULL: MPI_Win = 0x20000000;
pub const MPI_INFO_ENV: MPI_Info = 0x5c000001;
pub const MPI_KEYVAL_INVALID: c_int = 0x24000000;
pub const MPI_ERRORS_ARE_FATAL: MPI_Errhandler = 0x54000000;
pub const MPI_ERRORS_RETURN: MPI_Errhandler = 0x54000001;
pub const MPIR_ERRORS_THROW_EXCEPTIONS: MPI_Errhandler = 0x54000002;
pub const MPI_ERRORS_ABORT: MPI_Errhandler = 0x54000003;

pub const MPI_TAG_UB: c_int = 0x64400001;
pub const MPI_HOST: c_int = 0x64400003;
pub const MPI_IO: c_int = 0x64400005;
pub const MPI_WTIME_IS_GLOBAL: c_int = 0x64400007;
pub const MPI_UNIVERSE_SIZE: c_int = 0x64400009;
pub const MPI_LASTUSEDCODE: c_int = 0x6440000b;
pub const MPI_APPNUM: c_int = 0x6440000d;

pub const MPI_IDENT: c_int = 0;
pub const MPI_CONGRUENT: c_int = 1;
pub const MPI_UNEQUAL: c_int = 3;
pub const MPI_UNDEFINED: c_int = -32766;
pub const MPI_PROC_NULL: c_int = -1;
/// The root of a rooted collective on an intercommunicator (the core's `coll::ROOT`).
pub const MPI_ROOT: c_int = vmpi::sys::coll::ROOT;
pub const MPI_ANY_SOURCE: c_int = -2;
pub const MPI_ANY_TAG: c_int = -1;
pub const MPI_BSEND_OVERHEAD: usize = 96;
pub const MPI_THREAD_MULTIPLE: c_int = 3;
pub const MPI_MAX_PROCESSOR_NAME: usize = 128;
pub const MPI_MAX_LIBRARY_VERSION_STRING: usize = 8192;
pub const MPI_MAX_ERROR_STRING: usize = 512;
pub const MPI_MAX_OBJECT_NAME: usize = 128;
pub const MPI_MAX_INFO_KEY: usize = 255;
pub const MPI_MAX_INFO_VAL: usize = 1024;

pub const MPI_SUCCESS: c_int = 0;
pub const MPI_ERR_BUFFER: c_int = 1;
pub const MPI_ERR_COUNT: c_int = 2;
pub const MPI_ERR_TYPE: c_int = 3;
pub const MPI_ERR_TAG: c_int = 4;
pub const MPI_ERR_COMM: c_int = 5;
pub const MPI_ERR_RANK: c_int = 6;
pub const MPI_ERR_DIMS: c_int = 11;
pub const MPI_ERR_ARG: c_int = 12;
pub const MPI_ERR_TRUNCATE: c_int = 14;
pub const MPI_ERR_OTHER: c_int = 15;
pub const MPI_ERR_INTERN: c_int = 16;
pub const MPI_ERR_IN_STATUS: c_int = 17;
pub const MPI_ERR_PENDING: c_int = 18;
pub const MPI_ERR_REQUEST: c_int = 19;
pub const MPI_ERR_INFO: c_int = 28;
pub const MPI_ERR_INFO_KEY: c_int = 29;
pub const MPI_ERR_INFO_VALUE: c_int = 30;
pub const MPI_ERR_INFO_NOKEY: c_int = 31;
pub const MPI_ERR_KEYVAL: c_int = 48;
pub const MPI_ERR_WIN: c_int = 45;
pub const MPI_ERR_BASE: c_int = 46;
pub const MPI_ERR_LOCKTYPE: c_int = 47;
pub const MPI_ERR_SIZE: c_int = 51;
pub const MPI_ERR_DISP: c_int = 52;
pub const MPICH_ERR_LAST_CLASS: c_int = 78;
/// The last predefined error code (MPICH's value); classes and codes the
/// application adds are above it.
pub const MPI_ERR_LASTCODE: c_int = 0x3fff_ffff;

pub const STATUS_IGNORE: usize = 1;

/// Object kinds in bits 26-29 of a handle, as MPICH lays them out; dynamic objects
/// get 0x80000000 | kind | index.
pub const DYN_COMM: u32 = 0x8400_0000;
pub const DYN_ERRH: u32 = 0x9400_0000;
pub const DYN_INFO: u32 = 0x9c00_0000;
pub const DYN_KEYVAL: u32 = 0xa400_0000;
pub const DYN_REQUEST: u32 = 0xac00_0000;
pub const DYN_MESSAGE: u32 = 0xec00_0000;
