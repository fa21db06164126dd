//! The vmpi launcher (`mpirun`, `mpiexec`, `mpirun_rsh`) and its per-host
//! `vmpi-proxy`: parses the command line, resolves the hosts, starts a proxy per
//! host through the launch agent, runs the job and exits with its status. Each
//! concern lives in its own module; this file only wires them together.

pub mod agent;
pub mod cleanup;
pub mod cli;
pub mod conn;
pub mod hosts;
pub mod job;
pub mod mapping;
pub mod output;
pub mod pmi_server;
pub mod proto;
pub mod proxy;
pub mod spawn;

use std::io::Read;

use std::path::PathBuf;

use agent::Agent;
use cli::{Action, HostSource, Options};
use hosts::HostSlots;

/// Exit code for command-line and host-list errors (nothing was started).
pub const EXIT_USAGE: i32 = 2;

/// A unique kvsname: `vmpi_<pid>_<16 random hex digits>`.
fn new_kvsname() -> Result<String, String> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom for a job id: {e}"))?;
    Ok(format!(
        "vmpi_{}_{:016x}",
        std::process::id(),
        u64::from_ne_bytes(bytes)
    ))
}

/// The Slurm allocation this mpirun runs in, if any: its nodes and their task
/// counts (`SLURM_JOB_NODELIST`, `SLURM_TASKS_PER_NODE`).
fn slurm_allocation() -> Result<Option<Vec<HostSlots>>, String> {
    let Ok(list) = std::env::var("SLURM_JOB_NODELIST") else {
        return Ok(None);
    };
    let nodes = hosts::expand_nodelist(&list)?;
    let tasks = match std::env::var("SLURM_TASKS_PER_NODE") {
        Ok(t) => hosts::expand_tasks_per_node(&t)?,
        Err(_) => vec![1; nodes.len()],
    };
    if tasks.len() != nodes.len() {
        return Err(format!(
            "SLURM_TASKS_PER_NODE names {} nodes, SLURM_JOB_NODELIST {}",
            tasks.len(),
            nodes.len()
        ));
    }
    Ok(Some(
        nodes
            .into_iter()
            .zip(tasks)
            .map(|(name, slots)| HostSlots {
                name,
                slots: slots.max(1),
            })
            .collect(),
    ))
}

/// The host of every rank, and whether the job runs in a Slurm allocation that
/// gave the hosts.
fn rank_hosts(o: &Options) -> Result<(Vec<String>, bool), String> {
    let (list, from_slurm): (Vec<HostSlots>, bool) = match &o.hosts {
        HostSource::Default => match slurm_allocation()? {
            Some(l) => (l, true),
            None => (
                vec![HostSlots {
                    name: "localhost".into(),
                    slots: 1,
                }],
                false,
            ),
        },
        HostSource::List(l) => (
            l.iter()
                .map(|e| hosts::parse_entry(e, "host list"))
                .collect::<Result<_, _>>()?,
            false,
        ),
        HostSource::File(f) => (hosts::read_hostfile(f)?, false),
    };
    let np = match (o.np, &o.hosts) {
        (Some(n), _) => n,
        (None, HostSource::Default) if !from_slurm => 1,
        (None, _) => {
            let n = hosts::total_slots(&list, o.ppn);
            if n > cli::MAX_RANKS {
                let what = match (&o.hosts, o.ppn) {
                    (_, Some(p)) => format!("-ppn {p} over {} hosts", list.len()),
                    (HostSource::File(f), None) => format!("the slots of host file {f}"),
                    (HostSource::List(_), None) => "the slots of the host list".to_string(),
                    (HostSource::Default, None) => "the Slurm allocation's tasks".to_string(),
                };
                return Err(format!(
                    "no -np given, and {what} make {n} ranks, more than mpirun starts (at most {}); give -np",
                    cli::MAX_RANKS
                ));
            }
            n
        }
    };
    Ok((hosts::assign(&list, np, o.ppn), from_slurm))
}

