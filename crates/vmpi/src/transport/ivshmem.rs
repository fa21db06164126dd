//! IVSHMEM: memory that co-resident VMs share (an `ivshmem-plain` PCI device,
//! vendor 0x1af4 device 0x1110: a host file that QEMU maps into each VM as BAR2,
//! `/sys/bus/pci/devices/<addr>/resource2` in the guest). This module owns the
//! device's layout and everything read from it (untrusted: another VM, another
//! job, or garbage may have written it):
//!
//! - finding the device (sysfs scan, or `MV2_VIRT_IVSHMEM_DEVICE`) and mapping it;
//! - the region header, written once by whoever finds the region blank (or by
//!   `vmpi-admin ivshmem create`): magic, layout version, size, a region UUID,
//!   the slot table's shape;
//! - the slot table: several jobs share one device, each in a slot it claims
//!   under the device lock, keyed by its job; the job's ranks keep the slot's
//!   heartbeat going (a thread), and a later job may reclaim a slot whose
//!   heartbeat stood still for [`STALE`] (a dead job must not block the device
//!   for ever; a live one is never taken: its heartbeat moves);
//! - a job's slot: each rank's nonce (the evidence that two ranks share the
//!   region: each must see the other's) and the queues, which are the shm
//!   channel's rings laid out in the slot (`ShmTransport::over`).
//!
//! Device layout (little endian): the [`DeviceHeader`] (the first [`HEADER`] bytes:
//! magic, version, shape, device lock, and the table of [`SlotEntry`]s), then the
//! slots, each a [`JobSlot`] (job key, nonces) with the job's queues from
//! [`RINGS_AT`]. Structs of atomics laid over the mapping ([`Region::view`]), their
//! offsets pinned by const assertions: VMs running different builds of this source
//! must agree on them byte for byte. Nothing here is hot: the lock and the
//! heartbeats move a few times a second at most, so the header keeps its
//! 64-byte entries (the queues, which are, are `super::inbox` layouts).

use super::region::{Alone, Overlay, Region};
use crate::error::{Error, ErrorClass, Result};
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAGIC: u64 = u64::from_le_bytes(*b"VMPIIV01");
/// The layout version: 2 since the queues in a slot keep their writers' words
/// 128 bytes apart (`inbox::Layout`).
pub const VERSION: u32 = 2;
/// The device header's bytes.
pub const HEADER: usize = size_of::<DeviceHeader>();
/// Most slots one header can describe.
pub const MAX_SLOTS: usize = 62;
/// World ranks a job may have to use IVSHMEM (one nonce word each).
pub const MAX_RANKS: usize = 4096;
/// Where a slot's queues begin: after its [`JobSlot`], on a page boundary.
pub const RINGS_AT: usize = size_of::<JobSlot>().next_multiple_of(4096);

/// The device header, written by whoever formats the region ([`format()`]).
#[repr(C)]
pub struct DeviceHeader {
    /// [`MAGIC`], stored last when formatting (release).
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub slots: AtomicU32,
    /// Bytes of the region.
    pub size: AtomicU64,
    pub uuid: [AtomicU64; 2],
    pub slot_size: AtomicU64,
    /// Offset of slot 0.
    pub first_slot: AtomicU64,
    /// 0 -> 1 by the one process that formats a blank region.
    pub format: AtomicU64,
    /// The device lock: 0 or its holder's random tag.
    pub lock: AtomicU64,
    /// Times the lock was taken.
    pub lock_gen: AtomicU64,
    pub table: Alone<[SlotEntry; MAX_SLOTS]>,
}

/// A slot's entry in the table: who holds the slot.
#[repr(C, align(64))]
pub struct SlotEntry {
    /// The job's key; 0: free.
    pub key: AtomicU64,
    /// Moved by every user of the slot five times a second.
    pub heartbeat: AtomicU64,
    /// Processes using the slot.
    pub users: AtomicU64,
    /// The claimer's host name, NUL-padded.
    pub host: [AtomicU64; 3],
    /// Times the slot was claimed.
    pub claims: AtomicU64,
}

