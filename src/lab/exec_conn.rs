//! Making and ending sockets: listen, connect, accept, bind, close, shutdown.
//! Each step is reported as the system call a C or Python program would make.

use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::PollFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::addr::{self, AddrSpec, LOOPBACK_ANY_PORT};
use super::cancel::{self, Waited};
use super::command::ShutdownHow;
use super::{DEFAULT_TIMEOUT, Kind, Lab, LabSocket, Outcome, Slot};
use crate::event::{CallResult, Event};

fn family(addr: SocketAddr) -> &'static str {
    if addr.is_ipv4() { "AF_INET" } else { "AF_INET6" }
}

/// connect() that a timeout or Ctrl-C can end: start it non-blocking,
/// wait for the socket to become writable (handshake done or failed),
/// then ask SO_ERROR which it was. `announce` runs if the wait blocks.
pub(super) fn connect(
    sock: &Socket,
    target: SocketAddr,
    timeout: Duration,
    announce: impl FnOnce(),
) -> std::io::Result<Waited> {
    sock.set_nonblocking(true)?;
    let started = match sock.connect(&SockAddr::from(target)) {
        Ok(()) => Ok(Waited::Ready(PollFlags::POLLOUT)),
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {
            cancel::wait_fd_announced(sock.as_fd(), PollFlags::POLLOUT, timeout, announce)
        }
        Err(e) => Err(e),
    };
    let waited = started?;
    sock.set_nonblocking(false)?;
    if let Waited::Ready(_) = waited
        && let Some(e) = sock.take_error()?
    {
        return Err(e);
    }
    Ok(waited)
}

pub(super) fn local_addr(sock: &Socket) -> std::io::Result<SocketAddr> {
    sock.local_addr()?.as_socket().ok_or_else(|| std::io::Error::other("not an internet socket"))
}

impl Lab {
    pub(super) fn tcp_listen(
        &mut self,
        addr: Option<&AddrSpec>,
        name: Option<&str>,
        reuseaddr: bool,
        backlog: i32,
    ) -> Result<Outcome, String> {
        let addr = addr.map_or(Ok(LOOPBACK_ANY_PORT), |a| self.resolve(a))?;
        let name = self.claim_name(name, "srv")?;
        let sock = match self.new_socket(&name, addr, Type::STREAM, Protocol::TCP) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        // Rust's std TcpListener always sets SO_REUSEADDR; socket2 lets the
        // lab leave it off so EADDRINUSE can be shown honestly.
        if let Err(e) = sock.set_reuse_address(reuseaddr) {
            return Ok(self.failed(&name, "setsockopt(SO_REUSEADDR)", &e));
        }
        self.call(&name, format!("setsockopt(SO_REUSEADDR, {})", u8::from(reuseaddr)), CallResult::ok(""));
        let local = match self.bind(&name, &sock, addr) {
            Ok(local) => local,
            Err(failed) => return Ok(*failed),
        };
        if let Err(e) = sock.listen(backlog) {
            return Ok(self.failed(&name, format!("listen({backlog})"), &e));
        }
        let sock = LabSocket::new(Kind::Listener, sock, local, None);
        Ok(self.created(&name, sock, Some(format!("listen({backlog})")), format!("listening on {local}")))
    }

    pub(super) fn udp_bind(&mut self, addr: Option<&AddrSpec>, name: Option<&str>) -> Result<Outcome, String> {
        let addr = addr.map_or(Ok(LOOPBACK_ANY_PORT), |a| self.resolve(a))?;
        let name = self.claim_name(name, "udp")?;
        let sock = match self.new_socket(&name, addr, Type::DGRAM, Protocol::UDP) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        let local = match self.bind(&name, &sock, addr) {
            Ok(local) => local,
            Err(failed) => return Ok(*failed),
        };
        // bind() was the last call, already reported.
        Ok(self.created(&name, LabSocket::new(Kind::Udp, sock, local, None), None, format!("bound to {local}")))
    }

