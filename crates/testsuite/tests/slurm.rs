//! vmpi under a real Slurm 22.05 cluster: three slurmd "nodes", each in its own
//! network, UTS, mount (private /dev/shm, own boot id) and PID namespace on a bridge
//! (scripts/slurm-cluster.sh), jobs started with `srun --mpi=pmi2` and
//! `srun --mpi=pmix`, 6 ranks on 3 nodes (2 per node: shm inside a node, TCP across).
//!
//! The cluster is started once per test process, by the first test that needs it,
//! and torn down when the process exits (an `atexit` handler, which runs whether the
//! tests passed or failed) unless another test process is still using it (a shared
//! lock on `SANDBOX.users`). A test process killed outright leaves it running: the
//! next run reuses it, `scripts/slurm-cluster.sh down` removes it.
//!
//! Needs root and the packages of scripts/install-deps.sh (slurmctld slurmd
//! slurm-client munge libpmix-dev): without them every test here fails and says so.

mod common;
use common::{rank_lines, Outcome, Spec};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const NODES: usize = 3;
const RANKS: usize = 6;

struct Cluster {
    sandbox: PathBuf,
    conf: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static SCRIPT: OnceLock<PathBuf> = OnceLock::new();
static USERS: Mutex<Option<nix::fcntl::Flock<std::fs::File>>> = Mutex::new(None);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_exchange"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

fn sandbox() -> PathBuf {
    PathBuf::from("/tmp/vmpi-slurm")
}

/// Runs at process exit: tear the cluster down unless another process uses it.
extern "C" fn teardown() {
    let Some(script) = SCRIPT.get() else { return };
    let users = USERS.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(lock) = &users {
        // Upgrade our shared lock: fails while another test process holds one.
        if lock
            .relock(nix::fcntl::FlockArg::LockExclusiveNonblock)
            .is_err()
        {
            eprintln!("slurm tests: another test process uses the cluster; leaving it up");
            return;
        }
    }
    let t = Instant::now();
    let r = std::process::Command::new(script)
        .arg("down")
        .env("SLURM_SANDBOX", sandbox())
        .output();
    match r {
        Ok(o) if o.status.success() => {
            eprintln!("slurm tests: cluster down in {:.2?}", t.elapsed())
        }
        Ok(o) => eprintln!(
            "slurm tests: `{} down` failed: {}",
            script.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("slurm tests: cannot run {}: {e}", script.display()),
    }
}

fn start() -> Result<Cluster, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "the Slurm tests need root: they start munged, slurmctld and three \
                    slurmd in network, UTS, mount and PID namespaces on a bridge \
                    (run them as root, or leave them out with `--skip slurm`)"
                .into(),
        );
    }
    for cmd in ["slurmctld", "slurmd", "srun", "munged"] {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(cmd).exists());
        if !found {
            return Err(format!(
                "{cmd} is missing: run scripts/install-deps.sh as root (it installs \
                 slurmctld slurmd slurm-client munge libpmix-dev)"
            ));
        }
    }
    let script = workspace().join("scripts/slurm-cluster.sh");
    let _ = SCRIPT.set(script.clone());
    let sb = sandbox();
    // Say that we use the cluster (before it can be torn down by anyone else's exit).
    let users = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sb.with_extension("users"))
        .map_err(|e| format!("{}.users: {e}", sb.display()))?;
    let lock = nix::fcntl::Flock::lock(users, nix::fcntl::FlockArg::LockShared)
        .map_err(|(_, e)| format!("lock {}.users: {e}", sb.display()))?;
    *USERS.lock().unwrap() = Some(lock);
    // SAFETY: registers a plain extern "C" function with no arguments; it only takes
    // a mutex and runs a command, which is allowed while the process exits.
    unsafe { libc::atexit(teardown) };
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let t = Instant::now();
    let o = std::process::Command::new(&script)
        .arg("up")
        .env("SLURM_SANDBOX", &sb)
        .env(
            "SHARED_PATHS",
            format!("{}:{}", workspace().display(), target.display()),
        )
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !o.status.success() {
        return Err(format!(
            "`{} up` failed ({}):\n{}",
            script.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    eprintln!("slurm tests: cluster up in {:.2?}", t.elapsed());
    Ok(Cluster {
        conf: sb.join("etc/slurm.conf"),
        sandbox: sb,
    })
}

fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// `srun ARGS PROGRAM PARGS` on the cluster.
fn srun(args: &[&str], program: PathBuf, pargs: &[&str]) -> Spec {
    let c = cluster();
    assert!(
        program.exists(),
        "{} is missing: run `cargo build --release --workspace` first",
        program.display()
    );
    let mut largs: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    // A rank that dies ends the step, and a step never outlives its limit.
    largs.extend(["--kill-on-bad-exit=1".into(), "--time=2".into()]);
    Spec {
        launcher: Some(PathBuf::from("srun")),
        launcher_args: largs,
        program,
        args: pargs.iter().map(|s| s.to_string()).collect(),
        env: vec![("SLURM_CONF".into(), c.conf.display().to_string())],
        limit: Duration::from_secs(90),
    }
}

fn test_prog(name: &str) -> PathBuf {
    match name {
        "exchange" => PathBuf::from(env!("CARGO_BIN_EXE_exchange")),
        "matching" => PathBuf::from(env!("CARGO_BIN_EXE_matching")),
        "coll_check" => PathBuf::from(env!("CARGO_BIN_EXE_coll_check")),
        "abort" => PathBuf::from(env!("CARGO_BIN_EXE_abort")),
        "crash" => PathBuf::from(env!("CARGO_BIN_EXE_crash")),
        "vmpi-info" | "mpirun" => bin_dir().join(name),
        _ => panic!("no program {name}"),
    }
}

/// Run, time, and check that no node kept a /dev/shm/vmpi-* file.
fn run(name: &str, spec: Spec) -> Outcome {
    let o = spec.run();
    eprintln!("slurm tests: {name}: {:.2?}", o.elapsed);
    let c = cluster();
    for n in 1..=NODES {
        let pid = std::fs::read_to_string(c.sandbox.join(format!("run/node-n{n}.pid")))
            .unwrap_or_default();
        let dir = PathBuf::from(format!("/proc/{}/root/dev/shm", pid.trim()));
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("node n{n}: {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with("vmpi-"))
            .collect();
        assert!(
            left.is_empty(),
            "node n{n} kept /dev/shm entries after {name}: {left:?}\n{}",
            o.dump()
        );
    }
    o
}

/// `-N3 -n6` places ranks 2k and 2k+1 on node k+1.
fn node_of(rank: usize) -> usize {
    rank / 2 + 1
}

fn mpi_flag(kind: &str) -> String {
    format!("--mpi={kind}")
}

fn exchange(kind: &str, manager: &str) {
    for (pattern, iters, seed) in [("allpairs", "4", "21"), ("ring", "12", "22")] {
        let o = run(
            &format!("{kind} exchange {pattern}"),
            srun(
                &[&mpi_flag(kind), "-N3", "-n6"],
                test_prog("exchange"),
                &[pattern, iters, "8M", seed],
            ),
        );
        o.assert_success();
        for (r, l) in rank_lines(&o, "exchange", RANKS).into_iter().enumerate() {
            assert!(l.contains(": ok "), "{l}\n{}", o.dump());
            assert!(l.contains(&format!("manager={manager}")), "{l}");
            let chans = l.split("channels=").nth(1).expect("channels=");
            for p in chans.split(',') {
                let (peer, ch) = p.split_once(':').expect("peer:channel");
                let peer: usize = peer.parse().expect("peer rank");
                let want = if node_of(peer) == node_of(r) {
                    "shm/cma"
                } else {
                    "tcp"
                };
                assert_eq!(ch, want, "rank {r} -> {peer}: {l}\n{}", o.dump());
            }
        }
    }
}

fn info_pmi(kind: &str, want: &str) {
    let o = run(
        &format!("{kind} vmpi-info --pmi"),
        srun(
            &[&mpi_flag(kind), "-N3", "-n6"],
            test_prog("vmpi-info"),
            &["--pmi"],
        ),
    );
    o.assert_success();
    for (r, l) in rank_lines(&o, "pmi", RANKS).into_iter().enumerate() {
        let node = node_of(r);
        assert!(
            l.contains(&format!("(n{node}): {want}")),
            "rank {r} should say it runs on n{node} with {want}: {l}\n{}",
            o.dump()
        );
    }
}

fn abort(kind: &str, code: i32) {
    let o = run(
        &format!("{kind} abort"),
        srun(
            &[&mpi_flag(kind), "-N3", "-n6"],
            test_prog("abort"),
            &["3", "9"],
        ),
    );
    assert!(!o.status.success(), "srun must fail: {}", o.dump());
    assert_eq!(o.code(), Some(code), "srun's exit code: {}", o.dump());
    // Not every rank's "ready" line need arrive: Slurm drops output still in flight
    // when it kills a step.
    assert!(
        o.stderr
            .contains("MPI_Abort(9): abort test: rank 3 gives up"),
        "the message reaches srun's stderr: {}",
        o.dump()
    );
    assert!(
        !o.stderr
            .contains("the receive from the aborting rank returned"),
        "no rank may go on after the abort: {}",
        o.dump()
    );
}

#[test]
fn slurm_pmi2_exchange() {
    exchange("pmi2", "PMI-2");
}

#[test]
fn slurm_pmi2_matching() {
    let o = run(
        "pmi2 matching",
        srun(&["--mpi=pmi2", "-N3", "-n6"], test_prog("matching"), &[]),
    );
    o.assert_success();
    for l in rank_lines(&o, "matching", RANKS) {
        assert!(l.contains(": ok, ") && l.contains("manager=PMI-2"), "{l}");
    }
}

#[test]
fn slurm_pmi2_coll_check() {
    let o = run(
        "pmi2 coll_check",
        srun(&["--mpi=pmi2", "-N3", "-n6"], test_prog("coll_check"), &[]),
    );
    o.assert_success();
    assert!(
        o.stdout.contains("coll_check: ok (6 ranks)"),
        "{}",
        o.dump()
    );
}

#[test]
fn slurm_pmi2_channels() {
    let o = run(
        "pmi2 vmpi-info --channels",
        srun(
            &["--mpi=pmi2", "-N3", "-n6"],
            test_prog("vmpi-info"),
            &["--channels"],
        ),
    );
    o.assert_success();
    assert!(
        o.stdout.contains("6 ranks (process manager: PMI-2)"),
        "{}",
        o.dump()
    );
    let mut pairs = 0;
    for a in 0..RANKS {
        for b in (0..RANKS).filter(|&b| b != a) {
            let head = format!(
                "vmpi: rank {a} (n{}) -> rank {b} (n{}): ",
                node_of(a),
                node_of(b)
            );
            let line = o
                .stdout
                .lines()
                .find(|l| l.starts_with(&head))
                .unwrap_or_else(|| panic!("no line {head:?}\n{}", o.dump()));
            let want = if node_of(a) == node_of(b) {
                "shm [same /dev/shm (probe seen both ways)]"
            } else {
                "tcp [different kernel (boot id differs)]"
            };
            assert!(line.contains(want), "{line:?} should say {want:?}");
            pairs += 1;
        }
    }
    assert_eq!(pairs, RANKS * (RANKS - 1));
}

#[test]
fn slurm_pmi2_info_pmi() {
    info_pmi("pmi2", "PMI-2 over PMI_FD, job ");
}

/// Slurm's variables (SLURM_MPI_TYPE=pmi2, PMI_JOBID) stay in the environment of a
/// launcher started inside a step: ranks of our mpirun there must use PMI-1 with it.
#[test]
fn slurm_nested_mpirun_keeps_pmi1() {
    let o = run(
        "mpirun inside a pmi2 step",
        srun(
            &["--mpi=pmi2", "-N1", "-n1"],
            test_prog("mpirun"),
            &[
                "-np",
                "2",
                test_prog("vmpi-info").to_str().unwrap(),
                "--pmi",
            ],
        ),
    );
    o.assert_success();
    for l in rank_lines(&o, "pmi", 2) {
        assert!(
            l.contains("(n1): PMI-1 over PMI_FD")
                && l.contains("other end of PMI_FD is vmpi-proxy"),
            "{l}\n{}",
            o.dump()
        );
    }
}

#[test]
fn slurm_pmi2_abort() {
    // PMI-2 abort: slurmstepd kills the step with SIGKILL; srun exits 137.
    abort("pmi2", 137);
}

#[test]
fn slurm_pmi2_crash_ends_the_step() {
    let o = run(
        "pmi2 crash",
        srun(&["--mpi=pmi2", "-N3", "-n6"], test_prog("crash"), &["4"]),
    );
    assert!(!o.status.success(), "{}", o.dump());
    assert!(
        o.stderr.contains("task 4: Segmentation fault"),
        "srun names the crashed task: {}",
        o.dump()
    );
}

#[test]
fn slurm_pmix_exchange() {
    exchange("pmix", "PMIx");
}

#[test]
fn slurm_pmix_coll_check_quick() {
    let o = run(
        "pmix coll_check quick",
        srun(
            &["--mpi=pmix", "-N3", "-n6"],
            test_prog("coll_check"),
            &["quick"],
        ),
    );
    o.assert_success();
    assert!(
        o.stdout.contains("coll_check: ok (6 ranks)"),
        "{}",
        o.dump()
    );
}

#[test]
fn slurm_pmix_info_pmi() {
    info_pmi("pmix", "PMIx (OpenPMIx ");
}

#[test]
fn slurm_pmix_abort() {
    // PMIx_Abort: Slurm ends the step and srun exits with the abort's code.
    abort("pmix", 9);
}

/// Inside an allocation (`salloc -N3 mpirun -np 6`), mpirun takes the hosts from
/// Slurm and starts its proxies with one srun step: ranks round-robin over the
/// nodes, shm within a node, TCP across, PMI-1 with the proxy.
#[test]
fn slurm_salloc_mpirun_starts_proxies_through_srun() {
    let c = cluster();
    let o = run(
        "salloc -N3 mpirun -np 6 exchange",
        Spec {
            launcher: Some(PathBuf::from("salloc")),
            launcher_args: vec!["-N3".into(), "--time=2".into()],
            program: test_prog("mpirun"),
            args: [
                "-np",
                "6",
                test_prog("exchange").to_str().unwrap(),
                "ring",
                "12",
                "1M",
                "31",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            env: vec![("SLURM_CONF".into(), c.conf.display().to_string())],
            limit: Duration::from_secs(90),
        },
    );
    o.assert_success();
    for (r, l) in rank_lines(&o, "exchange", RANKS).into_iter().enumerate() {
        assert!(
            l.contains(": ok ") && l.contains("manager=PMI-1"),
            "{l}\n{}",
            o.dump()
        );
        let chans = l.split("channels=").nth(1).expect("channels=");
        for p in chans.split(',') {
            let (peer, ch) = p.split_once(':').expect("peer:channel");
            let peer: usize = peer.parse().expect("peer rank");
            // one slot per node: rank r on node r % 3
            let want = if peer % NODES == r % NODES {
                "shm/cma"
            } else {
                "tcp"
            };
            assert_eq!(ch, want, "rank {r} -> {peer}: {l}\n{}", o.dump());
        }
    }
}
