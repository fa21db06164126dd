//! Runtime parameters: read once at init from the environment into one typed
//! [`Config`]. Names follow MVAPICH2 where the seeds name a parameter (`MV2_*`); new
//! ones start with `VMPI_`. Every parameter is listed in [`PARAMS`] (and documented in
//! docs/parameters.md); an unknown `MV2_`/`VMPI_` variable gets a warning, a bad value
//! a clear error.

use crate::error::{Error, ErrorClass, Result};
use std::path::PathBuf;

/// How the progress engine waits when there is nothing to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YieldMode {
    /// Yield the core when this kernel runs more ranks than we have cores.
    Auto,
    /// Always yield when idle.
    Always,
    /// Never yield: spin (lowest latency when every rank owns a core).
    Never,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `MV2_USE_SHARED_MEM`: use shared memory between ranks that share /dev/shm.
    pub use_shared_mem: bool,
    /// `MV2_SMP_USE_CMA`: use Cross Memory Attach for large shm messages.
    pub smp_use_cma: bool,
    /// `MV2_SMP_EAGERSIZE`: largest message sent eagerly over shared memory.
    pub smp_eager_size: usize,
    /// `MV2_CONT_USE_IPC`: use shared memory between ranks in different containers.
    pub cont_use_ipc: bool,
    /// `VMPI_CMA_SPLIT_MIN`: CMA messages at least this large are copied half by the
    /// receiver and half by the sender (0: the receiver copies everything). None:
    /// [`AUTO_CMA_SPLIT_MIN`] where every rank on the kernel has a core, off where
    /// ranks outnumber cores (a sender sharing a core with others, or sending to
    /// several receivers, is the bottleneck when it copies halves for each), except
    /// for a collective's receive with more pulls or copies after it (`CmaSplit`).
    pub cma_split_min: Option<usize>,
    /// `VMPI_CMA_MIN`: shm rendezvous messages smaller than this use the pipelined
    /// copy through the region even where CMA works (pinning pages costs more).
    pub cma_min: usize,
    /// `VMPI_TCP_EAGERSIZE`: largest message sent eagerly over TCP.
    pub tcp_eager_size: usize,
    /// `VMPI_SHM_RING_SIZE`: bytes per queue of the shm region (power of two).
    pub shm_ring_size: Option<u64>,
    /// `VMPI_SHM_DIR`: where shm probe files and regions live.
    pub shm_dir: PathBuf,
    /// `VMPI_COLL_SHM_SIZE`: bytes each rank may publish per blocking collective in
    /// a communicator's shared collective area (0: no areas; None: auto, see
    /// `coll::shm_area`).
    pub coll_shm_size: Option<usize>,
    /// `VMPI_UNEXPECTED_LIMIT`: bytes of unexpected eager data buffered per peer before
    /// the peer's channel is left undrained (flow control).
    pub unexpected_limit: usize,
    /// `VMPI_YIELD`: auto, always or never.
    pub yield_mode: YieldMode,
    /// `VMPI_VERBOSE`: print the channel of every pair at init (rank 0).
    pub verbose: bool,
    /// `VMPI_SHM_DOMAIN_SPLIT`: cut shm domains into blocks of N consecutive ranks.
    pub domain_split: Option<usize>,
    /// `MV2_VIRT_USE_IVSHMEM`: None (default) uses an IVSHMEM device when one is
    /// present; Some(true) requires one; Some(false) never uses one.
    pub use_ivshmem: Option<bool>,
    /// `MV2_VIRT_IVSHMEM_DEVICE`: the device (sysfs path, `resource2` file, PCI
    /// address, or a host file standing in for a device).
    pub ivshmem_device: Option<String>,
    /// `VMPI_IVSHMEM_FALLBACK=tcp`: a device that cannot be used (or a job that
    /// does not fit it) means TCP with the reason instead of an error.
    pub ivshmem_fallback_tcp: bool,
    /// `VMPI_TCP_IF`: the interfaces (names) and networks (CIDR) whose addresses
    /// go in this rank's TCP card; empty: every interface that is up.
    pub tcp_if: Vec<crate::transport::tcp::IfSelector>,
    /// `VMPI_LAUNCHER_ADDR` (set by vmpi-proxy): mpirun's address as this host
    /// reaches it; the address that routes there goes first in the TCP card.
    pub launcher_addr: Option<std::net::Ipv4Addr>,
    /// `VMPI_FINALIZE_WAIT`: how long MPI_Finalize waits for requests freed while
    /// active (MPI_Request_free) before it warns about each one left and finishes
    /// without them; None: wait for ever (as MPICH does).
    pub finalize_wait: Option<std::time::Duration>,
    /// `MV2_ENABLE_AFFINITY`, `MV2_CPU_BINDING_POLICY`, `MV2_CPU_BINDING_LEVEL`,
    /// `MV2_CPU_MAPPING`, `MV2_SHOW_CPU_BINDING` (`locality::binding`).
    pub binding: crate::locality::binding::Settings,
    /// `VMPI_BARRIER_ALGO`, `VMPI_BCAST_ALGO`, `VMPI_REDUCE_ALGO`,
    /// `VMPI_ALLREDUCE_ALGO`, `VMPI_ALLTOALL_ALGO`: algorithms forced on the
    /// collective planner (`coll::tuning` says what each one does).
    pub coll_algos: CollAlgos,
}

