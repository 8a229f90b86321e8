//! Wire codecs shared by the demos, the reference servers and the checker.
//!
//! TCP delivers a *byte stream*, not messages: one `send()` of 100 bytes may
//! arrive as three `recv()`s of 40, 59 and 1 bytes, and two small sends may
//! arrive glued together in one `recv()`. A protocol therefore needs framing:
//! a rule, agreed by both ends, that says where one message stops and the
//! next starts. Every codec in this module works the same way: you push
//! whatever bytes `recv()` gave you, then ask for complete frames.
//!
//! * [`fixed`]: records of exactly N bytes, NUL-padded.
//! * [`line`](mod@line): one message per `\n`-terminated line (`\r\n` tolerated).
//! * [`length_prefix`]: a 4-byte big-endian length, then the body.
//! * [`json_header`]: a 4-byte length, a JSON header (报头) holding
//!   `data_size`, then the body.
//!
//! Each has an `encode` function and a `Decoder` with `push`, `next_frame`,
//! `finish` and `buffered`; the [`Decode`] trait names that shape, so
//! [`decode_all`] and `recv --frame` drive any of them.
//!
//! Two very different "no frame" outcomes must be kept apart:
//!
//! * **Incomplete** (`Ok(None)`): the bytes so far are a valid *prefix* of a
//!   frame. This is the normal state of a stream socket, not an error; the
//!   caller should read more and try again.
//! * **Invalid** (`Err(FrameError)`): the peer broke the protocol, or hung
//!   up in the middle of a frame. Resynchronising a byte stream after that is
//!   guesswork, so the right response is to close *this connection only*; a
//!   server keeps serving its other clients.

pub mod challenge;
pub mod fixed;
pub mod json_header;
pub mod length_prefix;
pub mod line;
pub mod recv_buffer;
pub mod time;

/// Why a byte stream could not be turned into frames.
///
/// Every variant means "give up on this connection": the stream position is
/// no longer trustworthy. None of them is a reason to stop a whole server.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The peer announced (or the caller tried to send) a frame larger than
    /// the agreed limit. Limits exist because a length header is attacker
    /// controlled: without one, four bytes `ff ff ff ff` would make a server
    /// try to buffer 4 GiB for a single client.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },

    /// `recv()` returned 0 (the peer's FIN) while part of a frame was still
    /// buffered. A clean close happens *between* frames; this one did not,
    /// so the partial message can never be completed.
    #[error("connection closed mid-frame: {buffered} bytes of an unfinished frame were lost")]
    ClosedMidFrame { buffered: usize },

    /// The bytes are complete but break the protocol's rules: a JSON header
    /// that is not JSON, or lacks its `data_size`. Unlike *incomplete*, no
    /// amount of further reading can fix it.
    #[error("invalid frame: {reason}")]
    Invalid { reason: String },

    /// The sender asked to frame a message the framing cannot carry, such
    /// as a line that itself contains a newline. Caught before any byte is
    /// sent, so the peer never sees a half-framed message.
    #[error("cannot frame this message: {reason}")]
    Unframeable { reason: String },
}

/// What every decoder in this module does, so one loop — a demo, a reader
/// of one frame, a checker — can drive any framing.
pub trait Decode {
    /// A body (`Vec<u8>`), or a header and body for the JSON framing.
    type Frame;
    /// Appends bytes just received from the peer.
    fn push(&mut self, bytes: &[u8]);
    /// The next complete frame; `Ok(None)` means incomplete, read more.
    fn next_frame(&mut self) -> Result<Option<Self::Frame>, FrameError>;
    /// At end of stream: `Ok(())` if it ended between frames.
    fn finish(&self) -> Result<(), FrameError>;
    /// Bytes received but not yet returned as frames.
    fn buffered(&self) -> usize;
}

/// Feeds `pieces` to `decoder` in order, as successive `recv()` results,
/// and returns every frame, checking that the stream ended between frames.
pub fn decode_all<D: Decode>(
    mut decoder: D,
    pieces: impl IntoIterator<Item = impl AsRef<[u8]>>,
) -> Result<Vec<D::Frame>, FrameError> {
    let mut frames = Vec::new();
    for piece in pieces {
        decoder.push(piece.as_ref());
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame);
        }
    }
    decoder.finish()?;
    Ok(frames)
}

/// Implements [`Decode`] by forwarding to a decoder's inherent methods,
/// which stay callable without importing the trait.
macro_rules! impl_decode {
    ($decoder:ty, $frame:ty) => {
        impl $crate::proto::Decode for $decoder {
            type Frame = $frame;
            fn push(&mut self, bytes: &[u8]) {
                <$decoder>::push(self, bytes)
            }
            fn next_frame(&mut self) -> Result<Option<$frame>, $crate::proto::FrameError> {
                <$decoder>::next_frame(self)
            }
            fn finish(&self) -> Result<(), $crate::proto::FrameError> {
                <$decoder>::finish(self)
            }
            fn buffered(&self) -> usize {
                <$decoder>::buffered(self)
            }
        }
    };
}

impl_decode!(fixed::Decoder, Vec<u8>);
impl_decode!(line::Decoder, Vec<u8>);
impl_decode!(length_prefix::Decoder, Vec<u8>);
impl_decode!(json_header::Decoder, json_header::Frame);

/// For the codecs' unit tests: feed a whole stream to a decoder in pieces.
/// Bytes as lowercase hex digits, two per byte (Python's `.hex()`,
/// `hexdigest()`): how digests and challenges are shown and sent.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod testing {
    use super::{Decode, decode_all};

    /// Every frame in `stream` fed to `decoder` `chunk` bytes at a time
    /// (1: one byte at a time); panics unless it decodes and ends between
    /// frames.
    pub(crate) fn in_chunks<D: Decode>(decoder: D, stream: &[u8], chunk: usize) -> Vec<D::Frame> {
        decode_all(decoder, stream.chunks(chunk)).unwrap_or_else(|e| panic!("in {chunk}-byte chunks: {e}"))
    }

    /// Cuts `stream` in two at every position, from 0 to its length, and
    /// feeds both halves to a fresh decoder from `new`; `check` gets each
    /// cut's frames and the cut. Panics unless every cut decodes and ends
    /// between frames.
    pub(crate) fn every_split<D: Decode>(
        new: impl Fn() -> D,
        stream: &[u8],
        mut check: impl FnMut(Vec<D::Frame>, usize),
    ) {
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let frames = decode_all(new(), [a, b]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            check(frames, cut);
        }
    }
}
