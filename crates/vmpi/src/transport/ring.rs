//! The single-producer single-consumer record queue that carries one ordered pair's
//! packets through shared memory.
//!
//! Layout: a control block (the consumer's published `head`, alone on its cache line)
//! followed by a data area of `cap` bytes (a power of two). Records start on 64-byte
//! boundaries at monotonically increasing positions; position `p` lives at offset
//! `p % cap`. A record is an 8-byte *stamp* followed by its body. The stamp carries
//! the record's position tag and length and is written last, with release ordering,
//! so a consumer that sees the stamp it expects sees the whole body: a small message
//! costs the consumer one cache-line transfer, no separate index to poll.
//!
//! Stale bytes (an old lap's body) could look like a valid stamp, so before publishing
//! a record the producer clears the stamp slot where the *next* record will start.
//! Space for that slot is always reserved, so the consumer's view of "the next slot"
//! is either zero (nothing yet) or a real stamp.
//!
//! The memory is untrusted: the consumer bounds-checks every stamp and length and
//! reports corruption as an error; it never trusts the peer for memory safety.
//!
//! Memory access goes through [`RingMem`], so the same algorithm runs on a mapped
//! region in production and on a model memory under `loom` in tests.

/// Records start on this boundary; also the cache-line size we design for.
pub const ALIGN: u64 = 64;
/// Size of the control block that precedes the data area.
pub const CTL_BYTES: usize = 128;
const STAMP_BYTES: u64 = 8;
const VALID: u64 = 1 << 63;
const LEN_MASK: u64 = 0x7fff_ffff;
/// Length value of a stamp that says "skip to the start of the data area".
const WRAP_LEN: u64 = LEN_MASK;

/// Access to the ring's memory: the head word, stamp words and body bytes.
/// Offsets are relative to the data area and always in bounds (the ring checks).
pub trait RingMem {
    fn cap(&self) -> u64;
    fn load_head(&self) -> u64;
    fn store_head(&self, v: u64);
    fn load_stamp(&self, off: u64) -> u64;
    fn store_stamp(&self, off: u64, v: u64);
    fn write(&self, off: u64, src: &[u8]);
    fn read(&self, off: u64, dst: &mut [u8]);
}

/// Why a ring refused to go on: the peer wrote something impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub String);

fn align_up(v: u64) -> u64 {
    (v + ALIGN - 1) & !(ALIGN - 1)
}

fn stamp(pos: u64, len: u64) -> u64 {
    VALID | (len << 32) | ((pos / ALIGN) & 0xffff_ffff)
}

/// The largest body a ring of capacity `cap` accepts. Two such records, a wrap skip
/// and the reserved stamp line always fit, so a full-size record can always be pushed
/// once the consumer has drained the ring.
pub fn max_body(cap: u64) -> usize {
    (cap / 2 - 2 * ALIGN) as usize
}

/// The producer end. Its position is private; only records and stamps are shared.
pub struct Producer<M: RingMem> {
    mem: M,
    tail: u64,
    head_cache: u64,
}

/// The consumer end.
pub struct Consumer<M: RingMem> {
    mem: M,
    head: u64,
    /// Length of the record found by the last successful `peek`, if any.
    peeked: Option<(u64, u64)>,
}

impl<M: RingMem> Producer<M> {
    /// Start producing into a ring whose memory is zeroed (a fresh region).
    pub fn new(mem: M) -> Self {
        debug_assert!(mem.cap().is_power_of_two() && mem.cap() >= 512);
        Producer {
            mem,
            tail: 0,
            head_cache: 0,
        }
    }

    pub fn max_body(&self) -> usize {
        max_body(self.mem.cap())
    }

    fn free(&mut self, need: u64) -> bool {
        let cap = self.mem.cap();
        if self.tail + need - self.head_cache <= cap {
            return true;
        }
        self.head_cache = self.mem.load_head();
        self.tail + need - self.head_cache <= cap
    }

