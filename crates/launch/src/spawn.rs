//! Starting one rank on the proxy's host: fork/exec in its own process group, with
//! the PMI socket inherited as `PMI_FD`, the rank's environment (the one mpirun
//! sent, plus the PMI variables), piped stdout/stderr, and a clean signal state
//! (empty mask, default dispositions).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

/// Where one rank runs and who its neighbours are.
#[derive(Debug, Clone)]
pub struct RankSpec {
    pub rank: usize,
    pub size: usize,
    pub host: String,
    pub local_rank: usize,
    pub local_size: usize,
}

/// A started rank: the child and mpirun's ends of its PMI socket and pipes, all
/// non-blocking and close-on-exec.
pub struct Spawned {
    pub child: Child,
    pub pmi: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub stdin: Option<OwnedFd>,
}

pub fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// The environment of a rank: `inherited` (mpirun's environment) minus `PMI_*`/
/// `PMIX_*` (they belong to an outer launcher), then `user` settings in order, then
/// the PMI variables.
pub fn rank_env(
    inherited: impl Iterator<Item = (OsString, OsString)>,
    user: &[(String, String)],
    spec: &RankSpec,
    kvsname: &str,
    pmi_fd: i32,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = inherited
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            !k.starts_with("PMI_") && !k.starts_with("PMIX_")
        })
        .collect();
    let mut set = |k: &str, v: String| {
        env.retain(|(ek, _)| ek != k);
        env.push((k.into(), v.into()));
    };
    for (k, v) in user {
        set(k, v.clone());
    }
    set("PMI_FD", pmi_fd.to_string());
    set("PMI_RANK", spec.rank.to_string());
    set("PMI_SIZE", spec.size.to_string());
    set("PMI_JOBID", kvsname.to_string());
    set("MPI_LOCALRANKID", spec.local_rank.to_string());
    set("MPI_LOCALNRANKS", spec.local_size.to_string());
    env
}

/// Starts `program args` as rank `spec.rank` with the environment [`rank_env`]
/// makes of `inherited` and `user_env`. `with_stdin` gives it a pipe for stdin
/// (rank 0); other ranks read /dev/null.
pub fn spawn_rank(
    program: &str,
    args: &[String],
    inherited: impl Iterator<Item = (OsString, OsString)>,
    user_env: &[(String, String)],
    spec: &RankSpec,
    kvsname: &str,
    with_stdin: bool,
) -> std::io::Result<Spawned> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    set_nonblocking(&ours)?;
    let child_fd = theirs.as_raw_fd();

    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(rank_env(inherited, user_env, spec, kvsname, child_fd))
        .stdin(if with_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let parent = std::process::id() as libc::pid_t;
    let reset = move || -> std::io::Result<()> {
        // Only async-signal-safe calls here: fcntl, sigprocmask, sigaction, prctl.
        fcntl(child_fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        // The rank dies with its proxy, even one killed with SIGKILL (which cannot
        // take its ranks down itself); if the proxy is gone already, now.
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid take no pointers and are
        // async-signal-safe.
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(137);
            }
        }
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
        for sig in Signal::iterator() {
            if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
                // SAFETY: installing SIG_DFL registers no handler code, so there is
                // nothing that could run in an unsafe context; this child is
                // single-threaded between fork and exec.
                unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }?;
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (fcntl, sigprocmask, sigaction, prctl,
    // getppid); it allocates nothing and touches no locks.
    unsafe { cmd.pre_exec(reset) };

    let mut child = cmd.spawn()?;
    drop(theirs);
    let stdout: OwnedFd = child.stdout.take().expect("stdout was piped").into();
    let stderr: OwnedFd = child.stderr.take().expect("stderr was piped").into();
    let stdin: Option<OwnedFd> = child.stdin.take().map(OwnedFd::from);
    for fd in [Some(&stdout), Some(&stderr), stdin.as_ref()]
        .into_iter()
        .flatten()
    {
        set_nonblocking(fd)?;
    }
    Ok(Spawned {
        child,
        pmi: ours,
        stdout,
        stderr,
        stdin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_order_and_pmi_filter() {
        let spec = RankSpec {
            rank: 2,
            size: 4,
            host: "localhost".into(),
            local_rank: 2,
            local_size: 4,
        };
        let inherited = vec![
            ("PATH".into(), "/bin".into()),
            ("PMI_PORT".into(), "x:1".into()),
            ("A".into(), "old".into()),
        ];
        let user = vec![("A".to_string(), "new".to_string())];
        let env = rank_env(inherited.into_iter(), &user, &spec, "kvs", 5);
        let get = |k: &str| {
            env.iter()
                .find(|(ek, _)| ek == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("PMI_PORT"), None);
        assert_eq!(get("A").as_deref(), Some("new"));
        assert_eq!(get("PMI_FD").as_deref(), Some("5"));
        assert_eq!(get("PMI_RANK").as_deref(), Some("2"));
        assert_eq!(get("PMI_JOBID").as_deref(), Some("kvs"));
        assert_eq!(get("MPI_LOCALNRANKS").as_deref(), Some("4"));
        assert_eq!(env.iter().filter(|(k, _)| k == "A").count(), 1);
    }
}
