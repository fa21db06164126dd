//! CPU binding at MPI_Init (docs/binding.md) on this machine, whatever its size:
//! the expectations come from the real topology (hwloc) and this process's
//! affinity, through the library's own policy (`locality::binding::plan`, unit
//! tested on synthetic machines). Each job prints the MV2_SHOW_CPU_BINDING table
//! and every rank reports the affinity the kernel gives it and a pre-MPI_Init
//! thread, and whether it yields when idle; all must agree.

mod common;
use common::{rank_lines, Outcome, Spec};
use std::path::PathBuf;
use vmpi::sys::tools::binding::{plan, ranges, system, Settings};

/// The machine as the ranks will see it: its topology, the cpus they may use (our
/// affinity within what the cgroup allows), and the allowed cpus.
fn machine() -> (vmpi::sys::tools::binding::Topology, Vec<usize>, Vec<usize>) {
    let (topo, allowed) = system::load().expect("hwloc topology");
    let usable: Vec<usize> = system::affinity()
        .into_iter()
        .filter(|c| allowed.contains(c))
        .collect();
    (topo, usable, allowed)
}

fn cores(topo: &vmpi::sys::tools::binding::Topology, usable: &[usize]) -> usize {
    let mut c: Vec<usize> = topo
        .pus
        .iter()
        .filter(|p| usable.contains(&p.cpu))
        .map(|p| p.core)
        .collect();
    c.sort_unstable();
    c.dedup();
    c.len()
}

fn parse_list(s: &str) -> Vec<usize> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => v.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => v.push(part.parse().unwrap()),
        }
    }
    v
}

/// The MV2_SHOW_CPU_BINDING table: its HOST line and (rank, cpus) rows.
fn table(o: &Outcome) -> (String, Vec<(usize, Vec<usize>)>) {
    let lines: Vec<&str> = o.stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "-------------CPU AFFINITY-------------")
        .unwrap_or_else(|| panic!("no binding table:\n{}", o.dump()));
    let host = lines[start + 1].to_string();
    assert!(host.starts_with("HOST: "), "{}", o.dump());
    let mut rows = Vec::new();
    for l in &lines[start + 2..] {
        if l.starts_with("----") {
            break;
        }
        let rest = l
            .strip_prefix("RANK:")
            .unwrap_or_else(|| panic!("row {l:?}"));
        let (r, cpus) = rest.split_once("  CPU_SET:").expect("CPU_SET");
        let cpus = cpus
            .split_whitespace()
            .map(|c| c.parse().unwrap())
            .collect();
        rows.push((r.parse().unwrap(), cpus));
    }
    assert_eq!(
        o.stdout.matches("CPU AFFINITY").count(),
        1,
        "one table per host: {}",
        o.dump()
    );
    (host, rows)
}

/// Every rank's report: (cpus, cpus of its early thread, yields).
fn reports(o: &Outcome, n: usize) -> Vec<(Vec<usize>, Vec<usize>, bool)> {
    rank_lines(o, "binding", n)
        .iter()
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap_or_else(|| panic!("{k} in {l}"))
                    .to_string()
            };
            (
                parse_list(&field("cpus=")),
                parse_list(&field("thread=")),
                field("yield=") == "true",
            )
        })
        .collect()
}

/// A job of `binding` with the table on; Slurm variables of an outer job cleared.
fn job(np: usize, env: &[(&str, &str)]) -> Spec {
    let mut s = Spec::mpirun(np, "binding", &[])
        .env("MV2_SHOW_CPU_BINDING", "1")
        .env("SLURM_CPU_BIND_TYPE", "")
        .env("SLURM_CPU_BIND", "");
    for (k, v) in env {
        s = s.env(k, v);
    }
    s
}

