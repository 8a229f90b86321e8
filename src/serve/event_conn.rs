//! One connection as the event loops (select, poll, epoll) drive it: a
//! non-blocking socket, the protocol's handler, and the output not sent
//! yet. The loop says what is ready; the connection reads until the kernel
//! has nothing more (EAGAIN — what edge-triggered epoll requires; a short
//! read is not enough: a FIN that came with the data brings no new edge),
//! feeds the handler, and writes what the socket takes, keeping the rest for the
//! next "writable" — and once all of it is sent, asks the handler for the
//! next piece if it has one. It never blocks, so one thread can hold thousands.
//!
//! Under a level-triggered loop (select, poll, epoll without `--edge`) a
//! short read is enough: whatever is left, a FIN included, is reported
//! again by the next wait, so the read that would only say EAGAIN — one
//! system call in three for a small echo — is skipped.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Instant;

use super::conn::{Totals, closed, discard_unread};
use super::handler::{Ctx, Flow, Handler};
use super::mailbox::Mailbox;
use crate::event::CallResult;

/// Past this many unsent bytes the connection stops reading: a client that
/// sends but never reads must not make the server buffer without limit.
/// Reading resumes once the client has taken enough of its replies.
pub const OUT_CAP: usize = 1 << 20;

/// Reads per wake-up before the connection lets the others have a turn:
/// a client that sends as fast as it reads could otherwise keep the one
/// thread busy forever (the starvation epoll(7) warns about). Kept well
/// under a mailbox's capacity (1 MiB), so what one chat member says in
/// one turn usually fits in the others' mailboxes until their turn comes.
pub const READ_BUDGET: usize = 4;

/// Pieces of more output ([`Handler::on_room`]) per wake-up, for the same
/// reason: a client that reads as fast as the server makes them must not
/// keep the one thread to itself.
pub const MORE_BUDGET: usize = 4;

/// The loop's shared receive buffer: one per loop, not one per connection,
/// so ten thousand idle connections cost no 64 KiB each.
pub const READ_BUF: usize = 64 * 1024;

/// What the event loop saw for this connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// Readable, or an error/hang-up (a read reports which).
    pub read: bool,
    /// Writable, or an error/hang-up (a write reports which).
    pub write: bool,
    /// Its mailbox has something.
    pub mail: bool,
}

/// What the connection wants to be woken for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

/// What the loop should do with the connection after [`EventConn::service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Wait for the next event.
    Open,
    /// It may have more input but used its turn: service it again soon,
    /// without waiting for an event (edge-triggered epoll will not repeat one).
    More,
    /// Finished: call [`EventConn::close`].
    Done,
}

pub struct EventConn {
    stream: TcpStream,
    pub ctx: Ctx,
    handler: Box<dyn Handler>,
    mailbox: Option<Arc<Mailbox>>,
    /// Mail is waiting that did not fit (`out` was full): collect it once there is room.
    mail_held: bool,
    /// Bytes to send; `out[head..]` is what is left.
    out: Vec<u8>,
    head: usize,
    totals: Totals,
    /// False after EOF or once the handler said close.
    reading: bool,
    /// The last read said EAGAIN (or, level-triggered, came back short):
    /// nothing to read until the next "readable".
    drained: bool,
    /// The loop reports a readable socket on every wait, not only on a change.
    level_triggered: bool,
    /// Why it ended badly, for the close line.
    failed: Option<String>,
}

