//! The shared-memory channel: one region per shm domain holding one inbox per member
//! ([`super::inbox`]), which every other member writes its packets into. Memory
//! grows with the members, not with the pairs. Sizes the region to fit /dev/shm,
//! creates it (the domain's lowest rank) or attaches to it (the others), unlinks the
//! file as soon as every member has attached, and turns inbox records into packets.

use super::inbox::{self, Consumer, Payload, Producer};
use super::region::{self, Region, RegionInfo, ShmInboxMem, HEADER_BYTES};
use super::{Packet, PayloadRef};
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Inbox data areas are chosen in this range unless overridden.
pub const MIN_INBOX: u64 = 16 * 1024;
pub const MAX_INBOX: u64 = 2 << 20;
/// Smallest data area `VMPI_SHM_RING_SIZE` may ask for.
pub const MIN_REQUESTED: u64 = 16 * 1024;

/// Bytes a region for `n` members with inbox data areas of `cap` bytes occupies.
pub fn region_size(n: usize, cap: u64) -> usize {
    HEADER_BYTES + n * inbox::inbox_bytes(cap)
}

/// Pick the inbox data size: the largest power of two in [MIN_INBOX, MAX_INBOX] such
/// that the region takes at most half of `free_bytes` (so 16 ranks fit in Docker's
/// default 64 MB /dev/shm), or `requested` when the user set one.
/// Errors when even the smallest region does not fit.
pub fn choose_inbox_cap(
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
    let mut cap = MAX_INBOX;
    while cap > MIN_INBOX && region_size(n, cap) as u64 > free_bytes / 2 {
        cap /= 2;
    }
    if !fits(cap) {
        return Err(Error::other(format!(
            "{} has {} bytes free; {} ranks sharing it need at least {} bytes: enlarge it (docker run --shm-size=...), \
             use fewer ranks per host, or set MV2_USE_SHARED_MEM=0",
            dir.display(),
            free_bytes,
            n,
            region_size(n, MIN_INBOX)
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

/// The inbox data size for `n` members in `room` bytes: the largest power of two in
/// [MIN_INBOX, MAX_INBOX] whose inboxes fit, None when even MIN_INBOX does not.
pub fn cap_in(n: usize, room: usize) -> Option<u64> {
    let mut cap = MAX_INBOX;
    while cap >= MIN_INBOX {
        if n * inbox::inbox_bytes(cap) <= room {
            return Some(cap);
        }
        cap /= 2;
    }
    None
}

/// Bytes the channel needs for `n` members with the smallest inboxes.
pub fn room_needed(n: usize) -> usize {
    n * inbox::inbox_bytes(MIN_INBOX)
}

/// The shm channel of one rank.
pub struct ShmTransport {
    /// World rank -> index among the members, for members only.
    local_of: Vec<Option<usize>>,
    /// Member index -> world rank.
    members: Vec<usize>,
    /// Into every other member's inbox (None for ourselves).
    tx: Vec<Option<Producer<ShmInboxMem>>>,
    rx: Consumer<ShmInboxMem>,
    max_payload: usize,
    /// What the queues live in, for messages ("shared-memory", "IVSHMEM").
    kind: &'static str,
}

impl ShmTransport {
    /// Join the domain whose members (world ranks, sorted) are `members`: the first
    /// creates the region at `path`, the others attach to it. The last to attach
    /// unlinks the file.
    /// `cap` is the inbox data size the creator uses; attachers read it from the header.
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
            unit: cap,
            members: members.iter().map(|&m| m as u32).collect(),
        };
        let region = if my_idx == 0 {
            Region::create(path, info)?
        } else {
            let r = Region::attach(path, job_check, &info.members, Duration::from_secs(60))?;
            let cap = r.info().unit;
            if !cap.is_power_of_two() || cap < MIN_REQUESTED || r.info().size != region_size(n, cap)
            {
                return Err(Error::other(format!(
                    "shared-memory file {} has an impossible layout",
                    path.display()
                )));
            }
            r
        };
        let cap = region.info().unit;
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

    /// The channel over inboxes at `base` of `region` that every member lays out
    /// the same way (a region another layer owns: an IVSHMEM slot): one inbox of
    /// `cap` data bytes per member of `members` (world ranks, sorted), in member
    /// order, zeroed before any member uses it.
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
        let at = |i: usize| base + i * inbox::inbox_bytes(cap);
        let tx = (0..n)
            .map(|peer| {
                (peer != my_idx).then(|| Producer::new(region.inbox(at(peer), cap), my_idx as u16))
            })
            .collect();
        let rx = Consumer::new(region.inbox(at(my_idx), cap), my_idx, n);
        // The inboxes hold the region (and so the mapping) alive.
        ShmTransport {
            local_of,
            members: members.to_vec(),
            tx,
            rx,
            max_payload: inbox::max_payload(cap),
            kind,
        }
    }

    fn local(&self, peer: usize) -> Result<usize> {
        self.local_of.get(peer).copied().flatten().ok_or_else(|| {
            Error::intern(format!("rank {peer} is not in this {} domain", self.kind))
        })
    }

    /// Largest payload one packet may carry.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Queue one packet for `peer` (a world rank), or `Ok(false)` when its inbox has
    /// no room now.
    pub fn try_send(&mut self, peer: usize, hdr: &[u8], payload: &[u8]) -> Result<bool> {
        let l = self.local(peer)?;
        let p = self.tx[l]
            .as_mut()
            .ok_or_else(|| Error::intern(format!("{} send to self", self.kind)))?;
        Ok(p.try_push(hdr, payload))
    }

    /// Whether a packet may be waiting (false means there is certainly none).
    #[inline]
    pub fn ready(&self) -> bool {
        self.rx.ready()
    }

    /// The next packet in our inbox, from whichever member sent it, with the
    /// sender's world rank; left in place until [`ShmTransport::consume`].
    pub fn peek(&mut self) -> Result<Option<(usize, Packet<'_>)>> {
        match self.rx.peek() {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(None),
            Err(inbox::Corrupt(why)) => {
                return Err(Error::other(format!(
                    "{} inbox of this rank is corrupt: {why}",
                    self.kind
                )))
            }
        }
        let rec = self.rx.peeked().expect("peek found a record");
        let from = self.members[rec.from];
        let payload = match &rec.payload {
            Payload::Inline(bytes) => PayloadRef::private(&bytes[..rec.len]),
            Payload::Data(off) => self.rx.mem().payload(*off, rec.len),
        };
        Ok(Some((
            from,
            Packet {
                header: &rec.hdr[..rec.hdr_len],
                payload,
            },
        )))
    }

    /// Drop the packet the last `peek` returned.
    pub fn consume(&mut self) {
        self.rx.consume();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::transport::inbox::InboxMem;

    #[test]
    fn sixteen_ranks_fit_docker_default() {
        let cap = choose_inbox_cap(16, 64 << 20, None, Path::new("/dev/shm")).unwrap();
        assert!(cap >= 1 << 20, "cap {cap}");
        assert!(region_size(16, cap) <= 32 << 20);
    }

    /// Memory grows with the members: 256 ranks take about 2 MiB each.
    #[test]
    fn memory_is_linear_in_members() {
        let cap = choose_inbox_cap(256, 12 << 30, None, Path::new("/dev/shm")).unwrap();
        assert_eq!(cap, MAX_INBOX);
        assert!(region_size(256, cap) < 256 * (MAX_INBOX as usize + (80 << 10)));
        assert_eq!(
            region_size(64, cap) - HEADER_BYTES,
            2 * (region_size(32, cap) - HEADER_BYTES)
        );
    }

    #[test]
    fn too_small_is_a_clear_error() {
        let e = choose_inbox_cap(64, 1 << 20, None, Path::new("/dev/shm")).unwrap_err();
        assert!(e.message.contains("MV2_USE_SHARED_MEM=0"), "{}", e.message);
    }

    /// Three members: two send to the third at once, which gets every packet from
    /// each in order, with the right sender.
    #[test]
    fn members_exchange_through_a_region() {
        let path =
            std::path::PathBuf::from(format!("/dev/shm/vmpi-unittest-{}", std::process::id()));
        let members = [3usize, 5, 6];
        let senders: Vec<_> = [3usize, 6]
            .into_iter()
            .map(|me| {
                let p = path.clone();
                std::thread::spawn(move || {
                    let mut t = ShmTransport::join(&p, &members, me, 8, 42, MIN_INBOX).unwrap();
                    let mut i = 0u32;
                    while i < 300 {
                        let payload = vec![(i as usize + me) as u8; (i as usize * 97) % 5000];
                        if t.try_send(5, &i.to_le_bytes(), &payload).unwrap() {
                            i += 1;
                        }
                    }
                    // Keep the mapping until the receiver is done with our last packets.
                    std::thread::sleep(Duration::from_millis(200));
                })
            })
            .collect();
        let mut b = ShmTransport::join(&path, &members, 5, 8, 42, MIN_INBOX).unwrap();
        let mut next = [0u32; 8];
        while next[3] + next[6] < 600 {
            let Some((from, pk)) = b.peek().unwrap() else {
                continue;
            };
            let i = next[from];
            assert_eq!(pk.header, &i.to_le_bytes(), "order from rank {from}");
            let v = pk.payload.to_vec();
            assert_eq!(v.len(), (i as usize * 97) % 5000);
            assert!(v.iter().all(|&x| x == (i as usize + from) as u8));
            next[from] += 1;
            b.consume();
        }
        for s in senders {
            s.join().unwrap();
        }
        assert!(
            !path.exists(),
            "region file must be unlinked once all attached"
        );
    }

    /// Inboxes in a region another machine also writes (IVSHMEM): whatever the
    /// peer scribbles there is an error naming the channel, never a crash.
    #[test]
    fn garbage_from_a_peer_in_a_mapped_region_is_an_error_naming_it() {
        let path =
            std::path::PathBuf::from(format!("/dev/shm/vmpi-unittest-iv-{}", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(1 << 20).unwrap();
        drop(f);
        let region = Region::map_file(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let (base, cap) = (4096, MIN_INBOX);
        let members = [3usize, 5];
        let mut me = ShmTransport::over(&region, base, cap, &members, 0, 8, "IVSHMEM");
        assert!(me.peek().unwrap().is_none(), "an empty inbox is just empty");
        // A published stamp for slot 0 over a slot that names a sender of 9 members.
        let mem = region.inbox(base, cap);
        mem.write_body(
            0,
            &inbox::Body {
                meta: 9,
                ..Default::default()
            },
        );
        mem.store_stamp(0, 1 << 63);
        let e = me.peek().err().expect("garbage must be refused");
        assert!(
            e.message.contains("IVSHMEM inbox of this rank is corrupt"),
            "{}",
            e.message
        );
    }
}
