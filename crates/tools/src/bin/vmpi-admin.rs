//! `vmpi-admin ivshmem ...`: IVSHMEM devices for VMs run by plain QEMU or libvirt
//! (what MVAPICH2-Virt's ivshmem tools and OpenStack scripts do):
//!
//! ```text
//! vmpi-admin ivshmem create FILE SIZE [--slots N] [--force]   make and format a backing file
//! vmpi-admin ivshmem status FILE                            header, slots, jobs and leases
//! vmpi-admin ivshmem attach QMP FILE [--id ID] [--addr SLOT] hot-plug a device into a VM
//! vmpi-admin ivshmem detach QMP ID                          unplug it (waits for the guest)
//! vmpi-admin ivshmem list QMP                               the VM's ivshmem devices
//! ```
//! QMP is the VM's QMP socket (`-qmp unix:PATH,server=on,wait=off`). docs/
//! virtualization.md has the libvirt and OpenStack equivalents.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vmpi::sys::tools::ivshmem::{self, Device};
use vmpi::sys::tools::Region;
use vmpi_tools::qmp::Qmp;

const USAGE: &str = "usage:
  vmpi-admin ivshmem create FILE SIZE [--slots N] [--force]
  vmpi-admin ivshmem status FILE
  vmpi-admin ivshmem attach QMP_SOCKET FILE [--id ID] [--addr PCI_SLOT]
  vmpi-admin ivshmem detach QMP_SOCKET ID
  vmpi-admin ivshmem list QMP_SOCKET";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("ivshmem") => ivshmem_cmd(&args[1..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    if let Err(e) = r {
        eprintln!("vmpi-admin: {e}");
        std::process::exit(1);
    }
}

/// `4M`, `1G`, `65536`.
fn parse_size(s: &str) -> Result<usize, String> {
    vmpi::sys::config::parse_size("SIZE", s)
        .map(|v| v as usize)
        .map_err(|e| e.message.clone())
}

/// The value after `--name` in `rest`, if given.
fn opt<'a>(rest: &'a [String], name: &str) -> Result<Option<&'a str>, String> {
    match rest.iter().position(|a| a == name) {
        Some(i) => rest
            .get(i + 1)
            .map(|v| Some(v.as_str()))
            .ok_or_else(|| format!("{name} needs a value")),
        None => Ok(None),
    }
}

fn check_known(rest: &[String], known: &[&str], flags: &[&str]) -> Result<(), String> {
    let mut i = 0;
    while i < rest.len() {
        let a = rest[i].as_str();
        if known.contains(&a) {
            i += 2;
        } else if flags.contains(&a) {
            i += 1;
        } else {
            return Err(format!("unexpected argument {a:?}\n{USAGE}"));
        }
    }
    Ok(())
}

fn ivshmem_cmd(a: &[String]) -> Result<(), String> {
    let need = |i: usize, what: &str| {
        a.get(i)
            .cloned()
            .ok_or_else(|| format!("missing {what}\n{USAGE}"))
    };
    match a.first().map(String::as_str) {
        Some("create") => {
            let (file, size) = (need(1, "FILE")?, parse_size(&need(2, "SIZE")?)?);
            check_known(&a[3..], &["--slots"], &["--force"])?;
            let slots = opt(&a[3..], "--slots")?
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| format!("--slots: not a number: {v}"))
                })
                .transpose()?;
            create(
                Path::new(&file),
                size,
                slots,
                a[3..].iter().any(|x| x == "--force"),
            )
        }
        Some("status") => status(Path::new(&need(1, "FILE")?)),
        Some("attach") => {
            let (q, file) = (need(1, "QMP_SOCKET")?, need(2, "FILE")?);
            check_known(&a[3..], &["--id", "--addr"], &[])?;
            let id = opt(&a[3..], "--id")?.unwrap_or("ivshmem0").to_string();
            attach(
                Path::new(&q),
                Path::new(&file),
                &id,
                opt(&a[3..], "--addr")?,
            )
        }
        Some("detach") => detach(Path::new(&need(1, "QMP_SOCKET")?), &need(2, "ID")?),
        Some("list") => list(Path::new(&need(1, "QMP_SOCKET")?)),
        _ => Err(format!("unknown ivshmem command\n{USAGE}")),
    }
}