/// The launch agent: the command line's, else `VMPI_LAUNCHER_EXEC` /
/// `VMPI_LAUNCHER`, else srun inside a Slurm allocation, else ssh.
fn launcher(o: &Options) -> Result<Agent, String> {
    if let Some(a) = &o.launcher {
        return Ok(a.clone());
    }
    if let Ok(c) = std::env::var("VMPI_LAUNCHER_EXEC") {
        if !c.trim().is_empty() {
            return Ok(Agent::Exec(c));
        }
    }
    if let Ok(n) = std::env::var("VMPI_LAUNCHER") {
        return Agent::parse(&n).map_err(|e| format!("VMPI_LAUNCHER: {e}"));
    }
    Ok(if std::env::var_os("SLURM_JOB_ID").is_some() {
        Agent::Slurm
    } else {
        Agent::Ssh
    })
}

/// The ranks' environment: mpirun's, without what describes this shell or host
/// only, then the user's settings in order (the proxy adds the PMI variables).
fn rank_environment(user: &[(String, String)]) -> Vec<(String, String)> {
    const HOST_ONLY: &[&str] = &["HOSTNAME", "HOST", "PWD", "OLDPWD", "SHLVL", "_"];
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !HOST_ONLY.contains(&k.as_str()))
        .collect();
    for (k, v) in user {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// The proxy program: `VMPI_PROXY`, else `vmpi-proxy` beside this launcher.
fn proxy_path() -> PathBuf {
    if let Some(p) = std::env::var_os("VMPI_PROXY") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("vmpi-proxy")))
        .unwrap_or_else(|| PathBuf::from("vmpi-proxy"))
}

/// Parses `args` (without argv[0]) and runs the job; returns the exit code.
pub fn run_cli(name: &str, args: &[String]) -> i32 {
    let env_timeout = std::env::var("MPIEXEC_TIMEOUT").ok();
    let opts = match cli::parse(args, env_timeout.as_deref()) {
        Ok(Action::Help) => {
            print!("{}", cli::HELP.replace("mpirun ", &format!("{name} ")));
            return 0;
        }
        Ok(Action::Version) => {
            println!("{name} (vmpi launcher) {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Ok(Action::Run(o)) => o,
        Err(e) => {
            eprintln!("{name}: {e}");
            return EXIT_USAGE;
        }
    };
    let (hosts, _) = match rank_hosts(&opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{name}: {e}");
            return EXIT_USAGE;
        }
    };
    let agent = match launcher(&opts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{name}: {e}");
            return EXIT_USAGE;
        }
    };
    let local: Vec<bool> = hosts.iter().map(|h| hosts::is_local(h)).collect();
    let kvsname = match new_kvsname() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{name}: {e}");
            return 1;
        }
    };
    let mapping = mapping::process_mapping(&mapping::node_ids(&hosts));
    let mapping = if mapping.len() <= pmi_server::VALLEN_MAX {
        Some(mapping)
    } else {
        eprintln!(
            "{name}: PMI_process_mapping would be {} bytes (limit {}); not publishing it",
            mapping.len(),
            pmi_server::VALLEN_MAX
        );
        None
    };
    let shm_prefix = vmpi_pmi::jobkey::shm_prefix(&kvsname);
    let env = rank_environment(&opts.env);
    let mut guard = cleanup::JobGuard::new(name, shm_prefix.clone(), cleanup::shm_dirs(&env));
    let cfg = job::JobConfig {
        name: name.to_string(),
        kvsname,
        program: opts.program,
        args: opts.args,
        env,
        hosts,
        local,
        mapping,
        prepend_rank: opts.prepend_rank,
        timeout: opts.timeout,
        agent,
        proxy: proxy_path(),
        shm_prefix,
    };
    let code = job::run(cfg, &mut guard);
    drop(guard);
    code
}

/// The `main` of every launcher binary; `name` is the name it prints.
pub fn main_for(name: &str) -> ! {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                eprintln!("{name}: argument {a:?} is not valid UTF-8");
                std::process::exit(EXIT_USAGE);
            }
        }
    }
    let code = run_cli(name, &args);
    std::process::exit(code)
}
