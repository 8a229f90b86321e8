//! A listening socket's accept queue, asked via `getsockopt(TCP_INFO)`.
//!
//! `/proc/net/tcp` shows how many finished connections wait for `accept()`
//! (its `rx_queue` column for a LISTEN row), but not the limit: that
//! column pair's other half is always 0 for a listener. For a LISTEN socket
//! Linux reuses two `tcp_info` fields for both numbers (`tcp_get_info()`:
//! `tcpi_unacked` = accept queue length, `tcpi_sacked` = the backlog that
//! `listen()` set, after the cap by `net.core.somaxconn`). `ss -lt` shows
//! the same pair as Recv-Q and Send-Q.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

/// The accept queue of one listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptQueue {
    /// Connections that finished the handshake and wait for `accept()`.
    pub queued: u32,
    /// The backlog in force: `listen(N)` capped at `net.core.somaxconn`.
    /// Linux drops new SYNs once `queued` is *greater* than this.
    pub backlog: u32,
}

/// Read the accept queue of a listening TCP socket. Any other socket gives
/// numbers with other meanings, so callers ask only for listeners.
pub fn accept_queue(fd: BorrowedFd<'_>) -> io::Result<AcceptQueue> {
    // Only the head of `struct tcp_info` is needed: 8 one-byte fields, then
    // u32s — rto, ato, snd_mss, rcv_mss, unacked, sacked. The kernel copies
    // min(len, sizeof) bytes, so a short buffer is the documented way to ask
    // for a prefix (and works on every kernel since 2.6).
    let mut head = [0u32; 8];
    let mut len = libc::socklen_t::try_from(std::mem::size_of_val(&head)).map_err(io::Error::other)?;
    // SAFETY: `fd` is open for the borrow's lifetime; the pointer and `len`
    // describe our local `head`, which the kernel fills with at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_INFO, head.as_mut_ptr().cast(), &mut len)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < std::mem::size_of_val(&head) {
        return Err(io::Error::other("the kernel returned a short tcp_info"));
    }
    Ok(AcceptQueue { queued: head[6], backlog: head[7] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::AsFd;

    #[test]
    fn a_listener_reports_its_backlog_and_queued_connections() {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        sock.bind(&any.into()).unwrap();
        sock.listen(3).unwrap();
        assert_eq!(accept_queue(sock.as_fd()).unwrap(), AcceptQueue { queued: 0, backlog: 3 });
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        // On loopback the handshake is over when connect() returns.
        assert_eq!(accept_queue(sock.as_fd()).unwrap().queued, 1);
    }
}
