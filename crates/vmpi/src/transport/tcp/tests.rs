//! Helpers the tests of every file of the transport share (a mesh of transports in one
//! process, reproducible packet streams, a hand-written peer), and the tests of the
//! orderly shutdown.

use super::connect::{hello_bytes, REPLY_ACCEPT};
use super::frame::{MAX_HEADER, MAX_PAYLOAD};
use super::{Link, PeerAddr, TcpTransport};
use crate::error::Error;
use crate::transport::PacketChannel;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

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
