//! The channel: the [`PacketChannel`] implementation (send with back-pressure, progress,
//! peek and consume) and the I/O on established connections that serves it (flushing
//! output, reading input, end of stream, the epoll interest of each connection).

use super::frame::{frame_prefix, MAX_HEADER, MAX_PAYLOAD, PREFIX_LEN};
use super::poll::{EV_ERR, EV_IN, EV_OUT, TOK_CONN};
use super::{Link, Reach, TcpTransport};
use crate::error::{PeerFault, Result};
use crate::transport::{Packet, PacketChannel, PayloadRef};
use nix::errno::Errno;
use nix::sys::socket::SockaddrIn;
use nix::sys::socket::{self as sock, MsgFlags};
use std::io::IoSlice;
use std::os::fd::AsRawFd;

/// `try_send` answers `Ok(false)` while more than this many bytes wait for a peer.
const OUT_BOUND: usize = 1024 * 1024;

impl TcpTransport {
    /// Set the epoll interest of `r`'s connection to what its buffers call for.
    pub(super) fn sync_interest(&mut self, r: usize) -> Result<()> {
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
    pub(super) fn flush(&mut self, r: usize) -> Result<()> {
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
                    let e = self.os_err("send", e, format_args!("send to rank {r}"));
                    return Err(self.fail(r, e));
                }
            }
        }
        self.sync_interest(r)
    }

    /// Read from `r`'s connection until its buffer is full or the socket is empty.
    fn read_conn(&mut self, r: usize) -> Result<()> {
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
                        let e = self.peer_err(r, PeerFault::Corrupt, m);
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
                            let e = self.peer_err(r, PeerFault::Corrupt, m);
                            return Err(self.fail(r, e));
                        }
                        break;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    let e = self.os_err("recv", e, format_args!("receive from rank {r}"));
                    return Err(self.fail(r, e));
                }
            }
        }
        self.sync_interest(r)
    }

    /// `r` closed its side of the connection.
    fn peer_eof(&mut self, r: usize) -> Result<()> {
        if self.closing {
            self.drop_conn(r);
            self.peers[r].link = Link::Closed;
            return Ok(());
        }
        let p = &self.peers[r];
        let err = match p.rx.partial_tail(r) {
            Err(m) => Some(self.peer_err(r, PeerFault::Corrupt, m)),
            Ok(true) => Some(self.peer_err(
                r,
                PeerFault::Closed,
                format_args!("connection from rank {r} closed mid-packet"),
            )),
            Ok(false) if p.out.pending() > 0 => Some(self.peer_err(
                r,
                PeerFault::Closed,
                format_args!(
                    "rank {r} closed its connection with {} bytes still to send to it",
                    p.out.pending()
                ),
            )),
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
    pub(super) fn conn_event(&mut self, r: usize, events: u32) -> Result<()> {
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
}

impl PacketChannel for TcpTransport {
    fn max_payload(&self) -> usize {
        MAX_PAYLOAD
    }

    fn try_send(&mut self, peer: usize, hdr: &[u8], payload: &[u8]) -> Result<bool> {
        self.check_peer(peer)?;
        if peer == self.my_rank {
            return Err(self.peer_err(
                peer,
                PeerFault::Unreachable,
                format_args!("rank {peer} is this rank; TCP does not carry messages to self"),
            ));
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
            Link::Closed => {
                return Err(self.peer_err(
                    peer,
                    PeerFault::Closed,
                    format_args!("rank {peer} closed its connection"),
                ))
            }
            Link::Failed(e) => return Err(e.clone()),
        }
        if matches!(self.peers[peer].reach, Reach::NotTcp) {
            return Err(self.peer_err(
                peer,
                PeerFault::Unreachable,
                format_args!("rank {peer} is not reached over TCP"),
            ));
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
                    let e = self.os_err("sendmsg", e, format_args!("send to rank {peer}"));
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
                let e = self.peer_err(peer, PeerFault::Corrupt, m);
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
    use super::super::frame::{MAX_FRAME, READ_AHEAD};
    use super::super::tests::{deadline, exchange, mesh, progress_until_err, raw_peer};
    use super::*;
    use crate::transport::tcp::PeerAddr;
    use std::io::Write;
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::{Duration, Instant};

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
        assert_eq!(e.peer_fault(), Some((1, PeerFault::Unreachable)), "{e}");
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
        assert_eq!(e.peer_fault(), Some((2, PeerFault::Unreachable)), "{e}");
        let e = t.try_send(7, b"h", b"").unwrap_err();
        assert_eq!(e.peer_fault(), Some((7, PeerFault::Unreachable)), "{e}");
        let e = t.try_send(0, b"h", b"").unwrap_err();
        assert_eq!(e.peer_fault(), Some((0, PeerFault::Unreachable)), "{e}");
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
            assert_eq!(e.peer_fault(), Some((1, PeerFault::Corrupt)), "{e}");
            assert!(e.message.contains(what), "{}", e.message);
            let e = t.peek(1).err().expect("peek after a bad frame");
            assert_eq!(e.peer_fault(), Some((1, PeerFault::Corrupt)), "{e}");
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
        assert_eq!(e.peer_fault(), Some((1, PeerFault::Closed)), "{e}");

        // EOF inside a packet.
        let mut ts = mesh(2);
        let t = &mut ts[0];
        let mut s = raw_peer(t, 1);
        s.write_all(&frame_prefix(3, 100)).unwrap();
        s.write_all(&[1u8; 40]).unwrap();
        drop(s);
        let e = progress_until_err(t);
        assert_eq!(e.peer_fault(), Some((1, PeerFault::Closed)), "{e}");
        assert!(e.message.contains("mid-packet"), "{}", e.message);
        assert!(t.peek(1).is_err());
    }
}