/// A collective algorithm: the names the `VMPI_*_ALGO` parameters use, and the
/// ones the planner picks without a name (`coll::tuning` is the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Auto,
    Dissemination,
    Binomial,
    ScatterAllgather,
    RecursiveDoubling,
    Rabenseifner,
    Ring,
    Bruck,
    Pairwise,
    Scattered,
    TwoLevel,
    /// Root to each rank in turn (gather, scatter and their v forms).
    Linear,
    /// A reduction to rank 0, then a scatterv (reduce_scatter with an operation
    /// that does not commute).
    ReduceThenScatter,
}

/// The algorithm each overridable collective is forced to (`Auto`: the table's
/// choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollAlgos {
    pub barrier: Algo,
    pub bcast: Algo,
    pub reduce: Algo,
    pub allreduce: Algo,
    pub alltoall: Algo,
}

impl Default for CollAlgos {
    fn default() -> Self {
        CollAlgos {
            barrier: Algo::Auto,
            bcast: Algo::Auto,
            reduce: Algo::Auto,
            allreduce: Algo::Auto,
            alltoall: Algo::Auto,
        }
    }
}

/// Each `VMPI_*_ALGO` parameter with the names it accepts (besides `auto`).
pub const ALGO_PARAMS: &[(&str, &[(&str, Algo)])] = &[
    (
        "VMPI_BARRIER_ALGO",
        &[
            ("dissemination", Algo::Dissemination),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_BCAST_ALGO",
        &[
            ("binomial", Algo::Binomial),
            ("scatter_allgather", Algo::ScatterAllgather),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_REDUCE_ALGO",
        &[("binomial", Algo::Binomial), ("two_level", Algo::TwoLevel)],
    ),
    (
        "VMPI_ALLREDUCE_ALGO",
        &[
            ("recursive_doubling", Algo::RecursiveDoubling),
            ("rabenseifner", Algo::Rabenseifner),
            ("ring", Algo::Ring),
            ("two_level", Algo::TwoLevel),
        ],
    ),
    (
        "VMPI_ALLTOALL_ALGO",
        &[
            ("bruck", Algo::Bruck),
            ("pairwise", Algo::Pairwise),
            ("scattered", Algo::Scattered),
        ],
    ),
];

impl CollAlgos {
    /// Set the parameter `name` (one of [`ALGO_PARAMS`]) to `value`.
    fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let (i, (_, allowed)) = ALGO_PARAMS
            .iter()
            .enumerate()
            .find(|(_, (n, _))| *n == name)
            .ok_or_else(|| Error::intern(format!("{name} is not an algorithm parameter")))?;
        let val = value.trim().to_ascii_lowercase();
        let algo = if val.is_empty() || val == "auto" {
            Algo::Auto
        } else {
            allowed
                .iter()
                .find(|(n, _)| *n == val)
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                    Error::new(
                        ErrorClass::Arg,
                        format!("{name}={value}: expected auto|{}", names.join("|")),
                    )
                })?
        };
        *[
            &mut self.barrier,
            &mut self.bcast,
            &mut self.reduce,
            &mut self.allreduce,
            &mut self.alltoall,
        ][i] = algo;
        Ok(())
    }
}

