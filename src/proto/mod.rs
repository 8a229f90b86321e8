//! Wire codecs shared by the demos, the reference servers and the checker.
//!
//! TCP delivers a *byte stream*, not messages: one `send()` of 100 bytes may
//! arrive as three `recv()`s of 40, 59 and 1 bytes, and two small sends may
//! arrive glued together in one `recv()`. A protocol therefore needs framing:
//! a rule, agreed by both ends, that says where one message stops and the
//! next starts. Every codec in this module works the same way: you push
//! whatever bytes `recv()` gave you, then ask for complete frames.
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

pub mod length_prefix;
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
}
