//! The Rust API: [`init`] gives a [`Universe`]; its communicators send and receive
//! typed slices; nonblocking operations live in a [`scope`] that guarantees their
//! buffers outlive them.

mod collectives;
mod comm_mgmt;
mod communicator;
mod equivalence;
mod request;
mod universe;

pub use collectives::{user_op, Complex32, Complex64, DoubleInt, FloatInt, Input, LongInt, TwoInt};
pub use communicator::Communicator;
pub use equivalence::Equivalence;
pub use request::{scope, test_all, wait_all, wait_any, wait_some, Request, Scope};
pub use universe::{init, wtime, ChannelInfo, Universe};
