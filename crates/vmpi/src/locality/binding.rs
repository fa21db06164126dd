//! CPU binding at `MPI_Init`, as MVAPICH2 does it: each rank is bound to a core of
//! its host when the host has a core for every local rank, and left alone when the
//! host is oversubscribed, when Slurm bound it already, or when the user says
//! `MV2_ENABLE_AFFINITY=0` (docs/binding.md).
//!
//! This file is the pure part: the parameters ([`Settings`]), the launcher's facts
//! ([`Launch`]), a topology model ([`Topology`]: one entry per hardware thread) and
//! the decision ([`decide`], [`plan`]), all tested on synthetic machines. The thin
//! part that reads the real topology (hwloc) and calls `sched_setaffinity` is
//! [`system`].

pub mod system;

use crate::error::{Error, ErrorClass, Result};
use crate::locality::Evidence;

/// `MV2_CPU_BINDING_POLICY`: how ranks are placed on cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Fill the cores in order: socket 0 first, then socket 1.
    Bunch,
    /// Round-robin over the sockets (NUMA nodes at level `numanode`).
    Scatter,
    /// Each rank gets a block of consecutive cores for its threads:
    /// `OMP_NUM_THREADS` cores, or all cores / local ranks when unset.
    Hybrid,
}

/// `MV2_CPU_BINDING_LEVEL`: what a rank is bound to once it has a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The hardware threads of its cores.
    Core,
    /// Every allowed hardware thread of the sockets of its cores.
    Socket,
    /// Every allowed hardware thread of the NUMA nodes of its cores.
    NumaNode,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Bunch => "bunch",
            Policy::Scatter => "scatter",
            Policy::Hybrid => "hybrid",
        }
    }
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Core => "core",
            Level::Socket => "socket",
            Level::NumaNode => "numanode",
        }
    }
}

/// The binding parameters (read with the others by `Config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `MV2_ENABLE_AFFINITY`.
    pub enable: bool,
    /// `MV2_CPU_BINDING_POLICY`.
    pub policy: Policy,
    /// `MV2_CPU_BINDING_LEVEL`.
    pub level: Level,
    /// `MV2_CPU_MAPPING`: the cpus of each local rank (wrapping around when there are
    /// more local ranks than entries), and the text as given (for messages).
    pub mapping: Option<(Vec<Vec<usize>>, String)>,
    /// `MV2_SHOW_CPU_BINDING`: 0 no, 1 the host of rank 0, 2 every host.
    pub show: u8,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            enable: true,
            policy: Policy::Bunch,
            level: Level::Core,
            mapping: None,
            show: 0,
        }
    }
}

/// The parameters this module owns (their table rows live in `config::PARAMS`).
pub const NAMES: [&str; 5] = [
    "MV2_ENABLE_AFFINITY",
    "MV2_CPU_BINDING_POLICY",
    "MV2_CPU_BINDING_LEVEL",
    "MV2_CPU_MAPPING",
    "MV2_SHOW_CPU_BINDING",
];

fn bad(name: &str, v: &str, expected: &str) -> Error {
    Error::new(ErrorClass::Arg, format!("{name}={v}: expected {expected}"))
}

impl Settings {
    /// Take one parameter of [`NAMES`]; a bad value is an error naming it.
    pub fn set(&mut self, name: &str, v: &str) -> Result<()> {
        let t = v.trim().to_ascii_lowercase();
        match name {
            "MV2_ENABLE_AFFINITY" => self.enable = crate::config::parse_bool(name, v)?,
            "MV2_CPU_BINDING_POLICY" => {
                self.policy = match t.as_str() {
                    "bunch" => Policy::Bunch,
                    "scatter" => Policy::Scatter,
                    "hybrid" => Policy::Hybrid,
                    _ => return Err(bad(name, v, "bunch, scatter or hybrid")),
                }
            }
            "MV2_CPU_BINDING_LEVEL" => {
                self.level = match t.as_str() {
                    "core" => Level::Core,
                    "socket" => Level::Socket,
                    "numanode" => Level::NumaNode,
                    _ => return Err(bad(name, v, "core, socket or numanode")),
                }
            }
            "MV2_CPU_MAPPING" => self.mapping = Some((parse_mapping(name, v)?, v.to_string())),
            "MV2_SHOW_CPU_BINDING" => {
                self.show = match t.as_str() {
                    "0" | "no" | "false" | "off" => 0,
                    "1" | "yes" | "true" | "on" => 1,
                    "2" | "all" => 2,
                    _ => return Err(bad(name, v, "0, 1 (the host of rank 0) or 2 (every host)")),
                }
            }
            _ => unreachable!("{name} is not a binding parameter"),
        }
        Ok(())
    }
}

