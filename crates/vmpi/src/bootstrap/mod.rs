//! Bootstrap: how a rank learns who it is and exchanges small facts with the others
//! before any channel exists. A PMI-1 client (our `mpirun`, MPICH Hydra, anything that
//! serves simple PMI over `PMI_FD` or `PMI_PORT`+`PMI_ID`), a PMI-2 client (Slurm's
//! `srun --mpi=pmi2`), a PMIx client (`srun --mpi=pmix`; libpmix loaded at run time),
//! or a singleton start when no process manager is there (a world of one rank).
//! [`detect`] says how the choice is made.
//!
//! Knows nothing about channels or MPI objects: keys and string values only.

pub mod detect;
mod pmi1;
mod pmi2;
pub mod pmix;

use crate::error::{Error, Result};
use detect::Interface;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use vmpi_pmi::jobkey;

/// Checks that `PMI_FD=fd` can be the process manager's socket before the
/// client takes (and will one day close) it: open, not stdin/stdout/stderr
/// (closing stderr would silence the very error that follows), and a socket.
pub(crate) fn check_pmi_fd(fd: usize) -> Result<i32> {
    let Ok(raw) = i32::try_from(fd) else {
        return Err(Error::other(format!(
            "MPI_Init: PMI_FD={fd} is not a file descriptor number"
        )));
    };
    if raw <= 2 {
        let which = ["stdin", "stdout", "stderr"][raw as usize];
        return Err(Error::other(format!(
            "MPI_Init: PMI_FD={raw} is this process's {which}, not a connection to a process manager (unset PMI_FD to run as a singleton)"
        )));
    }
    let st = nix::sys::stat::fstat(raw).map_err(|e| {
        Error::other(format!(
            "MPI_Init: PMI_FD={raw} is not an open file descriptor ({e})"
        ))
    })?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Error::other(format!(
            "MPI_Init: PMI_FD={raw} is not a socket, so not a connection to a process manager (unset PMI_FD to run as a singleton)"
        )));
    }
    Ok(raw)
}

/// Nanoseconds since the epoch (for nonces and unique names).
pub fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Largest value one key may hold (every process manager we serve accepts this).
pub const MAX_VALUE: usize = 1024 - 200;

/// The process manager connection of this rank.
pub struct Bootstrap {
    pub rank: usize,
    pub size: usize,
    pub kvsname: String,
    /// Which process manager interface we use, for messages: `PMI-1`, `PMI-2`,
    /// `PMIx` or `singleton`.
    pub manager: &'static str,
    pm: Manager,
}

enum Manager {
    Pmi1(pmi1::Client),
    Pmi2(pmi2::Client),
    /// Boxed: the client holds libpmix's table of entry points and a pmix_proc_t.
    Pmix(Box<pmix::Client>),
    Singleton(HashMap<String, String>),
}

static CONNECTION: OnceLock<String> = OnceLock::new();

/// How this process joined its job, once `Bootstrap::init` has run: the interface,
/// how it was reached and why it was chosen (e.g. `PMI-2 over PMI_FD, job 9.0,
/// mapping (vector,(0,3,2)) [the other end of PMI_FD is slurmstepd: ...]`).
/// `vmpi-info --pmi` prints it.
pub fn connection() -> Option<&'static str> {
    CONNECTION.get().map(String::as_str)
}

/// The rank that published `key`, by the library's naming rule for bootstrap keys:
/// the first `-`-separated component that is a number (`vmpi-card-3`,
/// `vmpi-view-3-0`). PMIx looks values up by the rank that put them.
pub fn publisher(key: &str) -> Option<usize> {
    key.split('-')
        .find(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse().ok())
}

/// Under MPICH's Hydra, end with the `hydra_pmi_proxy` that started us: a proxy
/// killed with SIGKILL cannot take its ranks down, and a rank waiting in MPI for
/// peers that are gone would spin for ever. Our own proxy sets this before exec;
/// other launchers are left alone (Slurm's slurmstepd is multi-threaded, and the
/// death signal follows the forking thread, not the process).
fn die_with_hydra_proxy() {
    let parent = nix::unistd::getppid();
    let comm = std::fs::read_to_string(format!("/proc/{parent}/comm")).unwrap_or_default();
    if comm.trim() != "hydra_pmi_proxy" {
        return;
    }
    if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_ok()
        && nix::unistd::getppid() != parent
    {
        // The proxy died between the two looks: nobody is left to run the job.
        eprintln!("vmpi: MPI_Init: the hydra_pmi_proxy that started this rank is gone; exiting");
        std::process::exit(137);
    }
}

