//! `binding`: reports where MPI_Init left this rank (CPU binding, docs/binding.md).
//! Every rank prints `binding rank R/N: cpus=LIST thread=LIST yield=BOOL`: its
//! affinity as the kernel reports it (`Cpus_allowed_list` of /proc/self/status),
//! that of a thread started before MPI_Init (binding covers the whole process), and
//! whether the progress engine yields when idle (it must where ranks outnumber the
//! cores they run on, and must not where each rank has its own core).

use std::sync::mpsc;
use vmpi_testsuite::{announce_job, OrFail};

const PROG: &str = "binding";

fn allowed(status: &str) -> String {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let (ask, asked) = mpsc::channel::<()>();
    let (tell, told) = mpsc::channel::<String>();
    let early = std::thread::spawn(move || {
        if asked.recv().is_ok() {
            let _ = tell.send(allowed("/proc/thread-self/status"));
        }
    });
    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let w = universe.world();
    let (rank, size) = (w.rank(), w.size());
    announce_job(rank);
    ask.send(()).or_fail(PROG, rank, "thread");
    let thread = told.recv().or_fail(PROG, rank, "thread");
    early.join().expect("thread");
    let yields = vmpi::sys::tools::oversubscribed("binding").or_fail(PROG, rank, "runtime");
    // After the binding table (printed at init): one line per rank, in rank order.
    w.barrier().or_fail(PROG, rank, "barrier");
    for r in 0..size {
        if r == rank {
            println!(
                "{PROG} rank {rank}/{size}: cpus={} thread={thread} yield={yields}",
                allowed("/proc/self/status")
            );
        }
        w.barrier().or_fail(PROG, rank, "barrier");
    }
}
