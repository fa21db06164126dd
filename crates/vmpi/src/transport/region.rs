//! Shared-memory regions: a file in /dev/shm mapped by every rank of one shm domain.
//! This module owns the file's life (exclusive create, attach, early unlink), the
//! header check (magic, version, size, job) and every raw pointer into the mapping;
//! everything above it gets bounds-checked accessors: byte copies, and
//! [`Region::view`], which lays a `#[repr(C)]` struct of atomics ([`Overlay`]) over
//! the mapping, so that layouts are types with pinned sizes and offsets, not byte
//! arithmetic.
//!
//! The region's header is [`Header`], the first [`HEADER_BYTES`] of the region.

use super::inbox::{self, InboxMem};
use super::PayloadRef;
use crate::error::{Error, Result};
use nix::fcntl::OFlag;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use nix::sys::stat::Mode;
use std::ffi::c_void;
use std::mem::{align_of, offset_of, size_of};
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const MAGIC: u64 = u64::from_le_bytes(*b"VMPISHM1");
/// The layout version: 3 since inboxes and collective control blocks keep the
/// words of different writers 128 bytes apart.
pub const VERSION: u32 = 3;
pub const HEADER_BYTES: usize = size_of::<Header>();
/// Most members one region header can list.
pub const MAX_MEMBERS: usize = 1008;

/// Types that may be laid over shared memory with [`Region::view`]: every field an
/// atomic integer (or an array or struct of them), so whatever bytes a peer wrote
/// are a valid value, and a `&T` stays sound while other processes write the
/// memory: all access through it is atomic.
///
/// # Safety
/// Implement only for `#[repr(C)]` types whose fields are all `Overlay` (padding
/// aside), with an alignment of at most 4096 (the mapping's page alignment).
pub unsafe trait Overlay {}
// SAFETY: an atomic integer: any bit pattern is a value; access is atomic.
unsafe impl Overlay for AtomicU64 {}
// SAFETY: as for AtomicU64.
unsafe impl Overlay for AtomicU32 {}
// SAFETY: as for AtomicU64.
unsafe impl Overlay for AtomicU8 {}
// SAFETY: an array of Overlay elements has no other bytes.
unsafe impl<T: Overlay, const N: usize> Overlay for [T; N] {}
// SAFETY: a repr(C) wrapper of one Overlay field and padding.
unsafe impl<T: Overlay> Overlay for Alone<T> {}

/// A value alone on a 128-byte line pair. The adjacent-line prefetcher fetches
/// 64-byte lines in pairs, so words that different cores write (or one core writes
/// while others poll) must lie 128 bytes apart, or every store also takes the
/// other's line away.
#[repr(C, align(128))]
pub struct Alone<T>(pub T);

/// The region's header. The creator writes it, `magic` last (release); attachers
/// check it; after that only `attached` changes.
#[repr(C)]
pub struct Header {
    /// [`MAGIC`] once the rest is written.
    magic: AtomicU64,
    version: AtomicU32,
    /// Entries of `ranks` in use.
    members: AtomicU32,
    /// Bytes of the whole region.
    size: AtomicU64,
    job_check: AtomicU64,
    /// [`RegionInfo::unit`].
    unit: AtomicU64,
    /// Members attached so far, the creator included.
    attached: AtomicU32,
    /// Member world ranks in member order, from byte 64.
    ranks: Ranks,
}

#[repr(C, align(64))]
struct Ranks([AtomicU32; MAX_MEMBERS]);

// SAFETY: repr(C), atomics only.
unsafe impl Overlay for Header {}

// The header is the same bytes in every process of every vmpi build speaking
// VERSION: these offsets are the format.
const _: () = {
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, version) == 8);
    assert!(offset_of!(Header, members) == 12);
    assert!(offset_of!(Header, size) == 16);
    assert!(offset_of!(Header, job_check) == 24);
    assert!(offset_of!(Header, unit) == 32);
    assert!(offset_of!(Header, attached) == 40);
    assert!(offset_of!(Header, ranks) == 64);
    assert!(size_of::<Header>() == 4096 && align_of::<Header>() == 64);
    assert!(size_of::<Alone<AtomicU64>>() == 128 && align_of::<Alone<AtomicU64>>() == 128);
};

