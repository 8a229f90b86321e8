//! How many bytes sit in a socket's kernel queues, asked via `ioctl`.
//!
//! `send()` returning does not mean the peer got the data — only that the
//! kernel copied it into the socket's send queue. Likewise data can arrive and
//! wait in the receive queue long before the application calls `recv()`.
//! These two ioctls make both queues visible for a socket you hold.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

mod sys {
    use nix::libc;
    // FIONREAD is the same request number as SIOCINQ; TIOCOUTQ as SIOCOUTQ.
    nix::ioctl_read_bad!(inq, libc::FIONREAD, libc::c_int);
    nix::ioctl_read_bad!(outq, libc::TIOCOUTQ, libc::c_int);
}

fn to_usize(n: nix::libc::c_int) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::other(format!("kernel reported {n} bytes")))
}

/// Bytes a `recv()` could return right now (`ioctl(FIONREAD)`, a.k.a. `SIOCINQ`).
///
/// For TCP (a byte stream) this is everything received and not yet read.
/// For UDP it is the size of the *next datagram only* (man 7 udp): datagram
/// boundaries are preserved, and one `recv()` never returns more than one.
/// A listening TCP socket reports an error (EINVAL).
pub fn bytes_readable(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: `fd` is a valid open descriptor for the borrow's lifetime, and
    // FIONREAD writes exactly one c_int through the pointer to our local `n`.
    unsafe { sys::inq(fd.as_raw_fd(), &mut n) }?;
    to_usize(n)
}

/// Bytes still in the send queue (`ioctl(SIOCOUTQ)`, same number as `TIOCOUTQ`).
///
/// For TCP this counts data not yet *acknowledged* by the peer (man 7 tcp):
/// bytes stay queued after transmission so they can be retransmitted if lost.
/// For UDP it counts data not yet handed to the network device.
/// Watching this reach 0 is how you know the peer's TCP stack has the data
/// (not that the peer application has read it).
pub fn bytes_unsent(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: `fd` is a valid open descriptor for the borrow's lifetime, and
    // SIOCOUTQ writes exactly one c_int through the pointer to our local `n`.
    unsafe { sys::outq(fd.as_raw_fd(), &mut n) }?;
    to_usize(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, poll};
    use std::io::Write;
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    fn wait_readable(fd: BorrowedFd<'_>, ms: u16) -> bool {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        poll(&mut fds, ms).unwrap() > 0
    }

    #[test]
    fn tcp_queues_on_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (receiver, _) = listener.accept().unwrap();
        sender.write_all(b"0123456789").unwrap();
        assert!(wait_readable(receiver.as_fd(), 2000), "data never arrived");
        assert_eq!(bytes_readable(receiver.as_fd()).unwrap(), 10);

        // Loopback ACKs almost at once; poll (nothing to read) as a short wait.
        let deadline = Instant::now() + Duration::from_secs(2);
        while bytes_unsent(sender.as_fd()).unwrap() != 0 {
            assert!(Instant::now() < deadline, "send queue never drained");
            wait_readable(sender.as_fd(), 10);
        }
    }

    #[test]
    fn udp_reports_next_datagram_only() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"abc", rx.local_addr().unwrap()).unwrap();
        tx.send_to(b"defgh", rx.local_addr().unwrap()).unwrap();
        assert!(wait_readable(rx.as_fd(), 2000), "datagram never arrived");
        assert_eq!(bytes_readable(rx.as_fd()).unwrap(), 3);
    }
}
