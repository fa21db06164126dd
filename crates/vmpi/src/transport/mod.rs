//! Transport layer: channels that move packets between two ranks and know nothing of
//! tags or communicators. A packet is an opaque header (defined by `p2p`) plus a payload.
//!
//! Every channel keeps packets of one sender in order (FIFO per ordered pair), never
//! splits or merges packets, and never blocks: a full channel answers "not now" and the
//! caller retries from the progress engine.
//!
//! - [`shm`]: one inbox per rank (a multi-producer queue, [`inbox`]) in one
//!   shared-memory region per shm domain; a rank reads every local peer's packets
//!   from its own inbox, so it has its own receive interface (any sender) beside
//!   [`PacketChannel`]'s per-peer one.
//! - [`cma`]: single-copy reads from a peer's address space (`process_vm_readv`).
//! - [`ivshmem`]: the memory co-resident VMs share (a PCI device), with the shm
//!   channel's inboxes in a job's slot.
//! - [`tcp`]: sockets between ranks that share no memory.

pub mod cma;
pub mod inbox;
pub mod ivshmem;
pub mod region;
pub mod shm;
pub mod tcp;

use crate::error::Result;
use std::marker::PhantomData;

/// The contract every packet channel keeps. `peer` is a world rank.
pub trait PacketChannel {
    /// Largest payload one packet may carry on this channel.
    fn max_payload(&self) -> usize;
    /// Queue one packet whole, or return `Ok(false)` when there is no room now.
    /// `hdr.len() + payload.len()` never exceeds what `max_payload` allows plus the header.
    fn try_send(&mut self, peer: usize, hdr: &[u8], payload: &[u8]) -> Result<bool>;
    /// Housekeeping that needs no peer: accept connections, flush partial writes, read
    /// sockets into their buffers. Cheap when there is nothing to do.
    fn progress(&mut self) -> Result<()>;
    /// Whether a packet from `peer` may be waiting: a cheap check before `peek`
    /// (false means there is certainly none).
    fn ready(&self, _peer: usize) -> bool {
        true
    }
    /// The next packet from `peer`, left in place until [`PacketChannel::consume`].
    fn peek(&mut self, peer: usize) -> Result<Option<Packet<'_>>>;
    /// Drop the packet the last `peek(peer)` returned.
    fn consume(&mut self, peer: usize);
}

/// A received packet, borrowed from its channel until consumed.
pub struct Packet<'a> {
    /// The header, already copied out of any shared memory.
    pub header: &'a [u8],
    /// The payload, possibly still in shared memory.
    pub payload: PayloadRef<'a>,
}

/// Bytes of a packet payload that may live in memory another process writes: they are
/// only ever copied out, never referenced as a Rust slice.
#[derive(Clone, Copy)]
pub struct PayloadRef<'a> {
    ptr: *const u8,
    len: usize,
    _life: PhantomData<&'a [u8]>,
}

impl<'a> PayloadRef<'a> {
    /// A payload in private memory.
    pub fn private(bytes: &'a [u8]) -> Self {
        PayloadRef {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            _life: PhantomData,
        }
    }

    /// A payload in a shared-memory region.
    ///
    /// # Safety
    /// `ptr..ptr+len` must stay mapped and readable for `'a`. Other processes may write
    /// it concurrently; we only copy bytes out, so a hostile writer can change what we
    /// read but not our memory safety.
    pub unsafe fn shared(ptr: *const u8, len: usize) -> Self {
        PayloadRef {
            ptr,
            len,
            _life: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy `dst.len()` bytes starting at `offset` into `dst`.
    /// Panics if the range is outside the payload (callers check lengths first).
    pub fn copy_to(&self, offset: usize, dst: &mut [u8]) {
        assert!(
            offset <= self.len && dst.len() <= self.len - offset,
            "payload range out of bounds"
        );
        // SAFETY: the range lies inside the payload (checked above), which the
        // constructor guarantees is mapped and readable for 'a; `dst` is private memory
        // that cannot overlap a payload we only read.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), dst.as_mut_ptr(), dst.len()) }
    }

    /// Copy the payload into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len];
        self.copy_to(0, &mut v);
        v
    }
}
