//! Host lists: reading host files, expanding `host:N` slots, assigning hosts to ranks
//! round-robin as MPICH does, and deciding whether a host is this machine (the only
//! kind this launcher can start ranks on for now).

use std::net::{IpAddr, ToSocketAddrs};

/// One host entry with its slot count (`host:N`, default 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSlots {
    pub name: String,
    pub slots: usize,
}

/// Parses `host` or `host:N`; `origin` names where the entry came from, for errors.
pub fn parse_entry(entry: &str, origin: &str) -> Result<HostSlots, String> {
    let (name, slots) = match entry.rsplit_once(':') {
        Some((name, n)) => {
            let slots = n.parse::<usize>().ok().filter(|&s| s > 0).ok_or_else(|| {
                format!("{origin}: bad slot count in {entry:?} (expected host:N with N >= 1)")
            })?;
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

/// Parses a host file: one host per line, `host:N` for N slots, `#` starts a comment,
/// blank lines are ignored.
pub fn parse_hostfile(text: &str, path: &str) -> Result<Vec<HostSlots>, String> {
    let mut out = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let entry = line.split_whitespace().next().unwrap_or(line);
        out.push(parse_entry(
            entry,
            &format!("host file {path}, line {}", no + 1),
        )?);
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
/// consecutive slots (`ppn` replaces each entry's N when given).
pub fn assign(list: &[HostSlots], np: usize, ppn: Option<usize>) -> Vec<String> {
    let slots: Vec<&str> = list
        .iter()
        .flat_map(|h| (0..ppn.unwrap_or(h.slots)).map(move |_| h.name.as_str()))
        .collect();
    (0..np)
        .map(|i| slots[i % slots.len()].to_string())
        .collect()
}

/// Total slots of a list (used as the default rank count).
pub fn total_slots(list: &[HostSlots], ppn: Option<usize>) -> usize {
    list.iter().map(|h| ppn.unwrap_or(h.slots)).sum()
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
