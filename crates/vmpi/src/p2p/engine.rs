//! The progress engine: routes each peer to its channel, runs the eager and
//! rendezvous protocols, matches arrivals against posted receives, buffers
//! unexpected messages within a per-peer budget, and completes requests.
//!
//! Protocols (per message of n bytes to a peer):
//! - n <= the channel's eager size: one `Eager` packet (the receiver copies it out;
//!   synchronous mode adds a `SyncAck`).
//! - larger: `Rts` with the sender's buffer address. The receiver, once matched,
//!   either pulls the bytes with CMA and answers `Fin`, or answers `Cts` and the
//!   sender streams `Data` chunks through the channel (pipelined copy).
//! - to itself: eager copy, or a direct copy once matched.
//!
//! The engine never blocks; callers poll [`Engine::progress`] and back off.

use super::buffers::{RecvBuf, SendBuf};
use super::header::{Header, Kind, FLAG_FAILED, FLAG_SENDER_BUSY, FLAG_SYNC};
use super::matching::{Held, Pattern, Posted, Queues, Unexpected};
use super::request::{Phase, ReqId, Request, Requests, Status, ANY_SOURCE, ANY_TAG};
use crate::error::{Error, ErrorClass, PeerFault, Result};
use crate::locality::Channel;
use crate::transport::{cma, shm::ShmTransport, tcp::TcpTransport, PacketChannel, PayloadRef};
use std::collections::VecDeque;

/// A message taken out of matching by `Engine::improbe`; receive it with
/// `Engine::imrecv`.
#[derive(Debug)]
pub struct Message(Unexpected);

/// Send modes that change the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    Standard,
    /// Completes only once the receive has matched.
    Synchronous,
}

/// A packet waiting for room in its channel.
enum Out {
    Ctrl(Header),
    Eager {
        hdr: Header,
        buf: SendBuf,
        req: ReqId,
    },
    Stream {
        sreq: ReqId,
        rreq: u64,
        buf: SendBuf,
        off: usize,
    },
}

/// The channels of this rank.
pub struct Channels {
    pub shm: Option<ShmTransport>,
    /// The shm channel's queues in an IVSHMEM slot (peers in other VMs).
    pub ivshmem: Option<ShmTransport>,
    pub tcp: Option<TcpTransport>,
}

/// Everything the engine knows about one peer.
pub struct PeerInfo {
    pub channel: Channel,
    /// This rank may pull the peer's memory with CMA.
    pub cma: bool,
    /// The peer may read and write this rank's memory with CMA (its verdict toward us).
    pub cma_in: bool,
    pub pid: i32,
}

struct State {
    rank: usize,
    peers: Vec<PeerInfo>,
    reqs: Requests,
    q: Queues,
    /// Eager bytes we may still send to each peer before it returns credit.
    credits: Vec<usize>,
    /// Credit we owe each peer for eager bytes that have left our memory.
    owed: Vec<usize>,
    /// Each peer's initial credit (VMPI_UNEXPECTED_LIMIT).
    credit_limit: usize,
    outq: Vec<VecDeque<Out>>,
    /// Peers with a non-empty out queue.
    backlog: Vec<usize>,
    /// CMA reads to do once replies are flushed (so a split rendezvous overlaps).
    pulls: VecDeque<Pull>,
    /// From which size a CMA pull is shared with the sender.
    cma_split: CmaSplit,
    /// Smaller rendezvous messages take the pipelined copy even where CMA works.
    cma_min: usize,
}

/// From which size a CMA rendezvous is copied half by each side (0: never): `idle`
/// for a receive with nothing after it, `busy` for one whose collective round
/// pulls or copies more after it (a gather root: its senders are otherwise idle,
/// so they write half even where ranks outnumber cores: 4 ranks on 2 cores,
/// gather 512 KiB-1 MiB 0.6x).
#[derive(Debug, Clone, Copy)]
pub struct CmaSplit {
    pub idle: usize,
    pub busy: usize,
}

/// A CMA read this rank owes a matched receive.
struct Pull {
    req: ReqId,
    peer: usize,
    sreq: u64,
    remote: u64,
    len: usize,
}

/// The engine of one rank.
pub struct Engine {
    ch: Channels,
    st: State,
    tcp_peers: Vec<usize>,
    /// Requests to free as soon as they complete.
    detached: Vec<ReqId>,
    eager_shm: usize,
    eager_iv: usize,
    eager_tcp: usize,
}

