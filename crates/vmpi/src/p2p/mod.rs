//! Point-to-point: the packet header, matching, requests, the eager and rendezvous
//! protocols and the progress engine. Knows channels only through the transport
//! contract ([`crate::transport::PacketChannel`]); knows nothing of how they move bytes.

pub mod backoff;
pub mod buffers;
pub mod engine;
pub mod header;
pub mod matching;
pub mod request;
#[cfg(all(test, not(loom)))]
mod tests;

pub use engine::{CmaSplit, Engine, Message, SendMode};
pub use matching::Pattern;
pub use request::{ReqId, Status, ANY_SOURCE, ANY_TAG, PROC_NULL};
