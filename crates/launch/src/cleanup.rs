//! What must not outlive a job: its ranks' process groups and its shared-memory
//! files (in /dev/shm, and in `VMPI_SHM_DIR` where the ranks were given another
//! directory). `JobGuard` does the final sweep on every exit path, panics included.

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};

const SHM_DIR: &str = "/dev/shm";

/// The directories that may hold a job's shared-memory files, given the ranks'
/// environment: /dev/shm (the default, and where probe files of a rank that
/// failed before reading its configuration would be), and the last non-empty
/// `VMPI_SHM_DIR` if it names another one (relative: to the ranks' working
/// directory, which is this process's).
pub fn shm_dirs(rank_env: &[(String, String)]) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(SHM_DIR)];
    let chosen = rank_env
        .iter()
        .rev()
        .find(|(k, _)| k == "VMPI_SHM_DIR")
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty());
    if let Some(d) = chosen {
        let d = PathBuf::from(d);
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        };
        if !same(&d, Path::new(SHM_DIR)) {
            dirs.push(d);
        }
    }
    dirs
}

/// Removes every entry of `dirs` whose name starts with `prefix`; returns one
/// message per entry that could not be removed (a directory that does not
/// exist is not an error: nothing was put there).
pub fn remove_shm(dirs: &[PathBuf], prefix: &str) -> Vec<String> {
    dirs.iter()
        .filter(|d| d.exists())
        .flat_map(|d| remove_prefixed(d, prefix))
        .collect()
}

fn remove_prefixed(dir: &Path, prefix: &str) -> Vec<String> {
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
    shm_dirs: Vec<PathBuf>,
}

impl JobGuard {
    /// A guard for the job whose files start with `shm_prefix` in `shm_dirs`.
    pub fn new(name: &str, shm_prefix: String, shm_dirs: Vec<PathBuf>) -> Self {
        JobGuard {
            name: name.to_string(),
            pgids: Vec::new(),
            shm_prefix,
            shm_dirs,
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
        for e in remove_shm(&self.shm_dirs, &self.shm_prefix) {
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

    #[test]
    fn shm_dirs_follow_the_ranks_environment() {
        let e = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let shm = PathBuf::from("/dev/shm");
        assert_eq!(shm_dirs(&e(&[])), [PathBuf::from("/dev/shm")]);
        assert_eq!(
            shm_dirs(&e(&[("VMPI_SHM_DIR", "")])),
            [PathBuf::from("/dev/shm")]
        );
        assert_eq!(
            shm_dirs(&e(&[("VMPI_SHM_DIR", "/dev/shm/")])),
            [PathBuf::from("/dev/shm")]
        );
        assert_eq!(
            shm_dirs(&e(&[
                ("VMPI_SHM_DIR", "/a"),
                ("VMPI_SHM_DIR", "/var/tmp/x")
            ])),
            [shm, PathBuf::from("/var/tmp/x")],
            "the last setting wins, as for the ranks"
        );
        assert!(remove_shm(&[PathBuf::from("/no/such/dir")], "vmpi-").is_empty());
    }
}
