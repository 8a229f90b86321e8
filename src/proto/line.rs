//! Delimiter framing: one message per line, each ending in `\n`.
//!
//! ```text
//! 68 69 0a 68 65 6c 6c 6f 0d 0a
//! [ "hi"\n] [ "hello"  \r\n  ]
//! ```
//!
//! The framing of SMTP, HTTP/1 headers, Redis's inline commands and most
//! chat protocols, and of Python's `sock.makefile().readline()`. It is
//! human-readable and needs no header, at two costs: a message may not
//! contain the delimiter itself, and the reader cannot know how long a line
//! will be until it ends — so it must cap the length, or a peer that never
//! sends `\n` makes it buffer forever.
//!
//! `\r\n` (what telnet, Windows clients and many protocols send) is
//! tolerated: a `\r` right before the `\n` is removed too.

use super::FrameError;
use super::recv_buffer::RecvBuffer;

/// A default cap on one line, terminator excluded: far more than any
/// chat message or command line, far less than memory.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Appends the `\n` terminator.
///
/// Refuses a message containing `\n` (it would arrive as two lines) or
/// ending in `\r` (the receiver would strip it as part of `\r\n`).
pub fn encode(msg: &[u8]) -> Result<Vec<u8>, FrameError> {
    if msg.contains(&b'\n') {
        return Err(FrameError::Unframeable { reason: "the message contains a newline, the delimiter itself".into() });
    }
    if msg.last() == Some(&b'\r') {
        return Err(FrameError::Unframeable {
            reason: "the message ends with \\r, which the receiver would strip as part of \\r\\n".into(),
        });
    }
    let mut out = Vec::with_capacity(msg.len() + 1);
    out.extend_from_slice(msg);
    out.push(b'\n');
    Ok(out)
}

/// Incremental decoder: push bytes in any chunking, pull out lines.
#[derive(Debug)]
pub struct Decoder {
    buf: RecvBuffer,
    /// The first `scanned` unread bytes are known to hold no `\n`. Without
    /// it a line dribbled in one byte at a time would be rescanned from its
    /// beginning on every push: quadratic work for a long line.
    scanned: usize,
    max_line: usize,
}

impl Decoder {
    /// A decoder that rejects lines longer than `max_line` bytes (the
    /// terminator not counted); see [`DEFAULT_MAX_LINE`].
    pub fn new(max_line: usize) -> Self {
        Decoder { buf: RecvBuffer::default(), scanned: 0, max_line }
    }

    /// Appends bytes just received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.push(bytes);
    }

    /// The next line, without its `\n` or `\r\n`, once one is complete.
    ///
    /// `Ok(None)` means "incomplete, read more". A line over the limit is
    /// [`FrameError::TooLarge`] as soon as more than `max_line` bytes are
    /// buffered without a newline (plus one, for a `\r` that may still be
    /// followed by `\n`) — the reader does not wait for the end of a line
    /// it has already decided to refuse.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let unread = self.buf.unread();
        let Some(pos) = unread[self.scanned..].iter().position(|&b| b == b'\n') else {
            self.scanned = unread.len();
            let pending = unread.len();
            let cr_allowance = usize::from(unread.last() == Some(&b'\r'));
            if pending > self.max_line + cr_allowance {
                return Err(FrameError::TooLarge { len: pending, max: self.max_line });
            }
            return Ok(None);
        };
        let newline = self.scanned + pos;
        let mut line = &unread[..newline];
        if let Some(without_cr) = line.strip_suffix(b"\r") {
            line = without_cr;
        }
        if line.len() > self.max_line {
            return Err(FrameError::TooLarge { len: line.len(), max: self.max_line });
        }
        let line = line.to_vec();
        self.buf.consume(newline + 1);
        self.scanned = 0;
        Ok(Some(line))
    }

    /// Call when `recv()` returns 0. `Ok(())`: the peer closed after a
    /// complete line. Bytes without a final `\n` are an unfinished line —
    /// a client killed while typing, or one that forgot the newline.
    pub fn finish(&self) -> Result<(), FrameError> {
        self.buf.finish()
    }

    /// Bytes received but not yet returned as lines.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_LINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::decode_all;
    use crate::proto::testing::{every_split, in_chunks};

    fn messages() -> Vec<Vec<u8>> {
        vec![b"hello".to_vec(), Vec::new(), b"tab\there\0nul".to_vec(), "中文 ok".as_bytes().to_vec()]
    }

    fn stream() -> Vec<u8> {
        messages().iter().flat_map(|m| encode(m).unwrap()).collect()
    }

    #[test]
    fn encode_appends_newline_and_refuses_delimiters() {
        assert_eq!(encode(b"hi").unwrap(), b"hi\n");
        assert!(matches!(encode(b"two\nlines"), Err(FrameError::Unframeable { .. })));
        assert!(matches!(encode(b"cr\r"), Err(FrameError::Unframeable { .. })));
    }

    #[test]
    fn one_byte_at_a_time() {
        assert_eq!(in_chunks(Decoder::default(), &stream(), 1), messages());
    }

    #[test]
    fn every_two_chunk_split() {
        every_split(Decoder::default, &stream(), |frames, cut| assert_eq!(frames, messages(), "cut at {cut}"));
    }

    #[test]
    fn crlf_is_tolerated_in_every_split() {
        let s = b"hello\r\nworld\r\n\r\n";
        let want = vec![b"hello".to_vec(), b"world".to_vec(), Vec::new()];
        every_split(Decoder::default, s, |frames, cut| assert_eq!(frames, want, "cut at {cut}"));
        // A lone \r inside a line is data.
        assert_eq!(decode_all(Decoder::default(), [b"a\rb\n"]).unwrap(), vec![b"a\rb".to_vec()]);
    }

    #[test]
    fn a_line_over_the_limit_is_refused_before_its_end() {
        let mut dec = Decoder::new(4);
        dec.push(b"abcd");
        assert_eq!(dec.next_frame(), Ok(None));
        dec.push(b"\r");
        assert_eq!(dec.next_frame(), Ok(None), "the \\r may be the start of \\r\\n");
        dec.push(b"\n");
        assert_eq!(dec.next_frame(), Ok(Some(b"abcd".to_vec())));
        dec.push(b"abcde");
        assert_eq!(dec.next_frame(), Err(FrameError::TooLarge { len: 5, max: 4 }));
        // Also when the over-long line and its newline arrive together.
        let mut dec = Decoder::new(4);
        dec.push(b"abcde\n");
        assert_eq!(dec.next_frame(), Err(FrameError::TooLarge { len: 5, max: 4 }));
    }

    #[test]
    fn closed_mid_line() {
        let mut dec = Decoder::default();
        dec.push(b"ok\nunfinished");
        assert_eq!(dec.next_frame(), Ok(Some(b"ok".to_vec())));
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.finish(), Err(FrameError::ClosedMidFrame { buffered: 10 }));
    }
}
