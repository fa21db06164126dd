//! rsmpi (the `mpi` crate 0.8 from crates.io) builds against our installed mpicc
//! (its build script probes `mpicc -show`: our bin/ comes first in PATH) and its
//! programs run under our mpirun: hello (rank, size, library version) and a ring
//! of sends and receives with a dup'd and split communicator.
//!
//! The project is tests/rsmpi/ (its own workspace and lock file, built into
//! target/rsmpi). It builds offline from cargo's cache once the crates were
//! fetched (`cargo fetch --manifest-path crates/capi/tests/rsmpi/Cargo.toml`);
//! without a cache it fetches from crates.io. Needs clang and libclang-dev
//! (bindgen), and the release build (`make capi`).

mod common;
use common::*;

#[test]
fn rsmpi_builds_with_our_mpicc_and_runs_under_our_mpirun() {
    let pd = profile_dir();
    assert!(
        pd.join("libmpi.so").exists() && pd.join("mpirun").exists(),
        "run `make capi` first"
    );
    // A fixed prefix: mpi-sys's build script remembers the library path it found.
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rsmpi-prefix");
    let o = Command::new("make")
        .arg("-C")
        .arg(root())
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg("NO_BUILD=1")
        .arg(format!("RELEASE={}", pd.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rsmpi/Cargo.toml");
    let target = root().join("target/rsmpi");
    let path = format!(
        "{}:{}",
        prefix.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let build = |offline: bool| {
        let mut c = Command::new(env!("CARGO"));
        c.args(["build", "--release", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .env("PATH", &path)
            .env("MPICC", prefix.join("bin/mpicc"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR");
        if offline {
            c.arg("--offline");
        }
        c.output().unwrap()
    };
    let mut o = build(true);
    if !o.status.success() {
        o = build(false);
    }
    assert!(
        o.status.success(),
        "rsmpi did not build against our mpicc:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bin = target.join("release");
    for (prog, ranks) in [("hello", &[1usize, 2][..]), ("ring", &[1, 2, 3][..])] {
        for &n in ranks {
            let o = Command::new(prefix.join("bin/mpirun"))
                .arg("-np")
                .arg(n.to_string())
                .arg(bin.join(prog))
                .env("LD_LIBRARY_PATH", prefix.join("lib"))
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "{prog} on {n} ranks:\n{out}{}",
                String::from_utf8_lossy(&o.stderr)
            );
            let want = if prog == "hello" {
                "hello from rank"
            } else {
                "ring rank"
            };
            assert_eq!(out.matches(want).count(), n, "{prog} on {n} ranks:\n{out}");
        }
    }
}