impl Engine {
    pub fn new(
        rank: usize,
        peers: Vec<PeerInfo>,
        ch: Channels,
        eager_shm: usize,
        eager_tcp: usize,
        unexpected_limit: usize,
        cma_split: CmaSplit,
        cma_min: usize,
    ) -> Engine {
        let n = peers.len();
        let tcp_peers = (0..n)
            .filter(|&p| peers[p].channel == Channel::Tcp)
            .collect();
        let eager_iv = ch
            .ivshmem
            .as_ref()
            .map_or(0, |s| eager_shm.min(s.max_payload()));
        let eager_shm = ch
            .shm
            .as_ref()
            .map_or(0, |s| eager_shm.min(s.max_payload()));
        let eager_tcp = ch
            .tcp
            .as_ref()
            .map_or(0, |t| eager_tcp.min(t.max_payload()));
        Engine {
            ch,
            st: State {
                rank,
                peers,
                reqs: Requests::default(),
                q: Queues::default(),
                credits: vec![unexpected_limit; n],
                owed: vec![0; n],
                credit_limit: unexpected_limit,
                outq: (0..n).map(|_| VecDeque::new()).collect(),
                backlog: Vec::new(),
                pulls: VecDeque::new(),
                cma_split,
                cma_min,
            },
            tcp_peers,
            detached: Vec::new(),
            eager_shm,
            eager_iv,
            eager_tcp,
        }
    }

    pub fn rank(&self) -> usize {
        self.st.rank
    }

    /// The process id of `peer` when this rank may read and write its memory
    /// with CMA (its probe passed).
    pub fn cma_pid(&self, peer: usize) -> Option<i32> {
        let p = self.st.peers.get(peer)?;
        p.cma.then_some(p.pid)
    }

    pub fn size(&self) -> usize {
        self.st.peers.len()
    }

    pub fn channels_mut(&mut self) -> &mut Channels {
        &mut self.ch
    }

    /// Start a send of `buf` to world rank `peer`, as rank `src` of the communicator
    /// whose context is `ctx`.
    ///
    /// # Safety
    /// `buf` must stay valid and unchanged until the returned request completes.
    pub unsafe fn isend(
        &mut self,
        buf: SendBuf,
        peer: usize,
        ctx: u32,
        src: i32,
        tag: i32,
        mode: SendMode,
    ) -> Result<ReqId> {
        let channel = self.st.peers[peer].channel;
        let eager = match channel {
            Channel::Shm => self.eager_shm,
            Channel::Ivshmem => self.eager_iv,
            Channel::Tcp => self.eager_tcp,
            Channel::SelfLoop => usize::MAX,
        };
        let len = buf.len();
        let sync = mode == SendMode::Synchronous;
        let req = self.st.reqs.insert(Request {
            phase: Phase::Send { peer, buf },
            waiting: 1,
            status: Status {
                source: src,
                tag,
                count: len,
                cancelled: false,
                error: None,
                sender_failed: false,
            },
        });
        let mut hdr = Header {
            kind: Kind::Eager,
            flags: if buf.is_failed() { FLAG_FAILED } else { 0 },
            ctx,
            src,
            tag,
            len: len as u64,
            id: req.0,
            addr: 0,
        };
        if channel == Channel::SelfLoop {
            self.send_to_self(hdr, buf, req, sync)?;
            return Ok(req);
        }
        // Eager only while the receiver has room for it: without credit even a small
        // message goes by rendezvous and its data waits in our buffer.
        if len <= eager && self.st.take_credit(peer, len) {
            if sync {
                hdr.flags |= FLAG_SYNC;
                self.st.reqs.expect_mut(req, "send")?.waiting = 2;
            }
            if self.st.outq[peer].is_empty()
                && self
                    .ch
                    .send(peer, channel, &hdr.encode(), buf.slice(0, len))?
            {
                self.st.event(req);
            } else {
                self.st.enqueue(peer, Out::Eager { hdr, buf, req });
            }
        } else {
            hdr.kind = Kind::Rts;
            hdr.addr = buf.addr();
            if buf.is_busy() {
                hdr.flags |= FLAG_SENDER_BUSY;
            }
            let sent =
                self.st.outq[peer].is_empty() && self.ch.send(peer, channel, &hdr.encode(), &[])?;
            if !sent {
                self.st.enqueue(peer, Out::Ctrl(hdr));
            }
        }
        Ok(req)
    }

