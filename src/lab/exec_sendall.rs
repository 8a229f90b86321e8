//! `sendall`: the loop every stream writer needs.
//!
//! send() copies what fits into the socket's send buffer and returns how
//! many bytes that was; the rest was not sent *yet*, and is still the
//! caller's to send. sendall calls send() until every byte is queued. Each
//! call here is non-blocking (MSG_DONTWAIT), and between an EAGAIN and the
//! next try the loop waits for POLLOUT — what Python's `sendall` does on a
//! socket with a timeout. With `--reader PEER`, a second thread drains the
//! peer, but only once the sender is blocked, so every run first shows the
//! buffer full (EAGAIN, bytes waiting in SIOCOUTQ) and then the loop
//! finishing, with the bytes compared one for one at the other end.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{self as nixsock, MsgFlags};

use super::cancel::{self, Waited};
use super::command::{self, Command};
use super::payload::Payload;
use super::tokens::{self, Args};
use super::{DEFAULT_TIMEOUT, Kind, Lab, LabSocket, Outcome};
use crate::event::{CallResult, Direction, Event, Sink};
use crate::wire::queues;

const USAGE: &str = "usage: sendall SOCK PAYLOAD [--timeout MS] [--reader PEER], e.g. sendall cli count:200000";

/// Calls shown one by one; later ones are counted in one summary line.
const SHOWN_CALLS: usize = 8;

/// How much the reader asks for per recv().
const READ_SIZE: usize = 64 * 1024;

pub(super) fn parse(rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, &["timeout", "reader"], &[])?;
    let (sock, payload) = a.positional.split_first().ok_or(USAGE)?;
    tokens::check_name(sock)?;
    if a.name.is_some() {
        return Err("sendall makes no socket, so it takes no `as NAME`".into());
    }
    let reader = a.value("reader").map(|r| tokens::check_name(r).map(|()| r.to_string())).transpose()?;
    if reader.as_deref() == Some(sock.as_str()) {
        return Err("--reader names the OTHER end of the connection (e.g. the socket accept gave you)".into());
    }
    let payload = Payload::parse(payload)?;
    Ok(Command::SendAll { sock: sock.clone(), payload, timeout: command::timeout(&a)?, reader })
}

/// What one sendall did, for demos and tests.
#[derive(Debug, Clone, Default)]
pub struct SendAllReport {
    pub asked: usize,
    /// Bytes queued by all the send() calls together.
    pub sent: usize,
    /// What each send() returned, in order.
    pub counts: Vec<usize>,
    /// How many send() calls failed with EAGAIN (buffer full).
    pub eagains: usize,
    /// SIOCOUTQ when the first EAGAIN came: bytes waiting in the send queue.
    pub queued_when_blocked: Option<usize>,
    /// With `--reader`: bytes the reader got after any that were in flight
    /// before sendall began.
    pub received: Option<Vec<u8>>,
    /// How the loop ended: `Ok` when every byte was queued.
    pub result: Option<CallResult>,
}

impl SendAllReport {
    /// Every byte queued and, with a reader, the same bytes received.
    pub fn delivered_intact(&self, data_sent: &[u8]) -> bool {
        self.sent == self.asked && self.received.as_deref().is_none_or(|r| r == data_sent)
    }
}

impl Lab {
    pub(super) fn send_all(
        &mut self,
        name: &str,
        payload: &Payload,
        timeout: Option<Duration>,
        reader: Option<&str>,
    ) -> Result<Outcome, String> {
        let data = payload.bytes()?;
        let report = self.send_all_report(name, &data, timeout, reader)?;
        let value = report.received.as_ref().map(|r| r.len().to_string());
        Ok(Outcome {
            sock: Some(name.into()),
            result: report.result.clone(),
            bytes: Some(data[..report.sent].to_vec()),
            value,
            ..Outcome::default()
        })
    }

    /// Show `line` (a `sendall` command), run it, and return its report.
    pub fn run_sendall(&mut self, line: &str) -> Result<(SendAllReport, Vec<u8>), String> {
        self.emit(Event::Command { line: line.to_string() });
        let Command::SendAll { sock, payload, timeout, reader } = Command::parse(line)? else {
            return Err(format!("not a sendall command: {line}"));
        };
        let data = payload.bytes()?;
        let report = self.send_all_report(&sock, &data, timeout, reader.as_deref())?;
        Ok((report, data))
    }

