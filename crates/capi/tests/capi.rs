//! The C interface from C: header values against MPICH's, every family through our
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

#[test]
fn header_values_match_mpich() {
    let d = tmp();
    let ours = d.join("consts-vmpi");
    let o = run(Command::new("gcc")
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg("-o")
        .arg(&ours)
        .arg(c_dir().join("consts.c")));
    assert!(o.status.success(), "{}", text(&o).1);
    let theirs = d.join("consts-mpich");
    compile(&mpich_cc(), "consts.c", &theirs);
    let a = text(&run(&mut Command::new(&ours))).0;
    let b = text(&run(&mut Command::new(&theirs))).0;
    assert!(a.lines().count() > 250);
    for (x, y) in a.lines().zip(b.lines()) {
        assert_eq!(x, y, "our mpi.h differs from MPICH's");
    }
    assert_eq!(a.lines().count(), b.lines().count());
    // Our header also works in C++.
    let o = run(Command::new("g++")
        .arg("-x")
        .arg("c++")
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg(c_dir().join("consts.c")));
    assert!(o.status.success(), "{}", text(&o).1);
}

#[test]
fn every_family_through_our_mpicc() {
    let prog = tmp().join("families-vmpi");
    compile(&prefix().join("bin/mpicc"), "families.c", &prog);
    for n in [1, 2, 4] {
        expect_pass(n, &prog);
    }
}

#[test]
fn abi_binaries_built_with_mpich_run_on_vmpi() {
    let prog = tmp().join("families-mpich");
    compile(&mpich_cc(), "families.c", &prog);
    let ldd = text(&run(Command::new("ldd")
        .arg(&prog)
        .env("LD_LIBRARY_PATH", prefix().join("lib"))))
    .0;
    assert!(
        ldd.contains(&prefix().join("lib/libmpich.so.12").display().to_string()),
        "not linked to ours: {ldd}"
    );
    for n in [1, 2, 4] {
        expect_pass(n, &prog);
    }
}

#[test]
fn cxx_through_our_mpicxx() {
    let prog = tmp().join("hello-cxx");
    compile(&prefix().join("bin/mpicxx"), "hello.cpp", &prog);
    expect_pass(2, &prog);
    let prog2 = tmp().join("hello-cxx2");
    compile(&prefix().join("bin/mpic++"), "hello.cpp", &prog2);
    expect_pass(1, &prog2);
}

#[test]
fn errors_are_fatal_by_default() {
    let prog = tmp().join("fatal");
    compile(&prefix().join("bin/mpicc"), "fatal.c", &prog);
    let o = mpirun(2, &prog);
    let (so, se) = text(&o);
    assert!(!o.status.success(), "the job should have ended:\n{so}{se}");
    assert!(!so.contains("not reached"), "{so}");
    assert!(
        se.contains("vmpi: MPI_Send(buf=0x")
            && se.contains("count=-1")
            && se.contains("comm=0x44000000) on rank 1: invalid count -1"),
        "message should name the call, the argument and the rank:\n{se}"
    );
}

#[test]
fn installed_tree_wrappers_and_relocation() {
    let p = prefix();
    for f in [
        "bin/mpicc",
        "bin/mpicxx",
        "bin/mpic++",
        "bin/mpirun",
        "bin/mpiexec",
        "bin/mpirun_rsh",
        "include/mpi.h",
        "lib/libmpi.so.12",
        "lib/libmpi.so",
        "lib/libmpich.so.12",
        "lib/libmpich.so",
        "lib/libmpi.a",
        "lib/pkgconfig/vmpi.pc",
    ] {
        assert!(p.join(f).exists(), "{f} not installed");
    }
    let soname = text(&run(Command::new("readelf")
        .arg("-d")
        .arg(p.join("lib/libmpi.so.12"))))
    .0;
    assert!(soname.contains("[libmpi.so.12]"), "{soname}");
    let show = text(&run(
        Command::new(p.join("bin/mpicc")).args(["-show", "-o", "x", "x.c"])
    ))
    .0;
    let inc = format!("-I{}/include", p.display());
    let lib = format!("-L{}/lib -Wl,-rpath,{}/lib -lmpi", p.display(), p.display());
    assert_eq!(show.trim(), format!("cc {inc} -o x x.c {lib}"));
    let show_c = text(&run(
        Command::new(p.join("bin/mpicc")).args(["-show", "-c", "x.c"])
    ))
    .0;
    assert_eq!(show_c.trim(), format!("cc {inc} -c x.c"));
    let ci = text(&run(Command::new(p.join("bin/mpicc")).arg("-compile-info"))).0;
    assert_eq!(ci.trim(), format!("cc {inc}"));
    let li = text(&run(Command::new(p.join("bin/mpicxx")).arg("-link-info"))).0;
    assert_eq!(li.trim(), format!("c++ {inc} {lib}"));
    let chosen = text(&run(Command::new(p.join("bin/mpicc"))
        .arg("-show")
        .env("MPICH_CC", "gcc")))
    .0;
    assert!(chosen.starts_with("gcc "), "{chosen}");
    let chosen = text(&run(Command::new(p.join("bin/mpicc"))
        .arg("-show")
        .env("MPICH_CC", "gcc")
        .env("VMPI_CC", "clang")))
    .0;
    assert!(chosen.starts_with("clang "), "{chosen}");
    // Move the tree: the wrappers follow, a program builds and runs from there.
    let moved = tmp().join("moved");
    let o = run(Command::new("cp").arg("-a").arg(p).arg(&moved));
    assert!(o.status.success());
    let show = text(&run(Command::new(moved.join("bin/mpicc")).arg("-show"))).0;
    assert!(
        show.contains(&format!("-I{}/include", moved.display())),
        "{show}"
    );
    let prog = tmp().join("hello-moved");
    let o = run(Command::new(moved.join("bin/mpicxx"))
        .arg("-o")
        .arg(&prog)
        .arg(c_dir().join("hello.cpp")));
    assert!(o.status.success(), "{}", text(&o).1);
    let o = run(Command::new(moved.join("bin/mpirun"))
        .args(["-np", "2"])
        .arg(&prog)
        .env_remove("LD_LIBRARY_PATH"));
    let (so, se) = text(&o);
    assert!(
        o.status.success() && so.matches("PASS").count() == 2,
        "{so}{se}"
    );
    let ldd = text(&run(Command::new("ldd")
        .arg(&prog)
        .env_remove("LD_LIBRARY_PATH")))
    .0;
    assert!(
        ldd.contains(&moved.join("lib/libmpi.so.12").display().to_string()),
        "rpath: {ldd}"
    );
    let pc = std::fs::read_to_string(p.join("lib/pkgconfig/vmpi.pc")).unwrap();
    assert!(pc.contains("Libs: -L${libdir}") && pc.contains("prefix=${pcfiledir}/../.."));
}
