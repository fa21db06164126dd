//! A rank's inbox: the multi-producer single-consumer queue that every local peer
//! writes its packets into, so shared memory grows with the number of ranks (one
//! inbox each), not with the number of pairs.
//!
//! Layout of one inbox ([`Layout`]): a [`Control`] block (the consumer's published
//! `head`, then the producers' shared `tail`, each alone on a 128-byte line pair),
//! [`SLOTS`] [`Slot`]s of one cache line each, then a data area of `cap` bytes (a
//! power of two).
//!
//! Every packet takes one slot, in order. A slot holds the packet's stamp, who sent
//! it, its header and, for payloads of at most [`INLINE`] bytes, the payload itself:
//! a small message is one cache line for the consumer to fetch. A larger payload
//! lies in the data area, 64-byte aligned, never wrapping around its end, and the
//! slot says where.
//!
//! `tail` and `head` each pack a slot sequence number (24 bits) over a data position
//! (40 bits, bytes). A producer reserves a slot and its data bytes together with one
//! compare-and-swap on `tail`, after checking against `head` that both are free; it
//! writes data and slot, then stores the stamp (release): `VALID | seq`. The consumer
//! waits for the stamp of the sequence number it expects at the slot it expects, so
//! a stale stamp (a sequence number one lap older) or a reserved slot still being
//! written is simply "not yet". Slots hold only stamps where stamps live, so no
//! payload byte can ever pass for a stamp, and nothing needs clearing.
//!
//! Packets of one producer arrive in the order it reserved them (FIFO per ordered
//! pair); packets of different producers interleave in reservation order. A producer
//! that stalls between reserving and stamping holds up the packets reserved after
//! it until it runs again.
//!
//! The memory is untrusted: the consumer checks the sender, the lengths and the data
//! position of every slot and reports impossible values as corruption; it never
//! trusts a peer for memory safety. Memory access goes through [`InboxMem`], so the
//! same algorithm runs on a mapped region in production and on a model memory under
//! `loom` in tests.

use super::region::{Alone, Overlay};
use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::AtomicU64;

/// Slots per inbox in the shared-memory layout (a power of two dividing 2^24).
pub const SLOTS: u64 = 256;
/// Largest packet header a slot holds.
pub const HEADER_ROOM: usize = 40;
/// Payloads up to this size travel in the slot.
pub const INLINE: usize = 8;
/// Data records start on this boundary.
pub const ALIGN: u64 = 64;

const VALID: u64 = 1 << 63;
const SEQ_SHIFT: u32 = 40;
const SEQ_MASK: u64 = (1 << 24) - 1;
const POS_MASK: u64 = (1 << SEQ_SHIFT) - 1;

/// An inbox's control block. The two words have different writers, so each has
/// a 128-byte line pair of its own: a producer's reservation never takes the
/// owner's `head` line away, nor the owner's release the producers' `tail` line.
#[repr(C)]
pub struct Control {
    /// `seq << 40 | pos` up to which the consumer has released slots and data:
    /// stored by the owner (release), read by producers when their copy says full.
    pub head: Alone<AtomicU64>,
    /// `seq << 40 | pos` of the next reservation: compare-and-swapped by producers.
    pub tail: Alone<AtomicU64>,
}

/// One slot: one cache line, written by the producer that reserved it and read by
/// the owner. Slots stay one line each, not a line pair. The prefetcher's pairing
/// can make the owner's read of a slot fetch its neighbour while a producer still
/// writes it (or two producers' neighbouring slots meet), costing that producer a
/// second ownership request; but in a stream, where the next packet is already
/// written, the same pairing brings it to the owner early. 128-byte slots would
/// add 16 KiB to every inbox for a gain not shown.
#[repr(C, align(64))]
pub struct Slot {
    /// `VALID | seq` once published, stored last (release).
    pub stamp: AtomicU64,
    /// Sender index (bits 0-15), header length (16-31), payload length (32-63).
    pub meta: AtomicU64,
    /// The packet header, little-endian words.
    pub hdr: [AtomicU64; HEADER_ROOM / 8],
    /// The payload (at most [`INLINE`] bytes, little endian) or its data position.
    pub tail: AtomicU64,
}

/// The fixed part of an inbox; its data area follows it.
#[repr(C)]
pub struct Layout {
    pub ctl: Control,
    pub slots: [Slot; SLOTS as usize],
}