    /// A message to ourselves: it goes straight to matching.
    fn send_to_self(
        &mut self,
        mut hdr: Header,
        buf: SendBuf,
        req: ReqId,
        sync: bool,
    ) -> Result<()> {
        let me = self.st.rank;
        if buf.len() <= self.eager_shm.max(16384) && !sync && self.st.take_credit(me, buf.len()) {
            // Eager: copied now, the send is complete.
            let payload = PayloadRef::private(buf.slice(0, buf.len()));
            self.st.incoming(me, hdr, payload)?;
            self.st.event(req);
        } else {
            // Rendezvous with ourselves: the receiver copies from `buf` directly.
            hdr.kind = Kind::Rts;
            hdr.addr = buf.addr();
            self.st.incoming(me, hdr, PayloadRef::private(&[]))?;
        }
        Ok(())
    }

    /// Post a receive into `buf` for messages matching `pattern`.
    ///
    /// # Safety
    /// `buf` must stay valid and untouched until the returned request completes.
    pub unsafe fn irecv(&mut self, buf: RecvBuf, pattern: Pattern) -> Result<ReqId> {
        let req = self.st.reqs.insert(Request {
            phase: Phase::Posted { buf },
            waiting: 1,
            status: Status::empty(),
        });
        if let Some(u) = self.st.q.take_unexpected(&pattern) {
            self.st
                .deliver(req, u.peer, u.hdr, Delivery::Held(u.held))?;
        } else {
            self.st.q.posted.push_back(Posted { req, pattern });
        }
        Ok(req)
    }

    /// The status of the first unexpected message matching `pattern`, if any (call
    /// after a progress pass).
    pub fn iprobe(&mut self, pattern: &Pattern) -> Result<Option<Status>> {
        Ok(self.st.q.find_unexpected(pattern).map(|u| Status {
            source: u.hdr.src,
            tag: u.hdr.tag,
            count: u.hdr.len as usize,
            cancelled: false,
            error: None,
            sender_failed: false,
        }))
    }

    /// If `req` is complete, free it and return its status.
    pub fn test(&mut self, req: ReqId) -> Result<Option<Status>> {
        let r = self.st.reqs.expect_mut(req, "MPI_Test")?;
        if !r.is_done() {
            return Ok(None);
        }
        let r = self.st.reqs.remove(req).expect("present");
        Ok(Some(r.status))
    }

    /// A request that a layer above completes with [`Engine::complete_external`]
    /// (nonblocking collectives, generalized requests).
    pub fn new_external(&mut self) -> ReqId {
        self.st.reqs.insert(Request {
            phase: Phase::External,
            waiting: 0,
            status: Status::empty(),
        })
    }

    /// Complete a request made by [`Engine::new_external`].
    pub fn complete_external(&mut self, req: ReqId, status: Status) -> Result<()> {
        let r = self.st.reqs.expect_mut(req, "complete")?;
        if !matches!(r.phase, Phase::External) {
            return Err(Error::intern(
                "complete_external on a request the engine owns",
            ));
        }
        r.status = status;
        r.phase = Phase::Done;
        Ok(())
    }

    /// The status of `req` if it is complete, without freeing it
    /// (MPI_Request_get_status).
    pub fn peek_status(&self, req: ReqId) -> Result<Option<Status>> {
        let r = self.st.reqs.get(req).ok_or_else(|| {
            Error::new(
                ErrorClass::Request,
                format!("request {:#x} is not active", req.0),
            )
        })?;
        Ok(r.is_done().then_some(r.status))
    }

    /// Take the first unexpected message matching `pattern` out of matching, so that
    /// only [`Engine::imrecv`] can receive it (MPI_Improbe).
    pub fn improbe(&mut self, pattern: &Pattern) -> Result<Option<(Message, Status)>> {
        let Some(u) = self.st.q.take_unexpected(pattern) else {
            return Ok(None);
        };
        let st = Status {
            source: u.hdr.src,
            tag: u.hdr.tag,
            count: u.hdr.len as usize,
            cancelled: false,
            error: None,
            sender_failed: false,
        };
        Ok(Some((Message(u), st)))
    }

