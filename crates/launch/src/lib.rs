//! The vmpi launcher (`mpirun`, `mpiexec`, `mpirun_rsh`): parses the command line,
//! resolves hosts (this machine only, for now), starts the job and exits with its
//! status. Each concern lives in its own module; this file only wires them together.

pub mod cleanup;
pub mod cli;
pub mod hosts;
pub mod job;
pub mod mapping;
pub mod output;
pub mod pmi_server;
pub mod spawn;

use std::io::Read;

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

/// The host of every rank, checked to be this machine.
fn rank_hosts(o: &Options) -> Result<Vec<String>, String> {
    let list: Vec<HostSlots> = match &o.hosts {
        HostSource::Default => vec![HostSlots {
            name: "localhost".into(),
            slots: 1,
        }],
        HostSource::List(l) => l
            .iter()
            .map(|e| hosts::parse_entry(e, "host list"))
            .collect::<Result<_, _>>()?,
        HostSource::File(f) => hosts::read_hostfile(f)?,
    };
    for h in &list {
        if !hosts::is_local(&h.name) {
            return Err(format!(
                "host '{}' is not this machine; remote launch is not supported yet",
                h.name
            ));
        }
    }
    let np = match (o.np, &o.hosts) {
        (Some(n), _) => n,
        (None, HostSource::Default) => 1,
        (None, _) => hosts::total_slots(&list, o.ppn),
    };
    Ok(hosts::assign(&list, np, o.ppn))
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
    let hosts = match rank_hosts(&opts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{name}: {e}");
            return EXIT_USAGE;
        }
    };
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
    let mut guard = cleanup::JobGuard::new(name, vmpi_pmi::jobkey::shm_prefix(&kvsname));
    let cfg = job::JobConfig {
        name: name.to_string(),
        kvsname,
        program: opts.program,
        args: opts.args,
        env: opts.env,
        hosts,
        mapping,
        prepend_rank: opts.prepend_rank,
        timeout: opts.timeout,
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
