//! What one rank can say about where it runs: kernel boot id, namespace inodes, pid,
//! hostname (for messages only, never for decisions), usable cores, and the handles
//! its peers need for the probes (shm probe nonce, CMA probe address and word).
//! Encoded as one PMI value (the "card").

use crate::error::{Error, Result};
use std::os::unix::fs::MetadataExt;

/// Namespaces whose identity we compare, in card order.
pub const NAMESPACES: [&str; 6] = ["ipc", "pid", "net", "mnt", "uts", "user"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub boot_id: String,
    /// Inode of `/proc/self/ns/<name>` for each of [`NAMESPACES`] (0 when unreadable).
    pub ns: [u64; 6],
    pub pid: u32,
    pub hostname: String,
    /// Cores this rank may run on.
    /// The cores this rank may run on (its affinity mask), as CPU numbers.
    pub cpuset: Vec<usize>,
    /// Nonce in this rank's /dev/shm probe file (0 when shared memory is off).
    pub shm_nonce: u64,
    /// Address and content of this rank's CMA probe word.
    pub cma_addr: u64,
    pub cma_word: [u8; 16],
    /// TCP addresses (the TCP channel's card).
    pub tcp: String,
    /// The IVSHMEM regions this rank joined: region UUID, the job's slot there,
    /// the nonce this rank wrote into it, and the slot's room for queues.
    pub iv: Vec<IvCard>,
    /// Why this rank uses no IVSHMEM region although it has a device (with
    /// `VMPI_IVSHMEM_FALLBACK=tcp`), for the verdicts' reasons.
    pub iv_err: String,
}

/// One IVSHMEM region a rank joined (see `transport::ivshmem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvCard {
    pub uuid: [u8; 16],
    pub slot: u32,
    pub nonce: u64,
    pub room: u64,
}

/// CPU numbers as compact ranges: `0-3,8,10-11`.
fn ranges(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn parse_ranges(s: &str) -> Option<Vec<usize>> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                v.extend(a..=b);
            }
            None => v.push(part.parse().ok()?),
        }
    }
    Some(v)
}

