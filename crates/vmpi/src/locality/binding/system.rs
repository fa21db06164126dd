//! The thin part of CPU binding: the launcher's variables, this process's affinity,
//! the machine's topology from hwloc (through the `hwlocality` crate; a fully
//! static build, which cannot link libhwloc, reads the same facts from /sys), and
//! `sched_setaffinity` on every thread of the process. The decision itself is
//! [`super::decide`].

use super::{decide, Decision, Launch, Pu, Settings, Topology};
use crate::error::Result;
#[cfg(not(target_feature = "crt-static"))]
use hwlocality::object::types::ObjectType;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The cpus the calling thread may run on.
pub fn affinity() -> Vec<usize> {
    sched_getaffinity(Pid::from_raw(0))
        .map(|set| {
            (0..CpuSet::count())
                .filter(|&i| set.is_set(i).unwrap_or(false))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(not(target_feature = "crt-static"))]
/// Convert an hwloc topology into the binding model: every PU with its core,
/// package and NUMA node (NUMA nodes are memory children in hwloc 2, so a PU's
/// node is the one whose cpuset holds it). Also returns the allowed cpus (the
/// cgroup's cpuset: hwloc drops disallowed PUs unless told to keep them).
pub fn model(t: &hwlocality::Topology) -> std::result::Result<(Topology, Vec<usize>), String> {
    let numa: Vec<_> = t
        .objects_with_type(ObjectType::NUMANode)
        .filter_map(|n| n.cpuset().map(|c| (n.logical_index(), c.clone_target())))
        .collect();
    let mut pus = Vec::new();
    for pu in t.objects_with_type(ObjectType::PU) {
        let cpu = pu.os_index().ok_or("a PU without an OS index")?;
        let index = |ty| pu.first_ancestor_with_type(ty).map(|o| o.logical_index());
        pus.push(Pu {
            cpu,
            // A machine whose cores hwloc cannot see: each PU is its own core.
            core: index(ObjectType::Core).unwrap_or(1 << 20 | pu.logical_index()),
            socket: index(ObjectType::Package).unwrap_or(0),
            numa: numa
                .iter()
                .find(|(_, set)| set.is_set(cpu))
                .map_or(0, |(i, _)| *i),
        });
    }
    if pus.is_empty() {
        return Err("hwloc found no PU".into());
    }
    let allowed = t.allowed_cpuset().iter_set().map(usize::from).collect();
    Ok((Topology { pus }, allowed))
}

/// The topology of this machine.
#[cfg(not(target_feature = "crt-static"))]
pub fn load() -> std::result::Result<(Topology, Vec<usize>), String> {
    let t = hwlocality::Topology::new().map_err(|e| format!("hwloc: {e}"))?;
    model(&t)
}

/// The topology of this machine from /sys (static builds): every online cpu with
/// its core and package ids and its NUMA node; the allowed cpus are this
/// process's affinity (which the cgroup's cpuset bounds).
#[cfg(target_feature = "crt-static")]
pub fn load() -> std::result::Result<(Topology, Vec<usize>), String> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map_err(|e| format!("/sys/devices/system/cpu/online: {e}"))?;
    let cpus = parse_list(online.trim())?;
    let mut nodes: Vec<(usize, Vec<usize>)> = Vec::new();
    if let Ok(d) = std::fs::read_dir("/sys/devices/system/node") {
        for e in d.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix("node").and_then(|n| n.parse().ok()) {
                let list = std::fs::read_to_string(e.path().join("cpulist")).unwrap_or_default();
                nodes.push((n, parse_list(list.trim()).unwrap_or_default()));
            }
        }
    }
    let id = |cpu: usize, what: &str| -> std::result::Result<usize, String> {
        let p = format!("/sys/devices/system/cpu/cpu{cpu}/topology/{what}");
        std::fs::read_to_string(&p)
            .map_err(|e| format!("{p}: {e}"))?
            .trim()
            .parse::<i64>()
            .map(|v| v.max(0) as usize)
            .map_err(|_| format!("{p}: not a number"))
    };
    let mut core_keys: Vec<(usize, usize)> = Vec::new();
    let mut pus = Vec::new();
    for cpu in cpus {
        let socket = id(cpu, "physical_package_id")?;
        let key = (socket, id(cpu, "core_id")?);
        let core = match core_keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                core_keys.push(key);
                core_keys.len() - 1
            }
        };
        let numa = nodes
            .iter()
            .find(|(_, l)| l.contains(&cpu))
            .map_or(0, |(n, _)| *n);
        pus.push(Pu {
            cpu,
            core,
            socket,
            numa,
        });
    }
    if pus.is_empty() {
        return Err("/sys lists no online cpu".into());
    }
    Ok((Topology { pus }, affinity()))
}

/// `0-3,8,10-11` as a list of numbers.
#[cfg(target_feature = "crt-static")]
fn parse_list(s: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (
            a.parse::<usize>()
                .map_err(|_| format!("bad cpu list {s:?}"))?,
            b.parse::<usize>()
                .map_err(|_| format!("bad cpu list {s:?}"))?,
        );
        out.extend(a..=b.min(a + 65536));
    }
    Ok(out)
}

/// Bind every thread of this process to `cpus`.
pub fn set_affinity(cpus: &[usize]) -> std::result::Result<(), String> {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(|e| format!("cpu {c}: {e}"))?;
    }
    // The calling thread first: its failure is the one that counts.
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| format!("sched_setaffinity: {e}"))?;
    // Threads started before MPI_Init (a runtime's helpers) follow the process,
    // as with hwloc's process binding; one that ended meanwhile is skipped.
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for tid in dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        {
            let _ = sched_setaffinity(Pid::from_raw(tid), &set);
        }
    }
    Ok(())
}

/// What binding at init did: the decision and the launcher's facts behind it.
#[derive(Debug, Clone)]
pub struct Bound {
    pub decision: Decision,
    pub launch: Launch,
}

/// Decide and apply this rank's binding (early in MPI_Init, before the affinity
/// mask goes into the locality card). A bad `MV2_CPU_MAPPING` for this host is an
/// error; a binding the kernel refuses leaves the rank unbound, with the reason.
pub fn bind(s: &Settings) -> Result<Bound> {
    let launch = Launch::from_vars(|k| std::env::var(k).ok());
    let threads = std::env::var("OMP_NUM_THREADS")
        .ok()
        .and_then(|v| v.split(',').next()?.trim().parse().ok());
    let mut failed = false;
    let mut decision = decide(s, &launch, &affinity(), threads, || {
        load().inspect_err(|_| failed = true)
    })?;
    if let Decision::Bind { cpus, .. } = &decision {
        if let Err(e) = set_affinity(cpus) {
            failed = true;
            decision = Decision::Leave(format!("binding to {} failed: {e}", super::ranges(cpus)));
        }
    }
    // Said once per host, whether or not the table is asked for.
    if let (true, Decision::Leave(why), Some((0, _, _))) = (failed, &decision, launch.local) {
        eprintln!("vmpi: warning: CPU binding: {why}; ranks are not bound");
    }
    Ok(Bound { decision, launch })
}
