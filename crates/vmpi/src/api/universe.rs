//! The handle of an initialized MPI process: world and self communicators, the
//! channel verdicts, timing. Dropping it finalizes MPI.

use super::Communicator;
use crate::comm::Comm;
use crate::error::Result;
use crate::locality::{Channel, Cma};
use crate::runtime;
use std::marker::PhantomData;

/// MPI, initialized. Not `Send`: MPI is finalized by the thread that initialized it.
pub struct Universe {
    world: Communicator,
    self_comm: Communicator,
    _not_send: PhantomData<*const ()>,
}

/// Initialize MPI (once per process). Under `mpirun`, Hydra or any PMI-1 process
/// manager the rank joins its job; started alone it is a world of one.
pub fn init() -> Result<Universe> {
    runtime::init()?;
    let (rank, size) = runtime::with("vmpi::init", |rt| Ok((rt.engine.rank(), rt.engine.size())))?;
    Ok(Universe {
        world: Communicator::from_comm(Comm::world(rank, size)),
        self_comm: Communicator::from_comm(Comm::self_comm(rank)),
        _not_send: PhantomData,
    })
}

/// How this rank reaches one peer, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// `self`, `shm` or `tcp`.
    pub channel: &'static str,
    pub reason: String,
    /// For shm peers: how large messages from that peer to this rank move (`CMA`:
    /// this rank reads them from the peer's memory, or `pipelined copy (why)`).
    pub large: Option<String>,
}

impl Universe {
    /// MPI_COMM_WORLD.
    pub fn world(&self) -> &Communicator {
        &self.world
    }

    /// MPI_COMM_SELF.
    pub fn self_comm(&self) -> &Communicator {
        &self.self_comm
    }

    /// The channel from this rank to world rank `peer`.
    pub fn channel_to(&self, peer: usize) -> Result<ChannelInfo> {
        runtime::with("channel_to", |rt| {
            let me = rt.engine.rank();
            let v = rt.map.verdicts[me].get(peer).ok_or_else(|| {
                crate::Error::new(
                    crate::ErrorClass::Rank,
                    format!(
                        "channel_to: invalid rank {peer} (world size {})",
                        rt.engine.size()
                    ),
                )
            })?;
            let large = match (&v.channel, &v.cma) {
                (Channel::Shm, Cma::Works) => Some("CMA".to_string()),
                (Channel::Shm, Cma::Unavailable(why)) => Some(format!("pipelined copy ({why})")),
                _ => None,
            };
            Ok(ChannelInfo {
                channel: v.channel.name(),
                reason: v.reason.clone(),
                large,
            })
        })
    }

    /// Every ordered pair's channel and reason, one line each (what rank 0 prints
    /// with VMPI_VERBOSE=1 and what `vmpi-info --channels` shows).
    pub fn channel_report(&self) -> Result<String> {
        runtime::with("channel_report", |rt| {
            Ok(runtime::describe(&rt.map, &rt.evidence))
        })
    }

    /// Which process manager started this rank (`PMI-1` or `singleton`).
    pub fn process_manager(&self) -> Result<&'static str> {
        runtime::with("process_manager", |rt| Ok(rt.boot.manager))
    }

    /// Wall-clock seconds (MPI_Wtime).
    pub fn wtime(&self) -> f64 {
        wtime()
    }

    /// Kill the whole job with `code` (MPI_Abort).
    pub fn abort(&self, code: i32, msg: &str) -> ! {
        runtime::abort(code, msg)
    }

    /// Finalize explicitly and see the error, if any (dropping finalizes too).
    pub fn finalize(self) -> Result<()> {
        let r = runtime::finalize();
        std::mem::forget(self);
        r
    }
}

/// Seconds since an arbitrary point, monotonic (MPI_Wtime).
pub fn wtime() -> f64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9
}

impl Drop for Universe {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Finalizing would wait for ranks that may be waiting for us: end the job.
            runtime::abort(1, "a rank panicked (see its message above)");
        }
        if let Err(e) = runtime::finalize() {
            eprintln!("vmpi: MPI_Finalize: {e}");
        }
    }
}
