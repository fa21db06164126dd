//! Jobs across QEMU virtual machines that share IVSHMEM devices: two VMs
//! (`scripts/vm/vms.sh`: Debian's kernel, a busybox userland, TCG, a bridge),
//! each with `ivshmem-plain` devices backed by files in this machine's /dev/shm,
//! reached through the VMs' rsh-like agent (`scripts/vm/vm-rsh`). The guests run
//! the static build of the programs (`make vm-programs`).
//!
//! Checks: the channel of every pair (shm within a VM, IVSHMEM across, TCP when
//! IVSHMEM is off) and the correctness programs over it; two jobs sharing a
//! device (a slot each); a killed job's slot reclaimed, a live job's never
//! taken; the clear errors (and the TCP fallback where asked) for a device the
//! user may not open, a garbage header, VMs whose devices differ in size, a slot
//! too small for the job; hot-plug and unplug with `vmpi-admin`.
//!
//! Needs root (tap devices, a bridge), qemu-system-x86, busybox-static, cpio
//! (`scripts/install-deps.sh`), the VM image and payload (`make vm-programs`),
//! and the release build of the workspace (mpirun and vmpi-admin run here).

mod common;

use common::{built as bin, repo_root as root};

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const HOSTS: &str = "10.203.0.11:2,10.203.0.12:2";

fn vms_sh() -> PathBuf {
    root().join("scripts/vm/vms.sh")
}

fn payload() -> PathBuf {
    let p = root().join("target/vm/payload");
    assert!(
        p.join("vmpi-proxy").exists() && root().join("target/vm/vmlinux").exists(),
        "no VM image or payload in target/vm: run `make vm-programs` first"
    );
    p
}

fn run_ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A device backing file in this machine's /dev/shm, removed with the VMs.
fn backing(name: &str) -> String {
    format!("/dev/shm/vmpi-vmtest-{name}")
}

/// Two VMs, up while one test uses them (tests run one at a time: two TCG VMs
/// fill this machine's cores). `devs[k]` are VM k+1's devices, `FILE:SIZE,...`.
struct Vms {
    files: Vec<String>,
    _serial: MutexGuard<'static, ()>,
}
static SERIAL: Mutex<()> = Mutex::new(());

impl Vms {
    fn up(devs: &[&str]) -> Vms {
        assert!(
            is_root(),
            "these tests boot QEMU VMs on a bridge and need root (run as root, or in CI)"
        );
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut files: Vec<String> = devs
            .iter()
            .flat_map(|d| d.split(','))
            .map(|d| d.split(':').next().unwrap().to_string())
            .collect();
        files.sort();
        files.dedup();
        for f in &files {
            let _ = std::fs::remove_file(f);
        }
        run_ok(Command::new(vms_sh()).arg("down"));
        let t = Instant::now();
        run_ok(
            Command::new(vms_sh())
                .args(["up", "2"])
                .args(devs)
                .env("VMS_PAYLOAD", payload()),
        );
        eprintln!("two VMs booted in {:.1} s", t.elapsed().as_secs_f64());
        Vms {
            files,
            _serial: serial,
        }
    }

    fn qmp(&self, vm: &str) -> String {
        format!("/tmp/vmpi-vms/{vm}.qmp")
    }

    /// A shell command in a VM; its output.
    fn exec(&self, vm: &str, cmd: &str) -> String {
        run_ok(Command::new(vms_sh()).args(["exec", vm, cmd]))
    }
}