    /// Receive a message taken by `Engine::improbe` (MPI_Imrecv).
    ///
    /// # Safety
    /// `buf` must stay valid and untouched until the returned request completes.
    pub unsafe fn imrecv(&mut self, buf: RecvBuf, msg: Message) -> Result<ReqId> {
        let req = self.st.reqs.insert(Request {
            phase: Phase::Posted { buf },
            waiting: 1,
            status: Status::empty(),
        });
        let u = msg.0;
        self.st
            .deliver(req, u.peer, u.hdr, Delivery::Held(u.held))?;
        Ok(req)
    }

    /// Is `req` complete (without freeing it)?
    pub fn is_complete(&self, req: ReqId) -> Result<bool> {
        self.st.reqs.get(req).map(|r| r.is_done()).ok_or_else(|| {
            Error::new(
                ErrorClass::Request,
                format!("request {:#x} is not active", req.0),
            )
        })
    }

    /// An incomplete request in words, for a warning: what it is, the peer, the tag
    /// and the size (a send names the peer's world rank; a receive its source in
    /// the communicator, as posted).
    pub fn describe(&self, req: ReqId) -> String {
        let any = |v: i32, w: i32| {
            if v == w {
                "any".to_string()
            } else {
                v.to_string()
            }
        };
        let Some(r) = self.st.reqs.get(req) else {
            return "a request that is no longer active".into();
        };
        match &r.phase {
            Phase::Send { peer, buf } => format!(
                "a send of {} bytes to rank {peer} (of MPI_COMM_WORLD) with tag {}, never received",
                buf.len(),
                r.status.tag
            ),
            Phase::Posted { buf } => match self.st.q.posted.iter().find(|p| p.req == req) {
                Some(p) => format!(
                    "a receive of up to {} bytes from source {} with tag {} (communicator context {:#x}), never matched",
                    buf.cap(),
                    any(p.pattern.src, ANY_SOURCE),
                    any(p.pattern.tag, ANY_TAG),
                    p.pattern.ctx
                ),
                None => format!("a receive of up to {} bytes, never matched", buf.cap()),
            },
            Phase::Receiving {
                peer,
                expected,
                received,
                ..
            } => format!(
                "a receive of {expected} bytes from rank {peer} (of MPI_COMM_WORLD) with tag {}, {received} bytes arrived",
                r.status.tag
            ),
            Phase::External => "a collective or generalized request, not complete".into(),
            Phase::Done => "a completed request".into(),
        }
    }

    /// Cancel a receive that has not matched yet. Sends cannot be cancelled (as in
    /// MPICH for messages already handed to a channel): Ok(false).
    pub fn cancel(&mut self, req: ReqId) -> Result<bool> {
        let r = self.st.reqs.expect_mut(req, "MPI_Cancel")?;
        if matches!(r.phase, Phase::Posted { .. }) && self.st.q.unpost(req) {
            let r = self.st.reqs.expect_mut(req, "MPI_Cancel")?;
            r.status.cancelled = true;
            r.phase = Phase::Done;
            return Ok(true);
        }
        Ok(false)
    }

    /// Free `req` by itself once it completes (MPI_Request_free on an active request,
    /// buffered sends): the caller will never test it.
    pub fn free_on_complete(&mut self, req: ReqId) -> Result<()> {
        self.st.reqs.expect_mut(req, "MPI_Request_free")?;
        self.detached.push(req);
        self.reap();
        Ok(())
    }

    fn reap(&mut self) {
        let reqs = &mut self.st.reqs;
        self.detached.retain(|&id| {
            if reqs.get(id).is_some_and(|r| r.is_done()) {
                reqs.remove(id);
                false
            } else {
                true
            }
        });
    }

    /// Take back a receive that has not matched yet and free it; false (and nothing
    /// changes) if it already matched.
    pub fn unpost(&mut self, req: ReqId) -> Result<bool> {
        let r = self.st.reqs.expect_mut(req, "unpost")?;
        if matches!(r.phase, Phase::Posted { .. }) && self.st.q.unpost(req) {
            self.st.reqs.remove(req);
            return Ok(true);
        }
        Ok(false)
    }

    /// True while packets wait in out queues.
    pub fn has_backlog(&self) -> bool {
        !self.st.backlog.is_empty() || self.ch.tcp.as_ref().is_some_and(|t| t.has_pending_output())
    }

