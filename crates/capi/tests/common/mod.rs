//! Helpers shared by the C ABI tests: the install tree, compiling C with our mpicc or
//! MPICH's, running under our mpirun.
#![allow(dead_code)]

pub use std::path::{Path, PathBuf};
pub use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The directory holding libmpi.so (this test's profile: target/<profile>).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

pub fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `make install PREFIX=<tmp>/prefix NO_BUILD=1` once for all tests.
pub fn prefix() -> &'static Path {
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

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    out
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn compile(compiler: &Path, src: &str, out: &Path) {
    let o = run(Command::new(compiler)
        .arg("-O1")
        .arg("-o")
        .arg(out)
        .arg(c_dir().join(src))
        .arg("-Wno-stringop-overflow"));
    let (so, se) = text(&o);
    assert!(o.status.success(), "{compiler:?} {src} failed:\n{so}{se}");
}

pub fn mpich_cc() -> PathBuf {
    let p = PathBuf::from("/usr/bin/mpicc.mpich");
    assert!(
        p.exists(),
        "MPICH is needed for this test: apt-get install mpich libmpich-dev"
    );
    p
}

/// Run `prog` on `n` ranks under our mpirun with the installed lib dir first in
/// the search path (it holds libmpich.so.12 for MPICH-built binaries).
pub fn mpirun(n: usize, prog: &Path) -> Output {
    let lib = prefix().join("lib");
    run(Command::new(prefix().join("bin/mpirun"))
        .arg("-np")
        .arg(n.to_string())
        .arg(prog)
        .env("LD_LIBRARY_PATH", lib))
}

pub fn expect_pass(n: usize, prog: &Path) {
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
