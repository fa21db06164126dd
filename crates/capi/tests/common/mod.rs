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
    mpirun_with(n, prog, &[], &[])
}

/// [`mpirun`] with arguments for `prog` and extra environment.
pub fn mpirun_with(n: usize, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let lib = prefix().join("lib");
    let mut cmd = Command::new(prefix().join("bin/mpirun"));
    cmd.arg("-np").arg(n.to_string()).arg(prog).args(args);
    cmd.env("LD_LIBRARY_PATH", lib);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The run must succeed and every rank print `rank R of N: PASS`; its stdout.
pub fn passed(o: &Output, n: usize, what: &str) -> String {
    let (so, se) = text(o);
    assert!(o.status.success(), "{what} on {n} ranks failed:\n{so}{se}");
    for r in 0..n {
        assert!(
            so.contains(&format!("rank {r} of {n}: PASS")),
            "{what}: rank {r} of {n} did not pass:\n{so}{se}"
        );
    }
    so
}

pub fn expect_pass(n: usize, prog: &Path) {
    passed(&mpirun(n, prog), n, &prog.display().to_string());
}

/// The lines of `s`, sorted (ranks print in any order).
pub fn sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// How long a reference run of real MPICH may take. MPICH 4.0.2 (ch4:ucx) here
/// hangs now and then on more ranks than cores (seen in one-sided and
/// intercommunicator programs), spinning on both cores; a hung reference run
/// must not take the test, or the machine, with it.
const MPICH_LIMIT_S: &str = "120";

/// Real MPICH's run of `prog` (built with mpicc.mpich) on `n` ranks, its lines
/// sorted; None without MPICH's launcher, or when MPICH itself hung (said on
/// stderr: the comparison is skipped, our own runs were checked already).
pub fn mpich(n: usize, prog: &Path) -> Option<Vec<String>> {
    let exe = Path::new("/usr/bin/mpiexec.mpich");
    if !exe.exists() {
        return None;
    }
    let o = run(Command::new("timeout")
        .args(["-k", "5", MPICH_LIMIT_S])
        .arg(exe)
        .arg("-n")
        .arg(n.to_string())
        .arg(prog));
    let (so, se) = text(&o);
    if matches!(o.status.code(), Some(124) | Some(137) | None) {
        eprintln!(
            "warning: real MPICH hung on {} ({n} ranks) for {MPICH_LIMIT_S} s: comparison with MPICH skipped",
            prog.display()
        );
        return None;
    }
    assert!(
        o.status.success(),
        "MPICH run of {} on {n} ranks failed:\n{so}{se}",
        prog.display()
    );
    Some(sorted(&so))
}

/// `src` built with our mpicc and with mpicc.mpich: (ours, MPICH's). Built once
/// per test process: tests that run one program in several settings share the
/// binaries (building the same path twice at once would run a half-written file).
pub fn build_both(src: &str) -> (PathBuf, PathBuf) {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf, PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, a, b)) = built.iter().find(|(s, _, _)| s == src) {
        return (a.clone(), b.clone());
    }
    let d = tmp();
    let stem = src.trim_end_matches(".c");
    let a = d.join(format!("{stem}-vmpi"));
    let b = d.join(format!("{stem}-mpich"));
    compile(&prefix().join("bin/mpicc"), src, &a);
    compile(&mpich_cc(), src, &b);
    built.push((src.to_string(), a.clone(), b.clone()));
    (a, b)
}

/// Build `src` with our mpicc and with mpicc.mpich, run both on each of `ranks`
/// under our mpirun (every rank must pass, both builds print the same); where
/// `compare`, also the same as real MPICH prints. Our output of each run.
pub fn check_both_builds(src: &str, ranks: &[usize], compare: bool) -> Vec<String> {
    check_both_builds_env(src, ranks, compare, &[])
}

/// [`check_both_builds`] with extra environment for our mpirun's runs of both
/// builds (vmpi's variables, e.g. `MV2_USE_SHARED_MEM=0`, `VMPI_SHM_DOMAIN_SPLIT=2`,
/// `MPIEXEC_TIMEOUT=120`); real MPICH, where `compare`, runs without it.
pub fn check_both_builds_env(
    src: &str,
    ranks: &[usize],
    compare: bool,
    env: &[(&str, &str)],
) -> Vec<String> {
    let (a, b) = build_both(src);
    let mut outs = Vec::new();
    let what = if env.is_empty() {
        src.to_string()
    } else {
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{src} ({})", vars.join(" "))
    };
    for &n in ranks {
        let raw = passed(&mpirun_with(n, &a, &[], env), n, &what);
        let x = sorted(&raw);
        let y = sorted(&passed(&mpirun_with(n, &b, &[], env), n, &what));
        assert_eq!(
            x, y,
            "{what} on {n} ranks: our mpicc and mpicc.mpich builds differ"
        );
        if compare {
            if let Some(z) = mpich(n, &b) {
                assert_eq!(
                    x, z,
                    "{what} on {n} ranks: vmpi and MPICH print different things"
                );
            }
        }
        outs.push(raw);
    }
    outs
}
