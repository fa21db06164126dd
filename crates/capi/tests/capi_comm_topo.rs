//! Groups, communicator management, topologies, neighborhood collectives and
//! sessions from C: each program built with our mpicc and with Debian's
//! mpicc.mpich (run on our libmpich.so.12), on 1 to 4 ranks under our mpirun;
//! where the output is deterministic it must equal real MPICH's (mpiexec.mpich)
//! line for line (sorted: ranks print in any order).
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn tmp() -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-comm-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn prefix() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let pd = profile_dir();
        assert!(
            pd.join("libmpi.so").exists() && pd.join("mpirun").exists(),
            "run `make capi` first"
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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn compile(cc: &Path, src: &str, out: &Path) {
    let o = Command::new(cc)
        .args(["-O1", "-o"])
        .arg(out)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/c")
                .join(src),
        )
        .output()
        .unwrap();
    let (so, se) = text(&o);
    assert!(o.status.success(), "{cc:?} {src} failed:\n{so}{se}");
}

fn mpich_cc() -> PathBuf {
    let p = PathBuf::from("/usr/bin/mpicc.mpich");
    assert!(
        p.exists(),
        "MPICH is needed for this test: apt-get install mpich libmpich-dev"
    );
    p
}

/// Run under our mpirun; the sorted stdout lines, after checking every rank passed.
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

/// The same program under real MPICH (None when mpiexec.mpich is missing).
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

/// Build `src` both ways and run it on `ranks`; compare with MPICH when `compare`.
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
