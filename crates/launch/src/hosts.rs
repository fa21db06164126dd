//! Host lists: reading host files (`host`, `host:N`, `host slots=N`), Slurm's node
//! lists, expanding slots, assigning hosts to ranks round-robin as MPICH does, and
//! deciding whether a host is this machine (its proxy is forked, not started
//! through the launch agent).

use std::net::{IpAddr, ToSocketAddrs};

/// One host entry with its slot count (`host:N`, default 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSlots {
    pub name: String,
    pub slots: usize,
}

/// A slot count `n` (of `entry`, written as `form`): a number from 1 up; one too
/// large for this machine's integers is out of range, not a crash.
fn parse_slots(n: &str, entry: &str, form: &str, origin: &str) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(0) => Err(format!(
            "{origin}: bad slot count in {entry:?} (expected {form} with N >= 1)"
        )),
        Ok(s) => Ok(s),
        Err(_) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
            "{origin}: slot count in {entry:?} is out of range (at most {})",
            usize::MAX
        )),
        Err(_) => Err(format!(
            "{origin}: bad slot count in {entry:?} (expected {form} with N >= 1)"
        )),
    }
}

/// Parses `host` or `host:N` (an IPv6 address, which has colons of its own, is
/// written bare or in brackets: `::1`, `[::1]:2`); `origin` names where the entry
/// came from, for errors.
pub fn parse_entry(entry: &str, origin: &str) -> Result<HostSlots, String> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (name, tail) = rest
            .split_once(']')
            .filter(|(name, _)| !name.is_empty() && !name.contains(char::is_whitespace))
            .ok_or_else(|| format!("{origin}: bad host name in {entry:?}"))?;
        let slots = match tail.strip_prefix(':') {
            Some(n) => parse_slots(n, entry, "host:N", origin)?,
            None if tail.is_empty() => 1,
            None => return Err(format!("{origin}: bad host name in {entry:?}")),
        };
        return Ok(HostSlots {
            name: name.to_string(),
            slots,
        });
    }
    if entry.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(HostSlots {
            name: entry.to_string(),
            slots: 1,
        });
    }
    let (name, slots) = match entry.rsplit_once(':') {
        Some((name, n)) => {
            let slots = parse_slots(n, entry, "host:N", origin)?;
            (name, slots)
        }
        None => (entry, 1),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("{origin}: bad host name in {entry:?}"));
    }
    Ok(HostSlots {
        name: name.to_string(),
        slots,
    })
}

/// Parses a host file: one host per line, `host:N` (mpirun_rsh, Hydra) or
/// `host slots=N` (Open MPI) for N slots, `#` starts a comment, blank lines are
/// ignored; any other word on a line is an error.
pub fn parse_hostfile(text: &str, path: &str) -> Result<Vec<HostSlots>, String> {
    let mut out = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let origin = format!("host file {path}, line {}", no + 1);
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or(line);
        let mut h = parse_entry(first, &origin)?;
        // `host:N` already gave the count; a bare IPv6 address has colons too.
        let has_n = if first.starts_with('[') {
            first.contains("]:")
        } else {
            first.contains(':') && first.parse::<std::net::Ipv6Addr>().is_err()
        };
        for w in words {
            match w.strip_prefix("slots=") {
                Some(n) if !has_n => {
                    h.slots = parse_slots(n, w, "slots=N", &origin)?;
                }
                _ => {
                    return Err(format!(
                    "{origin}: unexpected {w:?} after the host name (HOST, HOST:N or HOST slots=N)"
                ))
                }
            }
        }
        out.push(h);
    }
    if out.is_empty() {
        return Err(format!("host file {path}: no hosts in it"));
    }
    Ok(out)
}

/// Reads and parses a host file.
pub fn read_hostfile(path: &str) -> Result<Vec<HostSlots>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read host file {path:?} (-hostfile/-f): {e}"))?;
    parse_hostfile(&text, path)
}

