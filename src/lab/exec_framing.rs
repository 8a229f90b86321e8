//! Framing experiments that need both ends of a connection driven at once:
//! the hostile splitter's slow half (one byte per `send()`, read as it
//! arrives), and "send the length, wait for an ack, send the data" timed
//! against a plain length prefix.
//!
//! The splitter's other half, coalescing, needs no code here: several
//! `send`s, then `wait SOCK readable N`, then one `recv`.

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{self as nixsock, MsgFlags};

use super::cancel::{self, Waited};
use super::{DEFAULT_TIMEOUT, Kind, Lab, LabSocket};
use crate::event::{CallResult, Direction, Event};
use crate::proto::length_prefix;

/// The reply that lets the sender go on in the ack protocol.
const ACK: &[u8] = b"ok";

/// How an [`Lab::exchange`] sender frames each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// `[u32 length][body]` in one send, never waiting for the peer.
    LengthPrefix,
    /// Send the u32 length, wait for the peer's "ok", then send the body:
    /// the tutorial recipe against sticky packets.
    LengthThenAck,
}

/// What an exchange measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The messages as the receiver read them back.
    pub delivered: Vec<Vec<u8>>,
    /// How many times the sender had to stop until the peer answered.
    pub round_trips: usize,
    pub elapsed: Duration,
}

impl Lab {
    /// Sends `data` from `sender` one byte per `send()`, and after each
    /// byte lets `reader` do one `recv(bufsize)`. Returns what each recv()
    /// got.
    ///
    /// Deterministic by construction: the next byte is sent only after the
    /// reader has taken the previous one, so every recv() finds exactly one
    /// byte queued. TCP_NODELAY is switched on for `sender`, or Nagle would
    /// hold each byte until the previous one is acknowledged (and delayed
    /// ACKs can make that 40 ms a byte).
    pub fn trickle(&mut self, sender: &str, reader: &str, data: &[u8], bufsize: usize) -> Result<Vec<Vec<u8>>, String> {
        let (s, r) = self.stream_pair(sender, reader)?;
        s.sock.set_tcp_nodelay(true).map_err(|e| format!("TCP_NODELAY on {sender}: {e}"))?;
        let mut pieces = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; bufsize.max(1)];
        for byte in data {
            send_all(s, std::slice::from_ref(byte))?;
            pieces.push(recv_some(r, &mut buf)?);
        }
        let n = data.len();
        let detail = format!("{n} send() calls of 1 byte each, TCP_NODELAY on: every byte left as its own segment");
        self.call(sender, format!("send(1) × {n}"), CallResult::ok(detail));
        let sizes: Vec<usize> = pieces.iter().map(Vec::len).collect();
        let detail = if sizes.iter().all(|&len| len == 1) {
            format!("{} recv() calls, every one returned 1 byte: the reader took each byte as it arrived", sizes.len())
        } else {
            let shown: Vec<String> = sizes.iter().map(usize::to_string).collect();
            format!("{} recv() calls returned {} bytes", sizes.len(), shown.join(" + "))
        };
        self.call(reader, format!("recv({bufsize}) × {}", pieces.len()), CallResult::ok(detail));
        self.emit(Event::bytes(reader, Direction::Received, &pieces.concat()));
        Ok(pieces)
    }

    /// Sends every message from `sender` (in a second thread) framed by
    /// `how`, while this thread reads them back on `receiver` with exactly
    /// sized reads: a 4-byte length, then the body. The reading code is
    /// the same for both framings, except that with the ack protocol the
    /// receiver answers each length with "ok" — so any difference in time
    /// is the cost of waiting for that answer.
    pub fn exchange(
        &mut self,
        sender: &str,
        receiver: &str,
        messages: &[Vec<u8>],
        how: Handshake,
    ) -> Result<Exchange, String> {
        let (s, r) = self.stream_pair(sender, receiver)?;
        let started = Instant::now();
        let (delivered, sent) = std::thread::scope(|scope| {
            let sending = scope.spawn(|| send_messages(s, messages, how));
            let received = receive_messages(r, messages.len(), how);
            (received, sending.join())
        });
        let elapsed = started.elapsed();
        let round_trips = match sent {
            Ok(result) => result?,
            Err(_) => return Err("the sending thread panicked".into()),
        };
        let delivered = delivered?;
        let (call, how_text) = match how {
            Handshake::LengthPrefix => ("send([length][body])", "length prefix"),
            Handshake::LengthThenAck => ("send(length), recv(ack), send(body)", "length, ack, body"),
        };
        let detail = format!(
            "{how_text}: {} messages in {:.2} ms; the sender waited for the peer {round_trips} times (round trips)",
            delivered.len(),
            elapsed.as_secs_f64() * 1000.0
        );
        self.call(sender, format!("{call} × {}", messages.len()), CallResult::ok(detail));
        Ok(Exchange { delivered, round_trips, elapsed })
    }

    fn stream_pair(&self, a: &str, b: &str) -> Result<(&LabSocket, &LabSocket), String> {
        let (sa, sb) = (self.open(a)?, self.open(b)?);
        if sa.kind != Kind::Stream || sb.kind != Kind::Stream {
            return Err(format!("{a} and {b} must be connected TCP sockets"));
        }
        Ok((sa, sb))
    }
}

