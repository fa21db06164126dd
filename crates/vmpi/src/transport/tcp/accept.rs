//! Accepting: taking connections from the listener, reading their hello, and judging it
//! (job check, ranks, the acceptor's side of the tie-break) before an accepted connection
//! becomes the peer's connection.

use super::connect::{
    parse_hello, HELLO_LEN, REPLY_ACCEPT, REPLY_DUP, REPLY_JOB, REPLY_PEER, REPLY_TARGET,
};
use super::poll::{EV_IN, EV_OUT, TOK_CONN, TOK_INCOMING, TOK_INDEX};
use super::{Conn, Link, Reach, TcpTransport};
use crate::error::Result;
use nix::errno::Errno;
use nix::sys::socket::{self as sock, MsgFlags};
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// An accepted connection waiting for its hello.
pub(super) struct Incoming {
    pub(super) stream: TcpStream,
    hello: [u8; HELLO_LEN],
    got: usize,
}

impl TcpTransport {
    /// Accept every waiting connection.
    pub(super) fn accept_all(&mut self) -> Result<()> {
        loop {
            let Some(l) = self.listener.as_ref() else {
                return Ok(());
            };
            let stream = match l.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(self.err(format_args!("accept: {e}"))),
            };
            if let Err(e) = stream
                .set_nonblocking(true)
                .and_then(|()| stream.set_nodelay(true))
            {
                eprintln!(
                    "vmpi tcp (rank {}): dropping an accepted connection: setsockopt: {e}",
                    self.my_rank
                );
                continue;
            }
            let id = self.next_incoming;
            self.next_incoming = (self.next_incoming + 1) & TOK_INDEX;
            if let Err(e) = self.epoll.add(stream.as_raw_fd(), EV_IN, TOK_INCOMING | id) {
                return Err(self.err(format_args!(
                    "epoll_ctl(ADD) for an accepted connection: {e}"
                )));
            }
            self.incoming.insert(
                id,
                Incoming {
                    stream,
                    hello: [0; HELLO_LEN],
                    got: 0,
                },
            );
            self.incoming_event(id)?;
        }
    }

    /// Read the hello of an accepted connection and answer it.
    pub(super) fn incoming_event(&mut self, id: u64) -> Result<()> {
        let Some(inc) = self.incoming.get_mut(&id) else {
            return Ok(());
        };
        let fd = inc.stream.as_raw_fd();
        while inc.got < HELLO_LEN {
            match sock::recv(fd, &mut inc.hello[inc.got..], MsgFlags::MSG_DONTWAIT) {
                Ok(0) => {
                    // A dial that lost a tie-break, or a stray client: nothing to keep.
                    self.epoll.remove(fd);
                    self.incoming.remove(&id);
                    return Ok(());
                }
                Ok(n) => inc.got += n,
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => {
                    eprintln!(
                        "vmpi tcp (rank {}): dropping an accepted connection: recv: {e}",
                        self.my_rank
                    );
                    self.epoll.remove(fd);
                    self.incoming.remove(&id);
                    return Ok(());
                }
            }
        }
        let Some(inc) = self.incoming.remove(&id) else {
            return Ok(());
        };
        let verdict = self.judge(&inc.hello);
        let from = match verdict {
            Ok(from) => from,
            Err(reply) => {
                if let Some(b) = reply {
                    let _ = sock::send(fd, &[b], MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT);
                }
                self.epoll.remove(fd);
                return Ok(());
            }
        };
        // Accepted: an unfinished dial of ours to `from` yields (see `judge`).
        self.drop_dial(from);
        if let Err(e) = self
            .epoll
            .modify(fd, EV_IN | EV_OUT, TOK_CONN | from as u64)
        {
            self.epoll.remove(fd);
            let e = self.err(format_args!(
                "epoll_ctl(MOD) for the connection from rank {from}: {e}"
            ));
            return Err(self.fail(from, e));
        }
        let p = &mut self.peers[from];
        // Nothing was ever written to `from` (no connection existed), so the reply byte
        // goes in front of whatever packets wait for it.
        debug_assert_eq!(p.out.sent, 0);
        p.out.buf.insert(p.out.sent, REPLY_ACCEPT);
        p.conn = Some(Conn {
            stream: inc.stream,
            interest: EV_IN | EV_OUT,
        });
        self.flush(from)
    }

    /// Decide on a hello: `Ok(rank)` to accept, or the reply byte to send before closing
    /// (`None`: close without a word). Every refusal but the tie-break is logged.
    fn judge(&self, hello: &[u8; HELLO_LEN]) -> std::result::Result<usize, Option<u8>> {
        let me = self.my_rank;
        let refuse = |why: String, reply: Option<u8>| {
            eprintln!("vmpi tcp (rank {me}): refused a connection: {why}");
            Err(reply)
        };
        let Some((from, to, job)) = parse_hello(hello) else {
            return refuse("bad hello magic (not a vmpi peer?)".into(), None);
        };
        if job != self.job_check {
            return refuse(
                format!(
                    "rank {from} sent job check {job:#x}, this job's is {:#x}",
                    self.job_check
                ),
                Some(REPLY_JOB),
            );
        }
        if to != me || from >= self.size || from == me {
            return refuse(
                format!("hello from rank {from} for rank {to}"),
                Some(REPLY_TARGET),
            );
        }
        let p = &self.peers[from];
        if matches!(p.reach, Reach::NotTcp) {
            return refuse(
                format!("rank {from} is not reached over TCP from here"),
                Some(REPLY_PEER),
            );
        }
        // Also while we shut down: a peer may need this connection to flush to us, and
        // we may need it to flush to the peer.
        if !matches!(p.link, Link::Open) {
            return refuse(
                format!("the link to rank {from} is closed"),
                Some(REPLY_PEER),
            );
        }
        if p.conn.is_some() {
            return refuse(format!("rank {from} is already connected"), Some(REPLY_DUP));
        }
        if let Some(d) = &p.dial {
            // Both dialed. Our dial wins if we are the lower rank and it has begun its
            // handshake; a dial that has not sent a byte yet can always yield.
            if me < from && d.hello_started() {
                return Err(Some(REPLY_DUP));
            }
        }
        Ok(from)
    }
}

#[cfg(test)]
mod tests {
    use super::super::connect::hello_bytes;
    use super::super::tests::{deadline, mesh, JOB};
    use super::*;
    use crate::transport::PacketChannel;
    use std::io::{Read, Write};
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    #[test]
    fn bad_hello_is_dropped_without_harm() {
        let mut ts = mesh(2);
        let t = &mut ts[0];
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, t.port)).unwrap();
        s.write_all(&[0x55; HELLO_LEN]).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let end = deadline();
        let mut b = [0u8; 4];
        loop {
            t.progress().unwrap();
            match s.read(&mut b) {
                Ok(0) => break,
                Ok(n) => panic!("unexpected reply {:?}", &b[..n]),
                Err(_) => assert!(Instant::now() < end, "bad hello not closed"),
            }
        }
        assert!(t.incoming.is_empty());
        // A hello for another rank gets a refusal.
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, t.port)).unwrap();
        s.write_all(&hello_bytes(1, 5, JOB)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        loop {
            t.progress().unwrap();
            match s.read(&mut b) {
                Ok(n) => {
                    assert_eq!(&b[..n], &[REPLY_TARGET]);
                    break;
                }
                Err(_) => assert!(Instant::now() < end, "no refusal"),
            }
        }
    }
}