    pub(super) fn tcp_connect(
        &mut self,
        target: &AddrSpec,
        name: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Outcome, String> {
        let target = addr::loopback_for(self.resolve(target)?);
        if !addr::is_loopback(target) {
            return Err(format!(
                "{target} is not a loopback address: the playground only connects to 127.0.0.0/8 or ::1"
            ));
        }
        let name = self.claim_name(name, "cli")?;
        let sock = match self.new_socket(&name, target, Type::STREAM, Protocol::TCP) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        let call = format!("connect({target})");
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let notice = super::waiting_notice(&name, "the handshake", timeout);
        let waited = match connect(&sock, target, timeout, || self.emit(notice)) {
            Ok(waited) => waited,
            Err(e) => return Ok(self.failed(&name, call, &e)),
        };
        let local = local_addr(&sock).map_err(|e| format!("getsockname failed: {e}"))?;
        let sock = LabSocket::new(Kind::Stream, sock, local, Some(target));
        if let Waited::Ready(_) = waited {
            return Ok(self.created(&name, sock, Some(call), format!("connected from {local}")));
        }
        let missing = "the handshake did not finish — a blocking connect() would keep resending its SYN for about 2 minutes, then fail with ETIMEDOUT";
        let outcome = self.gave_up(&name, &call, waited, timeout, missing, false);
        // The kernel is still trying: keep the socket so `sockets` shows it in SYN_SENT.
        self.created(&name, sock, None, String::new());
        self.emit(Event::notice(format!(
            "{name} is still connecting (SYN_SENT in `sockets`); close {name} to give up"
        )));
        Ok(outcome)
    }

    /// Claim the new socket's name, wait (bounded) for a client, accept().
    /// `Ok(Err(_))`: the wait gave up or accept failed, already reported on
    /// the listener. Shared by TCP and unix-domain listeners.
    pub(super) fn accept_next(
        &mut self,
        listener: &str,
        name: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Result<(String, Socket, SockAddr), Outcome>, String> {
        let name = self.claim_name(name, "conn")?;
        // accept() blocks until a connection has finished its handshake;
        // poll first so the wait is bounded and Ctrl-C can end it. A
        // non-blocking listener does not wait: accept() says EAGAIN at once.
        if let Some(timeout) = self.patience(listener, timeout, false)? {
            let waited =
                self.until_readable(listener, "accept()", (timeout, timeout), "a client", "no client connected")?;
            if let Some(gave_up) = waited {
                return Ok(Err(gave_up));
            }
        }
        let accepted = self.open(listener)?.sock.accept();
        Ok(match accepted {
            Ok((sock, peer)) => Ok((name, sock, peer)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let why = "non-blocking, and no connection is waiting in the accept queue — poll the listener for POLLIN first".into();
                Err(self.would_block(listener, "accept()", &e, why))
            }
            Err(e) => Err(self.failed(listener, "accept()", &e)),
        })
    }

    pub(super) fn accept(
        &mut self,
        listener: &str,
        name: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Outcome, String> {
        let l = self.open(listener)?;
        if l.kind == Kind::Unix(super::UnixKind::Listener) {
            return self.unix_accept(listener, name, timeout);
        }
        if l.kind != Kind::Listener {
            return Err(format!("'{listener}' is not listening: accept works on a socket made by tcp listen"));
        }
        let (name, sock, peer) = match self.accept_next(listener, name, timeout)? {
            Ok(accepted) => accepted,
            Err(stopped) => return Ok(stopped),
        };
        let peer = peer.as_socket().ok_or("accepted a non-internet socket")?;
        if !addr::is_loopback(peer) {
            // A wildcard listener can be reached from outside; the lab
            // never talks to another machine, so hang up at once.
            drop(sock);
            return Err(format!(
                "closed a connection from {peer} at once: netlab only talks to this machine (loopback)"
            ));
        }
        let local = local_addr(&sock).map_err(|e| format!("getsockname failed: {e}"))?;
        let detail = format!("new socket {name} for {peer} → {local}");
        // The call is the listener's; the outcome is about the new socket.
        self.call(listener, "accept()", CallResult::ok(detail.clone()));
        Ok(self.created(&name, LabSocket::new(Kind::Stream, sock, local, Some(peer)), None, detail))
    }

    pub(super) fn close(&mut self, name: &str) -> Result<Outcome, String> {
        let file_left = self.unix_file_left(name);
        let s = self.open(name)?;
        let linger = s.sock.linger().ok().flatten();
        // With SO_LINGER on, close() blocks until unsent data is acknowledged
        // or the linger time runs out: say so before it happens.
        if let Ok(Some(linger)) = s.sock.linger()
            && !linger.is_zero()
            && crate::wire::queues::bytes_unsent(s.sock.as_fd()).is_ok_and(|n| n > 0)
        {
            let secs = linger.as_secs();
            self.emit(Event::notice(format!(
                "{name}: SO_LINGER {secs} s and unsent data — close() may block up to {secs} s"
            )));
        }
        let entry = self.entries.iter_mut().find(|e| e.name == name).ok_or_else(|| format!("no socket '{name}'"))?;
        if let Slot::Open(s) = &entry.slot {
            entry.slot = Slot::Closed { kind: s.kind, local: s.local.clone(), peer: s.peer.clone() };
        }
        // Replacing the slot dropped the Socket: that is the close(2).
        let detail = match (linger, file_left) {
            (Some(d), _) if d.is_zero() => {
                "RST sent (SO_LINGER 0): no FIN, no TIME_WAIT; the peer sees ECONNRESET".into()
            }
            (_, Some(note)) => note,
            _ => String::new(),
        };
        let result = CallResult::ok(detail);
        self.call(name, "close()", result.clone());
        Ok(Outcome::of(name, result))
    }

    pub(super) fn shutdown(&mut self, name: &str, how: ShutdownHow) -> Result<Outcome, String> {
        let (how, call) = match how {
            ShutdownHow::Read => (Shutdown::Read, "shutdown(SHUT_RD)"),
            ShutdownHow::Write => (Shutdown::Write, "shutdown(SHUT_WR)"),
            ShutdownHow::Both => (Shutdown::Both, "shutdown(SHUT_RDWR)"),
        };
        let done = self.open(name)?.sock.shutdown(how);
        if let Err(e) = done {
            return Ok(self.failed(name, call, &e));
        }
        if matches!(how, Shutdown::Read | Shutdown::Both)
            && let Some(super::Entry { slot: Slot::Open(s), .. }) = self.entries.iter_mut().find(|e| e.name == name)
        {
            s.read_shut = true;
        }
        let detail = match how {
            Shutdown::Write => "FIN sent: the peer will read EOF; this side can still receive",
            // Linux still delivers what is queued, and even what arrives later.
            Shutdown::Read => "recv() no longer blocks: it returns what is queued, then 0; the peer is not told",
            Shutdown::Both => {
                "FIN sent and reading shut; data the peer still sends gets a RST; the fd stays open until close()"
            }
        };
        // AF_UNIX has no FIN and no RST: the peer just reads EOF, or gets EPIPE.
        let unix_dgram = self
            .open(name)
            .is_ok_and(|s| matches!(s.kind, Kind::Unix(_)) && s.sock.r#type().is_ok_and(|t| t == socket2::Type::DGRAM));
        let detail = match (how, self.open(name).map(|s| s.kind)) {
            (_, Err(_) | Ok(Kind::Listener | Kind::Stream | Kind::Udp)) => detail,
            // Linux passes a shutdown on to the peer only for stream and
            // seqpacket (unix_shutdown): a datagram peer reads no EOF.
            (Shutdown::Read, _) if unix_dgram => {
                "recv() gets only what is already queued; the peer's send() now fails with EPIPE"
            }
            (Shutdown::Write, _) if unix_dgram => {
                "send() on this socket now fails with EPIPE; the peer is not told and reads no EOF (a datagram socket has none)"
            }
            (Shutdown::Both, _) if unix_dgram => {
                "send() fails with EPIPE here and at the peer, which reads no EOF (a datagram socket has none); the fd stays open until close()"
            }
            // Unlike TCP, the peer is told: its send() now fails with EPIPE.
            (Shutdown::Read, _) => "recv() returns what is queued, then 0; the peer's send() now fails with EPIPE",
            (Shutdown::Write, _) => "the peer will read EOF; this side can still receive",
            (Shutdown::Both, _) => "the peer reads EOF and gets EPIPE if it sends; the fd stays open until close()",
        };
        let result = CallResult::ok(detail);
        self.call(name, call, result.clone());
        Ok(Outcome::of(name, result))
    }

    /// socket(); on failure the event is emitted and the outcome returned.
    pub(super) fn new_socket(
        &mut self,
        name: &str,
        addr: SocketAddr,
        ty: Type,
        proto: Protocol,
    ) -> Result<Socket, Box<Outcome>> {
        let kind = if ty == Type::STREAM { "SOCK_STREAM" } else { "SOCK_DGRAM" };
        let call = format!("socket({}, {kind})", family(addr));
        match Socket::new(Domain::for_address(addr), ty, Some(proto)) {
            Ok(s) => {
                self.call(name, call, CallResult::ok(format!("fd {}", std::os::fd::AsRawFd::as_raw_fd(&s))));
                Ok(s)
            }
            Err(e) => Err(Box::new(self.failed(name, call, &e))),
        }
    }

    /// bind(); on failure the event is emitted and the outcome returned.
    pub(super) fn bind(&mut self, name: &str, sock: &Socket, addr: SocketAddr) -> Result<SocketAddr, Box<Outcome>> {
        let call = format!("bind({addr})");
        if !addr::is_loopback(addr) && !addr.ip().is_unspecified() {
            let why = format!(
                "{} is not loopback: netlab binds only 127.0.0.0/8, ::1 or the wildcard (0.0.0.0, ::) — it never talks to other machines",
                addr.ip()
            );
            let result = CallResult::Failed { why };
            self.call(name, call, result.clone());
            return Err(Box::new(Outcome::of(name, result)));
        }
        if let Err(e) = sock.bind(&SockAddr::from(addr)) {
            return Err(Box::new(self.failed(name, call, &e)));
        }
        match local_addr(sock) {
            Ok(local) => {
                let detail = if addr.port() == 0 {
                    format!("bound to {local} (port 0: the kernel chose {})", local.port())
                } else {
                    format!("bound to {local}")
                };
                self.call(name, call, CallResult::ok(detail));
                Ok(local)
            }
            Err(e) => Err(Box::new(self.failed(name, "getsockname()", &e))),
        }
    }

    /// A wait that ended without the event: timed out, or Ctrl-C. A Ctrl-C
    /// is EINTR, as a signal gives a real blocking call. A timeout is EAGAIN
    /// only for calls that SO_RCVTIMEO would end that way (`rcvtimeo`:
    /// recv, recvfrom, accept); otherwise it is netlab's own limit.
    pub(super) fn gave_up(
        &mut self,
        sock: &str,
        call: &str,
        waited: Waited,
        timeout: Duration,
        missing: &str,
        rcvtimeo: bool,
    ) -> Outcome {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let result = match waited {
            Waited::Cancelled => {
                let mut r = super::errno::from_code(nix::errno::Errno::EINTR as i32);
                if let CallResult::Err { why, .. } = &mut r {
                    *why = Some("cancelled with Ctrl-C".into());
                }
                r
            }
            _ if rcvtimeo => {
                let mut r = super::errno::from_code(nix::errno::Errno::EAGAIN as i32);
                if let CallResult::Err { why, .. } = &mut r {
                    *why = Some(format!(
                        "{missing} within {ms} ms — a socket with SO_RCVTIMEO reports that as EAGAIN (--timeout MS waits longer)"
                    ));
                }
                r
            }
            _ => CallResult::TimedOut { after_ms: ms, why: format!("{missing} (--timeout MS waits longer)") },
        };
        self.call(sock, call, result.clone());
        Outcome::of(sock, result)
    }
}
