//! The C interface from C: header values against MPICH's, every family through our
//! mpicc/mpicxx on 1, 2 and 4 ranks, the ABI proof (the same sources built with
//! Debian's mpicc.mpich run on libmpi.so.12 under our mpirun), the fatal error
//! handler, and the installed tree (make install, relocatable, pkg-config).
//!
//! Needs gcc, g++ and MPICH (`apt-get install mpich libmpich-dev`), and the
//! launcher built: `cargo build --release -p vmpi-launch` (or `make capi`).

mod common;
use common::*;

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
