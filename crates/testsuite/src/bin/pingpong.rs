//! `pingpong SIZE`: ranks 0 and 1 send SIZE-byte messages back and forth until
//! killed (over shm with SIZE past the eager limit: the CMA path). Each prints
//! `pingpong rank R pid P: ready` after the first round trip, so a test can kill
//! one of them from outside in the middle of a transfer.

use vmpi_testsuite::{announce_job, fail, parse_size, OrFail};

fn main() {
    let size = std::env::args()
        .nth(1)
        .and_then(|a| parse_size(&a))
        .unwrap_or_else(|| {
            eprintln!("usage: pingpong SIZE");
            std::process::exit(2)
        });
    let universe = vmpi::init().or_fail("pingpong", -1, "vmpi::init");
    let w = universe.world();
    let rank = w.rank();
    announce_job(rank);
    if w.size() != 2 {
        fail("pingpong", rank, "needs exactly 2 ranks");
    }
    let peer = 1 - rank;
    let send = vec![rank as u8; size];
    let mut recv = vec![0u8; size];
    let mut round: u64 = 0;
    loop {
        if rank == 0 {
            w.send(&send, peer, 1).or_fail("pingpong", rank, "send");
            w.recv(&mut recv, peer, 1).or_fail("pingpong", rank, "recv");
        } else {
            w.recv(&mut recv, peer, 1).or_fail("pingpong", rank, "recv");
            w.send(&send, peer, 1).or_fail("pingpong", rank, "send");
        }
        if round == 0 {
            println!(
                "pingpong rank {rank} pid {}: ready ({})",
                std::process::id(),
                vmpi_testsuite::channel_word(&universe, peer)
            );
        }
        round += 1;
    }
}
