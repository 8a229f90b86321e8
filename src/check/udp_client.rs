//! A UDP client for the datagram suites: one socket `connect()`ed to the
//! server, so only its replies arrive and a dead server shows as
//! ECONNREFUSED (the kernel's ICMP port unreachable), every send and
//! receive in the test's byte log, every wait bounded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::PollFlags;

use super::Cx;
use super::conn::End;
use super::log::ByteLog;
use super::report::{Failure, Logged};
use crate::lab::cancel::{self, Waited};

/// The largest UDP payload over IPv4 is 65,507 bytes; this holds any.
const BUF: usize = 64 * 1024;

pub struct Udp {
    socket: UdpSocket,
    pub name: String,
    log: ByteLog,
    timeout: Duration,
}

impl Udp {
    pub fn open(cx: &Cx) -> Result<Udp, Failure> {
        let name = cx.name("u");
        let any = if cx.addr.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) };
        let socket = UdpSocket::bind(SocketAddr::new(any, 0))
            .and_then(|s| s.connect(cx.addr).map(|()| s))
            .map_err(|e| Failure::new(format!("cannot make a UDP socket for {}: {e}", cx.addr)))?;
        let local = socket.local_addr().map(|a| a.to_string()).unwrap_or_default();
        cx.log.add(&name, Logged::Connected { local });
        Ok(Udp { socket, name, log: cx.log.clone(), timeout: cx.timeout })
    }

    /// One `send()`: one datagram.
    pub fn send(&self, datagram: &[u8]) -> Result<(), Failure> {
        match self.socket.send(datagram) {
            Ok(_) => {
                self.log.sent(&self.name, datagram);
                Ok(())
            }
            Err(e) => Err(gone(&e).unwrap_or_else(|| Failure::new(format!("sendto failed: {e}")))),
        }
    }

    /// The next datagram, or why none came within the timeout.
    pub fn recv(&self) -> Result<Vec<u8>, End> {
        match cancel::wait_fd(self.socket.as_fd(), PollFlags::POLLIN, self.timeout) {
            Ok(Waited::Ready(_)) => {}
            Ok(Waited::TimedOut) => return Err(End::TimedOut(self.timeout)),
            Ok(Waited::Cancelled) => return Err(End::Cancelled),
            Err(e) => return Err(End::Error(e.to_string())),
        }
        let mut buf = vec![0u8; BUF];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                self.log.received(&self.name, &buf);
                Ok(buf)
            }
            // ICMP port unreachable, reported on the connected socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                self.log.note(&self.name, "ECONNREFUSED: nothing is bound to the server's port any more");
                Err(End::Reset)
            }
            Err(e) => Err(End::Error(e.to_string())),
        }
    }

    /// A request and its one reply, judged by `expect`; the failure's
    /// sentence comes from `why`.
    pub fn ask(&self, request: &[u8]) -> Result<Vec<u8>, Failure> {
        self.send(request)?;
        self.recv().map_err(|end| no_reply(&end).sent(request))
    }
}

/// "the server is gone", when an error says so.
fn gone(e: &std::io::Error) -> Option<Failure> {
    (e.kind() == std::io::ErrorKind::ConnectionRefused).then(|| {
        Failure::new(
            "nothing is bound to your server's port any more: it is not running (did an earlier test kill it?)",
        )
    })
}

/// The failure for a request that got no datagram back.
pub fn no_reply(end: &End) -> Failure {
    match end {
        End::Reset => Failure::new(
            "your server is gone: the kernel answered with ICMP port unreachable (ECONNREFUSED) — did a datagram \
             crash it?",
        ),
        other => Failure::new(format!("no reply datagram: {}", other.describe())),
    }
}
