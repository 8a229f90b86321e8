//! `recv SOCK --frame KIND`: read exactly one message, using a framing
//! codec from `proto`, and leave every byte after it queued.
//!
//! How, with only the calls a C or Python program has: peek (MSG_PEEK) at
//! what is queued, let the codec find where the first frame ends, then
//! `recv()` exactly that many bytes. If the frame is not complete yet,
//! wait for more bytes and look again — the mini-redis `read_frame` loop,
//! with the kernel's queue as the buffer.
//!
//! A frame bigger than the socket's receive buffer never fits in the
//! kernel's queue: the sender stalls on a full window and the peek would
//! wait forever. So once an incomplete frame has this many bytes queued,
//! they are read out — safe, because while the codec says "incomplete"
//! every queued byte belongs to the first frame — and the peeks go on
//! from there.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self as nixsock, MsgFlags};

use super::cancel;
use super::{Kind, Lab, Outcome, UnixKind};
use crate::event::{CallResult, Direction, Event};
use crate::proto::{Decode, FrameError, fixed, json_header, length_prefix, line};
use crate::wire::queues;

/// Read an incomplete frame's queued bytes out once there are this many.
const TAKE_PARTIAL_AT: usize = 32 * 1024;

/// Which framing `recv --frame` decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Records of exactly N bytes, NUL-padded.
    Fixed(NonZeroUsize),
    /// One message per line (`\n`, `\r\n` tolerated).
    Line,
    /// A 4-byte big-endian length, then the body.
    U32,
    /// 4-byte length, JSON header with `data_size`, body.
    Json(json_header::LengthOrder),
}

impl Framing {
    /// For help and completion (`fixed:N` takes a size).
    pub const NAMES: [&'static str; 5] = ["line", "u32", "json", "json-le", "fixed:"];

    pub fn parse(word: &str) -> Result<Framing, String> {
        let usage = || format!("--frame {word}? use line, u32, json, json-le or fixed:N (e.g. fixed:16)");
        match word {
            "line" => Ok(Framing::Line),
            "u32" | "u32be" => Ok(Framing::U32),
            "json" => Ok(Framing::Json(json_header::LengthOrder::BigEndian)),
            "json-le" => Ok(Framing::Json(json_header::LengthOrder::LittleEndian)),
            _ => {
                let n = word.strip_prefix("fixed:").ok_or_else(usage)?;
                let n: usize = n.parse().map_err(|_| usage())?;
                if n > super::payload::MAX_PAYLOAD {
                    return Err(format!("fixed:{n} is over {} MiB", super::payload::MAX_PAYLOAD >> 20));
                }
                NonZeroUsize::new(n).map(Framing::Fixed).ok_or_else(|| "fixed:0? a record needs at least 1 byte".into())
            }
        }
    }

    pub fn name(self) -> String {
        match self {
            Framing::Fixed(n) => format!("fixed:{n}"),
            Framing::Line => "line".into(),
            Framing::U32 => "u32".into(),
            Framing::Json(json_header::LengthOrder::BigEndian) => "json".into(),
            Framing::Json(json_header::LengthOrder::LittleEndian) => "json-le".into(),
        }
    }

    /// Decode the first frame of `queued`: the message, its header (JSON
    /// framing only) and how many bytes of `queued` the frame took.
    fn first_frame(self, queued: &[u8]) -> Result<Option<Found>, FrameError> {
        match self {
            Framing::Fixed(n) => first(fixed::Decoder::new(n), queued, |m| (m, None)),
            Framing::Line => first(line::Decoder::default(), queued, |m| (m, None)),
            Framing::U32 => first(length_prefix::Decoder::default(), queued, |m| (m, None)),
            Framing::Json(order) => first(json_header::Decoder::new(order), queued, |f| {
                (f.body, Some(serde_json::Value::Object(f.header).to_string()))
            }),
        }
    }
}

struct Found {
    message: Vec<u8>,
    header: Option<String>,
    used: usize,
}

fn first<D: Decode>(
    mut dec: D,
    queued: &[u8],
    split: impl FnOnce(D::Frame) -> (Vec<u8>, Option<String>),
) -> Result<Option<Found>, FrameError> {
    dec.push(queued);
    Ok(dec.next_frame()?.map(|frame| {
        let used = queued.len() - dec.buffered();
        let (message, header) = split(frame);
        Found { message, header, used }
    }))
}

impl Lab {
    pub(super) fn recv_frame(
        &mut self,
        name: &str,
        framing: Framing,
        timeout: Option<Duration>,
    ) -> Result<Outcome, String> {
        let s = self.open(name)?;
        match s.kind {
            Kind::Stream | Kind::Unix(UnixKind::Conn) => {}
            Kind::Listener | Kind::Unix(UnixKind::Listener) => {
                return Err(format!(
                    "'{name}' is a listening socket: recv --frame on the connection accept gave you (accept {name} as conn)"
                ));
            }
            Kind::Udp | Kind::Unix(UnixKind::Dgram) => {
                return Err(format!(
                    "'{name}' is a datagram socket: each datagram is already one message, nothing to frame — use recvfrom {name}"
                ));
            }
        }
        if let Some(ty) = super::exec_unix::message_type(s)? {
            return Err(format!(
                "'{name}' is {ty}: seqpacket/datagram sockets already keep message boundaries, nothing to frame — use recv {name}"
            ));
        }
        self.frame_loop(name, framing, timeout)
    }