    /// Append one record made of `parts` concatenated. Returns false (and writes
    /// nothing) when the ring has no room now. Panics if the body exceeds `max_body`.
    pub fn try_push(&mut self, parts: &[&[u8]]) -> bool {
        let cap = self.mem.cap();
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        assert!(len as usize <= self.max_body(), "ring record too large");
        let rec = align_up(STAMP_BYTES + len);
        let off = self.tail % cap;
        // A record never wraps around the end: skip to the start when it would.
        let skip = if off + rec > cap { cap - off } else { 0 };
        // Reserve one extra line for the cleared stamp of the next record.
        if !self.free(skip + rec + ALIGN) {
            return false;
        }
        if skip > 0 {
            let start = self.tail + skip;
            self.mem.store_stamp(0, 0);
            self.write_body(start, parts, rec);
            self.mem.store_stamp(off, stamp(self.tail, WRAP_LEN));
            self.tail = start;
        } else {
            self.write_body(self.tail, parts, rec);
        }
        self.mem.store_stamp(self.tail % cap, stamp(self.tail, len));
        self.tail += rec;
        true
    }

    /// Write the body of a record at `pos` and clear the next record's stamp slot.
    fn write_body(&self, pos: u64, parts: &[&[u8]], rec: u64) {
        let cap = self.mem.cap();
        let mut at = pos % cap + STAMP_BYTES;
        for p in parts {
            self.mem.write(at, p);
            at += p.len() as u64;
        }
        let next = (pos + rec) % cap;
        self.mem.store_stamp(next, 0);
    }
}

impl<M: RingMem> Consumer<M> {
    pub fn new(mem: M) -> Self {
        Consumer {
            mem,
            head: 0,
            peeked: None,
        }
    }

    /// Whether a record (or a wrap marker) is waiting: one load, no checks; `peek`
    /// decides.
    #[inline]
    pub fn ready(&self) -> bool {
        if self.peeked.is_some() {
            return true;
        }
        let s = self.mem.load_stamp(self.head % self.mem.cap());
        s & VALID != 0 && s & 0xffff_ffff == (self.head / ALIGN) & 0xffff_ffff
    }

    /// The next record's (offset of its body in the data area, body length), if one
    /// is complete. Stays the same until [`Consumer::consume`].
    pub fn peek(&mut self) -> Result<Option<(u64, usize)>, Corrupt> {
        if let Some((off, len)) = self.peeked {
            return Ok(Some((off, len as usize)));
        }
        let cap = self.mem.cap();
        loop {
            let off = self.head % cap;
            let s = self.mem.load_stamp(off);
            if s & VALID == 0 {
                return Ok(None);
            }
            if s & 0xffff_ffff != (self.head / ALIGN) & 0xffff_ffff {
                // An old lap's stamp: the record is not written yet.
                return Ok(None);
            }
            let len = (s >> 32) & LEN_MASK;
            if len == WRAP_LEN {
                if off == 0 {
                    return Err(Corrupt("wrap marker at the start of the ring".into()));
                }
                self.head += cap - off;
                continue;
            }
            if len as usize > max_body(cap) || off + STAMP_BYTES + len > cap {
                return Err(Corrupt(format!(
                    "record length {len} at offset {off} exceeds the ring"
                )));
            }
            self.peeked = Some((off + STAMP_BYTES, len));
            return Ok(Some(((off + STAMP_BYTES), len as usize)));
        }
    }

    /// Copy bytes of the peeked record's body.
    pub fn read(&self, body_off: u64, at: usize, dst: &mut [u8]) {
        self.mem.read(body_off + at as u64, dst)
    }

    /// Release the record returned by the last `peek`.
    pub fn consume(&mut self) {
        if let Some((_, len)) = self.peeked.take() {
            self.head += align_up(STAMP_BYTES + len);
            self.mem.store_head(self.head);
        }
    }

