//! `abort RANK CODE [LEN]`: after init and a barrier, rank RANK calls MPI_Abort with
//! CODE and the message "abort test: rank RANK gives up" (with LEN: followed by
//! " word N" pieces up to LEN characters, the last one "end."); the others block in
//! a receive that never comes. The process manager must end every rank, pass the
//! code on and show the message.

use vmpi_testsuite::{announce_job, OrFail};

fn main() {
    let args: Vec<i32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()
        .filter(|v: &Vec<i32>| v.len() == 2 || v.len() == 3)
        .unwrap_or_else(|| {
            eprintln!("usage: abort RANK CODE [LEN]");
            std::process::exit(2)
        });
    let (victim, code) = (args[0], args[1]);
    let len = args.get(2).copied().unwrap_or(0).max(0) as usize;
    let universe = vmpi::init().or_fail("abort", -1, "vmpi::init");
    let w = universe.world();
    let rank = w.rank();
    announce_job(rank);
    w.barrier().or_fail("abort", rank, "barrier");
    println!("abort rank {rank}: ready");
    if rank == victim {
        let mut msg = format!("abort test: rank {rank} gives up");
        let mut i = 0;
        while msg.len() + 5 < len {
            i += 1;
            msg += &format!(" word {i}");
        }
        if len > 0 {
            msg += " end.";
        }
        universe.abort(code, &msg);
    }
    let mut buf = [0u8; 8];
    let r = w.recv(&mut buf, victim, 12345);
    eprintln!("abort rank {rank}: the receive from the aborting rank returned: {r:?}");
    std::process::exit(3);
}
