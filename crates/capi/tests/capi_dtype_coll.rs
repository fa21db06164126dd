//! (helpers copied from capi.rs) The C interface from C: header values against MPICH's, every family through our
//! mpicc/mpicxx on 1, 2 and 4 ranks, the ABI proof (the same sources built with
//! Debian's mpicc.mpich run on libmpi.so.12 under our mpirun), the fatal error
//! handler, and the installed tree (make install, relocatable, pkg-config).
//!
//! Needs gcc, g++ and MPICH (`apt-get install mpich libmpich-dev`), and the
//! launcher built: `cargo build --release -p vmpi-launch` (or `make capi`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The directory holding libmpi.so (this test's profile: target/<profile>).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `make install PREFIX=<tmp>/prefix NO_BUILD=1` once for all tests.
fn prefix() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let pd = profile_dir();
        assert!(
            pd.join("libmpi.so").exists(),
            "{} missing",
            pd.join("libmpi.so").display()
        );
        assert!(
            pd.join("mpirun").exists(),
            "{} missing: run `cargo build --release -p vmpi-launch` (or `make capi`) first",
            pd.join("mpirun").display()
        );
        let p = tmp().join("prefix");
        let out = Command::new("make")
            .arg("-C")
            .arg(root())
            .arg("install")
            .arg(format!("PREFIX={}", p.display()))
            .arg("NO_BUILD=1")
            .arg(format!("RELEASE={}", pd.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "make install failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p
    })
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    out
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn compile(compiler: &Path, src: &str, out: &Path) {
    let o = run(Command::new(compiler)
        .arg("-O1")
        .arg("-o")
        .arg(out)
        .arg(c_dir().join(src))
        .arg("-Wno-stringop-overflow"));
    let (so, se) = text(&o);
    assert!(o.status.success(), "{compiler:?} {src} failed:\n{so}{se}");
}

fn mpich_cc() -> PathBuf {
    let p = PathBuf::from("/usr/bin/mpicc.mpich");
    assert!(
        p.exists(),
        "MPICH is needed for this test: apt-get install mpich libmpich-dev"
    );
    p
}

/// Run `prog` on `n` ranks under our mpirun with the installed lib dir first in
/// the search path (it holds libmpich.so.12 for MPICH-built binaries).
fn mpirun(n: usize, prog: &Path) -> Output {
    let lib = prefix().join("lib");
    run(Command::new(prefix().join("bin/mpirun"))
        .arg("-np")
        .arg(n.to_string())
        .arg(prog)
        .env("LD_LIBRARY_PATH", lib))
}

fn expect_pass(n: usize, prog: &Path) {
    let o = mpirun(n, prog);
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
}

/// Lines rank 0 prints that are deterministic (not the PASS/FAIL lines).
fn table(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.starts_with("rank ") && !l.trim().is_empty())
        .map(String::from)
        .collect()
}

fn reference(src: &str, n: usize) -> Vec<String> {
    let d = tmp();
    let exe = d.join(format!("{src}-ref"));
    compile(&mpich_cc(), src, &exe);
    let o = run(Command::new("/usr/bin/mpiexec.mpich")
        .arg("-n")
        .arg(n.to_string())
        .arg(&exe));
    table(&text(&o).0)
}

fn ours_and_abi(src: &str, sizes: &[usize], compare: bool) {
    let d = tmp();
    let ours = d.join(format!("{src}-vmpi"));
    compile(&prefix().join("bin/mpicc"), src, &ours);
    let abi = d.join(format!("{src}-abi"));
    compile(&mpich_cc(), src, &abi);
    for &n in sizes {
        for exe in [&ours, &abi] {
            expect_pass(n, exe);
        }
        if compare {
            let got = table(&text(&mpirun(n, &ours)).0);
            assert_eq!(
                got,
                reference(src, n),
                "{src} on {n} ranks: output differs from MPICH's"
            );
        }
    }
}

#[test]
fn datatypes_match_mpich() {
    ours_and_abi("dtype_types.c", &[1, 2, 3], true);
}

#[test]
fn collectives() {
    ours_and_abi("coll_all.c", &[1, 2, 3, 4], false);
}
