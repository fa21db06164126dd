//! `pmi_close MODE RANK`: rank RANK loses its PMI link (or leaves) while its
//! process lives on; the others must not wait for it for ever.
//! - `before-init`: RANK closes its PMI socket (`PMI_FD`) before MPI_Init and
//!   sleeps; the others wait in MPI_Init's PMI barrier.
//! - `after-init`: all initialize; RANK shuts its PMI socket down and sleeps; the
//!   others call MPI_Finalize (a PMI barrier).
//! - `no-finalize`: RANK exits 0 after MPI_Init without MPI_Finalize; the others
//!   block in a receive from it.

use std::time::Duration;
use vmpi_testsuite::{announce_job, OrFail};

fn pmi_fd() -> i32 {
    std::env::var("PMI_FD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("pmi_close: no PMI_FD");
            std::process::exit(2)
        })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, victim) = match (args.get(1), args.get(2).and_then(|a| a.parse::<i32>().ok())) {
        (Some(m), Some(v)) => (m.clone(), v),
        _ => {
            eprintln!("usage: pmi_close before-init|after-init|no-finalize RANK");
            std::process::exit(2)
        }
    };
    let me: i32 = std::env::var("PMI_RANK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    if mode == "before-init" && me == victim {
        nix::unistd::close(pmi_fd()).expect("close PMI_FD");
        println!("pmi_close rank {me} pid {}: closed", std::process::id());
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(4);
    }
    let universe = vmpi::init().or_fail("pmi_close", -1, "vmpi::init");
    let w = universe.world();
    let rank = w.rank();
    announce_job(rank);
    w.barrier().or_fail("pmi_close", rank, "barrier");
    println!("pmi_close rank {rank} pid {}: ready", std::process::id());
    if rank == victim {
        match mode.as_str() {
            "after-init" => {
                // The library keeps the socket; shut it down under it (a closed link,
                // not a closed descriptor the library would later close again).
                nix::sys::socket::shutdown(pmi_fd(), nix::sys::socket::Shutdown::Both)
                    .expect("shutdown PMI_FD");
                std::thread::sleep(Duration::from_secs(60));
                std::process::exit(4);
            }
            "no-finalize" => std::process::exit(0),
            m => {
                eprintln!("pmi_close: unknown mode {m}");
                std::process::exit(2)
            }
        }
    }
    if mode == "no-finalize" {
        let mut b = [0u8; 8];
        let r = w.recv(&mut b, victim, 5);
        eprintln!("pmi_close rank {rank}: the receive returned {r:?}");
        std::process::exit(3);
    }
    drop(universe);
    eprintln!("pmi_close rank {rank}: finalize returned");
    std::process::exit(3);
}
