//! Framing: the packet frame on the byte stream (an 8-byte prefix with the header and
//! payload lengths, then the header, then the payload), its size limits, and the
//! per-peer buffers that hold partly written and partly read frames, with the bounds that
//! make back-pressure.

/// Largest payload of one packet.
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Largest header of one packet.
pub const MAX_HEADER: usize = 256;
/// Length of the frame prefix (header length, payload length).
pub(super) const PREFIX_LEN: usize = 8;
/// Largest frame on the wire.
pub(super) const MAX_FRAME: usize = PREFIX_LEN + MAX_HEADER + MAX_PAYLOAD;
// Frame lengths fit the u32 fields of the prefix.
const _: () = assert!(MAX_FRAME < u32::MAX as usize);
/// Bytes read beyond the first complete packet of a connection before reading stops.
pub(super) const READ_AHEAD: usize = 64 * 1024;
/// Do not read while the first packet is complete and less than this much room is left
/// (keeps buffer compaction amortized).
const MIN_READ: usize = READ_AHEAD / 4;

/// Framed bytes not yet written to the peer's socket.
#[derive(Default)]
pub(super) struct OutBuf {
    pub(super) buf: Vec<u8>,
    pub(super) sent: usize,
}

impl OutBuf {
    pub(super) fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Append the concatenation of `parts`, minus its first `skip` bytes.
    pub(super) fn push(&mut self, parts: &[&[u8]], mut skip: usize) {
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            self.buf.extend_from_slice(&part[skip..]);
            skip = 0;
        }
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent >= MIN_READ && self.sent >= self.pending() {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    pub(super) fn clear(&mut self) {
        self.buf = Vec::new();
        self.sent = 0;
    }
}

/// A framing problem, described with the peer's rank (wrapped into an [`Error`] by the
/// caller, who knows this rank).
type FrameResult<T> = std::result::Result<T, String>;

/// Bytes read from a connection: packets from `start`, free space after `end`.
#[derive(Default)]
pub(super) struct RecvBuf {
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl RecvBuf {
    fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Header and payload length of the frame at `at`, if its prefix is buffered.
    fn frame_at(&self, at: usize, peer: usize) -> FrameResult<Option<(usize, usize)>> {
        if self.end - at < PREFIX_LEN {
            return Ok(None);
        }
        let p = &self.buf[at..at + PREFIX_LEN];
        let hlen = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
        let plen = u32::from_le_bytes([p[4], p[5], p[6], p[7]]) as usize;
        if hlen > MAX_HEADER {
            return Err(format!(
                "bad frame from rank {peer}: header length {hlen} exceeds {MAX_HEADER} bytes"
            ));
        }
        if plen > MAX_PAYLOAD {
            return Err(format!(
                "bad frame from rank {peer}: payload length {plen} exceeds max_payload {MAX_PAYLOAD}"
            ));
        }
        Ok(Some((hlen, plen)))
    }

    /// The first packet, if it is completely buffered.
    pub(super) fn complete(&self, peer: usize) -> FrameResult<Option<(usize, usize)>> {
        match self.frame_at(self.start, peer)? {
            Some((h, n)) if self.buffered() >= PREFIX_LEN + h + n => Ok(Some((h, n))),
            _ => Ok(None),
        }
    }

    /// How many bytes we are willing to hold: the first packet plus the read-ahead.
    pub(super) fn want(&self, peer: usize) -> FrameResult<usize> {
        Ok(match self.frame_at(self.start, peer)? {
            Some((h, n)) => PREFIX_LEN + h + n + READ_AHEAD,
            None => PREFIX_LEN + READ_AHEAD,
        })
    }

    /// Room for the next read (0 = stop reading this socket for now).
    pub(super) fn room_estimate(&self, peer: usize) -> FrameResult<usize> {
        let want = self.want(peer)?;
        let room = want.saturating_sub(self.buffered());
        if room < MIN_READ && self.complete(peer)?.is_some() {
            return Ok(0);
        }
        Ok(room)
    }

    /// Make `room_estimate` bytes writable after `end` and return that slice.
    pub(super) fn spare(&mut self, peer: usize) -> FrameResult<&mut [u8]> {
        let room = self.room_estimate(peer)?;
        if room == 0 {
            return Ok(&mut []);
        }
        let want = self.buffered() + room;
        if self.start + want > self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if want > self.buf.len() {
                self.buf.resize(want, 0);
            }
        }
        let end = self.end;
        Ok(&mut self.buf[end..end + room])
    }

    /// Whether bytes are buffered that do not form complete packets.
    pub(super) fn partial_tail(&self, peer: usize) -> FrameResult<bool> {
        let mut at = self.start;
        while at < self.end {
            match self.frame_at(at, peer)? {
                Some((h, n)) if self.end - at >= PREFIX_LEN + h + n => at += PREFIX_LEN + h + n,
                _ => return Ok(true),
            }
        }
        Ok(false)
    }

    pub(super) fn pop(&mut self, len: usize) {
        self.start += len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

pub(super) fn frame_prefix(hlen: usize, plen: usize) -> [u8; PREFIX_LEN] {
    let mut p = [0u8; PREFIX_LEN];
    p[0..4].copy_from_slice(&(hlen as u32).to_le_bytes());
    p[4..8].copy_from_slice(&(plen as u32).to_le_bytes());
    p
}
