//! Jobs across several hosts: three "hosts" made of Linux namespaces
//! (`scripts/vhosts.sh`: own network, host name, /dev/shm, boot id, PID and IPC
//! namespace each, on a bridge), reached through a launch agent that enters a
//! host's namespaces (`mpirun -launcher-exec "vhosts.sh exec"`), and once through
//! a real sshd (`mpirun -ssh`). Checks the correctness programs at 3, 6 and 9
//! ranks, the channel of every pair (TCP across hosts, shm within, shm without
//! CMA between co-resident containers), the manual launcher, and faults: a rank
//! that crashes or is killed on another host, a killed proxy, a host's network
//! cut, a host whose agent fails. After every job no process and no /dev/shm
//! file of it is left on any host.
//!
//! Needs root (namespaces, veth, a bridge), iproute2, util-linux, python3 and
//! openssh-server (`scripts/install-deps.sh` installs them), and the release
//! build of the workspace.

mod common;

use common::{built as bin, repo_root as root};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const H1: &str = "10.201.0.11";
const H2: &str = "10.201.0.12";
const H3: &str = "10.201.0.13";
const HC: &str = "10.201.0.30";

fn vhosts() -> PathBuf {
    root().join("scripts/vhosts.sh")
}

fn vh(args: &[&str]) -> String {
    let o = Command::new(vhosts()).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "vhosts.sh {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The hosts, up while one test uses them: tests run one at a time (their
/// cleanliness checks look at every host), each on hosts built afresh.
struct Cluster {
    _serial: MutexGuard<'static, ()>,
}
static SERIAL: Mutex<()> = Mutex::new(());

impl Cluster {
    fn get() -> Cluster {
        assert!(
            nix_is_root(),
            "these tests build hosts from namespaces and need root (run as root, or in CI)"
        );
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        vh(&["down"]);
        vh(&["up", "3"]);
        Cluster { _serial: serial }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        vh(&["down"]);
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn agent() -> String {
    format!("{} exec", vhosts().display())
}

/// mpirun with the namespace agent, a time limit, and `args`.
fn mpirun(args: &[&str], env: &[(&str, &str)], limit_s: u64) -> (Output, Duration) {
    let mut c = Command::new(bin("mpirun"));
    c.arg("-launcher-exec").arg(agent()).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.env("MPIEXEC_TIMEOUT", limit_s.to_string());
    let t = Instant::now();
    let o = c.output().unwrap();
    (o, t.elapsed())
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// No process but its init and no /dev/shm file left on any host (waiting a
/// little: a proxy that lost mpirun cleans up on its own clock).
fn assert_clean(what: &str) {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let mut left = Vec::new();
        for h in ["h1", "h2", "h3", "hc"] {
            let pids = vh(&["pids", h]);
            if !pids.is_empty() {
                let names: Vec<String> = pids
                    .split_whitespace()
                    .map(|p| {
                        std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                            .unwrap_or_default()
                            .replace('\0', " ")
                    })
                    .collect();
                left.push(format!("{h}: processes {names:?}"));
            }
            let shm = vh(&["shm", h]);
            let files: Vec<String> = std::fs::read_dir(&shm)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            if !files.is_empty() {
                left.push(format!("{h}: /dev/shm {files:?}"));
            }
        }
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("{what} left behind: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hosts3(slots: usize) -> String {
    format!("{H1}:{slots},{H2}:{slots},{H3}:{slots}")
}

#[test]
fn correctness_programs_across_three_hosts() {
    let _c = Cluster::get();
    let bin_s = |n: &str| bin(n).display().to_string();
    for np in [3, 6, 9] {
        // round-robin over the hosts: every pair of neighbours crosses hosts
        let hosts = format!("{H1},{H2},{H3}");
        let np_s = np.to_string();
        let ex = bin_s("exchange");
        let (o, _) = mpirun(
            &[
                "-np", &np_s, "-hosts", &hosts, &ex, "allpairs", "6", "300000", "11",
            ],
            &[],
            120,
        );
        assert!(o.status.success(), "exchange np {np}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(out.matches(": ok").count(), np, "{}", text(&o));
        assert!(out.contains(":tcp"), "no pair over TCP: {out}");
        let mt = bin_s("matching");
        let (o, _) = mpirun(&["-np", &np_s, "-hosts", &hosts, &mt], &[], 120);
        assert!(o.status.success(), "matching np {np}: {}", text(&o));
        let cc = bin_s("coll_check");
        let (o, _) = mpirun(
            &["-np", &np_s, "-hosts", &hosts3(np / 3), &cc, "quick"],
            &[],
            180,
        );
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("coll_check: ok"),
            "coll_check np {np}: {}",
            text(&o)
        );
        assert_clean(&format!("the jobs at np {np}"));
    }
}

#[test]
fn channels_tcp_across_hosts_shm_within() {
    let _c = Cluster::get();
    let info = bin("vmpi-info").display().to_string();
    let (o, _) = mpirun(
        &["-np", "6", "-hosts", &hosts3(2), &info, "--channels"],
        &[],
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    // ranks 0,1 on h1, 2,3 on h2, 4,5 on h3
    for (a, b, want) in [
        (0, 1, "shm [same /dev/shm"),
        (2, 3, "shm [same /dev/shm"),
        (0, 2, "tcp [different kernel (boot id differs)]"),
        (5, 1, "tcp [different kernel (boot id differs)]"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("rank {a} (")) && l.contains(&format!("-> rank {b} (")))
            .unwrap_or_else(|| panic!("no line for {a} -> {b}: {out}"));
        assert!(line.contains(want), "{a} -> {b}: {line}");
    }
    assert!(out.contains("rank 0 (h1)") && out.contains("(h3)"), "{out}");
    // Co-resident containers (h3 and hc: one /dev/shm and boot id, separate
    // network, UTS, PID and IPC namespaces): shm, large messages without CMA.
    let (o, _) = mpirun(
        &[
            "-np",
            "2",
            "-hosts",
            &format!("{H3},{HC}"),
            &info,
            "--channels",
        ],
        &[],
        60,
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.contains("rank 0 (h3) -> rank 1 (hc): shm [same /dev/shm across containers")
            && out.contains("pipelined copy (different PID namespace)"),
        "{out}"
    );
    let ex = bin("exchange").display().to_string();
    let (o, _) = mpirun(
        &[
            "-np",
            "2",
            "-hosts",
            &format!("{H3},{HC}"),
            &ex,
            "ring",
            "20",
            "2000000",
            "3",
        ],
        &[],
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_clean("the channel jobs");
}

#[test]
fn ssh_agent_with_a_real_sshd() {
    let _c = Cluster::get();
    if !Path::new("/usr/sbin/sshd").exists() {
        panic!("openssh-server is needed for this test (scripts/install-deps.sh installs it)");
    }
    let wrapper_dir = vh(&["sshd", "h1"]);
    let path = format!(
        "{wrapper_dir}:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    let mt = bin("matching").display().to_string();
    let o = Command::new(bin("mpirun"))
        .args(["-ssh", "-np", "2", "-hosts", &format!("{H1}:2"), &mt])
        .env("PATH", &path)
        .env("MPIEXEC_TIMEOUT", "60")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches(": ok,").count(),
        2,
        "{}",
        text(&o)
    );
    // The sshd itself stays: stop it (its pid file holds its pid inside h1)
    // before the cleanliness check.
    vh(&["exec", "h1", "kill $(cat /tmp/vmpi-vhosts/ssh/sshd-h1.pid)"]);
    assert_clean("the job through ssh");
}

#[test]
fn manual_launcher_prints_the_proxy_command() {
    let _c = Cluster::get();
    let mt = bin("matching").display().to_string();
    let mut child = Command::new(bin("mpirun"))
        .args([
            "-launcher",
            "manual",
            "-np",
            "2",
            "-hosts",
            &format!("{H2}:2"),
            &mt,
        ])
        .env("MPIEXEC_TIMEOUT", "60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    use std::io::Read;
    while out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    let first = String::from_utf8_lossy(&first).to_string();
    let cmd = first
        .split_once(" there with: ")
        .unwrap_or_else(|| panic!("no proxy command in {first:?}"))
        .1
        .to_string();
    assert!(first.contains(H2), "{first}");
    let proxy = Command::new(vhosts())
        .args(["exec", "h2", &cmd])
        .spawn()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(o.status.success(), "{first}\n{rest}\n{}", text(&o));
    assert_eq!(rest.matches(": ok,").count(), 2, "{rest}");
    let mut proxy = proxy;
    let st = proxy.wait().unwrap();
    assert!(st.success(), "the hand-started proxy: {st}");
    assert_clean("the manual job");
}

/// Start `hang` on 6 ranks over the three hosts, do `fault` once they are all
/// in MPI, and check the job ends within 10 s naming `want`, with a failing exit
/// code, and leaves nothing behind.
fn fault(what: &str, fault: impl FnOnce(), want: &[&str]) {
    let hang = bin("hang").display().to_string();
    let mut c = Command::new(bin("mpirun"));
    c.arg("-launcher-exec")
        .arg(agent())
        .args(["-np", "6", "-hosts", &hosts3(2), &hang])
        .env("MPIEXEC_TIMEOUT", "60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // every rank prints "hang rank R: ready" once in its receive
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let t = Instant::now();
    use std::io::Read;
    let mut buf = [0u8; 256];
    while seen.matches(": ready").count() < 6 {
        let n = out.read(&mut buf).unwrap();
        assert!(
            n > 0 && t.elapsed() < Duration::from_secs(30),
            "{what}: ranks never ready: {seen}"
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let t = Instant::now();
    fault();
    let o = child.wait_with_output().unwrap();
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{what}: the job succeeded: {err}");
    assert!(
        took < Duration::from_secs(10),
        "{what}: took {took:?}: {err}"
    );
    for w in want {
        assert!(err.contains(w), "{what}: no {w:?} in: {err}");
    }
    assert_clean(what);
}

/// Pid (as seen here) of the process named `comm` in host `h` (the first).
fn pid_in(h: &str, comm: &str) -> String {
    vh(&["pids", h])
        .split_whitespace()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .unwrap_or_else(|| panic!("no {comm} in {h}"))
        .to_string()
}

#[test]
fn faults_end_the_job_and_leave_nothing() {
    let _c = Cluster::get();
    let kill = |pid: String| {
        assert!(Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success());
    };
    fault(
        "a rank killed on another host",
        || kill(pid_in("h2", "hang")),
        &[&format!("on {H2} (h2)) killed by signal 9 (SIGKILL)")],
    );
    fault(
        "a killed proxy",
        || kill(pid_in("h3", "vmpi-proxy")),
        &[&format!("lost the proxy of host {H3} (h3) (ranks 4-5)")],
    );
    fault(
        "a host's network cut",
        || {
            let ok = Command::new("ip")
                .args(["link", "set", "vh-h2", "down"])
                .status()
                .unwrap();
            assert!(ok.success());
        },
        &[
            &format!("lost the proxy of host {H2} (h2) (ranks 2-3)"),
            "heard nothing from it",
        ],
    );
    let ok = Command::new("ip")
        .args(["link", "set", "vh-h2", "up"])
        .status()
        .unwrap();
    assert!(ok.success());
    // The link is up before h2 can reach mpirun's address again (its neighbour
    // entry failed while the link was down): the next job's proxy on h2 would
    // get "No route to host". Wait until it can.
    // (A connection to a closed port: "refused" once the address answers.)
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let o = Command::new(vhosts())
            .args(["exec", "h2", "bash -c 'exec 3<>/dev/tcp/10.201.0.1/9' 2>&1"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        if o.status.success() || out.contains("refused") {
            break;
        }
        assert!(Instant::now() < end, "h2 cannot reach 10.201.0.1: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A crash (SIGSEGV in MPI, after a barrier) on a remote host.
    let crash = bin("crash").display().to_string();
    let (o, took) = mpirun(&["-np", "6", "-hosts", &hosts3(2), &crash, "5"], &[], 60);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(139), "{}", text(&o));
    assert!(
        err.contains(&format!("rank 5 (pid"))
            && err.contains(&format!("on {H3} (h3)"))
            && err.contains("SIGSEGV"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_clean("the crash");
    // A host whose agent cannot start the proxy.
    let (o, took) = mpirun(
        &["-np", "2", "-hosts", &format!("{H1},10.201.0.99"), "true"],
        &[],
        60,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        err.contains("lost the proxy of host 10.201.0.99 (ranks 1)")
            && err.contains("before the proxy connected"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_clean("the failed agent");
}

/// Hosts that share one file (as VMs share an IVSHMEM device's memory): named
/// as the device (`MV2_VIRT_IVSHMEM_DEVICE`), the ranks on different hosts talk
/// through queues in it; the region's slot is free again after the job. The
/// same path as real VMs take, with QEMU left out (crates/testsuite/tests/vms.rs
/// boots the VMs).
#[test]
fn a_shared_file_as_ivshmem_device_between_hosts() {
    let _c = Cluster::get();
    let dev = "/tmp/vmpi-vhosts/ivshmem-stand-in";
    let f = std::fs::File::create(dev).unwrap();
    f.set_len(16 << 20).unwrap();
    drop(f);
    let env = [("MV2_VIRT_IVSHMEM_DEVICE", dev)];
    let hosts = format!("{H1}:2,{H2}:2");
    let info = bin("vmpi-info").display().to_string();
    let (o, _) = mpirun(
        &["-np", "4", "-hosts", &hosts, &info, "--channels"],
        &env,
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = |a: usize, b: usize| {
        out.lines()
            .find(|l| l.contains(&format!("rank {a} (")) && l.contains(&format!("-> rank {b} (")))
            .unwrap_or_else(|| panic!("no line for {a} -> {b}: {out}"))
            .to_string()
    };
    assert!(line(0, 1).contains("shm ["), "{}", line(0, 1));
    assert!(
        line(1, 2).contains("ivshmem [IVSHMEM region"),
        "{}",
        line(1, 2)
    );
    let ex = bin("exchange").display().to_string();
    let (o, _) = mpirun(
        &[
            "-np", "4", "-hosts", &hosts, &ex, "allpairs", "5", "1000000", "9",
        ],
        &env,
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches(":ivshmem")
            .count(),
        8,
        "{}",
        text(&o)
    );
    let st = Command::new(bin("vmpi-admin"))
        .args(["ivshmem", "status", dev])
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.contains("slot 0: free") && !st.contains(": job "),
        "{st}"
    );
    std::fs::remove_file(dev).unwrap();
    assert_clean("the IVSHMEM jobs");
}
