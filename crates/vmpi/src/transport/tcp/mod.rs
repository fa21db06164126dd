//! TCP channel: moves packets between ranks that share no memory, over one TCP
//! connection per pair of ranks.
//!
//! This file owns the listening socket, the dialing and accepting of connections (with a
//! handshake that checks ranks and a job check value, and a deterministic tie-break when
//! two ranks dial each other at once), the framing of packets on the byte stream, the
//! per-peer outgoing and incoming buffers with their bounds (back-pressure), the epoll set
//! that drives all of it, and the orderly shutdown. It knows nothing of tags or
//! communicators: a packet is an opaque header plus a payload.
//!
//! Wire format, after the handshake, in both directions: each packet is an 8-byte prefix
//! (header length, payload length; both `u32` little endian), then the header (at most
//! [`MAX_HEADER`] bytes), then the payload (at most [`MAX_PAYLOAD`] bytes).
//!
//! Handshake: the dialer sends a hello (magic, its world rank, the rank it meant to reach,
//! the job check value); the acceptor answers with one byte (accept or a reason to
//! reject). The dialer sends application bytes only after an accept. When both ranks of a
//! pair dial each other, the connection dialed by the lower rank wins (a dial that has not
//! yet sent its hello simply yields to an incoming connection); the loser is closed. No
//! application byte ever travels on a losing connection, so nothing is lost or reordered.

use super::{Packet, PacketChannel, PayloadRef};
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::socket::SockaddrIn;
use nix::sys::socket::{self as sock, MsgFlags};
use std::collections::HashMap;
use std::io::IoSlice;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

mod accept;
mod addr;
mod connect;
mod frame;
mod poll;

pub use addr::{IfSelector, PeerAddr};
pub use frame::{MAX_HEADER, MAX_PAYLOAD};

use accept::Incoming;
use addr::{choose_local, local_ipv4, make_card};
use connect::Dial;
use frame::{frame_prefix, OutBuf, RecvBuf, PREFIX_LEN};
use poll::{Epoll, EV_ERR, EV_IN, EV_OUT, TOK_CONN, TOK_LISTENER};

/// `try_send` answers `Ok(false)` while more than this many bytes wait for a peer.
const OUT_BOUND: usize = 1024 * 1024;
/// How long `shutdown` tries to flush pending output.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);
/// How long `shutdown` then waits for peers to close their side.
const SHUTDOWN_LINGER: Duration = Duration::from_secs(1);
/// The TCP packet channel of one rank to all its TCP peers.
///
/// Every socket (listener, connections, dials, the epoll instance) is owned by this value;
/// dropping it closes them all without flushing (use [`TcpTransport::shutdown`] to flush).
/// Errors name this rank, the peer's rank and the failing syscall; an error on one link
/// is sticky for that peer (returned again by `try_send`, and by `peek` once the packets
/// that arrived before it are consumed).
pub struct TcpTransport {
    my_rank: usize,
    size: usize,
    job_check: u64,
    listener: Option<TcpListener>,
    port: u16,
    epoll: Epoll,
    events: Vec<libc::epoll_event>,
    /// IPv4 addresses of local interfaces that are up, with their netmasks.
    local: Vec<(Ipv4Addr, Ipv4Addr)>,
    peers: Vec<Peer>,
    /// Accepted connections whose hello has not fully arrived, by id.
    incoming: HashMap<u64, Incoming>,
    next_incoming: u64,
    /// Ranks whose dial may be in the connecting phase (checked for timeouts).
    dialing: Vec<usize>,
    /// Set by `shutdown`: reads are discarded, nothing new is sent.
    closing: bool,
    shut: bool,
}

enum Reach {
    /// `set_peers` not called yet: incoming connections are welcome, dialing is an error.
    Unset,
    NotTcp,
    Tcp(PeerAddr),
}

enum Link {
    Open,
    /// The peer closed its side cleanly, between packets.
    Closed,
    Failed(Error),
}

struct Peer {
    reach: Reach,
    link: Link,
    out: OutBuf,
    rx: RecvBuf,
    dial: Option<Dial>,
    conn: Option<Conn>,
}

/// An established connection (handshake done).
struct Conn {
    stream: TcpStream,
    interest: u32,
}

