//! The I/O thread: nonblocking independent accesses run here, so they progress
//! while the application computes; each completes its (external) request.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

/// Queue `job` for the I/O thread (started on first use); jobs run in order.
pub fn submit(job: Job) {
    let q = QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("vmpi-io".into())
            .spawn(move || {
                while let Ok(j) = rx.recv() {
                    j();
                }
            })
            .expect("spawning the MPI-IO thread");
        Mutex::new(tx)
    });
    let tx = q.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // The thread lives as long as the process; a send fails only if it died,
    // and then the job runs here.
    if let Err(e) = tx.send(job) {
        (e.0)();
    }
}
