//! Errors of the library: every failure carries an MPI error class (the numeric values
//! are MPICH's, so the C ABI can return them unchanged) and a message that names the
//! call and the argument. Failures below MPI also carry a typed [`Cause`] (the
//! system call and its errno, or the peer rank and what it did), which the code that
//! must tell failures apart reads instead of the message; the message is for people,
//! and the class and message are all an API boundary passes on.

use std::fmt;
use std::io;
use std::sync::Arc;

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
    /// One-sided communication (MPI-3.1 §11): conflicting lock requests,
    /// operations outside an epoch, bad sizes, displacements, assertions, targets
    /// outside the window, attach / shared-memory / flavor errors.
    RmaConflict = 49,
    RmaSync = 50,
    Size = 51,
    Disp = 52,
    Assert = 53,
    RmaRange = 55,
    RmaAttach = 56,
    RmaShared = 57,
    RmaFlavor = 58,
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
    /// What failed below MPI, where it is known.
    pub cause: Option<Cause>,
}

/// What failed below MPI, typed.
#[derive(Debug, Clone)]
pub enum Cause {
    /// A system call failed (the error is [`Error`]'s `source()`).
    Os {
        call: &'static str,
        error: Arc<io::Error>,
    },
    /// Something went wrong with a peer rank (its world rank).
    Peer { rank: usize, fault: PeerFault },
    /// A rank of a collective (its rank in the communicator) had a mismatch
    /// between its arguments and others' earlier in the same call.
    Mismatch { rank: usize },
}

/// What a peer rank did, or what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFault {
    /// Its process is gone (it died).
    Gone,
    /// Its connection closed while a packet or data for it was still under way.
    Closed,
    /// What it sent cannot be parsed: a corrupt frame or queue entry.
    Corrupt,
    /// No channel of this transport reaches it.
    Unreachable,
}

impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        match (self, other) {
            (Cause::Os { call: a, error: x }, Cause::Os { call: b, error: y }) => {
                a == b && x.kind() == y.kind() && x.raw_os_error() == y.raw_os_error()
            }
            (Cause::Peer { rank: a, fault: x }, Cause::Peer { rank: b, fault: y }) => {
                a == b && x == y
            }
            (Cause::Mismatch { rank: a }, Cause::Mismatch { rank: b }) => a == b,
            _ => false,
        }
    }
}

impl Eq for Cause {}

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
            cause: None,
        }))
    }
    /// A failed system call `call` (class Other); `message` says what it was for.
    pub fn os(call: &'static str, error: impl Into<io::Error>, message: impl Into<String>) -> Self {
        let mut e = Error::other(message);
        e.cause = Some(Cause::Os {
            call,
            error: Arc::new(error.into()),
        });
        e
    }
    /// A failure of peer rank `rank` (class Other).
    pub fn peer(rank: usize, fault: PeerFault, message: impl Into<String>) -> Self {
        Error::other(message).caused_by(Cause::Peer { rank, fault })
    }
    /// The same error with its cause set.
    pub fn caused_by(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }
    /// The same error (class and cause) with `what: ` before its message, as a
    /// layer above says in which call it happened.
    pub fn within(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match &self.cause {
            Some(Cause::Os { error, .. }) => error.raw_os_error(),
            _ => None,
        }
    }
    /// The peer rank this failure is about, and what it did.
    pub fn peer_fault(&self) -> Option<(usize, PeerFault)> {
        match self.cause {
            Some(Cause::Peer { rank, fault }) => Some((rank, fault)),
            _ => None,
        }
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Some(Cause::Os { error, .. }) => Some(&**error),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
