//! Groups, communicator management, topologies, neighborhood collectives and
//! sessions from C: each program built with our mpicc and with Debian's
//! mpicc.mpich (run on our libmpich.so.12), on 1 to 4 ranks under our mpirun;
//! where the output is deterministic it must equal real MPICH's (mpiexec.mpich)
//! line for line (sorted: ranks print in any order).
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

mod common;
use common::*;

fn ours(n: usize, prog: &Path) -> Vec<String> {
    let o = Command::new(prefix().join("bin/mpirun"))
        .arg("-np")
        .arg(n.to_string())
        .arg(prog)
        .env("LD_LIBRARY_PATH", prefix().join("lib"))
        .output()
        .unwrap();
    let (so, se) = text(&o);
    assert!(
        o.status.success(),
        "{} on {n} ranks failed:\n{so}{se}",
        prog.display()
    );
    for r in 0..n {
        assert!(
            so.contains(&format!("rank {r} of {n}: PASS")),
            "rank {r} of {n} did not pass:\n{so}{se}"
        );
    }
    sorted(&so)
}

fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn mpich(n: usize, prog: &Path) -> Option<Vec<String>> {
    let exe = Path::new("/usr/bin/mpiexec.mpich");
    if !exe.exists() {
        return None;
    }
    let o = Command::new(exe)
        .arg("-n")
        .arg(n.to_string())
        .arg(prog)
        .output()
        .unwrap();
    let (so, se) = text(&o);
    assert!(
        o.status.success(),
        "MPICH run of {} on {n} ranks failed:\n{so}{se}",
        prog.display()
    );
    Some(sorted(&so))
}

fn check(src: &str, ranks: &[usize], compare: bool) {
    let d = tmp();
    let stem = src.trim_end_matches(".c");
    let a = d.join(format!("{stem}-vmpi"));
    let b = d.join(format!("{stem}-mpich"));
    compile(&prefix().join("bin/mpicc"), src, &a);
    compile(&mpich_cc(), src, &b);
    for &n in ranks {
        let x = ours(n, &a);
        let y = ours(n, &b);
        assert_eq!(
            x, y,
            "{src} on {n} ranks: our mpicc and mpicc.mpich builds differ"
        );
        if compare {
            if let Some(z) = mpich(n, &b) {
                assert_eq!(
                    x, z,
                    "{src} on {n} ranks: vmpi and MPICH print different things"
                );
            }
        }
    }
}

#[test]
fn groups_communicators_intercommunicators_errors() {
    check("comm_groups.c", &[1, 2, 3, 4], true);
}

#[test]
fn topologies_and_neighborhood_collectives() {
    check("topo_neighbors.c", &[1, 2, 3, 4], true);
}

#[test]
fn sessions_world_and_self() {
    check("session_world_self.c", &[1, 2, 4], true);
}