    /// Peek, decode, wait for more: until one frame is whole, EOF, the
    /// deadline or Ctrl-C. Only for byte streams, where FIONREAD counts
    /// exactly the bytes a peek can see.
    fn frame_loop(&mut self, name: &str, framing: Framing, timeout: Option<Duration>) -> Result<Outcome, String> {
        // `None`: the socket is non-blocking, so an incomplete frame is
        // EAGAIN at once, as a recv() on it would be.
        let patience = self.patience(name, timeout, false)?;
        let timeout = patience.unwrap_or_default();
        let deadline = Instant::now() + timeout;
        let call = format!("recv(--frame {})", framing.name());
        let mut announced = false;
        // The start of a big frame, already read out of the kernel's queue.
        let mut taken: Vec<u8> = Vec::new();
        loop {
            let s = self.open(name)?;
            let queued = queues::bytes_readable(s.sock.as_fd()).map_err(|e| e.to_string())?;
            let mut peeked = vec![0u8; queued];
            let n = match nixsock::recv(s.sock.as_raw_fd(), &mut peeked, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => 0,
                Err(e) => return Ok(self.failed(name, call, &e.into())),
            };
            peeked.truncate(n);
            let seen = if taken.is_empty() { peeked } else { [taken.as_slice(), &peeked].concat() };
            match framing.first_frame(&seen) {
                Ok(Some(found)) => return self.take_frame(name, &call, found, taken.len(), seen.len()),
                Ok(None) if n >= TAKE_PARTIAL_AT => {
                    let mut part = vec![0u8; n];
                    match recv_exactly(s.sock.as_raw_fd(), &mut part) {
                        Ok(()) => taken.extend_from_slice(&part),
                        Err(e) => return Ok(self.failed(name, call, &e.into())),
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    let consumed = if taken.is_empty() {
                        "nothing was consumed".to_string()
                    } else {
                        format!("{} bytes of it were read", taken.len())
                    };
                    let why = format!("{e} — {consumed}; a server would close this connection (and only this one)");
                    self.call(name, call, CallResult::Failed { why: why.clone() });
                    return Ok(Outcome::of(name, CallResult::Failed { why }));
                }
            }
            let n = seen.len();
            if super::exec_wait::read_side_done(s.sock.as_fd()) {
                if n == 0 {
                    let detail = "0 bytes: EOF between frames — the peer closed cleanly, no more messages";
                    self.call(name, call, CallResult::ok(detail));
                    let outcome = Outcome { bytes: Some(Vec::new()), ..Outcome::of(name, CallResult::ok("")) };
                    return Ok(outcome);
                }
                let why = format!("EOF: {}", FrameError::ClosedMidFrame { buffered: n });
                self.call(name, call, CallResult::Failed { why: why.clone() });
                return Ok(Outcome::of(name, CallResult::Failed { why }));
            }
            if patience.is_none() {
                let err = std::io::Error::from_raw_os_error(Errno::EAGAIN as i32);
                let why = format!(
                    "{name} is non-blocking and only {n} bytes of a {} frame are queued: call again when more arrive{}",
                    framing.name(),
                    lost(taken.len())
                );
                return Ok(self.would_block(name, &call, &err, why));
            }
            if !announced {
                announced = true;
                let what = format!("the rest of a {} frame ({n} bytes so far)", framing.name());
                self.emit(super::waiting_notice(name, &what, timeout));
            }
            // Checked here as well as inside the wait: should the kernel's
            // count ever keep saying "more" while a peek sees no more, the
            // loop still ends at the deadline or on Ctrl-C.
            let left = deadline.saturating_duration_since(Instant::now());
            let stopped = if cancel::is_cancelled() {
                Err(cancel::Waited::Cancelled)
            } else if left.is_zero() {
                Err(cancel::Waited::TimedOut)
            } else {
                let fd = self.open(name)?.sock.as_fd();
                // Progress is the queue growing past what FIONREAD said
                // before this peek, not past what the peek returned.
                cancel::wait_until(left, || {
                    let now = queues::bytes_readable(fd).ok()?;
                    (now > queued || super::exec_wait::read_side_done(fd)).then_some(())
                })
            };
            if let Err(waited) = stopped {
                let missing =
                    format!("no complete {} frame arrived ({n} bytes so far){}", framing.name(), lost(taken.len()));
                return Ok(self.gave_up(name, &call, waited, timeout, &missing, true));
            }
        }
    }

    /// Consume exactly the frame's bytes; the rest stay queued.
    /// `taken` of the frame's bytes were read out already; `queued` counts those too.
    fn take_frame(
        &mut self,
        name: &str,
        call: &str,
        found: Found,
        taken: usize,
        queued: usize,
    ) -> Result<Outcome, String> {
        let s = self.open(name)?;
        let mut buf = vec![0u8; found.used - taken];
        if let Err(e) = recv_exactly(s.sock.as_raw_fd(), &mut buf) {
            return Ok(self.failed(name, call, &e.into()));
        }
        let len = found.message.len();
        let left = queued - found.used;
        let framing = match found.used - len {
            1 => "1 byte".to_string(),
            n => format!("{n} bytes"),
        };
        let detail =
            format!("one frame: a {len}-byte message + {framing} of framing consumed; {left} bytes stay queued");
        self.call(name, call, CallResult::ok(detail));
        if !found.message.is_empty() {
            self.emit(Event::bytes(name, Direction::Received, &found.message));
        }
        if let Some(header) = &found.header {
            self.emit(Event::notice(format!("{name}: header {header}")));
        }
        Ok(Outcome {
            sock: Some(name.into()),
            result: Some(CallResult::ok("")),
            bytes: Some(found.message),
            value: found.header,
            ..Outcome::default()
        })
    }
}

/// Said when a call gives up on a frame whose start it had read out.
fn lost(taken: usize) -> String {
    if taken == 0 {
        String::new()
    } else {
        format!(" — its first {taken} bytes were already read out of the queue and are gone with this call")
    }
}

/// Read exactly `buf.len()` bytes that a peek has just seen queued: they
/// are there, so this never waits (a loop, as recv may return less).
fn recv_exactly(fd: std::os::fd::RawFd, buf: &mut [u8]) -> Result<(), Errno> {
    let mut got = 0;
    while got < buf.len() {
        match nixsock::recv(fd, &mut buf[got..], MsgFlags::MSG_DONTWAIT) {
            // Gone between the peek and the read: only another reader could do that.
            Ok(0) | Err(Errno::EAGAIN) => return Err(Errno::EIO),
            Ok(k) => got += k,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_frame_times_out_when_fionread_counts_more_than_a_peek_sees() {
        // Only reachable below the SO_TYPE check: on SOCK_SEQPACKET,
        // FIONREAD counts both records and a peek returns the first. This
        // spun forever, deaf to --timeout and Ctrl-C; a thread and a
        // channel make that a failure instead of a hang.
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            let mut lab = Lab::new(Box::new(crate::event::Recorder::new()));
            for line in ["socketpair seqpacket as a b", "send a u32be:5", "send a \"hello\""] {
                assert!(lab.run_line(line).is_ok(), "{line}");
            }
            let out = lab.frame_loop("b", Framing::U32, Some(Duration::from_millis(200)));
            let _ = tx.send(out.map(|o| o.result));
        });
        let result = rx.recv_timeout(Duration::from_secs(10)).expect("the frame loop ended");
        assert!(worker.join().is_ok());
        // A recv that waited its time out is EAGAIN, as with SO_RCVTIMEO.
        assert!(matches!(&result, Ok(Some(CallResult::Err { errno, .. })) if errno == "EAGAIN"), "{result:?}");
    }

    #[test]
    fn framing_names_parse_and_round_trip() {
        for word in ["line", "u32", "json", "json-le", "fixed:16"] {
            assert_eq!(Framing::parse(word).map(Framing::name).as_deref(), Ok(word));
        }
        for bad in ["fixed:0", "fixed:", "fixed:x", "lines", ""] {
            assert!(Framing::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_frame_reports_how_many_bytes_it_used() {
        let found = Framing::Line.first_frame(b"hello\r\nworld\n").unwrap().unwrap();
        assert_eq!((found.message.as_slice(), found.used), (&b"hello"[..], 7));
        let json = json_header::encode_body(b"hi", json_header::LengthOrder::BigEndian).unwrap();
        let found = Framing::Json(json_header::LengthOrder::BigEndian).first_frame(&json).unwrap().unwrap();
        assert_eq!(found.used, json.len());
        assert_eq!(found.header.as_deref(), Some("{\"data_size\":2}"));
        assert!(Framing::U32.first_frame(&[0, 0, 0]).unwrap().is_none());
    }
}
