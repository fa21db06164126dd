//! Scale on one host: 256 ranks on this 2-core machine start, run rounds of barrier,
//! allreduce and neighbour exchange through shared memory, and end, leaving no
//! /dev/shm file or process (the harness checks). Shared memory is one inbox per
//! rank, so the region is about 2 MiB per rank, not a queue per pair. Timing is not
//! asserted (benchmarks measure it: bench/startup.py); the limit only turns a hang
//! into a failure.

mod common;
use common::Spec;

#[test]
fn np_256_starts_runs_collectives_and_ends() {
    let o = Spec::mpirun(256, "scale", &["20"]).limit(240).run();
    o.assert_success();
    let line = o
        .lines_starting("scale rank 0/256: ok rounds=20")
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no report from rank 0:\n{}", o.dump()));
    println!("{line}");
}
