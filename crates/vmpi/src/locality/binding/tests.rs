use super::*;

/// 2 sockets x 4 cores x 2 threads, one NUMA node per socket: cpus 0-7 are the
/// first threads of cores 0-7, 8-15 their siblings.
fn two_sockets() -> Topology {
    Topology::synthetic(2, 4, 2, 1)
}

fn with(policy: Policy, level: Level) -> Settings {
    Settings {
        policy,
        level,
        ..Settings::default()
    }
}

fn sets(topo: &Topology, usable: &[usize], s: &Settings, n: usize) -> Vec<Vec<usize>> {
    plan(topo, usable, s, n, None).unwrap().unwrap()
}

fn all(topo: &Topology) -> Vec<usize> {
    topo.cpus()
}

#[test]
fn synthetic_numbering() {
    let t = two_sockets();
    assert_eq!(t.pus.len(), 16);
    assert_eq!(
        t.pus[0],
        Pu {
            cpu: 0,
            core: 0,
            socket: 0,
            numa: 0
        }
    );
    assert_eq!(
        t.pus[1],
        Pu {
            cpu: 8,
            core: 0,
            socket: 0,
            numa: 0
        }
    );
    assert_eq!(
        t.pus[15],
        Pu {
            cpu: 15,
            core: 7,
            socket: 1,
            numa: 1
        }
    );
    assert_eq!(all(&t), (0..16).collect::<Vec<_>>());
}

#[test]
fn bunch_fills_socket_zero_first() {
    let t = two_sockets();
    let s = with(Policy::Bunch, Level::Core);
    assert_eq!(
        sets(&t, &all(&t), &s, 5),
        vec![
            vec![0, 8],
            vec![1, 9],
            vec![2, 10],
            vec![3, 11],
            vec![4, 12]
        ]
    );
}

#[test]
fn scatter_alternates_sockets() {
    let t = two_sockets();
    let s = with(Policy::Scatter, Level::Core);
    assert_eq!(
        sets(&t, &all(&t), &s, 4),
        vec![vec![0, 8], vec![4, 12], vec![1, 9], vec![5, 13]]
    );
    // Every core once at full load.
    let mut got: Vec<usize> = sets(&t, &all(&t), &s, 8).concat();
    got.sort_unstable();
    assert_eq!(got, all(&t));
}

#[test]
fn hybrid_gives_each_rank_a_block() {
    let t = two_sockets();
    let s = with(Policy::Hybrid, Level::Core);
    assert_eq!(
        sets(&t, &all(&t), &s, 2),
        vec![
            vec![0, 1, 2, 3, 8, 9, 10, 11],
            vec![4, 5, 6, 7, 12, 13, 14, 15]
        ]
    );
    // OMP_NUM_THREADS=2: two cores each, in order; capped at what fits.
    let got = plan(&t, &all(&t), &s, 2, Some(2)).unwrap().unwrap();
    assert_eq!(got, vec![vec![0, 1, 8, 9], vec![2, 3, 10, 11]]);
    let got = plan(&t, &all(&t), &s, 4, Some(8)).unwrap().unwrap();
    assert_eq!(got[3], vec![6, 7, 14, 15]);
    // 3 ranks on 8 cores: 2 each, 2 cores left over.
    assert_eq!(sets(&t, &all(&t), &s, 3)[2], vec![4, 5, 12, 13]);
}

#[test]
fn socket_level_binds_whole_sockets() {
    let t = two_sockets();
    let socket0 = vec![0, 1, 2, 3, 8, 9, 10, 11];
    let socket1 = vec![4, 5, 6, 7, 12, 13, 14, 15];
    let bunch = sets(&t, &all(&t), &with(Policy::Bunch, Level::Socket), 5);
    assert_eq!(bunch[..4], vec![socket0.clone(); 4][..]);
    assert_eq!(bunch[4], socket1);
    let scatter = sets(&t, &all(&t), &with(Policy::Scatter, Level::Socket), 3);
    assert_eq!(scatter, vec![socket0.clone(), socket1, socket0]);
}