    fn send_all_report(
        &mut self,
        name: &str,
        data: &[u8],
        timeout: Option<Duration>,
        reader: Option<&str>,
    ) -> Result<SendAllReport, String> {
        let s = self.open(name)?;
        match s.kind {
            Kind::Stream => {}
            Kind::Listener => return Err(format!("'{name}' is listening: sendall on a connected socket")),
            Kind::Udp => return Err(format!("'{name}' is UDP: each sendto is a whole datagram, no loop needed")),
            Kind::Unix(_) => {
                return Err(format!("'{name}' is a unix socket: sendall works on TCP connections; use send"));
            }
        }
        if let Some(r) = reader {
            let rs = self.open(r)?;
            if rs.kind != Kind::Stream || rs.peer.as_ref() != Some(&s.local) {
                return Err(format!("--reader {r} must be the other end of {name}'s connection"));
            }
        }
        let limit = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let deadline = Instant::now() + limit;
        let Lab { entries, sink, .. } = self;
        let sender = super::find_open(entries, name).ok_or("the socket vanished")?;
        let peer = reader.and_then(|r| super::find_open(entries, r));
        // Set when the sender has made its last call.
        let done = AtomicBool::new(false);
        let (go, start) = mpsc::channel::<()>();
        let mut log = CallLog { sink: sink.as_mut(), name, shown: 0, hidden: 0 };
        let (mut report, drained) = std::thread::scope(|scope| {
            let draining = peer.map(|p| {
                let done = &done;
                scope.spawn(move || {
                    // Wait until the sender blocks (or finishes): a dropped
                    // channel is the signal.
                    let _ = start.recv_timeout(deadline.saturating_duration_since(Instant::now()));
                    drain(p, sender, done, deadline + DEFAULT_TIMEOUT)
                })
            });
            let report = send_loop(sender, data, (deadline, limit), &mut log, go, reader);
            done.store(true, Ordering::SeqCst);
            (report, draining.map(|h| h.join()))
        });
        let hidden = log.hidden;
        if hidden > 0 {
            self.emit(Event::notice(format!("… and {hidden} more send() results like these, not shown one by one")));
        }
        let result = report.result.clone().unwrap_or_else(|| CallResult::ok(""));
        self.call(name, format!("sendall({})", data.len()), result);
        if let (Some(r), Some(drained)) = (reader, drained) {
            let (got, calls) = match drained {
                Ok(Ok(got)) => got,
                Ok(Err(e)) => {
                    self.call(r, format!("recv({READ_SIZE})"), super::errno::call_error(&e));
                    return Ok(report);
                }
                Err(_) => return Err("the reading thread panicked".into()),
            };
            // Bytes sent before sendall began, and not read, came first.
            let sent = &data[..report.sent];
            let earlier = got.len().saturating_sub(sent.len());
            let got = got[earlier..].to_vec();
            let result = match got.iter().zip(sent).position(|(a, b)| a != b) {
                _ if got.len() != sent.len() => {
                    CallResult::Failed { why: format!("got {} bytes, but {} were queued", got.len(), sent.len()) }
                }
                Some(i) => CallResult::Failed { why: format!("byte {i} differs from what was sent") },
                None => {
                    let before =
                        if earlier > 0 { format!(" (after {earlier} bytes sent earlier)") } else { String::new() };
                    CallResult::ok(format!(
                        "{} bytes{before}: exactly the bytes sendall queued, in order — nothing lost",
                        got.len()
                    ))
                }
            };
            self.call(r, format!("recv({READ_SIZE}) ×{calls}"), result);
            self.emit(Event::bytes(r, Direction::Received, &got));
            report.received = Some(got);
        }
        Ok(report)
    }
}

/// The sender's calls as events: the first few one by one, the rest counted.
struct CallLog<'a> {
    sink: &'a mut dyn Sink,
    name: &'a str,
    shown: usize,
    hidden: usize,
}

impl CallLog<'_> {
    fn call(&mut self, call: String, result: CallResult) {
        if self.shown >= SHOWN_CALLS {
            self.hidden += 1;
            return;
        }
        self.shown += 1;
        self.sink.emit(&Event::Call { sock: self.name.into(), call, result });
    }
}

