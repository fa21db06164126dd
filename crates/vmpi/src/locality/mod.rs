//! Locality: evidence about every rank, turned into a verdict per pair (which channel,
//! and why) and into shm domains (groups of ranks that share one /dev/shm and will
//! share one region). No hostname decides anything; probes and kernel facts do.
//!
//! Every rank computes the same verdicts from the same published facts, so both ends
//! of a pair always agree on its channel.

pub mod binding;
pub mod evidence;
pub mod probe;

pub use evidence::{Evidence, IvCard};

/// The channel a pair uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A rank and itself.
    SelfLoop,
    /// Shared-memory queues (large messages: CMA or pipelined copy).
    Shm,
    /// The shm channel's queues in an IVSHMEM region that VMs share (large
    /// messages: pipelined copy; there is no CMA across VMs).
    Ivshmem,
    /// Sockets.
    Tcp,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::SelfLoop => "self",
            Channel::Shm => "shm",
            Channel::Ivshmem => "ivshmem",
            Channel::Tcp => "tcp",
        }
    }
}

/// Whether a rank can read a peer's memory with CMA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cma {
    Works,
    Unavailable(String),
}

/// The verdict for the ordered pair (a, b): the channel and, for shm pairs, whether
/// `a` can pull large messages from `b` with CMA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub channel: Channel,
    pub reason: String,
    pub cma: Cma,
}

/// The policy knobs the decision honours.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub use_shared_mem: bool,
    pub cont_use_ipc: bool,
    pub smp_use_cma: bool,
    /// Cut shm domains into blocks of this many consecutive world ranks (a test aid
    /// that makes one host look like several).
    pub domain_split: Option<usize>,
    /// `MV2_VIRT_USE_IVSHMEM`: pairs that share an IVSHMEM region (and no
    /// /dev/shm) may use it.
    pub use_ivshmem: bool,
}

/// What each rank found by probing its peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Peers whose /dev/shm probe file this rank read back correctly.
    pub shm_seen: Vec<bool>,
    /// Peers whose memory this rank read correctly with CMA, or why not.
    pub cma: Vec<Option<String>>,
    /// Peers whose IVSHMEM nonce this rank read back in the job's region
    /// (`Map::iv_region`).
    pub iv_seen: Vec<bool>,
    /// The first failed CMA probe's short reason (`process_vm_writev:EPERM`),
    /// published with the bits so that peers can name it; empty if none failed.
    pub cma_code: String,
}

impl View {
    /// Encode as `<shm bits hex>/<cma bits hex>/<ivshmem bits hex>/<cma code>` (the
    /// bit says works; of the reasons only the first probe failure's code travels).
    pub fn encode(&self) -> String {
        fn bits(v: impl Iterator<Item = bool>) -> String {
            let b: Vec<bool> = v.collect();
            b.chunks(4)
                .map(|c| {
                    format!(
                        "{:x}",
                        c.iter()
                            .enumerate()
                            .fold(0u8, |a, (i, &x)| a | ((x as u8) << i))
                    )
                })
                .collect()
        }
        let code: String = self
            .cma_code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':'))
            .take(40)
            .collect();
        format!(
            "{}/{}/{}/{code}",
            bits(self.shm_seen.iter().copied()),
            bits(self.cma.iter().map(|c| c.is_none())),
            bits(self.iv_seen.iter().copied())
        )
    }

    /// Decode a peer's view; CMA failures come back without their reason.
    pub fn decode(s: &str, n: usize) -> Option<View> {
        fn bits(s: &str, n: usize) -> Option<Vec<bool>> {
            let mut out = Vec::with_capacity(n);
            for ch in s.chars() {
                let d = ch.to_digit(16)?;
                for i in 0..4 {
                    out.push(d & (1 << i) != 0);
                }
            }
            if out.len() < n {
                return None;
            }
            out.truncate(n);
            Some(out)
        }
        let mut parts = s.split('/');
        let (a, b) = (parts.next()?, parts.next()?);
        let iv_seen = match parts.next() {
            Some(c) if !c.is_empty() => bits(c, n)?,
            _ => vec![false; n],
        };
        let cma_code = parts.next().unwrap_or("").to_string();
        let shm_seen = bits(a, n)?;
        let failed = if cma_code.is_empty() {
            "peer's CMA probe failed".to_string()
        } else {
            format!("peer's CMA probe failed: {cma_code}")
        };
        let cma = bits(b, n)?
            .into_iter()
            .map(|ok| if ok { None } else { Some(failed.clone()) })
            .collect();
        Some(View {
            shm_seen,
            cma,
            iv_seen,
            cma_code,
        })
    }
}