/// The job bound every rank to `sets[r]`: the table, the kernel's affinity of the
/// rank and of its early thread agree, and ranks yield only if they share cores.
fn check_bound(o: &Outcome, sets: &[Vec<usize>], how: &str) {
    o.assert_success();
    let n = sets.len();
    let (host, rows) = table(o);
    assert!(
        host.contains(&format!("BINDING: bound ({how})")),
        "{host}\n{}",
        o.dump()
    );
    let want: Vec<(usize, Vec<usize>)> = sets.iter().cloned().enumerate().collect();
    assert_eq!(rows, want, "{}", o.dump());
    let mut union: Vec<usize> = sets.concat();
    union.sort_unstable();
    union.dedup();
    for (r, (cpus, thread, yields)) in reports(o, n).into_iter().enumerate() {
        assert_eq!(cpus, sets[r], "rank {r}: {}", o.dump());
        assert_eq!(thread, sets[r], "rank {r}'s early thread: {}", o.dump());
        assert_eq!(yields, n > union.len(), "rank {r} yield: {}", o.dump());
    }
}

/// The job bound nothing, for `why`: every rank kept `usable`.
fn check_unbound(o: &Outcome, n: usize, usable: &[usize], why: &str) {
    o.assert_success();
    let (host, rows) = table(o);
    assert!(
        host.contains(&format!("BINDING: none ({why}")),
        "{host}\n{}",
        o.dump()
    );
    assert_eq!(rows.len(), n, "{}", o.dump());
    for (r, (rank, cpus)) in rows.iter().enumerate() {
        assert_eq!((*rank, cpus.as_slice()), (r, usable), "{}", o.dump());
    }
    for (r, (cpus, thread, yields)) in reports(o, n).into_iter().enumerate() {
        assert_eq!(cpus, usable, "rank {r}: {}", o.dump());
        assert_eq!(thread, usable, "rank {r}: {}", o.dump());
        assert_eq!(yields, n > usable.len(), "rank {r} yield: {}", o.dump());
    }
}

fn policy_np2(policy: &str) {
    let (topo, usable, _) = machine();
    let mut s = Settings::default();
    s.set("MV2_CPU_BINDING_POLICY", policy).unwrap();
    let o = job(2, &[("MV2_CPU_BINDING_POLICY", policy)]).run();
    match plan(&topo, &usable, &s, 2, None).unwrap() {
        Ok(sets) => {
            let how = format!(
                "policy {policy}, level core, 2 local ranks on {} cores",
                cores(&topo, &usable)
            );
            check_bound(&o, &sets, &how);
        }
        // A machine with one core: nothing to bind.
        Err(why) => check_unbound(&o, 2, &usable, &why),
    }
}

#[test]
fn bunch_np2_binds_one_core_each() {
    policy_np2("bunch");
}

#[test]
fn scatter_np2_binds_one_core_each() {
    policy_np2("scatter");
}

#[test]
fn oversubscribed_binds_nothing_and_says_so() {
    let (topo, usable, _) = machine();
    let c = cores(&topo, &usable);
    let n = (c + 1).max(4);
    let o = job(n, &[]).limit(120).run();
    check_unbound(
        &o,
        n,
        &usable,
        &format!("oversubscribed: {n} local ranks, {c} cores)"),
    );
}

#[test]
fn affinity_off_binds_nothing() {
    let (_, usable, _) = machine();
    let o = job(2, &[("MV2_ENABLE_AFFINITY", "0")]).run();
    check_unbound(&o, 2, &usable, "MV2_ENABLE_AFFINITY=0)");
}

#[test]
fn cpu_mapping_swaps_the_ranks() {
    let (_, usable, _) = machine();
    if usable.len() < 2 {
        eprintln!("skipped: this machine lets us use one cpu ({usable:?})");
        return;
    }
    // On a machine where we may use cpus 0 and 1 this is MV2_CPU_MAPPING=1:0.
    let (a, b) = (usable[0], usable[1]);
    let map = format!("{b}:{a}");
    let o = job(2, &[("MV2_CPU_MAPPING", &map)]).run();
    check_bound(&o, &[vec![b], vec![a]], &format!("MV2_CPU_MAPPING={map}"));
    // Both ranks on one cpu, as asked: bound, and they yield to each other.
    let o = job(2, &[("MV2_CPU_MAPPING", &a.to_string())]).run();
    check_bound(&o, &[vec![a], vec![a]], &format!("MV2_CPU_MAPPING={a}"));
}