fn send_loop(
    sender: &LabSocket,
    data: &[u8],
    (deadline, limit): (Instant, Duration),
    log: &mut CallLog<'_>,
    go: mpsc::Sender<()>,
    reader: Option<&str>,
) -> SendAllReport {
    let mut report = SendAllReport { asked: data.len(), ..SendAllReport::default() };
    let mut go = Some(go);
    let fd = sender.sock.as_raw_fd();
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    while report.sent < data.len() {
        let rest = &data[report.sent..];
        match nixsock::send(fd, rest, flags) {
            Ok(n) => {
                report.sent += n;
                report.counts.push(n);
                let detail = if n < rest.len() {
                    format!("{n} bytes queued — partial: {} not sent yet, still ours to send", rest.len() - n)
                } else {
                    format!("{n} bytes queued: the last of it")
                };
                log.call(format!("send({})", rest.len()), CallResult::ok(detail));
                continue;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => {
                let result = super::errno::call_error(&e.into());
                log.call(format!("send({})", rest.len()), result.clone());
                report.result = Some(result);
                return report;
            }
        }
        report.eagains += 1;
        let queued = queues::bytes_unsent(sender.sock.as_fd()).unwrap_or(0);
        report.queued_when_blocked.get_or_insert(queued);
        let mut result = super::errno::from_code(Errno::EAGAIN as i32);
        if let CallResult::Err { why, .. } = &mut result {
            let mut text = format!(
                "the send buffer is full: {queued} bytes wait in the send queue (SIOCOUTQ); poll(POLLOUT) until there is room"
            );
            if let (Some(r), Some(_)) = (reader, go.take()) {
                text.push_str(&format!(" — and now {r} starts reading"));
            }
            *why = Some(text);
        }
        log.call(format!("send({})", rest.len()), result);
        let left = deadline.saturating_duration_since(Instant::now());
        match cancel::wait_fd(sender.sock.as_fd(), PollFlags::POLLOUT, left) {
            Ok(Waited::Ready(_)) => {}
            Ok(waited) => {
                report.result = Some(gave_up(waited, &report, limit));
                return report;
            }
            Err(e) => {
                report.result = Some(super::errno::call_error(&e));
                return report;
            }
        }
    }
    let calls = report.counts.len() + report.eagains;
    report.result = Some(CallResult::ok(format!(
        "all {} bytes queued, in {calls} send() calls ({} EAGAIN)",
        data.len(),
        report.eagains
    )));
    report
}

fn gave_up(waited: Waited, report: &SendAllReport, limit: Duration) -> CallResult {
    let rest = report.asked - report.sent;
    let stopped = match waited {
        Waited::Cancelled => "cancelled with Ctrl-C".to_string(),
        _ => format!("still no room when its {} ms were up (is the peer reading?)", limit.as_millis()),
    };
    CallResult::Failed {
        why: format!(
            "{} of {} bytes queued, then {stopped}; the other {rest} were not lost: they were never sent, and are still yours to send",
            report.sent, report.asked
        ),
    }
}

/// The peer's side: recv() until the sender is done and nothing is left in
/// flight (the sender's SIOCOUTQ and the reader's FIONREAD both 0), EOF,
/// or the deadline. Returns the bytes and the number of recv() calls.
fn drain(
    peer: &LabSocket,
    sender: &LabSocket,
    done: &AtomicBool,
    deadline: Instant,
) -> std::io::Result<(Vec<u8>, usize)> {
    let mut got = Vec::new();
    let mut calls = 0;
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        // Checked in this order: once the sender is done, SIOCOUTQ only
        // falls, and a byte acknowledged is already in the reader's queue.
        let all_in = || {
            done.load(Ordering::SeqCst)
                && queues::bytes_unsent(sender.sock.as_fd()).is_ok_and(|n| n == 0)
                && queues::bytes_readable(peer.sock.as_fd()).is_ok_and(|n| n == 0)
        };
        if all_in() || Instant::now() >= deadline {
            return Ok((got, calls));
        }
        // Short slices: the sender may finish while nothing is readable.
        match cancel::wait_fd(peer.sock.as_fd(), PollFlags::POLLIN, Duration::from_millis(20))? {
            Waited::Ready(_) => {}
            Waited::TimedOut => continue,
            Waited::Cancelled => return Ok((got, calls)),
        }
        match nixsock::recv(peer.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Ok((got, calls)),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                calls += 1;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl Lab {
    /// `(receive queue, send queue)` of a TCP connection: FIONREAD and
    /// SIOCOUTQ, the numbers the `sockets` table shows.
    pub fn queues(&self, name: &str) -> Option<(usize, usize)> {
        let s = self.open(name).ok().filter(|s| s.kind == Kind::Stream)?;
        Some((queues::bytes_readable(s.sock.as_fd()).ok()?, queues::bytes_unsent(s.sock.as_fd()).ok()?))
    }
}