#[test]
fn numanode_level() {
    // Two NUMA nodes per socket: cores 0-1, 2-3, 4-5, 6-7.
    let t = Topology::synthetic(2, 4, 2, 2);
    let bunch = sets(&t, &all(&t), &with(Policy::Bunch, Level::NumaNode), 3);
    assert_eq!(
        bunch,
        vec![vec![0, 1, 8, 9], vec![0, 1, 8, 9], vec![2, 3, 10, 11]]
    );
    // Scatter spreads over NUMA nodes at this level.
    let scatter = sets(&t, &all(&t), &with(Policy::Scatter, Level::NumaNode), 4);
    assert_eq!(
        scatter,
        vec![
            vec![0, 1, 8, 9],
            vec![2, 3, 10, 11],
            vec![4, 5, 12, 13],
            vec![6, 7, 14, 15]
        ]
    );
}

#[test]
fn cpuset_that_excludes_cores() {
    let t = two_sockets();
    // The cgroup left out cores 0 and 5 (cpus 0, 8, 5, 13) and the sibling of core 1.
    let usable: Vec<usize> = all(&t)
        .into_iter()
        .filter(|c| ![0, 8, 5, 13, 9].contains(c))
        .collect();
    let bunch = sets(&t, &usable, &with(Policy::Bunch, Level::Core), 3);
    assert_eq!(bunch, vec![vec![1], vec![2, 10], vec![3, 11]]);
    let scatter = sets(&t, &usable, &with(Policy::Scatter, Level::Core), 3);
    assert_eq!(scatter, vec![vec![1], vec![4, 12], vec![2, 10]]);
    // A socket with fewer usable cores runs out first; scatter goes on elsewhere.
    let lopsided: Vec<usize> = vec![3, 4, 5, 6, 7];
    let scatter = sets(&t, &lopsided, &with(Policy::Scatter, Level::Core), 4);
    assert_eq!(scatter, vec![vec![3], vec![4], vec![5], vec![6]]);
    // Socket level: only the usable cpus of the socket.
    let sock = sets(&t, &usable, &with(Policy::Bunch, Level::Socket), 1);
    assert_eq!(sock[0], vec![1, 2, 3, 10, 11]);
    // Six usable cores: the seventh rank means oversubscribed, nothing bound.
    let why = plan(&t, &usable, &with(Policy::Bunch, Level::Core), 7, None)
        .unwrap()
        .unwrap_err();
    assert_eq!(why, "oversubscribed: 7 local ranks, 6 cores");
}

#[test]
fn hyperthreads_do_not_count_as_cores() {
    let t = two_sockets();
    let why = plan(&t, &all(&t), &Settings::default(), 9, None)
        .unwrap()
        .unwrap_err();
    assert!(why.contains("9 local ranks, 8 cores"), "{why}");
}

#[test]
fn mapping_parses_lists_and_ranges() {
    let p = |v| parse_mapping("MV2_CPU_MAPPING", v);
    assert_eq!(p("0:1").unwrap(), vec![vec![0], vec![1]]);
    assert_eq!(p("0:1,2:3").unwrap(), vec![vec![0], vec![1, 2], vec![3]]);
    assert_eq!(
        p("0-3:4-7,12").unwrap(),
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7, 12]]
    );
    assert_eq!(p(" 2,0,2 ").unwrap(), vec![vec![0, 2]]);
    for bad in [
        "", "0::1", "0:", "a", "1:x", "3-1", "0,,1", "-1", "4096", "0:1-",
    ] {
        let e = p(bad).unwrap_err();
        assert_eq!(e.class, ErrorClass::Arg);
        assert!(
            e.message.starts_with(&format!("MV2_CPU_MAPPING={bad}:")),
            "{bad}: {}",
            e.message
        );
    }
    assert!(p("3-1").unwrap_err().message.contains("backwards"));
    assert!(p("0:x").unwrap_err().message.contains("local rank 1"));
}

#[test]
fn mapping_places_each_local_rank() {
    let t = two_sockets();
    let mut s = Settings::default();
    s.set("MV2_CPU_MAPPING", "1:0").unwrap();
    assert_eq!(sets(&t, &all(&t), &s, 2), vec![vec![1], vec![0]]);
    // More local ranks than entries: wrap around (as MVAPICH2 does).
    assert_eq!(sets(&t, &all(&t), &s, 3)[2], vec![1]);
    // The user's word goes even when ranks outnumber cores.
    s.set("MV2_CPU_MAPPING", "0").unwrap();
    assert_eq!(sets(&t, &all(&t), &s, 20)[19], vec![0]);
    // A cpu this rank may not use is an error naming the parameter.
    s.set("MV2_CPU_MAPPING", "0:5").unwrap();
    let e = plan(&t, &[0, 1, 2, 3], &s, 2, None).unwrap_err();
    assert!(e.message.contains("MV2_CPU_MAPPING=0:5"), "{}", e.message);
    assert!(e.message.contains("cpu 5 (local rank 1)") && e.message.contains("0-3"));
}

