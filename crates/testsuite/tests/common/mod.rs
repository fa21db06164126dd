//! Harness for the multi-process tests: runs a job (under `mpirun`, Hydra, or a
//! program alone) with a hard timeout, captures its output, and checks afterwards
//! that the job left no `/dev/shm/vmpi-*` entry and no process of its program.
//!
//! Jobs run one at a time (a global lock): the leak checks compare /dev/shm and the
//! process table before and after, which only means something when no other job of
//! this suite runs at the same time. (Cargo runs test binaries one after another.)

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Take the suite-wide lock (survives a panicking test that held it).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Path of a test program of this package.
pub fn prog(name: &str) -> PathBuf {
    let p = match name {
        "exchange" => env!("CARGO_BIN_EXE_exchange"),
        "matching" => env!("CARGO_BIN_EXE_matching"),
        "flood" => env!("CARGO_BIN_EXE_flood"),
        "crash" => env!("CARGO_BIN_EXE_crash"),
        "hang" => env!("CARGO_BIN_EXE_hang"),
        "binding" => env!("CARGO_BIN_EXE_binding"),
        "pingpong" => env!("CARGO_BIN_EXE_pingpong"),
        "pmi_close" => env!("CARGO_BIN_EXE_pmi_close"),
        "scale" => env!("CARGO_BIN_EXE_scale"),
        "soak" => env!("CARGO_BIN_EXE_soak"),
        _ => panic!("no test program {name}"),
    };
    PathBuf::from(p)
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A binary of the workspace built next to the test programs (vmpi-proxy,
/// vmpi-info, ...), which this package cannot name with `CARGO_BIN_EXE_*`.
pub fn built(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_exchange"))
        .parent()
        .unwrap()
        .join(name);
    assert!(
        p.exists(),
        "{} missing: build the workspace first (cargo build --release --workspace)",
        p.display()
    );
    p
}

/// The launcher, built next to the test programs.
pub fn mpirun() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_exchange"))
        .parent()
        .expect("bin dir")
        .join("mpirun");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --release -p vmpi-launch` first \
         (or `cargo build --release --workspace`), then run the tests again",
        p.display()
    );
    p
}

/// What a finished job did.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    /// Everything the job printed, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "exit {:?} after {:.1?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "job failed: {}", self.dump());
        self
    }
    /// Lines of stdout that start with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }
}

pub fn shm_entries() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("vmpi-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Processes (pid, state) running `exe`.
pub fn processes_of(exe: &Path) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(d) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in d.filter_map(|e| e.ok()) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let base = e.path();
        let by_exe = std::fs::read_link(base.join("exe")).ok().is_some_and(|p| {
            p == exe || p.to_string_lossy().trim_end_matches(" (deleted)") == exe.to_string_lossy()
        });
        let by_cmd = std::fs::read(base.join("cmdline")).ok().is_some_and(|c| {
            c.split(|&b| b == 0).next() == Some(exe.as_os_str().as_encoded_bytes())
        });
        if by_exe || by_cmd {
            let state = std::fs::read_to_string(base.join("stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim().chars().take(1).collect())
                })
                .unwrap_or_default();
            out.push((pid, state));
        }
    }
    out
}

/// A running job: its output is collected as it comes.
pub struct Job {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    started: Instant,
    limit: Duration,
    program: PathBuf,
    shm_before: BTreeSet<String>,
    describe: String,
    _lock: MutexGuard<'static, ()>,
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

/// How to start a job.
pub struct Spec {
    pub launcher: Option<PathBuf>,
    pub launcher_args: Vec<String>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limit: Duration,
}

impl Spec {
    /// `mpirun -np N [-genv K V ...] PROGRAM ARGS`.
    pub fn mpirun(np: usize, program: &str, args: &[&str]) -> Spec {
        Spec {
            launcher: Some(mpirun()),
            launcher_args: vec!["-np".into(), np.to_string()],
            program: prog(program),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            limit: Duration::from_secs(60),
        }
    }
    /// `mpirun -np N PROGRAM ARGS` for a program that is not one of this package's
    /// (a C program compiled by the test).
    pub fn mpirun_path(np: usize, program: &Path, args: &[&str]) -> Spec {
        Spec {
            launcher: Some(mpirun()),
            launcher_args: vec!["-np".into(), np.to_string()],
            program: program.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            limit: Duration::from_secs(60),
        }
    }
    /// The program alone (a singleton).
    pub fn alone(program: &str, args: &[&str]) -> Spec {
        Spec {
            launcher: None,
            launcher_args: Vec::new(),
            program: prog(program),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            limit: Duration::from_secs(60),
        }
    }
    /// Another launcher (e.g. Hydra's mpiexec) with its own arguments.
    pub fn launcher(launcher: PathBuf, largs: &[&str], program: &str, args: &[&str]) -> Spec {
        Spec {
            launcher: Some(launcher),
            launcher_args: largs.iter().map(|s| s.to_string()).collect(),
            program: prog(program),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            limit: Duration::from_secs(60),
        }
    }
    /// Set a variable for every rank: `-genv K V` for mpirun (the variable is in the
    /// launcher's environment as well, which other launchers pass on).
    pub fn env(mut self, k: &str, v: &str) -> Spec {
        if self.launcher.as_deref() == Some(mpirun().as_path()) {
            self.launcher_args
                .extend(["-genv".into(), k.into(), v.into()]);
        }
        self.env.push((k.into(), v.into()));
        self
    }
    /// Mpirun options before the program (e.g. `--timeout 2`).
    pub fn opts(mut self, o: &[&str]) -> Spec {
        self.launcher_args.extend(o.iter().map(|s| s.to_string()));
        self
    }
    /// Hard limit: past it the job is killed and the test fails.
    pub fn limit(mut self, secs: u64) -> Spec {
        self.limit = Duration::from_secs(secs);
        self
    }

    pub fn start(self) -> Job {
        let lock = serial();
        let shm_before = shm_entries();
        let stale = processes_of(&self.program);
        assert!(
            stale.is_empty(),
            "processes of {} are running before the job starts: {stale:?}",
            self.program.display()
        );
        let mut cmd = match &self.launcher {
            Some(l) => {
                let mut c = Command::new(l);
                c.args(&self.launcher_args).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Not inherited from an outer launcher running the suite.
            .env_remove("PMI_FD")
            .env_remove("PMI_PORT")
            .env_remove("PMI_ID")
            .env_remove("PMI_RANK")
            .env_remove("PMI_SIZE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let describe = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {describe}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), out.clone()),
            collect(child.stderr.take().unwrap(), err.clone()),
        ];
        Job {
            child,
            out,
            err,
            readers,
            started: Instant::now(),
            limit: self.limit,
            program: self.program,
            shm_before,
            describe,
            _lock: lock,
        }
    }

    /// Start, wait, check for leftovers.
    pub fn run(self) -> Outcome {
        self.start().wait()
    }
}

impl Job {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The program the job runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// stdout so far.
    pub fn stdout_now(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Wait until stdout holds `n` lines containing `needle` (fails past `secs`).
    pub fn wait_for_lines(&mut self, needle: &str, n: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let have = self
                .out
                .lock()
                .unwrap()
                .lines()
                .filter(|l| l.contains(needle))
                .count();
            if have >= n {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                let o = self.finish(st);
                panic!(
                    "job ended before printing {n} lines with {needle:?}: {}",
                    o.dump()
                );
            }
            if Instant::now() > deadline {
                self.kill_hard();
                let o = self.finish_after_kill();
                panic!("no {n} lines with {needle:?} within {secs} s: {}", o.dump());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.child.id());
    }

    /// SIGTERM the launcher (it cleans up), then SIGKILL it and every process of the
    /// program.
    fn kill_hard(&mut self) {
        self.signal(libc::SIGTERM);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        for (pid, _) in processes_of(&self.program) {
            // SAFETY: kill(2) of a leftover rank of this job.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }

    fn finish_after_kill(&mut self) -> Outcome {
        let st = self.child.wait().expect("wait");
        self.finish(st)
    }

    fn finish(&mut self, status: ExitStatus) -> Outcome {
        let elapsed = self.started.elapsed();
        for r in self.readers.drain(..) {
            // Ranks left behind could hold the pipes open; do not wait for them forever.
            let t = Instant::now();
            while !r.is_finished() && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if r.is_finished() {
                let _ = r.join();
            }
        }
        Outcome {
            status,
            stdout: self.out.lock().unwrap().clone(),
            stderr: self.err.lock().unwrap().clone(),
            elapsed,
        }
    }

    /// Wait for the end (kill and fail past the limit), then check that the job left
    /// no rank process and no /dev/shm entry behind.
    pub fn wait(mut self) -> Outcome {
        let deadline = self.started + self.limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                self.kill_hard();
                let o = self.finish_after_kill();
                self.check_leftovers(&o);
                panic!(
                    "job did not end within {:?} (hang?), killed: {}\n{}",
                    self.limit,
                    self.describe,
                    o.dump()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let o = self.finish(status);
        self.check_leftovers(&o);
        o
    }

    fn check_leftovers(&self, o: &Outcome) {
        // The launcher waits for its ranks before it exits; allow a moment for
        // processes a foreign launcher (Hydra) reaps asynchronously.
        let t = Instant::now();
        let mut left = processes_of(&self.program);
        while !left.is_empty() && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
            left = processes_of(&self.program);
        }
        if !left.is_empty() {
            for (pid, _) in &left {
                // SAFETY: kill(2) of a leftover rank, so later tests start clean.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
            panic!(
                "rank processes left after the job: {left:?} (pid, state) of {}\n{}",
                self.program.display(),
                o.dump()
            );
        }
        let job_prefix = o
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("vmpi-job-prefix: "))
            .map(|s| s.trim().to_string());
        let mut new: Vec<String> = shm_entries()
            .difference(&self.shm_before)
            .cloned()
            .collect();
        // Another user's job may run beside ours: give an entry that is not provably
        // this job's a moment to go away.
        let t = Instant::now();
        while new.iter().any(|n| {
            job_prefix
                .as_ref()
                .map_or(true, |p| !n.starts_with(p.as_str()))
        }) && t.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(100));
            new = shm_entries()
                .difference(&self.shm_before)
                .cloned()
                .collect();
        }
        assert!(
            new.is_empty(),
            "/dev/shm entries left after the job (this job's prefix: {job_prefix:?}): {new:?}\n{}",
            o.dump()
        );
    }
}

/// Lines `PREFIX rank R/N ...` of an outcome, checking that every rank 0..n reported.
pub fn rank_lines<'a>(o: &'a Outcome, prefix: &str, n: usize) -> Vec<&'a str> {
    let mut lines: Vec<&str> = o
        .lines_starting(&format!("{prefix} rank "))
        .into_iter()
        .collect();
    lines.sort_by_key(|l| {
        l[prefix.len() + 6..]
            .split('/')
            .next()
            .and_then(|r| r.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
    for (i, l) in lines.iter().enumerate() {
        assert!(
            l.starts_with(&format!("{prefix} rank {i}/{n}")),
            "missing or unexpected report of rank {i}: {l:?}\n{}",
            o.dump()
        );
    }
    assert_eq!(lines.len(), n, "expected {n} rank reports:\n{}", o.dump());
    lines
}
