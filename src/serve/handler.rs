//! The protocol side of a reference server, written once as a state
//! machine over bytes. It never touches a socket: a blocking driver, and
//! later select/poll/epoll loops, feed it whatever bytes arrived and send
//! whatever it put in `out`. That is what lets one echo server run "six ways".

use super::Proto;

/// What the connection should do after the handler has seen some input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Send what is in `out`, then close the connection.
    Close,
}

pub trait Handler: Send {
    /// Bytes to send as soon as the client connects (a banner, a challenge).
    fn greet(&mut self) -> Vec<u8> {
        Vec::new()
    }

    /// `input` arrived (any split of the stream: TCP keeps no boundaries);
    /// append the reply, if any, to `out`.
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow;

    /// The client shut down its sending side: a last chance to reply.
    fn on_eof(&mut self, _out: &mut Vec<u8>) -> Flow {
        Flow::Close
    }
}

/// A fresh handler for one connection.
pub fn for_proto(proto: Proto) -> Box<dyn Handler> {
    match proto {
        Proto::Echo => Box::new(super::echo::Echo),
        Proto::Upper => Box::new(super::upper::Upper),
    }
}

/// Feed `input` to a handler in chunks of the given sizes (cycled), the
/// way a TCP stream may split it, and collect everything it replied.
#[cfg(test)]
pub fn feed_split(handler: &mut dyn Handler, input: &[u8], splits: &[usize]) -> Vec<u8> {
    let mut out = handler.greet();
    let mut rest = input;
    let mut sizes = splits.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        assert_eq!(handler.on_bytes(chunk, &mut out), Flow::Continue);
        rest = tail;
    }
    assert_eq!(handler.on_eof(&mut out), Flow::Close);
    out
}
