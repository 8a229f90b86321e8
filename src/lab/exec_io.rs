//! Moving bytes: send, sendto, recv, recvfrom, and waiting for readiness.

use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use nix::poll::PollFlags;
use nix::sys::socket::{self as nixsock, MsgFlags, SockaddrStorage};
use socket2::SockAddr;

use super::addr::{self, AddrSpec};
use super::cancel::{self, Waited};
use super::payload::{IntFormat, Payload};
use super::{Kind, Lab, Outcome};
use crate::event::{CallResult, Direction, Event};
use crate::wire::kernel::{self, Proto};

/// Never raise SIGPIPE: a write to a closed connection returns EPIPE.
pub(super) const SEND_FLAGS: i32 = nix::libc::MSG_NOSIGNAL;

impl Lab {
    pub(super) fn send(&mut self, name: &str, payload: &Payload, timeout: Option<Duration>) -> Result<Outcome, String> {
        let data = payload.bytes()?;
        let s = self.open(name)?;
        match s.kind {
            Kind::Listener => return Err(listener_error(name, "send")),
            Kind::Udp => return Err(format!("'{name}' is UDP with no peer: use sendto {name} ADDR|NAME PAYLOAD")),
            Kind::Unix(super::UnixKind::Listener) => return Err(listener_error(name, "send")),
            // An unconnected unix datagram socket gets ENOTCONN from the kernel.
            Kind::Stream | Kind::Unix(_) => {}
        }
        let call = format!("send({})", data.len());
        let patience = self.patience(name, timeout, true)?;
        let s = self.open(name)?;
        // A blocking send() waits until every byte is queued; SO_SNDTIMEO
        // bounds that wait, and then send() returns how much it did take.
        // The learner's own SO_SNDTIMEO is put back afterwards.
        let own = s.sock.write_timeout().map_err(|e| e.to_string())?;
        if let Some(t) = patience {
            s.sock.set_write_timeout(Some(t)).map_err(|e| e.to_string())?;
        }
        let sent = s.sock.send_with_flags(&data, SEND_FLAGS);
        if patience.is_some() {
            s.sock.set_write_timeout(own).map_err(|e| e.to_string())?;
        }
        let waited = |t: Duration| format!("the send buffer stayed full for {} ms", t.as_millis());
        let sent = match (sent, patience) {
            (Ok(n), _) => n,
            (Err(e), None) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let why =
                    "non-blocking, and the send buffer is full: nothing was queued — wait for POLLOUT, then send again"
                        .into();
                return Ok(self.would_block(name, &call, &e, why));
            }
            (Err(e), Some(t)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let why =
                    format!("{}, so nothing was queued — is the peer reading? (SO_SNDTIMEO; --timeout MS)", waited(t));
                return Ok(self.would_block(name, &call, &e, why));
            }
            (Err(e), _) => return Ok(self.failed(name, call, &e)),
        };
        let detail = match patience {
            _ if sent == data.len() => format!("{sent} bytes queued"),
            None => format!(
                "{sent} of {} bytes queued — non-blocking, and then the send buffer was full, so send returned at once; the other {} were not sent and are still yours to send (wait for POLLOUT)",
                data.len(),
                data.len() - sent
            ),
            Some(t) => format!(
                "{sent} of {} bytes queued — {} (is the peer reading?); the other {} were not sent: call send again with the rest (a blocking send in C or Python would still be waiting)",
                data.len(),
                waited(t),
                data.len() - sent
            ),
        };
        self.call(name, call, CallResult::ok(detail));
        Ok(self.sent(name, data[..sent].to_vec()))
    }

    /// Shows the bytes `name` just sent; the command's outcome, with them.
    pub(super) fn sent(&mut self, name: &str, data: Vec<u8>) -> Outcome {
        self.emit(Event::bytes(name, Direction::Sent, &data));
        Outcome { bytes: Some(data), ..Outcome::of(name, CallResult::ok("")) }
    }

    pub(super) fn send_to(&mut self, name: &str, target: &AddrSpec, payload: &Payload) -> Result<Outcome, String> {
        if matches!(self.open(name)?.kind, Kind::Unix(_)) {
            return self.unix_send_to(name, target, payload);
        }
        let data = payload.bytes()?;
        let target = addr::loopback_for(self.resolve(target)?);
        if !addr::is_loopback(target) {
            return Err(format!("{target} is not a loopback address: the playground only sends to 127.0.0.0/8 or ::1"));
        }
        let s = self.open(name)?;
        if s.kind != Kind::Udp {
            return Err(format!("'{name}' is a TCP socket: sendto is for UDP; use send {name} PAYLOAD"));
        }
        let call = format!("sendto({target}, {})", data.len());
        let receiver = self.udp_receiver(target);
        let service_seen = self.service_seen(target);
        if let Err(e) = s.sock.send_to_with_flags(&data, &SockAddr::from(target), SEND_FLAGS) {
            return Ok(self.failed(name, call, &e));
        }
        let mut detail = format!("one datagram of {} bytes", data.len());
        // When the receiver is one of ours, wait until the kernel has queued
        // the datagram there: later reads then see datagrams in send order
        // by construction, and a silent drop (full buffer) becomes visible.
        if let Some((receiver, inode, before)) = receiver {
            let queued = cancel::wait_until(Duration::from_secs(1), || {
                let table = kernel::read_table(Proto::Udp).ok()?;
                kernel::find_by_inode(&table, inode).filter(|k| k.rx_queue > before).map(|_| ())
            });
            detail.push_str(&match queued {
                Ok(()) => format!(", now queued at {receiver}"),
                Err(_) => format!(
                    " — NOT queued at {receiver}: its receive buffer is full, so the kernel dropped it (UDP reports no error)"
                ),
            });
        }
        if let Some(taken) = self.await_service(target, service_seen) {
            detail.push_str(&taken);
        }
        self.call(name, call, CallResult::ok(detail));
        Ok(self.sent(name, data))
    }

    pub(super) fn recv(
        &mut self,
        name: &str,
        size: usize,
        peek: bool,
        timeout: Option<Duration>,
        decode: Option<IntFormat>,
    ) -> Result<Outcome, String> {
        let s = self.open(name)?;
        match s.kind {
            Kind::Listener => return Err(listener_error(name, "recv")),
            Kind::Udp if decode.is_none() => return self.recv_from(name, size, peek, timeout),
            Kind::Udp => return Err("--as works on TCP sockets; use recvfrom for UDP".into()),
            Kind::Unix(_) if decode.is_none() => return self.unix_recv(name, size, peek, timeout, "recv"),
            Kind::Unix(_) => return Err(format!("--as works on TCP sockets; on a unix socket use recv {name}")),
            Kind::Stream => {}
        }
        let call = if peek { format!("recv({size}, MSG_PEEK)") } else { format!("recv({size})") };
        let mut buf = vec![0u8; size];
        let flags = if peek { MsgFlags::MSG_PEEK } else { MsgFlags::empty() };
        let timeout = self.patience(name, timeout, false)?;
        let read = |fd, dontwait| nixsock::recv(fd, &mut buf, flags | dontwait);
        let n = match self.read_when_ready(name, &call, timeout, "data", "nothing arrived", read)? {
            Ready::Read(n) => n,
            Ready::Stopped(outcome) => return Ok(outcome),
        };
        buf.truncate(n);
        let mut detail = match n {
            0 if self.open(name)?.read_shut => {
                "0 bytes: this side called shutdown(SHUT_RD) and the queue is empty (Linux still delivers data that arrives later)".to_string()
            }
            0 => "0 bytes: EOF — the peer closed its sending side (recv will keep returning 0)".to_string(),
            _ if peek => format!("{n} bytes (peeked: they stay queued)"),
            _ => format!("{n} bytes"),
        };
        let value = decode.and_then(|f| f.decode(&buf).map(|v| (f, v)));
        match (&value, decode) {
            (Some((f, v)), _) if n > f.size() => {
                detail.push_str(&format!(", first {} of {n} bytes read as {}: {v}", f.size(), f.name()))
            }
            (Some((f, v)), _) => detail.push_str(&format!(", read as {}: {v}", f.name())),
            (None, Some(f)) if n > 0 => detail.push_str(&format!(", too short for {} ({} bytes)", f.name(), f.size())),
            _ => {}
        }
        self.call(name, call, CallResult::ok(detail));
        if n > 0 {
            self.emit(Event::bytes(name, Direction::Received, &buf));
        }
        let value = value.map(|(_, v)| v);
        Ok(Outcome {
            sock: Some(name.into()),
            result: Some(CallResult::ok("")),
            bytes: Some(buf),
            value,
            ..Outcome::default()
        })
    }

    pub(super) fn recv_from(
        &mut self,
        name: &str,
        size: usize,
        peek: bool,
        timeout: Option<Duration>,
    ) -> Result<Outcome, String> {
        let s = self.open(name)?;
        if let Kind::Unix(_) = s.kind {
            return self.unix_recv(name, size, peek, timeout, "recvfrom");
        }
        if s.kind != Kind::Udp {
            return Err(format!("'{name}' is TCP: recvfrom is for UDP datagrams; use recv {name}"));
        }
        let call = if peek { format!("recvfrom({size}, MSG_PEEK)") } else { format!("recvfrom({size})") };
        let mut buf = vec![0u8; size];
        // MSG_TRUNC makes recvmsg return the datagram's real length even
        // when the buffer was too small for it (man 7 udp).
        let mut flags = MsgFlags::MSG_TRUNC;
        if peek {
            flags |= MsgFlags::MSG_PEEK;
        }
        let timeout = self.patience(name, timeout, false)?;
        let read = |fd, dontwait| {
            let mut iov = [IoSliceMut::new(&mut buf)];
            nixsock::recvmsg::<SockaddrStorage>(fd, &mut iov, None, flags | dontwait)
                .map(|msg| (msg.bytes, msg.address.and_then(sockaddr_to_std)))
        };
        let (real, from) =
            match self.read_when_ready(name, &call, timeout, "a datagram", "no datagram arrived", read)? {
                Ready::Read(got) => got,
                Ready::Stopped(outcome) => return Ok(outcome),
            };
        if let Some(from) = from.filter(|a| !addr::is_loopback(*a)) {
            if peek {
                let _ = nixsock::recv(self.open(name)?.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT);
            }
            return Err(format!("dropped a datagram from {from}: netlab only talks to this machine (loopback)"));
        }
        buf.truncate(real.min(size));
        let sender = from.map_or("an unnamed sender".to_string(), |a| self.describe(a));
        let mut detail = format!("{} bytes from {sender}", buf.len());
        if real > size {
            let lost = real - size;
            let rest = if lost == 1 { "the other byte is".to_string() } else { format!("the other {lost} are") };
            detail.push_str(&format!(" — TRUNCATED: the datagram was {real} bytes (MSG_TRUNC); {rest} gone"));
        } else if real == 0 {
            detail.push_str(" — an empty datagram: still one message, not EOF");
        }
        self.call(name, call, CallResult::ok(detail));
        if !buf.is_empty() {
            self.emit(Event::bytes(name, Direction::Received, &buf));
        }
        let real_len = (real > size).then_some(real);
        Ok(Outcome {
            sock: Some(name.into()),
            result: Some(CallResult::ok("")),
            bytes: Some(buf),
            real_len,
            ..Outcome::default()
        })
    }

    /// Wait until `name` is readable, then `read` from it, passing the flag
    /// that keeps the read from blocking: poll's "readable" is only a hint
    /// (a UDP datagram with a bad checksum vanishes before it is read), so
    /// an EAGAIN goes back to waiting for what is left of `timeout`. With
    /// no timeout (a non-blocking socket) it reads once and never waits.
    pub(super) fn read_when_ready<T>(
        &mut self,
        name: &str,
        call: &str,
        timeout: Option<Duration>,
        what: &str,
        missing: &str,
        mut read: impl FnMut(RawFd, MsgFlags) -> nix::Result<T>,
    ) -> Result<Ready<T>, String> {
        let Some(timeout) = timeout else {
            return Ok(match read(self.open(name)?.sock.as_raw_fd(), MsgFlags::MSG_DONTWAIT) {
                Ok(value) => Ready::Read(value),
                Err(e @ Errno::EAGAIN) => {
                    let why = format!(
                        "non-blocking: {missing} yet, so the call returned at once — wait for readiness (poll POLLIN) instead of calling it again in a loop"
                    );
                    Ready::Stopped(self.would_block(name, call, &e.into(), why))
                }
                Err(e) => Ready::Stopped(self.failed(name, call, &e.into())),
            });
        };
        // The socket's own SO_RCVTIMEO: a real blocking call, so the kernel
        // enforces it and the EAGAIN is the kernel's. Ctrl-C still ends it:
        // the signal handler has no SA_RESTART, so recv fails with EINTR.
        let sock = &self.open(name)?.sock;
        if sock.read_timeout().ok().flatten() == Some(timeout) {
            let fd = sock.as_raw_fd();
            let ready_now = cancel::wait_fd(sock.as_fd(), PollFlags::POLLIN, Duration::ZERO);
            if !matches!(ready_now, Ok(Waited::Ready(_))) {
                self.emit(super::waiting_notice(name, what, timeout));
            }
            return Ok(match read(fd, MsgFlags::empty()) {
                Ok(value) => {
                    self.drain_reports();
                    Ready::Read(value)
                }
                Err(e @ Errno::EAGAIN) => {
                    let why = format!(
                        "{missing} within {} ms: the socket's SO_RCVTIMEO ran out and the kernel returned EAGAIN (EWOULDBLOCK)",
                        timeout.as_millis()
                    );
                    Ready::Stopped(self.would_block(name, call, &e.into(), why))
                }
                Err(e) => Ready::Stopped(self.failed(name, call, &e.into())),
            });
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(gave_up) = self.until_readable(name, call, (left, timeout), what, missing)? {
                return Ok(Ready::Stopped(gave_up));
            }
            match read(self.open(name)?.sock.as_raw_fd(), MsgFlags::MSG_DONTWAIT) {
                Ok(value) => {
                    // What a service did to deliver this happened before it.
                    self.drain_reports();
                    return Ok(Ready::Read(value));
                }
                // poll can say readable while recv says EAGAIN (a unix
                // datagram socket after shutdown(SHUT_RD)): stop at the
                // deadline or on Ctrl-C all the same.
                Err(Errno::EAGAIN) if cancel::is_cancelled() || Instant::now() >= deadline => {
                    let waited = if cancel::is_cancelled() { Waited::Cancelled } else { Waited::TimedOut };
                    return Ok(Ready::Stopped(self.gave_up(name, call, waited, timeout, missing, true)));
                }
                Err(Errno::EAGAIN) => continue,
                Err(e) => return Ok(Ready::Stopped(self.failed(name, call, &e.into()))),
            }
        }
    }

    /// One of our UDP sockets bound to `target`: its name, inode and current
    /// receive-queue memory (/proc/net/udp rx_queue).
    fn udp_receiver(&self, target: SocketAddr) -> Option<(String, u64, u32)> {
        let (name, s) = self.entries.iter().find_map(|e| match &e.slot {
            super::Slot::Open(s) if s.kind == Kind::Udp && s.local.inet().map(addr::loopback_for) == Some(target) => {
                Some((&e.name, s))
            }
            _ => None,
        })?;
        let inode = kernel::socket_inode(s.sock.as_fd()).ok()?;
        let table = kernel::read_table(Proto::Udp).ok()?;
        let before = kernel::find_by_inode(&table, inode)?.rx_queue;
        Some((name.clone(), inode, before))
    }

    /// `a (127.0.0.1:5000)` when the address is one of our sockets.
    pub(super) fn describe(&self, addr: SocketAddr) -> String {
        let owner = self.entries.iter().find_map(|e| match &e.slot {
            super::Slot::Open(s) if s.local.inet() == Some(addr) => Some(&e.name),
            _ => None,
        });
        let service = || self.services.iter().find(|s| s.service.local == addr).map(|s| &s.name);
        match owner.or_else(service) {
            Some(name) => format!("{name} ({addr})"),
            None => addr.to_string(),
        }
    }
}

/// What `read_when_ready` got: the read's result, or the outcome of a wait
/// that ended first (timeout, Ctrl-C, an error), already reported.
pub(super) enum Ready<T> {
    Read(T),
    Stopped(Outcome),
}

pub(super) fn listener_error(name: &str, call: &str) -> String {
    format!(
        "'{name}' is a listening socket: it only accepts; {call} on the connection accept gave you (e.g. accept {name} as conn)"
    )
}

fn sockaddr_to_std(addr: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
