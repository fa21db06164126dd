//! The command line of `mpirun` / `mpiexec` / `mpirun_rsh`: both the mpirun_rsh
//! syntax (`-np N host... [VAR=VAL...] prog args`) and the mpiexec (Hydra) syntax
//! (`-n N -hosts a,b -genv K V prog args`) are recognised by every binary. Parsing
//! only; hosts are checked and expanded in `hosts`.

use std::path::Path;

/// Where the host names of a job come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSource {
    /// None given: every rank on this machine.
    Default,
    /// `-hosts a,b:2` or positional mpirun_rsh host names (entries may carry `:N`).
    List(Vec<String>),
    /// `-hostfile` / `-f` / `-machinefile`.
    File(String),
}

/// A parsed launch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-np` / `-n`; `None` if not given.
    pub np: Option<usize>,
    pub hosts: HostSource,
    /// `-ppn N`: ranks per host, overriding `host:N` slots.
    pub ppn: Option<usize>,
    /// `-genv`, `-env` and `VAR=VAL`, in command-line order (later wins).
    pub env: Vec<(String, String)>,
    pub prepend_rank: bool,
    /// `-launcher NAME` / `-ssh` / `-rsh` / `-launcher-exec CMD`; None: the default
    /// (`VMPI_LAUNCHER`, `VMPI_LAUNCHER_EXEC`, srun inside a Slurm allocation,
    /// else ssh).
    pub launcher: Option<crate::agent::Agent>,
    /// `--timeout` seconds, or `MPIEXEC_TIMEOUT` if the option is absent.
    pub timeout: Option<u64>,
    pub program: String,
    pub args: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(Options),
    Help,
    Version,
}

/// A command-line error; the message names the option or argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

pub const HELP: &str = "\
Usage:
  mpirun -np N [HOST...] [VAR=VAL...] PROGRAM [ARGS...]      (mpirun_rsh syntax)
  mpirun -np N -hostfile FILE [VAR=VAL...] PROGRAM [ARGS...]
  mpiexec -n N [-hosts a,b:2 | -f FILE] [-genv K V] PROGRAM [ARGS...]

Options (all binaries accept all of them):
  -np N, -n N              number of ranks (default: slots of the host list, else 1)
  -hosts LIST, -host LIST  comma-separated hosts, HOST:N gives N slots
  -hostfile F, -f F, -machinefile F
                           one host per line, HOST:N for N slots, '#' comments
  -ppn N                   ranks per host (overrides HOST:N)
  -genv K V, -env K V      set K=V in every rank's environment
  -genvall, -export        pass mpirun's environment (the default)
  -ssh, -rsh               start the proxies of other hosts with ssh (default) / rsh
  -launcher NAME, -bootstrap NAME
                           ssh, rsh, slurm (srun, the default in an allocation) or
                           manual (print the proxy commands to run by hand)
  -launcher-exec CMD, -bootstrap-exec CMD
                           start them with CMD HOST COMMAND... (like ssh)
  -prepend-rank, -l        prefix every output line with \"[rank] \"
  --timeout S, -timeout S  end the job after S seconds (exit 124); env MPIEXEC_TIMEOUT
  --help, -h               this text
  --version                version

Positional host names (mpirun_rsh syntax) are recognised when exactly N names come
before the program and the first of them is not an executable. Host files take
HOST, HOST:N or HOST slots=N per line. Inside a Slurm allocation without hosts,
the allocation's nodes are the hosts. See docs/launcher.md.
";

/// True if `s` is `NAME=VALUE` with NAME a valid environment variable name.
pub fn is_env_assignment(s: &str) -> bool {
    match s.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

fn looks_like_host(s: &str) -> bool {
    let name = s.split_once(':').map_or(s, |(h, _)| h);
    !name.is_empty()
        && !s.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// True if `name` would be run as a program: it names an executable path, or an
/// executable found in PATH.
fn is_executable(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        return exec(Path::new(name));
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|d| exec(&d.join(name))))
        .unwrap_or(false)
}

/// The most ranks one job may have. Every rank costs mpirun and its proxy a few
/// file descriptors and some memory, so a count beyond this is a typing error (or
/// a host list's slot total, `-hosts a:99999999999999999`), not a job to start.
pub const MAX_RANKS: usize = 1 << 20;

fn parse_count(opt: &str, v: &str) -> Result<usize, UsageError> {
    match v.parse::<usize>() {
        Ok(0) => Err(usage(format!("{opt}: must be at least 1, got 0"))),
        Ok(n) => Ok(n),
        Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => Err(usage(format!(
            "{opt}: {v} is out of range (at most {})",
            usize::MAX
        ))),
        Err(_) => Err(usage(format!(
            "{opt}: expected a positive integer, got {v:?}"
        ))),
    }
}