// SAFETY: repr(C), atomics only.
unsafe impl Overlay for Control {}
// SAFETY: repr(C), atomics only.
unsafe impl Overlay for Slot {}
// SAFETY: repr(C), Overlay fields only.
unsafe impl Overlay for Layout {}

/// Byte offset of the slots inside an inbox.
pub const SLOTS_AT: u64 = offset_of!(Layout, slots) as u64;
/// Bytes per slot: one cache line.
pub const SLOT_BYTES: u64 = size_of::<Slot>() as u64;

// Producers and the consumer may be different builds (VM guests) of this source:
// this layout is part of the formats of region VERSION 3 and IVSHMEM VERSION 2.
const _: () = {
    assert!(offset_of!(Layout, ctl) == 0 && offset_of!(Control, head) == 0);
    assert!(offset_of!(Control, tail) == 128 && size_of::<Control>() == 256);
    assert!(offset_of!(Slot, stamp) == 0);
    assert!(offset_of!(Slot, meta) == 8);
    assert!(offset_of!(Slot, hdr) == 16);
    assert!(offset_of!(Slot, tail) == 16 + HEADER_ROOM);
    assert!(size_of::<Slot>() == 64 && align_of::<Slot>() == 64);
    assert!(SLOTS_AT == 256);
    assert!(size_of::<Layout>() as u64 == SLOTS_AT + SLOTS * SLOT_BYTES);
    assert!(align_of::<Layout>() == 128 && size_of::<Layout>().is_multiple_of(128));
    assert!(HEADER_ROOM.is_multiple_of(8) && INLINE == 8);
};

/// A slot after its stamp, in private memory: what a producer writes and the
/// consumer checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Body {
    pub meta: u64,
    pub hdr: [u64; HEADER_ROOM / 8],
    pub tail: u64,
}

impl Slot {
    /// Store `b` after the stamp (relaxed: the stamp's release publishes it).
    #[inline]
    pub fn put(&self, b: &Body) {
        use std::sync::atomic::Ordering::Relaxed;
        self.meta.store(b.meta, Relaxed);
        for (w, v) in self.hdr.iter().zip(b.hdr) {
            w.store(v, Relaxed);
        }
        self.tail.store(b.tail, Relaxed);
    }

    /// Load what follows the stamp (relaxed: after the stamp's acquire).
    #[inline]
    pub fn get(&self) -> Body {
        use std::sync::atomic::Ordering::Relaxed;
        Body {
            meta: self.meta.load(Relaxed),
            hdr: std::array::from_fn(|i| self.hdr[i].load(Relaxed)),
            tail: self.tail.load(Relaxed),
        }
    }
}

/// Byte offset of the data area in an inbox of `slots` slots (the shared-memory
/// layout has [`SLOTS`]; models may have fewer).
pub fn data_at(slots: u64) -> u64 {
    SLOTS_AT + slots * SLOT_BYTES
}

/// Bytes one inbox of [`SLOTS`] slots and `cap` data bytes occupies: a multiple of
/// 128 for any power of two `cap` from 128, so inboxes laid end to end each start
/// on a line pair, as [`Layout`]'s alignment requires.
pub fn inbox_bytes(cap: u64) -> usize {
    (data_at(SLOTS) + cap) as usize
}

/// The largest payload an inbox of `cap` data bytes takes: one that size, pushed
/// after the consumer has drained everything, always fits, wrap skip included.
pub fn max_payload(cap: u64) -> usize {
    (cap / 2) as usize
}

/// Access to one inbox's memory. Slot indices are below `slots()` and data offsets
/// within the data area; the algorithm keeps them in bounds and implementations
/// check again.
pub trait InboxMem {
    /// Bytes in the data area (a power of two).
    fn cap(&self) -> u64;
    /// Slots (a power of two dividing 2^24).
    fn slots(&self) -> u64;
    fn load_head(&self) -> u64;
    fn store_head(&self, v: u64);
    fn load_tail(&self) -> u64;
    /// Replace `tail` if it is still `old`; the value found otherwise.
    fn cas_tail(&self, old: u64, new: u64) -> Result<(), u64>;
    fn load_stamp(&self, slot: u64) -> u64;
    fn store_stamp(&self, slot: u64, v: u64);
    /// Store a slot's body (relaxed; the stamp publishes it).
    fn write_body(&self, slot: u64, b: &Body);
    /// Load a slot's body (relaxed; after the stamp's acquire).
    fn read_body(&self, slot: u64) -> Body;
    /// Copy `src` into the data area at `off`.
    fn write_data(&self, off: u64, src: &[u8]);
    /// Copy bytes of the data area at `off` out into `dst` (the tests' way to read
    /// a payload; the engine reads it in place).
    #[cfg(any(test, loom))]
    fn read_data(&self, off: u64, dst: &mut [u8]);
}

