//! The blocking driver shared by the iterative, thread, fork and pool
//! models: wait for input (or the handler's deadline, or its mailbox),
//! feed the handler, write everything back — and what the handler has
//! more, a piece at a time — until EOF or the handler says close. Every
//! wait is bounded by TICK so a stop is noticed.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::handler::{Ctx, Flow, Handler};
use super::{Stop, TICK};
use crate::event::CallResult;

/// Bytes in and out of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub received: usize,
    pub sent: usize,
}

/// Serve one client from accept to close, and log it. Any error closes this
/// client only.
pub fn serve_client(mut stream: TcpStream, ctx: &Ctx, handler: &mut dyn Handler, stop: &Stop) {
    ctx.note("accept", CallResult::ok(format!("client {}", ctx.peer)));
    let mut totals = Totals::default();
    let ended = drive(&mut stream, handler, &mut totals, stop);
    let how = match ended {
        Ok(Ended::Done) => "",
        Ok(Ended::Shutdown) => ", server shutting down",
        Err(e) => {
            // Reset, broken pipe…: this client is done; the server carries on.
            ctx.note("recv/send", CallResult::Failed { why: e.to_string() });
            ""
        }
    };
    discard_unread(&mut stream);
    drop(stream);
    closed(ctx, totals, how);
}

/// Turn a client away: `words` (its protocol's way of saying why, or
/// nothing), then a FIN. Never waits: a fresh socket's send buffer takes a
/// line at once, and a client being refused is not worth blocking for.
pub fn refuse(mut stream: TcpStream, words: &[u8]) {
    if stream.set_nonblocking(true).is_ok() && !words.is_empty() {
        let _ = stream.write(words);
    }
    // The FIN goes out right behind the words, before the close.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    discard_unread(&mut stream);
}

/// Closing a socket with unread input makes the kernel send RST instead
/// of FIN, and the client may get "connection reset" instead of the last
/// reply (a handler that closed mid-stream): discard what already arrived.
pub fn discard_unread(stream: &mut TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    for _ in 0..256 {
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// The last line about every connection, whatever the model.
pub fn closed(ctx: &Ctx, totals: Totals, how: &str) {
    let detail = format!("{} bytes received, {} sent{how}", totals.received, totals.sent);
    ctx.note("close", CallResult::ok(detail));
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// EOF from the client, or the handler closed.
    Done,
    /// The server is stopping.
    Shutdown,
}

fn is_tick(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// What woke the connection up.
enum Woke {
    Input,
    Mail,
    Deadline,
    Nothing,
}

/// Wait at most one TICK for input, mail, or the handler's deadline.
fn wait(stream: &TcpStream, handler: &dyn Handler) -> std::io::Result<Woke> {
    let deadline = handler.deadline();
    let now = Instant::now();
    if deadline.is_some_and(|d| d <= now) {
        return Ok(Woke::Deadline);
    }
    let slice = deadline.map_or(TICK, |d| (d - now).min(TICK));
    let mailbox = handler.mailbox();
    // A handler that takes no input now is not woken by it either.
    let input = handler.wants_input();
    let mut fds = Vec::new();
    if input {
        fds.push(PollFd::new(stream.as_fd(), PollFlags::POLLIN));
    }
    if let Some(m) = &mailbox {
        fds.push(PollFd::new(m.fd(), PollFlags::POLLIN));
    }
    // Round up so a deadline 0.4 ms away is not a busy loop of 0 ms polls.
    let ms = u16::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => {}
        Ok(_) => {
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            // Input first: it includes EOF and errors, which end the connection.
            if input && ready(&fds[0]) {
                return Ok(Woke::Input);
            }
            return Ok(Woke::Mail);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(if deadline.is_some_and(|d| d <= Instant::now()) { Woke::Deadline } else { Woke::Nothing })
}

pub fn drive(
    stream: &mut TcpStream,
    handler: &mut dyn Handler,
    totals: &mut Totals,
    stop: &Stop,
) -> std::io::Result<Ended> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    let mut out = Vec::new();
    let greeted = handler.greet(&mut out);
    match send_more(stream, handler, &mut out, greeted, totals, stop)? {
        Some(Flow::Continue) => {}
        Some(Flow::Close) => return Ok(Ended::Done),
        None => return Ok(Ended::Shutdown),
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stop.is_set() {
            return Ok(Ended::Shutdown);
        }
        let flow = match wait(stream, handler)? {
            Woke::Nothing => continue,
            Woke::Deadline => handler.on_deadline(&mut out),
            Woke::Mail => {
                if let Some(m) = handler.mailbox() {
                    out.extend_from_slice(&m.take());
                }
                Flow::Continue
            }
            Woke::Input => match stream.read(&mut buf) {
                Ok(0) => {
                    // After EOF there is nothing more to read, whatever the
                    // handler answers: send its last words and close.
                    handler.on_eof(&mut out);
                    let sent = send_more(stream, handler, &mut out, Flow::Close, totals, stop)?;
                    return Ok(if sent.is_some() { Ended::Done } else { Ended::Shutdown });
                }
                Ok(n) => {
                    totals.received += n;
                    handler.on_bytes(&buf[..n], &mut out)
                }
                Err(e) if is_tick(&e) => continue,
                Err(e) => return Err(e),
            },
        };
        match send_more(stream, handler, &mut out, flow, totals, stop)? {
            Some(Flow::Continue) => {}
            Some(Flow::Close) => return Ok(Ended::Done),
            None => return Ok(Ended::Shutdown),
        }
    }
}

/// Send `out`, then, while the handler has more (the rest of a download),
/// ask for the next piece and send that: memory holds one piece, and the
/// client's reading paces it. Returns `flow`, or Close if the handler
/// closed meanwhile; `None` if the server is stopping.
fn send_more(
    stream: &mut TcpStream,
    handler: &mut dyn Handler,
    out: &mut Vec<u8>,
    mut flow: Flow,
    totals: &mut Totals,
    stop: &Stop,
) -> std::io::Result<Option<Flow>> {
    loop {
        if send_all(stream, out, totals, stop)? == Ended::Shutdown || stop.is_set() {
            return Ok(None);
        }
        if !handler.has_more() {
            return Ok(Some(flow));
        }
        if handler.on_room(out) == Flow::Close {
            flow = Flow::Close;
        }
    }
}

/// Write all of `out` (send may take only part of it), then clear it.
fn send_all(stream: &mut TcpStream, out: &mut Vec<u8>, totals: &mut Totals, stop: &Stop) -> std::io::Result<Ended> {
    let mut done = 0;
    while done < out.len() {
        match stream.write(&out[done..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                totals.sent += n;
            }
            // A client that does not read fills its window; keep trying,
            // but give up if the server is stopping.
            Err(e) if is_tick(&e) => {
                if stop.is_set() {
                    return Ok(Ended::Shutdown);
                }
            }
            Err(e) => return Err(e),
        }
    }
    out.clear();
    Ok(Ended::Done)
}