/// The start of a job's slot; the queues follow at [`RINGS_AT`].
#[repr(C)]
pub struct JobSlot {
    /// The job's key (as in its table entry).
    pub key: AtomicU64,
    /// Each world rank's nonce (0: none yet).
    pub nonces: [AtomicU64; MAX_RANKS],
}

// SAFETY: repr(C), atomics only.
unsafe impl Overlay for DeviceHeader {}
// SAFETY: repr(C), atomics only.
unsafe impl Overlay for SlotEntry {}
// SAFETY: repr(C), atomics only.
unsafe impl Overlay for JobSlot {}

// The format of layout VERSION, shared by every VM's build.
const _: () = {
    assert!(offset_of!(DeviceHeader, magic) == 0);
    assert!(offset_of!(DeviceHeader, version) == 8);
    assert!(offset_of!(DeviceHeader, slots) == 12);
    assert!(offset_of!(DeviceHeader, size) == 16);
    assert!(offset_of!(DeviceHeader, uuid) == 24);
    assert!(offset_of!(DeviceHeader, slot_size) == 40);
    assert!(offset_of!(DeviceHeader, first_slot) == 48);
    assert!(offset_of!(DeviceHeader, format) == 56);
    assert!(offset_of!(DeviceHeader, lock) == 64);
    assert!(offset_of!(DeviceHeader, lock_gen) == 72);
    assert!(offset_of!(DeviceHeader, table) == 128);
    assert!(size_of::<DeviceHeader>() == 4096);
    assert!(offset_of!(SlotEntry, heartbeat) == 8);
    assert!(offset_of!(SlotEntry, users) == 16);
    assert!(offset_of!(SlotEntry, host) == 24);
    assert!(offset_of!(SlotEntry, claims) == 48);
    assert!(size_of::<SlotEntry>() == 64);
    assert!(offset_of!(JobSlot, nonces) == 8);
    assert!(RINGS_AT == 36864);
};

/// The header of a region of at least [`HEADER`] bytes (panics on a smaller one).
pub fn header(r: &Region) -> &DeviceHeader {
    r.view(0)
}

/// Whether the region is blank: large enough for a header, and no magic (never
/// formatted, or being formatted).
pub fn blank(r: &Region) -> bool {
    r.len() >= HEADER && header(r).magic.load(Ordering::Acquire) == 0
}
/// A slot whose heartbeat stands still this long belongs to a dead job.
pub const STALE: Duration = Duration::from_secs(if cfg!(test) { 1 } else { 5 });
/// How often a job's ranks beat a slot's heart.
const BEAT: Duration = Duration::from_millis(200);
/// A device lock held (unchanged) this long was left by a dead process.
const LOCK_STALE: Duration = Duration::from_secs(3);

/// PCI ids of QEMU's ivshmem devices.
pub const VENDOR: &str = "0x1af4";
pub const DEVICE: &str = "0x1110";

fn err(msg: String) -> Error {
    Error::new(ErrorClass::Other, msg)
}

/// The `resource2` files of every ivshmem device this system shows, in PCI order.
pub fn scan(sysfs: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(d) = std::fs::read_dir(sysfs.join("bus/pci/devices")) else {
        return out;
    };
    let mut names: Vec<PathBuf> = d.flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        let id = |f: &str| std::fs::read_to_string(p.join(f)).map(|s| s.trim().to_string());
        if id("vendor").is_ok_and(|v| v == VENDOR) && id("device").is_ok_and(|v| v == DEVICE) {
            out.push(p.join("resource2"));
        }
    }
    out
}

/// What `MV2_VIRT_IVSHMEM_DEVICE` names: a path (a `resource2` file, a PCI
/// device directory, or a host file standing in for a device), or a PCI address
/// (`0000:00:04.0` or `00:04.0`).
pub fn resolve(spec: &str, sysfs: &Path) -> PathBuf {
    let p = Path::new(spec);
    if spec.contains('/') {
        return if p.is_dir() {
            p.join("resource2")
        } else {
            p.to_path_buf()
        };
    }
    let addr = if spec.matches(':').count() == 1 {
        format!("0000:{spec}")
    } else {
        spec.to_string()
    };
    sysfs.join("bus/pci/devices").join(addr).join("resource2")
}

