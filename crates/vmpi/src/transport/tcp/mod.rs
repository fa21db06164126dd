//! TCP channel: moves packets between ranks that share no memory, over one TCP
//! connection per pair of ranks.
//!
//! This module owns the listening socket, the dialing and accepting of connections (with a
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
//!
//! One concern per file:
//! - `mod.rs`: [`TcpTransport`] itself (construction, the peer table, the job check, the
//!   orderly shutdown) and the per-peer state the other files work on.
//! - `addr.rs`: address cards (what a rank publishes), `VMPI_TCP_IF` interface selection,
//!   the order in which a peer's addresses are dialed.
//! - `poll.rs`: the epoll wrapper, the event tokens, and `poll_once`, which hands each
//!   event to the file that owns its socket.
//! - `frame.rs`: the packet frame (prefix, size limits) and the per-peer outgoing and
//!   incoming buffers with their bounds.
//! - `connect.rs`: dialing a peer address by address, the hello and its reply codes,
//!   the dialer's side of the tie-break.
//! - `accept.rs`: accepting connections, reading and judging their hellos.
//! - `channel.rs`: the [`PacketChannel`](super::PacketChannel) implementation and the I/O
//!   on established connections (flush, read, end of stream, epoll interest).
//! - `tests.rs`: helpers the tests of every file share, and the shutdown tests.

mod accept;
mod addr;
mod channel;
mod connect;
mod frame;
mod poll;
#[cfg(test)]
mod tests;

pub use addr::{IfSelector, PeerAddr};

use crate::error::{Error, PeerFault, Result};
use accept::Incoming;
use addr::{choose_local, local_ipv4, make_card};
use connect::Dial;
use frame::{OutBuf, RecvBuf};
use poll::{Epoll, EV_IN, TOK_LISTENER};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

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

    /// An error about peer `r`, with what it did.
    fn peer_err(&self, r: usize, fault: PeerFault, msg: impl std::fmt::Display) -> Error {
        Error::peer(r, fault, format!("tcp (rank {}): {msg}", self.my_rank))
    }

    /// A failed system call on the connection to or from a peer.
    fn os_err(
        &self,
        call: &'static str,
        e: nix::errno::Errno,
        msg: impl std::fmt::Display,
    ) -> Error {
        Error::os(
            call,
            std::io::Error::from_raw_os_error(e as i32),
            format!("tcp (rank {}): {msg}: {call}: {e}", self.my_rank),
        )
    }

    fn check_peer(&self, peer: usize) -> Result<()> {
        if peer >= self.size {
            return Err(self.peer_err(
                peer,
                PeerFault::Unreachable,
                format_args!("rank {peer} is out of range (world size {})", self.size),
            ));
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

    /// Bytes waiting to be written to `peer` (for tests and diagnostics).
    #[cfg(test)]
    fn pending_to(&self, peer: usize) -> usize {
        self.peers[peer].out.pending()
    }
}
