//! Bootstrap: how a rank learns who it is and exchanges small facts with the others
//! before any channel exists. A PMI-1 client (our `mpirun`, MPICH Hydra, anything that
//! serves simple PMI over `PMI_FD` or `PMI_PORT`+`PMI_ID`), or a singleton start when
//! no process manager is there (a world of one rank).
//!
//! Knows nothing about channels or MPI objects: keys and string values only.

mod pmi1;

use crate::error::{Error, Result};
use std::collections::HashMap;

pub use vmpi_pmi::jobkey;

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
    /// Which process manager started us, for messages.
    pub manager: &'static str,
    pm: Manager,
}

enum Manager {
    Pmi1(pmi1::Client),
    Singleton(HashMap<String, String>),
}

impl Bootstrap {
    /// Connect to the process manager named by the environment, or start alone.
    pub fn init() -> Result<Bootstrap> {
        if let Some(client) = pmi1::Client::from_env()? {
            let (rank, size, kvsname) = (client.rank, client.size, client.kvsname.clone());
            return Ok(Bootstrap {
                rank,
                size,
                kvsname,
                manager: "PMI-1",
                pm: Manager::Pmi1(client),
            });
        }
        let kvsname = format!("singleton_{}_{:x}", std::process::id(), nanos());
        Ok(Bootstrap {
            rank: 0,
            size: 1,
            kvsname,
            manager: "singleton",
            pm: Manager::Singleton(HashMap::new()),
        })
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
            Manager::Singleton(_) => Ok(()),
        }
    }

    /// The value another rank published, or None if no rank put `key`.
    pub fn get(&mut self, key: &str) -> Result<Option<String>> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.get(key),
            Manager::Singleton(m) => Ok(m.get(key).cloned()),
        }
    }

    /// Ask the process manager to kill the whole job with `code`.
    pub fn abort(&mut self, code: i32, msg: &str) -> Result<()> {
        match &mut self.pm {
            Manager::Pmi1(c) => c.abort(code, msg),
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
            Manager::Singleton(_) => Ok(()),
        }
    }
}