#[test]
fn slurm_binding_wins() {
    let (_, usable, _) = machine();
    let o = job(2, &[("SLURM_CPU_BIND_TYPE", "mask_cpu:")]).run();
    check_unbound(
        &o,
        2,
        &usable,
        "Slurm bound the task (SLURM_CPU_BIND_TYPE=mask_cpu:))",
    );
}

/// A task started by srun (local rank from SLURM_LOCALID): bound when it may use
/// the node's cores, left alone when Slurm gave it fewer (taskset plays Slurm).
#[test]
fn srun_task() {
    let (topo, usable, allowed) = machine();
    let slurm = |s: Spec| {
        s.env("SLURM_LOCALID", "0")
            .env("SLURM_NODEID", "0")
            .env("SLURM_STEP_TASKS_PER_NODE", "1")
            .env("SLURM_CPU_BIND_TYPE", "")
            .env("SLURM_CPU_BIND", "")
            .env("MPI_LOCALRANKID", "")
            .env("MV2_SHOW_CPU_BINDING", "1")
    };
    let o = slurm(Spec::alone("binding", &[])).run();
    if usable == allowed {
        let sets = plan(&topo, &usable, &Settings::default(), 1, None)
            .unwrap()
            .unwrap();
        let how = format!(
            "policy bunch, level core, 1 local ranks on {} cores",
            cores(&topo, &usable)
        );
        check_bound(&o, &sets, &how);
    } else {
        let why = format!(
            "Slurm bound the task (its cpus {} are fewer",
            ranges(&usable)
        );
        check_unbound(&o, 1, &usable, &why);
    }
    if allowed.len() < 2 {
        return;
    }
    let one = vec![allowed[0]];
    let taskset = Spec::launcher(
        PathBuf::from("taskset"),
        &["-c", &allowed[0].to_string()],
        "binding",
        &[],
    );
    let o = slurm(taskset).run();
    let why = format!(
        "Slurm bound the task (its cpus {} are fewer than the node's {})",
        allowed[0],
        ranges(&allowed)
    );
    check_unbound(&o, 1, &one, &why);
}

#[test]
fn hydra_binds_too() {
    let hydra = PathBuf::from("/usr/bin/mpiexec.mpich");
    assert!(hydra.exists(), "install mpich (scripts/install-deps.sh)");
    let (topo, usable, _) = machine();
    let o = Spec::launcher(hydra, &["-n", "2"], "binding", &[])
        .env("MV2_SHOW_CPU_BINDING", "1")
        .env("SLURM_CPU_BIND_TYPE", "")
        .env("SLURM_CPU_BIND", "")
        .limit(90)
        .run();
    match plan(&topo, &usable, &Settings::default(), 2, None).unwrap() {
        Ok(sets) => {
            let how = format!(
                "policy bunch, level core, 2 local ranks on {} cores",
                cores(&topo, &usable)
            );
            check_bound(&o, &sets, &how);
        }
        Err(why) => check_unbound(&o, 2, &usable, &why),
    }
}

#[test]
fn bad_values_stop_mpi_init_naming_the_parameter() {
    for (k, v, says) in [
        (
            "MV2_CPU_BINDING_POLICY",
            "compact",
            "MV2_CPU_BINDING_POLICY=compact: expected bunch, scatter or hybrid",
        ),
        (
            "MV2_CPU_BINDING_LEVEL",
            "l3",
            "MV2_CPU_BINDING_LEVEL=l3: expected core, socket or numanode",
        ),
        (
            "MV2_ENABLE_AFFINITY",
            "maybe",
            "MV2_ENABLE_AFFINITY=maybe: expected a boolean: 1/0, yes/no, on/off, true/false",
        ),
        (
            "MV2_CPU_MAPPING",
            "0:x",
            "MV2_CPU_MAPPING=0:x: local rank 1: \"x\" is not a cpu number",
        ),
        (
            "MV2_CPU_MAPPING",
            "1023",
            "MV2_CPU_MAPPING=1023: cpu 1023 (local rank 0) is not one this rank may use",
        ),
    ] {
        let o = job(2, &[(k, v)]).run();
        assert!(!o.status.success(), "{k}={v} accepted: {}", o.dump());
        assert!(o.stderr.contains(says), "{k}={v}: {}", o.dump());
    }
}
