//! `vmpi-info`: what vmpi sees and decides.
//!
//! - `mpirun -np N vmpi-info --channels`: rank 0 prints the channel of every ordered
//!   pair of ranks and the evidence behind it.
//! - `vmpi-info --pmi`: every rank prints the process manager interface it joined
//!   its job with (singleton, PMI-1 over PMI_FD or PMI_PORT, PMI-2, PMIx) and why.
//! - `vmpi-info --evidence`: this process's locality evidence (no launcher needed).
//! - `vmpi-info --params`: every runtime parameter with its default and meaning.

use std::process::ExitCode;

const USAGE: &str = "usage: vmpi-info --channels | --pmi | --evidence | --params
  --channels   under a launcher (mpirun -np N vmpi-info --channels): rank 0 prints
               the channel of every pair of ranks and why
  --pmi        every rank prints how it joined its job: singleton, PMI-1 over
               PMI_FD or PMI_PORT, PMI-2 (srun --mpi=pmi2), PMIx (srun --mpi=pmix)
  --evidence   this process's kernel, namespace and core facts
  --params     runtime parameters (MV2_*, VMPI_*) with defaults";

fn channels() -> vmpi::Result<()> {
    let universe = vmpi::init()?;
    let world = universe.world();
    if world.rank() == 0 {
        println!(
            "{} ranks (process manager: {})",
            world.size(),
            universe.process_manager()?
        );
        print!("{}", universe.channel_report()?);
    }
    world.barrier()
}

fn pmi() -> vmpi::Result<()> {
    let universe = vmpi::init()?;
    let world = universe.world();
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!(
        "pmi rank {}/{} ({host}): {}",
        world.rank(),
        world.size(),
        vmpi::sys::tools::connection().unwrap_or(universe.process_manager()?)
    );
    world.barrier()
}

fn evidence() {
    let e = vmpi::sys::tools::Evidence::gather();
    println!(
        "hostname: {} (shown only; never used to decide locality)",
        e.hostname
    );
    println!("kernel boot id: {}", e.boot_id);
    for (name, ino) in vmpi::sys::tools::NAMESPACES.iter().zip(e.ns) {
        println!("namespace {name}: {ino}");
    }
    println!("pid: {}", e.pid);
    println!("usable cores: {} ({:?})", e.cpuset.len(), e.cpuset);
}

fn params() {
    println!("{:<26} {:<10} meaning", "parameter", "default");
    for p in vmpi::sys::config::PARAMS {
        println!("{:<26} {:<10} {}", p.name, p.default, p.meaning);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--channels") if args.len() == 1 => match channels() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vmpi-info: {e}");
                ExitCode::FAILURE
            }
        },
        Some("--pmi") if args.len() == 1 => match pmi() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vmpi-info: {e}");
                ExitCode::FAILURE
            }
        },
        Some("--evidence") if args.len() == 1 => {
            evidence();
            ExitCode::SUCCESS
        }
        Some("--params") if args.len() == 1 => {
            params();
            ExitCode::SUCCESS
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "vmpi-info: {}\n{USAGE}",
                if args.is_empty() {
                    "no option given".to_string()
                } else {
                    format!("bad arguments: {}", args.join(" "))
                }
            );
            ExitCode::from(2)
        }
    }
}
