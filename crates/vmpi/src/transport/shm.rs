//! The shared-memory channel: one region per shm domain holding one ring per ordered
//! pair of its members. Sizes the region to fit /dev/shm, creates it (the domain's
//! lowest rank) or attaches to it (the others), unlinks the file as soon as every
//! member has attached, and frames packets into ring records.
//!
//! Record body: `hdr_len: u32` · header · payload.

use super::region::{self, Region, RegionInfo, HEADER_BYTES};
use super::ring::{self, Consumer, Producer};
use super::{Packet, PacketChannel, PayloadRef};
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Largest header the channel frames (p2p headers are far smaller).
pub const MAX_HEADER: usize = 128;
/// Ring capacities are chosen in this range unless overridden.
pub const MIN_RING: u64 = 16 * 1024;
pub const MAX_RING: u64 = 512 * 1024;

/// Bytes a region for `n` members with rings of `cap` bytes occupies.
pub fn region_size(n: usize, cap: u64) -> usize {
    HEADER_BYTES + n * n.saturating_sub(1) * (ring::CTL_BYTES + cap as usize)
}

/// Pick the ring capacity: the largest power of two in [MIN_RING, MAX_RING] such that
/// the region takes at most half of `free_bytes` (so 16 ranks fit in Docker's default
/// 64 MB /dev/shm with 128 KiB rings), or `requested` when the user set one.
/// Errors when even the smallest region does not fit.
pub fn choose_ring_cap(
    n: usize,
    free_bytes: u64,
    requested: Option<u64>,
    dir: &Path,
) -> Result<u64> {
    let fits = |cap: u64| (region_size(n, cap) as u64) <= free_bytes;
    if let Some(cap) = requested {
        if !fits(cap) {
            return Err(Error::other(format!(
                "{} has {} bytes free but {} ranks with VMPI_SHM_RING_SIZE={} need {} bytes",
                dir.display(),
                free_bytes,
                n,
                cap,
                region_size(n, cap)
            )));
        }
        return Ok(cap);
    }
    let mut cap = MAX_RING;
    while cap > MIN_RING && region_size(n, cap) as u64 > free_bytes / 2 {
        cap /= 2;
    }
    if !fits(cap) {
        return Err(Error::other(format!(
            "{} has {} bytes free; {} ranks sharing it need at least {} bytes: enlarge it (docker run --shm-size=...), \
             use fewer ranks per host, or set MV2_USE_SHARED_MEM=0",
            dir.display(),
            free_bytes,
            n,
            region_size(n, MIN_RING)
        )));
    }
    Ok(cap)
}

/// Free bytes in the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let st = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| Error::other(format!("statvfs {}: {e}", dir.display())))?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// The shm channel of one rank.
pub struct ShmTransport {
    /// World rank -> index among the members, for members only.
    local_of: Vec<Option<usize>>,
    tx: Vec<Option<Producer<region::ShmRingMem>>>,
    rx: Vec<Option<Consumer<region::ShmRingMem>>>,
    hdr: [u8; MAX_HEADER],
    max_payload: usize,
    /// What the queues live in, for messages ("shared-memory", "IVSHMEM").
    kind: &'static str,
}

fn ring_offset(base: usize, n: usize, cap: u64, from: usize, to: usize) -> usize {
    debug_assert!(from != to);
    let idx = from * (n - 1) + if to > from { to - 1 } else { to };
    base + idx * (ring::CTL_BYTES + cap as usize)
}

/// The ring capacity for `n` members in `room` bytes: the largest power of two
/// in [MIN_RING, MAX_RING] whose rings fit, None when even MIN_RING does not.
pub fn cap_in(n: usize, room: usize) -> Option<u64> {
    let need = |cap: u64| n * n.saturating_sub(1) * (ring::CTL_BYTES + cap as usize);
    let mut cap = MAX_RING;
    while cap >= MIN_RING {
        if need(cap) <= room {
            return Some(cap);
        }
        cap /= 2;
    }
    None
}

