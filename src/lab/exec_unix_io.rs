//! Moving bytes on unix sockets: one recv for every type, and sendto.
//!
//! SOCK_STREAM is a byte stream like TCP. SOCK_DGRAM and SOCK_SEQPACKET
//! keep message boundaries: one recv returns one message, and a buffer
//! too small for it truncates it (MSG_TRUNC gives the real length).

use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self as nixsock, MsgFlags};
use socket2::Type;

use super::addr::AddrSpec;
use super::endpoint::UnixName;
use super::exec_io::Ready;
use super::payload::Payload;
use super::{Kind, Lab, Outcome, UnixKind};
use crate::event::{CallResult, Direction, Event};

impl Lab {
    /// `recv` and `recvfrom` on a unix socket (`call` says which was typed).
    pub(super) fn unix_recv(
        &mut self,
        name: &str,
        size: usize,
        peek: bool,
        timeout: Option<Duration>,
        call: &str,
    ) -> Result<Outcome, String> {
        let s = self.open(name)?;
        if s.kind == Kind::Unix(UnixKind::Listener) {
            return Err(format!(
                "'{name}' is a listening socket: it only accepts; {call} on what accept {name} gives you"
            ));
        }
        let ty = s.sock.r#type().map_err(|e| format!("getsockopt(SO_TYPE) failed: {e}"))?;
        let messages = ty != Type::STREAM;
        let call = if peek { format!("{call}({size}, MSG_PEEK)") } else { format!("{call}({size})") };
        let mut buf = vec![0u8; size];
        // MSG_TRUNC: the return value is the message's real length even
        // when the buffer was too small (man 7 unix, man 2 recv).
        let mut flags = if messages { MsgFlags::MSG_TRUNC } else { MsgFlags::empty() };
        if peek {
            flags |= MsgFlags::MSG_PEEK;
        }
        let timeout = self.patience(name, timeout, false)?;
        // The sender of a datagram, peeked before the read. (nix's recvmsg
        // cannot be asked for it: it panics on the empty address an
        // unnamed sender leaves.) A dup'd fd, as `self` is busy waiting.
        let peeker = if ty == Type::DGRAM { Some(s.sock.try_clone().map_err(|e| e.to_string())?) } else { None };
        let read = |fd, dontwait: MsgFlags| {
            let from = match &peeker {
                Some(p) => {
                    let mut nothing: [MaybeUninit<u8>; 0] = [];
                    let peeked = p.recv_from_with_flags(&mut nothing, (MsgFlags::MSG_PEEK | dontwait).bits());
                    let (_, addr) = peeked.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
                    Some(UnixName::from_sockaddr(&addr).unwrap_or(UnixName::Unnamed))
                }
                None => None,
            };
            let mut iov = [IoSliceMut::new(&mut buf)];
            nixsock::recvmsg::<()>(fd, &mut iov, None, flags | dontwait).map(|msg| (msg.bytes, from))
        };
        let (real, from) = match self.read_when_ready(name, &call, timeout, "data", "nothing arrived", read)? {
            Ready::Read(got) => got,
            Ready::Stopped(outcome) => return Ok(outcome),
        };
        buf.truncate(real.min(size));
        let n = buf.len();
        let mut detail = match (n, ty) {
            _ if real > size => {
                let lost = real - size;
                let rest = if lost == 1 { "the other byte is".to_string() } else { format!("the other {lost} are") };
                format!("{n} bytes — TRUNCATED: the message was {real} bytes (MSG_TRUNC); {rest} gone")
            }
            (0, Type::DGRAM) => "0 bytes — an empty datagram: still one message, not EOF".to_string(),
            (0, Type::SEQPACKET) if !self.open(name).is_ok_and(|s| peer_gone(s.sock.as_fd())) => {
                "0 bytes — an empty record: one message with no data, not EOF (the peer is still there); recv() returns 0 at EOF too, so seqpacket protocols avoid empty messages".to_string()
            }
            (0, _) if self.open(name)?.read_shut => "0 bytes: this side called shutdown(SHUT_RD)".to_string(),
            (0, _) => "0 bytes: EOF — the peer closed (recv will keep returning 0)".to_string(),
            (_, Type::STREAM) => format!("{n} bytes"),
            _ => format!("{n} bytes: one whole message"),
        };
        match from {
            Some(UnixName::Unnamed) => detail.push_str(" (from an unnamed socket)"),
            Some(from) => detail.push_str(&format!(" (from {})", self.shown(&from))),
            None => {}
        }
        if peek && n > 0 {
            detail.push_str(" (peeked: still queued)");
        }
        self.call(name, call, CallResult::ok(detail));
        if n > 0 {
            self.emit(Event::bytes(name, Direction::Received, &buf));
        }
        Ok(Outcome {
            sock: Some(name.into()),
            result: Some(CallResult::ok("")),
            bytes: Some(buf),
            real_len: (real > size).then_some(real),
            ..Outcome::default()
        })
    }

    /// `sendto` from a unix datagram socket: to a path, an @name, or a socket's name.
    pub(super) fn unix_send_to(&mut self, name: &str, target: &AddrSpec, payload: &Payload) -> Result<Outcome, String> {
        let data = payload.bytes()?;
        let target = match target {
            AddrSpec::Unix(spec) => self.unix_target(spec)?,
            AddrSpec::Name(n) => self.unix_target(&super::command_unix::UnixSpec::Word(n.clone()))?,
            AddrSpec::Addr(a) => {
                return Err(format!("{a} is an internet address: a unix socket sends to a path, @name or socket name"));
            }
        };
        let sockaddr = target.to_sockaddr().ok_or("an unnamed socket cannot be sent to")?.map_err(|e| e.to_string())?;
        let call = format!("sendto({}, {})", self.shown(&target), data.len());
        // A unix datagram to a full receiver would block; say so instead.
        let flags = nix::libc::MSG_NOSIGNAL | nix::libc::MSG_DONTWAIT;
        let sent = self.open(name)?.sock.send_to_with_flags(&data, &sockaddr, flags);
        if let Err(e) = sent {
            let mut result = super::errno::call_error(&e);
            if let (CallResult::Err { why, .. }, Some(nix::libc::EAGAIN)) = (&mut result, e.raw_os_error()) {
                *why = Some("the receiver's queue is full: unlike UDP, a unix datagram is never dropped — a blocking sendto waits".into());
            }
            self.call(name, call, result.clone());
            return Ok(Outcome::of(name, result));
        }
        self.call(name, call, CallResult::ok(format!("one datagram of {} bytes", data.len())));
        Ok(self.sent(name, data))
    }
}

/// Has the peer closed (or shut down its writing side)? POLLRDHUP says so
/// without reading; any event poll reports for it alone means yes.
fn peer_gone(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::from_bits_retain(nix::libc::POLLRDHUP))];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}