/// A time limit in seconds; 0 is none (as Hydra reads `MPIEXEC_TIMEOUT`).
fn parse_timeout(what: &str, v: &str) -> Result<Option<u64>, UsageError> {
    match v.trim().parse::<u64>() {
        Err(_) => Err(usage(format!(
            "{what}: expected a number of seconds (0: no limit), got {v:?}"
        ))),
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
    }
}

/// Parses the arguments after the program name. `env_timeout` is the value of
/// `MPIEXEC_TIMEOUT`, if set.
pub fn parse(args: &[String], env_timeout: Option<&str>) -> Result<Action, UsageError> {
    let mut np = None;
    let mut hosts = HostSource::Default;
    let mut ppn = None;
    let mut env = Vec::new();
    let mut prepend_rank = false;
    let mut timeout = None;
    let mut launcher = None;
    let mut i = 0;

    let value = |i: &mut usize, opt: &str| -> Result<String, UsageError> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| usage(format!("option {opt} needs a value")))
    };
    let set_hosts = |hosts: &mut HostSource, new: HostSource, opt: &str| {
        if *hosts != HostSource::Default {
            return Err(usage(format!(
                "option {opt}: hosts were already given; use only one of -hosts, -hostfile/-f/-machinefile"
            )));
        }
        *hosts = new;
        Ok(())
    };

    while i < args.len() {
        let a = args[i].as_str();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        match a {
            "--help" | "-help" | "-h" => return Ok(Action::Help),
            "--version" | "-version" => return Ok(Action::Version),
            "-np" | "-n" | "--np" | "--n" => {
                let n = parse_count(a, &value(&mut i, a)?)?;
                if n > MAX_RANKS {
                    return Err(usage(format!(
                        "{a}: {n} ranks is more than mpirun starts (at most {MAX_RANKS})"
                    )));
                }
                np = Some(n);
            }
            "-hosts" | "-host" | "--hosts" | "--host" => {
                let v = value(&mut i, a)?;
                let list: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                if list.iter().any(|h| h.is_empty()) {
                    return Err(usage(format!("option {a}: empty host name in {v:?}")));
                }
                set_hosts(&mut hosts, HostSource::List(list), a)?;
            }
            "-hostfile" | "-f" | "-machinefile" | "--hostfile" | "--machinefile" => {
                let v = value(&mut i, a)?;
                set_hosts(&mut hosts, HostSource::File(v), a)?;
            }
            "-ppn" | "--ppn" => ppn = Some(parse_count(a, &value(&mut i, a)?)?),
            "-genv" | "-env" | "--genv" | "--env" => {
                let k = value(&mut i, a)?;
                let v = value(&mut i, a)?;
                if !is_env_assignment(&format!("{k}=")) {
                    return Err(usage(format!(
                        "option {a}: {k:?} is not a valid environment variable name"
                    )));
                }
                env.push((k, v));
            }
            "-genvall" | "-export" | "--genvall" => {}
            "-ssh" | "--ssh" => launcher = Some(crate::agent::Agent::Ssh),
            "-rsh" | "--rsh" => launcher = Some(crate::agent::Agent::Rsh),
            "-launcher" | "--launcher" | "-bootstrap" | "--bootstrap" => {
                let v = value(&mut i, a)?;
                launcher = Some(
                    crate::agent::Agent::parse(&v)
                        .map_err(|e| usage(format!("option {a}: {e}")))?,
                );
            }
            "-launcher-exec" | "--launcher-exec" | "-bootstrap-exec" | "--bootstrap-exec" => {
                let v = value(&mut i, a)?;
                if v.trim().is_empty() {
                    return Err(usage(format!("option {a}: empty command")));
                }
                launcher = Some(crate::agent::Agent::Exec(v));
            }
            "-prepend-rank" | "--prepend-rank" | "-l" => prepend_rank = true,
            "--timeout" | "-timeout" => {
                timeout = Some(parse_timeout(a, &value(&mut i, a)?)?);
            }
            _ => {
                return Err(usage(format!(
                    "unknown option {a:?} (see --help); options go before the program"
                )))
            }
        }
        i += 1;
    }

    let rest = &args[i..];
    // mpirun_rsh positional hosts: exactly N host names, then the program.
    if hosts == HostSource::Default {
        if let Some(n) = np {
            let hosts_first = rest.len() >= n
                && rest[..n].iter().all(|s| looks_like_host(s))
                && !is_executable(&rest[0]);
            if hosts_first && rest[n..].iter().all(|s| is_env_assignment(s)) {
                return Err(usage(format!(
                    "no program given after the host names {} (or {:?} is not an executable program)",
                    rest[..n].join(" "),
                    rest[0]
                )));
            }
            if hosts_first {
                hosts = HostSource::List(rest[..n].to_vec());
                i += n;
            }
        }
    }
    while i < args.len() && is_env_assignment(&args[i]) {
        let (k, v) = args[i]
            .split_once('=')
            .expect("checked by is_env_assignment");
        env.push((k.to_string(), v.to_string()));
        i += 1;
    }
    let program = match args.get(i) {
        Some(p) if p.starts_with('-') => {
            return Err(usage(format!(
            "option {p:?} after the host names or VAR=VAL settings: options go first (see --help)"
        )))
        }
        Some(p) => p.clone(),
        None => return Err(usage("no program given (see --help)")),
    };
    if timeout.is_none() {
        if let Some(t) = env_timeout {
            timeout = Some(parse_timeout("MPIEXEC_TIMEOUT", t)?);
        }
    }
    let timeout = timeout.flatten();
    Ok(Action::Run(Options {
        np,
        hosts,
        ppn,
        env,
        prepend_rank,
        launcher,
        timeout,
        program,
        args: args[i + 1..].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Action, UsageError> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v, None)
    }

    fn run(s: &str) -> Options {
        match p(s).unwrap() {
            Action::Run(o) => o,
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn mpirun_rsh_syntax() {
        let o = run("-np 2 localhost localhost A=1 B=x=y ./prog -x 1");
        assert_eq!(o.np, Some(2));
        assert_eq!(
            o.hosts,
            HostSource::List(vec!["localhost".into(), "localhost".into()])
        );
        assert_eq!(
            o.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(o.program, "./prog");
        assert_eq!(o.args, vec!["-x", "1"]);
        let o = run("-ssh -np 3 -hostfile hf ./prog");
        assert_eq!(o.hosts, HostSource::File("hf".into()));
        assert_eq!(o.launcher, Some(crate::agent::Agent::Ssh));
        let o = run("-launcher-exec /bin/agent -n 1 ./prog");
        assert_eq!(
            o.launcher,
            Some(crate::agent::Agent::Exec("/bin/agent".into()))
        );
        assert_eq!(
            run("-bootstrap manual ./p").launcher,
            Some(crate::agent::Agent::Manual)
        );
        assert!(p("-launcher telnet ./p")
            .unwrap_err()
            .0
            .contains("-launcher"));
    }

    #[test]
    fn mpiexec_syntax() {
        let o = run("-n 4 -hosts a:2,b -genv K V -env L W -ppn 2 -l --timeout 5 sleep 1");
        assert_eq!(o.np, Some(4));
        assert_eq!(o.hosts, HostSource::List(vec!["a:2".into(), "b".into()]));
        assert_eq!(
            o.env,
            vec![("K".into(), "V".into()), ("L".into(), "W".into())]
        );
        assert_eq!(o.ppn, Some(2));
        assert!(o.prepend_rank);
        assert_eq!(o.timeout, Some(5));
        assert_eq!(o.program, "sleep");
        // An executable first word is the program, not a host.
        let o = run("-n 1 sleep 5");
        assert_eq!(o.hosts, HostSource::Default);
        assert_eq!(o.program, "sleep");
        assert_eq!(o.args, vec!["5"]);
    }

    #[test]
    fn help_version_and_env_timeout() {
        assert_eq!(p("--help").unwrap(), Action::Help);
        assert_eq!(p("-n 2 --version").unwrap(), Action::Version);
        let v = vec!["true".to_string()];
        match parse(&v, Some("7")).unwrap() {
            Action::Run(o) => assert_eq!(o.timeout, Some(7)),
            a => panic!("{a:?}"),
        }
        assert!(parse(&v, Some("soon"))
            .unwrap_err()
            .0
            .contains("MPIEXEC_TIMEOUT"));
        match parse(&v, Some("0")).unwrap() {
            Action::Run(o) => assert_eq!(o.timeout, None, "0 is no limit, as in Hydra"),
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn errors_name_the_option() {
        let cases = [
            ("-np 0 true", "-np"),
            ("-np x true", "-np"),
            ("-np", "-np"),
            ("-n 2", "no program"),
            ("-np 1 localhost", "no program"),
            ("-bogus true", "-bogus"),
            ("-genv 1X v true", "-genv"),
            ("--timeout x true", "--timeout"),
            ("-hosts a -f x true", "-f"),
            ("-hosts a,,b true", "-hosts"),
            ("-np 1 localhost A=1 -x prog", "-x"),
            ("-np 99999999999999999 true", "-np"),
            ("-np 99999999999999999999999 true", "out of range"),
            ("-ppn 99999999999999999999999 true", "-ppn"),
        ];
        for (cmd, want) in cases {
            let e = p(cmd).unwrap_err();
            assert!(e.0.contains(want), "{cmd}: {e}");
        }
    }
}