/// Largest cpu number accepted in `MV2_CPU_MAPPING` (the kernel's `CPU_SETSIZE`).
pub const MAX_CPU: usize = 1023;

/// Parse `MV2_CPU_MAPPING`: local ranks separated by `:`, each a list of cpus and
/// ranges (`0:1,2:4-7`).
pub fn parse_mapping(name: &str, v: &str) -> Result<Vec<Vec<usize>>> {
    let expected =
        "cpu lists of the local ranks separated by ':', such as 0:1 or 0-3:4-7 or 0,2:1,3";
    let mut out = Vec::new();
    for (i, entry) in v.trim().split(':').enumerate() {
        let what = |e: String| {
            Error::new(
                ErrorClass::Arg,
                format!("{name}={v}: local rank {i}: {e} ({expected})"),
            )
        };
        if entry.trim().is_empty() {
            return Err(what("no cpu given".into()));
        }
        let mut cpus = Vec::new();
        for part in entry.split(',') {
            let num = |s: &str| -> Result<usize> {
                match s.trim().parse::<usize>() {
                    Ok(c) if c <= MAX_CPU => Ok(c),
                    Ok(c) => Err(what(format!("cpu {c} is above {MAX_CPU}"))),
                    Err(_) => Err(what(format!("{:?} is not a cpu number", s.trim()))),
                }
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if b < a {
                        return Err(what(format!("range {a}-{b} runs backwards")));
                    }
                    cpus.extend(a..=b);
                }
                None => cpus.push(num(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        out.push(cpus);
    }
    Ok(out)
}

/// Where the local rank and count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `MPI_LOCALRANKID` / `MPI_LOCALNRANKS` (our mpirun, MPICH's Hydra).
    Mpi,
    /// `SLURM_LOCALID` and `SLURM_STEP_TASKS_PER_NODE` (srun).
    Slurm,
}

/// What the launcher says about this rank's place on its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// (local rank, local ranks), when a launcher said.
    pub local: Option<(usize, usize, Source)>,
    /// `SLURM_CPU_BIND_TYPE` (or `SLURM_CPU_BIND`) as set, when set.
    pub slurm_cpu_bind: Option<(String, String)>,
}

/// Expand Slurm's compressed task counts (`2(x3),1` = 2,2,2,1).
pub fn slurm_counts(s: &str) -> Option<Vec<usize>> {
    let mut v = Vec::new();
    for part in s.split(',') {
        match part.split_once("(x") {
            Some((n, rep)) => {
                let n: usize = n.trim().parse().ok()?;
                let rep: usize = rep.strip_suffix(')')?.parse().ok()?;
                if rep > 1 << 20 {
                    return None;
                }
                v.extend(std::iter::repeat_n(n, rep));
            }
            None => v.push(part.trim().parse().ok()?),
        }
    }
    Some(v)
}

impl Launch {
    /// Read the launcher's variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Launch {
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<usize>().ok());
        let mut local = match (num("MPI_LOCALRANKID"), num("MPI_LOCALNRANKS")) {
            (Some(r), Some(n)) if r < n => Some((r, n, Source::Mpi)),
            _ => None,
        };
        if local.is_none() {
            if let Some(r) = num("SLURM_LOCALID") {
                let node = num("SLURM_NODEID").unwrap_or(0);
                let n = ["SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"]
                    .iter()
                    .find_map(|k| get(k).and_then(|v| slurm_counts(&v)))
                    .and_then(|c| c.get(node).copied())
                    .or_else(|| num("SLURM_NTASKS_PER_NODE"));
                local = n.filter(|&n| r < n).map(|n| (r, n, Source::Slurm));
            }
        }
        let slurm_cpu_bind = ["SLURM_CPU_BIND_TYPE", "SLURM_CPU_BIND"]
            .iter()
            .find_map(|k| {
                get(k)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (k.to_string(), v))
            });
        Launch {
            local,
            slurm_cpu_bind,
        }
    }

    /// Some(true): Slurm says it bound the task; Some(false): Slurm says it did not
    /// (`none`); None: Slurm said nothing.
    pub fn slurm_bound(&self) -> Option<bool> {
        const TYPES: [&str; 13] = [
            "mask_cpu",
            "map_cpu",
            "rank",
            "rank_ldom",
            "map_ldom",
            "mask_ldom",
            "sockets",
            "cores",
            "threads",
            "ldoms",
            "boards",
            "socket",
            "core",
        ];
        let (_, v) = self.slurm_cpu_bind.as_ref()?;
        let mut none = false;
        for tok in v.split(',') {
            let ty = tok
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if ty == "none" || ty == "no" {
                none = true;
            } else if TYPES.contains(&ty.as_str()) {
                return Some(true);
            }
        }
        none.then_some(false)
    }
}

