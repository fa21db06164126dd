//! User buffers held by requests between the call that starts an operation and its
//! completion. MPI's rule makes them valid in between (the caller may not touch or
//! free a buffer of a pending request); these types carry that promise from the
//! `unsafe` constructors to safe copy operations.

use crate::transport::PayloadRef;

/// A buffer a pending send reads from.
#[derive(Clone, Copy, Debug)]
pub struct SendBuf {
    ptr: *const u8,
    len: usize,
    /// The sender has other work while this message goes (see [`SendBuf::busy`]).
    busy: bool,
    /// The sender's collective failed before this message (see [`SendBuf::failed`]).
    failed: bool,
}

/// A buffer a pending receive writes into.
#[derive(Clone, Copy, Debug)]
pub struct RecvBuf {
    ptr: *mut u8,
    cap: usize,
    /// The receiver reads the data right after (a reduction): copy it all on this
    /// core, so it lands in this core's cache (see [`RecvBuf::read_here`]).
    read_here: bool,
    /// The receiver has more to pull or copy after this (see [`RecvBuf::busy`]).
    busy: bool,
}

// SAFETY: the buffers belong to the application, which keeps them valid until the
// request completes; the engine that holds these is only touched under its lock.
unsafe impl Send for SendBuf {}
// SAFETY: as above.
unsafe impl Send for RecvBuf {}

impl SendBuf {
    /// # Safety
    /// `ptr..ptr+len` must stay readable and unchanged until the operation completes.
    pub unsafe fn new(ptr: *const u8, len: usize) -> SendBuf {
        SendBuf {
            ptr,
            len,
            busy: false,
            failed: false,
        }
    }

    /// Mark the message as sent by a collective that already hit a mismatch:
    /// the receiver reports it instead of trusting the data.
    pub fn failed(self) -> SendBuf {
        SendBuf {
            failed: true,
            ..self
        }
    }

    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Mark the sender as busy while this message goes: a collective's root that
    /// copies its own block, or sends to several ranks, after posting this send.
    /// The receiver then pulls the whole message instead of asking this rank to
    /// write half of it, which would wait for the copy (2 ranks, scatter and
    /// alltoall 512 KiB-1 MiB).
    pub fn busy(self) -> SendBuf {
        SendBuf { busy: true, ..self }
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// The bytes `off..off+n`.
    pub fn slice(&self, off: usize, n: usize) -> &[u8] {
        assert!(off <= self.len && n <= self.len - off);
        if n == 0 {
            return &[];
        }
        // SAFETY: in range (checked); the constructor's contract keeps it readable.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), n) }
    }
}

impl RecvBuf {
    /// # Safety
    /// `ptr..ptr+cap` must stay writable and otherwise untouched until the operation
    /// completes.
    pub unsafe fn new(ptr: *mut u8, cap: usize) -> RecvBuf {
        RecvBuf {
            ptr,
            cap,
            read_here: false,
            busy: false,
        }
    }

    /// Mark the receiver as busy after this message (a gather root pulls the next
    /// block, copies its own): a large CMA transfer is then split with the sender
    /// even where ranks outnumber cores (`CmaSplit::busy`).
    pub fn busy(self) -> RecvBuf {
        RecvBuf { busy: true, ..self }
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// Mark the data as read by this rank as soon as it arrives. A large CMA
    /// transfer is otherwise split, the sender writing half of it, which leaves
    /// that half in the sender's cache; a reduction over it then pulls every line
    /// across (about 15% of a 2-rank reduce at 128-256 KiB: docs/performance.md,
    /// "Measurements behind constants and choices in the code").
    pub fn read_here(self) -> RecvBuf {
        RecvBuf {
            read_here: true,
            ..self
        }
    }

    pub fn is_read_here(&self) -> bool {
        self.read_here
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Where the buffer starts (a peer writes here with CMA).
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// The writable bytes `off..off+n`.
    pub fn slice_mut(&mut self, off: usize, n: usize) -> &mut [u8] {
        assert!(off <= self.cap && n <= self.cap - off);
        if n == 0 {
            return &mut [];
        }
        // SAFETY: in range (checked); the constructor's contract keeps it writable and
        // unaliased while the request is pending.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), n) }
    }

    /// Copy as much of `src` as fits at `off`; returns the bytes copied.
    /// Bytes past the end (a truncated message) are dropped.
    pub fn fill_from(&mut self, off: usize, src: &PayloadRef<'_>) -> usize {
        if off >= self.cap {
            return 0;
        }
        let n = src.len().min(self.cap - off);
        src.copy_to(0, self.slice_mut(off, n));
        n
    }
}