/// The slots this rank takes for job `key` on the devices the parameters say:
/// `device` (`MV2_VIRT_IVSHMEM_DEVICE`) or every device found; none when `use_`
/// (`MV2_VIRT_USE_IVSHMEM`) is Some(false), an error when it is Some(true) and
/// there is no device.
pub fn join_all(use_: Option<bool>, device: Option<&str>, key: u64) -> Result<Vec<Slot>> {
    if use_ == Some(false) {
        return Ok(Vec::new());
    }
    let sysfs = Path::new("/sys");
    let paths = match device {
        Some(d) => vec![resolve(d, sysfs)],
        None => scan(sysfs),
    };
    if paths.is_empty() {
        if use_ == Some(true) {
            return Err(err(
                "MV2_VIRT_USE_IVSHMEM=1 but this VM has no IVSHMEM device (PCI 1af4:1110 under /sys/bus/pci/devices): attach one (`vmpi-admin ivshmem attach`, or QEMU -device ivshmem-plain), or set MV2_VIRT_USE_IVSHMEM=0".into(),
            ));
        }
        return Ok(Vec::new());
    }
    let mut slots = Vec::new();
    for p in paths.iter().take(4) {
        let d = Arc::new(Device::open(p)?);
        slots.push(d.join(key)?);
    }
    Ok(slots)
}

/// A mapped IVSHMEM region with a checked header.
pub struct Device {
    region: Arc<Region>,
    path: PathBuf,
    pub uuid: [u8; 16],
    pub slots: usize,
    pub slot_size: usize,
    first_slot: usize,
}

/// The slot layout `vmpi-admin ivshmem create` and a first user choose for a
/// region of `size` bytes: `slots` slots (default: one per 4 MiB, 1 to 8).
pub fn layout(size: usize, slots: Option<usize>) -> Result<(usize, usize)> {
    let n = slots.unwrap_or((size / (4 << 20)).clamp(1, 8));
    if n == 0 || n > MAX_SLOTS {
        return Err(err(format!("IVSHMEM: {n} slots (1 to {MAX_SLOTS})")));
    }
    let slot = (size.saturating_sub(HEADER) / n) & !4095;
    if slot < RINGS_AT + 64 * 1024 {
        return Err(err(format!(
            "IVSHMEM: a region of {size} bytes has no room for {n} slot(s) (each needs at least {} bytes)",
            RINGS_AT + 64 * 1024
        )));
    }
    Ok((n, slot))
}

impl Device {
    /// Map the region at `path` (a device's `resource2`, or a host file), format
    /// it if it is blank, and check its header.
    pub fn open(path: &Path) -> Result<Device> {
        let region = Region::map_file(path).map_err(|e| {
            if e.errno() == Some(nix::errno::Errno::EACCES as i32) {
                err(format!(
                    "cannot open the IVSHMEM device {}: permission denied; run the ranks as root, or give their user the device (chmod/chown {} in the guest, e.g. from a udev rule), or set MV2_VIRT_USE_IVSHMEM=0",
                    path.display(),
                    path.display()
                ))
            } else {
                err(format!("cannot use the IVSHMEM device {}: {}", path.display(), e.message))
            }
        })?;
        if region.len() < HEADER * 2 {
            return Err(err(format!(
                "IVSHMEM device {} is only {} bytes",
                path.display(),
                region.len()
            )));
        }
        let d = Device::checked(region, path)?;
        Ok(d)
    }