/// Why an inbox refused to go on: a peer wrote something impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

fn align_up(v: u64) -> u64 {
    (v + ALIGN - 1) & !(ALIGN - 1)
}

/// A producer's handle on one peer's inbox. Its only private state is the last
/// `head` it read.
pub struct Producer<M: InboxMem> {
    mem: M,
    /// Our index among the inbox's senders (what the slot says).
    me: u16,
    head_cache: u64,
}

impl<M: InboxMem> Producer<M> {
    pub fn new(mem: M, me: u16) -> Self {
        debug_assert!(mem.cap().is_power_of_two() && mem.cap() >= 2 * ALIGN);
        debug_assert!(mem.slots().is_power_of_two() && mem.slots() <= SEQ_MASK + 1);
        Producer {
            mem,
            me,
            head_cache: 0,
        }
    }

    pub fn max_payload(&self) -> usize {
        max_payload(self.mem.cap())
    }

    /// Queue one packet, or return false (having written nothing) when the inbox has
    /// no room now. Panics if the header or payload exceeds what an inbox carries.
    pub fn try_push(&mut self, hdr: &[u8], payload: &[u8]) -> bool {
        let (cap, slots) = (self.mem.cap(), self.mem.slots());
        assert!(
            hdr.len() <= HEADER_ROOM && payload.len() <= self.max_payload(),
            "inbox packet too large"
        );
        let data = if payload.len() > INLINE {
            align_up(payload.len() as u64)
        } else {
            0
        };
        let mut t = self.mem.load_tail();
        let (seq, start) = loop {
            let seq = t >> SEQ_SHIFT;
            let pos = t & POS_MASK;
            let start = if data > 0 && pos % cap + data > cap {
                (pos + cap - pos % cap) & POS_MASK
            } else {
                pos
            };
            let end = (start + data) & POS_MASK;
            let fits = |head: u64| {
                seq.wrapping_sub(head >> SEQ_SHIFT) & SEQ_MASK < slots
                    && end.wrapping_sub(head & POS_MASK) & POS_MASK <= cap
            };
            if !fits(self.head_cache) {
                self.head_cache = self.mem.load_head();
                if !fits(self.head_cache) {
                    return false;
                }
            }
            match self
                .mem
                .cas_tail(t, ((seq + 1) & SEQ_MASK) << SEQ_SHIFT | end)
            {
                Ok(()) => break (seq, start),
                Err(now) => t = now,
            }
        };
        let mut h = [0u8; HEADER_ROOM];
        h[..hdr.len()].copy_from_slice(hdr);
        let tail = if data > 0 {
            self.mem.write_data(start % cap, payload);
            start
        } else {
            let mut t = [0u8; INLINE];
            t[..payload.len()].copy_from_slice(payload);
            u64::from_le_bytes(t)
        };
        let body = Body {
            meta: self.me as u64 | (hdr.len() as u64) << 16 | (payload.len() as u64) << 32,
            hdr: std::array::from_fn(|i| {
                u64::from_le_bytes(h[8 * i..8 * i + 8].try_into().expect("8 bytes"))
            }),
            tail,
        };
        self.mem.write_body(seq % slots, &body);
        self.mem.store_stamp(seq % slots, VALID | seq);
        true
    }
}

/// Where a received packet's payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// In the slot: the first `len` bytes of these.
    Inline([u8; INLINE]),
    /// In the data area at this offset.
    Data(u64),
}

/// A packet found in the inbox, its header already copied out.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// The sender's index (checked: a member other than the consumer).
    pub from: usize,
    pub hdr: [u8; HEADER_ROOM],
    pub hdr_len: usize,
    pub len: usize,
    pub payload: Payload,
    /// Data position after this packet (the consumer's next `pos`).
    end: u64,
}