impl EventConn {
    /// Take an accepted client: make it non-blocking, log it, queue the greeting.
    pub fn new(stream: TcpStream, ctx: Ctx, handler: Box<dyn Handler>) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        ctx.note("accept", CallResult::ok(format!("client {}", ctx.peer)));
        let mailbox = handler.mailbox();
        let mut conn = EventConn {
            stream,
            ctx,
            handler,
            mailbox,
            mail_held: false,
            out: Vec::new(),
            head: 0,
            totals: Totals::default(),
            reading: true,
            drained: false,
            level_triggered: false,
            failed: None,
        };
        if conn.handler.greet(&mut conn.out) == Flow::Close {
            conn.reading = false;
        }
        Ok(conn)
    }

    /// The loop is level-triggered: a short read may end the turn.
    pub fn set_level_triggered(&mut self, level: bool) {
        self.level_triggered = level;
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// The eventfd to watch for other connections' messages, if any.
    pub fn mail_fd(&self) -> Option<BorrowedFd<'_>> {
        self.mailbox.as_ref().map(|m| m.fd())
    }

    /// The handler's deadline, while it can act on it: not once it stopped
    /// reading. (More output is not a deadline: see [`Handler::has_more`].)
    pub fn deadline(&self) -> Option<Instant> {
        if !self.reading {
            return None;
        }
        self.handler.deadline()
    }

    fn unsent(&self) -> usize {
        self.out.len() - self.head
    }

    /// All sent, and the handler has more to make: ask it now.
    fn room_for_more(&self) -> bool {
        self.unsent() == 0 && self.handler.has_more()
    }

    fn can_read(&self) -> bool {
        self.reading && self.unsent() < OUT_CAP && self.handler.wants_input()
    }

    /// For the level-triggered loops: read while it may, write while it has something.
    pub fn interest(&self) -> Interest {
        Interest { read: self.can_read(), write: self.unsent() > 0 }
    }

    /// Do everything `ready` allows, and whatever became possible meanwhile
    /// (sending frees room, which lets reading resume). `buf` is the loop's
    /// receive buffer.
    pub fn service(&mut self, ready: Ready, now: Instant, buf: &mut [u8]) -> Status {
        if ready.read {
            self.drained = false;
        }
        self.collect_mail(ready.mail);
        if self.deadline().is_some_and(|d| d <= now) && self.handler.on_deadline(&mut self.out) == Flow::Close {
            self.reading = false;
        }
        let mut budget = READ_BUDGET;
        let mut pieces = MORE_BUDGET;
        loop {
            if let Err(e) = self.flush() {
                return self.fail(e);
            }
            if self.room_for_more() {
                if pieces == 0 {
                    break;
                }
                pieces -= 1;
                if self.handler.on_room(&mut self.out) == Flow::Close {
                    self.reading = false;
                }
                continue;
            }
            if !self.can_read() || self.drained || budget == 0 {
                break;
            }
            budget -= 1;
            match self.stream.read(buf) {
                Ok(0) => {
                    // After EOF nothing more can arrive, whatever the handler
                    // answers: send its last words, then close.
                    self.handler.on_eof(&mut self.out);
                    self.reading = false;
                }
                Ok(n) => {
                    self.totals.received += n;
                    if self.handler.on_bytes(&buf[..n], &mut self.out) == Flow::Close {
                        self.reading = false;
                    }
                    // Less than asked for: the socket was empty a moment ago.
                    self.drained = self.level_triggered && n < buf.len();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.drained = true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(e),
            }
        }
        // Sending may have made room for mail left waiting.
        self.collect_mail(false);
        if !self.reading && self.unsent() == 0 && !self.handler.has_more() {
            Status::Done
        } else if (self.can_read() && !self.drained) || self.room_for_more() {
            Status::More
        } else {
            Status::Open
        }
    }

    /// Move the mailbox's bytes to the output while it has room (OUT_CAP):
    /// a member who does not read keeps its mail in its capped mailbox,
    /// where the room sees it is full, instead of growing `out` forever.
    fn collect_mail(&mut self, woken: bool) {
        let Some(m) = &self.mailbox else { return };
        if !(woken || self.mail_held) {
            return;
        }
        if self.unsent() < OUT_CAP {
            self.out.extend_from_slice(&m.take());
            self.mail_held = false;
        } else {
            m.quiet();
            self.mail_held = true;
        }
    }

    /// Write until everything is sent or the socket is full (EAGAIN).
    fn flush(&mut self) -> std::io::Result<()> {
        while self.head < self.out.len() {
            match self.stream.write(&self.out[self.head..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.head += n;
                    self.totals.sent += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.head = 0;
        self.out.clear();
        // A megabyte reply must not stay allocated for an idle connection.
        if self.out.capacity() > READ_BUF {
            self.out = Vec::new();
        }
        Ok(())
    }

    fn fail(&mut self, e: std::io::Error) -> Status {
        // Reset, broken pipe…: this client is done; the others carry on.
        self.failed = Some(e.to_string());
        self.reading = false;
        Status::Done
    }

    /// Close the socket and write the connection's last log line.
    pub fn close(self, how: &str) {
        if let Some(why) = &self.failed {
            self.ctx.note("recv/send", CallResult::Failed { why: why.clone() });
        }
        let EventConn { mut stream, ctx, totals, .. } = self;
        discard_unread(&mut stream);
        drop(stream);
        closed(&ctx, totals, how);
    }
}

#[cfg(test)]
mod tests;