impl TcpTransport {
    /// A transport for `my_rank` of `size` ranks, listening on an ephemeral port of all
    /// IPv4 interfaces; its card holds the addresses `include` selects (all when
    /// empty), the one that routes to `toward` (mpirun) first.
    pub fn new(
        my_rank: usize,
        size: usize,
        include: &[IfSelector],
        toward: Option<Ipv4Addr>,
    ) -> Result<Self> {
        if my_rank >= size || size > u32::MAX as usize {
            return Err(Error::other(format!(
                "tcp: rank {my_rank} is not valid in a world of size {size}"
            )));
        }
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
            .map_err(|e| Error::other(format!("tcp (rank {my_rank}): bind 0.0.0.0:0: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| {
            Error::other(format!(
                "tcp (rank {my_rank}): fcntl(O_NONBLOCK) on listener: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| {
                Error::other(format!(
                    "tcp (rank {my_rank}): getsockname on listener: {e}"
                ))
            })?
            .port();
        let epoll = Epoll::new()
            .map_err(|e| Error::other(format!("tcp (rank {my_rank}): epoll_create1: {e}")))?;
        epoll
            .add(listener.as_raw_fd(), EV_IN, TOK_LISTENER)
            .map_err(|e| {
                Error::other(format!(
                    "tcp (rank {my_rank}): epoll_ctl(ADD listener): {e}"
                ))
            })?;
        let local = choose_local(local_ipv4()?, include, toward)?;
        let peers = (0..size)
            .map(|_| Peer {
                reach: Reach::Unset,
                link: Link::Open,
                out: OutBuf::default(),
                rx: RecvBuf::default(),
                dial: None,
                conn: None,
            })
            .collect();
        Ok(TcpTransport {
            my_rank,
            size,
            job_check: 0,
            listener: Some(listener),
            port,
            epoll,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 256],
            local,
            peers,
            incoming: HashMap::new(),
            next_incoming: 0,
            dialing: Vec::new(),
            closing: false,
            shut: false,
        })
    }

    /// This rank's addresses to publish: `ip:port` of every local IPv4 interface that is
    /// up, loopback last, comma-separated.
    pub fn card(&self) -> String {
        make_card(&self.local, self.port)
    }

    /// How to reach each world rank (`None`: not over TCP). Must hold `size` entries; the
    /// entry of this rank is ignored.
    pub fn set_peers(&mut self, peers: Vec<Option<PeerAddr>>) {
        assert_eq!(
            peers.len(),
            self.size,
            "tcp: set_peers needs one entry per world rank"
        );
        for (r, p) in peers.into_iter().enumerate() {
            if r != self.my_rank {
                self.peers[r].reach = match p {
                    Some(a) => Reach::Tcp(a),
                    None => Reach::NotTcp,
                };
            }
        }
    }

    /// The value all ranks of the job share; connections carrying another are refused.
    pub fn set_job_check(&mut self, v: u64) {
        self.job_check = v;
    }

    /// Whether bytes wait to be written to some peer (including peers still connecting).
    pub fn has_pending_output(&self) -> bool {
        self.peers.iter().any(|p| p.out.pending() > 0)
    }

    /// Flush pending output (waiting up to 5 s), close our side, give peers up to 1 s
    /// more to close theirs (discarding what they still send), then close every socket.
    /// Afterwards `try_send` fails and `progress` has nothing to do.
    pub fn shutdown(&mut self) {
        if self.shut {
            return;
        }
        let me = self.my_rank;
        self.closing = true;
        for r in 0..self.size {
            self.peers[r].rx = RecvBuf::default();
            if let Err(e) = self.sync_interest(r) {
                eprintln!("vmpi tcp (rank {me}): shutdown: {}", e.message);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        while self.has_pending_output() && Instant::now() < deadline {
            if let Err(e) = self.poll_once(10) {
                eprintln!("vmpi tcp (rank {me}): shutdown: {}", e.message);
            }
        }
        for (r, p) in self.peers.iter().enumerate() {
            if p.out.pending() > 0 {
                eprintln!(
                    "vmpi tcp (rank {me}): shutdown: gave up on {} bytes still to send to rank {r}",
                    p.out.pending()
                );
            }
        }
        // Stop taking new connections; half-close the established ones.
        if let Some(l) = self.listener.take() {
            self.epoll.remove(l.as_raw_fd());
        }
        for (_, inc) in self.incoming.drain() {
            self.epoll.remove(inc.stream.as_raw_fd());
        }
        for r in 0..self.size {
            self.drop_dial(r);
            if let Some(c) = &self.peers[r].conn {
                let _ = c.stream.shutdown(Shutdown::Write);
            }
        }
        let linger = deadline.min(Instant::now() + SHUTDOWN_LINGER);
        while self.peers.iter().any(|p| p.conn.is_some()) && Instant::now() < linger {
            if let Err(e) = self.poll_once(10) {
                eprintln!("vmpi tcp (rank {me}): shutdown: {}", e.message);
            }
        }
        for r in 0..self.size {
            self.drop_conn(r);
            self.peers[r].out.clear();
        }
        self.dialing.clear();
        self.shut = true;
    }

    fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::other(format!("tcp (rank {}): {msg}", self.my_rank))
    }

    fn check_peer(&self, peer: usize) -> Result<()> {
        if peer >= self.size {
            return Err(self.err(format_args!(
                "rank {peer} is out of range (world size {})",
                self.size
            )));
        }
        Ok(())
    }

    /// Close the established connection of `r`, if any.
    fn drop_conn(&mut self, r: usize) {
        if let Some(c) = self.peers[r].conn.take() {
            self.epoll.remove(c.stream.as_raw_fd());
        }
    }

    /// Record a fatal error on the link to `r`, close its sockets, and return the error.
    fn fail(&mut self, r: usize, e: Error) -> Error {
        self.drop_dial(r);
        self.drop_conn(r);
        let p = &mut self.peers[r];
        p.out.clear();
        p.link = Link::Failed(e.clone());
        e
    }

    /// Set the epoll interest of `r`'s connection to what its buffers call for.
    fn sync_interest(&mut self, r: usize) -> Result<()> {
        let closing = self.closing;
        let p = &mut self.peers[r];
        let Some(c) = p.conn.as_mut() else {
            return Ok(());
        };
        let mut want = 0;
        // A bad prefix keeps reading on, so that the read path reports it.
        if closing || p.rx.room_estimate(r).map_or(true, |n| n > 0) {
            want |= EV_IN;
        }
        if p.out.pending() > 0 {
            want |= EV_OUT;
        }
        if want != c.interest {
            let fd = c.stream.as_raw_fd();
            match self.epoll.modify(fd, want, TOK_CONN | r as u64) {
                Ok(()) => c.interest = want,
                Err(e) => {
                    let e = self.err(format_args!(
                        "epoll_ctl(MOD) for the connection to rank {r}: {e}"
                    ));
                    return Err(self.fail(r, e));
                }
            }
        }
        Ok(())
    }

    /// Write what is pending for `r` until the socket is full.
    fn flush(&mut self, r: usize) -> Result<()> {
        let p = &mut self.peers[r];
        let Some(c) = p.conn.as_ref() else {
            return Ok(());
        };
        let fd = c.stream.as_raw_fd();
        while p.out.pending() > 0 {
            match sock::send(
                fd,
                &p.out.buf[p.out.sent..],
                MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(n) => p.out.advance(n),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    let e = self.err(format_args!("send to rank {r}: send: {e}"));
                    return Err(self.fail(r, e));
                }
            }
        }
        self.sync_interest(r)
    }

    /// Read from `r`'s connection until its buffer is full or the socket is empty.
    fn read_conn(&mut self, r: usize) -> Result<()> {
        let me = self.my_rank;
        let closing = self.closing;
        loop {
            let p = &mut self.peers[r];
            let Some(c) = p.conn.as_ref() else {
                return Ok(());
            };
            let fd = c.stream.as_raw_fd();
            let (res, asked) = if closing {
                // Shutting down: what arrives now can no longer be delivered.
                let mut scratch = [0u8; 16 * 1024];
                (
                    sock::recv(fd, &mut scratch, MsgFlags::MSG_DONTWAIT),
                    scratch.len(),
                )
            } else {
                let spare = match p.rx.spare(r) {
                    Ok(s) => s,
                    Err(m) => {
                        let e = Error::other(format!("tcp (rank {me}): {m}"));
                        return Err(self.fail(r, e));
                    }
                };
                if spare.is_empty() {
                    break;
                }
                let asked = spare.len();
                (sock::recv(fd, spare, MsgFlags::MSG_DONTWAIT), asked)
            };
            match res {
                Ok(0) => return self.peer_eof(r),
                Ok(n) => {
                    if !closing {
                        p.rx.end += n;
                    }
                    // A short read emptied the socket: asking again would only
                    // return EAGAIN (one wasted system call per message when
                    // messages come one at a time); epoll is level-triggered, so
                    // what arrives next is reported by the next poll. The first
                    // frame's prefix is still checked now, as the next read would.
                    if n < asked {
                        if let Err(m) = p.rx.want(r) {
                            let e = Error::other(format!("tcp (rank {me}): {m}"));
                            return Err(self.fail(r, e));
                        }
                        break;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    let e =
                        Error::other(format!("tcp (rank {me}): receive from rank {r}: recv: {e}"));
                    return Err(self.fail(r, e));
                }
            }
        }
        self.sync_interest(r)
    }

    /// `r` closed its side of the connection.
    fn peer_eof(&mut self, r: usize) -> Result<()> {
        let me = self.my_rank;
        if self.closing {
            self.drop_conn(r);
            self.peers[r].link = Link::Closed;
            return Ok(());
        }
        let p = &self.peers[r];
        let err = match p.rx.partial_tail(r) {
            Err(m) => Some(Error::other(format!("tcp (rank {me}): {m}"))),
            Ok(true) => Some(Error::other(format!(
                "tcp (rank {me}): connection from rank {r} closed mid-packet"
            ))),
            Ok(false) if p.out.pending() > 0 => Some(Error::other(format!(
                "tcp (rank {me}): rank {r} closed its connection with {} bytes still to send to it",
                p.out.pending()
            ))),
            Ok(false) => None,
        };
        match err {
            Some(e) => Err(self.fail(r, e)),
            None => {
                self.drop_conn(r);
                self.peers[r].link = Link::Closed;
                Ok(())
            }
        }
    }

    /// Readiness on `r`'s established connection.
    fn conn_event(&mut self, r: usize, events: u32) -> Result<()> {
        if self.peers[r].conn.is_none() {
            return Ok(());
        }
        if events & (EV_OUT | EV_ERR) != 0 && self.peers[r].out.pending() > 0 {
            self.flush(r)?;
        }
        if events & (EV_IN | EV_ERR) != 0 {
            self.read_conn(r)?;
        }
        Ok(())
    }

    /// Bytes waiting to be written to `peer` (for tests and diagnostics).
    #[cfg(test)]
    fn pending_to(&self, peer: usize) -> usize {
        self.peers[peer].out.pending()
    }
}

impl PacketChannel for TcpTransport {
    fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }

    fn try_send(&mut self, peer: usize, hdr: &[u8], payload: &[u8]) -> Result<bool> {
        self.check_peer(peer)?;
        if peer == self.my_rank {
            return Err(self.err(format_args!(
                "rank {peer} is this rank; TCP does not carry messages to self"
            )));
        }
        if self.shut || self.closing {
            return Err(self.err(format_args!("send to rank {peer} after shutdown")));
        }
        if hdr.len() > MAX_HEADER || payload.len() > MAX_PAYLOAD {
            return Err(self.err(format_args!(
                "packet for rank {peer} too large: header {} bytes (max {MAX_HEADER}), payload {} bytes (max {MAX_PAYLOAD})",
                hdr.len(),
                payload.len()
            )));
        }
        match &self.peers[peer].link {
            Link::Open => {}
            Link::Closed => return Err(self.err(format_args!("rank {peer} closed its connection"))),
            Link::Failed(e) => return Err(e.clone()),
        }
        if matches!(self.peers[peer].reach, Reach::NotTcp) {
            return Err(self.err(format_args!("rank {peer} is not reached over TCP")));
        }
        if self.peers[peer].out.pending() > OUT_BOUND {
            return Ok(false);
        }
        if self.peers[peer].conn.is_none() && self.peers[peer].dial.is_none() {
            // Configuration errors leave the link as it is; running out of addresses
            // fails it (inside `dial_next`).
            self.start_dial(peer)?;
        }
        let prefix = frame_prefix(hdr.len(), payload.len());
        let parts: [&[u8]; 3] = [&prefix, hdr, payload];
        let p = &mut self.peers[peer];
        let mut written = 0;
        if let (Some(c), 0) = (p.conn.as_ref(), p.out.pending()) {
            // Nothing queued: write straight from the caller's buffers.
            let iov = [
                IoSlice::new(&prefix),
                IoSlice::new(hdr),
                IoSlice::new(payload),
            ];
            let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
            match sock::sendmsg::<SockaddrIn>(c.stream.as_raw_fd(), &iov, &[], flags, None) {
                Ok(n) => written = n,
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(e) => {
                    let e = self.err(format_args!("send to rank {peer}: sendmsg: {e}"));
                    return Err(self.fail(peer, e));
                }
            }
        }
        let p = &mut self.peers[peer];
        if written < PREFIX_LEN + hdr.len() + payload.len() {
            p.out.push(&parts, written);
        }
        if p.conn.is_some() {
            self.sync_interest(peer)?;
        }
        Ok(true)
    }

    fn progress(&mut self) -> Result<()> {
        if self.shut {
            return Ok(());
        }
        self.poll_once(0)
    }

    fn peek(&mut self, peer: usize) -> Result<Option<Packet<'_>>> {
        self.check_peer(peer)?;
        let (h, n) = match self.peers[peer].rx.complete(peer) {
            Ok(Some(x)) => x,
            Ok(None) => {
                return match &self.peers[peer].link {
                    Link::Failed(e) => Err(e.clone()),
                    _ => Ok(None),
                }
            }
            Err(m) => {
                let e = self.err(m);
                return Err(self.fail(peer, e));
            }
        };
        let rx = &self.peers[peer].rx;
        let at = rx.start + PREFIX_LEN;
        Ok(Some(Packet {
            header: &rx.buf[at..at + h],
            payload: PayloadRef::private(&rx.buf[at + h..at + h + n]),
        }))
    }

    /// Panics when no complete packet from `peer` is buffered, i.e. when the caller did
    /// not get one from `peek(peer)` first.
    fn consume(&mut self, peer: usize) {
        let rx = &mut self.peers[peer].rx;
        let Ok(Some((h, n))) = rx.complete(peer) else {
            panic!("tcp: consume({peer}) without a packet returned by peek({peer})");
        };
        rx.pop(PREFIX_LEN + h + n);
        // A failure here is recorded on the link and reported by the next peek/try_send.
        let _ = self.sync_interest(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::connect::{hello_bytes, REPLY_ACCEPT};
    use super::frame::{MAX_FRAME, READ_AHEAD};
    use super::*;
    use std::io;
    use std::io::{Read, Write};
    use std::sync::{Arc, Barrier};
    use std::thread;

    pub(super) const JOB: u64 = 0x5eed_1234_abcd;

    /// `n` transports of one job that know each other's cards (all in this netns).
    pub(super) fn mesh(n: usize) -> Vec<TcpTransport> {
        let mut ts: Vec<_> = (0..n)
            .map(|r| TcpTransport::new(r, n, &[], None).unwrap())
            .collect();
        let cards: Vec<String> = ts.iter().map(|t| t.card()).collect();
        for t in ts.iter_mut() {
            t.set_job_check(JOB);
            let peers = cards.iter().map(|c| {
                Some(PeerAddr {
                    card: c.clone(),
                    same_netns: true,
                })
            });
            t.set_peers(peers.collect());
        }
        ts
    }

    pub(super) fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    /// xorshift64*: reproducible sizes without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// The packets `from` sends to `to`, in order; the receiver regenerates them to check.
    pub(super) struct Stream {
        rng: Rng,
        from: usize,
        seq: u64,
    }

    impl Stream {
        pub(super) fn new(from: usize, to: usize) -> Self {
            Stream {
                rng: Rng(0x9e37_79b9_7f4a_7c15 ^ ((from as u64) << 32) ^ to as u64),
                from,
                seq: 0,
            }
        }

        pub(super) fn next_packet(&mut self) -> (Vec<u8>, Vec<u8>) {
            let hlen = 8 + self.rng.below(MAX_HEADER - 8 + 1);
            let plen = match self.rng.below(6) {
                0 => self.rng.below(65),
                1 => MAX_PAYLOAD,
                2 => 0,
                _ => self.rng.below(MAX_PAYLOAD + 1),
            };
            let seq = self.seq;
            self.seq += 1;
            let mut hdr = seq.to_le_bytes().to_vec();
            hdr.extend((8..hlen).map(|i| (i as u64 ^ seq) as u8));
            let salt = (seq as usize).wrapping_mul(131) ^ self.from.wrapping_mul(17);
            let payload = (0..plen)
                .map(|i| (i.wrapping_mul(7) ^ salt ^ (i >> 8)) as u8)
                .collect();
            (hdr, payload)
        }
    }

    /// Send `count` packets to every other rank and receive and check `count` from each.
    pub(super) fn exchange(t: &mut TcpTransport, count: u64) {
        let me = t.my_rank;
        let others: Vec<usize> = (0..t.size).filter(|&r| r != me).collect();
        let mut tx: Vec<Stream> = others.iter().map(|&o| Stream::new(me, o)).collect();
        let mut rx: Vec<Stream> = others.iter().map(|&o| Stream::new(o, me)).collect();
        let mut next: Vec<Option<(Vec<u8>, Vec<u8>)>> = others.iter().map(|_| None).collect();
        let mut sent = vec![0u64; others.len()];
        let mut got = vec![0u64; others.len()];
        let end = deadline();
        loop {
            let mut busy = false;
            for (i, &o) in others.iter().enumerate() {
                if sent[i] == count {
                    continue;
                }
                let (h, p) = next[i].get_or_insert_with(|| tx[i].next_packet());
                if t.try_send(o, h, p).unwrap() {
                    next[i] = None;
                    sent[i] += 1;
                    busy = true;
                }
            }
            t.progress().unwrap();
            for (i, &o) in others.iter().enumerate() {
                while let Some(pkt) = t.peek(o).unwrap() {
                    let (h, p) = rx[i].next_packet();
                    assert_eq!(
                        pkt.header,
                        &h[..],
                        "rank {me}: header of packet {} from {o}",
                        got[i]
                    );
                    assert!(
                        pkt.payload.to_vec() == p,
                        "rank {me}: payload of packet {} from {o}",
                        got[i]
                    );
                    t.consume(o);
                    got[i] += 1;
                    busy = true;
                }
            }
            if sent.iter().all(|&s| s == count) && got.iter().all(|&g| g == count) {
                break;
            }
            assert!(
                Instant::now() < end,
                "rank {me}: stuck: sent {sent:?} got {got:?}"
            );
            if !busy {
                thread::yield_now();
            }
        }
    }

    #[test]
    fn random_sizes_arrive_in_order_both_ways() {
        let handles: Vec<_> = mesh(2)
            .into_iter()
            .map(|mut t| {
                thread::spawn(move || {
                    exchange(&mut t, 150);
                    t.shutdown();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    #[test]
    fn three_ranks_all_to_all_with_simultaneous_first_sends() {
        for _ in 0..3 {
            let start = Arc::new(Barrier::new(3));
            let handles: Vec<_> = mesh(3)
                .into_iter()
                .map(|mut t| {
                    let start = start.clone();
                    thread::spawn(move || {
                        start.wait();
                        exchange(&mut t, 30);
                        t.shutdown();
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
    }

    #[test]
    fn slow_reader_pushes_back_and_memory_stays_bounded() {
        const COUNT: u64 = (50 << 20) / MAX_PAYLOAD as u64;
        let mut ts = mesh(2);
        let mut b = ts.pop().unwrap();
        let mut a = ts.pop().unwrap();
        let sender = thread::spawn(move || {
            let mut payload = vec![0u8; MAX_PAYLOAD];
            let (mut refused, mut max_pending) = (0u64, 0usize);
            let end = deadline();
            for seq in 0..COUNT {
                payload[..8].copy_from_slice(&seq.to_le_bytes());
                while !a.try_send(1, &seq.to_le_bytes(), &payload).unwrap() {
                    refused += 1;
                    a.progress().unwrap();
                    assert!(Instant::now() < end, "sender stuck at packet {seq}");
                    thread::yield_now();
                }
                max_pending = max_pending.max(a.pending_to(1));
                a.progress().unwrap();
            }
            while a.has_pending_output() {
                a.progress().unwrap();
                assert!(Instant::now() < end, "sender could not flush");
                thread::yield_now();
            }
            (a, refused, max_pending)
        });
        let end = deadline();
        let mut max_rx = 0;
        for seq in 0..COUNT {
            loop {
                b.progress().unwrap();
                max_rx = max_rx.max(b.peers[0].rx.buf.len());
                if let Some(pkt) = b.peek(0).unwrap() {
                    assert_eq!(pkt.header, &seq.to_le_bytes());
                    assert_eq!(pkt.payload.len(), MAX_PAYLOAD);
                    let mut first = [0u8; 8];
                    pkt.payload.copy_to(0, &mut first);
                    assert_eq!(u64::from_le_bytes(first), seq);
                    break;
                }
                assert!(Instant::now() < end, "receiver stuck at packet {seq}");
                thread::yield_now();
            }
            b.consume(0);
            thread::sleep(Duration::from_millis(2));
        }
        let (a, refused, max_pending) = sender.join().unwrap();
        assert!(refused > 0, "the sender was never told to wait");
        assert!(
            max_pending <= OUT_BOUND + MAX_FRAME,
            "pending output grew to {max_pending}"
        );
        assert!(
            max_rx <= MAX_FRAME + READ_AHEAD,
            "receive buffer grew to {max_rx}"
        );
        drop(a);
    }

    #[test]
    fn sending_where_tcp_does_not_go_is_an_error_naming_the_rank() {
        let mut t = TcpTransport::new(0, 3, &[], None).unwrap();
        let e = t.try_send(1, b"h", b"").unwrap_err();
        assert!(
            e.message.contains("rank 1") && e.message.contains("set_peers"),
            "{}",
            e.message
        );
        let card = t.card();
        t.set_peers(vec![
            None,
            Some(PeerAddr {
                card,
                same_netns: true,
            }),
            None,
        ]);
        let e = t.try_send(2, b"h", b"").unwrap_err();
        assert!(
            e.message.contains("rank 2") && e.message.contains("not reached over TCP"),
            "{}",
            e.message
        );
        let e = t.try_send(7, b"h", b"").unwrap_err();
        assert!(e.message.contains("rank 7"), "{}", e.message);
        let e = t.try_send(0, b"h", b"").unwrap_err();
        assert!(e.message.contains("rank 0"), "{}", e.message);
        let e = t.try_send(1, &[0; MAX_HEADER + 1], b"").unwrap_err();
        assert!(
            e.message.contains("rank 1") && e.message.contains("too large"),
            "{}",
            e.message
        );
        let e = t.try_send(1, b"", &vec![0; MAX_PAYLOAD + 1]).unwrap_err();
        assert!(e.message.contains("too large"), "{}", e.message);
        assert_eq!(t.max_payload(), MAX_PAYLOAD);
        assert!(t.peek(9).is_err());
    }

    /// A hand-written peer: connects to `t` claiming to be rank `from`.
    pub(super) fn raw_peer(t: &mut TcpTransport, from: usize) -> TcpStream {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, t.port)).unwrap();
        s.write_all(&hello_bytes(from, t.my_rank, JOB)).unwrap();
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let end = deadline();
        loop {
            t.progress().unwrap();
            match s.read(&mut b) {
                Ok(1) => break,
                Ok(_) => panic!("connection closed during the handshake"),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < end, "no handshake reply");
        }
        assert_eq!(b[0], REPLY_ACCEPT);
        s.set_nonblocking(false).unwrap();
        s
    }

    pub(super) fn progress_until_err(t: &mut TcpTransport) -> Error {
        let end = deadline();
        loop {
            if let Err(e) = t.progress() {
                return e;
            }
            assert!(Instant::now() < end, "no error");
        }
    }

    #[test]
    fn corrupt_frames_are_errors_naming_the_peer() {
        let bad: [(u32, u32, &str); 3] = [
            (MAX_HEADER as u32 + 1, 0, "header length"),
            (4, MAX_PAYLOAD as u32 + 1, "payload length"),
            (u32::MAX, u32::MAX, "header length"),
        ];
        for (hlen, plen, what) in bad {
            let mut ts = mesh(2);
            let t = &mut ts[0];
            let mut s = raw_peer(t, 1);
            let mut frame = Vec::new();
            frame.extend_from_slice(&hlen.to_le_bytes());
            frame.extend_from_slice(&plen.to_le_bytes());
            frame.extend_from_slice(&[0xee; 64]);
            s.write_all(&frame).unwrap();
            let e = progress_until_err(t);
            assert!(
                e.message.contains("rank 1") && e.message.contains(what),
                "{}",
                e.message
            );
            let e = t.peek(1).err().expect("peek after a bad frame");
            assert!(e.message.contains("rank 1"), "{}", e.message);
            assert!(t.try_send(1, b"h", b"").is_err());
            assert!(
                t.peers[1].conn.is_none(),
                "the socket of a corrupt peer stays open"
            );
        }
    }

    #[test]
    fn eof_between_packets_closes_and_mid_packet_is_an_error() {
        // Clean: two whole packets, then EOF.
        let mut ts = mesh(2);
        let t = &mut ts[0];
        let mut s = raw_peer(t, 1);
        for (h, p) in [(&b"one"[..], &b"first"[..]), (b"two", b"")] {
            s.write_all(&frame_prefix(h.len(), p.len())).unwrap();
            s.write_all(h).unwrap();
            s.write_all(p).unwrap();
        }
        drop(s);
        let end = deadline();
        while !matches!(t.peers[1].link, Link::Closed) {
            t.progress().unwrap();
            assert!(Instant::now() < end, "EOF not seen");
        }
        let pkt = t.peek(1).unwrap().unwrap();
        assert!(pkt.header == b"one" && pkt.payload.to_vec() == b"first");
        t.consume(1);
        let pkt = t.peek(1).unwrap().unwrap();
        assert!(pkt.header == b"two" && pkt.payload.is_empty());
        t.consume(1);
        assert!(t.peek(1).unwrap().is_none());
        let e = t.try_send(1, b"h", b"").unwrap_err();
        assert!(
            e.message.contains("rank 1") && e.message.contains("closed"),
            "{}",
            e.message
        );

        // EOF inside a packet.
        let mut ts = mesh(2);
        let t = &mut ts[0];
        let mut s = raw_peer(t, 1);
        s.write_all(&frame_prefix(3, 100)).unwrap();
        s.write_all(&[1u8; 40]).unwrap();
        drop(s);
        let e = progress_until_err(t);
        assert!(
            e.message
                .contains("connection from rank 1 closed mid-packet"),
            "{}",
            e.message
        );
        assert!(t.peek(1).is_err());
    }

    #[test]
    fn shutdown_flushes_what_is_pending_and_the_peer_sees_eof() {
        const COUNT: u64 = 24;
        let mut ts = mesh(2);
        let mut b = ts.pop().unwrap();
        let mut a = ts.pop().unwrap();
        let sender = thread::spawn(move || {
            let payload = vec![7u8; MAX_PAYLOAD];
            for seq in 0..COUNT {
                while !a.try_send(1, &seq.to_le_bytes(), &payload).unwrap() {
                    a.progress().unwrap();
                    thread::yield_now();
                }
            }
            a.shutdown();
            assert!(!a.has_pending_output());
            assert!(a.try_send(1, b"", b"").is_err());
        });
        let end = deadline();
        let mut seq = 0u64;
        while !matches!(b.peers[0].link, Link::Closed) || b.peek(0).unwrap().is_some() {
            b.progress().unwrap();
            if let Some(pkt) = b.peek(0).unwrap() {
                assert_eq!(pkt.header, &seq.to_le_bytes());
                assert_eq!(pkt.payload.to_vec(), vec![7u8; MAX_PAYLOAD]);
                b.consume(0);
                seq += 1;
            }
            assert!(Instant::now() < end, "receiver stuck at {seq}");
        }
        assert_eq!(seq, COUNT);
        b.shutdown();
        sender.join().unwrap();
        // Nothing left open.
        assert!(b.listener.is_none() && b.incoming.is_empty());
        assert!(b.peers.iter().all(|p| p.conn.is_none() && p.dial.is_none()));
    }

    #[test]
    fn ranks_shutting_down_together_still_connect_to_flush() {
        // Both queue before any connection exists, then both shut down at once: each must
        // accept the other's dial although it is closing.
        let start = Arc::new(Barrier::new(2));
        let handles: Vec<_> = mesh(2)
            .into_iter()
            .map(|mut t| {
                let start = start.clone();
                thread::spawn(move || {
                    let other = 1 - t.my_rank;
                    for seq in 0u64..8 {
                        assert!(t.try_send(other, &seq.to_le_bytes(), &[1; 1000]).unwrap());
                    }
                    start.wait();
                    t.shutdown();
                    assert!(
                        !matches!(t.peers[other].link, Link::Failed(_)),
                        "rank {}: the flush failed",
                        t.my_rank
                    );
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
