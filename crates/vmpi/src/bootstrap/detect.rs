//! Which process manager interface serves this rank, decided from the environment
//! and, for `PMI_FD`, from the process at the other end of the socket.
//!
//! `PMI_FD` alone does not say which protocol the server speaks: our `mpirun` and
//! MPICH's Hydra serve PMI-1 over it, Slurm's `mpi/pmi2` plugin (`srun --mpi=pmi2`)
//! serves PMI-2 (and PMI-1 as well). The variables do not tell them apart reliably:
//! our mpirun sets `PMI_JOBID` as Slurm does, and `SLURM_MPI_TYPE=pmi2` stays in the
//! environment of anything started inside a Slurm step, including ranks that a
//! nested mpirun or Hydra serves with PMI-1 only. What does tell them apart is the
//! process that made the socket: `SO_PEERCRED` of `PMI_FD` names it, and Slurm's
//! server is `slurmstepd`. So:
//!
//! 1. `PMI_FD` set: PMI-2 when the socket's other end is `slurmstepd`; PMI-1 when it is
//!    any other process (mpirun, hydra_pmi_proxy, ...). When the other end cannot be
//!    seen (another PID namespace, a container), PMI-2 only if the environment is
//!    Slurm's own (`SLURM_MPI_TYPE=pmi2*` and `PMI_JOBID`), else PMI-1.
//!    Against Slurm, PMI-2 rather than PMI-1 although both work: PMI-2 is the plugin's
//!    native protocol and its fence is the one Slurm scales (a tree through the
//!    slurmstepds), and it is what Slurm users ask for with `--mpi=pmi2`.
//! 2. `PMI_PORT` set: PMI-1 over TCP (MPICH's simple PMI, with `PMI_ID`).
//! 3. `PMIX_NAMESPACE` and `PMIX_RANK` set (`srun --mpi=pmix`, PRRTE): PMIx, through
//!    libpmix loaded at run time.
//! 4. Nothing: a singleton.
//!
//! A launcher's own variables win over inherited ones: our mpirun removes inherited
//! `PMI_*`/`PMIX_*` variables, and a `PMI_FD` beats `PMIX_*` (the innermost launcher
//! sets `PMI_FD`; Slurm's PMIx plugin never does).

/// The interface a rank uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Pmi1Fd,
    Pmi1Port,
    Pmi2Fd,
    Pmix,
    Singleton,
}

/// What is at the other end of `PMI_FD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The command name (`/proc/PID/comm`) of the process that made the socket.
    Named(String),
    /// Not known, and why.
    Unknown(String),
}

/// The decision and its reason (shown by `vmpi-info --pmi`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub iface: Interface,
    pub why: String,
}

fn choice(iface: Interface, why: impl Into<String>) -> Choice {
    Choice {
        iface,
        why: why.into(),
    }
}

/// The decision, from the variables (`var`) and what is at the other end of a
/// `PMI_FD` (`peer`, asked only when `PMI_FD` is set).
pub fn decide(var: impl Fn(&str) -> Option<String>, peer: impl Fn(&str) -> Peer) -> Choice {
    if let Some(fd) = var("PMI_FD") {
        return match peer(&fd) {
            Peer::Named(name) if name == "slurmstepd" => choice(
                Interface::Pmi2Fd,
                "the other end of PMI_FD is slurmstepd: Slurm's mpi/pmi2 plugin",
            ),
            Peer::Named(name) => choice(
                Interface::Pmi1Fd,
                format!("the other end of PMI_FD is {name}"),
            ),
            Peer::Unknown(why) => {
                let slurm = var("SLURM_MPI_TYPE").is_some_and(|t| t.starts_with("pmi2"))
                    && var("PMI_JOBID").is_some();
                if slurm {
                    choice(
                        Interface::Pmi2Fd,
                        format!("SLURM_MPI_TYPE=pmi2 and PMI_JOBID are set ({why})"),
                    )
                } else {
                    choice(Interface::Pmi1Fd, format!("PMI_FD is set ({why})"))
                }
            }
        };
    }
    if let Some(port) = var("PMI_PORT") {
        return choice(Interface::Pmi1Port, format!("PMI_PORT={port}"));
    }
    if let (Some(ns), Some(_)) = (var("PMIX_NAMESPACE"), var("PMIX_RANK")) {
        return choice(Interface::Pmix, format!("PMIX_NAMESPACE={ns}"));
    }
    choice(
        Interface::Singleton,
        "no PMI_FD, PMI_PORT or PMIX_NAMESPACE in the environment",
    )
}