    /// Move packets: flush out queues, then drain every channel. Returns whether
    /// anything happened.
    pub fn progress(&mut self) -> Result<bool> {
        let mut did = false;
        if !self.st.backlog.is_empty() {
            did |= self.flush()?;
        }
        if let Some(shm) = self.ch.shm.as_mut() {
            did |= drain_inbox(shm, &mut self.st, Channel::Shm)?;
        }
        if let Some(iv) = self.ch.ivshmem.as_mut() {
            did |= drain_inbox(iv, &mut self.st, Channel::Ivshmem)?;
        }
        if let Some(tcp) = self.ch.tcp.as_mut() {
            tcp.progress()?;
            for &p in &self.tcp_peers {
                did |= drain(tcp, &mut self.st, p)?;
            }
        }
        if !self.st.backlog.is_empty() {
            did |= self.flush()?;
        }
        if !self.st.pulls.is_empty() {
            // Replies that let the sender copy its half are out: now pull ours.
            self.st.run_pulls()?;
            did = true;
            if !self.st.backlog.is_empty() {
                self.flush()?;
            }
        }
        if !self.detached.is_empty() {
            self.reap();
        }
        Ok(did)
    }

    /// Push queued packets into their channels, in order, until they are full.
    fn flush(&mut self) -> Result<bool> {
        let mut did = false;
        let mut i = 0;
        while i < self.st.backlog.len() {
            let peer = self.st.backlog[i];
            let channel = self.st.peers[peer].channel;
            loop {
                let Some(front) = self.st.outq[peer].front_mut() else {
                    break;
                };
                match front {
                    Out::Ctrl(h) => {
                        if !self.ch.send(peer, channel, &h.encode(), &[])? {
                            break;
                        }
                        self.st.outq[peer].pop_front();
                    }
                    Out::Eager { hdr, buf, req } => {
                        if !self
                            .ch
                            .send(peer, channel, &hdr.encode(), buf.slice(0, buf.len()))?
                        {
                            break;
                        }
                        let req = *req;
                        self.st.outq[peer].pop_front();
                        self.st.event(req);
                    }
                    Out::Stream {
                        sreq,
                        rreq,
                        buf,
                        off,
                    } => {
                        let max = self.ch.max_payload(channel);
                        let n = (buf.len() - *off).min(max);
                        let h = Header {
                            kind: Kind::Data,
                            flags: 0,
                            ctx: 0,
                            src: 0,
                            tag: 0,
                            len: *off as u64,
                            id: *rreq,
                            addr: 0,
                        };
                        if !self
                            .ch
                            .send(peer, channel, &h.encode(), buf.slice(*off, n))?
                        {
                            break;
                        }
                        *off += n;
                        if *off == buf.len() {
                            let sreq = *sreq;
                            self.st.outq[peer].pop_front();
                            self.st.event(sreq);
                        }
                    }
                }
                did = true;
            }
            if self.st.outq[peer].is_empty() {
                self.st.backlog.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(did)
    }
}

impl Channels {
    fn send(&mut self, peer: usize, channel: Channel, hdr: &[u8], payload: &[u8]) -> Result<bool> {
        match channel {
            Channel::Shm => self
                .shm
                .as_mut()
                .expect("shm peer without shm channel")
                .try_send(peer, hdr, payload),
            Channel::Ivshmem => self
                .ivshmem
                .as_mut()
                .expect("ivshmem peer without ivshmem channel")
                .try_send(peer, hdr, payload),
            Channel::Tcp => self
                .tcp
                .as_mut()
                .expect("tcp peer without tcp channel")
                .try_send(peer, hdr, payload),
            Channel::SelfLoop => Err(Error::intern("packet to self through a channel")),
        }
    }

    fn max_payload(&self, channel: Channel) -> usize {
        match channel {
            Channel::Shm => self.shm.as_ref().map_or(0, |s| s.max_payload()),
            Channel::Ivshmem => self.ivshmem.as_ref().map_or(0, |s| s.max_payload()),
            Channel::Tcp => self.tcp.as_ref().map_or(0, |t| t.max_payload()),
            Channel::SelfLoop => usize::MAX,
        }
    }
}

/// The error of a failed CMA transfer between `me` and `peer` (process `pid`): the
/// peer's death when its process is gone, else a CMA problem (with the way out).
fn cma_failed(me: usize, peer: usize, pid: i32, dir: &str, e: Error) -> Error {
    if cma::peer_gone(&e) {
        Error::peer(
            peer,
            PeerFault::Gone,
            format!(
                "rank {me}: rank {peer} (pid {pid}) died during a large message: {}",
                e.message
            ),
        )
    } else {
        Error::other(format!(
            "rank {me}: CMA {dir} rank {peer} failed after a good probe: {}; set MV2_SMP_USE_CMA=0",
            e.message
        ))
    }
}

/// Handle the packets waiting from `peer` on one channel (a bounded number, so one
/// busy peer cannot starve the others).
fn drain<C: PacketChannel>(ch: &mut C, st: &mut State, peer: usize) -> Result<bool> {
    let mut did = false;
    for _ in 0..64 {
        if !ch.ready(peer) {
            break;
        }
        let Some(pkt) = ch.peek(peer)? else { break };
        let hdr = Header::decode(pkt.header, peer)?;
        st.incoming(peer, hdr, pkt.payload)?;
        ch.consume(peer);
        did = true;
    }
    Ok(did)
}

/// Handle the packets waiting in a shared-memory inbox, from any local peer (a
/// bounded number, so the other channels get their turn).
fn drain_inbox(ch: &mut ShmTransport, st: &mut State, channel: Channel) -> Result<bool> {
    let mut did = false;
    for _ in 0..128 {
        if !ch.ready() {
            break;
        }
        let Some((peer, pkt)) = ch.peek()? else { break };
        if st.peers[peer].channel != channel {
            return Err(Error::peer(peer, PeerFault::Corrupt, format!(
                "rank {peer} wrote into our {channel:?} inbox but is reached over {:?} (protocol error)",
                st.peers[peer].channel
            )));
        }
        let hdr = Header::decode(pkt.header, peer)?;
        st.incoming(peer, hdr, pkt.payload)?;
        ch.consume();
        did = true;
    }
    Ok(did)
}

/// How a matched message's data reaches the receive buffer.
enum Delivery<'a> {
    /// Straight from the channel.
    Live(PayloadRef<'a>),
    /// From the unexpected queue.
    Held(Held),
}

impl State {
    fn enqueue(&mut self, peer: usize, out: Out) {
        if self.outq[peer].is_empty() {
            self.backlog.push(peer);
        }
        self.outq[peer].push_back(out);
    }

    /// Queue a control packet (it goes out at the next flush, in order).
    fn reply(&mut self, peer: usize, kind: Kind, id: u64, addr: u64) {
        self.enqueue(peer, Out::Ctrl(Header::control(kind, id, addr)));
    }

    /// One of the events a send waits for happened.
    fn event(&mut self, req: ReqId) {
        if let Some(r) = self.reqs.get_mut(req) {
            r.waiting = r.waiting.saturating_sub(1);
            if r.waiting == 0 {
                r.phase = Phase::Done;
            }
        }
    }

    /// The sender request named by a control packet from `peer`.
    fn send_req(&mut self, id: u64, peer: usize, what: &str) -> Result<(ReqId, SendBuf)> {
        let req = ReqId(id);
        match self.reqs.get(req).map(|r| &r.phase) {
            Some(Phase::Send { peer: p, buf }) if *p == peer => Ok((req, *buf)),
            _ => Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!("{what} from rank {peer} names no send of ours to it (protocol error)"),
            )),
        }
    }

