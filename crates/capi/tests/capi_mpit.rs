//! The last MPI-3.1 families of the C ABI from C: the tool information interface
//! (cvars = vmpi's runtime parameters, one set through mpirun's environment options),
//! datatype attributes, and the f90 type constructors (their results compared with
//! MPICH's). Each program is built with our mpicc and with MPICH's mpicc.mpich (the
//! ABI proof: run on our libmpich.so.12) and runs on 1 and 2 ranks.
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the launcher
//! built: `cargo build --release -p vmpi-launch` (or `make capi`).

mod common;
use common::*;

/// Both builds of `src`: (ours, abi).
fn builds(src: &str) -> (PathBuf, PathBuf) {
    let d = tmp();
    let ours = d.join(format!("{src}-vmpi"));
    compile(&prefix().join("bin/mpicc"), src, &ours);
    let abi = d.join(format!("{src}-abi"));
    compile(&mpich_cc(), src, &abi);
    (ours, abi)
}

#[test]
fn mpit_cvars_from_the_environment() {
    let (ours, abi) = builds("mpit_cvars.c");
    let lib = prefix().join("lib");
    for n in [1, 2] {
        for exe in [&ours, &abi] {
            // One variable through -genv, one as VAR=VAL: both reach every rank.
            let o = run(Command::new(prefix().join("bin/mpirun"))
                .arg("-np")
                .arg(n.to_string())
                .args(["-genv", "MV2_SMP_EAGERSIZE", "8192", "VMPI_YIELD=never"])
                .arg(exe)
                .env_remove("VMPI_TCP_EAGERSIZE")
                .env_remove("VMPI_UNEXPECTED_LIMIT")
                .env("LD_LIBRARY_PATH", &lib));
            passed(&o, n, &exe.display().to_string());
        }
    }
}

/// The f90 lines rank 0 prints (the rest is PASS/FAIL lines).
fn f90_table(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.starts_with("rank ") && !l.starts_with('[') && !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn type_attributes_and_f90_match_mpich() {
    let src = "typeattr_f90.c";
    let (ours, abi) = builds(src);
    for n in [1, 2] {
        for exe in [&ours, &abi] {
            passed(&mpirun(n, exe), n, &exe.display().to_string());
        }
    }
    // MPICH itself on the same program: the same f90 results (its handles are
    // numbers of its own, so sizes, combiners, contents and error classes).
    let reference = run(Command::new("/usr/bin/mpiexec.mpich")
        .arg("-n")
        .arg("1")
        .arg(&abi));
    let want = f90_table(&text(&reference).0);
    assert!(
        want.len() > 30,
        "MPICH printed too little:\n{}",
        text(&reference).0
    );
    let got = f90_table(&text(&mpirun(1, &ours)).0);
    assert_eq!(got, want, "f90 results differ from MPICH's");
}

#[test]
fn mpit_names_and_no_events() {
    // Our build only: MPICH has performance variables and events of its own.
    let exe = tmp().join("mpit_events-vmpi");
    compile(&prefix().join("bin/mpicc"), "mpit_events.c", &exe);
    for n in [1, 2] {
        expect_pass(n, &exe);
    }
}
