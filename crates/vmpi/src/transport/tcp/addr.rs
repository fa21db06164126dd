//! Addresses: the card a rank publishes (its IPv4 addresses and listening port), the
//! choice of local interfaces (`VMPI_TCP_IF`, the route to mpirun first), the parsing of
//! a peer's card, and the order in which its addresses are dialed.

use crate::error::{Error, Result};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Upper bound of the card length.
const CARD_MAX: usize = 400;

/// How to reach one peer: its card (as published through PMI) and whether it lives in
/// this rank's network namespace (then 127.0.0.1 is tried first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    pub card: String,
    pub same_netns: bool,
}

/// One entry of `VMPI_TCP_IF`: an interface by name, or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfSelector {
    Name(String),
    Net(Ipv4Addr, u8),
}

impl IfSelector {
    pub fn parse(s: &str) -> std::result::Result<IfSelector, String> {
        if let Some((a, n)) = s.split_once('/') {
            let ip: Ipv4Addr = a
                .parse()
                .map_err(|_| format!("{s:?} is not a network (a.b.c.d/len)"))?;
            let len: u8 = n
                .parse()
                .ok()
                .filter(|&l| l <= 32)
                .ok_or_else(|| format!("{s:?}: bad prefix length"))?;
            return Ok(IfSelector::Net(ip, len));
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(IfSelector::Net(ip, 32));
        }
        if s.is_empty()
            || s.len() > 15
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c))
        {
            return Err(format!("{s:?} is neither an interface name nor a network"));
        }
        Ok(IfSelector::Name(s.to_string()))
    }

    fn matches(&self, name: &str, ip: Ipv4Addr) -> bool {
        match self {
            IfSelector::Name(n) => n == name,
            IfSelector::Net(net, len) => {
                let mask = if *len == 0 { 0 } else { u32::MAX << (32 - len) };
                u32::from(ip) & mask == u32::from(*net) & mask
            }
        }
    }
}

/// The local addresses to publish, in order: only those `include` selects (when
/// it selects any; an error when it selects none), the one that routes to
/// `toward` first.
pub(super) fn choose_local(
    all: Vec<(Ipv4Addr, Ipv4Addr, String)>,
    include: &[IfSelector],
    toward: Option<Ipv4Addr>,
) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>> {
    let mut keep: Vec<(Ipv4Addr, Ipv4Addr, String)> = if include.is_empty() {
        all.clone()
    } else {
        all.iter()
            .filter(|(ip, _, name)| include.iter().any(|s| s.matches(name, *ip)))
            .cloned()
            .collect()
    };
    if keep.is_empty() {
        let have: Vec<String> = all.iter().map(|(ip, _, n)| format!("{n} {ip}")).collect();
        return Err(Error::other(format!(
            "VMPI_TCP_IF selects no interface of this host (up: {})",
            have.join(", ")
        )));
    }
    if let Some(src) = toward.and_then(route_source) {
        if let Some(i) = keep.iter().position(|(ip, _, _)| *ip == src) {
            let first = keep.remove(i);
            keep.insert(0, first);
        }
    }
    Ok(keep.into_iter().map(|(ip, m, _)| (ip, m)).collect())
}

/// The source address of the route to `to` (no packet is sent).
fn route_source(to: Ipv4Addr) -> Option<Ipv4Addr> {
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((to, 9)).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    }
}

/// IPv4 addresses (with netmasks and interface names) of the local interfaces
/// that are up.
pub(super) fn local_ipv4() -> Result<Vec<(Ipv4Addr, Ipv4Addr, String)>> {
    let addrs =
        nix::ifaddrs::getifaddrs().map_err(|e| Error::other(format!("tcp: getifaddrs: {e}")))?;
    let mut out = Vec::new();
    for ifa in addrs {
        if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(ip) = ifa
            .address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|a| a.ip())
        else {
            continue;
        };
        let mask = ifa
            .netmask
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|a| a.ip())
            .unwrap_or(Ipv4Addr::BROADCAST);
        if !out.iter().any(|(a, _, _)| *a == ip) {
            out.push((ip, mask, ifa.interface_name.clone()));
        }
    }
    Ok(out)
}

/// The card of a rank: non-loopback addresses first, loopback last, at most `CARD_MAX`
/// bytes.
pub(super) fn make_card(local: &[(Ipv4Addr, Ipv4Addr)], port: u16) -> String {
    let outer: Vec<String> = local
        .iter()
        .filter(|(a, _)| !a.is_loopback())
        .map(|(a, _)| format!("{a}:{port}"))
        .collect();
    let lo: Vec<String> = local
        .iter()
        .filter(|(a, _)| a.is_loopback())
        .map(|(a, _)| format!("{a}:{port}"))
        .collect();
    let reserve = lo.first().map_or(0, |l| l.len() + 1);
    let mut card = String::new();
    for e in outer {
        if card.len() + 1 + e.len() + reserve > CARD_MAX {
            break;
        }
        if !card.is_empty() {
            card.push(',');
        }
        card.push_str(&e);
    }
    for e in lo {
        if card.len() + 1 + e.len() > CARD_MAX {
            break;
        }
        if !card.is_empty() {
            card.push(',');
        }
        card.push_str(&e);
    }
    card
}

pub(super) fn parse_card(card: &str) -> std::result::Result<Vec<SocketAddrV4>, String> {
    card.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddrV4>()
                .map_err(|_| format!("entry {s:?} is not an IPv4 address:port"))
        })
        .collect()
}

