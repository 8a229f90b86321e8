//! The event-loop driver against real loopback sockets, no loop around it.

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
    assert!(c.drained, "read until the socket was empty");
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
fn data_and_fin_together_end_in_one_turn() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let (mut client, server) = pair();
    let mut c = conn(server, Box::new(Echo));
    client.write_all(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    // Wait until the FIN is in: the data before it is too.
    let rdhup = PollFlags::from_bits_retain(nix::libc::POLLRDHUP);
    let mut fds = [PollFd::new(c.fd(), rdhup)];
    assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
    // One readiness report must be enough: edge-triggered epoll sends
    // no second one for the FIN, so a short read must not end the turn.
    let mut buf = vec![0; READ_BUF];
    assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Done);
    c.close("");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"last words");
}

#[test]
fn level_triggered_a_short_read_ends_the_turn_and_the_next_wait_brings_the_rest() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let (mut client, server) = pair();
    let mut c = conn(server, Box::new(Echo));
    c.set_level_triggered(true);
    client.write_all(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let rdhup = PollFlags::from_bits_retain(nix::libc::POLLRDHUP);
    let mut fds = [PollFd::new(c.fd(), rdhup)];
    assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
    // The short read ends the turn: no second read for EAGAIN, so the
    // FIN behind the data waits for the next turn…
    let mut buf = vec![0; READ_BUF];
    assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Open);
    assert!(c.drained && c.interest().read);
    // …which a level-triggered wait starts, since the socket is still readable.
    let mut fds = [PollFd::new(c.fd(), PollFlags::POLLIN)];
    assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 1);
    assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::Done);
    c.close("");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"last words");
}

#[test]
fn level_triggered_a_full_read_keeps_reading() {
    let (mut client, server) = pair();
    let mut c = conn(server, Box::new(Echo));
    c.set_level_triggered(true);
    client.write_all(&[b'x'; 100]).unwrap();
    // A buffer of 10 filled to the brim: there may be more, read on.
    let mut buf = vec![0; 10];
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(c.service(ALL, Instant::now(), &mut buf), Status::More);
    assert!(!c.drained);
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

/// `left` pieces of 100 KiB, each made only when the last was sent.
struct Pieces {
    left: usize,
}
impl Handler for Pieces {
    fn on_bytes(&mut self, _: &[u8], _: &mut Vec<u8>) -> Flow {
        Flow::Continue
    }
    fn has_more(&self) -> bool {
        self.left > 0
    }
    fn on_room(&mut self, out: &mut Vec<u8>) -> Flow {
        assert!(out.is_empty(), "asked for more only once all was sent");
        self.left -= 1;
        out.resize(100 << 10, b'p');
        Flow::Continue
    }
}

#[test]
fn more_output_is_asked_for_as_it_is_sent_even_after_eof() {
    let (mut client, server) = pair();
    let mut c = conn(server, Box::new(Pieces { left: 30 }));
    client.shutdown(Shutdown::Write).unwrap();
    let mut buf = vec![0; READ_BUF];
    // 3 MB, more than the kernel takes at once: the client must read for
    // the rest to be made, and the connection is done only after the last.
    let mut got = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    client.set_nonblocking(true).unwrap();
    let give_up = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(Instant::now() < give_up, "never done: {} bytes received", got.len());
        let status = c.service(ALL, Instant::now(), &mut buf);
        assert!(c.unsent() <= 100 << 10, "one piece at a time, not {}", c.unsent());
        if status == Status::Done {
            break;
        }
        match client.read(&mut chunk) {
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    c.close("");
    client.set_nonblocking(false).unwrap();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), 30 * (100 << 10));
}
