//! UDP serving: `netlab serve upper --udp` and `netlab serve time`.
//!
//! One socket answers every client: recvfrom gives a datagram and who sent
//! it, sendto answers that address. There is no connection, no accept and
//! nothing to keep per client, so there is nothing for a concurrency model
//! to do — one loop serves everyone, one datagram at a time.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self as nixsock, MsgFlags, SockaddrStorage};

use super::config::{Config, Model, Proto};
use super::{Log, Stop, TICK};
use crate::event::{CallResult, Event};
use crate::render::hexdump::quote_text;

/// Every UDP datagram fits: the largest IPv4 payload is 65,507 bytes.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Requests and replies up to this size are quoted in the log.
const SHOWN: usize = 64;

/// Bind the server's one socket (non-blocking: the loop polls it).
pub fn bind(addr: SocketAddr) -> Result<UdpSocket, String> {
    let socket = UdpSocket::bind(addr).map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
    socket.set_nonblocking(true).map_err(|e| format!("cannot make the UDP socket non-blocking: {e}"))?;
    Ok(socket)
}

/// The reply to one datagram.
pub fn reply(proto: Proto, request: &[u8]) -> Vec<u8> {
    match proto {
        Proto::Time => crate::proto::time::reply(request),
        // Only upper and time pass Protocol::new with --udp; upper-casing is
        // the safe answer for anything else.
        _ => request.to_ascii_uppercase(),
    }
}

/// Answer datagrams until `stop`; returns how many were answered.
pub fn serve(socket: &UdpSocket, local: SocketAddr, config: &Config, log: &Log, stop: &Stop) -> usize {
    log.emit(&Event::notice(format!("listening on {local} ({}, udp)", config.proto.name())));
    if config.model != Model::default() {
        log.emit(&Event::notice(format!(
            "--model {} does not apply to UDP: one socket answers every datagram in turn",
            config.model.name()
        )));
    }
    if stop.on_signals {
        log.emit(&Event::notice(super::STOP_HINT));
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut answered = 0;
    while !stop.is_set() {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(TICK.as_millis() as u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                log.call("udp", "poll", CallResult::Failed { why: e.to_string() });
                break;
            }
        }
        let (real, peer) = match receive(socket, &mut buf) {
            Ok(Some(got)) => got,
            Ok(None) => continue,
            // One bad datagram (or a stray ICMP error) is not the end of the server.
            Err(e) => {
                log.call("udp", "recvfrom", CallResult::Failed { why: e.to_string() });
                continue;
            }
        };
        let request = &buf[..real.min(buf.len())];
        let answer = reply(config.proto, request);
        let name = format!("dgram#{}", answered + 1);
        let mut detail = format!("{real} bytes from {peer}{}", shown(request));
        if real > buf.len() {
            detail.push_str(&format!(" — TRUNCATED to {} (MSG_TRUNC)", buf.len()));
        }
        log.call(&name, "recvfrom", CallResult::ok(detail));
        match socket.send_to(&answer, peer) {
            Ok(n) => {
                answered += 1;
                log.call(&name, "sendto", CallResult::ok(format!("{n} bytes to {peer}{}", shown(&answer))));
            }
            Err(e) => log.call(&name, "sendto", CallResult::Failed { why: format!("to {peer}: {e}") }),
        }
    }
    let plural = if answered == 1 { "" } else { "s" };
    log.emit(&Event::notice(format!("shut down: {answered} datagram{plural} answered, socket closed")));
    answered
}

/// One datagram: its real length (MSG_TRUNC: even if longer than `buf`)
/// and its sender; `None` if nothing was there after all.
fn receive(socket: &UdpSocket, buf: &mut [u8]) -> std::io::Result<Option<(usize, SocketAddr)>> {
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let flags = MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT;
    match nixsock::recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, None, flags) {
        Ok(msg) => {
            let peer = msg.address.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|v4| SocketAddr::from(*v4))
                    .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6)))
            });
            Ok(peer.map(|p| (msg.bytes, p)))
        }
        Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn shown(bytes: &[u8]) -> String {
    if bytes.len() <= SHOWN { format!("  {}", quote_text(bytes)) } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_cases_and_time_formats() {
        assert_eq!(reply(Proto::Upper, b"hello, World 1"), b"HELLO, WORLD 1");
        assert_eq!(reply(Proto::Upper, b""), b"");
        assert!(crate::proto::time::is_error(&reply(Proto::Time, b"%Q")));
        let year = String::from_utf8(reply(Proto::Time, b"%Y")).unwrap();
        assert!(year.len() == 4 && year.starts_with("20"), "{year}");
    }

    #[test]
    fn answers_datagrams_until_stopped() {
        let config = Config::new(Proto::Upper, Model::Thread);
        let socket = bind(config.addr).unwrap();
        let local = socket.local_addr().unwrap();
        let stop = Stop::manual();
        let server = {
            let stop = stop.clone();
            std::thread::spawn(move || serve(&socket, local, &config, &Log::discard(), &stop))
        };
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; MAX_DATAGRAM];
        for msg in [&b"one"[..], b"", &[b'x'; 60000]] {
            client.send_to(msg, local).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&msg.to_ascii_uppercase()[..], local));
        }
        stop.stop();
        assert_eq!(server.join().unwrap(), 3);
    }
}