/// Free text in a card (which PMI carries as one word): space, `;`, `%` and what
/// is not printable ASCII percent-encoded, at most `max` characters of `s`.
fn escape(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| match c {
            ' ' => "%20".to_string(),
            ';' => "%3B".to_string(),
            '%' => "%25".to_string(),
            // PMI-1 servers disagree on backslashes (MPICH 4's escape, Hydra 4.0
            // does not unescape), so a card carries none.
            '\\' => "%5C".to_string(),
            c if c.is_ascii_graphic() => c.to_string(),
            _ => "%3F".to_string(),
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && s.is_char_boundary(i + 3) {
            if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

impl Evidence {
    /// Gather this process's evidence (probe handles and TCP card filled by the caller).
    pub fn gather() -> Evidence {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let mut ns = [0u64; 6];
        for (i, n) in NAMESPACES.iter().enumerate() {
            ns[i] = std::fs::metadata(format!("/proc/self/ns/{n}"))
                .map(|m| m.ino())
                .unwrap_or(0);
        }
        let hostname = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "?".into());
        let cpuset: Vec<usize> = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .map(|set| {
                (0..nix::sched::CpuSet::count())
                    .filter(|&i| set.is_set(i).unwrap_or(false))
                    .collect()
            })
            .unwrap_or_default();
        Evidence {
            boot_id,
            ns,
            pid: std::process::id(),
            hostname,
            cpuset,
            shm_nonce: 0,
            cma_addr: 0,
            cma_word: [0; 16],
            tcp: String::new(),
            iv: Vec::new(),
            iv_err: String::new(),
        }
    }

    pub fn same_kernel(&self, o: &Evidence) -> bool {
        self.boot_id == o.boot_id && self.boot_id != "unknown"
    }

    pub fn same_ns(&self, o: &Evidence, name: &str) -> bool {
        let i = NAMESPACES
            .iter()
            .position(|n| *n == name)
            .expect("known namespace");
        self.same_kernel(o) && self.ns[i] == o.ns[i] && self.ns[i] != 0
    }

    /// Same container: the namespaces Docker gives each container (mount, UTS, net).
    pub fn same_container(&self, o: &Evidence) -> bool {
        self.same_ns(o, "mnt") && self.same_ns(o, "uts") && self.same_ns(o, "net")
    }

    /// The card: `;`-separated `key:value`, no spaces.
    pub fn encode(&self) -> String {
        let host: String = self
            .hostname
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() && c != ';' && c != '\\' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let iv: Vec<String> = self
            .iv
            .iter()
            .map(|c| format!("{}/{}/{:x}/{:x}", hex(&c.uuid), c.slot, c.nonce, c.room))
            .collect();
        format!(
            "v1;boot:{};ns:{};pid:{};host:{};cpuset:{};shm:{:x};cma:{:x}/{};tcp:{};iv:{};ivno:{}",
            self.boot_id,
            self.ns
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(","),
            self.pid,
            host,
            ranges(&self.cpuset),
            self.shm_nonce,
            self.cma_addr,
            hex(&self.cma_word),
            self.tcp,
            iv.join(","),
            escape(&self.iv_err, 160)
        )
    }

    pub fn decode(card: &str, rank: usize) -> Result<Evidence> {
        let bad = |what: &str| {
            Error::other(format!(
                "MPI_Init: rank {rank} published a bad locality card ({what}): {card:?}"
            ))
        };
        let mut e = Evidence {
            boot_id: String::new(),
            ns: [0; 6],
            pid: 0,
            hostname: String::new(),
            cpuset: Vec::new(),
            shm_nonce: 0,
            cma_addr: 0,
            cma_word: [0; 16],
            tcp: String::new(),
            iv: Vec::new(),
            iv_err: String::new(),
        };
        let mut fields = card.split(';');
        if fields.next() != Some("v1") {
            return Err(bad("version; mixed vmpi versions in one job?"));
        }
        for f in fields {
            let (k, v) = f.split_once(':').ok_or_else(|| bad("field"))?;
            match k {
                "boot" => e.boot_id = v.to_string(),
                "ns" => {
                    let parts: Vec<u64> = v
                        .split(',')
                        .map(|x| x.parse().map_err(|_| bad("ns")))
                        .collect::<Result<_>>()?;
                    if parts.len() != 6 {
                        return Err(bad("ns count"));
                    }
                    e.ns.copy_from_slice(&parts);
                }
                "pid" => e.pid = v.parse().map_err(|_| bad("pid"))?,
                "host" => e.hostname = v.to_string(),
                "cpuset" => e.cpuset = parse_ranges(v).ok_or_else(|| bad("cpuset"))?,
                "shm" => e.shm_nonce = u64::from_str_radix(v, 16).map_err(|_| bad("shm"))?,
                "cma" => {
                    let (a, w) = v.split_once('/').ok_or_else(|| bad("cma"))?;
                    e.cma_addr = u64::from_str_radix(a, 16).map_err(|_| bad("cma addr"))?;
                    let w = unhex(w)
                        .filter(|w| w.len() == 16)
                        .ok_or_else(|| bad("cma word"))?;
                    e.cma_word.copy_from_slice(&w);
                }
                "tcp" => e.tcp = v.to_string(),
                "ivno" => e.iv_err = unescape(v),
                "iv" => {
                    for c in v.split(',').filter(|c| !c.is_empty()).take(8) {
                        let f: Vec<&str> = c.split('/').collect();
                        let uuid = f.first().and_then(|u| unhex(u)).filter(|u| u.len() == 16);
                        let (Some(uuid), [_, slot, nonce, room]) = (uuid, f.as_slice()) else {
                            return Err(bad("iv"));
                        };
                        let mut u = [0u8; 16];
                        u.copy_from_slice(&uuid);
                        e.iv.push(IvCard {
                            uuid: u,
                            slot: slot.parse().map_err(|_| bad("iv slot"))?,
                            nonce: u64::from_str_radix(nonce, 16).map_err(|_| bad("iv nonce"))?,
                            room: u64::from_str_radix(room, 16).map_err(|_| bad("iv room"))?,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_round_trip() {
        let mut e = Evidence::gather();
        e.shm_nonce = 0xdead;
        e.cma_addr = 0x7fff1234;
        e.cma_word = [7; 16];
        e.tcp = "127.0.0.1:5000".into();
        e.iv = vec![IvCard {
            uuid: [9; 16],
            slot: 2,
            nonce: 0xfeed,
            room: 1 << 22,
        }];
        e.iv_err = "cannot open x: permission denied; 100%".into();
        let card = e.encode();
        assert!(!card.contains(' ') && card.len() < 800);
        assert_eq!(Evidence::decode(&card, 0).unwrap(), e);
        assert!(Evidence::decode("v9;x", 3)
            .unwrap_err()
            .message
            .contains("rank 3"));
        assert!(e.same_container(&e) && e.same_kernel(&e));
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(parse_ranges("0-2,5,7-8").unwrap(), vec![0, 1, 2, 5, 7, 8]);
        assert!(parse_ranges("3-1").is_none());
    }
}
