//! Communicator creation that must hold for any interleaving: create_group among
//! random overlapping subsets, a truly nonblocking MPI_Comm_idup (beside
//! point-to-point, nonblocking collectives, the blocking constructors, other
//! idups, intercommunicators), four threads per rank making communicators at
//! once under MPI_THREAD_MULTIPLE, and collectives whose counts differ between
//! ranks (an erroneous program: every receiving rank reports it, none hangs),
//! and a threaded soak (matched probes beside communicator creation).
//! Each C program was written to fail before the fix it covers (issue 22).
//!
//! Needs gcc and the release build (`make capi`).

mod common;
use common::*;

fn build(src: &str, extra: &[&str]) -> PathBuf {
    let exe = tmp().join(src.trim_end_matches(".c"));
    let mut cmd = Command::new(prefix().join("bin/mpicc"));
    cmd.arg("-O1")
        .args(extra)
        .arg("-o")
        .arg(&exe)
        .arg(c_dir().join(src));
    let o = run(&mut cmd);
    let (so, se) = text(&o);
    assert!(o.status.success(), "mpicc {src} failed:\n{so}{se}");
    exe
}

/// Run `prog` (with `args`) on `n` ranks under our mpirun, with a time limit: a
/// hang is a failure, not a stuck test. Every rank must print its PASS line.
fn pass(n: usize, prog: &Path, args: &[&str], limit_s: u32) {
    let o = run(Command::new(prefix().join("bin/mpirun"))
        .arg("-np")
        .arg(n.to_string())
        .arg(prog)
        .args(args)
        .env("MPIEXEC_TIMEOUT", limit_s.to_string())
        .env("LD_LIBRARY_PATH", prefix().join("lib")));
    let (so, se) = text(&o);
    assert!(
        o.status.success(),
        "{} {args:?} on {n} ranks failed:\n{so}{se}",
        prog.display()
    );
    for r in 0..n {
        assert!(
            so.contains(&format!("rank {r} of {n}: PASS")),
            "rank {r} of {n} did not pass:\n{so}{se}"
        );
    }
}

#[test]
fn create_group_among_random_subsets() {
    let p = build("comm_create_group_rand.c", &[]);
    for n in [1, 2, 3, 4] {
        pass(n, &p, &[], 60);
    }
}

#[test]
fn idup_is_nonblocking() {
    let p = build("comm_idup.c", &[]);
    for n in [2, 3, 4, 9] {
        pass(n, &p, &[], 120);
    }
}

#[test]
fn threads_create_communicators_at_once() {
    let p = build("comm_threads.c", &["-pthread"]);
    for n in [1, 2, 3, 4] {
        pass(n, &p, &["100"], 120);
    }
}

#[test]
fn collective_count_mismatch_reported_everywhere() {
    let p = build("coll_mismatch.c", &[]);
    for n in [1, 2, 3, 4] {
        pass(n, &p, &[], 60);
    }
}

/// The threaded soak: four threads per rank, matched probes on a shared
/// communicator, communicators made at once; over shared memory, TCP and both
/// (two shm domains of two ranks). About 3 s each.
#[test]
fn threaded_soak_matched_probes_and_communicators() {
    let p = build("soak_threads.c", &["-pthread"]);
    for env in [
        None,
        Some(("MV2_USE_SHARED_MEM", "0")),
        Some(("VMPI_SHM_DOMAIN_SPLIT", "2")),
    ] {
        let mut cmd = Command::new(prefix().join("bin/mpirun"));
        cmd.args(["-np", "4"])
            .arg(&p)
            .arg("1000")
            .env("MPIEXEC_TIMEOUT", "180")
            .env("LD_LIBRARY_PATH", prefix().join("lib"));
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let o = run(&mut cmd);
        let (so, se) = text(&o);
        assert!(o.status.success(), "soak {env:?} failed:\n{so}{se}");
        for r in 0..4 {
            assert!(
                so.contains(&format!("rank {r} of 4: PASS")),
                "soak {env:?}: rank {r} did not pass:\n{so}{se}"
            );
        }
        let line = so.lines().find(|l| l.starts_with("soak:")).unwrap_or("");
        assert!(line.contains("48000 messages checked"), "soak {env:?}: {line}");
        eprintln!("{env:?}: {line}");
    }
}
