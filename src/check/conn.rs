//! One client connection of a check test: every send, receive, half-close
//! and reset goes into the test's byte log, and every wait is bounded.
//!
//! Waits are *idle* timeouts: a 9 MiB reply may take a while, but if no
//! byte arrives for `timeout`, the server has stopped sending.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::PollFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::log::ByteLog;
use super::report::Logged;
use crate::lab::cancel::{self, Waited};

/// How a read or write stopped before it got everything it wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server's FIN: `recv()` returned 0.
    Eof,
    /// The server's RST (ECONNRESET), or EPIPE on a write: it is gone.
    Reset,
    /// Nothing moved for the whole timeout.
    TimedOut(Duration),
    /// Ctrl-C.
    Cancelled,
    /// Any other error, as the kernel worded it.
    Error(String),
}

impl End {
    /// "the server closed the connection (EOF)", for sentences.
    pub fn describe(&self) -> String {
        match self {
            End::Eof => "the server closed the connection (recv() returned 0)".into(),
            End::Reset => "the server reset the connection (ECONNRESET)".into(),
            End::TimedOut(d) => format!("nothing arrived for {} ms", d.as_millis()),
            End::Cancelled => "cancelled with Ctrl-C".into(),
            End::Error(e) => e.clone(),
        }
    }
}

/// What a read collected, and why it stopped early (`None`: it got all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub data: Vec<u8>,
    pub end: Option<End>,
}

/// Options set before `connect()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    /// A small receive buffer: the server's replies back up sooner.
    pub rcvbuf: Option<usize>,
}

/// What [`Conn::wait_taken`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    All,
    Gone,
    Not,
}

pub struct Conn {
    stream: TcpStream,
    pub name: String,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    log: ByteLog,
    pub timeout: Duration,
}

fn end_of(e: &std::io::Error) -> End {
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => End::Reset,
        ErrorKind::WouldBlock | ErrorKind::TimedOut => End::TimedOut(Duration::ZERO),
        _ => End::Error(e.to_string()),
    }
}

