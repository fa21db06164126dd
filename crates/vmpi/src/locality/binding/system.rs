//! The thin part of CPU binding: the launcher's variables, this process's affinity,
//! the machine's topology from hwloc (through the `hwlocality` crate), and
//! `sched_setaffinity` on every thread of the process. The decision itself is
//! [`super::decide`].

use super::{decide, Decision, Launch, Pu, Settings, Topology};
use crate::error::Result;
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
pub fn load() -> std::result::Result<(Topology, Vec<usize>), String> {
    let t = hwlocality::Topology::new().map_err(|e| format!("hwloc: {e}"))?;
    model(&t)
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
