//! Errors of the library: every failure carries an MPI error class (the numeric values
//! are MPICH's, so the C ABI can return them unchanged) and a message that names the
//! call and the argument.

use std::fmt;

/// MPI error classes (values as in MPICH 4.x `mpi.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorClass {
    Success = 0,
    Buffer = 1,
    Count = 2,
    Type = 3,
    Tag = 4,
    Comm = 5,
    Rank = 6,
    Root = 7,
    Group = 8,
    Op = 9,
    Topology = 10,
    Dims = 11,
    Arg = 12,
    Unknown = 13,
    Truncate = 14,
    Other = 15,
    Intern = 16,
    InStatus = 17,
    Pending = 18,
    Request = 19,
    Access = 20,
    Amode = 21,
    BadFile = 22,
    Conversion = 23,
    DupDatarep = 24,
    FileExists = 25,
    FileInUse = 26,
    File = 27,
    Info = 28,
    InfoKey = 29,
    InfoValue = 30,
    InfoNokey = 31,
    Io = 32,
    Name = 33,
    NoMem = 34,
    NotSame = 35,
    NoSpace = 36,
    NoSuchFile = 37,
    Port = 38,
    Quota = 39,
    ReadOnly = 40,
    Service = 41,
    Spawn = 42,
    UnsupportedDatarep = 43,
    UnsupportedOperation = 44,
    Win = 45,
    Base = 46,
    Locktype = 47,
    Keyval = 48,
}

/// An error: its MPI class and a message naming the call and the argument.
///
/// Boxed, so that `Result<(), Error>` is one register: a result returned through
/// memory is stored in parts and loaded whole, and that load cannot take the
/// stores' data early, so it waits until every older store is in the cache, the
/// collective's last stores into shared memory included (a peer polls those
/// lines: each store first takes the line back from it). That wait was most of a
/// small collective's time on the rank that only publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<Detail>);

/// What an [`Error`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub class: ErrorClass,
    pub message: String,
}

impl std::ops::Deref for Error {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl Error {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Error(Box::new(Detail {
            class,
            message: message.into(),
        }))
    }
    /// The message, taken out.
    pub fn into_message(self) -> String {
        self.0.message
    }
    /// A failure of the machinery below MPI (a syscall, a corrupt peer, the launcher).
    pub fn other(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::Other, message)
    }
    pub fn intern(message: impl Into<String>) -> Self {
        Error::new(ErrorClass::Intern, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.message, self.class)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
