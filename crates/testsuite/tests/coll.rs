//! Multi-process collective tests: `coll_check` through our `mpirun` on 1 to 9
//! ranks (oversubscribed on small machines), with every algorithm forced once.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_coll_check"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(np: usize, args: &[&str], env: &[(&str, &str)]) {
    let dir = bin_dir();
    let mpirun = dir.join("mpirun");
    assert!(
        mpirun.exists(),
        "{} missing: build the workspace (cargo build --release --workspace)",
        mpirun.display()
    );
    let mut c = Command::new(&mpirun);
    c.arg("-np")
        .arg(np.to_string())
        .arg(dir.join("coll_check"))
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let t = Instant::now();
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start mpirun");
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("coll_check -np {np} {env:?} did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("coll_check: ok"),
        "np {np} {env:?}: {}\n{}",
        out,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_size_1_to_9() {
    for np in 1..=9 {
        run(np, &["quick"], &[]);
    }
}

#[test]
fn shared_area_sizes() {
    // Off: every small collective on point-to-point schedules. 64 bytes: on one
    // communicator some calls fit the area and others do not, so its operations
    // interleave with point-to-point ones (the default, auto, runs in the tests above).
    for np in [2, 3, 4, 8] {
        run(np, &["quick"], &[("VMPI_COLL_SHM_SIZE", "0")]);
        run(np, &["quick"], &[("VMPI_COLL_SHM_SIZE", "64")]);
    }
}

#[test]
fn large_messages() {
    for np in [2, 4, 7] {
        run(np, &[], &[]);
    }
}

#[test]
fn forced_algorithms() {
    let sets: &[&[(&str, &str)]] = &[
        &[
            ("VMPI_BCAST_ALGO", "scatter_allgather"),
            ("VMPI_ALLREDUCE_ALGO", "rabenseifner"),
            ("VMPI_ALLTOALL_ALGO", "bruck"),
        ],
        &[
            ("VMPI_ALLREDUCE_ALGO", "ring"),
            ("VMPI_ALLTOALL_ALGO", "pairwise"),
            ("VMPI_BARRIER_ALGO", "dissemination"),
        ],
    ];
    for env in sets {
        for np in [3, 5, 8] {
            run(np, &[], env);
        }
    }
}

#[test]
fn shared_memory_off() {
    // Every pair on TCP, every rank its own domain.
    run(3, &["quick"], &[("MV2_USE_SHARED_MEM", "0")]);
}

#[test]
fn split_domains_two_level() {
    // One host cut into shm domains of two ranks (pairs across blocks use TCP):
    // the host-aware algorithms run on real domains, chosen by the table and forced.
    for np in [4, 5] {
        run(np, &["quick"], &[("VMPI_SHM_DOMAIN_SPLIT", "2")]);
        run(
            np,
            &["quick"],
            &[
                ("VMPI_SHM_DOMAIN_SPLIT", "2"),
                ("VMPI_BARRIER_ALGO", "two_level"),
                ("VMPI_BCAST_ALGO", "two_level"),
                ("VMPI_REDUCE_ALGO", "two_level"),
                ("VMPI_ALLREDUCE_ALGO", "two_level"),
            ],
        );
    }
}
