//! The /dev/shm probe: each rank writes a file holding a random nonce; a peer that
//! reads the same nonce back from the name it was told shares that /dev/shm with it.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where rank `rank` of the job writes its probe file.
pub fn probe_path(dir: &Path, kvsname: &str, rank: usize, nonce: u64) -> PathBuf {
    dir.join(format!(
        "{}probe-{rank}-{nonce:x}",
        crate::bootstrap::jobkey::shm_prefix(kvsname)
    ))
}

/// Write this rank's probe file.
pub fn write_probe(path: &Path, nonce: u64) -> Result<()> {
    std::fs::write(path, nonce.to_le_bytes()).map_err(|e| {
        Error::other(format!(
            "MPI_Init: cannot write the shared-memory probe {}: {e} (set MV2_USE_SHARED_MEM=0 to run without shared memory)",
            path.display()
        ))
    })
}

/// Does the peer's probe file exist here with the peer's nonce?
pub fn sees(path: &Path, nonce: u64) -> bool {
    std::fs::read(path)
        .map(|b| b == nonce.to_le_bytes())
        .unwrap_or(false)
}
