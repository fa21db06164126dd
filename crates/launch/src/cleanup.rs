//! What must not outlive a job: its ranks' process groups and its /dev/shm files.
//! `JobGuard` does the final sweep on every exit path, panics included.

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

const SHM_DIR: &str = "/dev/shm";

/// Removes every entry of /dev/shm whose name starts with `prefix`; returns one
/// message per entry that could not be removed.
pub fn remove_shm(prefix: &str) -> Vec<String> {
    remove_prefixed(std::path::Path::new(SHM_DIR), prefix)
}

fn remove_prefixed(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![format!("cannot list {}: {e}", dir.display())],
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let r = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(format!("cannot remove {}: {e}", path.display())),
        }
    }
    errors
}

/// Sends `sig` to a process group; a group that no longer exists is not an error.
pub fn signal_group(pgid: Pid, sig: Signal) -> Result<(), Errno> {
    match killpg(pgid, sig) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Kills every registered process group with SIGKILL and removes the job's /dev/shm
/// files when dropped.
pub struct JobGuard {
    name: String,
    pgids: Vec<Pid>,
    shm_prefix: String,
}

impl JobGuard {
    pub fn new(name: &str, shm_prefix: String) -> Self {
        JobGuard {
            name: name.to_string(),
            pgids: Vec::new(),
            shm_prefix,
        }
    }

    /// Registers a rank's process group (its pid, as ranks lead their own groups).
    pub fn add_group(&mut self, pgid: Pid) {
        self.pgids.push(pgid);
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        for &g in &self.pgids {
            if let Err(e) = signal_group(g, Signal::SIGKILL) {
                eprintln!("{}: cannot kill process group {g}: {e}", self.name);
            }
        }
        for e in remove_shm(&self.shm_prefix) {
            eprintln!("{}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_prefixed_entries() {
        let dir = std::env::temp_dir().join(format!("vmpi-cleanup-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vmpi-abc-dir")).unwrap();
        std::fs::write(dir.join("vmpi-abc-1"), b"x").unwrap();
        std::fs::write(dir.join("vmpi-abd-1"), b"x").unwrap();
        assert!(remove_prefixed(&dir, "vmpi-abc-").is_empty());
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, vec!["vmpi-abd-1".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
