//! Waiting for something the learner cannot see coming: bytes in a
//! receive queue (FIONREAD), a kernel TCP state in /proc/net/tcp, or
//! connections in a listener's accept queue (TCP_INFO).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::cancel;
use super::command::WaitFor;
use super::{DEFAULT_TIMEOUT, Kind, Lab, Outcome};
use crate::event::CallResult;
use crate::wire::kernel::{KernelEntry, TcpState};
use crate::wire::queues;

/// What `wait SOCK readable N` found.
enum Readable {
    Enough(usize),
    /// No more bytes will come: the peer closed, or reading was shut down.
    Ended(usize),
    /// UDP: the next datagram is smaller than N and must be read first.
    ShortDatagram(usize),
}

impl Lab {
    pub(super) fn wait(&mut self, name: &str, until: &WaitFor, timeout: Option<Duration>) -> Result<Outcome, String> {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        match until {
            WaitFor::Readable(n) => self.wait_readable(name, *n, timeout),
            WaitFor::State(state) => self.wait_state(name, *state, timeout),
            WaitFor::Queued(n) => self.wait_queued(name, *n, timeout),
            WaitFor::Log(text) => self.wait_log(name, text, timeout),
        }
    }

    /// The client's connect() returns once its own kernel has sent the
    /// final ACK; the listener's kernel queues the connection when that ACK
    /// is processed (softirq), which may be a moment later. This waits for
    /// the server's side, so the next step sees the queue it expects.
    fn wait_queued(&mut self, name: &str, want: u32, timeout: Duration) -> Result<Outcome, String> {
        if self.open(name)?.kind != Kind::Listener {
            return Err(format!("'{name}' is not a TCP listener: only a listener has an accept queue to wait for"));
        }
        let call = format!("getsockopt(TCP_INFO) until accept queue ≥ {want}");
        let mut last = self.accept_queue(name);
        if last.is_none_or(|q| q.queued < want) {
            let unit = if want == 1 { "connection" } else { "connections" };
            self.emit(super::waiting_notice(name, &format!("{want} queued {unit}"), timeout));
        }
        let found = cancel::wait_until(timeout, || {
            last = self.accept_queue(name);
            last.filter(|q| q.queued >= want)
        });
        match found {
            Ok(q) => {
                let result = CallResult::ok(format!("{} queued (backlog {})", q.queued, q.backlog));
                self.call(name, call, result.clone());
                Ok(Outcome { value: Some(q.queued.to_string()), ..Outcome::of(name, result) })
            }
            Err(waited) => {
                let missing = match last {
                    Some(q) if want > q.backlog + 1 => format!(
                        "only {} queued: with backlog {}, Linux queues at most {} and drops further SYNs",
                        q.queued,
                        q.backlog,
                        q.backlog + 1
                    ),
                    Some(q) => format!("only {} queued (did enough clients connect?)", q.queued),
                    None => "the kernel did not report the accept queue".to_string(),
                };
                Ok(self.gave_up(name, &call, waited, timeout, &missing, false))
            }
        }
    }