impl Drop for Vms {
    fn drop(&mut self) {
        let _ = Command::new(vms_sh()).arg("down").output();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn mpirun_cmd(np: usize, args: &[&str], env: &[(&str, &str)], limit_s: u64) -> Command {
    let mut c = Command::new(bin("mpirun"));
    c.arg("-launcher-exec")
        .arg(root().join("scripts/vm/vm-rsh"))
        .args(["-np", &np.to_string(), "-hosts", HOSTS])
        .args(args)
        .env("VMPI_PROXY", "/test/vmpi-proxy")
        .env("MPIEXEC_TIMEOUT", limit_s.to_string());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// mpirun from this machine into the VMs (2 ranks each), `args` the program.
fn mpirun(np: usize, args: &[&str], env: &[(&str, &str)], limit_s: u64) -> Output {
    mpirun_cmd(np, args, env, limit_s).output().unwrap()
}

fn both(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// The `vmpi-info --channels` line of pair a -> b.
fn channel(out: &str, a: usize, b: usize) -> String {
    out.lines()
        .find(|l| l.contains(&format!("rank {a} (")) && l.contains(&format!("-> rank {b} (")))
        .unwrap_or_else(|| panic!("no line for {a} -> {b}: {out}"))
        .to_string()
}

fn channels(np: usize, env: &[(&str, &str)]) -> String {
    let o = mpirun(np, &["/test/vmpi-info", "--channels"], env, 60);
    assert!(
        o.status.success(),
        "vmpi-info --channels {env:?}: {}",
        text(&o)
    );
    both(&o)
}

fn admin(args: &[&str]) -> String {
    run_ok(Command::new(bin("vmpi-admin")).arg("ivshmem").args(args))
}

/// Every slot of the region in `file` free (the jobs that used it ended well).
fn assert_slots_free(file: &str) {
    let s = admin(&["status", file]);
    assert!(
        s.contains("slot 0: free") && !s.contains(": job "),
        "slots left claimed: {s}"
    );
}

/// A job that failed in MPI_Init with `want` in its output; no rank left.
fn assert_init_error(o: &Output, want: &str) {
    assert!(
        !o.status.success(),
        "expected an error with {want:?}: {}",
        text(o)
    );
    assert!(both(o).contains(want), "expected {want:?}: {}", text(o));
}

#[test]
fn ivshmem_between_two_vms() {
    let a = backing("a");
    let vms = Vms::up(&[&format!("{a}:16M")]);

    // ranks 0,1 in vm1, 2,3 in vm2
    let out = channels(4, &[]);
    let l = channel(&out, 0, 1);
    assert!(l.contains("shm [same /dev/shm"), "{l}");
    for (x, y) in [(0, 2), (1, 3), (3, 0)] {
        let l = channel(&out, x, y);
        assert!(
            l.contains("ivshmem [") && l.contains("nonces seen both ways"),
            "{x} -> {y}: {l}"
        );
    }
    assert!(out.contains("(vm1)") && out.contains("(vm2)"), "{out}");

    // the correctness programs over it
    for args in [
        &["/test/exchange", "allpairs", "4", "300000", "7"][..],
        &["/test/matching"][..],
        &["/test/coll_check", "quick"][..],
    ] {
        let t = Instant::now();
        let o = mpirun(4, args, &[], 240);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        eprintln!("{args:?}: {:.1} s", t.elapsed().as_secs_f64());
    }
    assert_slots_free(&a);

    // IVSHMEM off: TCP across the VMs, shm within
    let out = channels(4, &[("MV2_VIRT_USE_IVSHMEM", "0")]);
    assert!(channel(&out, 0, 2).contains("tcp ["), "{out}");
    assert!(channel(&out, 2, 3).contains("shm ["), "{out}");

    // two jobs at once: a slot each, neither sees the other's queues
    let jobs: Vec<Child> = (0..2)
        .map(|i| {
            mpirun_cmd(
                4,
                &[
                    "/test/exchange",
                    "allpairs",
                    "3",
                    "200000",
                    &(20 + i).to_string(),
                ],
                &[],
                240,
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for j in jobs {
        let o = j.wait_with_output().unwrap();
        assert!(o.status.success(), "concurrent job: {}", text(&o));
        assert!(both(&o).contains(":ivshmem"), "{}", text(&o));
    }
    assert_slots_free(&a);

    // a user who may not open resource2: the reason and what to do; or TCP
    // with the reason where the user asked for that
    let o = mpirun(
        4,
        &["/test/asuser", "/test/vmpi-info", "--channels"],
        &[],
        60,
    );
    assert_init_error(
        &o,
        "permission denied; run the ranks as root, or give their user the device",
    );
    let o = mpirun(
        4,
        &["/test/asuser", "/test/vmpi-info", "--channels"],
        &[("VMPI_IVSHMEM_FALLBACK", "tcp")],
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    let l = channel(&both(&o), 0, 2);
    assert!(
        l.contains("tcp [") && l.contains("IVSHMEM unusable on rank"),
        "{l}"
    );

    // hot-plug a second device into both VMs, use it, unplug it
    let b = backing("b");
    admin(&["create", &b, "8M"]);
    for vm in ["vm1", "vm2"] {
        let s = admin(&["attach", &vms.qmp(vm), &b, "--id", "ivb", "--addr", "6"]);
        assert!(s.contains("as device ivb"), "{s}");
        let s = admin(&["list", &vms.qmp(vm)]);
        assert!(s.contains("ivb at 00:06.0 (8388608 bytes)"), "{vm}: {s}");
    }
    for vm in ["vm1", "vm2"] {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !vms
            .exec(
                vm,
                "cat /sys/bus/pci/devices/0000:00:06.0/device 2>/dev/null",
            )
            .contains("0x1110")
        {
            assert!(
                Instant::now() < deadline,
                "{vm} does not see the hot-plugged device"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let uuid_b = admin(&["status", &b])
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    let out = channels(4, &[("MV2_VIRT_IVSHMEM_DEVICE", "00:06.0")]);
    let l = channel(&out, 1, 2);
    assert!(
        l.contains(&format!("IVSHMEM region {uuid_b}")),
        "{uuid_b}: {l}"
    );
    for vm in ["vm1", "vm2"] {
        admin(&["detach", &vms.qmp(vm), "ivb"]);
        let s = admin(&["list", &vms.qmp(vm)]);
        assert!(!s.contains("ivb") && s.contains("ivdev4"), "{vm}: {s}");
        let seen = vms.exec(vm, "ls /sys/bus/pci/devices/");
        assert!(
            !seen.contains("0000:00:06.0"),
            "{vm} still shows the unplugged device: {seen}"
        );
    }
    assert_slots_free(&b);
    let _ = std::fs::remove_file(&b);
    // the first device still works after the unplug
    let out = channels(4, &[]);
    assert!(channel(&out, 0, 3).contains("ivshmem ["), "{out}");
}

#[test]
fn ivshmem_slots_and_bad_devices() {
    // 00:04.0 one slot (4 MiB); 00:05.0 128 KiB; 00:06.0 the same file, 8 MiB in
    // vm1 but 4 MiB in vm2
    let (one, small, odd) = (backing("one"), backing("small"), backing("odd"));
    let _vms = Vms::up(&[
        &format!("{one}:4M,{small}:128K,{odd}:8M"),
        &format!("{one}:4M,{small}:128K,{odd}:4M"),
    ]);
    let dev = |d: &'static str| [("MV2_VIRT_IVSHMEM_DEVICE", d)];
    let tcp_fallback = |d: &'static str| {
        [
            ("MV2_VIRT_IVSHMEM_DEVICE", d),
            ("VMPI_IVSHMEM_FALLBACK", "tcp"),
        ]
    };

    // a killed job's slot: taken back once its heartbeat has stood still 5 s
    let o = mpirun(4, &["/test/hang"], &dev("00:04.0"), 8);
    assert!(!o.status.success(), "hang ended: {}", text(&o));
    let s = admin(&["status", &one]);
    assert!(
        s.contains("slot 0: job ") && s.contains("heartbeat still"),
        "{s}"
    );
    let t = Instant::now();
    let out = channels(4, &dev("00:04.0"));
    assert!(channel(&out, 0, 2).contains("ivshmem ["), "{out}");
    eprintln!(
        "reclaimed a dead job's slot: job done in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_slots_free(&one);

    // a live job's slot is never taken: the next job says so (or uses TCP)
    let mut live = mpirun_cmd(4, &["/test/hang"], &dev("00:04.0"), 120)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(live.stdout.take().unwrap()).lines();
        let mut ready = 0;
        while ready < 4 {
            let l = lines.next().expect("hang output").unwrap();
            ready += l.contains(": ready") as usize;
        }
    }
    let o = mpirun(4, &["/test/vmpi-info", "--channels"], &dev("00:04.0"), 60);
    assert_init_error(&o, "all 1 slots are in use by running jobs");
    let o = mpirun(
        4,
        &["/test/vmpi-info", "--channels"],
        &tcp_fallback("00:04.0"),
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    let l = channel(&both(&o), 0, 2);
    assert!(
        l.contains("tcp [") && l.contains("all 1 slots are in use"),
        "{l}"
    );
    let s = admin(&["status", &one]);
    assert!(
        s.contains("slot 0: job ") && s.contains("alive (heartbeat moving)"),
        "{s}"
    );
    // SIGINT to mpirun ends the live job
    nix_kill_int(live.id());
    let st = live.wait().unwrap();
    assert!(!st.success());

    // garbage in the header: a clear error; reformatting makes it usable again
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&one).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"NOTVMPI!").unwrap();
    }
    let o = mpirun(4, &["/test/vmpi-info", "--channels"], &dev("00:04.0"), 60);
    assert_init_error(&o, "not a vmpi region (it starts with \"NOTVMPI!\")");
    admin(&["create", &one, "4M", "--force"]);
    let out = channels(4, &dev("00:04.0"));
    assert!(channel(&out, 1, 3).contains("ivshmem ["), "{out}");

    // a slot too small for 4 ranks: the sizes and what to do; 2 ranks fit
    let o = mpirun(4, &["/test/vmpi-info", "--channels"], &dev("00:05.0"), 60);
    assert_init_error(&o, "the IVSHMEM slot is too small for 4 ranks");
    let o = mpirun(
        4,
        &["/test/vmpi-info", "--channels"],
        &tcp_fallback("00:05.0"),
        60,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(channel(&both(&o), 0, 2).contains("tcp ["), "{}", text(&o));
    let o = Command::new(bin("mpirun"))
        .arg("-launcher-exec")
        .arg(root().join("scripts/vm/vm-rsh"))
        .args(["-np", "2", "-hosts", "10.203.0.11,10.203.0.12"])
        .args(["/test/exchange", "ring", "10", "100000", "5"])
        .env("VMPI_PROXY", "/test/vmpi-proxy")
        .env("MPIEXEC_TIMEOUT", "60")
        .env("MV2_VIRT_IVSHMEM_DEVICE", "00:05.0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(both(&o).contains(":ivshmem"), "{}", text(&o));

    // the VMs map different sizes of one file
    let o = mpirun(4, &["/test/vmpi-info", "--channels"], &dev("00:06.0"), 60);
    assert_init_error(&o, "the VMs' devices have different sizes");

    for f in [&one, &small] {
        assert_slots_free(f);
    }
}

fn nix_kill_int(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}
