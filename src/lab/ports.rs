//! Ports as the kernel hands them out: the ephemeral range port 0 and
//! clients' source ports come from, and `addr SOCK` (getsockname and
//! getpeername) to see which port a socket got and who is at the other end.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use nix::errno::Errno;

use super::{Kind, Lab, Outcome};
use crate::event::CallResult;

pub const LOCAL_PORT_RANGE: &str = "net.ipv4.ip_local_port_range";
pub const UNPRIVILEGED_PORT_START: &str = "net.ipv4.ip_unprivileged_port_start";

/// net.ipv4.ip_local_port_range: where the kernel picks a port for bind()
/// to port 0 and for a connect() from an unbound socket.
pub fn ephemeral_range() -> Result<RangeInclusive<u16>, String> {
    let text = super::sysctl::value(LOCAL_PORT_RANGE)?;
    parse_range(&text).ok_or_else(|| format!("{LOCAL_PORT_RANGE} holds '{text}', not two ports"))
}

fn parse_range(text: &str) -> Option<RangeInclusive<u16>> {
    let mut words = text.split_whitespace().map(str::parse::<u16>);
    let (low, high) = (words.next()?.ok()?, words.next()?.ok()?);
    Some(low..=high)
}

/// net.ipv4.ip_unprivileged_port_start: ports below it need
/// CAP_NET_BIND_SERVICE to bind (1024 by default; containers often set 0).
pub fn unprivileged_port_start() -> Result<u32, String> {
    let text = super::sysctl::value(UNPRIVILEGED_PORT_START)?;
    text.parse().map_err(|_| format!("{UNPRIVILEGED_PORT_START} holds '{text}', not a port"))
}

/// "(in the ephemeral range 32768–60999)" for a local address.
fn range_note(local: SocketAddr) -> String {
    match ephemeral_range() {
        Ok(r) if r.contains(&local.port()) => {
            format!(" — port {} is in the ephemeral range {}–{}", local.port(), r.start(), r.end())
        }
        Ok(r) => format!(" — port {} is outside the ephemeral range {}–{}", local.port(), r.start(), r.end()),
        Err(_) => String::new(),
    }
}

impl Lab {
    /// `addr SOCK`: getsockname() then getpeername(). The outcome's value is
    /// the local address; its result is getpeername's (ENOTCONN when there
    /// is no peer), whose detail starts with the peer's address.
    pub(super) fn addr(&mut self, name: &str) -> Result<Outcome, String> {
        let s = self.open(name)?;
        let kind = s.kind;
        let local = s.sock.local_addr().map(|a| a.as_socket());
        let peer = s.sock.peer_addr().map(|a| a.as_socket());
        let local = match local {
            Ok(Some(local)) => local,
            Ok(None) => return Err(format!("'{name}' is a unix socket: sockets shows its name and its peer's")),
            Err(e) => return Ok(self.failed(name, "getsockname()", &e)),
        };
        self.call(name, "getsockname()", CallResult::ok(format!("{local}{}", range_note(local))));
        let result = match peer {
            Ok(Some(peer)) => CallResult::ok(format!("{peer} (the other end of the connection)")),
            Ok(None) => return Err(format!("'{name}' has a peer that is not an internet address")),
            Err(e) => {
                let mut r = super::errno::call_error(&e);
                if let CallResult::Err { why, .. } = &mut r
                    && e.raw_os_error() == Some(Errno::ENOTCONN as i32)
                {
                    *why = Some(no_peer_reason(kind).to_string());
                }
                r
            }
        };
        self.call(name, "getpeername()", result.clone());
        Ok(Outcome { value: Some(local.to_string()), ..Outcome::of(name, result) })
    }
}

fn no_peer_reason(kind: Kind) -> &'static str {
    match kind {
        Kind::Listener => {
            "a listening socket has no peer: it only hands out connections — each socket accept() returns has its own"
        }
        Kind::Udp => "an unconnected UDP socket has no peer: recvfrom() tells you who sent each datagram",
        Kind::Stream => "the connection is gone (reset or never made): there is no other end any more",
        Kind::Unix(_) => "this unix socket is not connected, so it has no peer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_file_format() {
        assert_eq!(parse_range("32768\t60999\n"), Some(32768..=60999));
        assert_eq!(parse_range("1024"), None);
        assert!(ephemeral_range().is_ok_and(|r| r.start() <= r.end()));
    }
}
