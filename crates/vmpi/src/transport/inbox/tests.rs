//! The inbox algorithm on private memory: order per producer, back-pressure, several
//! producers on threads, and arbitrary bytes from peers (never a panic, only
//! `Corrupt` or "not yet").

use super::*;
use proptest::prelude::*;
use std::mem::offset_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Byte offsets of the words of the layout ([`Layout`], [`Slot`]) in an inbox.
const HEAD: u64 = (offset_of!(Layout, ctl) + offset_of!(Control, head)) as u64;
const TAIL: u64 = (offset_of!(Layout, ctl) + offset_of!(Control, tail)) as u64;
const META: u64 = offset_of!(Slot, meta) as u64;
const HDR: u64 = offset_of!(Slot, hdr) as u64;
const BODY_TAIL: u64 = offset_of!(Slot, tail) as u64;

/// Memory as atomic words shared by threads; bytes go through relaxed word
/// accesses, so concurrent producers and the consumer are plain data races on
/// nothing.
#[derive(Clone)]
struct WordMem(Arc<WordMemInner>);

struct WordMemInner {
    words: Vec<AtomicU64>,
    cap: u64,
    slots: u64,
}

impl WordMem {
    fn new(slots: u64, cap: u64) -> Self {
        let bytes = data_at(slots) + cap;
        WordMem(Arc::new(WordMemInner {
            words: (0..bytes / 8).map(|_| AtomicU64::new(0)).collect(),
            cap,
            slots,
        }))
    }
    fn word(&self, off: u64) -> &AtomicU64 {
        &self.0.words[off as usize / 8]
    }
    /// Overwrite byte `off` (for corruption tests).
    fn poke(&self, off: u64, b: u8) {
        let w = self.word(off & !7);
        let mut v = w.load(Ordering::Relaxed).to_le_bytes();
        v[off as usize % 8] = b;
        w.store(u64::from_le_bytes(v), Ordering::Relaxed);
    }
    fn len(&self) -> u64 {
        self.0.words.len() as u64 * 8
    }
}

impl InboxMem for WordMem {
    fn cap(&self) -> u64 {
        self.0.cap
    }
    fn slots(&self) -> u64 {
        self.0.slots
    }
    fn load_head(&self) -> u64 {
        self.word(HEAD).load(Ordering::Acquire)
    }
    fn store_head(&self, v: u64) {
        self.word(HEAD).store(v, Ordering::Release)
    }
    fn load_tail(&self) -> u64 {
        self.word(TAIL).load(Ordering::Relaxed)
    }
    fn cas_tail(&self, old: u64, new: u64) -> Result<(), u64> {
        self.word(TAIL)
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| ())
    }
    fn load_stamp(&self, slot: u64) -> u64 {
        self.word(SLOTS_AT + slot * SLOT_BYTES)
            .load(Ordering::Acquire)
    }
    fn store_stamp(&self, slot: u64, v: u64) {
        self.word(SLOTS_AT + slot * SLOT_BYTES)
            .store(v, Ordering::Release)
    }
    fn write_body(&self, slot: u64, b: &Body) {
        let at = SLOTS_AT + slot * SLOT_BYTES;
        self.word(at + META).store(b.meta, Ordering::Relaxed);
        for (i, v) in b.hdr.iter().enumerate() {
            self.word(at + HDR + 8 * i as u64)
                .store(*v, Ordering::Relaxed);
        }
        self.word(at + BODY_TAIL).store(b.tail, Ordering::Relaxed);
    }
    fn read_body(&self, slot: u64) -> Body {
        let at = SLOTS_AT + slot * SLOT_BYTES;
        Body {
            meta: self.word(at + META).load(Ordering::Relaxed),
            hdr: std::array::from_fn(|i| {
                self.word(at + HDR + 8 * i as u64).load(Ordering::Relaxed)
            }),
            tail: self.word(at + BODY_TAIL).load(Ordering::Relaxed),
        }
    }
    fn write_data(&self, off: u64, src: &[u8]) {
        // Whole words where possible (keeps the threaded test fast); records never
        // share a word, so the byte-wise read-modify-write at the edges is private.
        let off = data_at(self.0.slots) + off;
        let end = off + src.len() as u64;
        let mut at = off;
        while at < end {
            let i = (at - off) as usize;
            if at.is_multiple_of(8) && at + 8 <= end {
                let w: [u8; 8] = src[i..i + 8].try_into().unwrap();
                self.word(at)
                    .store(u64::from_le_bytes(w), Ordering::Relaxed);
                at += 8;
            } else {
                self.poke(at, src[i]);
                at += 1;
            }
        }
    }
    fn read_data(&self, off: u64, dst: &mut [u8]) {
        let off = data_at(self.0.slots) + off;
        for (i, d) in dst.iter_mut().enumerate() {
            let at = off + i as u64;
            *d = self.word(at & !7).load(Ordering::Relaxed).to_le_bytes()[at as usize % 8];
        }
    }
}

