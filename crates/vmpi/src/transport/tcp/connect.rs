//! Dialing: connecting to a peer one address of its card at a time (each attempt bounded
//! by a timeout), the hello the dialer sends and the reply codes it gets, the dialer's
//! side of the tie-break, and turning an accepted dial into the connection.

use super::addr::{dial_order, parse_card};
use super::poll::{EV_ERR, EV_IN, EV_OUT, TOK_DIAL};
use super::{Conn, Reach, TcpTransport};
use crate::error::{Error, PeerFault, Result};
use nix::errno::Errno;
use nix::sys::socket::SockaddrIn;
use nix::sys::socket::{self as sock, sockopt, AddressFamily, MsgFlags, SockFlag, SockType};
use std::net::{SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Time one connect attempt to one address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

const HELLO_MAGIC: [u8; 4] = *b"vmT1";
pub(super) const HELLO_LEN: usize = 20;
pub(super) const REPLY_ACCEPT: u8 = 0xA1;
/// "I already have (or am completing) the winning connection with you."
pub(super) const REPLY_DUP: u8 = 0xD0;
pub(super) const REPLY_JOB: u8 = 0xE1;
/// "I am not the rank you asked for" (or the ranks in the hello make no sense).
pub(super) const REPLY_TARGET: u8 = 0xE2;
/// "I do not talk TCP with you" (channel table says otherwise, or the link is dead).
pub(super) const REPLY_PEER: u8 = 0xE3;

enum DialPhase {
    Connecting { deadline: Instant },
    Hello { sent: usize },
    AwaitReply,
}

/// An outgoing connection being set up: one address at a time, in order.
pub(super) struct Dial {
    card: String,
    addrs: Vec<SocketAddrV4>,
    next: usize,
    current: Option<SocketAddrV4>,
    tried: Vec<String>,
    sock: Option<TcpStream>,
    phase: DialPhase,
}

impl Dial {
    pub(super) fn hello_started(&self) -> bool {
        match self.phase {
            DialPhase::Connecting { .. } => false,
            DialPhase::Hello { sent } => sent > 0,
            DialPhase::AwaitReply => true,
        }
    }
}

pub(super) fn hello_bytes(from: usize, to: usize, job: u64) -> [u8; HELLO_LEN] {
    let mut h = [0u8; HELLO_LEN];
    h[0..4].copy_from_slice(&HELLO_MAGIC);
    h[4..8].copy_from_slice(&(from as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(to as u32).to_le_bytes());
    h[12..20].copy_from_slice(&job.to_le_bytes());
    h
}

/// (from, to, job) of a hello, or None when the magic is wrong.
pub(super) fn parse_hello(h: &[u8; HELLO_LEN]) -> Option<(usize, usize, u64)> {
    if h[0..4] != HELLO_MAGIC {
        return None;
    }
    let from = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let to = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
    let mut job = [0u8; 8];
    job.copy_from_slice(&h[12..20]);
    Some((from, to, u64::from_le_bytes(job)))
}

impl TcpTransport {
    /// Close the dial of `r`, if any.
    pub(super) fn drop_dial(&mut self, r: usize) {
        if let Some(d) = self.peers[r].dial.take() {
            if let Some(s) = d.sock {
                self.epoll.remove(s.as_raw_fd());
            }
        }
        self.dialing.retain(|&x| x != r);
    }

    /// Begin connecting to `r` (its first address).
    pub(super) fn start_dial(&mut self, r: usize) -> Result<()> {
        let addr = match &self.peers[r].reach {
            Reach::Tcp(a) => a.clone(),
            Reach::NotTcp => {
                return Err(self.peer_err(
                    r,
                    PeerFault::Unreachable,
                    format_args!("rank {r} is not reached over TCP"),
                ))
            }
            Reach::Unset => {
                return Err(self.peer_err(
                    r,
                    PeerFault::Unreachable,
                    format_args!("no address for rank {r}: set_peers was not called"),
                ))
            }
        };
        let list = parse_card(&addr.card).map_err(|m| {
            self.peer_err(
                r,
                PeerFault::Corrupt,
                format_args!("card of rank {r} ({:?}): {m}", addr.card),
            )
        })?;
        let addrs = dial_order(&list, addr.same_netns, &self.local);
        if addrs.is_empty() {
            return Err(self.peer_err(
                r,
                PeerFault::Unreachable,
                format_args!(
                    "card of rank {r} ({:?}) has no address to dial (loopback entries are \
                     skipped for a peer in another network namespace)",
                    addr.card
                ),
            ));
        }
        self.peers[r].dial = Some(Dial {
            card: addr.card,
            addrs,
            next: 0,
            current: None,
            tried: Vec::new(),
            sock: None,
            phase: DialPhase::Connecting {
                deadline: Instant::now(),
            },
        });
        self.dial_next(r)
    }

    /// Note why the current address of `r`'s dial failed and move on to the next one.
    fn dial_retry(&mut self, r: usize, why: impl std::fmt::Display) -> Result<()> {
        if let Some(d) = self.peers[r].dial.as_mut() {
            let a = d.current.map_or_else(|| "?".to_string(), |a| a.to_string());
            d.tried.push(format!("{a} ({why})"));
        }
        self.dial_next(r)
    }

    /// Start a non-blocking connect to the next address of `r`'s card; fail the peer when
    /// none is left.
    fn dial_next(&mut self, r: usize) -> Result<()> {
        let me = self.my_rank;
        loop {
            let Some(d) = self.peers[r].dial.as_mut() else {
                return Ok(());
            };
            if let Some(s) = d.sock.take() {
                self.epoll.remove(s.as_raw_fd());
            }
            let Some(&a) = d.addrs.get(d.next) else {
                let e = Error::other(format!(
                    "tcp (rank {me}): cannot connect to rank {r} (card {:?}): tried {}",
                    d.card,
                    d.tried.join(", ")
                ));
                return Err(self.fail(r, e));
            };
            d.next += 1;
            d.current = Some(a);
            let fd = match sock::socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                None,
            ) {
                Ok(fd) => fd,
                Err(e) => {
                    d.tried.push(format!("{a} (socket: {e})"));
                    continue;
                }
            };
            match sock::connect(fd.as_raw_fd(), &SockaddrIn::from(a)) {
                Ok(()) | Err(Errno::EINPROGRESS) => {}
                Err(e) => {
                    d.tried.push(format!("{a} (connect: {e})"));
                    continue;
                }
            }
            if let Err(e) = self.epoll.add(fd.as_raw_fd(), EV_OUT, TOK_DIAL | r as u64) {
                d.tried.push(format!("{a} (epoll_ctl: {e})"));
                continue;
            }
            d.sock = Some(TcpStream::from(fd));
            d.phase = DialPhase::Connecting {
                deadline: Instant::now() + CONNECT_TIMEOUT,
            };
            if !self.dialing.contains(&r) {
                self.dialing.push(r);
            }
            return Ok(());
        }
    }

    /// Give up on connect attempts that took longer than `CONNECT_TIMEOUT`.
    pub(super) fn check_dial_timeouts(&mut self, first_err: &mut Option<Error>) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.dialing.len() {
            let r = self.dialing[i];
            match self.peers[r].dial.as_ref().map(|d| &d.phase) {
                Some(DialPhase::Connecting { deadline }) => {
                    if now >= *deadline {
                        let secs = CONNECT_TIMEOUT.as_secs_f32();
                        if let Err(e) =
                            self.dial_retry(r, format_args!("connect timed out after {secs} s"))
                        {
                            first_err.get_or_insert(e);
                        }
                    }
                    i += 1;
                }
                _ => {
                    self.dialing.swap_remove(i);
                }
            }
        }
    }

    /// Readiness on `r`'s dialing socket.
    pub(super) fn dial_event(&mut self, r: usize, events: u32) -> Result<()> {
        let me = self.my_rank;
        let job = self.job_check;
        let Some(d) = self.peers[r].dial.as_mut() else {
            return Ok(());
        };
        let Some(s) = d.sock.as_ref() else {
            return Ok(());
        };
        let fd = s.as_raw_fd();
        if let DialPhase::Connecting { .. } = d.phase {
            match sock::getsockopt(s, sockopt::SocketError) {
                Ok(0) => {}
                Ok(err) => {
                    return self.dial_retry(r, format_args!("connect: {}", Errno::from_raw(err)))
                }
                Err(e) => return self.dial_retry(r, format_args!("getsockopt(SO_ERROR): {e}")),
            }
            if events & (EV_OUT | EV_ERR) == 0 {
                return Ok(());
            }
            if let Err(e) = s.set_nodelay(true) {
                return self.dial_retry(r, format_args!("setsockopt(TCP_NODELAY): {e}"));
            }
            d.phase = DialPhase::Hello { sent: 0 };
        }
        if let DialPhase::Hello { sent } = d.phase {
            let hello = hello_bytes(me, r, job);
            let mut sent = sent;
            while sent < HELLO_LEN {
                match sock::send(
                    fd,
                    &hello[sent..],
                    MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(n) => sent += n,
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(e) => return self.dial_retry(r, format_args!("send hello: {e}")),
                }
            }
            let (phase, interest) = if sent == HELLO_LEN {
                (DialPhase::AwaitReply, EV_IN)
            } else {
                (DialPhase::Hello { sent }, EV_OUT)
            };
            d.phase = phase;
            if let Err(e) = self.epoll.modify(fd, interest, TOK_DIAL | r as u64) {
                return self.dial_retry(r, format_args!("epoll_ctl(MOD): {e}"));
            }
            return Ok(());
        }
        // AwaitReply: one byte, the acceptor's verdict. Packets may follow it; they stay
        // in the socket for the connection to read.
        let mut reply = [0u8; 1];
        let b = match sock::recv(fd, &mut reply, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return self.dial_retry(r, "closed during the handshake"),
            Ok(_) => reply[0],
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => return Ok(()),
            Err(e) => return self.dial_retry(r, format_args!("recv handshake reply: {e}")),
        };
        match b {
            REPLY_ACCEPT => self.promote_dial(r),
            REPLY_DUP if me > r => {
                // The lower rank's own dial to us wins; it will arrive on our listener.
                self.drop_dial(r);
                Ok(())
            }
            REPLY_DUP => {
                let e = self.err(format_args!(
                    "rank {r} refused our connection as a duplicate, although the lower rank's dial wins"
                ));
                Err(self.fail(r, e))
            }
            REPLY_JOB => self.dial_retry(r, "refused: job check value differs"),
            REPLY_TARGET => self.dial_retry(r, format_args!("refused: that is not rank {r}")),
            REPLY_PEER => self.dial_retry(
                r,
                format_args!("refused: rank {r} does not take TCP from rank {me}"),
            ),
            other => self.dial_retry(r, format_args!("bad handshake reply {other:#04x}")),
        }
    }

    /// The dial of `r` was accepted: it becomes the connection.
    fn promote_dial(&mut self, r: usize) -> Result<()> {
        let p = &mut self.peers[r];
        let Some(stream) = p.dial.take().and_then(|d| d.sock) else {
            return Ok(());
        };
        if p.conn.is_some() {
            self.epoll.remove(stream.as_raw_fd());
            let e = self.err(format_args!("rank {r} accepted a second connection"));
            return Err(self.fail(r, e));
        }
        // An interest no socket has: `flush` -> `sync_interest` re-registers the socket
        // under its connection token.
        p.conn = Some(Conn {
            stream,
            interest: u32::MAX,
        });
        self.flush(r)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{deadline, mesh, Stream, JOB};
    use super::*;
    use crate::transport::tcp::PeerAddr;
    use crate::transport::PacketChannel;
    use std::net::TcpListener;

    #[test]
    fn simultaneous_dials_keep_the_lower_ranks_connection() {
        for _ in 0..5 {
            let mut ts = mesh(2);
            let (mut s01, mut s10) = (Stream::new(0, 1), Stream::new(1, 0));
            // Both sides queue before either makes progress: both dial.
            for _ in 0..4 {
                let (h, p) = s01.next_packet();
                assert!(ts[0].try_send(1, &h, &p).unwrap());
                let (h, p) = s10.next_packet();
                assert!(ts[1].try_send(0, &h, &p).unwrap());
            }
            assert!(ts[0].peers[1].dial.is_some() && ts[1].peers[0].dial.is_some());
            let (mut r01, mut r10) = (Stream::new(0, 1), Stream::new(1, 0));
            let (mut got0, mut got1) = (0, 0);
            let end = deadline();
            while got0 < 4 || got1 < 4 {
                ts[0].progress().unwrap();
                ts[1].progress().unwrap();
                while let Some(pkt) = ts[1].peek(0).unwrap() {
                    let (h, p) = r01.next_packet();
                    assert!(pkt.header == &h[..] && pkt.payload.to_vec() == p);
                    ts[1].consume(0);
                    got1 += 1;
                }
                while let Some(pkt) = ts[0].peek(1).unwrap() {
                    let (h, p) = r10.next_packet();
                    assert!(pkt.header == &h[..] && pkt.payload.to_vec() == p);
                    ts[0].consume(1);
                    got0 += 1;
                }
                assert!(Instant::now() < end, "stuck: got0 {got0} got1 {got1}");
            }
            // One connection, and it is the one rank 0 dialed (it ends on rank 1's
            // listening port).
            let c0 = &ts[0].peers[1].conn.as_ref().unwrap().stream;
            let c1 = &ts[1].peers[0].conn.as_ref().unwrap().stream;
            assert_eq!(c0.local_addr().unwrap(), c1.peer_addr().unwrap());
            assert_eq!(c1.local_addr().unwrap().port(), ts[1].port);
            assert!(ts[0].peers[1].dial.is_none() && ts[1].peers[0].dial.is_none());
        }
    }

    #[test]
    fn unreachable_peer_fails_listing_what_was_tried() {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let mut t = TcpTransport::new(0, 2, &[], None).unwrap();
        t.set_peers(vec![
            None,
            Some(PeerAddr {
                card: format!("127.0.0.1:{port}"),
                same_netns: true,
            }),
        ]);
        let end = deadline();
        let e = loop {
            match t.try_send(1, b"h", b"p").and_then(|_| t.progress()) {
                Err(e) => break e,
                Ok(()) => assert!(Instant::now() < end, "no error"),
            }
        };
        let m = &e.message;
        assert!(
            m.contains("rank 1") && m.contains(&format!("127.0.0.1:{port} (connect: ECONNREFUSED")),
            "{m}"
        );
        assert!(t.try_send(1, b"h", b"p").is_err());
        assert!(!t.has_pending_output());

        // Loopback is no way into another network namespace.
        let mut t = TcpTransport::new(0, 2, &[], None).unwrap();
        t.set_peers(vec![
            None,
            Some(PeerAddr {
                card: format!("127.0.0.1:{port}"),
                same_netns: false,
            }),
        ]);
        let e = t.try_send(1, b"h", b"p").unwrap_err();
        assert_eq!(e.peer_fault(), Some((1, PeerFault::Unreachable)), "{e}");
        assert!(e.message.contains("no address to dial"), "{}", e.message);
        let e = {
            t.set_peers(vec![
                None,
                Some(PeerAddr {
                    card: "nonsense".into(),
                    same_netns: true,
                }),
            ]);
            t.try_send(1, b"h", b"p").unwrap_err()
        };
        assert_eq!(e.peer_fault(), Some((1, PeerFault::Corrupt)), "{e}");
    }

    #[test]
    fn wrong_job_check_is_refused() {
        let mut ts = mesh(2);
        ts[1].set_job_check(JOB + 1);
        assert!(ts[1].try_send(0, b"hdr", b"data").unwrap());
        let end = deadline();
        let e = loop {
            ts[0].progress().unwrap();
            if let Err(e) = ts[1].progress() {
                break e;
            }
            assert!(Instant::now() < end, "no refusal");
        };
        assert!(
            e.message.contains("rank 0") && e.message.contains("job check"),
            "{}",
            e.message
        );
        assert!(ts[1].try_send(0, b"hdr", b"data").is_err());
        assert!(ts[0].peers[1].conn.is_none() && ts[0].incoming.is_empty());
        assert!(ts[0].peek(1).unwrap().is_none());
    }
}
