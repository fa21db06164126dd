//! MPI-IO (issue 21): the C programs `tests/c/io_*.c`, built with our mpicc and
//! with Debian's mpicc.mpich (run on our libmpich.so.12), on 1 to 8 ranks under
//! our mpirun, each rank printing `rank R of N: PASS`. The files go to a fresh
//! directory under /tmp, to one under the target directory (a disk), and, when
//! the tests run as root, to a tmpfs they mount for the purpose (never /dev/shm,
//! whose leaks the multi-process harness checks); `VMPI_IO_TEST_DIRS`
//! (colon-separated) adds more. Where the programs'
//! output is deterministic it must equal real MPICH's (mpiexec.mpich, ROMIO).
//!
//! Needs gcc and MPICH (`apt-get install mpich libmpich-dev`), and the release
//! build: `make capi`.

mod common;
use common::*;

/// A fresh, empty directory for one run's files.
struct Dir(PathBuf);

impl Dir {
    fn new(base: &Path, tag: &str) -> Dir {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = base.join(format!("vmpi-io-{tag}-{}-{k}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
    /// Nothing left behind (files, shared-pointer sidecars).
    fn assert_empty(&self, what: &str) {
        let left: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{what} left {left:?} in {}", self.s());
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tmpfs of our own (root can mount one), unmounted when dropped: the tests
/// run on tmpfs even where /tmp is a disk, and never in /dev/shm.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount() -> Option<Tmpfs> {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = tmp().join(format!("tmpfs-{k}"));
        std::fs::create_dir_all(&d).ok()?;
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256m", "vmpi-io-test"])
            .arg(&d)
            .output()
            .ok()?;
        if !o.status.success() {
            eprintln!(
                "capi_io: no tmpfs of our own ({}); /tmp and the target directory only",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            let _ = std::fs::remove_dir(&d);
            return None;
        }
        Some(Tmpfs(d))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The directories the programs run in: /tmp (tmpfs on many systems), the
/// target directory (a disk), `tmpfs` if we could mount one.
fn bases(tmpfs: &Option<Tmpfs>) -> Vec<PathBuf> {
    let mut v = vec![
        PathBuf::from("/tmp"),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    ];
    if let Some(t) = tmpfs {
        v.push(t.0.clone());
    }
    if let Ok(extra) = std::env::var("VMPI_IO_TEST_DIRS") {
        v.extend(
            extra
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        );
    }
    v
}

/// Both builds of `src`, made once per test process (tests run in parallel and
/// several use one program: a rebuild would replace a binary being started).
fn build(src: &str) -> (PathBuf, PathBuf) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static BUILT: Mutex<Option<HashMap<String, (PathBuf, PathBuf)>>> = Mutex::new(None);
    let mut g = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let m = g.get_or_insert_with(HashMap::new);
    if let Some(v) = m.get(src) {
        return v.clone();
    }
    let v = build_both(src);
    m.insert(src.to_string(), v.clone());
    v
}

/// Run both builds of `src` with `args` (the directory first) on each of
/// `ranks`, in every base directory; each run leaves its directory empty.
fn run_io(src: &str, ranks: &[usize], extra: &[&str]) -> Vec<String> {
    let (a, b) = build(src);
    let mut outs = Vec::new();
    let fs = Tmpfs::mount();
    for base in bases(&fs) {
        for &n in ranks {
            for (prog, which) in [(&a, "vmpi"), (&b, "mpich")] {
                let d = Dir::new(&base, which);
                let mut args = vec![d.s()];
                args.extend_from_slice(extra);
                let o = mpirun_with(n, prog, &args, &[]);
                let what = format!("{src} ({which} build, {} args {extra:?})", d.s());
                outs.push(passed(&o, n, &what));
                d.assert_empty(&what);
            }
        }
    }
    outs
}

#[test]
fn views_vector_subarray_struct() {
    run_io("io_views.c", &[1, 2, 3, 4, 8], &[]);
}

#[test]
fn views_with_small_collective_buffers() {
    // 64-byte collective buffers and 2 aggregators: many rounds, aggregators
    // that are not the ranks' domain leaders, data sieving forced on.
    run_io("io_views.c", &[2, 5, 8], &["small"]);
}

#[test]
fn shared_pointers_ordered_and_atomic() {
    run_io("io_shared.c", &[1, 2, 4, 8], &[]);
}

#[test]
fn nonblocking_collectives_progress_on_the_io_thread() {
    // Three collective writes outstanding with a user allreduce between; reads
    // that arrive while every rank sleeps; split collectives; a blocking
    // collective while a nonblocking one is pending.
    run_io("io_nonblocking.c", &[1, 2, 3, 8], &[]);
}

#[test]
fn append_sequential_end_of_file_and_hints() {
    run_io("io_misc.c", &[1, 2, 3], &[]);
}

#[test]
fn error_classes_match_mpich() {
    let (a, b) = build("io_errors.c");
    for n in [1, 3] {
        let d = Dir::new(Path::new("/tmp"), "errors");
        let ours = passed(&mpirun_with(n, &a, &[d.s()], &[]), n, "io_errors.c");
        d.assert_empty("io_errors.c");
        let theirs = passed(
            &mpirun_with(n, &b, &[d.s()], &[]),
            n,
            "io_errors.c (mpich build)",
        );
        assert_eq!(sorted(&ours), sorted(&theirs), "the two builds differ");
        if Path::new("/usr/bin/mpiexec.mpich").exists() {
            let o = run(Command::new("/usr/bin/mpiexec.mpich")
                .arg("-n")
                .arg(n.to_string())
                .arg(&b)
                .arg(d.s()));
            let (so, se) = text(&o);
            assert!(o.status.success(), "MPICH run failed:\n{so}{se}");
            assert_eq!(
                sorted(&ours),
                sorted(&so),
                "vmpi and MPICH give different classes"
            );
        }
    }
}

#[test]
fn a_full_device_is_no_space() {
    // ROMIO says MPI_ERR_IO for ENOSPC; vmpi MPI_ERR_NO_SPACE (36, the exit code
    // of the job MPI_ERRORS_ARE_FATAL ends).
    let (a, _) = build("io_errors.c");
    let d = Dir::new(Path::new("/tmp"), "full");
    let o = mpirun_with(2, &a, &[d.s(), "full"], &[]);
    let (so, se) = text(&o);
    let all = format!("{so}{se}");
    assert_eq!(o.status.code(), Some(36), "{all}");
    for want in [
        "MPI_File_write_at",
        "/dev/full",
        "No space left on device (ENOSPC, errno 28)",
    ] {
        assert!(all.contains(want), "no {want:?} in:\n{all}");
    }
}

#[test]
fn fatal_file_errors_name_the_call_the_file_and_the_errno() {
    let (a, _) = build("io_errors.c");
    let d = Dir::new(Path::new("/tmp"), "fatal");
    let o = mpirun_with(2, &a, &[d.s(), "fatal"], &[]);
    let (so, se) = text(&o);
    assert!(!o.status.success(), "the job went on:\n{so}{se}");
    assert!(!so.contains("still running"), "{so}{se}");
    let all = format!("{so}{se}");
    for want in [
        "MPI_File_open",
        "no-such-file.dat",
        "No such file or directory",
        "ENOENT, errno 2",
    ] {
        assert!(all.contains(want), "no {want:?} in:\n{all}");
    }
}

/// Parallel HDF5 (Debian's libhdf5-mpich, built against MPICH) on our
/// libmpich.so.12: collective and independent hyperslab writes, an attribute,
/// a collective read of everything. Built with mpicc.mpich and with our mpicc
/// (HDF5's headers then include our mpi.h).
#[test]
fn parallel_hdf5_round_trip() {
    let inc = Path::new("/usr/include/hdf5/mpich");
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/hdf5/mpich");
    assert!(
        inc.join("hdf5.h").exists(),
        "parallel HDF5 is needed for this test: apt-get install libhdf5-mpich-dev"
    );
    let d = tmp();
    for (cc, which) in [(mpich_cc(), "mpich"), (prefix().join("bin/mpicc"), "vmpi")] {
        let exe = d.join(format!("io_hdf5-{which}"));
        let o = run(Command::new(&cc)
            .arg("-O1")
            .arg(format!("-I{}", inc.display()))
            .arg("-o")
            .arg(&exe)
            .arg(c_dir().join("io_hdf5.c"))
            .arg(format!("-L{}", lib.display()))
            .arg("-lhdf5")
            .arg(format!("-Wl,-rpath,{}", lib.display())));
        let (so, se) = text(&o);
        assert!(o.status.success(), "{cc:?} io_hdf5.c failed:\n{so}{se}");
        let fs = Tmpfs::mount();
        for base in bases(&fs) {
            for n in [1, 2, 4] {
                let dir = Dir::new(&base, &format!("hdf5-{which}"));
                let what = format!("io_hdf5.c ({which} build) in {}", dir.s());
                passed(&mpirun_with(n, &exe, &[dir.s()], &[]), n, &what);
                dir.assert_empty(&what);
            }
        }
    }
}
