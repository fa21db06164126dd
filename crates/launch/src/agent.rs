//! Launch agents: how mpirun starts the proxy of each host. The proxy of mpirun's
//! own host is forked; the others go through `ssh` (the default), `rsh`, a user
//! command that takes `HOST COMMAND...` as ssh does (`-launcher-exec`), `srun`
//! inside a Slurm allocation (one step with a proxy per node), or `manual` (the
//! commands are printed for the user to run).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// How proxies on other hosts are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// `ssh -x -o BatchMode=yes HOST COMMAND` (the program may be replaced with
    /// `-launcher-exec`, keeping ssh's arguments out).
    Ssh,
    Rsh,
    /// A command that takes `HOST COMMAND...` like ssh.
    Exec(String),
    /// One `srun` step with a proxy on each host (inside an allocation).
    Slurm,
    /// Print the proxy commands; the user runs them.
    Manual,
}

impl Agent {
    pub fn parse(name: &str) -> Result<Agent, String> {
        match name {
            "ssh" => Ok(Agent::Ssh),
            "rsh" => Ok(Agent::Rsh),
            "slurm" | "srun" => Ok(Agent::Slurm),
            "manual" => Ok(Agent::Manual),
            other => Err(format!(
                "unknown launcher {other:?} (ssh, rsh, slurm, manual, or -launcher-exec CMD)"
            )),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Agent::Ssh => "ssh".into(),
            Agent::Rsh => "rsh".into(),
            Agent::Exec(c) => c.clone(),
            Agent::Slurm => "srun".into(),
            Agent::Manual => "manual".into(),
        }
    }
}

/// A word as a POSIX shell reads it back unchanged (ssh and rsh hand the remote
/// shell one string).
pub fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=,+@%".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The proxy's command line (`id` None for srun, whose tasks cannot each get
/// their own).
pub fn proxy_words(
    proxy: &Path,
    control: &[SocketAddr],
    cookie: u64,
    id: Option<usize>,
) -> Vec<String> {
    let control: Vec<String> = control.iter().map(|a| a.to_string()).collect();
    let mut v = vec![
        proxy.display().to_string(),
        "--control".into(),
        control.join(","),
        "--cookie".into(),
        format!("{cookie:x}"),
    ];
    if let Some(i) = id {
        v.push("--id".into());
        v.push(i.to_string());
    }
    v
}

/// The addresses `host` should try to reach mpirun's port on: the source address
/// of the route to `host` (no packet is sent); where `host` does not resolve here
/// (a Slurm node name only the nodes know), every address of this machine that
/// is up, loopback last.
pub fn addresses_towards(host: &str, port: u16) -> Vec<SocketAddr> {
    if let Ok(ip) = address_towards(host) {
        return vec![SocketAddr::new(ip, port)];
    }
    let mut v: Vec<SocketAddr> = Vec::new();
    if let Ok(ifs) = nix::ifaddrs::getifaddrs() {
        for ifa in ifs {
            if let Some(a) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
                let a = SocketAddr::new(IpAddr::V4(a.ip()), port);
                if !v.contains(&a) {
                    v.push(a);
                }
            }
        }
    }
    v.sort_by_key(|a| a.ip().is_loopback());
    v
}

/// The address of this machine that `host` reaches it on: the source address of
/// the route to `host` (no packet is sent).
pub fn address_towards(host: &str) -> Result<IpAddr, String> {
    let target = (host, 9)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?}: {e}"))?
        .find(|a| a.is_ipv4())
        .or_else(|| (host, 9).to_socket_addrs().ok().and_then(|mut a| a.next()))
        .ok_or_else(|| format!("host {host:?} has no address"))?;
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let s = UdpSocket::bind(bind).map_err(|e| format!("socket: {e}"))?;
    s.connect(target)
        .map_err(|e| format!("no route to host {host:?} ({}): {e}", target.ip()))?;
    Ok(s.local_addr()
        .map_err(|e| format!("getsockname: {e}"))?
        .ip())
}

