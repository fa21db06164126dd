//! `scale ROUNDS`: a start-up and collective check for many ranks on one host. Every
//! rank runs ROUNDS rounds of barrier, allreduce of its rank (checked against
//! n(n-1)/2) and a send to its right neighbour through shared memory (checked
//! bytes), then rank 0 prints `scale rank 0/N: ok rounds=R init_s=S` with the
//! seconds MPI_Init took on rank 0.

use std::time::Instant;
use vmpi::{Input, Op};
use vmpi_testsuite::{announce_job, fail, key, message, verify, OrFail};

const PROG: &str = "scale";

fn main() {
    let rounds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: scale ROUNDS");
            std::process::exit(2)
        });
    let t0 = Instant::now();
    let universe = vmpi::init().or_fail(PROG, -1, "vmpi::init");
    let init_s = t0.elapsed().as_secs_f64();
    let w = universe.world();
    let (rank, n) = (w.rank(), w.size());
    announce_job(rank);
    let (right, left) = ((rank + 1) % n, (rank + n - 1) % n);
    let want = (n as i64) * (n as i64 - 1) / 2;
    for r in 0..rounds {
        w.barrier().or_fail(PROG, rank, "barrier");
        let mut sum = [0i64];
        w.allreduce(Input::Buf(&[rank as i64]), &mut sum, &Op::Sum)
            .or_fail(PROG, rank, "allreduce");
        if sum[0] != want {
            fail(
                PROG,
                rank,
                format!("round {r}: allreduce gave {} not {want}", sum[0]),
            );
        }
        let len = 1 + (r as usize * 997) % 4000;
        let out = message(len, key(rank, right, r, 0));
        let mut got = vec![0u8; len];
        w.sendrecv(&out, right, 7, &mut got, left, 7)
            .or_fail(PROG, rank, "sendrecv");
        if let Err(e) = verify(&got, key(left, rank, r, 0)) {
            fail(PROG, rank, format!("round {r}: from rank {left}: {e}"));
        }
    }
    if rank == 0 {
        println!("{PROG} rank 0/{n}: ok rounds={rounds} init_s={init_s:.3}");
    }
}