/// The bytes of packet `k` from producer `p`: a function of both, so a torn,
/// stale or misdelivered payload shows.
fn body(p: usize, k: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 * 31 + k * 7 + p as u64 * 101) as u8)
        .collect()
}

fn header(p: usize, k: u64) -> Vec<u8> {
    let mut h = vec![0u8; 8 + (k as usize % 33)];
    h[..8].copy_from_slice(&(k << 8 | p as u64).to_le_bytes());
    h
}

/// Take one packet: (sender, header, payload).
fn pop<M: InboxMem>(c: &mut Consumer<M>) -> Option<(usize, Vec<u8>, Vec<u8>)> {
    let rec = *c.peek().unwrap()?;
    let payload = match rec.payload {
        Payload::Inline(b) => b[..rec.len].to_vec(),
        Payload::Data(off) => {
            let mut v = vec![0; rec.len];
            c.read_data(off, 0, &mut v);
            v
        }
    };
    c.consume();
    Some((rec.from, rec.hdr[..rec.hdr_len].to_vec(), payload))
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Three producers take turns in one thread with random sizes (inline, data,
/// maximal, wrap skips) against a small inbox; every packet arrives whole, once, in
/// order per producer.
#[test]
fn fifo_per_producer_with_wraps_and_backpressure() {
    let mem = WordMem::new(16, 4096);
    let mut prod: Vec<Producer<WordMem>> = (1..4).map(|p| Producer::new(mem.clone(), p)).collect();
    let mut c = Consumer::new(mem, 0, 4);
    let mut next = [0u64; 4];
    let mut want = [0u64; 4];
    let mut lens: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); 4];
    let mut seed = 99;
    let mut got = 0;
    for round in 0..30000 {
        let p = 1 + lcg(&mut seed) as usize % 3;
        let len = match lcg(&mut seed) % 4 {
            0 => lcg(&mut seed) as usize % (INLINE + 1),
            1 => max_payload(4096),
            _ => lcg(&mut seed) as usize % (max_payload(4096) + 1),
        };
        let k = next[p];
        if prod[p - 1].try_push(&header(p, k), &body(p, k, len)) {
            next[p] += 1;
            lens[p].push_back(len);
        }
        if round % 3 == 0 || lcg(&mut seed).is_multiple_of(5) {
            while let Some((from, h, v)) = pop(&mut c) {
                let k = want[from];
                assert_eq!(h, header(from, k), "header of packet {k} from {from}");
                let len = lens[from].pop_front().unwrap();
                assert_eq!(v, body(from, k, len), "payload of packet {k} from {from}");
                want[from] += 1;
                got += 1;
            }
        }
    }
    while let Some((from, _, _)) = pop(&mut c) {
        want[from] += 1;
    }
    assert_eq!(want, next);
    assert!(got > 10000, "only {got} packets went through");
}

/// A full inbox refuses (slots or data) and accepts again once drained; a maximal
/// payload always fits an empty inbox, wherever the position is.
#[test]
fn full_refuses_then_accepts() {
    let mem = WordMem::new(8, 4096);
    let mut p = Producer::new(mem.clone(), 1);
    let mut c = Consumer::new(mem, 0, 2);
    for _ in 0..8 {
        assert!(p.try_push(b"h", b"x"));
    }
    assert!(!p.try_push(b"h", b"x"), "slots are full");
    while pop(&mut c).is_some() {}
    for shift in 0..70 {
        assert!(p.try_push(b"h", &vec![1; 64 * (shift % 7) + 9]));
        pop(&mut c).unwrap();
        let big = vec![2u8; max_payload(4096)];
        assert!(p.try_push(b"h", &big), "maximal payload after {shift}");
        assert!(!p.try_push(b"h", &big), "two maximal payloads never fit");
        assert_eq!(pop(&mut c).unwrap().2, big);
    }
}