    /// Re-reads FIONREAD every few milliseconds. Not SO_RCVLOWAT + poll:
    /// Linux caps that option at half the receive buffer and grows the
    /// buffer to fit it, which would quietly change the learner's socket.
    fn wait_readable(&mut self, name: &str, want: usize, timeout: Duration) -> Result<Outcome, String> {
        let s = self.open(name)?;
        if matches!(s.kind, Kind::Listener | Kind::Unix(super::UnixKind::Listener)) {
            return Err(format!("'{name}' is listening: wait for data on an accepted socket, or just accept {name}"));
        }
        let call = format!("ioctl(FIONREAD) until ≥ {want}");
        // Datagram sockets count only the next datagram; SOCK_SEQPACKET
        // counts every queued byte, like a stream.
        let udp = s.kind == Kind::Udp || s.sock.r#type().is_ok_and(|t| t == socket2::Type::DGRAM);
        let probe = |fd: BorrowedFd<'_>| -> Option<Readable> {
            let queued = queues::bytes_readable(fd).ok()?;
            if queued >= want {
                Some(Readable::Enough(queued))
            } else if udp {
                has_input(fd, PollFlags::POLLIN).then_some(Readable::ShortDatagram(queued))
            } else {
                read_side_done(fd).then_some(Readable::Ended(queued))
            }
        };
        let found = match probe(s.sock.as_fd()) {
            Some(now) => now,
            None => {
                self.emit(super::waiting_notice(name, &format!("{want} bytes"), timeout));
                let fd = self.open(name)?.sock.as_fd();
                match cancel::wait_until(timeout, || probe(fd)) {
                    Ok(later) => later,
                    Err(waited) => {
                        let unit = if want == 1 { "byte" } else { "bytes" };
                        let missing = format!(
                            "fewer than {want} {unit} arrived (if that is more than the receive buffer holds, it never will: see opt {name} rcvbuf)"
                        );
                        return Ok(self.gave_up(name, &call, waited, timeout, &missing, false));
                    }
                }
            }
        };
        let (result, queued) = match found {
            Readable::Enough(q) => (CallResult::ok(format!("{q} bytes queued")), q),
            Readable::Ended(q) => {
                let why = format!("only {q} bytes will ever arrive: the peer closed (or reading was shut down)");
                (CallResult::Failed { why }, q)
            }
            Readable::ShortDatagram(q) => {
                let why = format!("the next datagram is {q} bytes: UDP counts one datagram at a time");
                (CallResult::Failed { why }, q)
            }
        };
        self.call(name, call, result.clone());
        Ok(Outcome { value: Some(queued.to_string()), ..Outcome::of(name, result) })
    }

    fn wait_state(&mut self, name: &str, want: TcpState, timeout: Duration) -> Result<Outcome, String> {
        match self.is_tcp(name) {
            None => return Err(self.unknown(name)),
            Some(false) => {
                return Err(format!("'{name}' is not TCP: only TCP has connection states (sockets shows the others)"));
            }
            Some(true) => {}
        }
        let call = format!("wait for {want} (/proc/net/tcp)");
        let mut last = None;
        // A connection ended by a RST (or never made) leaves the kernel's
        // table at once: for a socket we still hold, that absence is CLOSED.
        let held = self.open(name).is_ok();
        let found = cancel::wait_until(timeout, || {
            let entry = self.kernel_entry(name);
            last = entry.as_ref().and_then(KernelEntry::tcp_state);
            match entry {
                None if held && want == TcpState::Close => Some(None),
                entry => entry.filter(|k| k.tcp_state() == Some(want)).map(Some),
            }
        });
        match found {
            Ok(k) => {
                self.call(name, call, CallResult::ok(want.name()));
                if let Some(k) = k {
                    self.emit_kernel(name, &k);
                }
                let value = Some(want.name().to_string());
                Ok(Outcome { value, ..Outcome::of(name, CallResult::ok("")) })
            }
            Err(waited) => {
                let seen = last.map_or("gone from the kernel".to_string(), |s| format!("still {s}"));
                let out = self.gave_up(
                    name,
                    &call,
                    waited,
                    timeout,
                    &format!("the kernel did not show {want} ({seen})"),
                    false,
                );
                Ok(out)
            }
        }
    }
}

/// Will no more bytes arrive? Asks poll() for POLLRDHUP alone: any event it
/// reports then (RDHUP, HUP or ERR) means the receive side is finished.
/// (nix's `revents()` is `None` for RDHUP, a flag it does not model, so
/// the count is what is read here.)
pub(super) fn read_side_done(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::from_bits_retain(nix::libc::POLLRDHUP))];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

/// Does `fd` report any of `events` right now?
fn has_input(fd: BorrowedFd<'_>, events: PollFlags) -> bool {
    let mut fds = [PollFd::new(fd, events)];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0 && fds[0].revents().is_some_and(|r| r.intersects(events)))
}
