//! An in-process job for unit tests: `n` progress engines of one shm domain, each
//! with its own mapping of one shared-memory region (the real inboxes, attached the
//! way ranks attach), driven round-robin on the test's thread. The point-to-point
//! protocols (eager, rendezvous by pipelined copy or CMA, credits) and every
//! collective schedule run without processes or a launcher, so a failure points at
//! the module that broke, and property tests can afford thousands of cases.
//!
//! CMA works for real here: every "rank" is this process, so a pull is
//! `process_vm_readv` of our own pid.

use crate::coll::{CollCtx, Sched};
use crate::error::Result;
use crate::locality::Channel;
use crate::p2p::engine::{Channels, PeerInfo};
use crate::p2p::{CmaSplit, Engine, ReqId};
use crate::transport::shm::ShmTransport;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How a test job is built.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub n: usize,
    /// Inbox data bytes per rank (a power of two, at least 16 KiB).
    pub cap: u64,
    /// Eager limit of the shm channel.
    pub eager: usize,
    /// Unmatched eager bytes a receiver accepts per sender (credit).
    pub unexpected_limit: usize,
    /// Rendezvous by CMA pull (else by pipelined copy through the inboxes).
    pub cma: bool,
    /// From which size a CMA pull is shared with the sender (0: never).
    pub cma_split: usize,
}

impl Opts {
    pub fn new(n: usize) -> Opts {
        Opts {
            n,
            cap: 64 * 1024,
            eager: 16 * 1024,
            unexpected_limit: 256 * 1024,
            cma: true,
            cma_split: 128 * 1024,
        }
    }
}

/// The engines of one in-process job (index = world rank).
pub struct Job {
    pub engines: Vec<Engine>,
    opts: Opts,
}

static JOBS: AtomicU64 = AtomicU64::new(0);

/// Rounds of progress without a finished job before a test calls it stuck.
const STUCK_AFTER: usize = 2_000_000;

impl Job {
    pub fn new(o: Opts) -> Job {
        let members: Vec<usize> = (0..o.n).collect();
        let path: PathBuf = std::env::temp_dir().join(format!(
            "vmpi-harness-{}-{}",
            std::process::id(),
            JOBS.fetch_add(1, Ordering::Relaxed)
        ));
        let pid = std::process::id() as i32;
        let engines = (0..o.n)
            .map(|me| {
                // Rank 0 creates the region, the others attach; the last unlinks it.
                let shm = (o.n > 1).then(|| {
                    ShmTransport::join(&path, &members, me, o.n, 7, o.cap).expect("shm join")
                });
                let peers = (0..o.n)
                    .map(|p| PeerInfo {
                        channel: if p == me {
                            Channel::SelfLoop
                        } else {
                            Channel::Shm
                        },
                        cma: o.cma && p != me,
                        cma_in: o.cma && p != me,
                        pid,
                    })
                    .collect();
                Engine::new(
                    me,
                    peers,
                    Channels {
                        shm,
                        ivshmem: None,
                        tcp: None,
                    },
                    o.eager,
                    64 * 1024,
                    o.unexpected_limit,
                    CmaSplit {
                        idle: o.cma_split,
                        busy: o.cma_split,
                    },
                    if o.cma { 0 } else { usize::MAX },
                )
            })
            .collect();
        Job { engines, opts: o }
    }

    pub fn size(&self) -> usize {
        self.engines.len()
    }

    /// One round of progress on every engine.
    pub fn progress(&mut self) -> Result<()> {
        for e in &mut self.engines {
            e.progress()?;
        }
        Ok(())
    }

    /// Drive every engine until `done` says the job is finished; panics when
    /// nothing finishes in [`STUCK_AFTER`] rounds (a deadlock).
    pub fn run_until(&mut self, mut done: impl FnMut(&mut [Engine]) -> Result<bool>) -> Result<()> {
        for _ in 0..STUCK_AFTER {
            self.progress()?;
            if done(&mut self.engines)? {
                return Ok(());
            }
        }
        panic!("in-process job stuck after {STUCK_AFTER} rounds");
    }

    /// Drive every engine until each request (rank, id) has completed.
    pub fn wait_all(&mut self, mut left: Vec<(usize, ReqId)>) -> Result<()> {
        self.run_until(|engines| {
            let mut i = 0;
            while i < left.len() {
                if engines[left[i].0].test(left[i].1)?.is_some() {
                    left.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            Ok(left.is_empty())
        })
    }

    /// Run one schedule per rank (index = rank) to completion, the way the
    /// progress engine runs nonblocking collectives.
    pub fn run_scheds(&mut self, mut scheds: Vec<Sched>) -> Result<()> {
        assert_eq!(scheds.len(), self.size());
        for s in &mut scheds {
            s.cut_like(self.opts.eager);
        }
        let mut done = vec![false; scheds.len()];
        self.run_until(|engines| {
            for (r, s) in scheds.iter_mut().enumerate() {
                if !done[r] {
                    done[r] = s.step(&mut engines[r])?;
                }
            }
            Ok(done.iter().all(|&d| d))
        })
    }
}

/// The collective context of rank `rank` of a communicator of `n` ranks on
/// context `ctx` (world ranks = ranks), for the `tag`th call.
pub fn coll_ctx(n: usize, rank: usize, ctx: u32, tag: i32) -> CollCtx {
    CollCtx {
        ctx,
        rank,
        group: Arc::from((0..n).collect::<Vec<_>>()),
        tag,
        wire: None,
        far: None,
    }
}