/// One hardware thread (a "PU") of the machine, in topology order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pu {
    /// Its CPU number (what affinity masks hold).
    pub cpu: usize,
    /// Index of its core (unique in the machine).
    pub core: usize,
    /// Index of its socket (package).
    pub socket: usize,
    /// Index of its NUMA node.
    pub numa: usize,
}

/// The machine as binding sees it: every hardware thread the topology shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub pus: Vec<Pu>,
}

impl Topology {
    /// A synthetic machine (tests): `sockets` x `cores` x `threads`, `numa` NUMA
    /// nodes per socket, numbered as Linux numbers most x86 machines: the first
    /// thread of every core first (cpu = thread * all cores + core).
    pub fn synthetic(sockets: usize, cores: usize, threads: usize, numa: usize) -> Topology {
        let all = sockets * cores;
        let mut pus = Vec::new();
        for s in 0..sockets {
            for c in 0..cores {
                for t in 0..threads {
                    let core = s * cores + c;
                    pus.push(Pu {
                        cpu: t * all + core,
                        core,
                        socket: s,
                        numa: s * numa + c * numa / cores,
                    });
                }
            }
        }
        Topology { pus }
    }

    /// Every cpu of the machine.
    pub fn cpus(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.pus.iter().map(|p| p.cpu).collect();
        v.sort_unstable();
        v
    }
}

/// What binding did, or why it did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bind to these cpus; `how` says by which rule (for MV2_SHOW_CPU_BINDING).
    Bind { cpus: Vec<usize>, how: String },
    /// Leave the affinity as it is, for this reason.
    Leave(String),
}

