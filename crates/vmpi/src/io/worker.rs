//! The I/O threads: nonblocking accesses run there, so they progress while the
//! application computes; each completes its (external) request.
//!
//! Independent accesses share one thread per process (`submit`): they never
//! wait for another rank, so none can hold up the others for long. Collective
//! accesses run on a thread of their file (`Queue`, made at the file's first
//! nonblocking collective, ended when the file closes), in the order the rank
//! started them: one file's collective waiting for a slow rank holds up neither
//! independent accesses nor another file's collectives (which other ranks may
//! start in another order, as MPI allows on different communicators).

use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

pub type Job = Box<dyn FnOnce() + Send>;

/// A thread running jobs in order; it ends when the queue is dropped (after
/// the jobs already queued).
pub struct Queue {
    tx: Mutex<Sender<Job>>,
}

impl Queue {
    pub fn new(name: &str) -> Queue {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Ok(j) = rx.recv() {
                    j();
                }
            })
            .expect("spawning an MPI-IO thread");
        Queue { tx: Mutex::new(tx) }
    }

    /// Queue `job`; if the thread is gone, it runs here.
    pub fn push(&self, job: Job) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Err(e) = tx.send(job) {
            (e.0)();
        }
    }
}

static INDEPENDENT: OnceLock<Queue> = OnceLock::new();

/// Queue an independent access for the process's I/O thread.
pub fn submit(job: Job) {
    INDEPENDENT.get_or_init(|| Queue::new("vmpi-io")).push(job);
}
