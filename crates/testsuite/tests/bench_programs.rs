//! The benchmark programs of bench/programs (what `make bench` compares with MPICH and
//! Open MPI) build with our installed mpicc and run correctly on 2 ranks under our
//! mpirun: tiny sizes, few iterations, validation on (-c), exit 0, and well-formed
//! OSU output (a `# Size` header, one line per size, every line "Pass"). Correctness
//! only: no timing is asserted. Also checks the significance test of
//! bench/compare.py.
//!
//! Needs gcc and make, and the C library and launcher built (`make capi`, or
//! `cargo build --release --workspace`); installs a tree with
//! `make install NO_BUILD=1` itself, as crates/capi/tests/capi.rs does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// target/<profile>: where libmpi.so and mpirun are built.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bench-programs-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `make install PREFIX=<tmp>/prefix NO_BUILD=1`, then the programs built with its
/// mpicc into <tmp>/bin (once for all tests).
fn programs() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let pd = profile_dir();
        for f in ["libmpi.so", "mpirun"] {
            assert!(
                pd.join(f).exists(),
                "{} missing: run `make capi` (or `cargo build --release --workspace`) first",
                pd.join(f).display()
            );
        }
        let t = tmp();
        let prefix = t.join("prefix");
        let out = Command::new("make")
            .arg("-C")
            .arg(root())
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg("NO_BUILD=1")
            .arg(format!("RELEASE={}", pd.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "make install failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = t.join("bin");
        make_programs(&prefix, &bin, "base");
        bin
    })
}

/// `make -C bench/programs <target>` with our mpicc into `bin`.
fn make_programs(prefix: &Path, bin: &Path, target: &str) {
    let out = Command::new("make")
        .arg("-C")
        .arg(root().join("bench/programs"))
        .arg(format!("MPICC={}", prefix.join("bin/mpicc").display()))
        .arg(format!("BIN={}", bin.display()))
        .arg("CFLAGS=-O1 -Wall")
        .arg(target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building bench/programs ({target}) with our mpicc failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs one program on 2 ranks with sizes MIN..MAX, 3 iterations, validation on;
/// checks the exit status and the output; returns the data lines' sizes.
fn run(prog: &str, min: usize, max: usize, extra: &[&str]) -> Vec<usize> {
    let exe = programs().join(prog);
    let out = Command::new(profile_dir().join("mpirun"))
        .args(["-np", "2"])
        .arg(&exe)
        .args(["-m", &format!("{min}:{max}"), "-i", "3", "-x", "1", "-c"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{prog}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("# Size"))
        .unwrap_or_else(|| panic!("{prog}: no '# Size' header:\n{stdout}"));
    assert!(
        lines[..head].iter().all(|l| l.starts_with('#')),
        "{prog}: junk before the header:\n{stdout}"
    );
    let cols: Vec<&str> = lines[head].split_whitespace().collect();
    assert_eq!(
        cols.last(),
        Some(&"Validation"),
        "{prog}: header {:?}",
        lines[head]
    );
    let mut sizes = Vec::new();
    for l in &lines[head + 1..] {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert!(f.len() >= 3, "{prog}: short line {l:?}");
        sizes.push(
            f[0].parse::<usize>()
                .unwrap_or_else(|_| panic!("{prog}: bad size in {l:?}")),
        );
        for v in &f[1..f.len() - 1] {
            let x: f64 = v
                .parse()
                .unwrap_or_else(|_| panic!("{prog}: bad value in {l:?}"));
            assert!(x.is_finite() && x >= 0.0, "{prog}: bad value in {l:?}");
        }
        assert_eq!(
            f[f.len() - 1],
            "Pass",
            "{prog}: validation failed: {l:?}\n{stderr}"
        );
    }
    sizes
}

/// MIN, 2 MIN, 4 MIN, ... MAX (0 is followed by 1, as the programs do).
fn pow2(min: usize, max: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut s = min;
    while s <= max {
        v.push(s);
        s = if s == 0 { 1 } else { s * 2 };
    }
    v
}

#[test]
fn point_to_point_programs() {
    // 0 B, small, and one size above the 16 KiB eager limit (rendezvous path)
    assert_eq!(run("latency", 0, 32 << 10, &[]), pow2(0, 32 << 10));
    assert_eq!(run("multi_lat", 0, 64, &[]), pow2(0, 64));
    for p in ["bw", "bibw", "mbw_mr"] {
        assert_eq!(run(p, 1, 32 << 10, &["-W", "8"]), pow2(1, 32 << 10), "{p}");
    }
}

#[test]
fn collective_programs() {
    assert_eq!(run("barrier", 0, 0, &[]), vec![0]);
    for p in ["bcast", "allgather", "alltoall", "gather", "scatter"] {
        assert_eq!(run(p, 1, 64 << 10, &[]), pow2(1, 64 << 10), "{p}");
    }
    // reductions work on floats: sizes start at 4 bytes whatever MIN says
    for p in ["reduce", "allreduce"] {
        assert_eq!(run(p, 1, 64 << 10, &["-f"]), pow2(4, 64 << 10), "{p}");
    }
}

#[test]
fn one_sided_programs() {
    // Built apart (`make rma`): they need MPI_Win_* in the library.
    let bin = programs();
    make_programs(&bin.parent().unwrap().join("prefix"), bin, "rma");
    for p in ["put_latency", "get_latency", "acc_latency"] {
        assert_eq!(run(p, 1, 32 << 10, &[]), pow2(1, 32 << 10), "{p}");
    }
    assert_eq!(run("put_bw", 1, 32 << 10, &["-W", "8"]), pow2(1, 32 << 10));
    // one MPI_LONG_LONG: one line of size 8 whatever -m says
    for p in ["fop_latency", "cas_latency"] {
        assert_eq!(run(p, 1, 32 << 10, &[]), vec![8], "{p}");
    }
}

#[test]
fn bad_option_is_an_error() {
    let out = Command::new(profile_dir().join("mpirun"))
        .args(["-np", "1"])
        .arg(programs().join("latency"))
        .args(["-m", "lots"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "latency -m lots succeeded");
}

/// bench/compare.py's significance test (which cells of a round are behind beyond
/// the run-to-run noise) against hand-counted cases and brute-force enumeration.
#[test]
fn compare_significance_test() {
    let out = Command::new("python3")
        .arg(root().join("bench/compare.py"))
        .arg("--self-test")
        .output()
        .expect("python3 (scripts/install-deps.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("self-test: ok"),
        "compare.py --self-test: {}\n{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
}