    pub fn mem(&self) -> &M {
        &self.mem
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// Plain single-threaded memory for algorithm tests.
    #[derive(Clone)]
    struct VecMem(Rc<(RefCell<Vec<u8>>, Cell<u64>)>);

    impl VecMem {
        fn new(cap: usize) -> Self {
            VecMem(Rc::new((RefCell::new(vec![0; cap]), Cell::new(0))))
        }
    }

    impl RingMem for VecMem {
        fn cap(&self) -> u64 {
            self.0 .0.borrow().len() as u64
        }
        fn load_head(&self) -> u64 {
            self.0 .1.get()
        }
        fn store_head(&self, v: u64) {
            self.0 .1.set(v)
        }
        fn load_stamp(&self, off: u64) -> u64 {
            let m = self.0 .0.borrow();
            u64::from_le_bytes(m[off as usize..off as usize + 8].try_into().unwrap())
        }
        fn store_stamp(&self, off: u64, v: u64) {
            self.0 .0.borrow_mut()[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes())
        }
        fn write(&self, off: u64, src: &[u8]) {
            self.0 .0.borrow_mut()[off as usize..off as usize + src.len()].copy_from_slice(src)
        }
        fn read(&self, off: u64, dst: &mut [u8]) {
            dst.copy_from_slice(&self.0 .0.borrow()[off as usize..off as usize + dst.len()])
        }
    }

    fn pop(c: &mut Consumer<VecMem>) -> Option<Vec<u8>> {
        let (off, len) = c.peek().unwrap()?;
        let mut v = vec![0; len];
        c.read(off, 0, &mut v);
        c.consume();
        Some(v)
    }

    #[test]
    fn fifo_with_wraps_and_backpressure() {
        let mem = VecMem::new(4096);
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem);
        let mut sent = std::collections::VecDeque::new();
        let mut seed = 12345u64;
        let mut received = 0;
        for round in 0..20000u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % (p.max_body() + 1);
            let body: Vec<u8> = (0..len).map(|i| (i as u64 ^ round) as u8).collect();
            if p.try_push(&[&body[..len / 2], &body[len / 2..]]) {
                sent.push_back(body);
            }
            if seed % 3 == 0 || sent.len() > 8 {
                while let Some(v) = pop(&mut c) {
                    assert_eq!(v, sent.pop_front().unwrap());
                    received += 1;
                }
            }
        }
        while let Some(v) = pop(&mut c) {
            assert_eq!(v, sent.pop_front().unwrap());
        }
        assert!(sent.is_empty());
        assert!(received > 1000);
    }

    #[test]
    fn full_ring_refuses_then_accepts() {
        let mem = VecMem::new(4096);
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem);
        let body = vec![7u8; 900];
        let mut n = 0;
        while p.try_push(&[&body]) {
            n += 1;
        }
        assert!(n >= 2);
        // Freeing one record may not be enough when the next one has to skip the
        // ring's tail end; freeing two always is.
        assert!(pop(&mut c).is_some());
        if !p.try_push(&[&body]) {
            assert!(pop(&mut c).is_some());
            assert!(p.try_push(&[&body]));
        }
    }

    #[test]
    fn stale_body_bytes_never_look_like_a_record() {
        // Fill bodies with bytes that imitate valid stamps for every position.
        let mem = VecMem::new(4096);
        let mut p = Producer::new(mem.clone());
        let mut c = Consumer::new(mem);
        for n in 0..50u64 {
            // Record n (448-byte body, 512 bytes in all) starts at position 512 * n;
            // each body word imitates the stamp a record would have there next lap.
            let mut body = vec![0u8; 448];
            for (i, ch) in body.chunks_mut(8).enumerate() {
                let q = 512 * n + 8 + 8 * i as u64;
                ch.copy_from_slice(&stamp(q + 4096, 8).to_le_bytes());
            }
            assert!(p.try_push(&[&body]));
            assert_eq!(pop(&mut c).unwrap(), body);
            assert!(pop(&mut c).is_none());
        }
    }

    #[test]
    fn corrupt_length_is_an_error() {
        let mem = VecMem::new(4096);
        let mut c = Consumer::new(mem.clone());
        mem.store_stamp(0, stamp(0, 4000));
        assert!(c.peek().is_err());
    }
}

