//! Bytes one connection leaves for another (chat's broadcasts), with an
//! eventfd so the receiving connection's driver — a blocked thread or an
//! event loop — wakes up as soon as something arrives, not at its next tick.
//!
//! A mailbox also tells senders when to wait. Past [`MAILBOX_SOFT`] a
//! sender is asked to hold its line ([`Mailbox::admit`]) and is woken when
//! the owner takes its mail: a member who reads, however much later than a
//! flooder writes, loses nothing — the flooder is slowed instead. A
//! mailbox left full for [`PATIENCE`] belongs to a member who is not
//! reading: senders stop waiting for it, and what does not fit under
//! [`MAILBOX_CAP`] is dropped for it alone.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};

/// Past this many undelivered bytes a mailbox refuses more: a client that
/// never reads must not make the server buffer without limit.
pub const MAILBOX_CAP: usize = 1 << 20;

/// A line that would take a mailbox past this many bytes waits, and so
/// does its sender (see the module doc). Well under [`MAILBOX_CAP`], so
/// joins and leaves, which never wait, still fit.
pub const MAILBOX_SOFT: usize = 256 * 1024;

/// How long a mailbox may stay over [`MAILBOX_SOFT`] without being taken
/// before its member counts as not reading. Senders wait at most this
/// long for a member who never reads, once; after that lines for it are
/// dropped at once until it reads again. A member who reads takes its
/// mail within milliseconds of a flood. One second: long enough for a
/// reader on a loaded machine, short enough that the room's one pause for
/// a member who never reads is shorter than a client's usual 2 s patience
/// (`netlab check`'s default timeout).
pub const PATIENCE: Duration = Duration::from_secs(1);

pub struct Mailbox {
    pending: Mutex<Pending>,
    wake: EventFd,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Since when a line has not fit under MAILBOX_SOFT; reset by take().
    full_since: Option<Instant>,
    /// Senders holding a line until this mailbox is taken.
    waiters: Vec<Weak<Mailbox>>,
}

/// What [`Mailbox::admit`] says about a line of some length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// It fits: deliver it.
    Room,
    /// Full: hold the line; the sender is woken when the mailbox is taken,
    /// and may stop waiting at `until` (then the member is not reading).
    Wait { until: Instant },
    /// Full for PATIENCE and not taken: the member is not reading, so
    /// nobody waits for it.
    NotReading,
}

impl Mailbox {
    pub fn new() -> std::io::Result<Self> {
        let wake = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
        Ok(Mailbox { pending: Mutex::new(Pending::default()), wake })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A thread that panicked while holding the lock left usable bytes.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leave `bytes`; false (and nothing left) if the mailbox is full.
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut pending = self.lock();
        if pending.bytes.len() + bytes.len() > MAILBOX_CAP {
            return false;
        }
        let was_empty = pending.bytes.is_empty();
        pending.bytes.extend_from_slice(bytes);
        if pending.bytes.len() > MAILBOX_SOFT && pending.full_since.is_none() {
            pending.full_since = Some(Instant::now());
        }
        drop(pending);
        // One wake-up per batch, not one syscall per line: bytes joining a
        // non-empty mailbox are taken with the ones that woke the reader.
        if was_empty {
            let _ = self.wake.write(1);
        }
        true
    }

    /// Everything left so far; resets the wake-up, and wakes the senders
    /// that were waiting for room here.
    pub fn take(&self) -> Vec<u8> {
        // Reset first: a push racing with us re-arms it, so nothing is missed.
        let _ = self.wake.read();
        let mut pending = self.lock();
        pending.full_since = None;
        let waiters = std::mem::take(&mut pending.waiters);
        let bytes = std::mem::take(&mut pending.bytes);
        drop(pending);
        wake_all(&waiters);
        bytes
    }

    /// May a line of `len` bytes be left now? If not, `waiter` (the
    /// sender's own mailbox) is woken when this one is taken.
    pub fn admit(&self, len: usize, now: Instant, waiter: &Arc<Mailbox>) -> Admit {
        let mut pending = self.lock();
        if pending.bytes.len() + len <= MAILBOX_SOFT {
            return Admit::Room;
        }
        let since = *pending.full_since.get_or_insert(now);
        if now >= since + PATIENCE {
            return Admit::NotReading;
        }
        if !pending.waiters.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(waiter))) {
            pending.waiters.push(Arc::downgrade(waiter));
        }
        Admit::Wait { until: since + PATIENCE }
    }

    /// Would [`Mailbox::admit`] say Room for `len` bytes now?
    pub fn has_room(&self, len: usize) -> bool {
        self.lock().bytes.len() + len <= MAILBOX_SOFT
    }

    /// Wake this mailbox's owner without leaving anything: a line it held
    /// may go now (the event loop or thread sees its eventfd readable).
    fn nudge(&self) {
        let _ = self.wake.write(1);
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

fn wake_all(waiters: &[Weak<Mailbox>]) {
    for sender in waiters.iter().filter_map(Weak::upgrade) {
        sender.nudge();
    }
}

impl Drop for Mailbox {
    /// Its member is gone: whoever waited for room here need not any more.
    fn drop(&mut self) {
        wake_all(&self.lock().waiters);
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
    fn past_the_soft_cap_a_sender_waits_until_the_mail_is_taken_or_patience_runs_out() {
        let reader = Mailbox::new().unwrap();
        let sender = Arc::new(Mailbox::new().unwrap());
        let now = Instant::now();
        assert_eq!(reader.admit(MAILBOX_SOFT, now, &sender), Admit::Room);
        assert!(reader.push(&vec![b'.'; MAILBOX_SOFT - 10]));
        assert!(reader.has_room(10) && !reader.has_room(11));
        let Admit::Wait { until } = reader.admit(11, now, &sender) else { panic!("a line that does not fit waits") };
        assert!(until >= now + PATIENCE);
        assert_eq!(reader.admit(11, now, &sender), Admit::Wait { until }, "asking again changes nothing");
        assert!(!readable(&sender));
        // The reader takes its mail: the waiting sender is woken, once, and there is room.
        assert_eq!(reader.take().len(), MAILBOX_SOFT - 10);
        assert!(readable(&sender));
        assert!(sender.take().is_empty(), "a wake-up, not mail");
        assert_eq!(reader.admit(11, now, &sender), Admit::Room);
        // A member who never takes its mail: after PATIENCE, nobody waits for it.
        assert!(reader.push(&vec![b'.'; MAILBOX_SOFT]));
        let Admit::Wait { until } = reader.admit(1, Instant::now(), &sender) else { panic!("waits") };
        assert_eq!(reader.admit(1, until, &sender), Admit::NotReading);
    }

    #[test]
    fn a_mailbox_that_goes_away_wakes_its_waiters() {
        let reader = Mailbox::new().unwrap();
        let sender = Arc::new(Mailbox::new().unwrap());
        assert!(reader.push(&vec![b'.'; MAILBOX_SOFT]));
        assert!(matches!(reader.admit(1, Instant::now(), &sender), Admit::Wait { .. }));
        drop(reader);
        assert!(readable(&sender));
    }

    #[test]
    fn a_full_mailbox_refuses() {
        let m = Mailbox::new().unwrap();
        assert!(m.push(&vec![0; MAILBOX_CAP]));
        assert!(!m.push(b"x"));
        assert_eq!(m.take().len(), MAILBOX_CAP);
    }
}
