//! Loom model of the shared collective area's protocol (`shm_area`): the rules
//! of `Area::op`, `publish_parts`, `published_by`, `wait_counter` and the fan-in
//! barrier, restated over loom atomics with each slot's data in a loom cell, so
//! loom reports any interleaving where a rank overwrites a slot that a peer may
//! still be reading, or reads a slot before its data is there. The area itself
//! works on a mapped region and cannot run under loom; this is a model of its
//! rules, kept next to them: a change to the orderings or to what `known_done`
//! may conclude belongs in both (`make test-loom` runs it).
//!
//! Rules modelled: operation `k` uses slot parity `k % 2`; a publisher waits
//! until every peer finished `k - 2` (`done >= k - 1`) unless it already knows
//! so; it writes the slot, then `seq = k + 1` (release); a reader waits for
//! `seq >= k + 1` (acquire) and copies the slot; every rank stores `done = k + 1`
//! (release) when its part is over. Seeing `seq = j + 1` proves the peer finished
//! `j - 1`; seeing `done = j` proves it finished `j - 1`; a fan-in barrier's
//! release proves every rank finished `k - 1`.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;

/// One operation, as every rank sees it.
#[derive(Clone, Copy, Debug)]
enum ModelOp {
    /// `root` publishes, the others read it.
    Bcast(usize),
    /// Everyone publishes, `root` reads everyone (gather, reduce).
    Gather(usize),
    /// Everyone publishes and reads everyone (allgather, allreduce, barrier).
    All,
    /// Fan-in barrier: ranks but 0 publish, 0 reads them all, then 0 publishes
    /// the release that the others read.
    FanIn,
}

struct Shared {
    seq: Vec<AtomicU64>,
    done: Vec<AtomicU64>,
    /// Per rank, per parity: the slot's data.
    slots: Vec<[UnsafeCell<u64>; 2]>,
}

fn value(k: u64, r: usize) -> u64 {
    k * 100 + r as u64 + 1
}

struct Rank {
    me: usize,
    n: usize,
    sh: Arc<Shared>,
    /// Operations each peer is known to have finished.
    known: Vec<u64>,
}

impl Rank {
    fn wait(&mut self, r: usize, seq: bool, at_least: u64) {
        let w = if seq {
            &self.sh.seq[r]
        } else {
            &self.sh.done[r]
        };
        let seen = loop {
            let v = w.load(Ordering::Acquire);
            if v >= at_least {
                break v;
            }
            loom::thread::yield_now();
        };
        let finished = if seq { seen.saturating_sub(1) } else { seen };
        self.known[r] = self.known[r].max(finished);
    }

    fn publish(&mut self, k: u64) {
        if k >= 2 {
            let me = self.me;
            for r in (0..self.n).filter(|&r| r != me) {
                if self.known[r] < k - 1 {
                    self.wait(r, false, k - 1);
                }
            }
        }
        let v = value(k, self.me);
        // SAFETY (model): the protocol claims nobody reads this slot now.
        self.sh.slots[self.me][(k % 2) as usize].with_mut(|p| unsafe { *p = v });
        self.sh.seq[self.me].store(k + 1, Ordering::Release);
    }

    fn read(&mut self, r: usize, k: u64) {
        if r == self.me {
            return;
        }
        self.wait(r, true, k + 1);
        // SAFETY (model): published and not to be overwritten before our done.
        let got = self.sh.slots[r][(k % 2) as usize].with(|p| unsafe { *p });
        assert_eq!(
            got,
            value(k, r),
            "rank {} read rank {r}'s slot of op {k}",
            self.me
        );
    }

    fn run(&mut self, k: u64, op: ModelOp) {
        match op {
            ModelOp::Bcast(root) => {
                if self.me == root {
                    self.publish(k);
                } else {
                    self.read(root, k);
                }
            }
            ModelOp::Gather(root) => {
                self.publish(k);
                if self.me == root {
                    for r in 0..self.n {
                        self.read(r, k);
                    }
                }
            }
            ModelOp::All => {
                self.publish(k);
                for r in 0..self.n {
                    self.read(r, k);
                }
            }
            ModelOp::FanIn => {
                if self.me == 0 {
                    for r in 1..self.n {
                        self.read(r, k);
                    }
                    self.publish(k);
                } else {
                    self.publish(k);
                    self.read(0, k);
                    for known in &mut self.known {
                        *known = (*known).max(k);
                    }
                }
            }
        }
        self.sh.done[self.me].store(k + 1, Ordering::Release);
    }
}

fn check(n: usize, ops: &'static [ModelOp]) {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    // Waiting is spinning on a counter (with yields): room for the spins.
    model.max_branches = 100_000;
    model.check(move || {
        let sh = Arc::new(Shared {
            seq: (0..n).map(|_| AtomicU64::new(0)).collect(),
            done: (0..n).map(|_| AtomicU64::new(0)).collect(),
            slots: (0..n)
                .map(|_| [UnsafeCell::new(0), UnsafeCell::new(0)])
                .collect(),
        });
        let rank = |me: usize| Rank {
            me,
            n,
            sh: sh.clone(),
            known: vec![0; n],
        };
        let threads: Vec<_> = (1..n)
            .map(|me| {
                let mut r = rank(me);
                loom::thread::spawn(move || {
                    for (k, op) in ops.iter().enumerate() {
                        r.run(k as u64, *op);
                    }
                })
            })
            .collect();
        let mut r0 = rank(0);
        for (k, op) in ops.iter().enumerate() {
            r0.run(k as u64, *op);
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// A root that only publishes runs ahead: its third bcast reuses the slot of the
/// first, which the reader must have finished with.
#[test]
fn bcasts_from_one_root_never_overwrite_unread_slots() {
    check(
        2,
        &[
            ModelOp::Bcast(0),
            ModelOp::Bcast(0),
            ModelOp::Bcast(0),
            ModelOp::Bcast(0),
        ],
    );
}

/// Everyone publishing lets ranks skip the `done` check (known from `seq`).
#[test]
fn allgathers_then_a_gather_and_bcasts() {
    check(
        2,
        &[
            ModelOp::All,
            ModelOp::All,
            ModelOp::Gather(1),
            ModelOp::Bcast(0),
            ModelOp::Bcast(1),
        ],
    );
}

/// The fan-in barrier's release lets a rank conclude that all finished the
/// previous operation; the bcasts after it rely on that. (Models of three ranks
/// exceed what loom explores in minutes with spinning waits: two ranks here.)
#[test]
fn fan_in_barrier_then_bcasts() {
    check(
        2,
        &[
            ModelOp::FanIn,
            ModelOp::Bcast(1),
            ModelOp::FanIn,
            ModelOp::Bcast(0),
            ModelOp::Bcast(0),
        ],
    );
}