/// The sender's side of [`Lab::exchange`]; returns how often it waited.
fn send_messages(s: &LabSocket, messages: &[Vec<u8>], how: Handshake) -> Result<usize, String> {
    let mut round_trips = 0;
    for msg in messages {
        let frame = length_prefix::encode(msg).map_err(|e| e.to_string())?;
        match how {
            Handshake::LengthPrefix => send_all(s, &frame)?,
            Handshake::LengthThenAck => {
                let (len, body) = frame.split_at(4);
                send_all(s, len)?;
                if recv_exact(s, ACK.len())? != ACK {
                    return Err("the peer's ack was not \"ok\"".into());
                }
                round_trips += 1;
                send_all(s, body)?;
            }
        }
    }
    Ok(round_trips)
}

/// The receiver's side of [`Lab::exchange`].
fn receive_messages(r: &LabSocket, count: usize, how: Handshake) -> Result<Vec<Vec<u8>>, String> {
    let mut delivered = Vec::with_capacity(count);
    for _ in 0..count {
        let header = recv_exact(r, 4)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len > length_prefix::DEFAULT_MAX_FRAME {
            return Err(format!("a {len}-byte message is over the limit"));
        }
        if how == Handshake::LengthThenAck {
            send_all(r, ACK)?;
        }
        delivered.push(recv_exact(r, len)?);
    }
    Ok(delivered)
}

/// Every byte of `data`, however many send() calls it takes.
fn send_all(s: &LabSocket, mut data: &[u8]) -> Result<(), String> {
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    while !data.is_empty() {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        match nixsock::send(s.sock.as_raw_fd(), data, flags) {
            Ok(n) => data = &data[n..],
            Err(Errno::EAGAIN) => wait(s, PollFlags::POLLOUT, deadline, "send buffer space")?,
            Err(e) => return Err(format!("send failed: {e}")),
        }
    }
    Ok(())
}

/// Exactly `n` bytes, however many recv() calls it takes.
fn recv_exact(r: &LabSocket, n: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    while got < n {
        wait(r, PollFlags::POLLIN, deadline, "data")?;
        match nixsock::recv(r.sock.as_raw_fd(), &mut out[got..], MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Err(format!("the peer closed after {got} of {n} bytes")),
            Ok(k) => got += k,
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(format!("recv failed: {e}")),
        }
    }
    Ok(out)
}

/// One recv() once something has arrived: whatever is queued, up to `buf`.
fn recv_some(r: &LabSocket, buf: &mut [u8]) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    loop {
        wait(r, PollFlags::POLLIN, deadline, "data")?;
        match nixsock::recv(r.sock.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Err("the peer closed while bytes were trickling".into()),
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(format!("recv failed: {e}")),
        }
    }
}

fn wait(s: &LabSocket, events: PollFlags, deadline: Instant, what: &str) -> Result<(), String> {
    let left = deadline.saturating_duration_since(Instant::now());
    match cancel::wait_fd(s.sock.as_fd(), events, left) {
        Ok(Waited::Ready(_)) => Ok(()),
        Ok(Waited::Cancelled) => Err("cancelled".into()),
        Ok(Waited::TimedOut) => Err(format!("waited {} ms for {what}", DEFAULT_TIMEOUT.as_millis())),
        Err(e) => Err(format!("poll failed: {e}")),
    }
}
