//! Length-prefix framing: every message is sent as a 4-byte big-endian
//! length followed by exactly that many bytes of body.
//!
//! ```text
//! 00 00 00 05 68 65 6c 6c 6f 00 00 00 00 00 00 00 03 68 65 79
//! [ len = 5 ] [  "hello"   ] [ len = 0 ] [ len = 3 ] [ "hey"]
//! ```
//!
//! Big-endian is "network byte order", the convention of almost every
//! Internet protocol header; in Python this header is `struct.pack("!I", n)`
//! and in C it is `htonl(n)`. Both ends must agree on the byte order: a
//! little-endian reader would see a 5-byte message as 83,886,080 bytes long.
//!
//! Compared with delimiter framing (one message per line), a length prefix
//! lets bodies contain *any* bytes, including newlines and NULs, and lets the
//! receiver know up front how much memory a message needs, so it can refuse
//! an oversized one before buffering it.

use super::FrameError;
use super::recv_buffer::RecvBuffer;

const HEADER_LEN: usize = 4;

/// A generous default limit: large enough for any demo payload, small enough
/// that a hostile or buggy peer cannot make us allocate gigabytes.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Frames `msg` for sending: a 4-byte big-endian length, then the body.
///
/// Only a body longer than `u32::MAX` bytes is rejected, because its length
/// cannot be written in the header. The receiver's own limit (see
/// [`Decoder::new`]) is usually far smaller; it is the receiver's to enforce.
pub fn encode(msg: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u32::try_from(msg.len()).map_err(|_| FrameError::TooLarge { len: msg.len(), max: u32::MAX as usize })?;
    // One buffer, so the caller can hand header and body to a single
    // `send_all`; two separate small writes are the classic trigger for the
    // Nagle / delayed-ACK stall.
    let mut out = Vec::with_capacity(HEADER_LEN + msg.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    Ok(out)
}

/// Incremental decoder: feed it whatever `recv()` returned, in any chunking,
/// and pull out complete frames.
///
/// The decoder never touches a socket, so the same code serves blocking,
/// non-blocking and async readers, and it can be tested by feeding it bytes
/// one at a time, which is exactly the worst case the network may produce.
#[derive(Debug)]
pub struct Decoder {
    buf: RecvBuffer,
    max_frame: usize,
}

impl Decoder {
    /// Creates a decoder that rejects frames whose declared length exceeds
    /// `max_frame` bytes (use [`DEFAULT_MAX_FRAME`] if unsure).
    pub fn new(max_frame: usize) -> Self {
        Decoder { buf: RecvBuffer::default(), max_frame }
    }

    /// Appends bytes just received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.push(bytes);
    }

    /// Returns the next complete frame's body, if one is fully buffered.
    ///
    /// `Ok(None)` means "incomplete, read more"; it is not an error. Call this
    /// in a loop after every [`push`](Self::push), because one `recv()` can
    /// carry several frames.
    ///
    /// The size limit is checked as soon as the 4 header bytes have arrived,
    /// before any of the body is buffered. After an error the decoder keeps
    /// reporting it: the stream cannot be resynchronised, so close the
    /// connection.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        Ok(self.next_frame_ref()?.map(<[u8]>::to_vec))
    }

    /// One `read()` from `r` straight into the decoder's buffer (no copy
    /// through the caller's): `Ok(0)` is end of stream.
    pub fn read_from(&mut self, r: &mut impl std::io::Read, max: usize) -> std::io::Result<usize> {
        self.buf.read_from(r, max)
    }

    /// Like [`Decoder::next_frame`], but the body is lent where it lies
    /// in the buffer instead of copied out: valid until the next read.
    pub fn next_frame_ref(&mut self) -> Result<Option<&[u8]>, FrameError> {
        let pending = self.buf.unread();
        let Some((header, rest)) = pending.split_first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        // Saturate rather than truncate on targets where usize is narrower
        // than 32 bits, so an unrepresentable length still counts as too large.
        let len = usize::try_from(u32::from_be_bytes(*header)).unwrap_or(usize::MAX);
        if len > self.max_frame {
            return Err(FrameError::TooLarge { len, max: self.max_frame });
        }
        let Some(body) = rest.get(..len) else {
            // The final size is known, so grow once rather than repeatedly.
            self.buf.reserve_for(HEADER_LEN + len);
            return Ok(None);
        };
        let _ = body;
        let at = self.buf.position() + HEADER_LEN;
        self.buf.consume(HEADER_LEN + len);
        Ok(Some(self.buf.consumed(at, len)))
    }

    /// Call when `recv()` returns 0 (end of stream).
    ///
    /// `Ok(())` means the peer closed cleanly between frames. Drain
    /// [`next_frame`](Self::next_frame) first: anything still buffered,
    /// even a complete frame, is reported as [`FrameError::ClosedMidFrame`].
    pub fn finish(&self) -> Result<(), FrameError> {
        self.buf.finish()
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_FRAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testing::{every_split, in_chunks};

    fn sample_messages() -> Vec<Vec<u8>> {
        vec![
            b"hello".to_vec(),
            Vec::new(),
            b"line one\nline two\0binary".to_vec(),
            (0..=255u8).collect(),
            vec![b'x'; 5000],
        ]
    }

    fn sample_stream() -> Vec<u8> {
        sample_messages().iter().flat_map(|m| encode(m).unwrap()).collect()
    }

    #[test]
    fn encode_writes_big_endian_header() {
        assert_eq!(encode(b"hello").unwrap(), b"\x00\x00\x00\x05hello");
        assert_eq!(encode(b"").unwrap(), b"\x00\x00\x00\x00");
        assert_eq!(encode(&[0u8; 258]).unwrap()[..4], [0, 0, 1, 2]);
    }

    #[test]
    fn round_trip_including_empty_message() {
        let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
        dec.push(&sample_stream());
        for expected in sample_messages() {
            assert_eq!(dec.next_frame().unwrap(), Some(expected));
        }
        assert_eq!(dec.next_frame().unwrap(), None);
        assert_eq!(dec.buffered(), 0);
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn chunking_does_not_change_the_frames() {
        let stream = sample_stream();
        let expected = sample_messages();
        for chunk in [1, 3, 7, 4096, stream.len()] {
            assert_eq!(in_chunks(Decoder::default(), &stream, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn every_two_chunk_split() {
        let messages = [b"hello".to_vec(), Vec::new(), b"bye\n".to_vec()];
        let stream: Vec<u8> = messages.iter().flat_map(|m| encode(m).unwrap()).collect();
        every_split(Decoder::default, &stream, |frames, cut| assert_eq!(frames, messages, "cut at {cut}"));
    }

    #[test]
    fn too_large_is_detected_from_the_header_alone() {
        let mut dec = Decoder::new(10);
        dec.push(&[0, 0, 0]);
        assert_eq!(dec.next_frame(), Ok(None));
        dec.push(&[11]);
        let err = FrameError::TooLarge { len: 11, max: 10 };
        assert_eq!(dec.next_frame(), Err(err));
        // A frame exactly at the limit is fine.
        let mut dec = Decoder::new(10);
        dec.push(&encode(&[7; 10]).unwrap());
        assert_eq!(dec.next_frame(), Ok(Some(vec![7; 10])));
    }

    #[test]
    fn closed_mid_frame() {
        let frame = encode(b"hello").unwrap();
        // Cut mid-body, then mid-header: both lose data.
        for cut in [6, 2] {
            let mut dec = Decoder::default();
            dec.push(&frame[..cut]);
            assert_eq!(dec.next_frame(), Ok(None));
            assert_eq!(dec.buffered(), cut);
            let err = FrameError::ClosedMidFrame { buffered: cut };
            assert_eq!(dec.finish(), Err(err));
        }
    }

    #[test]
    fn one_mebibyte_message_byte_by_byte() {
        let msg: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut stream = encode(&msg).unwrap();
        stream.extend(encode(b"after").unwrap());
        let frames = in_chunks(Decoder::default(), &stream, 1);
        // Not assert_eq!: a failure would print two million numbers.
        assert!(frames == [msg, b"after".to_vec()], "1 MiB stream corrupted");
    }
}
