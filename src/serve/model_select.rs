//! The select model: one thread, select(2), as in the classic tutorials.
//! An fd_set is a bitmap of FD_SETSIZE (1024) bits, so a descriptor
//! numbered 1024 or more cannot be watched at all — the wall this model
//! shows: such a client is accepted, told nothing, and closed, with a log
//! line saying why. Every call also rebuilds and rescans the sets.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::select::{FD_SETSIZE, FdSet, select};
use nix::sys::time::{TimeVal, TimeValLike};

use super::Server;
use super::event_conn::{Interest, Ready};
use super::event_loop::{self, Token, Waiter};

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    event_loop::serve(server, &mut SelectWaiter::default())
}

#[derive(Default)]
pub struct SelectWaiter {
    watched: BTreeMap<Token, (RawFd, Interest)>,
}

/// Why select cannot watch `fd`, if it cannot.
pub fn beyond_fd_setsize(fd: RawFd) -> Option<String> {
    let fits = usize::try_from(fd).is_ok_and(|fd| fd < FD_SETSIZE);
    (!fits).then(|| format!("fd {fd} ≥ FD_SETSIZE ({FD_SETSIZE}): select() cannot watch it"))
}

impl Waiter for SelectWaiter {
    fn level_triggered(&self) -> bool {
        true
    }

    fn refuse(&self, fd: RawFd) -> Option<String> {
        beyond_fd_setsize(fd)
    }

    fn add(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        // The loop asked `refuse` first; this keeps FdSet::insert from panicking regardless.
        if let Some(why) = beyond_fd_setsize(fd.as_raw_fd()) {
            return Err(std::io::Error::other(why));
        }
        self.watched.insert(token, (fd.as_raw_fd(), interest));
        Ok(())
    }

    fn modify(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        self.add(token, fd, interest)
    }

    fn remove(&mut self, token: Token, _fd: BorrowedFd<'_>) {
        self.watched.remove(&token);
    }

    fn wait(&mut self, timeout: Duration, ready: &mut Vec<(Token, Ready)>) -> std::io::Result<()> {
        let mut reads = FdSet::new();
        let mut writes = FdSet::new();
        // SAFETY: the loop removes every descriptor from the waiter before
        // closing it, so each one here is open for the whole call.
        let borrow = |fd: RawFd| unsafe { BorrowedFd::borrow_raw(fd) };
        let mut highest = -1;
        for &(fd, interest) in self.watched.values() {
            highest = highest.max(fd);
            if interest.read {
                reads.insert(borrow(fd));
            }
            if interest.write {
                writes.insert(borrow(fd));
            }
        }
        let micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
        let mut tv = TimeVal::microseconds(micros);
        // nfds: the kernel (and a tutorial's loop) scans every bit below it.
        match select(highest + 1, &mut reads, &mut writes, None, &mut tv) {
            Ok(0) | Err(Errno::EINTR) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        for (&token, &(fd, interest)) in &self.watched {
            // select reports errors and hang-ups as "readable" / "writable".
            let read = interest.read && reads.contains(borrow(fd));
            let write = interest.write && writes.contains(borrow(fd));
            if read || write {
                ready.push((token, Ready { read, write, mail: false }));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_is_at_fd_setsize() {
        assert_eq!(FD_SETSIZE, 1024);
        assert_eq!(beyond_fd_setsize(1023), None);
        let why = beyond_fd_setsize(1024).unwrap();
        assert_eq!(why, "fd 1024 ≥ FD_SETSIZE (1024): select() cannot watch it");
        assert!(beyond_fd_setsize(-1).is_some());
    }
}