/// The verdicts of every ordered pair and the shm domains.
#[derive(Debug, Clone)]
pub struct Map {
    /// `verdicts[a][b]`.
    pub verdicts: Vec<Vec<Verdict>>,
    /// Each rank's shm domain: the sorted world ranks it shares a region with
    /// (itself alone when it shares none).
    pub domain_of: Vec<Vec<usize>>,
    /// The IVSHMEM region the job uses (the one most ranks joined; ties: the
    /// lowest UUID), if any rank joined one.
    pub iv_region: Option<[u8; 16]>,
    /// Each rank's IVSHMEM domain: the sorted world ranks whose nonces it saw
    /// in that region and which saw its own, when their queues fit the slot
    /// (itself alone otherwise).
    pub iv_domain_of: Vec<Vec<usize>>,
}

/// The IVSHMEM region a job uses: the UUID most ranks published (ties: the
/// lowest), the same on every rank.
pub fn iv_region(ev: &[Evidence]) -> Option<[u8; 16]> {
    let mut counts: Vec<([u8; 16], usize)> = Vec::new();
    for e in ev {
        for c in &e.iv {
            match counts.iter_mut().find(|(u, _)| *u == c.uuid) {
                Some(x) => x.1 += 1,
                None => counts.push((c.uuid, 1)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.first().map(|c| c.0)
}

/// A rank's card entry for region `uuid`.
pub fn iv_card(e: &Evidence, uuid: &[u8; 16]) -> Option<IvCard> {
    e.iv.iter().find(|c| c.uuid == *uuid).copied()
}

impl Map {
    /// Decide every pair from everyone's evidence and views.
    pub fn decide(policy: Policy, ev: &[Evidence], views: &[View]) -> Map {
        let n = ev.len();
        let mutual = |a: usize, b: usize| views[a].shm_seen[b] && views[b].shm_seen[a];
        let allowed = |a: usize, b: usize| -> Result<(), String> {
            if !policy.use_shared_mem {
                return Err("MV2_USE_SHARED_MEM=0".into());
            }
            if !ev[a].same_kernel(&ev[b]) {
                return Err("different kernel (boot id differs)".into());
            }
            if !mutual(a, b) {
                return Err("/dev/shm not shared (probe file not visible both ways)".into());
            }
            if !policy.cont_use_ipc && !ev[a].same_container(&ev[b]) {
                return Err("MV2_CONT_USE_IPC=0 and different containers".into());
            }
            if let Some(k) = policy.domain_split {
                if a / k != b / k {
                    return Err(format!(
                        "VMPI_SHM_DOMAIN_SPLIT={k} puts them in different domains"
                    ));
                }
            }
            Ok(())
        };
        // Candidate domain of each rank; a domain must be a clique on which all its
        // members agree, else its members fall back to the network.
        let cand: Vec<Vec<usize>> = (0..n)
            .map(|a| {
                (0..n)
                    .filter(|&b| a == b || allowed(a, b).is_ok())
                    .collect()
            })
            .collect();
        let consistent: Vec<bool> = (0..n)
            .map(|a| cand[a].iter().all(|&b| cand[b] == cand[a]))
            .collect();
        let domain_of: Vec<Vec<usize>> = (0..n)
            .map(|a| {
                if consistent[a] {
                    cand[a].clone()
                } else {
                    vec![a]
                }
            })
            .collect();
        // IVSHMEM: pairs in the job's region that saw each other's nonces, as a
        // consistent clique whose queues fit the slot.
        let region = iv_region(ev);
        let iv_ok = |a: usize, b: usize| -> Result<(), String> {
            let Some(u) = region else {
                return Err(String::new());
            };
            let (Some(ca), Some(cb)) = (iv_card(&ev[a], &u), iv_card(&ev[b], &u)) else {
                return Err(String::new());
            };
            if !policy.use_shared_mem {
                return Err("MV2_USE_SHARED_MEM=0".into());
            }
            if !policy.use_ivshmem {
                return Err("MV2_VIRT_USE_IVSHMEM=0".into());
            }
            if ca.slot != cb.slot {
                return Err(format!(
                    "IVSHMEM region {}: in different slots ({} and {})",
                    crate::transport::ivshmem::uuid_text(&u),
                    ca.slot,
                    cb.slot
                ));
            }
            if !(views[a].iv_seen[b] && views[b].iv_seen[a]) {
                return Err("IVSHMEM nonces not seen both ways".into());
            }
            Ok(())
        };
        let iv_cand: Vec<Vec<usize>> = (0..n)
            .map(|a| (0..n).filter(|&b| a == b || iv_ok(a, b).is_ok()).collect())
            .collect();
        let iv_room = |a: usize| {
            region
                .and_then(|u| iv_card(&ev[a], &u))
                .map_or(0, |c| c.room as usize)
        };
        let iv_fits = |a: usize| crate::transport::shm::room_needed(iv_cand[a].len()) <= iv_room(a);
        let iv_consistent: Vec<bool> = (0..n)
            .map(|a| iv_cand[a].iter().all(|&b| iv_cand[b] == iv_cand[a]))
            .collect();
        let iv_domain_of: Vec<Vec<usize>> = (0..n)
            .map(|a| {
                if iv_consistent[a] && iv_fits(a) {
                    iv_cand[a].clone()
                } else {
                    vec![a]
                }
            })
            .collect();
        let not_shm = |reason: String| Verdict {
            channel: Channel::Tcp,
            reason,
            cma: Cma::Unavailable("not a shm pair".into()),
        };
        let verdicts = (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        if a == b {
                            return Verdict {
                                channel: Channel::SelfLoop,
                                reason: "same process".into(),
                                cma: Cma::Works,
                            };
                        }
                        let shm_why = match allowed(a, b) {
                            Err(why) => Some(why),
                            Ok(()) if !(consistent[a] && consistent[b]) => {
                                Some("inconsistent /dev/shm visibility among ranks".to_string())
                            }
                            Ok(()) => None,
                        };
                        match shm_why {
                            Some(why) => match iv_ok(a, b) {
                                Ok(()) if !(iv_consistent[a] && iv_consistent[b]) => not_shm(
                                    format!("{why}; inconsistent IVSHMEM visibility among ranks"),
                                ),
                                Ok(()) if !iv_fits(a) => not_shm(format!(
                                    "{why}; the IVSHMEM slot is too small for {} ranks (they need {} bytes, it has {}): give the VMs a larger device (QEMU memory-backend-file size=)",
                                    iv_cand[a].len(),
                                    crate::transport::shm::room_needed(iv_cand[a].len()),
                                    iv_room(a)
                                )),
                                Ok(()) => {
                                    let u = region.expect("checked by iv_ok");
                                    Verdict {
                                        channel: Channel::Ivshmem,
                                        reason: format!(
                                            "IVSHMEM region {}, slot {}: nonces seen both ways",
                                            crate::transport::ivshmem::uuid_text(&u),
                                            iv_card(&ev[a], &u).map_or(0, |c| c.slot)
                                        ),
                                        cma: Cma::Unavailable("no CMA across VMs".into()),
                                    }
                                }
                                Err(e) if e.is_empty() => {
                                    let unusable = [a, b]
                                        .into_iter()
                                        .find(|&x| !ev[x].iv_err.is_empty())
                                        .map(|x| format!("; IVSHMEM unusable on rank {x}: {}", ev[x].iv_err))
                                        .unwrap_or_default();
                                    not_shm(format!("{why}{unusable}"))
                                }
                                Err(e) => not_shm(format!("{why}; {e}")),
                            },
                            None => {
                                let reason = if ev[a].same_container(&ev[b]) {
                                    "same /dev/shm (probe seen both ways)".to_string()
                                } else {
                                    "same /dev/shm across containers (probe seen both ways)"
                                        .to_string()
                                };
                                let cma = if !policy.smp_use_cma {
                                    Cma::Unavailable("MV2_SMP_USE_CMA=0".into())
                                } else if !ev[a].same_ns(&ev[b], "pid") {
                                    Cma::Unavailable("different PID namespace".into())
                                } else {
                                    match &views[a].cma[b] {
                                        None => Cma::Works,
                                        Some(why) => Cma::Unavailable(format!("CMA probe: {why}")),
                                    }
                                };
                                Verdict {
                                    channel: Channel::Shm,
                                    reason,
                                    cma,
                                }
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        Map {
            verdicts,
            domain_of,
            iv_region: region,
            iv_domain_of,
        }
    }

    /// How many ranks run on the same kernel as `me`.
    pub fn ranks_on_kernel(ev: &[Evidence], me: usize) -> usize {
        ev.iter().filter(|e| e.same_kernel(&ev[me])).count()
    }

    /// How many distinct cores the ranks on `me`'s kernel may use together (the
    /// union of their affinity masks): ranks pinned one per core are not
    /// oversubscribed even though each mask holds one core.
    pub fn cores_on_kernel(ev: &[Evidence], me: usize) -> usize {
        let mut all: Vec<usize> = ev
            .iter()
            .filter(|e| e.same_kernel(&ev[me]))
            .flat_map(|e| e.cpuset.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all.len().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(boot: &str, mnt: u64) -> Evidence {
        let mut e = Evidence::gather();
        e.boot_id = boot.into();
        e.ns = [1, 2, 3, mnt, 5, 6];
        e
    }

    fn view(seen: &[bool]) -> View {
        View {
            shm_seen: seen.to_vec(),
            cma: vec![None; seen.len()],
            iv_seen: vec![false; seen.len()],
            cma_code: String::new(),
        }
    }

    const ALL: Policy = Policy {
        use_shared_mem: true,
        cont_use_ipc: true,
        smp_use_cma: true,
        domain_split: None,
        use_ivshmem: true,
    };

    fn iv(e: &mut Evidence, uuid: u8, slot: u32, room: u64) {
        e.iv.push(IvCard {
            uuid: [uuid; 16],
            slot,
            nonce: 1,
            room,
        });
    }

    #[test]
    fn vms_sharing_a_region_use_ivshmem() {
        // two VMs (different kernels), two ranks each, one region
        let mut e = vec![ev("a", 4), ev("a", 4), ev("b", 4), ev("b", 4)];
        for x in e.iter_mut() {
            iv(x, 7, 1, 4 << 20);
        }
        let mut v = vec![
            view(&[true, true, false, false]),
            view(&[true, true, false, false]),
            view(&[false, false, true, true]),
            view(&[false, false, true, true]),
        ];
        for x in v.iter_mut() {
            x.iv_seen = vec![true; 4];
        }
        let m = Map::decide(ALL, &e, &v);
        assert_eq!(m.verdicts[0][1].channel, Channel::Shm);
        assert_eq!(m.verdicts[0][2].channel, Channel::Ivshmem);
        let r = &m.verdicts[0][2].reason;
        assert!(r.contains("slot 1: nonces seen both ways"), "{r}");
        assert_eq!(m.iv_domain_of[3], vec![0, 1, 2, 3]);
        assert_eq!(m.iv_region, Some([7; 16]));
        // policy off; a nonce not seen one way; a slot too small
        let off = Map::decide(
            Policy {
                use_ivshmem: false,
                ..ALL
            },
            &e,
            &v,
        );
        assert!(off.verdicts[0][2].reason.contains("MV2_VIRT_USE_IVSHMEM=0"));
        let mut v2 = v.clone();
        v2[2].iv_seen[0] = false;
        let m = Map::decide(ALL, &e, &v2);
        assert_eq!(m.verdicts[0][2].channel, Channel::Tcp);
        assert!(m.verdicts[0][2].reason.contains("not seen both ways"));
        let mut small = e.clone();
        for x in small.iter_mut() {
            x.iv[0].room = 1000;
        }
        let m = Map::decide(ALL, &small, &v);
        assert_eq!(m.verdicts[0][2].channel, Channel::Tcp);
        let r = &m.verdicts[0][2].reason;
        assert!(r.contains("slot is too small for 4 ranks"), "{r}");
        // no region: the plain reason, and a rank's reason it has none
        let mut lone = vec![ev("a", 4), ev("b", 4)];
        let lv = [view(&[true, false]), view(&[false, true])];
        let m = Map::decide(ALL, &lone, &lv);
        assert_eq!(
            m.verdicts[0][1].reason,
            "different kernel (boot id differs)"
        );
        lone[1].iv_err = "permission denied".into();
        let m = Map::decide(ALL, &lone, &lv);
        let r = &m.verdicts[0][1].reason;
        assert!(
            r.ends_with("IVSHMEM unusable on rank 1: permission denied"),
            "{r}"
        );
    }

    #[test]
    fn two_hosts_two_domains() {
        let e = vec![ev("a", 4), ev("a", 4), ev("b", 4), ev("b", 4)];
        let v = vec![
            view(&[true, true, false, false]),
            view(&[true, true, false, false]),
            view(&[false, false, true, true]),
            view(&[false, false, true, true]),
        ];
        let m = Map::decide(ALL, &e, &v);
        assert_eq!(m.domain_of[0], vec![0, 1]);
        assert_eq!(m.domain_of[3], vec![2, 3]);
        assert_eq!(m.verdicts[0][1].channel, Channel::Shm);
        assert_eq!(m.verdicts[1][2].channel, Channel::Tcp);
        assert!(m.verdicts[1][2].reason.contains("boot id"));
    }

    #[test]
    fn policies_and_asymmetry() {
        let e = vec![ev("a", 4), ev("a", 9)];
        let v = vec![view(&[true, true]), view(&[true, true])];
        let m = Map::decide(
            Policy {
                cont_use_ipc: false,
                ..ALL
            },
            &e,
            &v,
        );
        assert!(m.verdicts[0][1].reason.contains("MV2_CONT_USE_IPC=0"));
        let m = Map::decide(ALL, &e, &v);
        assert!(m.verdicts[0][1].reason.contains("across containers"));
        let m = Map::decide(
            Policy {
                use_shared_mem: false,
                ..ALL
            },
            &e,
            &v,
        );
        assert_eq!(m.verdicts[0][1].channel, Channel::Tcp);
        let m = Map::decide(ALL, &e, &[view(&[true, true]), view(&[false, true])]);
        assert!(m.verdicts[0][1].reason.contains("both ways"));
        let m = Map::decide(
            Policy {
                smp_use_cma: false,
                ..ALL
            },
            &e,
            &v,
        );
        assert_eq!(
            m.verdicts[0][1].cma,
            Cma::Unavailable("MV2_SMP_USE_CMA=0".into())
        );
    }

    #[test]
    fn domain_split_cuts_blocks() {
        let e = vec![ev("a", 4); 5];
        let v = vec![view(&[true; 5]); 5];
        let m = Map::decide(
            Policy {
                domain_split: Some(2),
                ..ALL
            },
            &e,
            &v,
        );
        assert_eq!(m.domain_of[0], vec![0, 1]);
        assert_eq!(m.domain_of[3], vec![2, 3]);
        assert_eq!(m.domain_of[4], vec![4]);
        assert!(m.verdicts[1][2].reason.contains("VMPI_SHM_DOMAIN_SPLIT=2"));
    }

    #[test]
    fn non_clique_falls_back() {
        // 0 sees 1, 1 sees 2, 0 does not see 2: no consistent domain.
        let e = vec![ev("a", 4), ev("a", 4), ev("a", 4)];
        let v = vec![
            view(&[true, true, false]),
            view(&[true, true, true]),
            view(&[false, true, true]),
        ];
        let m = Map::decide(ALL, &e, &v);
        assert_eq!(m.verdicts[0][1].channel, Channel::Tcp);
        assert!(m.verdicts[0][1].reason.contains("inconsistent"));
        assert_eq!(m.domain_of[1], vec![1]);
    }

    #[test]
    fn view_round_trip() {
        let v = View {
            shm_seen: vec![true, false, true, true, false],
            cma: vec![None, Some("x".into()), None, None, Some("y".into())],
            iv_seen: vec![false, true, true, false, true],
            cma_code: "process_vm_writev:EPERM".into(),
        };
        let d = View::decode(&v.encode(), 5).unwrap();
        assert_eq!(
            d.cma[1].as_deref(),
            Some("peer's CMA probe failed: process_vm_writev:EPERM")
        );
        // A view from before the code was published still decodes.
        let old = v.encode();
        let old = old.rsplit_once('/').unwrap().0;
        assert_eq!(
            View::decode(old, 5).unwrap().cma[4].as_deref(),
            Some("peer's CMA probe failed")
        );
        assert_eq!(d.shm_seen, v.shm_seen);
        assert_eq!(d.iv_seen, v.iv_seen);
        assert_eq!(
            d.cma.iter().map(|c| c.is_none()).collect::<Vec<_>>(),
            vec![true, false, true, true, false]
        );
    }
}
