//! `hang`: every rank blocks forever in a receive nothing matches (for the SIGINT and
//! --timeout tests of the launcher). Prints `hang rank R: ready` once all are in.

use vmpi_testsuite::{announce_job, OrFail};

fn main() {
    let universe = vmpi::init().or_fail("hang", -1, "vmpi::init");
    let w = universe.world();
    let rank = w.rank();
    announce_job(rank);
    w.barrier().or_fail("hang", rank, "barrier");
    println!("hang rank {rank}: ready");
    let mut buf = [0u8; 8];
    let r = w.recv(&mut buf, vmpi::ANY_SOURCE, 777);
    eprintln!("hang rank {rank}: the receive returned: {r:?}");
    std::process::exit(3);
}
