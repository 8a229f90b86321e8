//! One connection as the event loops (select, poll, epoll) drive it: a
//! non-blocking socket, the protocol's handler, and the output not sent
//! yet. The loop says what is ready; the connection reads until the kernel
//! has nothing more (EAGAIN — what edge-triggered epoll requires), feeds
//! the handler, and writes what the socket takes, keeping the rest for the
//! next "writable". It never blocks, so one thread can hold thousands.

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
/// thread busy forever (the starvation epoll(7) warns about).
pub const READ_BUDGET: usize = 16;

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
    /// Bytes to send; `out[head..]` is what is left.
    out: Vec<u8>,
    head: usize,
    totals: Totals,
    /// False after EOF or once the handler said close.
    reading: bool,
    /// The last read said EAGAIN: nothing to read until the next "readable".
    drained: bool,
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
            out: Vec::new(),
            head: 0,
            totals: Totals::default(),
            reading: true,
            drained: false,
            failed: None,
        };
        conn.handler.greet(&mut conn.out);
        Ok(conn)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// The eventfd to watch for other connections' messages, if any.
    pub fn mail_fd(&self) -> Option<BorrowedFd<'_>> {
        self.mailbox.as_ref().map(|m| m.fd())
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.handler.deadline()
    }

    fn unsent(&self) -> usize {
        self.out.len() - self.head
    }

    fn can_read(&self) -> bool {
        self.reading && self.unsent() < OUT_CAP
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
        if ready.mail
            && let Some(m) = &self.mailbox
        {
            self.out.extend_from_slice(&m.take());
        }
        if self.reading
            && self.handler.deadline().is_some_and(|d| d <= now)
            && self.handler.on_deadline(&mut self.out) == Flow::Close
        {
            self.reading = false;
        }
        let mut budget = READ_BUDGET;
        loop {
            if let Err(e) = self.flush() {
                return self.fail(e);
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
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.drained = true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(e),
            }
        }
        if !self.reading && self.unsent() == 0 {
            Status::Done
        } else if self.can_read() && !self.drained {
            Status::More
        } else {
            Status::Open
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
mod tests {
    use super::*;
    use crate::serve::echo::Echo;
    use crate::serve::handler::test_ctx;
    use std::net::{Shutdown, TcpListener};

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        (client, server)
    }

    fn conn(server: TcpStream, handler: Box<dyn Handler>) -> EventConn {
        EventConn::new(server, test_ctx(), handler).unwrap()
    }

    const ALL: Ready = Ready { read: true, write: true, mail: false };

    /// Service until the client has `want` bytes back (the loop's role, minus the waiting).
    fn pump(c: &mut EventConn, client: &mut TcpStream, want: usize) -> Vec<u8> {
        let mut buf = vec![0; READ_BUF];
        let mut got = Vec::new();
        client.set_nonblocking(true).unwrap();
        let mut chunk = [0u8; 8192];
        while got.len() < want {
            c.service(ALL, Instant::now(), &mut buf);
            match client.read(&mut chunk) {
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        client.set_nonblocking(false).unwrap();
        got
    }

    #[test]
    fn echoes_and_reads_until_eagain() {
        let (mut client, server) = pair();
        let mut c = conn(server, Box::new(Echo));
        client.write_all(b"one").unwrap();
        client.write_all(b"two").unwrap();
        assert_eq!(pump(&mut c, &mut client, 6), b"onetwo");
        assert!(c.drained, "read until the kernel said EAGAIN");
        assert_eq!(c.interest(), Interest { read: true, write: false });
        assert_eq!(c.service(Ready::default(), Instant::now(), &mut vec![0; READ_BUF]), Status::Open);
    }

    #[test]
    fn half_close_gets_every_reply_then_done() {
        let (mut client, server) = pair();
        let mut c = conn(server, Box::new(Echo));
        client.write_all(b"last words").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(pump(&mut c, &mut client, 10), b"last words");
        let mut buf = vec![0; READ_BUF];
        assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Done);
        c.close("");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "closed after the reply");
    }

    #[test]
    fn a_client_that_never_reads_stops_being_read_at_the_cap() {
        let (mut client, server) = pair();
        let mut c = conn(server, Box::new(Echo));
        let mut buf = vec![0; READ_BUF];
        client.set_nonblocking(true).unwrap();
        let block = vec![7u8; 64 * 1024];
        let mut sent = 0;
        // Keep sending until the server stops taking bytes: its unsent
        // output hit the cap, so it stopped reading, so our send blocks.
        loop {
            let wrote = match client.write(&block) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => panic!("{e}"),
            };
            sent += wrote;
            let status = c.service(ALL, Instant::now(), &mut buf);
            if wrote == 0 && !c.interest().read {
                assert_eq!(status, Status::Open);
                break;
            }
            assert!(sent < 64 << 20, "the server kept reading past its cap");
        }
        let unsent = c.unsent();
        assert!((OUT_CAP..OUT_CAP + READ_BUF).contains(&unsent), "{unsent}");
        assert!(c.interest().write);
        // Reading resumes once the client takes its replies.
        let got = pump(&mut c, &mut client, sent);
        assert_eq!(got.len(), sent);
    }

    struct Bye;
    impl Handler for Bye {
        fn on_bytes(&mut self, _: &[u8], out: &mut Vec<u8>) -> Flow {
            out.extend_from_slice(b"bye\n");
            Flow::Close
        }
    }

    #[test]
    fn closing_with_unread_input_still_ends_with_fin_not_rst() {
        let (mut client, server) = pair();
        let mut c = conn(server, Box::new(Bye));
        client.write_all(&[b'x'; 1000]).unwrap();
        // Stop after one small read: the rest stays unread in the socket.
        let mut buf = vec![0; 10];
        assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Done);
        c.close("");
        let mut got = Vec::new();
        client.read_to_end(&mut got).expect("a clean EOF, not a reset");
        assert_eq!(got, b"bye\n");
    }

    struct Deadline(Instant, bool);
    impl Handler for Deadline {
        fn on_bytes(&mut self, _: &[u8], _: &mut Vec<u8>) -> Flow {
            Flow::Continue
        }
        fn deadline(&self) -> Option<Instant> {
            (!self.1).then_some(self.0)
        }
        fn on_deadline(&mut self, out: &mut Vec<u8>) -> Flow {
            self.1 = true;
            out.extend_from_slice(b"too slow\n");
            Flow::Close
        }
    }

    #[test]
    fn a_passed_deadline_replies_and_closes() {
        let (mut client, server) = pair();
        let at = Instant::now();
        let mut c = conn(server, Box::new(Deadline(at, false)));
        let mut buf = vec![0; READ_BUF];
        assert_eq!(c.deadline(), Some(at));
        assert_eq!(c.service(Ready::default(), at, &mut buf), Status::Done);
        c.close("");
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"too slow\n");
    }

    struct Mailer(Arc<Mailbox>);
    impl Handler for Mailer {
        fn on_bytes(&mut self, _: &[u8], _: &mut Vec<u8>) -> Flow {
            Flow::Continue
        }
        fn mailbox(&self) -> Option<Arc<Mailbox>> {
            Some(self.0.clone())
        }
    }

    #[test]
    fn mail_is_sent_on_its_wake_up() {
        let (mut client, server) = pair();
        let mailbox = Arc::new(Mailbox::new().unwrap());
        let mut c = conn(server, Box::new(Mailer(mailbox.clone())));
        assert!(c.mail_fd().is_some());
        assert!(mailbox.push(b"b: hi\n"));
        let mut buf = vec![0; READ_BUF];
        c.service(Ready { mail: true, ..Ready::default() }, Instant::now(), &mut buf);
        let mut got = [0u8; 6];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"b: hi\n");
    }

    #[test]
    fn a_reset_ends_only_this_connection() {
        let (client, server) = pair();
        let mut c = conn(server, Box::new(Echo));
        socket2::SockRef::from(&client).set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(client);
        let mut buf = vec![0; READ_BUF];
        assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Done);
        assert!(c.failed.as_deref().is_some_and(|w| w.contains("reset")), "{:?}", c.failed);
    }
}
