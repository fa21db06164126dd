//! Loom model of the inbox: two producers race for reservations against one
//! consumer on a tiny inbox: reservations lost and retried, a consumer looking
//! between a reservation and its stamp, inline and data payloads.

use super::*;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use std::mem::offset_of;

/// Word indices of the layout's words ([`Layout`], [`Slot`]).
const HEAD: usize = (offset_of!(Layout, ctl) + offset_of!(Control, head)) / 8;
const TAIL: usize = (offset_of!(Layout, ctl) + offset_of!(Control, tail)) / 8;
const META: usize = offset_of!(Slot, meta) / 8;
const HDR: usize = offset_of!(Slot, hdr) / 8;
const BODY_TAIL: usize = offset_of!(Slot, tail) / 8;

fn slot_word(slot: u64) -> usize {
    ((SLOTS_AT + slot * SLOT_BYTES) / 8) as usize
}

/// Memory as 64-bit words; bytes go through relaxed word accesses, so loom sees
/// every cross-thread access and reports a consumer reading what it was not
/// entitled to see.
#[derive(Clone)]
struct ModelMem(Arc<Vec<AtomicU64>>);

const MODEL_SLOTS: u64 = 4;
const MODEL_CAP: u64 = 512;

impl ModelMem {
    fn new() -> Self {
        let words = (data_at(MODEL_SLOTS) + MODEL_CAP) / 8;
        ModelMem(Arc::new((0..words).map(|_| AtomicU64::new(0)).collect()))
    }
}

impl InboxMem for ModelMem {
    fn cap(&self) -> u64 {
        MODEL_CAP
    }
    fn slots(&self) -> u64 {
        MODEL_SLOTS
    }
    fn load_head(&self) -> u64 {
        self.0[HEAD].load(Ordering::Acquire)
    }
    fn store_head(&self, v: u64) {
        self.0[HEAD].store(v, Ordering::Release)
    }
    fn load_tail(&self) -> u64 {
        self.0[TAIL].load(Ordering::Relaxed)
    }
    fn cas_tail(&self, old: u64, new: u64) -> Result<(), u64> {
        self.0[TAIL]
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| ())
    }
    fn load_stamp(&self, slot: u64) -> u64 {
        self.0[slot_word(slot)].load(Ordering::Acquire)
    }
    fn store_stamp(&self, slot: u64, v: u64) {
        self.0[slot_word(slot)].store(v, Ordering::Release)
    }
    fn write_body(&self, slot: u64, b: &Body) {
        let at = slot_word(slot);
        self.0[at + META].store(b.meta, Ordering::Relaxed);
        for (i, v) in b.hdr.iter().enumerate() {
            self.0[at + HDR + i].store(*v, Ordering::Relaxed);
        }
        self.0[at + BODY_TAIL].store(b.tail, Ordering::Relaxed);
    }
    fn read_body(&self, slot: u64) -> Body {
        let at = slot_word(slot);
        Body {
            meta: self.0[at + META].load(Ordering::Relaxed),
            hdr: std::array::from_fn(|i| self.0[at + HDR + i].load(Ordering::Relaxed)),
            tail: self.0[at + BODY_TAIL].load(Ordering::Relaxed),
        }
    }
    fn write_data(&self, off: u64, src: &[u8]) {
        let off = data_at(MODEL_SLOTS) + off;
        assert!(off % 8 == 0 && src.len() % 8 == 0);
        for (i, w) in src.chunks(8).enumerate() {
            self.0[off as usize / 8 + i]
                .store(u64::from_le_bytes(w.try_into().unwrap()), Ordering::Relaxed);
        }
    }
    fn read_data(&self, off: u64, dst: &mut [u8]) {
        let off = data_at(MODEL_SLOTS) + off;
        assert!(off % 8 == 0 && dst.len() % 8 == 0);
        for (i, w) in dst.chunks_mut(8).enumerate() {
            w.copy_from_slice(
                &self.0[off as usize / 8 + i]
                    .load(Ordering::Relaxed)
                    .to_le_bytes(),
            );
        }
    }
}

/// Payload sizes per producer: producer 1 sends a data record then an inline one,
/// producer 2 a data record. The inbox holds them all: a model in which a producer
/// spins on a full inbox exceeds loom's branch bound (a relaxed load may keep
/// returning the old `head`), so back-pressure and wrap-around are left to the
/// threaded and single-threaded tests in `tests.rs`.
const SIZES: [&[usize]; 2] = [&[128, 8], &[64]];

#[test]
fn packets_arrive_whole_and_in_order_per_producer() {
    let mut model = loom::model::Builder::new();
    // Every interleaving with up to three preemptions: enough for a reservation lost
    // to the other producer, a consumer between reservation and stamp, and a full
    // inbox.
    model.preemption_bound = Some(3);
    // Word-by-word payload copies make long executions; the waits are bounded.
    model.max_branches = 20_000;
    model.check(|| {
        let mem = ModelMem::new();
        let producers: Vec<_> = (0..2usize)
            .map(|p| {
                let mut prod = Producer::new(mem.clone(), p as u16 + 1);
                loom::thread::spawn(move || {
                    for (k, &len) in SIZES[p].iter().enumerate() {
                        let fill = (p * 2 + k + 1) as u8;
                        while !prod.try_push(&[fill; 8], &vec![fill; len]) {
                            loom::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut c = Consumer::new(mem, 0, 3);
        let mut next = [0usize; 2];
        while next[0] + next[1] < 3 {
            let Some(rec) = c.peek().unwrap() else {
                loom::thread::yield_now();
                continue;
            };
            let rec = *rec;
            let p = rec.from - 1;
            let k = next[p];
            let fill = (p * 2 + k + 1) as u8;
            assert_eq!(rec.len, SIZES[p][k]);
            assert_eq!(
                &rec.hdr[..rec.hdr_len],
                &[fill; 8],
                "header out of order or torn"
            );
            let v = match rec.payload {
                Payload::Inline(b) => b[..rec.len].to_vec(),
                Payload::Data(off) => {
                    let mut v = vec![0; rec.len];
                    c.read_data(off, 0, &mut v);
                    v
                }
            };
            assert!(v.iter().all(|&b| b == fill), "torn or stale payload");
            c.consume();
            next[p] += 1;
        }
        for t in producers {
            t.join().unwrap();
        }
    });
}
