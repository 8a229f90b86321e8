//! The poll model: one thread, poll(2). Like select without the
//! FD_SETSIZE wall: the caller passes an array of any length. Still, every
//! call hands the kernel the whole array and scans it back — O(clients)
//! per wake-up, which is what epoll removes.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::Server;
use super::event_conn::{Interest, Ready};
use super::event_loop::{self, Token, Waiter, ceil_ms};

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    event_loop::serve(server, &mut PollWaiter::default())
}

#[derive(Default)]
pub struct PollWaiter {
    watched: BTreeMap<Token, (RawFd, PollFlags)>,
}

fn flags(interest: Interest) -> PollFlags {
    let mut f = PollFlags::empty();
    f.set(PollFlags::POLLIN, interest.read);
    f.set(PollFlags::POLLOUT, interest.write);
    f
}

impl Waiter for PollWaiter {
    fn level_triggered(&self) -> bool {
        true
    }

    fn add(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        self.watched.insert(token, (fd.as_raw_fd(), flags(interest)));
        Ok(())
    }

    fn modify(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        self.add(token, fd, interest)
    }

    fn remove(&mut self, token: Token, _fd: BorrowedFd<'_>) {
        self.watched.remove(&token);
    }

    fn wait(&mut self, timeout: Duration, ready: &mut Vec<(Token, Ready)>) -> std::io::Result<()> {
        // SAFETY: the loop removes every descriptor from the waiter before
        // closing it, so each one here is open for the whole call.
        let mut fds: Vec<PollFd> = self
            .watched
            .values()
            .map(|&(fd, events)| PollFd::new(unsafe { BorrowedFd::borrow_raw(fd) }, events))
            .collect();
        match poll(&mut fds, PollTimeout::from(ceil_ms(timeout))) {
            Ok(0) | Err(Errno::EINTR) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let trouble = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
        for (&token, fd) in self.watched.keys().zip(&fds) {
            let Some(got) = fd.revents().filter(|r| !r.is_empty()) else { continue };
            // A hang-up or error is reported whatever was asked: the read
            // or write that follows says which, and ends the connection.
            let read = got.intersects(PollFlags::POLLIN | trouble);
            let write = got.intersects(PollFlags::POLLOUT | trouble);
            ready.push((token, Ready { read, write, mail: false }));
        }
        Ok(())
    }
}