/// A parameter's name, default and meaning (the table users see).
pub struct Param {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// `VMPI_FINALIZE_WAIT` when unset, in seconds.
pub const DEFAULT_FINALIZE_WAIT: u64 = 10;

/// `VMPI_CMA_SPLIT_MIN` when unset and every rank on the kernel has a core.
pub const AUTO_CMA_SPLIT_MIN: usize = 128 << 10;

pub const PARAMS: &[Param] = &[
    Param { name: "MV2_USE_SHARED_MEM", default: "1", meaning: "use shared memory between ranks that share /dev/shm; 0 sends everything over TCP" },
    Param { name: "MV2_SMP_USE_CMA", default: "1", meaning: "use Cross Memory Attach (process_vm_readv/writev, probed at init) for large shared-memory messages" },
    Param { name: "MV2_SMP_EAGERSIZE", default: "16384", meaning: "largest message sent eagerly through shared memory (bytes, K/M suffixes)" },
    Param { name: "MV2_CONT_USE_IPC", default: "1", meaning: "use shared memory between ranks in different containers that share /dev/shm" },
    Param { name: "MV2_VIRT_USE_IVSHMEM", default: "auto", meaning: "IVSHMEM between co-resident VMs: auto uses an ivshmem-plain device (PCI 1af4:1110) when the VM has one, 1 requires one, 0 never uses one (docs/virtualization.md)" },
    Param { name: "MV2_VIRT_IVSHMEM_DEVICE", default: "", meaning: "the IVSHMEM device to use: a sysfs path, a resource2 file, a PCI address (00:04.0), or a host file standing in for one; default: every device found" },
    Param { name: "VMPI_IVSHMEM_FALLBACK", default: "error", meaning: "what a device that cannot be used (or a job too large for it) means: error (stop with the reason) or tcp (TCP between the VMs, the reason in vmpi-info --channels)" },
    Param { name: "MV2_ENABLE_AFFINITY", default: "1", meaning: "bind each rank to a core at MPI_Init when its host has a core for every local rank (docs/binding.md); 0 binds nothing" },
    Param { name: "MV2_CPU_BINDING_POLICY", default: "bunch", meaning: "bunch (fill socket 0's cores first) | scatter (round-robin over sockets) | hybrid (a block of OMP_NUM_THREADS cores per rank, or cores / local ranks)" },
    Param { name: "MV2_CPU_BINDING_LEVEL", default: "core", meaning: "what a placed rank is bound to: core | socket | numanode (all allowed cpus of its core's socket or NUMA node)" },
    Param { name: "MV2_CPU_MAPPING", default: "", meaning: "explicit cpus per local rank, ':' between ranks, ',' and '-' within one (0:1,2:4-7); overrides the policy" },
    Param { name: "MV2_SHOW_CPU_BINDING", default: "0", meaning: "print every rank's cpus at MPI_Init: 1 on rank 0's host, 2 on every host" },
    Param { name: "VMPI_TCP_EAGERSIZE", default: "65536", meaning: "largest message sent eagerly over TCP" },
    Param { name: "VMPI_CMA_MIN", default: "0", meaning: "shm rendezvous messages below this size use the pipelined copy even where CMA works" },
    Param { name: "VMPI_CMA_SPLIT_MIN", default: "auto", meaning: "CMA messages at least this large are copied half by each side (0: receiver copies all; auto: 128K, off when ranks outnumber cores)" },
    Param { name: "VMPI_SHM_RING_SIZE", default: "auto", meaning: "bytes of each rank's shared-memory inbox data area, which all local peers write into (power of two, 16K..64M); auto: the largest up to 2M whose region takes at most half of the free space in /dev/shm" },
    Param { name: "VMPI_SHM_DIR", default: "/dev/shm", meaning: "directory of shared-memory probe files and regions (any file system; not empty)" },
    Param { name: "VMPI_COLL_SHM_SIZE", default: "auto", meaning: "blocking collectives on a communicator inside one shm domain go through its shared collective area when each rank publishes at most this many bytes (0: never; auto: 64K on 2 ranks (bcast, scatter, allgather, alltoall and reduce up to 32K), else 1M / ranks between 4K and 256K; a bcast on 3 or more ranks goes in pieces of this size up to 1M)" },
    Param { name: "VMPI_UNEXPECTED_LIMIT", default: "4M", meaning: "unexpected eager bytes buffered per peer before its channel is left undrained" },
    Param { name: "VMPI_YIELD", default: "auto", meaning: "idle waiting: auto (yield when ranks outnumber cores), always, never" },
    Param { name: "VMPI_VERBOSE", default: "0", meaning: "rank 0 prints the channel of every pair and why at init" },
    Param { name: "VMPI_SHM_DOMAIN_SPLIT", default: "", meaning: "testing: cut shm domains into blocks of N consecutive world ranks (one host looks like several)" },
    Param { name: "VMPI_TCP_IF", default: "", meaning: "comma-separated interface names (eth0) or networks (10.0.0.0/8) whose addresses ranks publish for TCP (like Open MPI's btl_tcp_if_include); default: every interface that is up, the one that routes to mpirun first" },
    Param { name: "VMPI_LAUNCHER_ADDR", default: "(set by vmpi-proxy)", meaning: "mpirun's address as the rank's host reaches it: the interface that routes there goes first in the rank's TCP card" },
    Param { name: "VMPI_LAUNCHER", default: "ssh", meaning: "mpirun: how to start the proxies of other hosts: ssh, rsh, slurm, manual (srun inside a Slurm allocation); -launcher wins" },
    Param { name: "VMPI_LAUNCHER_EXEC", default: "", meaning: "mpirun: a command that starts the proxies of other hosts, given HOST COMMAND... like ssh; -launcher-exec wins" },
    Param { name: "VMPI_PROXY", default: "vmpi-proxy beside mpirun", meaning: "mpirun: the vmpi-proxy program to run on every host (the same path everywhere)" },
    Param { name: "VMPI_FINALIZE_WAIT", default: "10", meaning: "seconds MPI_Finalize waits for requests freed while still active (MPI_Request_free) before it prints a warning naming each one left (kind, peer, tag, size) and finishes without them; 0: wait for ever" },
    Param { name: "VMPI_BARRIER_ALGO", default: "auto", meaning: "dissemination | two_level (docs/collectives.md)" },
    Param { name: "VMPI_BCAST_ALGO", default: "auto", meaning: "binomial | scatter_allgather | two_level" },
    Param { name: "VMPI_REDUCE_ALGO", default: "auto", meaning: "binomial | two_level" },
    Param { name: "VMPI_ALLREDUCE_ALGO", default: "auto", meaning: "recursive_doubling | rabenseifner | ring | two_level" },
    Param { name: "VMPI_ALLTOALL_ALGO", default: "auto", meaning: "bruck | scattered | pairwise" },
];

/// Parse a boolean the way MVAPICH2 users write them.
pub fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" => Ok(true),
        "0" | "no" | "false" | "off" | "n" => Ok(false),
        _ => Err(Error::new(
            ErrorClass::Arg,
            format!("{name}={v}: expected a boolean: 1/0, yes/no, on/off, true/false"),
        )),
    }
}

