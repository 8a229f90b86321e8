//! A communication loop (通信循环) as one command: `recvloop` calls recv()
//! again and again, as a server's `while True: data = conn.recv(1024)`
//! does, until recv returns 0 (EOF). With `--ignore-eof` it is the buggy
//! loop that forgot `if not data: break`: EOF is permanent, so every later
//! recv returns 0 at once and the loop spins — bounded here by `--max`.
//! On a non-blocking socket each empty recv is EAGAIN instead, and the loop
//! spins the same way while it waits for data.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self as nixsock, MsgFlags};

use super::cancel;
use super::tokens::{self, Args};
use super::{DEFAULT_TIMEOUT, Kind, Lab, Outcome, UnixKind};
use crate::event::{CallResult, Direction, Event};

/// Calls a loop makes unless `--max` says otherwise.
pub const DEFAULT_MAX: usize = 1000;
const MAX_CALLS: usize = 1_000_000;
/// Identical empty results shown one by one before they are summed up.
const SHOWN_REPEATS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvLoop {
    pub sock: String,
    pub size: usize,
    /// Keep calling after recv returned 0, as a loop without the EOF check.
    pub ignore_eof: bool,
    pub max: usize,
    pub timeout: Option<Duration>,
}

impl RecvLoop {
    pub fn parse(rest: &[String]) -> Result<RecvLoop, String> {
        let usage = "usage: recvloop SOCK [N] [--ignore-eof] [--max K] [--timeout MS]";
        let a = Args::parse(rest, &["max", "timeout"], &["ignore-eof"])?;
        let (sock, size) = match a.positional.as_slice() {
            [sock] => (sock, 1024),
            [sock, n] => (sock, n.parse().map_err(|_| format!("'{n}' is not a byte count: {usage}"))?),
            _ => return Err(usage.into()),
        };
        tokens::check_name(sock)?;
        if a.name.is_some() {
            return Err("recvloop makes no socket, so it takes no `as NAME`".into());
        }
        if !(1..=super::payload::MAX_PAYLOAD).contains(&size) {
            return Err(format!("recv size must be 1..{} bytes", super::payload::MAX_PAYLOAD));
        }
        let max = a.number::<usize>("max")?.unwrap_or(DEFAULT_MAX);
        if !(1..=MAX_CALLS).contains(&max) {
            return Err(format!("--max wants 1..{MAX_CALLS} calls"));
        }
        let timeout = super::command::timeout(&a)?;
        Ok(RecvLoop { sock: sock.clone(), size, ignore_eof: a.has("ignore-eof"), max, timeout })
    }
}

/// An empty result that repeats: the spin a loop makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Empty {
    Eof,
    Again,
}

/// Why the loop stopped.
enum Stop {
    Eof,
    Max,
    Deadline,
    /// A call failed, or a wait ended first (timeout, Ctrl-C): already
    /// reported; the outcome carries that call's result.
    Failed(Outcome),
}

/// What the loop did, for the summary.
#[derive(Default)]
struct Tally {
    calls: usize,
    data_calls: usize,
    eofs: usize,
    again: usize,
    bytes: Vec<u8>,
    /// The run of identical empty results going on now, and how many of
    /// it were not shown one by one.
    run: Option<(Empty, usize)>,
    hidden: usize,
}

