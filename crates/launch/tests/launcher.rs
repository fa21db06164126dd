//! End-to-end tests of the launcher binaries: real ranks (sh and a small python3
//! PMI-1 client) started by `mpirun`, checked for PMI answers, environment, I/O
//! forwarding, exit codes, signal handling, timeouts, abort and cleanup.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MPIRUN: &str = env!("CARGO_BIN_EXE_mpirun");

/// A python3 PMI-1 client; argv[1] picks the scenario.
const CLIENT: &str = r#"
import os, sys
fd = int(os.environ["PMI_FD"])
rank = int(os.environ["PMI_RANK"]); size = int(os.environ["PMI_SIZE"])
buf = b""
def send(raw):
    os.write(fd, raw)
def recv():
    global buf
    while b"\n" not in buf:
        c = os.read(fd, 4096)
        if not c:
            return None
        buf += c
    l, buf = buf.split(b"\n", 1)
    return dict(kv.split("=", 1) for kv in l.decode().split(" ") if "=" in kv)
def cmd(line):
    send((line + "\n").encode())
    return recv()
mode = sys.argv[1]
r = cmd("cmd=init pmi_version=1 pmi_subversion=1")
assert r["cmd"] == "response_to_init" and r["rc"] == "0", r
if mode == "exchange":
    m = cmd("cmd=get_maxes"); assert m["vallen_max"] == "1024", m
    kvs = cmd("cmd=get_my_kvsname")["kvsname"]
    assert kvs == os.environ["PMI_JOBID"]
    assert cmd("cmd=get_universe_size")["size"] == str(size)
    assert cmd("cmd=get_appnum")["appnum"] == "0"
    print("mapping", cmd("cmd=get kvsname=%s key=PMI_process_mapping" % kvs)["value"])
    assert cmd("cmd=put kvsname=%s key=k%d value=v%d" % (kvs, rank, rank))["rc"] == "0"
    early = cmd("cmd=get kvsname=%s key=k%d" % (kvs, rank))
    assert early["rc"] == "1", early
    assert cmd("cmd=barrier_in")["cmd"] == "barrier_out"
    vals = [cmd("cmd=get kvsname=%s key=k%d" % (kvs, r))["value"] for r in range(size)]
    print("rank", rank, "got", ",".join(vals))
    assert cmd("cmd=barrier_in")["rc"] == "0"
    assert cmd("cmd=finalize")["cmd"] == "finalize_ack"
elif mode == "abort":
    if rank == 1:
        send(b"cmd=abort exitcode=7\n")
    import time; time.sleep(30)
elif mode == "early":
    if rank == 0:
        sys.exit(0)
    import time; time.sleep(30)
elif mode == "garbage":
    if rank == 0:
        r = cmd("cmd=frobnicate x=1"); print("unknown", r["rc"], r["msg"])
        r = cmd("cmd=get_maxes"); print("still served", r["rc"])
        cmd("cmd=finalize")
    elif rank == 1:
        print("garbage", cmd("no_cmd_here"))
    elif rank == 2:
        send(b"x" * 2000); print("long", recv())
    else:
        send(b"cmd=put value=\xff\xfe\n"); print("binary", recv())
elif mode == "flood":
    # 10000 unknown commands, and then gets whose replies are never read
    if rank == 0:
        for i in range(10000):
            send(b"cmd=frobnicate\n")
        kvs = os.environ["PMI_JOBID"]
        line = ("cmd=get kvsname=%s key=PMI_process_mapping\n" % kvs).encode()
        try:
            for i in range(100000):
                send(line)
        except OSError:
            pass
        print("flooded", flush=True)
    import time; time.sleep(2)
elif mode == "shm":
    h = 0xcbf29ce484222325
    for b in os.environ["PMI_JOBID"].encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    open("/dev/shm/vmpi-%016x-x" % h, "w").write("x")
    print("kvs", os.environ["PMI_JOBID"], flush=True)
    if sys.argv[2] == "crash":
        os.kill(os.getpid(), 11)
"#;

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("vmpi-launch-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("client.py"), CLIENT).unwrap();
        Tmp(p)
    }
    fn client(&self) -> String {
        self.0.join("client.py").to_string_lossy().into_owned()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mpirun(args: &[&str]) -> Output {
    mpirun_stdin(args, "")
}

fn mpirun_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(MPIRUN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    wait_output(child, Duration::from_secs(20))
}

/// Waits for the child with a generous bound, so a hang fails the test instead of
/// the whole run.
fn wait_output(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("mpirun did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sorted_lines(b: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = text(b).lines().map(String::from).collect();
    v.sort();
    v
}

/// A process is gone if it does not exist or is a zombie waiting for a reaper.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        }
        Err(_) => false,
    }
}