/// Parse a byte count with an optional K, M or G (binary) suffix.
pub fn parse_size(name: &str, v: &str) -> Result<u64> {
    let t = v.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Error::new(
                ErrorClass::Arg,
                format!("{name}={v}: expected a byte count such as 8192, 64K or 4M"),
            )
        })
}

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<(Config, Vec<String>)> {
        Config::from_vars(std::env::vars())
    }

    /// Read the configuration from `vars`; also returns warnings to print.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>)> {
        let mut c = Config {
            use_shared_mem: true,
            smp_use_cma: true,
            smp_eager_size: 16384,
            cont_use_ipc: true,
            tcp_eager_size: 65536,
            cma_split_min: None,
            cma_min: 0,
            shm_ring_size: None,
            shm_dir: PathBuf::from("/dev/shm"),
            coll_shm_size: None,
            unexpected_limit: 4 << 20,
            yield_mode: YieldMode::Auto,
            verbose: false,
            domain_split: None,
            use_ivshmem: None,
            ivshmem_device: None,
            ivshmem_fallback_tcp: false,
            tcp_if: Vec::new(),
            launcher_addr: None,
            finalize_wait: Some(std::time::Duration::from_secs(DEFAULT_FINALIZE_WAIT)),
            binding: Default::default(),
            coll_algos: CollAlgos::default(),
        };
        let mut warnings = Vec::new();
        for (k, v) in vars {
            if !(k.starts_with("MV2_") || k.starts_with("VMPI_")) {
                continue;
            }
            match k.as_str() {
                "MV2_USE_SHARED_MEM" => c.use_shared_mem = parse_bool(&k, &v)?,
                "MV2_SMP_USE_CMA" => c.smp_use_cma = parse_bool(&k, &v)?,
                "MV2_SMP_EAGERSIZE" => c.smp_eager_size = parse_size(&k, &v)? as usize,
                "MV2_CONT_USE_IPC" => c.cont_use_ipc = parse_bool(&k, &v)?,
                "MV2_VIRT_USE_IVSHMEM" if v.trim() == "auto" => c.use_ivshmem = None,
                "MV2_VIRT_USE_IVSHMEM" => c.use_ivshmem = Some(parse_bool(&k, &v)?),
                "MV2_VIRT_IVSHMEM_DEVICE" => {
                    c.ivshmem_device = Some(v.trim().to_string()).filter(|d| !d.is_empty())
                }
                "VMPI_IVSHMEM_FALLBACK" => {
                    c.ivshmem_fallback_tcp = match v.trim() {
                        "tcp" => true,
                        "error" | "" => false,
                        _ => {
                            return Err(Error::new(
                                ErrorClass::Arg,
                                format!("{k}={v}: expected error or tcp"),
                            ))
                        }
                    }
                }
                "VMPI_TCP_EAGERSIZE" => c.tcp_eager_size = parse_size(&k, &v)? as usize,
                "VMPI_CMA_SPLIT_MIN" if v.trim() == "auto" => c.cma_split_min = None,
                "VMPI_CMA_SPLIT_MIN" => c.cma_split_min = Some(parse_size(&k, &v)? as usize),
                "VMPI_CMA_MIN" => c.cma_min = parse_size(&k, &v)? as usize,
                "VMPI_COLL_SHM_SIZE" => {
                    let s = parse_size(&k, &v)?;
                    if s > 16 << 20 {
                        return Err(Error::new(
                            ErrorClass::Arg,
                            format!("{k}={v}: expected a byte count up to 16M"),
                        ));
                    }
                    // Whole 128-byte line pairs, so that one rank's slot never
                    // shares a pair with the next rank's (the adjacent-line
                    // prefetcher moves lines in pairs).
                    c.coll_shm_size = Some((s as usize).next_multiple_of(128));
                }
                "VMPI_SHM_RING_SIZE" => {
                    let s = parse_size(&k, &v)?;
                    if !s.is_power_of_two() || !(16 << 10..=64 << 20).contains(&s) {
                        return Err(Error::new(
                            ErrorClass::Arg,
                            format!("{k}={v}: expected a power of two from 16K to 64M"),
                        ));
                    }
                    c.shm_ring_size = Some(s);
                }
                "VMPI_SHM_DIR" => {
                    // An empty value would put the files in the working directory.
                    if v.trim().is_empty() {
                        return Err(Error::new(
                            ErrorClass::Arg,
                            format!("{k} is set but empty: expected a directory (unset it for /dev/shm)"),
                        ));
                    }
                    c.shm_dir = PathBuf::from(v);
                }
                "VMPI_UNEXPECTED_LIMIT" => c.unexpected_limit = parse_size(&k, &v)? as usize,
                "VMPI_YIELD" => {
                    c.yield_mode = match v.as_str() {
                        "auto" => YieldMode::Auto,
                        "always" | "1" => YieldMode::Always,
                        "never" | "0" => YieldMode::Never,
                        _ => {
                            return Err(Error::new(
                                ErrorClass::Arg,
                                format!("{k}={v}: expected auto, always or never"),
                            ))
                        }
                    }
                }
                "VMPI_VERBOSE" => c.verbose = parse_bool(&k, &v)?,
                "VMPI_FINALIZE_WAIT" => match v.trim().parse::<f64>() {
                    Ok(0.0) => c.finalize_wait = None,
                    Ok(s) if s > 0.0 && s <= 1e9 => {
                        c.finalize_wait = Some(std::time::Duration::from_secs_f64(s))
                    }
                    _ => {
                        return Err(Error::new(
                            ErrorClass::Arg,
                            format!("{k}={v}: expected seconds (0: wait for ever)"),
                        ))
                    }
                },
                "VMPI_SHM_DOMAIN_SPLIT" => match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => c.domain_split = Some(n),
                    _ => {
                        return Err(Error::new(
                            ErrorClass::Arg,
                            format!("{k}={v}: expected a positive number of ranks"),
                        ))
                    }
                },
                _ if crate::locality::binding::NAMES.contains(&k.as_str()) => {
                    c.binding.set(&k, &v)?
                }
                _ if ALGO_PARAMS.iter().any(|(n, _)| *n == k) => c.coll_algos.set(&k, &v)?,
                "VMPI_TCP_IF" => {
                    c.tcp_if = v
                        .split(',')
                        .filter(|x| !x.trim().is_empty())
                        .map(|x| crate::transport::tcp::IfSelector::parse(x.trim()))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| Error::new(ErrorClass::Arg, format!("{k}={v}: {e}")))?;
                }
                "VMPI_LAUNCHER_ADDR" => {
                    c.launcher_addr = Some(v.trim().parse().map_err(|_| {
                        Error::new(
                            ErrorClass::Arg,
                            format!("{k}={v}: expected an IPv4 address"),
                        )
                    })?)
                }
                // mpirun's own parameters: they reach the ranks with its environment.
                "VMPI_LAUNCHER" | "VMPI_LAUNCHER_EXEC" | "VMPI_PROXY" => {}
                _ => warnings.push(format!(
                    "unknown parameter {k} ignored (see docs/parameters.md)"
                )),
            }
        }
        Ok((c, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let (c, w) = Config::from_vars(vars(&[
            ("MV2_SMP_USE_CMA", "0"),
            ("MV2_SMP_EAGERSIZE", "32K"),
            ("PATH", "/bin"),
        ]))
        .unwrap();
        assert!(!c.smp_use_cma && c.use_shared_mem);
        assert_eq!(c.smp_eager_size, 32768);
        assert!(w.is_empty());
    }

    #[test]
    fn finalize_wait() {
        use std::time::Duration;
        let wait = |v: &str| {
            Config::from_vars(vars(&[("VMPI_FINALIZE_WAIT", v)])).map(|c| c.0.finalize_wait)
        };
        assert_eq!(
            Config::from_vars(vars(&[])).unwrap().0.finalize_wait,
            Some(Duration::from_secs(10))
        );
        assert_eq!(wait("0").unwrap(), None);
        assert_eq!(wait("1.5").unwrap(), Some(Duration::from_millis(1500)));
        for bad in ["-1", "soon", "", "inf", "NaN"] {
            assert!(
                wait(bad).unwrap_err().message.contains("expected seconds"),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_warns_and_bad_value_errors() {
        let (_, w) = Config::from_vars(vars(&[
            ("MV2_NO_SUCH", "1"),
            ("VMPI_BCAST_ALGO", "binomial"),
        ]))
        .unwrap();
        assert_eq!(w.len(), 1);
        assert!(Config::from_vars(vars(&[("VMPI_BCAST_ALGO", "fastest")]))
            .unwrap_err()
            .message
            .contains("binomial"));
        assert!(w[0].contains("MV2_NO_SUCH"));
        let e = Config::from_vars(vars(&[("MV2_USE_SHARED_MEM", "maybe")])).unwrap_err();
        assert!(e.message.contains("MV2_USE_SHARED_MEM=maybe"));
        // The error lists every spelling that works.
        for w in ["1/0", "yes/no", "on/off", "true/false"] {
            assert!(e.message.contains(w), "{}", e.message);
        }
        for v in ["", "  "] {
            let e = Config::from_vars(vars(&[("VMPI_SHM_DIR", v)])).unwrap_err();
            assert!(
                e.message.contains("VMPI_SHM_DIR is set but empty"),
                "{}",
                e.message
            );
        }
        let e = Config::from_vars(vars(&[("VMPI_SHM_RING_SIZE", "100000")])).unwrap_err();
        assert!(e.message.contains("power of two"));
        let (c, _) = Config::from_vars(vars(&[("VMPI_TCP_IF", "eth0,10.0.0.0/8")])).unwrap();
        assert_eq!(c.tcp_if.len(), 2);
        assert!(Config::from_vars(vars(&[("VMPI_TCP_IF", "10.0.0.0/40")])).is_err());
        assert!(Config::from_vars(vars(&[("VMPI_LAUNCHER_ADDR", "h1")])).is_err());
        let (c, _) = Config::from_vars(vars(&[
            ("MV2_VIRT_USE_IVSHMEM", "1"),
            ("MV2_VIRT_IVSHMEM_DEVICE", "00:04.0"),
            ("VMPI_IVSHMEM_FALLBACK", "tcp"),
        ]))
        .unwrap();
        assert_eq!(c.use_ivshmem, Some(true));
        assert_eq!(c.ivshmem_device.as_deref(), Some("00:04.0"));
        assert!(c.ivshmem_fallback_tcp);
        assert!(Config::from_vars(vars(&[("VMPI_IVSHMEM_FALLBACK", "udp")])).is_err());
    }
}