    /// Format a blank region (format word 0 -> 1 -> magic), or wait for the VM
    /// formatting it; then read and check the header.
    fn checked(region: Arc<Region>, path: &Path) -> Result<Device> {
        let len = region.len();
        let h = header(&region);
        let magic = &h.magic;
        if magic.load(Ordering::Acquire) == 0
            && h.format
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let (slots, slot_size) = layout(len, None)?;
            format(&region, slots, slot_size, random_uuid());
        }
        let start = Instant::now();
        loop {
            match magic.load(Ordering::Acquire) {
                MAGIC => break,
                0 if start.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                0 => {
                    return Err(err(format!(
                        "IVSHMEM device {}: its region was being formatted by a process that stopped (or holds garbage): reformat it with `vmpi-admin ivshmem create`",
                        path.display()
                    )))
                }
                m => {
                    return Err(err(format!(
                        "IVSHMEM device {}: not a vmpi region (it starts with {:?}): another program uses the device, or it is corrupt; reformat it with `vmpi-admin ivshmem create --force` if it is yours",
                        path.display(),
                        String::from_utf8_lossy(&m.to_le_bytes())
                    )))
                }
            }
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(err(format!(
                "IVSHMEM device {}: its region has layout version {version}, this vmpi speaks {VERSION}: use one vmpi version on all VMs, or reformat it with `vmpi-admin ivshmem create --force`",
                path.display()
            )));
        }
        let slots = h.slots.load(Ordering::Relaxed) as usize;
        let size = h.size.load(Ordering::Relaxed) as usize;
        if size != len {
            return Err(err(format!(
                "IVSHMEM device {}: the region header says {size} bytes but this VM maps {len}: the VMs' devices have different sizes; give every VM's memory-backend-file the same size",
                path.display()
            )));
        }
        let mut uuid = [0u8; 16];
        for (b, w) in uuid.chunks_exact_mut(8).zip(&h.uuid) {
            b.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let slot_size = h.slot_size.load(Ordering::Relaxed) as usize;
        let first_slot = h.first_slot.load(Ordering::Relaxed) as usize;
        let fits = (1..=MAX_SLOTS).contains(&slots)
            && first_slot >= HEADER
            && slot_size >= RINGS_AT
            && slot_size.is_multiple_of(4096)
            && first_slot
                .checked_add(slots.saturating_mul(slot_size))
                .is_some_and(|e| e <= len);
        if !fits {
            return Err(err(format!(
                "IVSHMEM device {}: its region header is corrupt ({slots} slots of {slot_size} bytes from {first_slot} in {len}); reformat it with `vmpi-admin ivshmem create --force`",
                path.display()
            )));
        }
        Ok(Device {
            region,
            path: path.to_path_buf(),
            uuid,
            slots,
            slot_size,
            first_slot,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> usize {
        self.region.len()
    }

    pub fn region(&self) -> &Arc<Region> {
        &self.region
    }

    fn entry(&self, i: usize) -> &SlotEntry {
        &header(&self.region).table.0[i]
    }

    /// The start of slot `i` (checked against the mapping when the device opened).
    fn job_slot(&self, i: usize) -> &JobSlot {
        self.region.view(self.first_slot + i * self.slot_size)
    }

    /// The slot table as it stands (for `vmpi-admin ivshmem status`): job key,
    /// heartbeat, users and claimer's host of each slot.
    pub fn table(&self) -> Vec<(u64, u64, u32, String)> {
        (0..self.slots)
            .map(|i| {
                let e = self.entry(i);
                let host: Vec<u8> = e
                    .host
                    .iter()
                    .flat_map(|w| w.load(Ordering::Acquire).to_le_bytes())
                    .collect();
                let host = String::from_utf8_lossy(&host)
                    .trim_end_matches('\0')
                    .to_string();
                (
                    e.key.load(Ordering::Acquire),
                    e.heartbeat.load(Ordering::Acquire),
                    e.users.load(Ordering::Acquire) as u32,
                    host,
                )
            })
            .collect()
    }

    /// Take the device lock (a word all VMs' processes CAS); a holder that leaves
    /// it unchanged for [`LOCK_STALE`] died holding it and is overruled.
    fn lock(&self) -> Result<LockGuard<'_>> {
        let me = random_u64() | 1;
        let word = &header(&self.region).lock;
        let (mut seen, mut since) = (word.load(Ordering::Acquire), Instant::now());
        loop {
            let cur = word.load(Ordering::Acquire);
            if cur == 0 {
                if word
                    .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    break;
                }
                continue;
            }
            if cur != seen {
                (seen, since) = (cur, Instant::now());
            } else if since.elapsed() > LOCK_STALE
                && word
                    .compare_exchange(cur, me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        header(&self.region).lock_gen.fetch_add(1, Ordering::AcqRel);
        Ok(LockGuard { word, me })
    }

    /// The slot of job `key` (claimed by one of its ranks already, or now): a
    /// free one, else one whose job is dead (its heartbeat stood still for
    /// [`STALE`]). Starts this rank's heartbeat on it.
    pub fn join(self: &Arc<Self>, key: u64) -> Result<Slot> {
        if key == 0 {
            return Err(Error::intern("IVSHMEM job key 0"));
        }
        let host = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut watched: Option<(Instant, Vec<u64>)> = None;
        loop {
            {
                let _g = self.lock()?;
                let mut free = None;
                for i in 0..self.slots {
                    let e = self.entry(i);
                    let owner = e.key.load(Ordering::Acquire);
                    if owner == key {
                        e.users.fetch_add(1, Ordering::AcqRel);
                        return Ok(self.slot(i, key));
                    }
                    if owner == 0 && free.is_none() {
                        free = Some(i);
                    }
                }
                // After watching every slot for STALE: the ones whose heartbeat
                // did not move belong to dead jobs.
                if free.is_none() {
                    if let Some((t, beats)) = &watched {
                        if t.elapsed() >= STALE {
                            free = (0..self.slots).find(|&i| {
                                self.entry(i).heartbeat.load(Ordering::Acquire) == beats[i]
                            });
                        }
                    }
                }
                if let Some(i) = free {
                    let e = self.entry(i);
                    let base = self.first_slot + i * self.slot_size;
                    // nothing of an earlier job may count: its nonces, its queues
                    self.region.write_bytes(base, &vec![0u8; self.slot_size]);
                    self.job_slot(i).key.store(key, Ordering::Relaxed);
                    e.heartbeat.fetch_add(1, Ordering::AcqRel);
                    e.users.store(1, Ordering::Relaxed);
                    let mut h = [0u8; 24];
                    let hb = host.as_bytes();
                    h[..hb.len().min(23)].copy_from_slice(&hb[..hb.len().min(23)]);
                    for (w, b) in e.host.iter().zip(h.chunks_exact(8)) {
                        w.store(
                            u64::from_le_bytes(b.try_into().expect("8 bytes")),
                            Ordering::Relaxed,
                        );
                    }
                    e.claims.fetch_add(1, Ordering::AcqRel);
                    e.key.store(key, Ordering::Release);
                    return Ok(self.slot(i, key));
                }
                if watched.as_ref().is_some_and(|(t, _)| t.elapsed() >= STALE) {
                    return Err(err(format!(
                        "IVSHMEM device {}: all {} slots are in use by running jobs (see `vmpi-admin ivshmem status`); wait, or give the VMs a larger device",
                        self.path.display(),
                        self.slots
                    )));
                }
                if watched.is_none() {
                    let beats = (0..self.slots)
                        .map(|i| self.entry(i).heartbeat.load(Ordering::Acquire))
                        .collect();
                    watched = Some((Instant::now(), beats));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn slot(self: &Arc<Self>, index: usize, key: u64) -> Slot {
        let stop = Arc::new(AtomicBool::new(false));
        let (dev, s) = (self.clone(), stop.clone());
        let beat = std::thread::Builder::new()
            .name("vmpi-ivshmem-heartbeat".into())
            .spawn(move || heartbeat(dev, index, key, s))
            .ok();
        Slot {
            dev: self.clone(),
            index,
            key,
            stop,
            beat,
        }
    }
}

/// Keep slot `index` alive for job `key` until told to stop; a job whose slot
/// was taken (it looked dead: a VM paused past STALE) stops at once: another
/// job writes there now.
fn heartbeat(dev: Arc<Device>, index: usize, key: u64, stop: Arc<AtomicBool>) {
    let e = dev.entry(index);
    while !stop.load(Ordering::Acquire) {
        if e.key.load(Ordering::Acquire) != key {
            eprintln!(
                "vmpi: IVSHMEM slot {index} of {} was taken by another job (this job looked dead for {} s: was its VM paused?); stopping",
                dev.path.display(),
                STALE.as_secs()
            );
            std::process::exit(1);
        }
        e.heartbeat.fetch_add(1, Ordering::AcqRel);
        std::thread::sleep(BEAT);
    }
}

struct LockGuard<'a> {
    word: &'a AtomicU64,
    me: u64,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self
            .word
            .compare_exchange(self.me, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Write a fresh header into a region of at least [`HEADER`] bytes (blank, or
/// being reformatted: its magic goes first, so no opener trusts a half-written
/// header).
pub fn format(r: &Region, slots: usize, slot_size: usize, uuid: [u8; 16]) {
    let h = header(r);
    h.magic.store(0, Ordering::Release);
    h.version.store(VERSION, Ordering::Relaxed);
    h.slots.store(slots as u32, Ordering::Relaxed);
    h.size.store(r.len() as u64, Ordering::Relaxed);
    for (w, b) in h.uuid.iter().zip(uuid.chunks_exact(8)) {
        w.store(
            u64::from_le_bytes(b.try_into().expect("8 bytes")),
            Ordering::Relaxed,
        );
    }
    h.slot_size.store(slot_size as u64, Ordering::Relaxed);
    h.first_slot.store(HEADER as u64, Ordering::Relaxed);
    h.lock.store(0, Ordering::Relaxed);
    for e in &h.table.0 {
        for w in [&e.key, &e.heartbeat, &e.users, &e.claims]
            .into_iter()
            .chain(&e.host)
        {
            w.store(0, Ordering::Relaxed);
        }
    }
    h.magic.store(MAGIC, Ordering::Release);
}

/// A job's slot on a device: its nonces and queues. Dropping it stops the
/// heartbeat and gives the slot back when this was the last user.
pub struct Slot {
    dev: Arc<Device>,
    pub index: usize,
    key: u64,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

impl Slot {
    pub fn device(&self) -> &Arc<Device> {
        &self.dev
    }

    /// The offset of the slot's queues in the region, and their room in bytes.
    pub fn rings(&self) -> (usize, usize) {
        let base = self.dev.first_slot + self.index * self.dev.slot_size;
        (base + RINGS_AT, self.dev.slot_size - RINGS_AT)
    }

    /// Publish this rank's nonce.
    pub fn write_nonce(&self, rank: usize, nonce: u64) -> Result<()> {
        if rank >= MAX_RANKS {
            return Err(err(format!(
                "IVSHMEM: world rank {rank} is past the {MAX_RANKS} ranks a slot describes"
            )));
        }
        self.dev.job_slot(self.index).nonces[rank].store(nonce, Ordering::Release);
        Ok(())
    }

    /// The nonce `rank` published here (0: none).
    pub fn nonce(&self, rank: usize) -> u64 {
        let s = self.dev.job_slot(self.index);
        if rank >= MAX_RANKS || s.key.load(Ordering::Acquire) != self.key {
            return 0;
        }
        s.nonces[rank].load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(b) = self.beat.take() {
            let _ = b.join();
        }
        let e = self.dev.entry(self.index);
        if let Ok(_g) = self.dev.lock() {
            if e.key.load(Ordering::Acquire) == self.key {
                let left = e.users.fetch_sub(1, Ordering::AcqRel).saturating_sub(1);
                if left == 0 {
                    e.key.store(0, Ordering::Release);
                }
            }
        }
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(v) = std::fs::read("/proc/sys/kernel/random/uuid") {
        b.copy_from_slice(&crate::bootstrap::jobkey::fnv64(&v).to_le_bytes());
    }
    u64::from_le_bytes(b) ^ crate::bootstrap::nanos().rotate_left(23) ^ std::process::id() as u64
}

fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    u[..8].copy_from_slice(&random_u64().to_le_bytes());
    u[8..].copy_from_slice(&random_u64().rotate_left(7).to_le_bytes());
    u
}

/// A UUID as text (8-4-4-4-12 hex).
pub fn uuid_text(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn blank(tag: &str, size: usize) -> PathBuf {
        let p = PathBuf::from(format!("/dev/shm/vmpi-ivtest-{tag}-{}", std::process::id()));
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(size as u64).unwrap();
        p
    }

    #[test]
    fn format_claim_share_and_release() {
        let p = blank("claim", 16 << 20);
        let d = Arc::new(Device::open(&p).unwrap());
        assert_eq!((d.slots, d.size()), (4, 16 << 20));
        // a second opener (another VM) sees the same header
        let d2 = Arc::new(Device::open(&p).unwrap());
        assert_eq!(d2.uuid, d.uuid);
        let a = d.join(7).unwrap();
        let b = d2.join(7).unwrap();
        assert_eq!(a.index, b.index, "one slot per job");
        let other = d.join(9).unwrap();
        assert_ne!(other.index, a.index);
        a.write_nonce(3, 0xabc).unwrap();
        assert_eq!(b.nonce(3), 0xabc);
        assert_eq!(b.nonce(4), 0);
        assert_eq!(d.table()[a.index].2, 2);
        drop(a);
        assert_eq!(d.table()[b.index].0, 7, "still held by the other user");
        drop(b);
        assert_eq!(d.table()[other.index].0, 9);
        let idx = other.index;
        drop(other);
        assert!(
            d.table().iter().all(|s| s.0 == 0),
            "{:?} (slot {idx})",
            d.table()
        );
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_dead_jobs_slot_is_reclaimed_a_live_ones_never() {
        let p = blank("stale", 4 << 20);
        let d = Arc::new(Device::open(&p).unwrap());
        assert_eq!(d.slots, 1);
        // a job that died: owner set, heartbeat still (no thread)
        let e = &header(d.region()).table.0[0];
        e.key.store(5, Ordering::Release);
        e.users.store(1, Ordering::Release);
        let t = Instant::now();
        let s = d.join(6).unwrap();
        assert!(t.elapsed() >= STALE, "reclaimed only after watching it");
        assert_eq!(s.nonce(0), 0);
        // a live job (heartbeat moving): the device is full
        let e = d.join(8).err().expect("a live job's slot is not taken");
        assert!(
            e.message.contains("all 1 slots are in use"),
            "{}",
            e.message
        );
        drop(s);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn bad_regions_are_clear_errors() {
        let p = blank("bad", 4 << 20);
        std::fs::write(&p, vec![b'x'; 4 << 20]).unwrap();
        let e = Device::open(&p).err().unwrap();
        assert!(e.message.contains("not a vmpi region"), "{}", e.message);
        // formatted for 8 MiB, mapped at 4: different sizes between VMs
        let r = Region::map_file(&p).unwrap();
        let h = header(&r);
        h.format.store(0, Ordering::Relaxed);
        format(&r, 1, layout(4 << 20, None).unwrap().1, [1; 16]);
        h.size.store(8 << 20, Ordering::Relaxed);
        let e = Device::open(&p).err().unwrap();
        assert!(
            e.message
                .contains("says 8388608 bytes but this VM maps 4194304"),
            "{}",
            e.message
        );
        h.size.store(4 << 20, Ordering::Relaxed);
        h.version.store(VERSION + 1, Ordering::Relaxed);
        let e = Device::open(&p).err().unwrap();
        assert!(
            e.message
                .contains(&format!("layout version {}", VERSION + 1)),
            "{}",
            e.message
        );
        h.version.store(VERSION, Ordering::Relaxed);
        h.slots.store(60, Ordering::Relaxed);
        let e = Device::open(&p).err().unwrap();
        assert!(e.message.contains("header is corrupt"), "{}", e.message);
        drop(r);
        std::fs::remove_file(&p).unwrap();
        assert!(layout(256 << 10, Some(4)).is_err());
        assert!(layout(1 << 20, Some(0)).is_err());
        assert!(Device::open(Path::new("/nonexistent/resource2")).is_err());
    }

    #[test]
    fn device_names() {
        let sys = Path::new("/sys");
        assert_eq!(
            resolve("00:04.0", sys),
            Path::new("/sys/bus/pci/devices/0000:00:04.0/resource2")
        );
        assert_eq!(
            resolve("0000:00:05.0", sys),
            Path::new("/sys/bus/pci/devices/0000:00:05.0/resource2")
        );
        assert_eq!(resolve("/dev/shm/x", sys), Path::new("/dev/shm/x"));
        assert_eq!(uuid_text(&[0xab; 16]).len(), 36);
    }
}
