//! vmpi programs started by MPICH's Hydra (`mpiexec.mpich`), the PMI-1 process
//! manager of MPICH: the library must join the job through Hydra's PMI.

mod common;
use common::{rank_lines, Spec};
use std::path::PathBuf;

fn hydra() -> PathBuf {
    let p = PathBuf::from("/usr/bin/mpiexec.mpich");
    assert!(
        p.exists(),
        "{} is missing: install the package `mpich` (apt-get install mpich); \
         these tests check that vmpi runs under MPICH's Hydra",
        p.display()
    );
    p
}

#[test]
fn hydra_exchange_ring_and_allpairs_4() {
    for (pat, it) in [("ring", "10"), ("allpairs", "5")] {
        let o = Spec::launcher(hydra(), &["-n", "4"], "exchange", &[pat, it, "8M", "11"])
            .limit(90)
            .run();
        o.assert_success();
        for l in rank_lines(&o, "exchange", 4) {
            assert!(l.contains("manager=PMI-1"), "{l}");
            assert!(
                l.contains(":shm/"),
                "ranks under Hydra on one machine use shm: {l}"
            );
        }
    }
}

#[test]
fn hydra_matching_2() {
    let o = Spec::launcher(hydra(), &["-n", "2"], "matching", &[])
        .limit(90)
        .run();
    o.assert_success();
    rank_lines(&o, "matching", 2);
}