    /// Flow control, sender side: spend credit for an eager message of `len` bytes
    /// to `peer`, or say there is not enough.
    fn take_credit(&mut self, peer: usize, len: usize) -> bool {
        let cost = len + CREDIT_OVERHEAD;
        if self.credits[peer] < cost {
            return false;
        }
        self.credits[peer] -= cost;
        true
    }

    /// Flow control, receiver side: an eager message of `len` bytes from `peer` has
    /// left our memory; give the credit back in batches.
    fn return_credit(&mut self, peer: usize, len: usize) {
        let cost = len + CREDIT_OVERHEAD;
        if peer == self.rank {
            self.credits[peer] += cost;
            return;
        }
        self.owed[peer] += cost;
        if self.owed[peer] >= self.credit_limit / 4 {
            let amount = std::mem::take(&mut self.owed[peer]) as u64;
            self.enqueue(
                peer,
                Out::Ctrl(Header::control_aux(Kind::Credit, 0, 0, amount, 0)),
            );
        }
    }

    fn incoming(&mut self, peer: usize, hdr: Header, payload: PayloadRef<'_>) -> Result<()> {
        match hdr.kind {
            Kind::Eager | Kind::Rts => {
                if hdr.kind == Kind::Eager && payload.len() as u64 != hdr.len {
                    return Err(Error::peer(
                        peer,
                        PeerFault::Corrupt,
                        format!(
                            "eager packet from rank {peer} carries {} bytes, header says {}",
                            payload.len(),
                            hdr.len
                        ),
                    ));
                }
                if let Some(p) = self.q.take_posted(&hdr) {
                    self.deliver(p.req, peer, hdr, Delivery::Live(payload))?;
                    return Ok(());
                }
                // Unexpected: an eager message's bytes are held (the sender spent
                // credit on them, so they are bounded); a rendezvous request is a
                // header only.
                let held = if hdr.kind == Kind::Eager {
                    Held::Eager(payload.to_vec())
                } else {
                    Held::Rts
                };
                self.q.unexpected.push_back(Unexpected { peer, hdr, held });
            }
            Kind::Cts => {
                let (sreq, buf) = self.send_req(hdr.id, peer, "clear-to-send")?;
                self.enqueue(
                    peer,
                    Out::Stream {
                        sreq,
                        rreq: hdr.addr,
                        buf,
                        off: 0,
                    },
                );
            }
            Kind::Fin | Kind::SyncAck => {
                let (sreq, _) = self.send_req(hdr.id, peer, "acknowledgement")?;
                self.event(sreq);
            }
            Kind::CoopCts => self.coop_write(peer, hdr)?,
            Kind::CoopDone => self.received(peer, hdr.id, hdr.len)?,
            Kind::Credit => self.credits[peer] += hdr.len as usize,
            Kind::Data => self.data(peer, hdr, payload)?,
        }
        Ok(())
    }