/// The command name of the process that made the socket `fd` (`SO_PEERCRED`).
pub fn socket_peer(fd: &str) -> Peer {
    let Ok(fd) = fd.trim().parse::<i32>() else {
        return Peer::Unknown(format!("PMI_FD={fd} is not a number"));
    };
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a local of exactly
    // that size; on a descriptor that is not an open socket it fails (EBADF/ENOTSOCK)
    // and writes nothing. The descriptor is only read, never closed.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Peer::Unknown(format!(
            "SO_PEERCRED on PMI_FD={fd}: {}",
            std::io::Error::last_os_error()
        ));
    }
    if cred.pid <= 0 {
        return Peer::Unknown("the server's pid is not visible from here".into());
    }
    match std::fs::read_to_string(format!("/proc/{}/comm", cred.pid)) {
        Ok(c) => Peer::Named(c.trim_end().to_string()),
        Err(e) => Peer::Unknown(format!("/proc/{}/comm: {e}", cred.pid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)], peer: Peer) -> Choice {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        decide(|k| m.get(k).cloned(), |_| peer.clone())
    }

    #[test]
    fn slurmstepd_means_pmi2() {
        let c = run(
            &[
                ("PMI_FD", "11"),
                ("PMI_JOBID", "9.0"),
                ("SLURM_MPI_TYPE", "pmi2"),
            ],
            Peer::Named("slurmstepd".into()),
        );
        assert_eq!(c.iface, Interface::Pmi2Fd, "{c:?}");
        assert!(c.why.contains("slurmstepd"));
    }

    #[test]
    fn nested_launchers_keep_pmi1() {
        // mpirun or Hydra inside a Slurm step: Slurm's variables are inherited, the
        // socket is the nested launcher's.
        for server in ["mpirun", "hydra_pmi_proxy"] {
            let c = run(
                &[
                    ("PMI_FD", "5"),
                    ("PMI_JOBID", "vmpi_1_ab"),
                    ("SLURM_MPI_TYPE", "pmi2"),
                    ("PMIX_NAMESPACE", "slurm.pmix.1.0"),
                    ("PMIX_RANK", "0"),
                ],
                Peer::Named(server.into()),
            );
            assert_eq!(c.iface, Interface::Pmi1Fd, "{server}: {c:?}");
            assert!(c.why.contains(server));
        }
    }

    #[test]
    fn unknown_peer_falls_back_on_slurm_variables() {
        let unknown = || Peer::Unknown("pid not visible".into());
        let c = run(
            &[
                ("PMI_FD", "11"),
                ("PMI_JOBID", "9.0"),
                ("SLURM_MPI_TYPE", "pmi2"),
            ],
            unknown(),
        );
        assert_eq!(c.iface, Interface::Pmi2Fd);
        assert!(c.why.contains("pid not visible"));
        let c = run(&[("PMI_FD", "11"), ("PMI_JOBID", "9.0")], unknown());
        assert_eq!(c.iface, Interface::Pmi1Fd);
        let c = run(&[("PMI_FD", "11"), ("SLURM_MPI_TYPE", "pmi2")], unknown());
        assert_eq!(c.iface, Interface::Pmi1Fd);
    }

    #[test]
    fn port_pmix_and_singleton() {
        let none = || Peer::Unknown("not asked".into());
        assert_eq!(
            run(&[("PMI_PORT", "h:1"), ("PMI_ID", "0")], none()).iface,
            Interface::Pmi1Port
        );
        assert_eq!(
            run(
                &[("PMIX_NAMESPACE", "slurm.pmix.7.0"), ("PMIX_RANK", "1")],
                none()
            )
            .iface,
            Interface::Pmix
        );
        assert_eq!(
            run(&[("PMIX_NAMESPACE", "x")], none()).iface,
            Interface::Singleton
        );
        assert_eq!(run(&[], none()).iface, Interface::Singleton);
    }

    #[test]
    fn socket_peer_names_the_maker_of_a_socketpair() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        use std::os::fd::AsRawFd;
        let me = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(
            socket_peer(&a.as_raw_fd().to_string()),
            Peer::Named(me.trim_end().to_string())
        );
        assert!(matches!(socket_peer("x"), Peer::Unknown(_)));
        assert!(matches!(socket_peer("987654"), Peer::Unknown(_)));
        // a pipe is not a socket
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(matches!(
            socket_peer(&r.as_raw_fd().to_string()),
            Peer::Unknown(_)
        ));
    }
}