/// The addresses to try, in order: 127.0.0.1 first for a peer in our network namespace,
/// then the card's non-loopback addresses, those in a local interface's subnet first.
/// Loopback entries of the card are skipped for a peer in another namespace (there,
/// 127.0.0.1 reaches someone else).
pub(super) fn dial_order(
    card: &[SocketAddrV4],
    same_netns: bool,
    local: &[(Ipv4Addr, Ipv4Addr)],
) -> Vec<SocketAddrV4> {
    let mut out = Vec::new();
    if same_netns {
        if let Some(first) = card.first() {
            out.push(SocketAddrV4::new(Ipv4Addr::LOCALHOST, first.port()));
        }
    }
    let near = |ip: &Ipv4Addr| {
        local.iter().any(|(a, m)| {
            !a.is_loopback() && (u32::from(*a) & u32::from(*m)) == (u32::from(*ip) & u32::from(*m))
        })
    };
    let outer: Vec<SocketAddrV4> = card
        .iter()
        .copied()
        .filter(|a| !a.ip().is_loopback())
        .collect();
    out.extend(outer.iter().filter(|a| near(a.ip())));
    out.extend(outer.iter().filter(|a| !near(a.ip())));
    let mut seen = Vec::new();
    out.retain(|a| {
        if seen.contains(a) {
            false
        } else {
            seen.push(*a);
            true
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::TcpTransport;

    #[test]
    fn interface_selection_and_the_route_to_mpirun_first() {
        let a = |x: u8| Ipv4Addr::new(10, x, 0, 1);
        let m = Ipv4Addr::new(255, 255, 0, 0);
        let all = vec![
            (
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::new(255, 0, 0, 0),
                "lo".to_string(),
            ),
            (a(1), m, "eth0".to_string()),
            (a(2), m, "eth1".to_string()),
        ];
        let sel = |v: &[&str]| {
            v.iter()
                .map(|s| IfSelector::parse(s).unwrap())
                .collect::<Vec<_>>()
        };
        let ips = |v: Vec<(Ipv4Addr, Ipv4Addr)>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(ips(choose_local(all.clone(), &[], None).unwrap()).len(), 3);
        assert_eq!(
            ips(choose_local(all.clone(), &sel(&["eth1"]), None).unwrap()),
            [a(2)]
        );
        assert_eq!(
            ips(choose_local(all.clone(), &sel(&["10.1.0.0/16", "lo"]), None).unwrap()),
            [Ipv4Addr::LOCALHOST, a(1)]
        );
        assert_eq!(
            ips(choose_local(all.clone(), &sel(&["10.2.0.1"]), None).unwrap()),
            [a(2)]
        );
        let e = choose_local(all.clone(), &sel(&["wlan0"]), None).unwrap_err();
        assert!(
            e.message.contains("VMPI_TCP_IF selects no interface")
                && e.message.contains("eth0 10.1.0.1"),
            "{}",
            e.message
        );
        // loopback routes to loopback: it goes first (the card still puts it last)
        assert_eq!(
            ips(choose_local(all, &[], Some(Ipv4Addr::LOCALHOST)).unwrap())[0],
            Ipv4Addr::LOCALHOST
        );
        assert!(IfSelector::parse("a b").is_err() && IfSelector::parse("1.2.3.4/33").is_err());
    }

    #[test]
    fn card_lists_up_interfaces_loopback_last() {
        let t = TcpTransport::new(0, 1, &[], None).unwrap();
        let card = t.card();
        assert!(!card.contains(' ') && card.len() <= CARD_MAX, "{card}");
        let addrs = parse_card(&card).unwrap();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.port() == t.port),
            "{card}"
        );
        if let Some(i) = addrs.iter().position(|a| a.ip().is_loopback()) {
            assert!(addrs[i..].iter().all(|a| a.ip().is_loopback()), "{card}");
        }
        // Many interfaces: the card is cut, but loopback stays, last.
        let mut local: Vec<_> = (0..40)
            .map(|i| (Ipv4Addr::new(10, 0, i, 1), Ipv4Addr::new(255, 255, 255, 0)))
            .collect();
        local.insert(3, (Ipv4Addr::LOCALHOST, Ipv4Addr::new(255, 0, 0, 0)));
        let card = make_card(&local, 65535);
        assert!(
            card.len() <= CARD_MAX
                && card.ends_with(",127.0.0.1:65535")
                && card.starts_with("10.0.0.1:")
        );
    }

    #[test]
    fn dial_order_prefers_loopback_then_local_subnets() {
        let local = [
            (Ipv4Addr::LOCALHOST, Ipv4Addr::new(255, 0, 0, 0)),
            (Ipv4Addr::new(10, 200, 0, 7), Ipv4Addr::new(255, 255, 0, 0)),
        ];
        let card = parse_card("192.168.1.5:4000,10.200.3.4:4000,127.0.0.1:4000").unwrap();
        let a = |s: &str| s.parse::<SocketAddrV4>().unwrap();
        assert_eq!(
            dial_order(&card, true, &local),
            vec![
                a("127.0.0.1:4000"),
                a("10.200.3.4:4000"),
                a("192.168.1.5:4000")
            ]
        );
        assert_eq!(
            dial_order(&card, false, &local),
            vec![a("10.200.3.4:4000"), a("192.168.1.5:4000")]
        );
        assert!(parse_card("1.2.3.4:5,oops").is_err());
    }
}