fn wait_for_files(dir: &Path, names: &[String]) {
    let start = Instant::now();
    while !names.iter().all(|n| {
        std::fs::read_to_string(dir.join(n))
            .map(|s| s.ends_with('\n'))
            .unwrap_or(false)
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "ranks did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pids(dir: &Path, names: &[String]) -> Vec<u32> {
    names
        .iter()
        .map(|n| {
            std::fs::read_to_string(dir.join(n))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn pmi_exchange_one_and_four_ranks() {
    let t = Tmp::new("xchg");
    let c = t.client();
    let o = mpirun(&["-n", "1", "python3", &c, "exchange"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        sorted_lines(&o.stdout),
        ["mapping (vector,(0,1,1))", "rank 0 got v0"]
    );
    let o = mpirun(&["-np", "4", "python3", &c, "exchange"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = sorted_lines(&o.stdout);
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "mapping (vector,(0,1,4))")
            .count(),
        4
    );
    for r in 0..4 {
        assert!(
            lines.contains(&format!("rank {r} got v0,v1,v2,v3")),
            "{lines:?}"
        );
    }
}

#[test]
fn process_mapping_follows_hosts() {
    let t = Tmp::new("map");
    let c = t.client();
    // Two "nodes" (localhost and 127.0.0.1, numbered in order of appearance),
    // mpirun_rsh positional syntax, round-robin.
    let o = mpirun(&[
        "-np",
        "4",
        "localhost",
        "127.0.0.1",
        "localhost",
        "127.0.0.1",
        "python3",
        &c,
        "exchange",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout).matches("mapping (vector,(0,2,1))").count(),
        4,
        "{}",
        text(&o.stdout)
    );
    // Hydra syntax with slots: block placement 2+1+1 as srun -N3 -n4.
    let o = mpirun(&[
        "-n",
        "4",
        "-hosts",
        "localhost:2,127.0.0.1,127.0.0.2",
        "python3",
        &c,
        "exchange",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout)
            .matches("mapping (vector,(0,1,2),(1,2,1))")
            .count(),
        4
    );
}

#[test]
fn rank_environment() {
    let o = mpirun(&[
        "-n",
        "3",
        "-genv",
        "FOO",
        "bar",
        "sh",
        "-c",
        "echo $PMI_RANK $PMI_SIZE $MPI_LOCALRANKID $MPI_LOCALNRANKS $FOO ${PMI_FD:+fd} ${PMI_JOBID%%_*}",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        sorted_lines(&o.stdout),
        [
            "0 3 0 3 bar fd vmpi",
            "1 3 1 3 bar fd vmpi",
            "2 3 2 3 bar fd vmpi"
        ]
    );
    // mpirun_rsh VAR=VAL after the hosts
    let o = mpirun(&["-np", "1", "localhost", "V=x=y", "sh", "-c", "echo $V"]);
    assert_eq!(text(&o.stdout), "x=y\n", "{}", text(&o.stderr));
}

#[test]
fn output_forwarding_with_and_without_prefix() {
    let script = "echo out$PMI_RANK; echo err$PMI_RANK >&2; printf tail$PMI_RANK";
    let o = mpirun(&["-n", "2", "sh", "-c", script]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(out.contains("out0\n") && out.contains("out1\n"), "{out}");
    assert!(out.contains("tail0") && out.contains("tail1"), "{out}");
    let err = text(&o.stderr);
    assert!(err.contains("err0\n") && err.contains("err1\n"), "{err}");

    let o = mpirun(&["-l", "-n", "2", "sh", "-c", script]);
    let out = text(&o.stdout);
    assert!(
        out.contains("[0] out0\n") && out.contains("[1] out1\n"),
        "{out}"
    );
    assert!(
        out.contains("[0] tail0") && out.contains("[1] tail1"),
        "{out}"
    );
    assert!(text(&o.stderr).contains("[1] err1\n"));
}

#[test]
fn stdin_reaches_rank_zero_only() {
    let o = mpirun_stdin(
        &["-n", "3", "sh", "-c", "echo $PMI_RANK:$(cat | tr '\\n' +)"],
        "a\nb\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(sorted_lines(&o.stdout), ["0:a+b+", "1:", "2:"]);
}

#[test]
fn exit_status_propagates() {
    let o = mpirun(&["-n", "3", "sh", "-c", "[ $PMI_RANK = 1 ] && exit 3; exit 0"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("rank 1"), "{}", text(&o.stderr));
    let o = mpirun(&["-n", "2", "true"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

#[test]
fn segfault_ends_the_job_and_kills_the_others() {
    let dir = Tmp::new("segv");
    let script = format!(
        "echo $$ > {d}/pid$PMI_RANK.tmp; sleep 30 & echo $! > {d}/kid$PMI_RANK.tmp; \
         mv {d}/pid$PMI_RANK.tmp {d}/pid$PMI_RANK; mv {d}/kid$PMI_RANK.tmp {d}/kid$PMI_RANK; \
         if [ $PMI_RANK = 2 ]; then sleep 0.3; kill -SEGV $$; fi; wait",
        d = dir.0.display()
    );
    let start = Instant::now();
    let o = mpirun(&["-n", "3", "sh", "-c", &script]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(128 + 11));
    let err = text(&o.stderr);
    assert!(err.contains("rank 2") && err.contains("SIGSEGV"), "{err}");
    let names: Vec<String> = (0..3)
        .flat_map(|r| [format!("pid{r}"), format!("kid{r}")])
        .collect();
    assert!(dir.0.join("pid2").exists() && dir.0.join("kid2").exists());
    for pid in names
        .iter()
        .filter_map(|n| std::fs::read_to_string(dir.0.join(n)).ok())
        .map(|s| s.trim().parse::<u32>().unwrap())
    {
        assert!(!alive(pid), "process {pid} survived the job");
    }
}

#[test]
fn sigint_to_mpirun_kills_all_ranks() {
    let dir = Tmp::new("sigint");
    let script = format!(
        "sleep 30 & echo $! > {d}/kid$PMI_RANK; echo $$ > {d}/pid$PMI_RANK; wait",
        d = dir.0.display()
    );
    let child = Command::new(MPIRUN)
        .args(["-n", "2", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let names: Vec<String> = (0..2)
        .flat_map(|r| [format!("pid{r}"), format!("kid{r}")])
        .collect();
    wait_for_files(&dir.0, &names);
    let pids = read_pids(&dir.0, &names);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = wait_output(child, Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("SIGINT"));
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived SIGINT");
    }
}

#[test]
fn timeout_ends_the_job() {
    let o = mpirun(&["--timeout", "1", "-n", "2", "sleep", "30"]);
    assert_eq!(o.status.code(), Some(124));
    assert!(text(&o.stderr).contains("timeout"), "{}", text(&o.stderr));
    let o = Command::new(MPIRUN)
        .args(["-n", "1", "sleep", "30"])
        .env("MPIEXEC_TIMEOUT", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(124));
}

#[test]
fn leaving_without_finalize_ends_the_job() {
    let t = Tmp::new("early");
    let start = Instant::now();
    let o = mpirun(&["-n", "3", "python3", &t.client(), "early"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("rank 0 (pid")
            && text(&o.stderr).contains("without calling MPI_Finalize"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn abort_ends_the_job_with_its_code() {
    let t = Tmp::new("abort");
    let start = Instant::now();
    let o = mpirun(&["-n", "3", "python3", &t.client(), "abort"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(7), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("rank 1 (pid"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn malformed_pmi_input_does_not_crash_mpirun() {
    let t = Tmp::new("garbage");
    let o = mpirun(&["-n", "4", "python3", &t.client(), "garbage"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = sorted_lines(&o.stdout);
    assert_eq!(
        out,
        [
            "binary None",
            "garbage None",
            "long None",
            "still served 0",
            "unknown -1 unknown_command"
        ]
    );
    let err = text(&o.stderr);
    assert!(err.contains("unknown PMI command \"frobnicate\""), "{err}");
    assert!(err.contains("rank 1: bad PMI input"), "{err}");
    assert!(err.contains("rank 2: bad PMI input"), "{err}");
    assert!(err.contains("rank 3: bad PMI input"), "{err}");
}

#[test]
fn pmi_floods_are_bounded() {
    // Unknown commands are logged a few times only; a rank that never reads its
    // replies ends the job instead of making the proxy hold them.
    let t = Tmp::new("flood");
    let o = mpirun(&[
        "-n",
        "1",
        "--timeout",
        "60",
        "python3",
        &t.client(),
        "flood",
    ]);
    let err = text(&o.stderr);
    // Past the bound on unread replies the job ends, naming the rank.
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rank 0: it leaves its PMI replies unread")
            && err.contains("terminating the job"),
        "{err}"
    );
    assert_eq!(err.matches("sent unknown PMI command").count(), 3, "{err}");
    assert!(
        err.contains("further unknown commands are not logged"),
        "{err}"
    );
    // ... and counted: one line at the end sums them up.
    assert!(
        err.contains("10000 unknown PMI commands in all (rank 0: 10000)"),
        "{err}"
    );
    assert!(err.contains("leaves its PMI replies unread"), "{err}");
    assert!(err.lines().count() < 10, "{err}");
}

#[test]
fn huge_slot_counts_and_ipv6_loopback() {
    for hosts in ["localhost:99999999999999999", "::1", "[::1]:2"] {
        let o = mpirun(&["-np", "2", "-hosts", hosts, "sh", "-c", "echo $PMI_RANK"]);
        assert_eq!(o.status.code(), Some(0), "{hosts}: {}", text(&o.stderr));
        assert_eq!(sorted_lines(&o.stdout), ["0", "1"], "{hosts}");
    }
    let o = mpirun(&[
        "-np",
        "2",
        "-ppn",
        "99999999999999999",
        "-hosts",
        "localhost",
        "true",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // MPIEXEC_TIMEOUT=0 is no limit, as in Hydra
    let o = Command::new(env!("CARGO_BIN_EXE_mpirun"))
        .args(["-np", "1", "true"])
        .env("MPIEXEC_TIMEOUT", "0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn job_shm_files_are_removed() {
    let t = Tmp::new("shm");
    for (how, code) in [("ok", 0), ("crash", 139)] {
        let o = mpirun(&["-n", "1", "python3", &t.client(), "shm", how]);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        let kvs = out
            .lines()
            .find_map(|l| l.strip_prefix("kvs "))
            .expect("rank printed its kvsname");
        let path = format!("/dev/shm/{}x", vmpi_pmi::jobkey::shm_prefix(kvs));
        assert!(!Path::new(&path).exists(), "{path} left behind ({how})");
    }
}

#[test]
fn bad_command_lines_are_rejected() {
    let marker = std::env::temp_dir().join(format!("vmpi-launch-bad-{}", std::process::id()));
    let touch = format!("touch {}", marker.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-np", "2"], "no program"),
        (vec!["-np", "0", "sh", "-c", &touch], "-np"),
        (vec!["-np", "two", "sh", "-c", &touch], "-np"),
        (vec!["-n"], "-n"),
        (
            vec!["-hostfile", "/nonexistent/hosts", "sh", "-c", &touch],
            "/nonexistent/hosts",
        ),
        (vec!["-wat", "sh", "-c", &touch], "-wat"),
        (
            vec![
                "-launcher-exec",
                "/nonexistent/agent",
                "-hosts",
                "192.0.2.1",
                "sh",
                "-c",
                &touch,
            ],
            "cannot start the proxy of host 192.0.2.1 (/nonexistent/agent)",
        ),
        (vec!["-launcher", "telnet", "sh", "-c", &touch], "-launcher"),
        (vec!["--timeout", "x", "sh", "-c", &touch], "--timeout"),
    ];
    for (args, want) in cases {
        let o = mpirun(&args);
        let err = text(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(1 | 2)),
            "{args:?}: {:?}",
            o.status
        );
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!marker.exists(), "{args:?} started a process");
    }
    let o = mpirun(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("-hostfile"));
    let o = mpirun(&["--version"]);
    assert!(text(&o.stdout).contains("vmpi"));
}

#[test]
fn hostfile_and_other_binary_names() {
    let t = Tmp::new("hostfile");
    let hf = t.0.join("hosts");
    std::fs::write(&hf, "# local only\nlocalhost:2\n127.0.0.1\n").unwrap();
    for bin in [
        env!("CARGO_BIN_EXE_mpirun_rsh"),
        env!("CARGO_BIN_EXE_mpiexec"),
    ] {
        let o = Command::new(bin)
            .args(["-np", "3", "-hostfile", hf.to_str().unwrap(), "sh", "-c"])
            .arg("echo $PMI_RANK $MPI_LOCALRANKID/$MPI_LOCALNRANKS")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{bin}: {}", text(&o.stderr));
        // localhost and 127.0.0.1 are one host: one proxy, three local ranks.
        assert_eq!(
            sorted_lines(&o.stdout),
            ["0 0/3", "1 1/3", "2 2/3"],
            "{bin}"
        );
    }
}