#[test]
fn settings_parse_and_reject() {
    let mut s = Settings::default();
    s.set("MV2_CPU_BINDING_POLICY", "Scatter").unwrap();
    s.set("MV2_CPU_BINDING_LEVEL", "numanode").unwrap();
    s.set("MV2_ENABLE_AFFINITY", "0").unwrap();
    s.set("MV2_SHOW_CPU_BINDING", "2").unwrap();
    assert_eq!(
        (s.policy, s.level, s.enable, s.show),
        (Policy::Scatter, Level::NumaNode, false, 2)
    );
    for (k, v) in [
        ("MV2_CPU_BINDING_POLICY", "compact"),
        ("MV2_CPU_BINDING_LEVEL", "cache"),
        ("MV2_ENABLE_AFFINITY", "sometimes"),
        ("MV2_SHOW_CPU_BINDING", "3"),
    ] {
        let e = s.set(k, v).unwrap_err();
        assert!(
            e.message.starts_with(&format!("{k}={v}: expected")),
            "{}",
            e.message
        );
    }
}

fn vars<'a>(v: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| v.iter().find(|(a, _)| *a == k).map(|(_, b)| b.to_string())
}

#[test]
fn launcher_variables() {
    let l = Launch::from_vars(vars(&[("MPI_LOCALRANKID", "1"), ("MPI_LOCALNRANKS", "2")]));
    assert_eq!(l.local, Some((1, 2, Source::Mpi)));
    assert_eq!(l.slurm_bound(), None);
    // Hydra's variables win over Slurm's (Hydra under Slurm).
    let l = Launch::from_vars(vars(&[
        ("MPI_LOCALRANKID", "0"),
        ("MPI_LOCALNRANKS", "4"),
        ("SLURM_LOCALID", "0"),
        ("SLURM_STEP_TASKS_PER_NODE", "1"),
    ]));
    assert_eq!(l.local, Some((0, 4, Source::Mpi)));
    let l = Launch::from_vars(vars(&[
        ("SLURM_LOCALID", "0"),
        ("SLURM_NODEID", "3"),
        ("SLURM_STEP_TASKS_PER_NODE", "2(x3),1"),
    ]));
    assert_eq!(l.local, Some((0, 1, Source::Slurm)));
    assert_eq!(slurm_counts("4,2(x2)"), Some(vec![4, 2, 2]));
    assert_eq!(slurm_counts("x"), None);
    // Inconsistent: no local rank.
    assert_eq!(
        Launch::from_vars(vars(&[("MPI_LOCALRANKID", "2"), ("MPI_LOCALNRANKS", "2")])).local,
        None
    );
    assert_eq!(Launch::from_vars(vars(&[])).local, None);
    for (v, want) in [
        ("mask_cpu:", Some(true)),
        ("quiet,mask_cpu:0x1,0x2", Some(true)),
        ("cores", Some(true)),
        ("none", Some(false)),
        ("quiet,none", Some(false)),
        ("verbose", None),
    ] {
        let l = Launch::from_vars(vars(&[("SLURM_CPU_BIND", v)]));
        assert_eq!(l.slurm_bound(), want, "{v}");
    }
}

fn machine(t: Topology) -> impl FnOnce() -> std::result::Result<(Topology, Vec<usize>), String> {
    move || {
        let c = t.cpus();
        Ok((t, c))
    }
}

fn no_topology() -> std::result::Result<(Topology, Vec<usize>), String> {
    panic!("topology loaded although no binding can follow")
}

