//! `crash RANK`: after init and a barrier, rank RANK dies of SIGSEGV; the others
//! block in a receive that never comes. The launcher must end the job, name the rank
//! and leave nothing behind.

use vmpi_testsuite::{announce_job, OrFail};

fn main() {
    let victim: i32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: crash RANK");
            std::process::exit(2)
        });
    let universe = vmpi::init().or_fail("crash", -1, "vmpi::init");
    let w = universe.world();
    let rank = w.rank();
    announce_job(rank);
    w.barrier().or_fail("crash", rank, "barrier");
    println!("crash rank {rank}: ready");
    if rank == victim {
        // Rust's runtime handles SIGSEGV (stack-overflow detection) and, for a fault
        // that is not a guard-page hit, restores the default action and returns so
        // that the faulting instruction faults again; a raised signal is not repeated,
        // so restore the default action first.
        // SAFETY: deliberately kills this process with SIGSEGV (the point of the test).
        unsafe {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            libc::raise(libc::SIGSEGV);
        }
        unreachable!("SIGSEGV did not kill the process");
    }
    let mut buf = [0u8; 8];
    let r = w.recv(&mut buf, victim, 12345);
    eprintln!("crash rank {rank}: the receive from the crashed rank returned: {r:?}");
    std::process::exit(3);
}
