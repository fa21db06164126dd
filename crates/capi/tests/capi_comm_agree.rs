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
/// hang is a failure, not a stuck test. Every rank must pass.
fn pass(n: usize, prog: &Path, args: &[&str], limit_s: u32) {
    let limit = limit_s.to_string();
    let o = mpirun_with(n, prog, args, &[("MPIEXEC_TIMEOUT", &limit)]);
    passed(&o, n, &format!("{} {args:?}", prog.display()));
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
    for mode in [
        None,
        Some(("MV2_USE_SHARED_MEM", "0")),
        Some(("VMPI_SHM_DOMAIN_SPLIT", "2")),
    ] {
        let mut env = vec![("MPIEXEC_TIMEOUT", "180")];
        env.extend(mode);
        let o = mpirun_with(4, &p, &["1000"], &env);
        let so = passed(&o, 4, &format!("soak {mode:?}"));
        let line = so.lines().find(|l| l.starts_with("soak:")).unwrap_or("");
        assert!(
            line.contains("48000 messages checked"),
            "soak {mode:?}: {line}"
        );
        eprintln!("{mode:?}: {line}");
    }
}