impl ShmTransport {
    /// Join the domain whose members (world ranks, sorted) are `members`: the first
    /// creates the region at `path`, the others attach to it. The last to attach
    /// unlinks the file.
    /// `cap` is the ring capacity the creator uses; attachers read it from the header.
    pub fn join(
        path: &Path,
        members: &[usize],
        me: usize,
        world_size: usize,
        job_check: u64,
        cap: u64,
    ) -> Result<Self> {
        let n = members.len();
        let my_idx = members
            .iter()
            .position(|&m| m == me)
            .ok_or_else(|| Error::intern("rank is not a member of its own shm domain"))?;
        let info = RegionInfo {
            size: region_size(n, cap),
            job_check,
            ring_cap: cap,
            members: members.iter().map(|&m| m as u32).collect(),
        };
        let region = if my_idx == 0 {
            Region::create(path, info)?
        } else {
            let r = Region::attach(path, job_check, &info.members, Duration::from_secs(60))?;
            if r.info().size != region_size(n, r.info().ring_cap)
                || !r.info().ring_cap.is_power_of_two()
                || r.info().ring_cap < 512
            {
                return Err(Error::other(format!(
                    "shared-memory file {} has an impossible layout",
                    path.display()
                )));
            }
            r
        };
        let cap = region.info().ring_cap;
        if region.mark_attached() as usize == n {
            region::unlink(path);
        }
        Ok(ShmTransport::over(
            &region,
            HEADER_BYTES,
            cap,
            members,
            my_idx,
            world_size,
            "shared-memory",
        ))
    }

    /// The channel over rings at `base` of `region` that every member lays out
    /// the same way (a region another layer owns: an IVSHMEM slot): one ring of
    /// `cap` bytes per ordered pair of `members` (world ranks, sorted), zeroed
    /// before any member uses it.
    pub fn over(
        region: &Arc<Region>,
        base: usize,
        cap: u64,
        members: &[usize],
        my_idx: usize,
        world_size: usize,
        kind: &'static str,
    ) -> Self {
        let n = members.len();
        let mut local_of = vec![None; world_size];
        for (i, &m) in members.iter().enumerate() {
            local_of[m] = Some(i);
        }
        let mut tx = Vec::with_capacity(n);
        let mut rx = Vec::with_capacity(n);
        for peer in 0..n {
            if peer == my_idx {
                tx.push(None);
                rx.push(None);
            } else {
                tx.push(Some(Producer::new(
                    region.ring(ring_offset(base, n, cap, my_idx, peer), cap),
                )));
                rx.push(Some(Consumer::new(
                    region.ring(ring_offset(base, n, cap, peer, my_idx), cap),
                )));
            }
        }
        let max_payload = ring::max_body(cap) - 4 - MAX_HEADER;
        // The rings hold the region (and so the mapping) alive.
        ShmTransport {
            local_of,
            tx,
            rx,
            hdr: [0; MAX_HEADER],
            max_payload,
            kind,
        }
    }

    fn local(&self, peer: usize) -> Result<usize> {
        self.local_of.get(peer).copied().flatten().ok_or_else(|| {
            Error::intern(format!("rank {peer} is not in this {} domain", self.kind))
        })
    }
}

impl PacketChannel for ShmTransport {
    fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn try_send(&mut self, peer: usize, hdr: &[u8], payload: &[u8]) -> Result<bool> {
        assert!(hdr.len() <= MAX_HEADER && payload.len() <= self.max_payload);
        let l = self.local(peer)?;
        let p = self.tx[l]
            .as_mut()
            .ok_or_else(|| Error::intern("shm send to self"))?;
        Ok(p.try_push(&[&(hdr.len() as u32).to_le_bytes(), hdr, payload]))
    }

    fn progress(&mut self) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn ready(&self, peer: usize) -> bool {
        match self.local_of.get(peer).copied().flatten() {
            Some(l) => self.rx[l].as_ref().is_some_and(|c| c.ready()),
            None => true,
        }
    }