impl Lab {
    pub(super) fn recv_loop(&mut self, spec: &RecvLoop) -> Result<Outcome, String> {
        let RecvLoop { sock: name, size, ignore_eof, max, timeout } = spec;
        let name = name.as_str();
        let s = self.open(name)?;
        match s.kind {
            Kind::Listener | Kind::Unix(UnixKind::Listener) => {
                return Err(super::exec_io::listener_error(name, "recvloop"));
            }
            Kind::Udp | Kind::Unix(UnixKind::Dgram) => {
                return Err(format!(
                    "'{name}' is UDP: datagrams have no EOF (an empty one is still a message) — use recvfrom {name}"
                ));
            }
            Kind::Stream | Kind::Unix(UnixKind::Conn) => {}
        }
        if let Some(ty) = super::exec_unix::message_type(s)? {
            return Err(format!(
                "'{name}' is {ty}: message-based sockets have no EOF-by-empty-read (an empty record is still a message) — use recv {name}"
            ));
        }
        // The whole loop is bounded: by --timeout, else the socket's own
        // SO_RCVTIMEO, else netlab's default. A non-blocking socket never
        // waits, but its spin still stops when that time is up.
        let patience = self.patience(name, *timeout, false)?;
        let nonblocking = patience.is_none();
        let timeout = patience.or(*timeout).unwrap_or(DEFAULT_TIMEOUT);
        let started = Instant::now();
        let deadline = started + timeout;
        let call = format!("recv({size})");
        let mut buf = vec![0u8; *size];
        let mut t = Tally::default();
        let stop = loop {
            if t.calls == *max {
                break Stop::Max;
            }
            if nonblocking {
                // A non-blocking loop never waits, so it must watch the clock.
                if Instant::now() >= deadline {
                    break Stop::Deadline;
                }
                if cancel::is_cancelled() {
                    let out = self.gave_up(name, &call, cancel::Waited::Cancelled, timeout, "", false);
                    break Stop::Failed(out);
                }
            } else {
                // A blocking recv waits for data or EOF; netlab waits with
                // poll so the wait is bounded and Ctrl-C can end it.
                let left = deadline.saturating_duration_since(Instant::now());
                if let Some(out) =
                    self.until_readable(name, &call, (left, timeout), "data or EOF", "nothing arrived")?
                {
                    t.calls += 1;
                    break Stop::Failed(out);
                }
            }
            let got = nixsock::recv(self.open(name)?.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT);
            match got {
                // Blocking: poll's "readable" was only a hint; wait again.
                Err(Errno::EAGAIN) if !nonblocking => continue,
                Err(Errno::EAGAIN) => {
                    t.calls += 1;
                    t.again += 1;
                    self.empty_result(name, &call, &mut t, Empty::Again);
                }
                Err(e) => {
                    t.calls += 1;
                    self.flush_hidden(name, &call, &mut t);
                    break Stop::Failed(self.failed(name, &call, &e.into()));
                }
                Ok(0) => {
                    t.calls += 1;
                    t.eofs += 1;
                    self.empty_result(name, &call, &mut t, Empty::Eof);
                    if !ignore_eof {
                        break Stop::Eof;
                    }
                }
                Ok(n) => {
                    t.calls += 1;
                    t.data_calls += 1;
                    self.flush_hidden(name, &call, &mut t);
                    t.run = None;
                    t.bytes.extend_from_slice(&buf[..n]);
                    self.call(name, &call, CallResult::ok(format!("{n} bytes")));
                    self.emit(Event::bytes(name, Direction::Received, &buf[..n]));
                }
            }
        };
        self.flush_hidden(name, &call, &mut t);
        let elapsed = started.elapsed();
        let label = if *ignore_eof { format!("loop: {call}, EOF ignored") } else { format!("loop: {call} until EOF") };
        let summary = summary(&t, &stop, *max, timeout, elapsed);
        self.call(name, label, CallResult::ok(summary));
        let result = match stop {
            Stop::Failed(out) => out.result,
            _ => Some(CallResult::ok("")),
        };
        Ok(Outcome {
            sock: Some(name.into()),
            result,
            bytes: Some(t.bytes),
            value: Some(t.calls.to_string()),
            ..Outcome::default()
        })
    }

    /// Show the first few of a run of identical empty results; count the rest.
    fn empty_result(&mut self, name: &str, call: &str, t: &mut Tally, kind: Empty) {
        let run = match t.run {
            Some((k, n)) if k == kind => n + 1,
            _ => {
                self.flush_hidden(name, call, t);
                1
            }
        };
        t.run = Some((kind, run));
        if run > SHOWN_REPEATS {
            t.hidden += 1;
            return;
        }
        let own_shutdown = self.open(name).is_ok_and(|s| s.read_shut);
        let result = match (kind, run) {
            (Empty::Eof, 1) if own_shutdown => {
                CallResult::ok("0 bytes: this side called shutdown(SHUT_RD) and the queue is empty")
            }
            (Empty::Eof, 1) => CallResult::ok("0 bytes: EOF — the peer closed its sending side"),
            (Empty::Eof, _) => CallResult::ok("0 bytes again, at once: EOF is permanent"),
            (Empty::Again, _) => again(),
        };
        self.call(name, call, result);
    }

    /// The calls of the current run that were not shown, as one line.
    fn flush_hidden(&mut self, name: &str, call: &str, t: &mut Tally) {
        if t.hidden == 0 {
            return;
        }
        let label = format!("{call} ×{} more", t.hidden);
        let result = match t.run {
            Some((Empty::Again, _)) => again(),
            _ => CallResult::ok("0 bytes every time, at once"),
        };
        t.hidden = 0;
        self.call(name, label, result);
    }
}

fn again() -> CallResult {
    let mut r = super::errno::from_code(Errno::EAGAIN as i32);
    if let CallResult::Err { why, .. } = &mut r {
        *why = Some("nothing queued, and a non-blocking socket never waits".into());
    }
    r
}

fn summary(t: &Tally, stop: &Stop, max: usize, timeout: Duration, elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let calls = if t.calls == 1 { "1 call".to_string() } else { format!("{} calls", t.calls) };
    let data = match t.data_calls {
        0 => "no data".to_string(),
        1 => format!("{} bytes in 1 recv", t.bytes.len()),
        n => format!("{} bytes in {n} recvs", t.bytes.len()),
    };
    match stop {
        Stop::Eof => format!("{calls}: {data}, then 0 = EOF, so the loop ends (`if not data: break`)"),
        Stop::Max | Stop::Deadline => {
            let why = match stop {
                Stop::Max => format!("stopped by --max {max}"),
                _ => format!("stopped by --timeout {} ms", timeout.as_millis()),
            };
            let spin = if t.eofs > 1 {
                format!(
                    "; {} returned 0 at once — EOF never goes away, so a loop that ignores it spins at full CPU",
                    t.eofs
                )
            } else if t.again > 0 {
                format!(
                    "; {} were EAGAIN — a busy loop that burns CPU while it waits (poll waits in one call)",
                    t.again
                )
            } else {
                String::new()
            };
            format!("{calls} in {ms:.1} ms ({why}): {data}{spin}")
        }
        Stop::Failed(_) => format!("{calls} in {ms:.1} ms: {data}, then the last call failed"),
    }
}