impl Bootstrap {
    /// Connect to the process manager named by the environment, or start alone.
    pub fn init() -> Result<Bootstrap> {
        let choice = detect::decide(|k| std::env::var(k).ok(), detect::socket_peer);
        let boot = match choice.iface {
            Interface::Pmi1Fd | Interface::Pmi1Port => {
                let client = pmi1::Client::from_env()?
                    .ok_or_else(|| Error::intern("PMI-1: PMI_FD or PMI_PORT vanished"))?;
                let via = if choice.iface == Interface::Pmi1Fd {
                    "PMI_FD"
                } else {
                    "PMI_PORT"
                };
                let _ = CONNECTION.set(format!(
                    "PMI-1 over {via}, kvs {} [{}]",
                    client.kvsname, choice.why
                ));
                die_with_hydra_proxy();
                Bootstrap {
                    rank: client.rank,
                    size: client.size,
                    kvsname: client.kvsname.clone(),
                    manager: "PMI-1",
                    pm: Manager::Pmi1(client),
                }
            }
            Interface::Pmi2Fd => {
                let client = pmi2::Client::from_env()?;
                let _ = CONNECTION.set(format!(
                    "PMI-2 over PMI_FD, job {}, mapping {} [{}]",
                    client.kvsname,
                    client.mapping.as_deref().unwrap_or("-"),
                    choice.why
                ));
                Bootstrap {
                    rank: client.rank,
                    size: client.size,
                    kvsname: client.kvsname.clone(),
                    manager: "PMI-2",
                    pm: Manager::Pmi2(client),
                }
            }
            Interface::Pmix => {
                let client = pmix::Client::init()?;
                let _ = CONNECTION.set(format!(
                    "PMIx ({}), namespace {} [{}]",
                    client.library(),
                    client.kvsname,
                    choice.why
                ));
                Bootstrap {
                    rank: client.rank,
                    size: client.size,
                    kvsname: client.kvsname.clone(),
                    manager: "PMIx",
                    pm: Manager::Pmix(Box::new(client)),
                }
            }
            Interface::Singleton => {
                let _ = CONNECTION.set(format!("singleton [{}]", choice.why));
                Bootstrap {
                    rank: 0,
                    size: 1,
                    kvsname: format!("singleton_{}_{:x}", std::process::id(), nanos()),
                    manager: "singleton",
                    pm: Manager::Singleton(HashMap::new()),
                }
            }
        };
        Ok(boot)
    }

    /// Publish `key` = `value` (visible to others after the next [`Bootstrap::fence`]).
    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        if value.len() > MAX_VALUE || value.contains(' ') || value.contains('\n') {
            return Err(Error::intern(format!(
                "bootstrap value for {key} is too long or has spaces"
            )));
        }
        match &mut self.pm {
            Manager::Pmi1(c) => c.put(key, value),
            Manager::Pmi2(c) => c.put(key, value),
            Manager::Pmix(c) => c.put(key, value),
            Manager::Singleton(m) => {
                m.insert(key.to_string(), value.to_string());
                Ok(())
            }
        }
    }

    /// Wait until every rank has reached the fence; puts before it are then visible.
    pub fn fence(&mut self) -> Result<()> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.barrier(),
            Manager::Pmi2(c) => c.fence(),
            Manager::Pmix(c) => c.fence(),
            Manager::Singleton(_) => Ok(()),
        }
    }

    /// The value another rank published, or None if no rank put `key`. Under PMIx
    /// the key must name its publisher (see [`publisher`]); [`Bootstrap::get_from`]
    /// takes the rank explicitly.
    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        match &mut self.pm {
            Manager::Pmix(_) => {
                let src = publisher(key).ok_or_else(|| {
                    Error::intern(format!(
                        "bootstrap key {key} names no rank (PMIx needs the publisher)"
                    ))
                })?;
                self.get_from(src, key)
            }
            _ => self.get_from(usize::MAX, key),
        }
    }

    /// The value rank `src` published under `key`, or None.
    pub fn get_from(&mut self, src: usize, key: &str) -> Result<Option<String>> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.get(key),
            Manager::Pmi2(c) => c.get(key),
            Manager::Pmix(c) => c.get(src, key),
            Manager::Singleton(m) => Ok(m.get(key).cloned()),
        }
    }

    /// Ask the process manager to kill the whole job with `code`.
    pub fn abort(&mut self, code: i32, msg: &str) -> Result<()> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.abort(code, msg),
            Manager::Pmi2(c) => c.abort(code, msg),
            Manager::Pmix(c) => c.abort(code, msg),
            Manager::Singleton(_) => {
                eprintln!("vmpi: abort({code}): {msg}");
                std::process::exit(code)
            }
        }
    }

    /// Say goodbye to the process manager.
    pub fn finalize(&mut self) -> Result<()> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.finalize(),
            Manager::Pmi2(c) => c.finalize(),
            Manager::Pmix(c) => c.finalize(),
            Manager::Singleton(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publisher_is_the_first_number_in_the_key() {
        assert_eq!(publisher("vmpi-card-3"), Some(3));
        assert_eq!(publisher("vmpi-view-12-0"), Some(12));
        assert_eq!(publisher("vmpi-x"), None);
        assert_eq!(publisher("vmpi-3a-x"), None);
    }
}