/// The consumer end: the inbox's owner.
pub struct Consumer<M: InboxMem> {
    mem: M,
    me: usize,
    senders: usize,
    seq: u64,
    pos: u64,
    peeked: Option<Record>,
}

impl<M: InboxMem> Consumer<M> {
    /// The owner of an inbox whose memory is zeroed, `me` among `senders` indices.
    pub fn new(mem: M, me: usize, senders: usize) -> Self {
        Consumer {
            mem,
            me,
            senders,
            seq: 0,
            pos: 0,
            peeked: None,
        }
    }

    /// Whether a packet may be waiting: one load, no checks; `peek` decides.
    #[inline]
    pub fn ready(&self) -> bool {
        self.peeked.is_some()
            || self.mem.load_stamp(self.seq % self.mem.slots()) == VALID | self.seq
    }

    /// The next packet, if its producer has published it. Stays the same until
    /// [`Consumer::consume`].
    pub fn peek(&mut self) -> Result<Option<&Record>, Corrupt> {
        if self.peeked.is_none() {
            if self.mem.load_stamp(self.seq % self.mem.slots()) != VALID | self.seq {
                return Ok(None);
            }
            let rec = self.check()?;
            self.peeked = Some(rec);
        }
        Ok(self.peeked.as_ref())
    }

    /// Read and check the published slot `seq`.
    fn check(&self) -> Result<Record, Corrupt> {
        let body = self.mem.read_body(self.seq % self.mem.slots());
        let meta = body.meta;
        let from = (meta & 0xffff) as usize;
        let hdr_len = (meta >> 16 & 0xffff) as usize;
        let len = (meta >> 32) as usize;
        if from >= self.senders || from == self.me {
            return Err(Corrupt(format!(
                "slot {} names sender {from} (members 0..{}, we are {})",
                self.seq, self.senders, self.me
            )));
        }
        let bad = |what: String| Corrupt(format!("packet from member {from}: {what}"));
        if hdr_len > HEADER_ROOM {
            return Err(bad(format!("header length {hdr_len}")));
        }
        let cap = self.mem.cap();
        if len > max_payload(cap) {
            return Err(bad(format!(
                "payload length {len} exceeds {}",
                max_payload(cap)
            )));
        }
        let mut hdr = [0u8; HEADER_ROOM];
        for (h, w) in hdr.chunks_exact_mut(8).zip(body.hdr) {
            h.copy_from_slice(&w.to_le_bytes());
        }
        hdr[hdr_len..].fill(0);
        let (payload, end) = if len > INLINE {
            let start = body.tail;
            let end = (start + align_up(len as u64)) & POS_MASK;
            let in_window = |p: u64| p.wrapping_sub(self.pos) & POS_MASK <= cap;
            if start > POS_MASK
                || !start.is_multiple_of(ALIGN)
                || start % cap + len as u64 > cap
                || !in_window(start)
                || !in_window(end)
                || end.wrapping_sub(self.pos) & POS_MASK < start.wrapping_sub(self.pos) & POS_MASK
            {
                return Err(bad(format!(
                    "data of {len} bytes at position {start} is outside the free window at {}",
                    self.pos
                )));
            }
            (Payload::Data(start % cap), end)
        } else {
            (Payload::Inline(body.tail.to_le_bytes()), self.pos)
        };
        Ok(Record {
            from,
            hdr,
            hdr_len,
            len,
            payload,
            end,
        })
    }

    /// The packet the last successful `peek` found, until it is consumed.
    pub fn peeked(&self) -> Option<&Record> {
        self.peeked.as_ref()
    }

    /// Copy payload bytes of the data area out (`off` from [`Payload::Data`]).
    #[cfg(any(test, loom))]
    pub fn read_data(&self, off: u64, at: usize, dst: &mut [u8]) {
        self.mem.read_data(off + at as u64, dst)
    }

    /// Release the packet the last `peek` returned: its slot and data are free.
    pub fn consume(&mut self) {
        if let Some(rec) = self.peeked.take() {
            self.seq = (self.seq + 1) & SEQ_MASK;
            self.pos = rec.end;
            self.mem.store_head(self.seq << SEQ_SHIFT | self.pos);
        }
    }

    pub fn mem(&self) -> &M {
        &self.mem
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

/// Model check of the reservation and publication protocol under `loom`: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p vmpi --release --lib transport::inbox`.
#[cfg(all(test, loom))]
mod loom_tests;
