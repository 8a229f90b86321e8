//! The single-threaded event loop shared by the select, poll and epoll
//! models: accept, service the connections the kernel says are ready,
//! honour deadlines and mailboxes, stop within a TICK. The three models
//! differ only in how they wait, which is the [`Waiter`] each supplies.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use super::event_conn::{EventConn, Interest, READ_BUF, Ready, Status};
use super::{Server, TICK};
use crate::event::CallResult;

/// What a descriptor the loop watches stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Token {
    Listener,
    /// The connection in slot N.
    Conn(usize),
    /// The mailbox wake-up of the connection in slot N.
    Mail(usize),
}

impl Token {
    /// For epoll's 64-bit user data.
    pub fn to_u64(self) -> u64 {
        match self {
            Token::Listener => 0,
            Token::Conn(k) => (k as u64 + 1) << 1,
            Token::Mail(k) => ((k as u64 + 1) << 1) | 1,
        }
    }

    pub fn from_u64(v: u64) -> Token {
        match v {
            0 => Token::Listener,
            v if v & 1 == 0 => Token::Conn((v >> 1) as usize - 1),
            v => Token::Mail((v >> 1) as usize - 1),
        }
    }
}

/// How one of select/poll/epoll waits. The loop removes a descriptor
/// before it closes it, so a waiter may keep raw descriptors between calls.
pub trait Waiter {
    /// Why this descriptor cannot be watched, if it cannot (select's FD_SETSIZE).
    fn refuse(&self, _fd: RawFd) -> Option<String> {
        None
    }
    fn add(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()>;
    /// Called only when a connection's interest changed.
    fn modify(&mut self, token: Token, fd: BorrowedFd<'_>, interest: Interest) -> std::io::Result<()>;
    fn remove(&mut self, token: Token, fd: BorrowedFd<'_>);
    /// Whether a descriptor still ready is reported on every wait (select,
    /// poll, plain epoll), not only when it becomes ready (EPOLLET).
    fn level_triggered(&self) -> bool {
        false
    }
    /// Wait at most `timeout`; push what is ready. EINTR is an empty wait.
    fn wait(&mut self, timeout: Duration, ready: &mut Vec<(Token, Ready)>) -> std::io::Result<()>;
}

/// Whole milliseconds, rounded up: a deadline 0.4 ms away must not become
/// a busy loop of 0 ms waits.
pub fn ceil_ms(d: Duration) -> u16 {
    u16::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u16::MAX)
}

/// Accepts per wake-up, so a connection flood does not starve the clients already in.
const ACCEPT_BATCH: usize = 64;

struct Slot {
    conn: EventConn,
    /// What the waiter was last told.
    interest: Interest,
    deadline: Option<Instant>,
}

struct Loop<'a, 's> {
    server: &'a Server<'s>,
    waiter: &'a mut dyn Waiter,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    /// Slots whose handler has a deadline: none (echo, upper) skips both scans.
    timed: usize,
    accepted: usize,
    /// Set after an accept failed (EMFILE…): the listener rests for a TICK.
    listener_rests_until: Option<Instant>,
}

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server, waiter: &mut dyn Waiter) -> usize {
    let listen = Interest { read: true, write: false };
    if let Err(e) = waiter.add(Token::Listener, server.listener.as_fd(), listen) {
        server.log.call("listener", "watch", CallResult::Failed { why: e.to_string() });
        return 0;
    }
    let mut lp = Loop {
        server,
        waiter,
        slots: Vec::new(),
        free: Vec::new(),
        live: 0,
        timed: 0,
        accepted: 0,
        listener_rests_until: None,
    };
    let mut buf = vec![0u8; READ_BUF];
    let mut ready = Vec::new();
    let mut todo: Vec<(usize, Ready)> = Vec::new();
    let mut again: Vec<usize> = Vec::new();
    while !server.stop.is_set() {
        let now = Instant::now();
        if lp.listener_rests_until.is_some_and(|t| t <= now) {
            lp.listener_rests_until = None;
            if let Err(e) = lp.waiter.add(Token::Listener, server.listener.as_fd(), listen) {
                server.log.call("listener", "watch", CallResult::Failed { why: e.to_string() });
                break;
            }
        }
        let timeout = if again.is_empty() { lp.timeout(now) } else { Duration::ZERO };
        ready.clear();
        if let Err(e) = lp.waiter.wait(timeout, &mut ready) {
            server.log.call("event loop", "wait", CallResult::Failed { why: e.to_string() });
            break;
        }
        let now = Instant::now();
        todo.extend(again.drain(..).map(|k| (k, Ready::default())));
        for &(token, r) in &ready {
            match token {
                Token::Listener => lp.accept_batch(now, &mut todo),
                Token::Conn(k) => todo.push((k, r)),
                Token::Mail(k) => todo.push((k, Ready { mail: true, ..Ready::default() })),
            }
        }
        if lp.timed > 0 {
            for (k, slot) in lp.slots.iter().enumerate() {
                if slot.as_ref().and_then(|s| s.deadline).is_some_and(|d| d <= now) {
                    todo.push((k, Ready::default()));
                }
            }
        }
        for (k, r) in todo.drain(..) {
            if lp.service(k, r, now, &mut buf) == Status::More {
                again.push(k);
            }
        }
        again.sort_unstable();
        again.dedup();
    }
    lp.close_all();
    lp.accepted
}

impl Loop<'_, '_> {
    /// Wake at the nearest handler deadline, or after a TICK to notice a stop.
    fn timeout(&self, now: Instant) -> Duration {
        if self.timed == 0 {
            return TICK;
        }
        let nearest = self.slots.iter().flatten().filter_map(|s| s.deadline).min();
        nearest.map_or(TICK, |d| d.saturating_duration_since(now).min(TICK))
    }

