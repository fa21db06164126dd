//! The C interface from C: header values against MPICH's, every family through our
//! mpicc/mpicxx on 1, 2 and 4 ranks, the ABI proof (the same sources built with
//! Debian's mpicc.mpich run on libmpi.so.12 under our mpirun), the fatal error
//! handler, and the installed tree (make install, relocatable, pkg-config).
//!
//! Needs gcc, g++ and MPICH (`apt-get install mpich libmpich-dev`), and the
//! launcher built: `cargo build --release -p vmpi-launch` (or `make capi`).

mod common;
use common::*;

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