/// Model check of the publication protocol under `loom`: run with
/// `RUSTFLAGS="--cfg loom" cargo test -p vmpi --release --lib transport::ring`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::{AtomicU64, Ordering};
    use loom::sync::Arc;

    /// Memory as 64-bit words; body bytes go through relaxed word accesses, so loom
    /// sees every cross-thread access and reports a consumer reading a body it was not
    /// entitled to see.
    #[derive(Clone)]
    struct ModelMem(Arc<(Vec<AtomicU64>, AtomicU64)>);

    impl ModelMem {
        fn new(cap: usize) -> Self {
            ModelMem(Arc::new((
                (0..cap / 8).map(|_| AtomicU64::new(0)).collect(),
                AtomicU64::new(0),
            )))
        }
    }

    impl RingMem for ModelMem {
        fn cap(&self) -> u64 {
            self.0 .0.len() as u64 * 8
        }
        fn load_head(&self) -> u64 {
            self.0 .1.load(Ordering::Acquire)
        }
        fn store_head(&self, v: u64) {
            self.0 .1.store(v, Ordering::Release)
        }
        fn load_stamp(&self, off: u64) -> u64 {
            self.0 .0[off as usize / 8].load(Ordering::Acquire)
        }
        fn store_stamp(&self, off: u64, v: u64) {
            self.0 .0[off as usize / 8].store(v, Ordering::Release)
        }
        fn write(&self, off: u64, src: &[u8]) {
            assert!(off % 8 == 0 && src.len() % 8 == 0);
            for (i, w) in src.chunks(8).enumerate() {
                self.0 .0[off as usize / 8 + i]
                    .store(u64::from_le_bytes(w.try_into().unwrap()), Ordering::Relaxed);
            }
        }
        fn read(&self, off: u64, dst: &mut [u8]) {
            assert!(off % 8 == 0 && dst.len() % 8 == 0);
            for (i, w) in dst.chunks_mut(8).enumerate() {
                w.copy_from_slice(
                    &self.0 .0[off as usize / 8 + i]
                        .load(Ordering::Relaxed)
                        .to_le_bytes(),
                );
            }
        }
    }

    const N: u64 = 5;
    const SIZES: [usize; 5] = [120, 56, 120, 120, 120];

    #[test]
    fn records_arrive_whole_and_in_order() {
        loom::model(|| {
            // A tiny ring (512 bytes) and records of one or two lines, so that the
            // full-ring, wrap-skip and stale-slot paths all run.
            let mem = ModelMem::new(512);
            let pm = mem.clone();
            let producer = loom::thread::spawn(move || {
                let mut p = Producer::new(pm);
                let mut sent = 0u64;
                while sent < N {
                    let body = vec![sent as u8 + 1; SIZES[sent as usize]];
                    if p.try_push(&[&body]) {
                        sent += 1;
                    } else {
                        loom::thread::yield_now();
                    }
                }
            });
            let mut c = Consumer::new(mem);
            let mut got = 0u64;
            while got < N {
                match c.peek().unwrap() {
                    Some((off, len)) => {
                        assert_eq!(len, SIZES[got as usize]);
                        let mut v = vec![0u8; len];
                        c.read(off, 0, &mut v);
                        assert!(
                            v.iter().all(|&b| b == got as u8 + 1),
                            "torn or stale record"
                        );
                        c.consume();
                        got += 1;
                    }
                    None => loom::thread::yield_now(),
                }
            }
            producer.join().unwrap();
        });
    }
}