    fn accept_batch(&mut self, now: Instant, todo: &mut Vec<(usize, Ready)>) {
        for _ in 0..ACCEPT_BATCH {
            match self.server.listener.accept() {
                Ok((stream, peer)) => {
                    self.accepted += 1;
                    if let Some(k) = self.admit(stream, peer) {
                        // Send its greeting, read what it may already have sent.
                        todo.push((k, Ready { read: true, write: true, mail: false }));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::Interrupted) => {}
                Err(e) => {
                    // EMFILE leaves the listener readable: rest it instead of spinning.
                    self.server.log.call("listener", "accept", CallResult::Failed { why: e.to_string() });
                    self.waiter.remove(Token::Listener, self.server.listener.as_fd());
                    self.listener_rests_until = Some(now + TICK);
                    return;
                }
            }
        }
    }

    /// Make a slot for a new client, or close it with the reason why not.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) -> Option<usize> {
        let server = self.server;
        let ctx = server.ctx(self.accepted, peer);
        if self.live >= server.config.max_conns {
            server.refuse(stream, &ctx.name, peer, &server.full());
            return None;
        }
        if let Some(why) = self.waiter.refuse(stream.as_raw_fd()) {
            server.refuse(stream, &ctx.name, peer, &why);
            return None;
        }
        let handler = server.protocol.handler(ctx.clone());
        let conn = match EventConn::new(stream, ctx.clone(), handler) {
            Ok(mut c) => {
                c.set_level_triggered(self.waiter.level_triggered());
                c
            }
            Err(e) => {
                ctx.note("accept", CallResult::Failed { why: e.to_string() });
                return None;
            }
        };
        if let Some(why) = conn.mail_fd().and_then(|m| self.waiter.refuse(m.as_raw_fd())) {
            ctx.note("watch mailbox", CallResult::Failed { why });
            conn.close("");
            return None;
        }
        let k = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let interest = conn.interest();
        let watched = self.waiter.add(Token::Conn(k), conn.fd(), interest).and_then(|()| match conn.mail_fd() {
            Some(m) => self.waiter.add(Token::Mail(k), m, Interest { read: true, write: false }),
            None => Ok(()),
        });
        if let Err(e) = watched {
            ctx.note("watch", CallResult::Failed { why: e.to_string() });
            self.unwatch(k, &conn);
            conn.close("");
            self.free.push(k);
            return None;
        }
        let deadline = conn.deadline();
        self.timed += usize::from(deadline.is_some());
        self.slots[k] = Some(Slot { conn, interest, deadline });
        self.live += 1;
        Some(k)
    }

    fn unwatch(&mut self, k: usize, conn: &EventConn) {
        self.waiter.remove(Token::Conn(k), conn.fd());
        if let Some(m) = conn.mail_fd() {
            self.waiter.remove(Token::Mail(k), m);
        }
    }