    /// The receiver of our large message pulls its first part and asks us to write
    /// the rest into its buffer: do it now, then tell it.
    fn coop_write(&mut self, peer: usize, hdr: Header) -> Result<()> {
        let (_, buf) = self.send_req(hdr.id, peer, "split rendezvous")?;
        let split = hdr.len as usize;
        if split > buf.len() {
            return Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!(
                "split rendezvous from rank {peer} starts past the message end (protocol error)"
            ),
            ));
        }
        let part = buf.slice(split, buf.len() - split);
        let pid = self.peers[peer].pid;
        cma::write_to(pid, hdr.addr + split as u64, part)
            .map_err(|e| cma_failed(self.rank, peer, pid, "write to", e))?;
        let done = Header::control_aux(Kind::CoopDone, hdr.aux(), 0, part.len() as u64, 0);
        self.enqueue(peer, Out::Ctrl(done));
        Ok(())
    }

    /// `n` more bytes of rendezvous receive `id` from `peer` have landed.
    fn received(&mut self, peer: usize, id: u64, n: u64) -> Result<()> {
        let r = self.reqs.get_mut(ReqId(id));
        let Some(r) = r else {
            return Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!("completion from rank {peer} for no receive of ours (protocol error)"),
            ));
        };
        let Phase::Receiving {
            peer: p,
            expected,
            received,
            ..
        } = &mut r.phase
        else {
            return Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!(
                    "completion from rank {peer} for a receive that expects none (protocol error)"
                ),
            ));
        };
        if *p != peer || *received + n > *expected {
            return Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!("completion from rank {peer} does not fit its receive (protocol error)"),
            ));
        }
        *received += n;
        if *received == *expected {
            r.phase = Phase::Done;
        }
        Ok(())
    }

    /// Do the CMA reads owed to matched receives, in order.
    fn run_pulls(&mut self) -> Result<()> {
        while let Some(p) = self.pulls.pop_front() {
            let r = self.reqs.expect_mut(p.req, "receive")?;
            let Phase::Receiving { buf, .. } = &mut r.phase else {
                return Err(Error::intern(
                    "CMA pull for a receive that is not receiving",
                ));
            };
            let pid = self.peers[p.peer].pid;
            cma::read_from(pid, p.remote, buf.slice_mut(0, p.len))
                .map_err(|e| cma_failed(self.rank, p.peer, pid, "read from", e))?;
            self.reply(p.peer, Kind::Fin, p.sreq, 0);
            self.received(p.peer, p.req.0, p.len as u64)?;
        }
        Ok(())
    }

    /// A chunk of a rendezvous message we are receiving.
    fn data(&mut self, peer: usize, hdr: Header, payload: PayloadRef<'_>) -> Result<()> {
        let bad = |what: &str| {
            Error::peer(
                peer,
                PeerFault::Corrupt,
                format!("data chunk from rank {peer} {what} (protocol error)"),
            )
        };
        let r = self
            .reqs
            .get_mut(ReqId(hdr.id))
            .ok_or_else(|| bad("for no receive of ours"))?;
        let Phase::Receiving {
            buf,
            peer: p,
            expected,
            received,
        } = &mut r.phase
        else {
            return Err(bad("for a receive that expects none"));
        };
        if *p != peer || hdr.len != *received || *received + payload.len() as u64 > *expected {
            return Err(bad("out of order or too long"));
        }
        buf.fill_from(hdr.len as usize, &payload);
        *received += payload.len() as u64;
        if *received == *expected {
            r.phase = Phase::Done;
        }
        Ok(())
    }

    /// Deliver a matched message into receive `req`.
    fn deliver(&mut self, req: ReqId, peer: usize, hdr: Header, d: Delivery<'_>) -> Result<()> {
        let me = self.rank;
        let r = self.reqs.expect_mut(req, "receive")?;
        let Phase::Posted { mut buf } = r.phase else {
            return Err(Error::intern("matched a receive that is not posted"));
        };
        let n = (hdr.len as usize).min(buf.cap());
        r.status = Status {
            source: hdr.src,
            tag: hdr.tag,
            count: n,
            cancelled: false,
            error: if hdr.len as usize > buf.cap() {
                Some(ErrorClass::Truncate)
            } else {
                None
            },
            sender_failed: hdr.flags & FLAG_FAILED != 0,
        };
        match (hdr.kind, d) {
            (Kind::Eager, Delivery::Live(p)) => {
                buf.fill_from(0, &p);
                r.phase = Phase::Done;
                self.return_credit(peer, hdr.len as usize);
                if hdr.flags & FLAG_SYNC != 0 {
                    self.reply(peer, Kind::SyncAck, hdr.id, 0);
                }
            }
            (Kind::Eager, Delivery::Held(Held::Eager(v))) => {
                buf.fill_from(0, &PayloadRef::private(&v));
                r.phase = Phase::Done;
                self.return_credit(peer, hdr.len as usize);
                if hdr.flags & FLAG_SYNC != 0 {
                    self.reply(peer, Kind::SyncAck, hdr.id, 0);
                }
            }
            (Kind::Rts, _) if peer == me => {
                let (sreq, sbuf) = self.send_req(hdr.id, peer, "self rendezvous")?;
                buf.slice_mut(0, n).copy_from_slice(sbuf.slice(0, n));
                self.reqs.expect_mut(req, "receive")?.phase = Phase::Done;
                self.event(sreq);
            }
            (Kind::Rts, _) if hdr.len == 0 => {
                r.phase = Phase::Done;
                self.reply(peer, Kind::Fin, hdr.id, 0);
            }
            (Kind::Rts, _) if self.peers[peer].cma && n >= self.cma_min => {
                // Pull with CMA once our replies are out; for large messages the
                // sender writes the second half meanwhile, unless it said it has
                // other work.
                let split_min = if buf.is_busy() {
                    self.cma_split.busy
                } else {
                    self.cma_split.idle
                };
                let split = if split_min > 0
                    && n >= split_min
                    && !buf.is_read_here()
                    && hdr.flags & FLAG_SENDER_BUSY == 0
                    && n as u64 == hdr.len
                    && self.peers[peer].cma_in
                {
                    (n / 2) & !63
                } else {
                    n
                };
                let addr = buf.addr();
                r.phase = Phase::Receiving {
                    buf,
                    peer,
                    expected: n as u64,
                    received: 0,
                };
                if split < n {
                    self.enqueue(
                        peer,
                        Out::Ctrl(Header::control_aux(
                            Kind::CoopCts,
                            hdr.id,
                            addr,
                            split as u64,
                            req.0,
                        )),
                    );
                }
                self.pulls.push_back(Pull {
                    req,
                    peer,
                    sreq: hdr.id,
                    remote: hdr.addr,
                    len: split,
                });
            }
            (Kind::Rts, _) => {
                r.phase = Phase::Receiving {
                    buf,
                    peer,
                    expected: hdr.len,
                    received: 0,
                };
                self.reply(peer, Kind::Cts, hdr.id, req.0);
            }
            _ => return Err(Error::intern("delivery of a packet that is not a message")),
        }
        Ok(())
    }
}

/// What an eager message costs in credit beyond its payload (its header and queue
/// entry at the receiver).
const CREDIT_OVERHEAD: usize = 64;