#[test]
fn decisions() {
    let t = two_sockets();
    let everything = t.cpus();
    let mpi = |r: usize, n: usize| Launch {
        local: Some((r, n, Source::Mpi)),
        slurm_cpu_bind: None,
    };
    let d = decide(
        &Settings::default(),
        &mpi(1, 2),
        &everything,
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::Bind {
            cpus: vec![1, 9],
            how: "policy bunch, level core, 2 local ranks on 8 cores".into()
        }
    );
    // Oversubscribed.
    let d = decide(
        &Settings::default(),
        &mpi(0, 9),
        &everything,
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::Leave("oversubscribed: 9 local ranks, 8 cores".into())
    );
    // Turned off, or no launcher: the topology is not even read.
    let off = Settings {
        enable: false,
        ..Settings::default()
    };
    assert_eq!(
        decide(&off, &mpi(0, 2), &everything, None, no_topology).unwrap(),
        Decision::Leave("MV2_ENABLE_AFFINITY=0".into())
    );
    let alone = Launch {
        local: None,
        slurm_cpu_bind: None,
    };
    assert!(
        matches!(decide(&Settings::default(), &alone, &everything, None, no_topology).unwrap(),
        Decision::Leave(w) if w.contains("MPI_LOCALRANKID"))
    );
    // Started under `taskset -c 4-7`: bind inside what we were given.
    let d = decide(
        &Settings::default(),
        &mpi(1, 2),
        &[4, 5, 6, 7],
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert!(matches!(d, Decision::Bind { cpus, .. } if cpus == vec![5]));
    let d = decide(
        &Settings::default(),
        &mpi(0, 5),
        &[4, 5, 6, 7],
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert_eq!(
        d,
        Decision::Leave("oversubscribed: 5 local ranks, 4 cores".into())
    );
    // hwloc failed: not bound, with the reason.
    let d = decide(&Settings::default(), &mpi(0, 1), &everything, None, || {
        Err("hwloc: boom".into())
    })
    .unwrap();
    assert_eq!(d, Decision::Leave("no topology: hwloc: boom".into()));
}

#[test]
fn slurm_binding_wins() {
    let t = two_sockets();
    let everything = t.cpus();
    let srun = |bind: Option<&str>| Launch {
        local: Some((0, 2, Source::Slurm)),
        slurm_cpu_bind: bind.map(|v| ("SLURM_CPU_BIND_TYPE".to_string(), v.to_string())),
    };
    // Slurm says it bound: leave it, even with a mapping, without reading topology.
    let mut mapped = Settings::default();
    mapped.set("MV2_CPU_MAPPING", "3:2").unwrap();
    let d = decide(&mapped, &srun(Some("mask_cpu:")), &[0], None, no_topology).unwrap();
    assert_eq!(
        d,
        Decision::Leave("Slurm bound the task (SLURM_CPU_BIND_TYPE=mask_cpu:)".into())
    );
    // Slurm said nothing, but the task may use fewer cpus than the node allows.
    let d = decide(
        &Settings::default(),
        &srun(None),
        &[0, 8],
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert!(
        matches!(&d, Decision::Leave(w) if w.contains("cpus 0,8 are fewer than the node's 0-15")),
        "{d:?}"
    );
    // Slurm did not bind: we do.
    let d = decide(
        &Settings::default(),
        &srun(None),
        &everything,
        None,
        machine(t.clone()),
    )
    .unwrap();
    assert!(matches!(d, Decision::Bind { cpus, .. } if cpus == vec![0, 8]));
    // `--cpu-bind=none` on a step given part of the node: bind inside that part.
    let d = decide(
        &Settings::default(),
        &srun(Some("none")),
        &[2, 3, 10, 11],
        None,
        machine(t),
    )
    .unwrap();
    assert!(matches!(d, Decision::Bind { cpus, .. } if cpus == vec![2, 10]));
}

fn evidence(cards: &[(&str, &[usize])]) -> Vec<Evidence> {
    cards
        .iter()
        .enumerate()
        .map(|(r, (boot, cpus))| {
            let mut e = Evidence::gather();
            e.boot_id = boot.to_string();
            e.hostname = format!("h-{boot}");
            e.cpuset = cpus.to_vec();
            e.pid = 100 + r as u32;
            e
        })
        .collect()
}

#[test]
fn show_table_per_host() {
    let ev = evidence(&[("a", &[0]), ("b", &[0, 1]), ("a", &[1]), ("b", &[0, 1])]);
    let bound = Decision::Bind {
        cpus: vec![0],
        how: "policy bunch, level core, 2 local ranks on 2 cores".into(),
    };
    let t = show_table(1, &bound, &ev, 0).unwrap();
    assert_eq!(
        t,
        "-------------CPU AFFINITY-------------\n\
         HOST: h-a  BINDING: bound (policy bunch, level core, 2 local ranks on 2 cores)\n\
         RANK:0  CPU_SET:   0\n\
         RANK:2  CPU_SET:   1\n\
         -------------------------------------\n"
    );
    // Only the lowest rank of a host prints; with 1, only on rank 0's host.
    assert!(show_table(1, &bound, &ev, 2).is_none());
    assert!(show_table(1, &bound, &ev, 1).is_none());
    assert!(show_table(0, &bound, &ev, 0).is_none());
    let left = Decision::Leave("oversubscribed: 2 local ranks, 1 cores".into());
    let t = show_table(2, &left, &ev, 1).unwrap();
    assert!(
        t.contains("HOST: h-b  BINDING: none (oversubscribed"),
        "{t}"
    );
    assert!(
        t.contains("RANK:1  CPU_SET:   0   1\nRANK:3  CPU_SET:   0   1\n"),
        "{t}"
    );
    assert!(show_table(2, &left, &ev, 3).is_none());
}

#[test]
fn containers_sharing_a_kernel_are_warned() {
    // Two containers on one kernel, one rank each, both "local rank 0 of 1".
    let ev = evidence(&[("k", &[0]), ("k", &[0])]);
    let launch = Launch {
        local: Some((0, 1, Source::Mpi)),
        slurm_cpu_bind: None,
    };
    let bound = Decision::Bind {
        cpus: vec![0],
        how: String::new(),
    };
    let w = shared_kernel_warning(&bound, &launch, &ev, 1).unwrap();
    assert!(w.contains("rank 1 is bound to cpus 0 and rank 0"), "{w}");
    // Disjoint cpusets (docker --cpuset-cpus): fine.
    let ev2 = evidence(&[("k", &[0]), ("k", &[1])]);
    assert!(shared_kernel_warning(&bound, &launch, &ev2, 0).is_none());
    // The launcher knew of both: fine.
    let both = Launch {
        local: Some((0, 2, Source::Mpi)),
        slurm_cpu_bind: None,
    };
    assert!(shared_kernel_warning(&bound, &both, &ev, 0).is_none());
    assert!(shared_kernel_warning(&Decision::Leave(String::new()), &launch, &ev, 0).is_none());
}

#[cfg(not(target_feature = "crt-static"))]
#[test]
fn hwloc_model_of_a_synthetic_machine() {
    let t = hwlocality::Topology::builder()
        .from_synthetic("package:2 numa:2 core:2 pu:2")
        .unwrap()
        .build()
        .unwrap();
    let (m, allowed) = system::model(&t).unwrap();
    assert_eq!(m.pus.len(), 16);
    assert_eq!(allowed, (0..16).collect::<Vec<_>>());
    // hwloc numbers synthetic PUs in tree order: siblings are neighbours.
    assert_eq!(
        m.pus[1],
        Pu {
            cpu: 1,
            core: 0,
            socket: 0,
            numa: 0
        }
    );
    assert_eq!(
        m.pus[5],
        Pu {
            cpu: 5,
            core: 2,
            socket: 0,
            numa: 1
        }
    );
    assert_eq!(
        m.pus[15],
        Pu {
            cpu: 15,
            core: 7,
            socket: 1,
            numa: 3
        }
    );
    let s = with(Policy::Scatter, Level::Core);
    assert_eq!(sets(&m, &allowed, &s, 2), vec![vec![0, 1], vec![8, 9]]);
}

#[test]
fn this_machine() {
    let (m, allowed) = system::load().unwrap();
    let aff = system::affinity();
    assert!(!aff.is_empty() && !allowed.is_empty());
    assert!(
        aff.iter().all(|c| m.pus.iter().any(|p| p.cpu == *c)),
        "{aff:?} {m:?}"
    );
}

#[test]
fn config_reads_and_lists_the_parameters() {
    use crate::config::{Config, PARAMS};
    let v = |k: &str, x: &str| vec![(k.to_string(), x.to_string())];
    let (c, w) = Config::from_vars(
        [
            v("MV2_CPU_BINDING_POLICY", "scatter"),
            v("MV2_CPU_MAPPING", "1:0"),
            v("MV2_SHOW_CPU_BINDING", "1"),
        ]
        .concat(),
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.binding.policy, Policy::Scatter);
    assert_eq!(
        c.binding.mapping.as_ref().unwrap().0,
        vec![vec![1], vec![0]]
    );
    assert_eq!(c.binding.show, 1);
    let e = Config::from_vars(v("MV2_CPU_BINDING_LEVEL", "cache")).unwrap_err();
    assert!(e.message.contains("MV2_CPU_BINDING_LEVEL=cache"));
    for name in NAMES {
        assert!(
            PARAMS.iter().any(|p| p.name == name),
            "{name} not in PARAMS"
        );
    }
}
