//! Fixed-size framing: every message is exactly `record_len` bytes on the
//! wire, so the reader needs no header at all — it counts.
//!
//! ```text
//! record_len = 8
//! 68 69 00 00 00 00 00 00 68 65 6c 6c 6f 00 00 00
//! [ "hi" + 6 NULs        ] [ "hello" + 3 NULs     ]
//! ```
//!
//! **Padding rule.** A shorter message is padded at the end with NUL bytes
//! (`0x00`) up to `record_len`, and the decoder strips trailing NULs. So a
//! message may contain NULs, but must not *end* with one (it would be taken
//! for padding); [`encode`] refuses such a message rather than let it be
//! silently shortened. A message longer than `record_len` cannot be sent.
//!
//! This is the framing of C programs that `send(fd, &record, sizeof record, 0)`
//! a struct, and of Python's `struct.pack("8s", ...)`. It is the simplest
//! rule and wastes bandwidth on padding; it suits small records of a known
//! maximum size.

use std::num::NonZeroUsize;

use super::FrameError;
use super::recv_buffer::RecvBuffer;

const PAD: u8 = 0;

/// Pads `msg` with NULs to exactly `record_len` bytes.
pub fn encode(msg: &[u8], record_len: NonZeroUsize) -> Result<Vec<u8>, FrameError> {
    let record_len = record_len.get();
    if msg.len() > record_len {
        return Err(FrameError::TooLarge { len: msg.len(), max: record_len });
    }
    if msg.last() == Some(&PAD) {
        return Err(FrameError::Unframeable {
            reason: "the message ends with a NUL byte, which the receiver would strip as padding".into(),
        });
    }
    let mut out = msg.to_vec();
    out.resize(record_len, PAD);
    Ok(out)
}

/// Incremental decoder: push bytes in any chunking, pull out messages.
///
/// A fixed-size stream has no invalid content — any `record_len` bytes are
/// a record — so [`next_frame`](Self::next_frame) never fails; only a peer
/// that hangs up inside a record is an error, reported by
/// [`finish`](Self::finish).
#[derive(Debug)]
pub struct Decoder {
    buf: RecvBuffer,
    record_len: usize,
}

impl Decoder {
    pub fn new(record_len: NonZeroUsize) -> Self {
        Decoder { buf: RecvBuffer::default(), record_len: record_len.get() }
    }

    /// The size of every record on the wire.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Appends bytes just received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        // Reclaim the consumed prefix only once it outweighs what is left,
        // so each byte is moved O(1) times on average.
        self.buf.push(bytes);
    }

    /// The next message, padding removed, once a whole record is buffered.
    ///
    /// `Ok(None)` means "incomplete, read more". Call it in a loop after
    /// every push: one `recv()` may carry several records.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(record) = self.buf.unread().get(..self.record_len) else {
            return Ok(None);
        };
        let used = record.iter().rposition(|&b| b != PAD).map_or(0, |i| i + 1);
        let msg = record[..used].to_vec();
        self.buf.consume(self.record_len);
        Ok(Some(msg))
    }

    /// Call when `recv()` returns 0. `Ok(())`: the peer closed between
    /// records; otherwise it died inside one.
    pub fn finish(&self) -> Result<(), FrameError> {
        self.buf.finish()
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testing::{every_split, in_chunks};

    const LEN: NonZeroUsize = NonZeroUsize::new(8).unwrap();

    fn messages() -> Vec<Vec<u8>> {
        vec![b"hi".to_vec(), Vec::new(), b"a\0b".to_vec(), b"exactly8".to_vec(), b"\n\r".to_vec()]
    }

    fn stream() -> Vec<u8> {
        messages().iter().flat_map(|m| encode(m, LEN).unwrap()).collect()
    }

    #[test]
    fn encode_pads_with_nuls() {
        assert_eq!(encode(b"hi", LEN).unwrap(), b"hi\0\0\0\0\0\0");
        assert_eq!(encode(b"", LEN).unwrap(), [0; 8]);
        assert_eq!(encode(b"exactly8", LEN).unwrap(), b"exactly8");
    }

    #[test]
    fn encode_refuses_what_would_not_round_trip() {
        assert_eq!(encode(b"123456789", LEN), Err(FrameError::TooLarge { len: 9, max: 8 }));
        assert!(matches!(encode(b"ends\0", LEN), Err(FrameError::Unframeable { .. })));
    }

    #[test]
    fn one_byte_at_a_time() {
        assert_eq!(in_chunks(Decoder::new(LEN), &stream(), 1), messages());
    }

    #[test]
    fn every_two_chunk_split() {
        every_split(|| Decoder::new(LEN), &stream(), |frames, cut| assert_eq!(frames, messages(), "cut at {cut}"));
    }

    #[test]
    fn closed_inside_a_record() {
        let mut dec = Decoder::new(LEN);
        dec.push(b"hi\0");
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.finish(), Err(FrameError::ClosedMidFrame { buffered: 3 }));
    }
}