/// Producers on threads against one consumer on a tiny inbox: everything arrives,
/// whole and in order per producer.
#[test]
fn threads_deliver_everything_in_order() {
    const PER: u64 = 20000;
    let mem = WordMem::new(32, 8192);
    let producers: Vec<_> = (1..4usize)
        .map(|p| {
            let mut prod = Producer::new(mem.clone(), p as u16);
            std::thread::spawn(move || {
                let mut seed = p as u64;
                let mut k = 0;
                while k < PER {
                    let len = if k % 3 == 0 {
                        k as usize % (INLINE + 1)
                    } else {
                        lcg(&mut seed) as usize % 700
                    };
                    if prod.try_push(&header(p, k), &body(p, k, len)) {
                        k += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut c = Consumer::new(mem, 0, 4);
    let mut want = [0u64; 4];
    while want[1..].iter().sum::<u64>() < 3 * PER {
        match pop(&mut c) {
            Some((from, h, v)) => {
                let k = want[from];
                assert_eq!(h, header(from, k));
                assert!(v.len() <= 700);
                assert_eq!(v, body(from, k, v.len()), "packet {k} from {from}");
                want[from] += 1;
            }
            None => std::thread::yield_now(),
        }
    }
    for t in producers {
        t.join().unwrap();
    }
}

/// A slot naming an impossible sender, header or data range is corruption, named.
#[test]
fn impossible_slots_are_corrupt() {
    let mem = WordMem::new(8, 4096);
    let mut p = Producer::new(mem.clone(), 1);
    assert!(p.try_push(b"hdr", &[5; 100]));
    let mut c = Consumer::new(mem.clone(), 0, 2);
    // sender 7 of 2
    mem.poke(SLOTS_AT + META, 7);
    let e = c.peek().unwrap_err();
    assert!(e.0.contains("sender 7"), "{}", e.0);
    // our own index
    mem.poke(SLOTS_AT + META, 0);
    assert!(c.peek().unwrap_err().0.contains("sender 0"));
    mem.poke(SLOTS_AT + META, 1);
    // data position outside the window
    mem.poke(SLOTS_AT + BODY_TAIL + 1, 0x40);
    let e = c.peek().unwrap_err();
    assert!(e.0.contains("outside the free window"), "{}", e.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Fuzz: whatever a peer scribbles over the inbox (stamps included), the
    /// consumer returns packets, "not yet" or corruption; it never panics and never
    /// reads outside the inbox.
    #[test]
    fn arbitrary_bytes_never_panic(
        writes in proptest::collection::vec((any::<u16>(), any::<u64>()), 1..64),
        valid_stamps in proptest::collection::vec(any::<u8>(), 0..8),
        sent in 0usize..6,
    ) {
        let mem = WordMem::new(8, 2048);
        let mut p = Producer::new(mem.clone(), 1);
        for k in 0..sent {
            p.try_push(&header(1, k as u64), &body(1, k as u64, k * 97));
        }
        let words = mem.len() / 8;
        for (at, v) in &writes {
            mem.word((*at as u64 % words) * 8).store(*v, Ordering::Relaxed);
        }
        // Stamps that look right for the slots the consumer will read next.
        for (i, s) in valid_stamps.iter().enumerate() {
            if s % 2 == 0 {
                mem.store_stamp(i as u64 % 8, VALID | i as u64);
            }
        }
        let mut c = Consumer::new(mem, 0, 3);
        for _ in 0..16 {
            match c.peek() {
                Ok(Some(rec)) => {
                    let rec = *rec;
                    prop_assert!(rec.from < 3 && rec.from != 0);
                    prop_assert!(rec.hdr_len <= HEADER_ROOM && rec.len <= max_payload(2048));
                    if let Payload::Data(off) = rec.payload {
                        let mut v = vec![0; rec.len];
                        c.read_data(off, 0, &mut v);
                    }
                    c.consume();
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}
