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
//! Device layout (little endian):
//! ```text
//! 0     magic "VMPIIV01" (written last when formatting)   8  layout version u32
//! 12    slot count u32          16 region size u64         24 region UUID [16]
//! 40    slot size u64           48 first slot offset u64   56 format word u64
//! 64    device lock u64         72 lock generation u64
//! 128+64i  slot entry i: job key u64 (0: free) · heartbeat u64 · users u32 ·
//!          pad u32 · claimer's host name [24] · claim generation u64
//! first slot + i * slot size: slot i: job key u64 · nonces [u64; MAX_RANKS]
//!          at +8 · rings from +RINGS_AT
//! ```

use super::region::Region;
use crate::error::{Error, ErrorClass, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAGIC: u64 = u64::from_le_bytes(*b"VMPIIV01");
pub const VERSION: u32 = 1;
/// The device header's bytes.
pub const HEADER: usize = 4096;
const SLOT_TABLE: usize = 128;
const SLOT_ENTRY: usize = 64;
/// Most slots one header can describe.
pub const MAX_SLOTS: usize = (HEADER - SLOT_TABLE) / SLOT_ENTRY;
/// World ranks a job may have to use IVSHMEM (one nonce word each).
pub const MAX_RANKS: usize = 4096;
/// Where a slot's queues begin.
pub const RINGS_AT: usize = 8 + MAX_RANKS * 8 + 4096 - (8 + MAX_RANKS * 8) % 4096;
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
        let magic = region.word(0);
        let fmt = region.word(56);
        if magic.load(Ordering::Acquire) == 0
            && fmt
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
        let version = region.word(8).load(Ordering::Relaxed) as u32;
        if version != VERSION {
            return Err(err(format!(
                "IVSHMEM device {}: its region has layout version {version}, this vmpi speaks {VERSION}: use one vmpi version on all VMs, or reformat it with `vmpi-admin ivshmem create --force`",
                path.display()
            )));
        }
        let slots = (region.word(8).load(Ordering::Relaxed) >> 32) as usize;
        let size = region.word(16).load(Ordering::Relaxed) as usize;
        if size != len {
            return Err(err(format!(
                "IVSHMEM device {}: the region header says {size} bytes but this VM maps {len}: the VMs' devices have different sizes; give every VM's memory-backend-file the same size",
                path.display()
            )));
        }
        let mut uuid = [0u8; 16];
        region.read_bytes(24, &mut uuid);
        let slot_size = region.word(40).load(Ordering::Relaxed) as usize;
        let first_slot = region.word(48).load(Ordering::Relaxed) as usize;
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

    fn entry(&self, i: usize) -> usize {
        SLOT_TABLE + i * SLOT_ENTRY
    }

    /// The slot table as it stands (for `vmpi-admin ivshmem status`): job key,
    /// heartbeat, users and claimer's host of each slot.
    pub fn table(&self) -> Vec<(u64, u64, u32, String)> {
        (0..self.slots)
            .map(|i| {
                let e = self.entry(i);
                let mut host = [0u8; 24];
                self.region.read_bytes(e + 24, &mut host);
                let host = String::from_utf8_lossy(&host)
                    .trim_end_matches('\0')
                    .to_string();
                (
                    self.region.word(e).load(Ordering::Acquire),
                    self.region.word(e + 8).load(Ordering::Acquire),
                    self.region.word(e + 16).load(Ordering::Acquire) as u32,
                    host,
                )
            })
            .collect()
    }

    /// Take the device lock (a word all VMs' processes CAS); a holder that leaves
    /// it unchanged for [`LOCK_STALE`] died holding it and is overruled.
    fn lock(&self) -> Result<LockGuard<'_>> {
        let me = random_u64() | 1;
        let word = self.region.word(64);
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
        self.region.word(72).fetch_add(1, Ordering::AcqRel);
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
                    let owner = self.region.word(e).load(Ordering::Acquire);
                    if owner == key {
                        self.region.word(e + 16).fetch_add(1, Ordering::AcqRel);
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
                                self.region.word(self.entry(i) + 8).load(Ordering::Acquire)
                                    == beats[i]
                            });
                        }
                    }
                }
                if let Some(i) = free {
                    let e = self.entry(i);
                    let base = self.first_slot + i * self.slot_size;
                    // nothing of an earlier job may count: its nonces, its queues
                    self.region.write_bytes(base, &vec![0u8; self.slot_size]);
                    self.region.word(base).store(key, Ordering::Relaxed);
                    self.region.word(e + 8).fetch_add(1, Ordering::AcqRel);
                    self.region.word(e + 16).store(1, Ordering::Relaxed);
                    let mut h = [0u8; 24];
                    let hb = host.as_bytes();
                    h[..hb.len().min(23)].copy_from_slice(&hb[..hb.len().min(23)]);
                    self.region.write_bytes(e + 24, &h);
                    self.region.word(e + 48).fetch_add(1, Ordering::AcqRel);
                    self.region.word(e).store(key, Ordering::Release);
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
                        .map(|i| self.region.word(self.entry(i) + 8).load(Ordering::Acquire))
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
            base: self.first_slot + index * self.slot_size,
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
        if dev.region.word(e).load(Ordering::Acquire) != key {
            eprintln!(
                "vmpi: IVSHMEM slot {index} of {} was taken by another job (this job looked dead for {} s: was its VM paused?); stopping",
                dev.path.display(),
                STALE.as_secs()
            );
            std::process::exit(1);
        }
        dev.region.word(e + 8).fetch_add(1, Ordering::AcqRel);
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

/// Write a fresh header into a region (blank, or being reformatted).
pub fn format(r: &Region, slots: usize, slot_size: usize, uuid: [u8; 16]) {
    r.word(8)
        .store(VERSION as u64 | (slots as u64) << 32, Ordering::Relaxed);
    r.word(16).store(r.len() as u64, Ordering::Relaxed);
    r.write_bytes(24, &uuid);
    r.word(40).store(slot_size as u64, Ordering::Relaxed);
    r.word(48).store(HEADER as u64, Ordering::Relaxed);
    r.word(64).store(0, Ordering::Relaxed);
    r.write_bytes(SLOT_TABLE, &vec![0u8; MAX_SLOTS * SLOT_ENTRY]);
    r.word(0).store(MAGIC, Ordering::Release);
}

/// A job's slot on a device: its nonces and queues. Dropping it stops the
/// heartbeat and gives the slot back when this was the last user.
pub struct Slot {
    dev: Arc<Device>,
    pub index: usize,
    key: u64,
    base: usize,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

impl Slot {
    pub fn device(&self) -> &Arc<Device> {
        &self.dev
    }

    /// The offset of the slot's queues in the region, and their room in bytes.
    pub fn rings(&self) -> (usize, usize) {
        (self.base + RINGS_AT, self.dev.slot_size - RINGS_AT)
    }

    /// Publish this rank's nonce.
    pub fn write_nonce(&self, rank: usize, nonce: u64) -> Result<()> {
        if rank >= MAX_RANKS {
            return Err(err(format!(
                "IVSHMEM: world rank {rank} is past the {MAX_RANKS} ranks a slot describes"
            )));
        }
        self.dev
            .region
            .word(self.base + 8 + 8 * rank)
            .store(nonce, Ordering::Release);
        Ok(())
    }

    /// The nonce `rank` published here (0: none).
    pub fn nonce(&self, rank: usize) -> u64 {
        if rank >= MAX_RANKS || self.dev.region.word(self.base).load(Ordering::Acquire) != self.key
        {
            return 0;
        }
        self.dev
            .region
            .word(self.base + 8 + 8 * rank)
            .load(Ordering::Acquire)
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
            let r = &self.dev.region;
            if r.word(e).load(Ordering::Acquire) == self.key {
                let left = r
                    .word(e + 16)
                    .fetch_sub(1, Ordering::AcqRel)
                    .saturating_sub(1);
                if left == 0 {
                    r.word(e).store(0, Ordering::Release);
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
        let r = d.region();
        r.word(SLOT_TABLE).store(5, Ordering::Release);
        r.word(SLOT_TABLE + 16).store(1, Ordering::Release);
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
        r.word(0).store(0, Ordering::Relaxed);
        r.word(56).store(0, Ordering::Relaxed);
        format(&r, 1, layout(4 << 20, None).unwrap().1, [1; 16]);
        r.word(16).store(8 << 20, Ordering::Relaxed);
        let e = Device::open(&p).err().unwrap();
        assert!(
            e.message
                .contains("says 8388608 bytes but this VM maps 4194304"),
            "{}",
            e.message
        );
        r.word(16).store(4 << 20, Ordering::Relaxed);
        r.word(8).store(2 | 1 << 32, Ordering::Relaxed);
        let e = Device::open(&p).err().unwrap();
        assert!(e.message.contains("layout version 2"), "{}", e.message);
        r.word(8).store(1 | 60 << 32, Ordering::Relaxed);
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
