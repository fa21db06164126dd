//! MPI matching and request semantics (the `matching` program) on 1, 2 and 4 ranks,
//! started by mpirun and as a singleton without a launcher.

mod common;
use common::{rank_lines, Spec};

fn check(o: &common::Outcome, n: usize, manager: &str) {
    o.assert_success();
    for l in rank_lines(o, "matching", n) {
        assert!(l.contains(": ok, "), "{l}");
        assert!(
            l.contains(&format!("manager={manager}")),
            "{l}\n{}",
            o.dump()
        );
    }
}

#[test]
fn matching_1() {
    check(&Spec::mpirun(1, "matching", &[]).run(), 1, "PMI-1");
}

#[test]
fn matching_2() {
    check(&Spec::mpirun(2, "matching", &[]).run(), 2, "PMI-1");
}

#[test]
fn matching_4() {
    check(&Spec::mpirun(4, "matching", &[]).run(), 4, "PMI-1");
}

/// Large messages by pipelined copy instead of CMA.
#[test]
fn matching_4_without_cma() {
    let o = Spec::mpirun(4, "matching", &[])
        .env("MV2_SMP_USE_CMA", "0")
        .run();
    check(&o, 4, "PMI-1");
}

/// The same semantics over TCP.
#[test]
fn matching_2_tcp() {
    let o = Spec::mpirun(2, "matching", &[])
        .env("MV2_USE_SHARED_MEM", "0")
        .run();
    check(&o, 2, "PMI-1");
}

/// Started directly, no launcher: a world of one.
#[test]
fn matching_singleton() {
    check(&Spec::alone("matching", &[]).run(), 1, "singleton");
}