/// Make `file` `size` bytes (zeroed where new) and write a fresh header; an
/// existing vmpi region with live slots needs `--force`.
fn create(file: &Path, size: usize, slots: Option<usize>, force: bool) -> Result<(), String> {
    if size % 4096 != 0 || size < 2 * ivshmem::HEADER {
        return Err(format!(
            "SIZE {size}: a multiple of 4096, at least 8K (QEMU wants a power of two, e.g. 16M)"
        ));
    }
    let (n, slot_size) = ivshmem::layout(size, slots).map_err(|e| e.message.clone())?;
    if file.exists() && !force {
        if let Ok(d) = Device::open(file) {
            let busy = d.table().iter().filter(|s| s.0 != 0).count();
            if busy > 0 {
                return Err(format!(
                    "{} holds a vmpi region with {busy} slot(s) in use: --force to reformat it anyway",
                    file.display()
                ));
            }
        }
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(file)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    f.set_len(size as u64)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    drop(f);
    let r = Region::map_file(file).map_err(|e| e.message.clone())?;
    let mut uuid = [0u8; 16];
    std::fs::read("/proc/sys/kernel/random/uuid")
        .ok()
        .map(|u| {
            let h: Vec<u8> = u
                .iter()
                .filter(|c| c.is_ascii_hexdigit())
                .copied()
                .collect();
            for (i, b) in uuid.iter_mut().enumerate() {
                *b = u8::from_str_radix(
                    std::str::from_utf8(&h[2 * i..2 * i + 2]).unwrap_or("0"),
                    16,
                )
                .unwrap_or(0);
            }
        })
        .ok_or("cannot read a random UUID")?;
    ivshmem::format(&r, n, slot_size, uuid);
    println!(
        "{}: IVSHMEM region {} of {size} bytes, {n} slot(s) of {slot_size} bytes",
        file.display(),
        ivshmem::uuid_text(&uuid)
    );
    println!(
        "QEMU: -object memory-backend-file,id=ivmem,share=on,mem-path={},size={size} -device ivshmem-plain,memdev=ivmem",
        file.display()
    );
    Ok(())
}

/// The header and slot table; a slot's job is alive when its heartbeat moves.
fn status(file: &Path) -> Result<(), String> {
    let raw = Region::map_file(file).map_err(|e| format!("{}: {}", file.display(), e.message))?;
    if ivshmem::blank(&raw) {
        println!(
            "{}: {} bytes, not formatted yet (the first job or `vmpi-admin ivshmem create` formats it)",
            file.display(),
            raw.len()
        );
        return Ok(());
    }
    drop(raw);
    let d = Arc::new(Device::open(file).map_err(|e| e.message.clone())?);
    println!(
        "{}: IVSHMEM region {} of {} bytes, {} slot(s) of {} bytes",
        file.display(),
        ivshmem::uuid_text(&d.uuid),
        d.size(),
        d.slots,
        d.slot_size
    );
    let before = d.table();
    std::thread::sleep(Duration::from_millis(600));
    let after = d.table();
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if a.0 == 0 {
            println!("slot {i}: free");
        } else {
            let lease = if a.1 != b.1 {
                "alive (heartbeat moving)"
            } else {
                "heartbeat still: its job may be dead; a new job reclaims it after 5 s"
            };
            println!(
                "slot {i}: job {:016x}, {} rank(s), claimed from {}, {lease}",
                a.0, a.2, a.3
            );
        }
    }
    Ok(())
}

fn attach(q: &Path, file: &Path, id: &str, addr: Option<&str>) -> Result<(), String> {
    let size = std::fs::metadata(file)
        .map_err(|e| {
            format!(
                "{}: {e} (make it with `vmpi-admin ivshmem create`)",
                file.display()
            )
        })?
        .len();
    let mut qmp = Qmp::connect(q)?;
    let mem = format!("{id}-mem");
    let path: PathBuf = file
        .canonicalize()
        .map_err(|e| format!("{}: {e}", file.display()))?;
    qmp.cmd(
        "object-add",
        json!({ "qom-type": "memory-backend-file", "id": mem, "mem-path": path.display().to_string(),
                "size": size, "share": true }),
    )?;
    let mut dev = json!({ "driver": "ivshmem-plain", "id": id, "memdev": mem, "bus": "pci.0" });
    if let Some(a) = addr {
        dev["addr"] = json!(a);
    }
    if let Err(e) = qmp.cmd("device_add", dev) {
        let _ = qmp.cmd("object-del", json!({ "id": mem }));
        return Err(e);
    }
    println!("attached {} ({size} bytes) as device {id}", file.display());
    Ok(())
}

fn detach(q: &Path, id: &str) -> Result<(), String> {
    let mut qmp = Qmp::connect(q)?;
    qmp.cmd("device_del", json!({ "id": id }))?;
    // The guest must let go first (ACPI unplug); then the memory can go.
    qmp.wait_event("DEVICE_DELETED", Duration::from_secs(20), |d| {
        d["device"] == id
    })?;
    qmp.cmd("object-del", json!({ "id": format!("{id}-mem") }))?;
    println!("detached device {id}");
    Ok(())
}

fn list(q: &Path) -> Result<(), String> {
    let mut qmp = Qmp::connect(q)?;
    let buses = qmp.cmd("query-pci", json!({}))?;
    let mut n = 0;
    for bus in buses.as_array().into_iter().flatten() {
        for d in bus["devices"].as_array().into_iter().flatten() {
            let (v, dv) = (&d["id"]["vendor"], &d["id"]["device"]);
            if v == 0x1af4 && dv == 0x1110 {
                n += 1;
                let bar2 = d["regions"]
                    .as_array()
                    .and_then(|r| r.iter().find(|x| x["bar"] == 2))
                    .and_then(|x| x["size"].as_u64())
                    .unwrap_or(0);
                println!(
                    "{} at 00:{:02x}.{} ({bar2} bytes)",
                    d["qdev_id"].as_str().unwrap_or("?"),
                    d["slot"].as_u64().unwrap_or(0),
                    d["function"].as_u64().unwrap_or(0)
                );
            }
        }
    }
    if n == 0 {
        println!("no ivshmem device");
    }
    Ok(())
}