/// What a region's header says; the creator writes it, attachers check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    pub size: usize,
    pub job_check: u64,
    /// The layout's unit: inbox data bytes (shm channel) or slot bytes (collective area).
    pub unit: u64,
    pub members: Vec<u32>,
}

/// A mapped region. Unmapped on drop.
pub struct Region {
    base: NonNull<c_void>,
    len: usize,
    path: PathBuf,
    info: RegionInfo,
}

// SAFETY: the mapping is plain shared memory; all access through it goes through
// atomics or byte copies, which are valid from any thread.
unsafe impl Send for Region {}
// SAFETY: as above; &Region only hands out atomics and copying accessors.
unsafe impl Sync for Region {}

fn map(fd: &OwnedFd, len: usize) -> Result<NonNull<c_void>> {
    let n = NonZeroUsize::new(len).ok_or_else(|| Error::intern("empty region"))?;
    // SAFETY: mapping a file we opened, shared, with no fixed address: it cannot alias
    // any existing Rust object.
    unsafe {
        mmap(
            None,
            n,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            fd,
            0,
        )
    }
    .map_err(|e| Error::other(format!("mmap of shared-memory region ({len} bytes): {e}")))
}

impl Region {
    /// Create `path` exclusively, size it, map it and write the header. The file is
    /// built under a temporary name beside `path` (same job prefix, so the
    /// launcher's cleanup finds it) and linked to `path` only when whole: on a
    /// file system where fallocate grows the size in steps (ext4 in a
    /// `VMPI_SHM_DIR` on disk), a peer never sees a partial file.
    pub fn create(path: &Path, info: RegionInfo) -> Result<Arc<Region>> {
        if info.members.len() > MAX_MEMBERS || info.size < HEADER_BYTES {
            return Err(Error::intern("region header cannot describe this domain"));
        }
        let tmp = {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".{}.part", std::process::id()));
            path.with_file_name(name)
        };
        let fd = nix::fcntl::open(
            &tmp,
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| {
            Error::other(format!(
                "cannot create shared-memory file {}: {e}",
                tmp.display()
            ))
        })?;
        // SAFETY: open() returned a fresh descriptor that nothing else owns.
        let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        let r = Self::build(&fd, &tmp, path, info);
        // Published (a hard link fails if `path` exists, as O_EXCL did) or not,
        // the temporary name goes.
        let r = r.and_then(|r| {
            let linked = match std::fs::hard_link(&tmp, path) {
                // A file system without hard links: a rename publishes it whole
                // too (the name holds a per-job nonce, so nothing is replaced).
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP)) => {
                    std::fs::rename(&tmp, path)
                }
                other => other,
            };
            linked.map_err(|e| {
                Error::other(format!(
                    "cannot create shared-memory file {}: {e}",
                    path.display()
                ))
            })?;
            Ok(r)
        });
        let _ = std::fs::remove_file(&tmp);
        r
    }

    /// Size `fd` (the file at `tmp`), map it and write the header of a region
    /// that will live at `path`.
    fn build(fd: &OwnedFd, tmp: &Path, path: &Path, info: RegionInfo) -> Result<Arc<Region>> {
        // posix_fallocate reserves the pages now, so a full /dev/shm is an error here
        // and not a SIGBUS later.
        if let Err(e) =
            nix::fcntl::posix_fallocate(std::os::fd::AsRawFd::as_raw_fd(fd), 0, info.size as i64)
        {
            let dir = path.parent().unwrap_or(Path::new("/dev/shm"));
            return Err(Error::other(format!(
                "cannot reserve {} bytes in {}: {e}; free space in {} or set VMPI_SHM_RING_SIZE smaller",
                info.size,
                tmp.display(),
                dir.display()
            )));
        }
        let base = map(fd, info.size)?;
        let r = Region {
            base,
            len: info.size,
            path: path.to_path_buf(),
            info: info.clone(),
        };
        let h = r.header();
        h.version.store(VERSION, Ordering::Relaxed);
        h.members
            .store(info.members.len() as u32, Ordering::Relaxed);
        h.size.store(info.size as u64, Ordering::Relaxed);
        h.job_check.store(info.job_check, Ordering::Relaxed);
        h.unit.store(info.unit, Ordering::Relaxed);
        for (w, m) in h.ranks.0.iter().zip(&info.members) {
            w.store(*m, Ordering::Relaxed);
        }
        h.magic.store(MAGIC, Ordering::Release);
        Ok(Arc::new(r))
    }

    /// Open and map `path`, waiting up to `timeout` for its creator, and check that
    /// its header names this job and these members. Size and ring capacity are the
    /// creator's choice and are read from the header.
    pub fn attach(
        path: &Path,
        job_check: u64,
        members: &[u32],
        timeout: Duration,
    ) -> Result<Arc<Region>> {
        let start = Instant::now();
        let wait = |what: &str| -> Result<()> {
            if start.elapsed() > timeout {
                return Err(Error::other(format!(
                    "shared-memory file {} {what} after {} s: did the domain's first rank fail?",
                    path.display(),
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_micros(200));
            Ok(())
        };
        let fd = loop {
            match nix::fcntl::open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()) {
                // SAFETY: open() returned a fresh descriptor that nothing else owns.
                Ok(fd) => break unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
                Err(nix::errno::Errno::ENOENT) => wait("does not exist")?,
                Err(nix::errno::Errno::EACCES) => {
                    return Err(Error::other(format!(
                        "permission denied opening shared-memory file {}: run all ranks as the same user, or set MV2_USE_SHARED_MEM=0",
                        path.display()
                    )))
                }
                Err(e) => return Err(Error::other(format!("cannot open shared-memory file {}: {e}", path.display()))),
            }
        };
        // The creator sizes the file and writes the header before the file appears
        // under this name; a shorter file is a stranger's (checked below).
        let len = loop {
            let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))
                .map_err(|e| Error::other(format!("fstat {}: {e}", path.display())))?;
            if st.st_size as usize >= HEADER_BYTES {
                break st.st_size as usize;
            }
            wait("was never sized")?;
        };
        let base = map(&fd, len)?;
        let mut r = Region {
            base,
            len,
            path: path.to_path_buf(),
            info: RegionInfo {
                size: len,
                job_check,
                unit: 0,
                members: members.to_vec(),
            },
        };
        let h = r.header();
        while h.magic.load(Ordering::Acquire) != MAGIC {
            wait("has no vmpi header")?;
        }
        let version = h.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(Error::other(format!(
                "shared-memory file {} has layout version {version}, this library speaks {VERSION}: mixed vmpi versions in one job",
                path.display()
            )));
        }
        let count = h.members.load(Ordering::Relaxed) as usize;
        let found = RegionInfo {
            size: h.size.load(Ordering::Relaxed) as usize,
            job_check: h.job_check.load(Ordering::Relaxed),
            unit: h.unit.load(Ordering::Relaxed),
            members: h.ranks.0[..count.min(MAX_MEMBERS)]
                .iter()
                .map(|w| w.load(Ordering::Relaxed))
                .collect(),
        };
        if found.size != len || found.job_check != job_check || found.members != members {
            return Err(Error::other(format!(
                "shared-memory file {} belongs to another job or domain (size {} of {len}, members {:?}, expected {members:?}): remove it",
                path.display(),
                found.size,
                found.members
            )));
        }
        r.info = found;
        Ok(Arc::new(r))
    }

    /// Map an existing file whole, with no header of this module's: an IVSHMEM
    /// device's `resource2` in a guest, or a host file standing in for one
    /// (`transport::ivshmem` lays out its own header).
    pub fn map_file(path: &Path) -> Result<Arc<Region>> {
        let fd = nix::fcntl::open(path, OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::os("open", e, format!("open {}: {e}", path.display())))?;
        // SAFETY: open() returned a fresh descriptor that nothing else owns.
        let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
        let st = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd))
            .map_err(|e| Error::os("fstat", e, format!("fstat {}: {e}", path.display())))?;
        let len = st.st_size as usize;
        if len == 0 {
            return Err(Error::other(format!("{} is empty", path.display())));
        }
        let base = map(&fd, len)?;
        Ok(Arc::new(Region {
            base,
            len,
            path: path.to_path_buf(),
            info: RegionInfo {
                size: len,
                job_check: 0,
                unit: 0,
                members: Vec::new(),
            },
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> &RegionInfo {
        &self.info
    }

    /// Count this process as attached; returns the new count.
    pub fn mark_attached(&self) -> u32 {
        self.header().attached.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The header of a region this module created or attached (mapped whole:
    /// at least [`HEADER_BYTES`]).
    fn header(&self) -> &Header {
        self.view(0)
    }

    fn check(&self, off: usize, len: usize, align: usize) {
        assert!(
            off.is_multiple_of(align) && off.checked_add(len).is_some_and(|e| e <= self.len),
            "region access out of bounds"
        );
    }

    /// The mapping's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The `T` at byte `off` of the mapping: a layout of atomics laid over it.
    /// Panics when it would not lie inside the mapping or `off` is not a multiple
    /// of `T`'s alignment.
    #[inline]
    pub fn view<T: Overlay>(&self, off: usize) -> &T {
        const { assert!(align_of::<T>() <= 4096) };
        self.check(off, size_of::<T>(), align_of::<T>());
        // SAFETY: `off..off + size_of::<T>()` lies inside the mapping and is aligned
        // for T (checked; the base is page-aligned, as mmap returns it, and T's
        // alignment is at most a page); the mapping lives as long as &self. T is
        // Overlay: any bytes are a valid T and every access through &T is atomic,
        // so other processes writing the memory meanwhile cannot make it unsound.
        unsafe { &*self.base.as_ptr().cast::<u8>().add(off).cast::<T>() }
    }

    /// Copy `src` into the mapping at `off` (panics outside the mapping).
    pub fn write_bytes(&self, off: usize, src: &[u8]) {
        self.check(off, src.len(), 1);
        if src.is_empty() {
            return;
        }
        // SAFETY: in bounds (checked); `src` is private memory, so the ranges do not
        // overlap. Peers read these bytes only after a release store that follows.
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.base.as_ptr().cast::<u8>().add(off),
                src.len(),
            )
        }
    }

    /// Copy bytes `off..off+dst.len()` of the mapping out into `dst` (panics outside
    /// the mapping). The bytes are untrusted: callers check what they mean.
    pub fn read_bytes(&self, off: usize, dst: &mut [u8]) {
        self.check(off, dst.len(), 1);
        if dst.is_empty() {
            return;
        }
        // SAFETY: in bounds (checked); `dst` is private memory. A peer writing these
        // bytes at the same time can only make them wrong, not unsafe: they are
        // copied as plain bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().cast::<u8>().add(off),
                dst.as_mut_ptr(),
                dst.len(),
            )
        }
    }

    /// Bytes `off..off+len` of the mapping handed to the application as plain
    /// memory (a shared window's segment, MPI_Win_allocate_shared): it loads and
    /// stores there itself, under MPI's synchronization rules. Panics outside
    /// the mapping.
    pub fn app_memory(&self, off: usize, len: usize) -> *mut u8 {
        self.check(off, len, 1);
        self.base.as_ptr().cast::<u8>().wrapping_add(off)
    }

    /// An inbox's memory: its [`inbox::Layout`] at `off`, a data area of `cap` bytes
    /// after it.
    pub fn inbox(self: &Arc<Self>, off: usize, cap: u64) -> ShmInboxMem {
        self.check(off, inbox::inbox_bytes(cap), align_of::<inbox::Layout>());
        ShmInboxMem {
            region: self.clone(),
            base: off,
            data: off + size_of::<inbox::Layout>(),
            cap,
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; no reference into the
        // mapping outlives the Region (ShmInboxMem holds an Arc to it).
        let _ = unsafe { munmap(self.base, self.len) };
    }
}

/// Remove a region's file (the mapping stays valid for those who have it).
pub fn unlink(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// One inbox's memory inside a region.
pub struct ShmInboxMem {
    region: Arc<Region>,
    base: usize,
    data: usize,
    cap: u64,
}

impl ShmInboxMem {
    /// Bytes `off..off+len` of the data area as a payload to copy out.
    pub fn payload(&self, off: u64, len: usize) -> PayloadRef<'_> {
        let at = self.data_range(off, len);
        self.region.check(at, len, 1);
        // SAFETY: the range lies inside the mapping (checked), which lives as long as
        // &self holds its Arc; a PayloadRef only copies bytes out.
        unsafe { PayloadRef::shared(self.region.base.as_ptr().cast::<u8>().add(at), len) }
    }

    /// The inbox's control block and slots.
    #[inline]
    fn layout(&self) -> &inbox::Layout {
        self.region.view(self.base)
    }

    /// Slot `slot` (panics past the last).
    #[inline]
    fn slot(&self, slot: u64) -> &inbox::Slot {
        &self.layout().slots[slot as usize]
    }

    /// Checks that `off..off+len` lies in the data area; the region offset of `off`.
    fn data_range(&self, off: u64, len: usize) -> usize {
        assert!(
            off.checked_add(len as u64).is_some_and(|e| e <= self.cap),
            "data access outside its inbox"
        );
        self.data + off as usize
    }
}

impl InboxMem for ShmInboxMem {
    fn cap(&self) -> u64 {
        self.cap
    }
    fn slots(&self) -> u64 {
        inbox::SLOTS
    }
    fn load_head(&self) -> u64 {
        self.layout().ctl.head.0.load(Ordering::Acquire)
    }
    fn store_head(&self, v: u64) {
        self.layout().ctl.head.0.store(v, Ordering::Release)
    }
    fn load_tail(&self) -> u64 {
        self.layout().ctl.tail.0.load(Ordering::Relaxed)
    }
    fn cas_tail(&self, old: u64, new: u64) -> std::result::Result<(), u64> {
        self.layout()
            .ctl
            .tail
            .0
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            .map(|_| ())
    }
    fn load_stamp(&self, slot: u64) -> u64 {
        self.slot(slot).stamp.load(Ordering::Acquire)
    }
    fn store_stamp(&self, slot: u64, v: u64) {
        self.slot(slot).stamp.store(v, Ordering::Release)
    }
    fn write_body(&self, slot: u64, b: &inbox::Body) {
        self.slot(slot).put(b)
    }
    fn read_body(&self, slot: u64) -> inbox::Body {
        self.slot(slot).get()
    }
    fn write_data(&self, off: u64, src: &[u8]) {
        let at = self.data_range(off, src.len());
        self.region.write_bytes(at, src)
    }
    #[cfg(any(test, loom))]
    fn read_data(&self, off: u64, dst: &mut [u8]) {
        let at = self.data_range(off, dst.len());
        self.region.read_bytes(at, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_whole_under_its_name_only() {
        // A disk directory (ext4 under /var/tmp here), where fallocate grows the
        // size in steps.
        let base = if Path::new("/var/tmp").is_dir() {
            PathBuf::from("/var/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("vmpi-region-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vmpi-0123456789abcdef-region-0-1");
        let info = RegionInfo {
            size: 64 << 20,
            job_check: 77,
            unit: 4096,
            members: vec![0, 1, 2],
        };
        let r = Region::create(&path, info.clone()).unwrap();
        // Only the final name is there, at full size, with its header.
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["vmpi-0123456789abcdef-region-0-1"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 << 20);
        let a = Region::attach(&path, 77, &[0, 1, 2], Duration::from_secs(1)).unwrap();
        assert_eq!(a.info(), r.info());
        // The name is taken: a second create fails (as O_EXCL did), leaving
        // nothing behind.
        let Err(e) = Region::create(&path, info) else {
            panic!("created over an existing region");
        };
        assert!(e.message.contains("cannot create"), "{}", e.message);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Fuzz: a file under a region's name with the magic and anything else in
        /// its header (a stranger's, a crashed creator's, another version's) is
        /// refused with an error or accepted only when it names this job and these
        /// members at its real size; attach never panics.
        #[test]
        fn arbitrary_headers_are_refused_or_consistent(
            words in proptest::collection::vec(proptest::prelude::any::<u64>(), 7),
            right_version in proptest::prelude::any::<bool>(),
            extra in 0usize..3,
        ) {
            let path = PathBuf::from(format!(
                "/dev/shm/vmpi-unittest-hdr-{}-{}",
                std::process::id(),
                words[0]
            ));
            let len = HEADER_BYTES + extra * 4096;
            let mut bytes = vec![0u8; len];
            bytes[..8].copy_from_slice(&MAGIC.to_le_bytes());
            for (i, w) in words.iter().enumerate() {
                bytes[8 + 8 * i..16 + 8 * i].copy_from_slice(&w.to_le_bytes());
            }
            if right_version {
                bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
            }
            std::fs::write(&path, &bytes).unwrap();
            let r = Region::attach(&path, 77, &[0, 1], Duration::ZERO);
            let _ = std::fs::remove_file(&path);
            if let Ok(r) = r {
                proptest::prop_assert_eq!(r.info().size, len);
                proptest::prop_assert_eq!(r.info().job_check, 77);
                proptest::prop_assert_eq!(&r.info().members, &vec![0u32, 1]);
            }
        }
    }
}