/// Start the proxy for `host` with `words` through `agent` (`local`: fork it,
/// whatever the agent). None for `manual`: the command is printed.
pub fn start(
    agent: &Agent,
    host: &str,
    local: bool,
    words: &[String],
) -> std::io::Result<Option<Child>> {
    let mut cmd = if local {
        let mut c = Command::new(&words[0]);
        c.args(&words[1..]);
        c
    } else {
        match agent {
            Agent::Ssh => {
                let mut c = Command::new("ssh");
                c.args(["-x", "-o", "BatchMode=yes", host]).arg(
                    words
                        .iter()
                        .map(|w| shell_word(w))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                c
            }
            Agent::Rsh => {
                let mut c = Command::new("rsh");
                c.arg(host).arg(
                    words
                        .iter()
                        .map(|w| shell_word(w))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                c
            }
            Agent::Exec(line) => {
                // `CMD [ARGS...]`: split at white space, as a shell would.
                let mut it = line.split_whitespace();
                let mut c = Command::new(it.next().unwrap_or(line));
                c.args(it)
                    .arg(host)
                    .args(words.iter().map(|w| shell_word(w)));
                c
            }
            Agent::Manual => {
                println!(
                    "mpirun: start the proxy of host {host} there with: {}",
                    words
                        .iter()
                        .map(|w| shell_word(w))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                return Ok(None);
            }
            Agent::Slurm => unreachable!("srun starts every proxy at once (start_srun)"),
        }
    };
    // The agent gets no stdin (mpirun forwards stdin itself) and its own process
    // group, so a Ctrl-C at the terminal reaches mpirun only.
    cmd.stdin(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().map(Some)
}

/// One srun step with a proxy on each of `hosts` (Slurm node names).
pub fn start_srun(hosts: &[String], words: &[String]) -> std::io::Result<Child> {
    let mut c = Command::new("srun");
    c.arg(format!("--nodelist={}", hosts.join(",")))
        .arg(format!("--nodes={}", hosts.len()))
        .arg(format!("--ntasks={}", hosts.len()))
        .args([
            "--ntasks-per-node=1",
            "--kill-on-bad-exit=1",
            "--mpi=none",
            "--cpu-bind=none",
            "--overlap",
            "--input=none",
            "--quiet",
        ])
        .args(words)
        .stdin(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_survive_a_shell() {
        assert_eq!(
            shell_word("/opt/vmpi/bin/vmpi-proxy"),
            "/opt/vmpi/bin/vmpi-proxy"
        );
        assert_eq!(shell_word("10.0.0.1:4000"), "10.0.0.1:4000");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        let a: SocketAddr = "1.2.3.4:5".parse().unwrap();
        let w = proxy_words(Path::new("/p x/vmpi-proxy"), &[a], 255, Some(2));
        assert_eq!(
            w,
            [
                "/p x/vmpi-proxy",
                "--control",
                "1.2.3.4:5",
                "--cookie",
                "ff",
                "--id",
                "2"
            ]
        );
        let b: SocketAddr = "5.6.7.8:5".parse().unwrap();
        assert_eq!(
            proxy_words(Path::new("p"), &[a, b], 1, None)[2],
            "1.2.3.4:5,5.6.7.8:5"
        );
        let all = addresses_towards("no-such-host.invalid", 7);
        assert!(
            !all.is_empty() && all.last().unwrap().ip().is_loopback(),
            "{all:?}"
        );
    }

    #[test]
    fn route_to_loopback_is_loopback() {
        assert!(address_towards("127.0.0.1").unwrap().is_loopback());
        assert!(address_towards("no-such-host.invalid").is_err());
        assert_eq!(Agent::parse("ssh").unwrap(), Agent::Ssh);
        assert!(Agent::parse("telnet").is_err());
    }
}
