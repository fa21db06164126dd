//! The p2p packet header: what every packet between two ranks says about itself.
//! 40 bytes, little endian: kind, flags, context id, sender's rank in the
//! communicator, tag, a length or offset, a request id, and an address.

use crate::error::{Error, PeerFault, Result};

pub const HDR_LEN: usize = 40;

/// Packet kinds of the eager and rendezvous protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A whole message; `len` = its size; payload = the bytes.
    Eager = 1,
    /// Request to send a large message: `len` = size, `id` = sender request,
    /// `addr` = the sender's buffer (for a CMA pull).
    Rts = 2,
    /// Clear to send (no CMA): `id` = sender request, `addr` = receiver request.
    Cts = 3,
    /// A chunk of a rendezvous message: `id` = receiver request, `len` = offset.
    Data = 4,
    /// The receiver pulled the message with CMA: `id` = sender request.
    Fin = 5,
    /// A synchronous-mode eager message was matched: `id` = sender request.
    SyncAck = 6,
    /// Split CMA rendezvous: the receiver pulls bytes `0..len` itself and asks the
    /// sender to write the rest into the receiver's buffer at `addr`:
    /// `id` = sender request, `aux` = receiver request.
    CoopCts = 7,
    /// The sender wrote its part (`len` bytes): `id` = receiver request.
    CoopDone = 8,
    /// Flow control: the receiver returns `len` bytes of eager credit.
    Credit = 9,
}

/// Flag: the sender waits for [`Kind::SyncAck`] (synchronous mode).
pub const FLAG_SYNC: u8 = 1;
/// Flag on [`Kind::Rts`]: the sender has other work meanwhile (a collective round
/// that also copies or sends elsewhere); the receiver pulls the whole message
/// rather than split it and wait for the sender's half.
pub const FLAG_SENDER_BUSY: u8 = 2;
/// Flag on [`Kind::Eager`] and [`Kind::Rts`]: the sender's collective had hit a
/// mismatch before this message (its data cannot be trusted); the receiver's
/// status says so ([`crate::p2p::Status::sender_failed`]).
pub const FLAG_FAILED: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub flags: u8,
    pub ctx: u32,
    pub src: i32,
    pub tag: i32,
    pub len: u64,
    pub id: u64,
    pub addr: u64,
}

impl Header {
    pub fn control(kind: Kind, id: u64, addr: u64) -> Header {
        Header {
            kind,
            flags: 0,
            ctx: 0,
            src: 0,
            tag: 0,
            len: 0,
            id,
            addr,
        }
    }

    /// A control packet carrying a second id in the message fields (`ctx`, `src`),
    /// which control packets do not use otherwise.
    pub fn control_aux(kind: Kind, id: u64, addr: u64, len: u64, aux: u64) -> Header {
        Header {
            kind,
            flags: 0,
            ctx: aux as u32,
            src: (aux >> 32) as u32 as i32,
            tag: 0,
            len,
            id,
            addr,
        }
    }

    /// The second id of a [`Header::control_aux`] packet.
    pub fn aux(&self) -> u64 {
        self.ctx as u64 | ((self.src as u32 as u64) << 32)
    }

    pub fn encode(&self) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        b[0] = self.kind as u8;
        b[1] = self.flags;
        b[4..8].copy_from_slice(&self.ctx.to_le_bytes());
        b[8..12].copy_from_slice(&self.src.to_le_bytes());
        b[12..16].copy_from_slice(&self.tag.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..32].copy_from_slice(&self.id.to_le_bytes());
        b[32..40].copy_from_slice(&self.addr.to_le_bytes());
        b
    }

    /// Decode a header received from world rank `peer` (untrusted bytes).
    pub fn decode(b: &[u8], peer: usize) -> Result<Header> {
        if b.len() != HDR_LEN {
            return Err(Error::peer(
                peer,
                PeerFault::Corrupt,
                format!(
                    "packet from rank {peer} has a {}-byte header, expected {HDR_LEN}",
                    b.len()
                ),
            ));
        }
        let kind = match b[0] {
            1 => Kind::Eager,
            2 => Kind::Rts,
            3 => Kind::Cts,
            4 => Kind::Data,
            5 => Kind::Fin,
            6 => Kind::SyncAck,
            7 => Kind::CoopCts,
            8 => Kind::CoopDone,
            9 => Kind::Credit,
            k => {
                return Err(Error::peer(
                    peer,
                    PeerFault::Corrupt,
                    format!("packet from rank {peer} has unknown kind {k}"),
                ))
            }
        };
        let u32at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Ok(Header {
            kind,
            flags: b[1],
            ctx: u32at(4),
            src: u32at(8) as i32,
            tag: u32at(12) as i32,
            len: u64at(16),
            id: u64at(24),
            addr: u64at(32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let h = Header {
            kind: Kind::Rts,
            flags: FLAG_SYNC,
            ctx: 7,
            src: 3,
            tag: -5,
            len: 1 << 40,
            id: 99,
            addr: 0xdead_beef,
        };
        assert_eq!(Header::decode(&h.encode(), 0).unwrap(), h);
        let mut b = h.encode();
        b[0] = 77;
        let corrupt = Some((4, PeerFault::Corrupt));
        assert_eq!(Header::decode(&b, 4).unwrap_err().peer_fault(), corrupt);
        assert_eq!(
            Header::decode(&b[..10], 4).unwrap_err().peer_fault(),
            corrupt
        );
        let c = Header::control_aux(Kind::CoopCts, 1, 2, 3, 0xfedc_ba98_7654_3210);
        assert_eq!(
            Header::decode(&c.encode(), 0).unwrap().aux(),
            0xfedc_ba98_7654_3210
        );
    }
}