    fn service(&mut self, k: usize, r: Ready, now: Instant, buf: &mut [u8]) -> Status {
        // A slot closed earlier in this round: nothing to do.
        let Some(slot) = self.slots.get_mut(k).and_then(Option::as_mut) else { return Status::Done };
        let status = slot.conn.service(r, now, buf);
        if status == Status::Done {
            if let Some(slot) = self.slots[k].take() {
                self.timed -= usize::from(slot.deadline.is_some());
                self.unwatch(k, &slot.conn);
                slot.conn.close("");
                self.free.push(k);
                self.live -= 1;
            }
            return status;
        }
        let deadline = slot.conn.deadline();
        self.timed = self.timed + usize::from(deadline.is_some()) - usize::from(slot.deadline.is_some());
        slot.deadline = deadline;
        let want = slot.conn.interest();
        if want != slot.interest {
            slot.interest = want;
            if let Err(e) = self.waiter.modify(Token::Conn(k), slot.conn.fd(), want) {
                slot.conn.ctx.note("watch", CallResult::Failed { why: e.to_string() });
            }
        }
        status
    }

    fn close_all(&mut self) {
        for slot in self.slots.drain(..).flatten() {
            slot.conn.close(", server shutting down");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::mailbox::Mailbox;
    use crate::serve::model_epoll::EpollWaiter;
    use crate::serve::model_poll::PollWaiter;
    use crate::serve::model_select::SelectWaiter;
    use std::io::Write;
    use std::net::TcpListener;

    fn waited(w: &mut dyn Waiter) -> Vec<(Token, Ready)> {
        let mut ready = Vec::new();
        w.wait(Duration::from_millis(200), &mut ready).unwrap();
        ready.sort_by_key(|r| r.0);
        ready
    }

    /// The contract every waiter keeps, whatever system call it uses.
    fn check(w: &mut dyn Waiter, edge: bool) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        let mailbox = Mailbox::new().unwrap();
        let read = Interest { read: true, write: false };
        w.add(Token::Conn(0), server.as_fd(), read).unwrap();
        w.add(Token::Mail(0), mailbox.fd(), read).unwrap();
        let only_read = Ready { read: true, write: false, mail: false };
        if edge {
            // Registered for both directions at once: the first edge says writable.
            assert_eq!(waited(w), vec![(Token::Conn(0), Ready { read: false, write: true, mail: false })]);
        }
        client.write_all(b"x").unwrap();
        assert!(mailbox.push(b"m"));
        assert_eq!(
            waited(w),
            vec![
                (Token::Conn(0), if edge { Ready { write: true, ..only_read } } else { only_read }),
                (Token::Mail(0), only_read)
            ]
        );
        mailbox.take();
        if edge {
            // Nothing new happened: no edge, although the byte is still unread.
            assert_eq!(waited(w), vec![]);
        } else {
            w.modify(Token::Conn(0), server.as_fd(), Interest { read: false, write: true }).unwrap();
            assert_eq!(waited(w), vec![(Token::Conn(0), Ready { read: false, write: true, mail: false })]);
        }
        w.remove(Token::Conn(0), server.as_fd());
        w.remove(Token::Mail(0), mailbox.fd());
        assert!(mailbox.push(b"m"));
        assert_eq!(waited(w), vec![]);
    }

    #[test]
    fn select_poll_and_epoll_report_the_same_readiness() {
        check(&mut SelectWaiter::default(), false);
        check(&mut PollWaiter::default(), false);
        check(&mut EpollWaiter::new(false).unwrap(), false);
        check(&mut EpollWaiter::new(true).unwrap(), true);
    }

    #[test]
    fn tokens_survive_epoll_user_data() {
        for t in [Token::Listener, Token::Conn(0), Token::Mail(0), Token::Conn(41), Token::Mail(20_000)] {
            assert_eq!(Token::from_u64(t.to_u64()), t);
        }
    }

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(ceil_ms(Duration::from_micros(400)), 1);
        assert_eq!(ceil_ms(Duration::ZERO), 0);
        assert_eq!(ceil_ms(TICK), 100);
        assert_eq!(ceil_ms(Duration::from_secs(3600)), u16::MAX);
    }
}