impl Conn {
    /// Connect to `addr` within `timeout`, with Nagle off so every
    /// `send()` leaves as its own segment (the 1-byte test needs that).
    pub fn open(addr: SocketAddr, name: String, log: ByteLog, timeout: Duration, opts: Opts) -> std::io::Result<Conn> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        if let Some(size) = opts.rcvbuf {
            socket.set_recv_buffer_size(size)?;
        }
        socket.connect_timeout(&SockAddr::from(addr), timeout)?;
        socket.set_tcp_nodelay(true)?;
        let stream: TcpStream = socket.into();
        stream.set_write_timeout(Some(timeout))?;
        let local = stream.local_addr()?;
        log.add(&name, Logged::Connected { local: local.to_string() });
        Ok(Conn { peer: addr, local, stream, name, log, timeout })
    }

    pub fn log(&self) -> &ByteLog {
        &self.log
    }

    /// A second handle on the same socket, for a writer thread.
    pub fn writer(&self) -> std::io::Result<Conn> {
        let stream = self.stream.try_clone()?;
        Ok(Conn { stream, name: self.name.clone(), log: self.log.clone(), ..*self })
    }

    /// One whole buffer, in as many `send()`s as the kernel needs. On
    /// failure: how many bytes went, and why the rest did not.
    pub fn send(&mut self, data: &[u8]) -> Result<(), (usize, End)> {
        let mut sent = 0;
        while sent < data.len() {
            if cancel::is_cancelled() {
                return Err((sent, End::Cancelled));
            }
            match self.stream.write(&data[sent..]) {
                Ok(0) => return Err((sent, End::Error("send() returned 0".into()))),
                Ok(n) => {
                    self.log.sent(&self.name, &data[sent..sent + n]);
                    sent += n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let end = match end_of(&e) {
                        End::TimedOut(_) => End::TimedOut(self.timeout),
                        End::Reset => {
                            self.log.add(&self.name, Logged::ResetReceived);
                            End::Reset
                        }
                        other => other,
                    };
                    return Err((sent, end));
                }
            }
        }
        Ok(())
    }

    /// Wait up to `timeout` for something to read (or the end).
    fn wait_readable(&self, timeout: Duration) -> Result<(), End> {
        match cancel::wait_fd(self.stream.as_fd(), PollFlags::POLLIN, timeout) {
            Ok(Waited::Ready(_)) => Ok(()),
            Ok(Waited::TimedOut) => Err(End::TimedOut(timeout)),
            Ok(Waited::Cancelled) => Err(End::Cancelled),
            Err(e) => Err(End::Error(e.to_string())),
        }
    }

    /// One `recv()` of up to `max` bytes, waiting up to `timeout`.
    /// `Ok(empty)` never happens: EOF is `Err(End::Eof)`.
    pub fn recv_once(&mut self, max: usize, timeout: Duration) -> Result<Vec<u8>, End> {
        self.wait_readable(timeout)?;
        let mut buf = vec![0u8; max.max(1)];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.log.add(&self.name, Logged::Eof);
                    return Err(End::Eof);
                }
                Ok(n) => {
                    buf.truncate(n);
                    self.log.received(&self.name, &buf);
                    return Ok(buf);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let end = end_of(&e);
                    if end == End::Reset {
                        self.log.add(&self.name, Logged::ResetReceived);
                    }
                    return Err(end);
                }
            }
        }
    }

    /// Exactly `n` bytes, unless the server stops first.
    pub fn recv_exact(&mut self, n: usize) -> Got {
        let mut data = Vec::with_capacity(n.min(64 << 20));
        while data.len() < n {
            let want = (n - data.len()).min(256 * 1024);
            match self.recv_once(want, self.timeout) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(end) => return Got { data, end: Some(end) },
            }
        }
        Got { data, end: None }
    }

    /// Everything until the server closes; `end` says how it stopped
    /// (`Some(End::Eof)` is the clean case), at most `max` bytes.
    pub fn recv_to_end(&mut self, max: usize, timeout: Duration) -> Got {
        let mut data = Vec::new();
        loop {
            let want = (max.saturating_sub(data.len())).clamp(1, 256 * 1024);
            match self.recv_once(want, timeout) {
                Ok(chunk) => {
                    data.extend_from_slice(&chunk);
                    if data.len() >= max {
                        return Got { data, end: None };
                    }
                }
                Err(end) => return Got { data, end: Some(end) },
            }
        }
    }

    /// Wait up to `patience` until the server's `recv()` has taken every
    /// byte we sent: the kernel shows its unread bytes for this
    /// connection. `Taken::Gone` when its socket no longer exists (it
    /// closed); `Taken::Not` when the time ran out.
    pub fn wait_taken(&self, patience: Duration) -> Taken {
        let waited = cancel::wait_until(patience, || match super::target::server_unread(self.local, self.peer) {
            Some(0) => Some(Taken::All),
            Some(_) => None,
            None => Some(Taken::Gone),
        });
        waited.unwrap_or(Taken::Not)
    }

    /// Bytes queued for us and not read yet (FIONREAD).
    pub fn queued(&self) -> usize {
        crate::wire::queues::bytes_readable(self.stream.as_fd()).unwrap_or(0)
    }

    /// Whether a write could go now, within `timeout`.
    pub fn writable_within(&self, timeout: Duration) -> bool {
        matches!(cancel::wait_fd(self.stream.as_fd(), PollFlags::POLLOUT, timeout), Ok(Waited::Ready(_)))
    }

    /// `shutdown(SHUT_WR)`: our FIN. The server's `recv()` returns 0 once
    /// it has read what came before; it can still send.
    pub fn shutdown_write(&mut self) {
        if self.stream.shutdown(Shutdown::Write).is_ok() {
            self.log.add(&self.name, Logged::HalfClosed);
        }
    }

    /// Close with `SO_LINGER` 0: the kernel sends RST instead of FIN, and
    /// the server's next `recv()` or `send()` fails with ECONNRESET/EPIPE.
    pub fn reset(self) {
        let socket = Socket::from(self.stream);
        if socket.set_linger(Some(Duration::ZERO)).is_ok() {
            self.log.add(&self.name, Logged::ResetSent);
        }
    }

    /// close(), logged as what the kernel does: FIN, or RST when bytes
    /// the server sent are still unread here (RFC 2525) — a test that
    /// means "the client sent FIN" uses `shutdown_write`.
    pub fn close(self) {
        let what = match self.queued() {
            0 => Logged::Closed,
            unread => Logged::ClosedUnread { unread },
        };
        self.log.add(&self.name, what);
    }
}
