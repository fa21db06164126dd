//! Forwarding of a rank's stdout or stderr: cuts the byte stream into lines so lines
//! of different ranks never interleave, optionally prefixes each line with `[rank] `,
//! and flushes a partial last line at the end.

use std::io::{self, Write};

/// A line longer than this is written out in pieces (without extra newlines).
const MAX_HELD: usize = 64 * 1024;

/// Line splitter and writer for one output stream of one rank.
#[derive(Debug)]
pub struct LineForwarder {
    buf: Vec<u8>,
    prefix: Option<String>,
    /// The last thing written ended in the middle of a line (no prefix due).
    mid_line: bool,
}

impl LineForwarder {
    pub fn new(prefix: Option<String>) -> Self {
        LineForwarder {
            buf: Vec::new(),
            prefix,
            mid_line: false,
        }
    }

    fn write_piece(&mut self, piece: &[u8], out: &mut dyn Write) -> io::Result<()> {
        if !self.mid_line {
            if let Some(p) = &self.prefix {
                out.write_all(p.as_bytes())?;
            }
        }
        out.write_all(piece)?;
        self.mid_line = piece.last() != Some(&b'\n');
        Ok(())
    }

    /// Takes bytes read from the rank and writes every complete line to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut dyn Write) -> io::Result<()> {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        let mut result = Ok(());
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            let piece = self.buf[start..end].to_vec();
            result = result.and(self.write_piece(&piece, out));
            start = end;
        }
        self.buf.drain(..start);
        if self.buf.len() >= MAX_HELD {
            let piece = std::mem::take(&mut self.buf);
            result = result.and(self.write_piece(&piece, out));
        }
        result.and(out.flush())
    }

    /// Writes whatever partial line is left (at end of stream).
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = std::mem::take(&mut self.buf);
        self.write_piece(&piece, out)?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_prefixed_and_partial_flushed() {
        let mut f = LineForwarder::new(Some("[3] ".into()));
        let mut out = Vec::new();
        f.feed(b"hel", &mut out).unwrap();
        assert!(out.is_empty());
        f.feed(b"lo\nwor", &mut out).unwrap();
        f.feed(b"ld\nlast", &mut out).unwrap();
        f.finish(&mut out).unwrap();
        assert_eq!(out, b"[3] hello\n[3] world\n[3] last");
    }

    #[test]
    fn no_prefix_and_long_lines() {
        let mut f = LineForwarder::new(None);
        let mut out = Vec::new();
        let long = vec![b'x'; MAX_HELD + 5];
        f.feed(&long, &mut out).unwrap();
        assert_eq!(out.len(), MAX_HELD + 5);
        f.feed(b"y\n", &mut out).unwrap();
        assert_eq!(out.len(), MAX_HELD + 7);
        let mut p = LineForwarder::new(Some("[0] ".into()));
        let mut out = Vec::new();
        p.feed(&long, &mut out).unwrap();
        p.feed(b"y\nz\n", &mut out).unwrap();
        assert!(out.starts_with(b"[0] xx"));
        assert!(out.ends_with(b"xy\n[0] z\n"));
    }
}
