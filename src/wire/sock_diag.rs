//! One TCP socket's queues, asked of the kernel by its exact addresses
//! through `NETLINK_SOCK_DIAG` (man 7 sock_diag), the interface `ss` uses.
//!
//! Reading `/proc/net/tcp` walks the kernel's whole connection hash table
//! — about 5 ms on a machine with lots of memory, however few sockets
//! exist — so a test that asks after every byte it sends would crawl. A
//! sock_diag request names one socket and the kernel looks it up in its
//! hash, the way it finds the socket for an arriving packet.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_HDRLEN: usize = 16;
const IPPROTO_TCP: u8 = 6;
/// `struct inet_diag_req_v2`: 8 bytes, then a 48-byte `inet_diag_sockid`.
const REQ_LEN: usize = 8 + 48;
/// `struct inet_diag_msg`: family, state, timer, retrans, the sockid,
/// then expires, rqueue, wqueue, uid, inode.
const MSG_LEN: usize = 4 + 48 + 20;

/// What the kernel says of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketQueues {
    /// The TCP state code (1 ESTABLISHED … 10 LISTEN), as in /proc/net/tcp.
    pub state: u8,
    /// ESTABLISHED: bytes received and not yet read by the application;
    /// LISTEN: connections waiting in the accept queue.
    pub rqueue: u32,
    /// ESTABLISHED: bytes sent and not yet acknowledged; LISTEN: the backlog.
    pub wqueue: u32,
}

fn put_addr(buf: &mut [u8], ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => buf[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => buf[..16].copy_from_slice(&v6.octets()),
    }
}

/// The request: "the TCP socket whose local end is `local` and remote end
/// `remote`" (`remote` 0.0.0.0:0 or [::]:0 finds a listener).
fn request(local: SocketAddr, remote: SocketAddr) -> Vec<u8> {
    let len = NLMSG_HDRLEN + REQ_LEN;
    let mut buf = vec![0u8; len];
    buf[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    buf[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    buf[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    let req = &mut buf[NLMSG_HDRLEN..];
    req[0] = if local.is_ipv4() { nix::libc::AF_INET as u8 } else { nix::libc::AF_INET6 as u8 };
    req[1] = IPPROTO_TCP;
    // idiag_states: every state.
    req[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    let id = &mut req[8..];
    id[0..2].copy_from_slice(&local.port().to_be_bytes());
    id[2..4].copy_from_slice(&remote.port().to_be_bytes());
    put_addr(&mut id[4..20], local.ip());
    put_addr(&mut id[20..36], remote.ip());
    // idiag_if 0, then the cookie INET_DIAG_NOCOOKIE: "match by address".
    id[40..48].fill(0xff);
    buf
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse one reply: the socket and its remote port, or `Ok(None)` if
/// there is none (ENOENT).
fn parse(reply: &[u8]) -> io::Result<Option<(SocketQueues, u16)>> {
    if reply.len() < NLMSG_HDRLEN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "short netlink reply"));
    }
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    let body = &reply[NLMSG_HDRLEN..];
    if kind == NLMSG_ERROR {
        let errno = body.get(..4).map_or(0, |_| read_u32(body, 0) as i32);
        return match -errno {
            0 | nix::libc::ENOENT => Ok(None),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY || body.len() < MSG_LEN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unexpected netlink message type {kind}")));
    }
    let remote_port = u16::from_be_bytes([body[6], body[7]]);
    Ok(Some((
        SocketQueues { state: body[1], rqueue: read_u32(body, 4 + 48 + 4), wqueue: read_u32(body, 4 + 48 + 8) },
        remote_port,
    )))
}

/// The queues of the TCP socket `local` ↔ `remote`, if it exists.
pub fn tcp(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<SocketQueues>> {
    let fd = socket(AddressFamily::Netlink, SockType::Datagram, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkSockDiag)?;
    // The kernel answers at once; the timeout only guards against a hang.
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::from(nix::libc::timeval { tv_sec: 1, tv_usec: 0 }))?;
    sendto(fd.as_raw_fd(), &request(local, remote), &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
    let mut reply = [0u8; 1024];
    let n = recv(fd.as_raw_fd(), &mut reply, MsgFlags::empty())?;
    // The kernel looks the pair up as it would for an arriving packet, so
    // a connection that does not exist finds the listener on its port.
    Ok(parse(&reply[..n])?.filter(|(_, port)| *port == remote.port()).map(|(q, _)| q))
}

/// A listener's accept queue, if `addr` has one (a listener on the
/// wildcard answers for loopback too: the lookup is the kernel's own).
pub fn listener(addr: SocketAddr) -> io::Result<Option<SocketQueues>> {
    let any: IpAddr = if addr.is_ipv4() { [0u8; 4].into() } else { [0u16; 8].into() };
    tcp(addr, SocketAddr::new(any, 0))
}

/// For tests and callers that poll: how long one lookup may take.
pub const PATIENCE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_connection_s_unread_bytes_are_seen_from_both_ends() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"hello").unwrap();
        let (s_local, s_peer) = (server.local_addr().unwrap(), server.peer_addr().unwrap());
        let found =
            crate::lab::cancel::wait_until(PATIENCE, || tcp(s_local, s_peer).ok().flatten().filter(|q| q.rqueue == 5));
        let q = found.expect("the server's socket holds 5 unread bytes");
        assert_eq!(q.state, 1, "ESTABLISHED");
        let none = tcp(s_local, "127.0.0.1:1".parse().unwrap()).unwrap();
        assert_eq!(none, None, "no such connection");
    }

    #[test]
    fn a_listener_s_accept_queue_is_counted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let _a = TcpStream::connect(addr).unwrap();
        let _b = TcpStream::connect(addr).unwrap();
        let q = crate::lab::cancel::wait_until(PATIENCE, || listener(addr).ok().flatten().filter(|q| q.rqueue == 2));
        let q = q.expect("two connections wait for accept()");
        assert_eq!(q.state, 10, "LISTEN");
        assert!(q.wqueue >= 1, "the backlog");
    }

    #[test]
    fn a_wildcard_listener_answers_for_loopback() {
        let l = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let q = listener(SocketAddr::new([127, 0, 0, 1].into(), port)).unwrap();
        assert_eq!(q.map(|q| q.state), Some(10));
    }
}