/// Rank `i` gets slot `i % total` of the list with every `host:N` expanded to N
/// consecutive slots (`ppn` replaces each entry's N when given). Slots are never
/// expanded into memory: a host with 10^17 slots costs nothing beyond the ranks.
pub fn assign(list: &[HostSlots], np: usize, ppn: Option<usize>) -> Vec<String> {
    let total = total_slots(list, ppn);
    let mut out = Vec::with_capacity(np);
    let (mut h, mut used) = (0, 0);
    for i in 0..np {
        if i > 0 && i % total == 0 {
            (h, used) = (0, 0);
        }
        while used >= ppn.unwrap_or(list[h].slots) {
            (h, used) = (h + 1, 0);
        }
        out.push(list[h].name.clone());
        used += 1;
    }
    out
}

/// Total slots of a list (used as the default rank count), saturating.
pub fn total_slots(list: &[HostSlots], ppn: Option<usize>) -> usize {
    list.iter()
        .map(|h| ppn.unwrap_or(h.slots))
        .fold(0usize, |a, b| a.saturating_add(b))
}

/// Expands a Slurm node list (`n[1-3,7],login`, zero-padded ranges kept:
/// `c[08-10]`).
pub fn expand_nodelist(list: &str) -> Result<Vec<String>, String> {
    let bad = || format!("cannot read the Slurm node list {list:?}");
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        // one item: up to a comma outside brackets
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    _ => {}
                }
                c == ',' && depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let item = &rest[..end];
        rest = rest[end..].trim_start_matches(',');
        match item.find('[') {
            None if !item.is_empty() => out.push(item.to_string()),
            None => return Err(bad()),
            Some(open) => {
                let close = item.rfind(']').ok_or_else(bad)?;
                let (pre, body, post) = (&item[..open], &item[open + 1..close], &item[close + 1..]);
                for part in body.split(',') {
                    let (a, b) = part.split_once('-').unwrap_or((part, part));
                    let (x, y) = (
                        a.parse::<u64>().map_err(|_| bad())?,
                        b.parse::<u64>().map_err(|_| bad())?,
                    );
                    if y < x || y - x > 100_000 {
                        return Err(bad());
                    }
                    for n in x..=y {
                        out.push(format!("{pre}{n:0w$}{post}", w = a.len()));
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// Expands Slurm's `SLURM_TASKS_PER_NODE` (`2(x3),1`) into one count per node.
pub fn expand_tasks_per_node(s: &str) -> Result<Vec<usize>, String> {
    let bad = || format!("cannot read SLURM_TASKS_PER_NODE={s:?}");
    let mut out = Vec::new();
    for part in s.split(',') {
        let (n, times) = match part.split_once("(x") {
            Some((n, t)) => (
                n,
                t.strip_suffix(')')
                    .ok_or_else(bad)?
                    .parse::<usize>()
                    .map_err(|_| bad())?,
            ),
            None => (part, 1),
        };
        let n = n.trim().parse::<usize>().map_err(|_| bad())?;
        if times > 100_000 {
            return Err(bad());
        }
        out.extend(std::iter::repeat_n(n, times));
    }
    Ok(out)
}

/// Addresses of this machine's interfaces.
fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(ifs) = nix::ifaddrs::getifaddrs() {
        for ifa in ifs {
            if let Some(a) = ifa.address {
                if let Some(v4) = a.as_sockaddr_in() {
                    out.push(IpAddr::V4(v4.ip()));
                } else if let Some(v6) = a.as_sockaddr_in6() {
                    out.push(IpAddr::V6(v6.ip()));
                }
            }
        }
    }
    out
}

/// True if `host` is this machine: `localhost`, a loopback address, this machine's
/// host name, or a name resolving to an address of a local interface.
pub fn is_local(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback() || local_addresses().contains(&ip);
    }
    if let Ok(me) = nix::unistd::gethostname() {
        let me = me.to_string_lossy();
        if host.eq_ignore_ascii_case(&me) || me.split('.').next() == Some(host) {
            return true;
        }
    }
    match (host, 0u16).to_socket_addrs() {
        Ok(addrs) => {
            let local = local_addresses();
            let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.is_loopback() || local.contains(a))
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(name: &str, slots: usize) -> HostSlots {
        HostSlots {
            name: name.into(),
            slots,
        }
    }

    #[test]
    fn hostfile_syntax() {
        let t = "# cluster\nlocalhost:2\n\n  127.0.0.1   # loop\nvm1:1\n";
        assert_eq!(
            parse_hostfile(t, "hf").unwrap(),
            vec![hs("localhost", 2), hs("127.0.0.1", 1), hs("vm1", 1)]
        );
        assert!(parse_hostfile("# only\n", "hf")
            .unwrap_err()
            .contains("no hosts"));
        let e = parse_hostfile("a\nb:0\n", "hf").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_hostfile("b:x\n", "hf").is_err());
    }

    #[test]
    fn hostfile_slots_and_trailing_words() {
        let t = "a slots=3\nb:2 # two\nc\n";
        assert_eq!(
            parse_hostfile(t, "hf").unwrap(),
            vec![hs("a", 3), hs("b", 2), hs("c", 1)]
        );
        let e = parse_hostfile("a slots=0\n", "hf").unwrap_err();
        assert!(e.contains("slots=0"), "{e}");
        let e = parse_hostfile("a b\n", "hf").unwrap_err();
        assert!(e.contains("line 1") && e.contains("\"b\""), "{e}");
        assert!(parse_hostfile("a:2 slots=3\n", "hf").is_err());
        assert!(parse_hostfile("[::1]:2 slots=3\n", "hf").is_err());
        // Found by the property test: an IPv6 address with slots=N.
        assert_eq!(
            parse_hostfile("::1 slots=3\n[::1] slots=2\n", "hf").unwrap(),
            vec![hs("::1", 3), hs("::1", 2)]
        );
    }

    #[test]
    fn huge_slot_counts_cost_nothing() {
        let l = [hs("a", usize::MAX / 2), hs("b", usize::MAX / 2 + 7)];
        assert_eq!(assign(&l, 3, None), ["a", "a", "a"]);
        assert_eq!(total_slots(&l, None), usize::MAX);
        assert_eq!(
            assign(&[hs("a", 1), hs("b", 1)], 3, Some(usize::MAX)),
            ["a", "a", "a"]
        );
        assert_eq!(
            parse_entry("localhost:99999999999999999", "t")
                .unwrap()
                .slots,
            99999999999999999
        );
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(parse_entry("::1", "t").unwrap(), hs("::1", 1));
        assert_eq!(parse_entry("[::1]:3", "t").unwrap(), hs("::1", 3));
        assert_eq!(parse_entry("[fe80::1]", "t").unwrap(), hs("fe80::1", 1));
        assert!(parse_entry("[::1", "t").is_err());
        // Found by the property test: an empty bracketed name.
        assert!(parse_entry("[]", "t").is_err());
        assert!(parse_entry("[]:2", "t").is_err());
        assert!(parse_entry("[a b]", "t").is_err());
        assert!(is_local("::1"));
    }

    #[test]
    fn slurm_lists() {
        assert_eq!(expand_nodelist("n[1-3]").unwrap(), ["n1", "n2", "n3"]);
        assert_eq!(
            expand_nodelist("c[08-10,12],login").unwrap(),
            ["c08", "c09", "c10", "c12", "login"]
        );
        assert_eq!(expand_nodelist("a,b").unwrap(), ["a", "b"]);
        assert!(expand_nodelist("n[3-1]").is_err());
        assert!(expand_nodelist("n[1-x]").is_err());
        assert!(expand_nodelist("").is_err());
        assert_eq!(expand_tasks_per_node("2(x3),1").unwrap(), [2, 2, 2, 1]);
        assert_eq!(expand_tasks_per_node("4").unwrap(), [4]);
        assert!(expand_tasks_per_node("2(x3").is_err());
    }

    #[test]
    fn round_robin_wraps_over_slots() {
        let l = [hs("a", 2), hs("b", 1)];
        assert_eq!(assign(&l, 5, None), ["a", "a", "b", "a", "a"]);
        assert_eq!(assign(&l, 2, None), ["a", "a"]);
        assert_eq!(assign(&l, 4, Some(1)), ["a", "b", "a", "b"]);
        assert_eq!(total_slots(&l, None), 3);
        assert_eq!(total_slots(&l, Some(2)), 4);
    }

    #[test]
    fn locality() {
        assert!(is_local("localhost"));
        assert!(is_local("127.0.0.1"));
        assert!(is_local("127.1.2.3"));
        let me = nix::unistd::gethostname().unwrap();
        assert!(is_local(&me.to_string_lossy()));
        assert!(!is_local("192.0.2.77"));
        assert!(!is_local("no-such-host.invalid"));
    }
}
