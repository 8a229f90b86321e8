//! Bytes one connection leaves for another (chat's broadcasts), with an
//! eventfd so the receiving connection's driver — a blocked thread or an
//! event loop — wakes up as soon as something arrives, not at its next tick.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

use nix::sys::eventfd::{EfdFlags, EventFd};

/// Past this many undelivered bytes a mailbox refuses more: a client that
/// never reads must not make the server buffer without limit. Four times
/// what an event loop reads from one client per turn (see event_conn), so
/// a member who reads keeps up with an ordinary fast talker; a flood of
/// tiny lines (each gains a `nick: ` prefix) can still overflow it.
pub const MAILBOX_CAP: usize = 1 << 20;

pub struct Mailbox {
    pending: Mutex<Vec<u8>>,
    wake: EventFd,
}

impl Mailbox {
    pub fn new() -> std::io::Result<Self> {
        let wake = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
        Ok(Mailbox { pending: Mutex::new(Vec::new()), wake })
    }

    /// Leave `bytes`; false (and nothing left) if the mailbox is full.
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut pending = match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if pending.len() + bytes.len() > MAILBOX_CAP {
            return false;
        }
        let was_empty = pending.is_empty();
        pending.extend_from_slice(bytes);
        drop(pending);
        // One wake-up per batch, not one syscall per line: bytes joining a
        // non-empty mailbox are taken with the ones that woke the reader.
        if was_empty {
            let _ = self.wake.write(1);
        }
        true
    }

    /// Everything left so far; resets the wake-up.
    pub fn take(&self) -> Vec<u8> {
        // Reset first: a push racing with us re-arms it, so nothing is missed.
        let _ = self.wake.read();
        match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// Reset the wake-up but leave the bytes: for a connection that has no
    /// room for them yet (it would otherwise be woken again and again).
    /// It must come back for them once it has room.
    pub fn quiet(&self) {
        let _ = self.wake.read();
    }

    /// Readable (POLLIN / EPOLLIN) while something is waiting.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    fn readable(m: &Mailbox) -> bool {
        let mut fds = [PollFd::new(m.fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
    }

    #[test]
    fn push_wakes_and_take_resets() {
        let m = Mailbox::new().unwrap();
        assert!(!readable(&m));
        assert!(m.push(b"a: hi\n"));
        assert!(m.push(b"b: yo\n"));
        assert!(readable(&m));
        assert_eq!(m.take(), b"a: hi\nb: yo\n");
        assert!(!readable(&m));
        assert!(m.take().is_empty());
    }

    #[test]
    fn a_full_mailbox_refuses() {
        let m = Mailbox::new().unwrap();
        assert!(m.push(&vec![0; MAILBOX_CAP]));
        assert!(!m.push(b"x"));
        assert_eq!(m.take().len(), MAILBOX_CAP);
    }
}