/// CPU numbers as compact ranges: `0-3,8`.
pub fn ranges(cpus: &[usize]) -> String {
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

/// Decide this rank's binding. `affinity`: the cpus it may run on now
/// (`sched_getaffinity`); `topology` is loaded only when needed (it returns the
/// machine and the cpus its cgroup allows, or why it could not). `threads`:
/// `OMP_NUM_THREADS` (the hybrid policy's cores per rank).
pub fn decide(
    s: &Settings,
    launch: &Launch,
    affinity: &[usize],
    threads: Option<usize>,
    topology: impl FnOnce() -> std::result::Result<(Topology, Vec<usize>), String>,
) -> Result<Decision> {
    if !s.enable {
        return Ok(Decision::Leave("MV2_ENABLE_AFFINITY=0".into()));
    }
    let Some((me, n, source)) = launch.local else {
        return Ok(Decision::Leave(
            "no launcher said the local rank (MPI_LOCALRANKID or SLURM_LOCALID)".into(),
        ));
    };
    let slurm = launch.slurm_bound();
    if slurm == Some(true) {
        let (k, v) = launch.slurm_cpu_bind.as_ref().expect("set");
        return Ok(Decision::Leave(format!("Slurm bound the task ({k}={v})")));
    }
    let (topo, allowed) = match topology() {
        Ok(t) => t,
        Err(why) => return Ok(Decision::Leave(format!("no topology: {why}"))),
    };
    // Slurm may bind without saying so in SLURM_CPU_BIND*: a task whose affinity is
    // narrower than the cores its node allows was bound (unless Slurm said `none`).
    if source == Source::Slurm && slurm.is_none() && allowed.iter().any(|c| !affinity.contains(c)) {
        return Ok(Decision::Leave(format!(
            "Slurm bound the task (its cpus {} are fewer than the node's {})",
            ranges(affinity),
            ranges(&allowed)
        )));
    }
    let mut usable: Vec<usize> = affinity
        .iter()
        .copied()
        .filter(|c| allowed.contains(c) && topo.pus.iter().any(|p| p.cpu == *c))
        .collect();
    usable.sort_unstable();
    usable.dedup();
    if usable.is_empty() {
        return Ok(Decision::Leave(format!(
            "none of this rank's cpus ({}) is in the topology's allowed set ({})",
            ranges(affinity),
            ranges(&allowed)
        )));
    }
    Ok(match plan(&topo, &usable, s, n, threads)? {
        Ok(mut sets) => Decision::Bind {
            cpus: std::mem::take(&mut sets[me]),
            how: match &s.mapping {
                Some((_, text)) => format!("MV2_CPU_MAPPING={text}"),
                None => format!(
                    "policy {}, level {}, {n} local ranks on {} cores",
                    s.policy.name(),
                    s.level.name(),
                    cores_of(&topo, &usable).len()
                ),
            },
        },
        Err(why) => Decision::Leave(why),
    })
}

/// The usable cores in topology order, each with its usable cpus.
fn cores_of(topo: &Topology, usable: &[usize]) -> Vec<(Pu, Vec<usize>)> {
    let mut cores: Vec<(Pu, Vec<usize>)> = Vec::new();
    for p in &topo.pus {
        if !usable.contains(&p.cpu) {
            continue;
        }
        match cores.iter_mut().find(|(c, _)| c.core == p.core) {
            Some((_, cpus)) => cpus.push(p.cpu),
            None => cores.push((*p, vec![p.cpu])),
        }
    }
    cores
}

/// The cpus of every local rank (`n` of them) under the policy, using only
/// `usable` cpus: Ok(sets), or Ok(Err(why)) when the ranks outnumber the cores (no
/// binding), or an error when `MV2_CPU_MAPPING` names a cpu this rank may not use.
pub fn plan(
    topo: &Topology,
    usable: &[usize],
    s: &Settings,
    n: usize,
    threads: Option<usize>,
) -> Result<std::result::Result<Vec<Vec<usize>>, String>> {
    if let Some((map, text)) = &s.mapping {
        let mut sets = Vec::with_capacity(n);
        for r in 0..n {
            let cpus = &map[r % map.len()];
            if let Some(c) = cpus.iter().find(|c| !usable.contains(c)) {
                return Err(Error::new(
                    ErrorClass::Arg,
                    format!(
                        "MV2_CPU_MAPPING={text}: cpu {c} (local rank {r}) is not one this rank may use (allowed: {})",
                        ranges(usable)
                    ),
                ));
            }
            sets.push(cpus.clone());
        }
        return Ok(Ok(sets));
    }
    let cores = cores_of(topo, usable);
    if n > cores.len() {
        return Ok(Err(format!(
            "oversubscribed: {n} local ranks, {} cores",
            cores.len()
        )));
    }
    // The domain that scatter spreads over.
    let domain = |p: &Pu| match s.level {
        Level::NumaNode => p.numa,
        _ => p.socket,
    };
    // Each rank's cores, as indices into `cores`.
    let picks: Vec<Vec<usize>> = match s.policy {
        Policy::Bunch => (0..n).map(|r| vec![r]).collect(),
        Policy::Hybrid => {
            let most = cores.len() / n;
            let k = threads.unwrap_or(most).clamp(1, most);
            (0..n).map(|r| (r * k..(r + 1) * k).collect()).collect()
        }
        Policy::Scatter => {
            let mut domains: Vec<(usize, Vec<usize>)> = Vec::new();
            for (i, (p, _)) in cores.iter().enumerate() {
                match domains.iter_mut().find(|(d, _)| *d == domain(p)) {
                    Some((_, v)) => v.push(i),
                    None => domains.push((domain(p), vec![i])),
                }
            }
            let mut next = vec![0usize; domains.len()];
            let mut picks = Vec::with_capacity(n);
            let mut d = 0;
            while picks.len() < n {
                if next[d] < domains[d].1.len() {
                    picks.push(vec![domains[d].1[next[d]]]);
                    next[d] += 1;
                }
                d = (d + 1) % domains.len();
            }
            picks
        }
    };
    let sets = picks
        .iter()
        .map(|mine| {
            let mut cpus: Vec<usize> = match s.level {
                Level::Core => mine
                    .iter()
                    .flat_map(|&i| cores[i].1.iter().copied())
                    .collect(),
                Level::Socket | Level::NumaNode => {
                    let key = |p: &Pu| match s.level {
                        Level::Socket => p.socket,
                        _ => p.numa,
                    };
                    let keys: Vec<usize> = mine.iter().map(|&i| key(&cores[i].0)).collect();
                    topo.pus
                        .iter()
                        .filter(|p| keys.contains(&key(p)) && usable.contains(&p.cpu))
                        .map(|p| p.cpu)
                        .collect()
                }
            };
            cpus.sort_unstable();
            cpus
        })
        .collect();
    Ok(Ok(sets))
}

/// MV2_SHOW_CPU_BINDING's table for the ranks on `me`'s kernel, or None when `me`
/// does not print it (the lowest rank on each kernel prints, on every kernel with
/// `show` 2, on rank 0's with 1). Each line shows the cpus the rank's card holds:
/// its affinity after binding.
pub fn show_table(show: u8, decision: &Decision, ev: &[Evidence], me: usize) -> Option<String> {
    let here: Vec<usize> = (0..ev.len())
        .filter(|&r| ev[r].same_kernel(&ev[me]) || r == me)
        .collect();
    let printer = here[0] == me && (show == 2 || (show == 1 && here.contains(&0)));
    if !printer {
        return None;
    }
    let binding = match decision {
        Decision::Bind { how, .. } => format!("bound ({how})"),
        Decision::Leave(why) => format!("none ({why})"),
    };
    let mut s = String::from("-------------CPU AFFINITY-------------\n");
    s += &format!("HOST: {}  BINDING: {binding}\n", ev[me].hostname);
    for r in here {
        let cpus: String = ev[r].cpuset.iter().map(|c| format!("{c:4}")).collect();
        s += &format!("RANK:{r}  CPU_SET:{cpus}\n");
    }
    s += "-------------------------------------\n";
    Some(s)
}

/// A warning when the launcher counted fewer ranks on this host than share this
/// kernel (containers on one host, each a "host" to the launcher) and this rank's
/// binding overlaps another's there: each container's ranks were placed without
/// knowing of the others. Printed by the overlapping rank of local rank 0.
pub fn shared_kernel_warning(
    decision: &Decision,
    launch: &Launch,
    ev: &[Evidence],
    me: usize,
) -> Option<String> {
    let Decision::Bind { cpus, .. } = decision else {
        return None;
    };
    let (local, n, _) = launch.local?;
    let here: Vec<usize> = (0..ev.len())
        .filter(|&r| r != me && ev[r].same_kernel(&ev[me]))
        .collect();
    if local != 0 || here.len() < n {
        return None;
    }
    let other = here
        .into_iter()
        .find(|&r| ev[r].cpuset.iter().any(|c| cpus.contains(c)))?;
    Some(format!(
        "vmpi: warning: rank {me} is bound to cpus {} and rank {other} on the same kernel to {}: \
         the launcher placed them on different hosts (containers?), each bound as if alone; \
         give each container its own cpuset or set MV2_ENABLE_AFFINITY=0",
        ranges(cpus),
        ranges(&ev[other].cpuset)
    ))
}

#[cfg(test)]
mod tests;
