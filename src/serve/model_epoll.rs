//! The epoll model: one thread, epoll(7). Descriptors are registered once
//! with the kernel, which keeps the ready list itself, so a wake-up costs
//! what is ready, not how many clients are connected.
//!
//! Level-triggered (the default) reports a connection for as long as it is
//! readable or writable, like poll. Edge-triggered (`--edge`, EPOLLET)
//! reports only changes: a connection is registered once for both
//! directions and the driver must read and write until EAGAIN every time,
//! or the bytes left behind wait for an edge that never comes.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::Server;
use super::event_conn::{Interest, Ready};
use super::event_loop::{self, Token, Waiter, ceil_ms};
use crate::event::CallResult;

/// Events per epoll_wait: the rest wait for the next call, none is lost.
const EVENTS: usize = 1024;

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    match EpollWaiter::new(server.config.edge) {
        Ok(mut waiter) => event_loop::serve(server, &mut waiter),
        Err(e) => {
            server.log.call("listener", "epoll_create1", CallResult::Failed { why: e.to_string() });
            0
        }
    }
}

pub struct EpollWaiter {
    epoll: Epoll,
    edge: bool,
    events: Vec<EpollEvent>,
}

impl EpollWaiter {
    pub fn new(edge: bool) -> nix::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        Ok(EpollWaiter { epoll, edge, events: vec![EpollEvent::empty(); EVENTS] })
    }

    fn flags(&self, token: Token, interest: Interest) -> EpollFlags {
        if self.edge && matches!(token, Token::Conn(_)) {
            // Both directions, once: the driver drains each to EAGAIN.
            return EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLET;
        }
        // Level-triggered: ask only for what the connection can act on,
        // or a full output buffer would report "readable" in a busy loop.
        let mut f = EpollFlags::empty();
        f.set(EpollFlags::EPOLLIN, interest.read);
        f.set(EpollFlags::EPOLLOUT, interest.write);
        f
    }
}

impl Waiter for EpollWaiter {
    fn level_triggered(&self) -> bool {
        !self.edge
    }

    fn add(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        let event = EpollEvent::new(self.flags(token, interest), token.to_u64());
        Ok(self.epoll.add(fd, event)?)
    }

    fn modify(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()> {
        if self.edge && matches!(token, Token::Conn(_)) {
            return Ok(());
        }
        let mut event = EpollEvent::new(self.flags(token, interest), token.to_u64());
        Ok(self.epoll.modify(fd, &mut event)?)
    }

    fn remove(&mut self, _token: Token, fd: BorrowedFd<'_>) {
        // Closing the descriptor would remove it too; being explicit keeps
        // the kernel's list right even if the descriptor was duplicated.
        let _ = self.epoll.delete(fd);
    }

    fn wait(&mut self, timeout: Duration, ready: &mut Vec<(Token, Ready)>) -> std::io::Result<()> {
        let n = match self.epoll.wait(&mut self.events, EpollTimeout::from(ceil_ms(timeout))) {
            Ok(n) => n,
            Err(Errno::EINTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let trouble = EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
        for event in &self.events[..n] {
            let got = event.events();
            let read = got.intersects(EpollFlags::EPOLLIN | trouble);
            let write = got.intersects(EpollFlags::EPOLLOUT | trouble);
            ready.push((Token::from_u64(event.data()), Ready { read, write, mail: false }));
        }
        Ok(())
    }
}
