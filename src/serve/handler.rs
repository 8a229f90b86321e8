//! The protocol side of a reference server, written once as a state
//! machine over bytes. It never touches a socket: the blocking driver
//! (iterative, thread, fork, pool) and the event loops (select, poll,
//! epoll) feed it whatever bytes arrived, send whatever it put in `out`,
//! ask for more once that is sent, wake it at its deadline, and deliver
//! its mailbox. That is what lets one echo server run "six ways".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::Log;
use super::mailbox::Mailbox;
use crate::event::CallResult;

/// What the connection should do after the handler has seen some input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Stop reading; send what is in `out` (and what [`Handler::has_more`]
    /// still has), then close the connection.
    Close,
}

/// Who a handler is talking to, and where it may log what it does
/// ("auth ok", "would run: date", "put notes.txt 120 bytes").
#[derive(Clone)]
pub struct Ctx {
    /// `conn#N`: the name every log line about this connection carries.
    pub name: String,
    pub peer: SocketAddr,
    pub log: Log,
}

impl Ctx {
    /// A protocol-level event on this connection, in the server's log.
    pub fn note(&self, call: &str, result: CallResult) {
        self.log.call(&self.name, call, result);
    }
}

pub trait Handler: Send {
    /// Bytes to send as soon as the client connects (a banner, a challenge).
    /// [`Flow::Close`]: send them, then close without reading anything — a
    /// connection the server cannot serve (chat out of descriptors) says
    /// so at once instead of waiting for input or a timer to notice.
    fn greet(&mut self, _out: &mut Vec<u8>) -> Flow {
        Flow::Continue
    }

    /// `input` arrived (any split of the stream: TCP keeps no boundaries);
    /// append the reply, if any, to `out`.
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow;

    /// The client shut down its sending side: a last chance to reply.
    /// Whatever it returns, nothing more is read, and the connection closes
    /// once `out` is sent and [`Handler::has_more`] is false.
    fn on_eof(&mut self, _out: &mut Vec<u8>) -> Flow {
        Flow::Close
    }

    /// Whether the handler has output it can make without new input — the
    /// next chunk of a download, the replies queued behind a long one — and
    /// waits only for room to put it. Drivers call [`Handler::on_room`]
    /// each time everything in `out` has been sent, for as long as this is
    /// true: a reply far larger than memory goes out a piece at a time, at
    /// the pace the client reads it, under every model.
    fn has_more(&self) -> bool {
        false
    }

    /// Everything in `out` was sent: append the next piece (see [`Handler::has_more`]).
    fn on_room(&mut self, _out: &mut Vec<u8>) -> Flow {
        Flow::Continue
    }

    /// False while the handler takes no input: chat holds a line that a
    /// slow member's full mailbox cannot take yet. Drivers stop reading
    /// the socket — TCP's flow control then slows the client down — and
    /// come back when [`Handler::has_more`] says the handler can go on
    /// (its mailbox wakes the driver) or at its deadline.
    fn wants_input(&self) -> bool {
        true
    }

    /// When the handler wants [`Handler::on_deadline`] even if no byte
    /// arrives (cmd's 100 ms idle rule, auth's answer timeout). A fixed
    /// instant: the event loops compare it with the time they woke at, so
    /// an `Instant::now()` made afresh on each call would never be reached.
    /// "Call me again as soon as possible" is what `has_more` says.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The deadline passed with no input that moved it.
    fn on_deadline(&mut self, _out: &mut Vec<u8>) -> Flow {
        Flow::Continue
    }

    /// Bytes other connections leave for this one (chat's broadcasts).
    /// Drivers watch its wake-up descriptor and send what it holds.
    fn mailbox(&self) -> Option<Arc<Mailbox>> {
        None
    }
}

/// Feed `input` to a handler in chunks of the given sizes (cycled), the
/// way a TCP stream may split it, and collect everything it replied.
#[cfg(test)]
pub fn feed_split(handler: &mut dyn Handler, input: &[u8], splits: &[usize]) -> Vec<u8> {
    let (mut out, mut sent) = (Vec::new(), Vec::new());
    assert_eq!(handler.greet(&mut out), Flow::Continue);
    let mut rest = input;
    let mut sizes = splits.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        assert_eq!(handler.on_bytes(chunk, &mut out), Flow::Continue);
        send_more(handler, &mut out, &mut sent);
        rest = tail;
    }
    assert_eq!(handler.on_eof(&mut out), Flow::Close);
    send_more(handler, &mut out, &mut sent);
    sent
}

/// What a driver does after each input: "send" `out` (to `sent`), then ask
/// for more while the handler has it. Returns how many pieces it asked for.
#[cfg(test)]
pub fn send_more(handler: &mut dyn Handler, out: &mut Vec<u8>, sent: &mut Vec<u8>) -> usize {
    let mut pieces = 0;
    loop {
        sent.append(out);
        if !handler.has_more() {
            return pieces;
        }
        handler.on_room(out);
        pieces += 1;
    }
}

/// A context for unit tests: a log that goes nowhere.
#[cfg(test)]
pub fn test_ctx() -> Ctx {
    Ctx { name: "conn#1".into(), peer: ([127, 0, 0, 1], 40000).into(), log: Log::discard() }
}