    fn peek(&mut self, peer: usize) -> Result<Option<Packet<'_>>> {
        let l = self.local(peer)?;
        let c = self.rx[l]
            .as_mut()
            .ok_or_else(|| Error::intern("shm receive from self"))?;
        let (off, len) = match c.peek() {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(ring::Corrupt(why)) => {
                return Err(Error::other(format!(
                    "{} queue from rank {peer} is corrupt: {why}",
                    self.kind
                )))
            }
        };
        let mut word = [0u8; 4];
        if len < 4 {
            return Err(Error::other(format!(
                "{} record from rank {peer} is too short ({len} bytes)",
                self.kind
            )));
        }
        c.read(off, 0, &mut word);
        let hlen = u32::from_le_bytes(word) as usize;
        if hlen > MAX_HEADER || 4 + hlen > len {
            return Err(Error::other(format!(
                "{} record from rank {peer} has a bad header length {hlen}",
                self.kind
            )));
        }
        c.read(off, 4, &mut self.hdr[..hlen]);
        let c = self.rx[l].as_ref().expect("checked above");
        let payload: PayloadRef<'_> = c.mem().payload(off + 4 + hlen as u64, len - 4 - hlen);
        Ok(Some(Packet {
            header: &self.hdr[..hlen],
            payload,
        }))
    }

    fn consume(&mut self, peer: usize) {
        if let Ok(l) = self.local(peer) {
            if let Some(c) = self.rx[l].as_mut() {
                c.consume();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sixteen_ranks_fit_docker_default() {
        let cap = choose_ring_cap(16, 64 << 20, None, Path::new("/dev/shm")).unwrap();
        assert!(cap >= 64 * 1024, "cap {cap}");
        assert!(region_size(16, cap) <= 32 << 20);
    }

    #[test]
    fn too_small_is_a_clear_error() {
        let e = choose_ring_cap(64, 1 << 20, None, Path::new("/dev/shm")).unwrap_err();
        assert!(e.message.contains("MV2_USE_SHARED_MEM=0"), "{}", e.message);
    }

    #[test]
    fn two_members_exchange_through_a_region() {
        let path =
            std::path::PathBuf::from(format!("/dev/shm/vmpi-unittest-{}", std::process::id()));
        let members = [3usize, 5];
        let p2 = path.clone();
        let t = std::thread::spawn(move || {
            let mut b = ShmTransport::join(&p2, &members, 5, 8, 42, MIN_RING).unwrap();
            let mut got = Vec::new();
            while got.len() < 100 {
                if let Some(pk) = b.peek(3).unwrap() {
                    let mut v = pk.header.to_vec();
                    v.extend(pk.payload.to_vec());
                    got.push(v);
                    b.consume(3);
                }
            }
            got
        });
        let mut a = ShmTransport::join(&path, &members, 3, 8, 42, MIN_RING).unwrap();
        let mut i = 0u32;
        while i < 100 {
            let payload = vec![i as u8; (i as usize * 97) % a.max_payload()];
            if a.try_send(5, &i.to_le_bytes(), &payload).unwrap() {
                i += 1;
            }
        }
        let got = t.join().unwrap();
        for (i, v) in got.iter().enumerate() {
            assert_eq!(&v[..4], &(i as u32).to_le_bytes());
            assert!(v[4..].iter().all(|&b| b == i as u8));
            assert_eq!(v.len() - 4, (i * 97) % a.max_payload());
        }
        assert!(
            !path.exists(),
            "region file must be unlinked once both attached"
        );
    }

    /// Queues over a region another machine also writes (IVSHMEM): whatever the
    /// peer scribbles there is an error naming it and the channel, never a crash.
    #[test]
    fn garbage_from_a_peer_in_a_mapped_region_is_an_error_naming_it() {
        let path =
            std::path::PathBuf::from(format!("/dev/shm/vmpi-unittest-iv-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(1 << 20).unwrap();
        drop(f);
        let region = Region::map_file(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let (base, cap) = (4096, MIN_RING);
        let members = [3usize, 5];
        let mut me = ShmTransport::over(&region, base, cap, &members, 0, 8, "IVSHMEM");
        assert!(
            me.peek(5).unwrap().is_none(),
            "an empty queue is just empty"
        );
        // every word of rank 5's queue to us: "valid, 1 GiB long, at position 0"
        let word = (1u64 << 63) | (0x4000_0000u64 << 32);
        let at = ring_offset(base, 2, cap, 1, 0);
        let junk: Vec<u8> = std::iter::repeat(word.to_le_bytes())
            .take((ring::CTL_BYTES + cap as usize) / 8)
            .flatten()
            .collect();
        region.write_bytes(at, &junk);
        let e = me.peek(5).err().expect("garbage must be refused");
        assert!(
            e.message.contains("IVSHMEM queue from rank 5 is corrupt"),
            "{}",
            e.message
        );
    }
}
