//! `poll`: wait for readiness on one or more sockets with one poll(2),
//! and show which events the kernel reported (revents). Readiness is how a
//! program waits without spinning: poll sleeps until a socket is readable
//! (data, EOF or a connection to accept) or writable, then one call does
//! the work without blocking.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;

use super::cancel;
use super::tokens::{self, Args};
use super::{DEFAULT_TIMEOUT, Lab, Outcome};
use crate::event::{CallResult, Event};

/// Poll in slices this long so a Ctrl-C is noticed quickly.
const SLICE_MS: u64 = 50;
const MAX_SOCKETS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollEvents {
    /// POLLIN: a recv (or accept) would not block.
    pub input: bool,
    /// POLLOUT: a send would not block.
    pub output: bool,
    /// POLLRDHUP (Linux): the peer shut down its sending side.
    pub rdhup: bool,
}

impl PollEvents {
    pub const WORDS: [&'static str; 3] = ["in", "out", "rdhup"];

    fn bits(self) -> libc::c_short {
        let mut bits = 0;
        if self.input {
            bits |= libc::POLLIN;
        }
        if self.output {
            bits |= libc::POLLOUT;
        }
        if self.rdhup {
            bits |= libc::POLLRDHUP;
        }
        bits
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSpec {
    pub socks: Vec<String>,
    pub events: PollEvents,
    pub timeout: Option<Duration>,
}

impl PollSpec {
    pub fn parse(rest: &[String]) -> Result<PollSpec, String> {
        let usage = "usage: poll SOCK… [in] [out] [rdhup] [--timeout MS], e.g. poll conn in --timeout 500";
        let a = Args::parse(rest, &["timeout"], &[])?;
        if a.name.is_some() {
            return Err("poll makes no socket, so it takes no `as NAME`".into());
        }
        let mut events = PollEvents { input: false, output: false, rdhup: false };
        let mut socks: Vec<String> = Vec::new();
        for word in &a.positional {
            match word.as_str() {
                "in" => events.input = true,
                "out" => events.output = true,
                "rdhup" => events.rdhup = true,
                sock => {
                    tokens::check_name(sock)?;
                    if socks.iter().any(|s| s == sock) {
                        return Err(format!("'{sock}' is named twice: poll each socket once"));
                    }
                    socks.push(sock.to_string());
                }
            }
        }
        if socks.is_empty() {
            return Err(usage.into());
        }
        if socks.len() > MAX_SOCKETS {
            return Err(format!("poll takes at most {MAX_SOCKETS} sockets"));
        }
        if !events.input && !events.output {
            // rdhup alone is allowed (it is an event of its own); nothing at all means "in".
            events.input = !events.rdhup;
        }
        Ok(PollSpec { socks, events, timeout: super::command::timeout(&a)? })
    }
}

/// Every revents bit poll can report on a socket, with what it means.
const FLAGS: [(libc::c_short, &str, &str); 6] = [
    (libc::POLLIN, "POLLIN", "a recv or accept will not block"),
    (libc::POLLOUT, "POLLOUT", "send will not block"),
    (libc::POLLRDHUP, "POLLRDHUP", "the peer shut its sending side: EOF after the queued bytes"),
    (libc::POLLHUP, "POLLHUP", "hung up: both directions are shut"),
    (libc::POLLERR, "POLLERR", "an error is pending (SO_ERROR)"),
    (libc::POLLNVAL, "POLLNVAL", "not an open file descriptor"),
];

fn names(bits: libc::c_short) -> String {
    let set: Vec<&str> = FLAGS.iter().filter(|(b, ..)| bits & b != 0).map(|(_, n, _)| *n).collect();
    if set.is_empty() { "none".to_string() } else { set.join("|") }
}

/// One poll(2) call on raw descriptors. nix's `PollFd::revents` cannot
/// report POLLRDHUP (a flag it does not model), so this calls libc.
fn poll_raw(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> Result<usize, Errno> {
    let nfds = libc::nfds_t::try_from(fds.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `fds` is a valid, exclusively borrowed slice of `nfds`
    // pollfd structs for the whole call; poll only writes their revents.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
    if n < 0 { Err(Errno::last()) } else { Ok(usize::try_from(n).unwrap_or(0)) }
}

impl Lab {
    pub(super) fn poll(&mut self, spec: &PollSpec) -> Result<Outcome, String> {
        let events = spec.events.bits();
        let mut fds = Vec::with_capacity(spec.socks.len());
        for name in &spec.socks {
            let fd = self.open(name)?.sock.as_raw_fd();
            fds.push(libc::pollfd { fd, events, revents: 0 });
        }
        let timeout = spec.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let who = spec.socks.join(",");
        let call = format!("poll({who}: {}, {timeout_ms} ms)", names(events));
        let started = Instant::now();
        // Sockets are only borrowed by number here: nothing closes them
        // while this command runs.
        let mut ready = poll_raw(&mut fds, 0).map_err(|e| e.to_string())?;
        if ready == 0 && timeout_ms > 0 {
            let what = format!("readiness ({})", names(events));
            self.emit(super::waiting_notice(&who, &what, timeout));
            while ready == 0 {
                if cancel::is_cancelled() {
                    return Ok(self.gave_up(&who, &call, cancel::Waited::Cancelled, timeout, "", false));
                }
                let left = timeout.saturating_sub(started.elapsed());
                if left.is_zero() {
                    break;
                }
                let slice = u64::try_from(left.as_millis()).unwrap_or(SLICE_MS).clamp(1, SLICE_MS);
                ready = match poll_raw(&mut fds, libc::c_int::try_from(slice).unwrap_or(1)) {
                    Ok(n) => n,
                    Err(Errno::EINTR) => 0,
                    Err(e) => return Ok(self.failed(&who, call, &e.into())),
                };
            }
        }
        let waited = started.elapsed().as_millis();
        let detail = if ready == 0 {
            format!("0 ready after {waited} ms: poll returns 0 when the time is up — not an error, nothing to do yet")
        } else {
            let when = if waited == 0 { "at once".to_string() } else { format!("after {waited} ms") };
            let each: Vec<String> = spec
                .socks
                .iter()
                .zip(&fds)
                .filter(|(_, p)| p.revents != 0)
                .map(|(name, p)| {
                    let meaning: Vec<&str> =
                        FLAGS.iter().filter(|(b, ..)| p.revents & b != 0).map(|(.., m)| *m).collect();
                    format!("{name} {} ({})", names(p.revents), meaning.join("; "))
                })
                .collect();
            format!("{ready} ready {when}: {}", each.join(", "))
        };
        let result = CallResult::ok(detail);
        self.emit(Event::Call { sock: who.clone(), call, result: result.clone() });
        let value = match fds.as_slice() {
            [one] => names(one.revents),
            _ => spec
                .socks
                .iter()
                .zip(&fds)
                .map(|(n, p)| format!("{n}={}", names(p.revents)))
                .collect::<Vec<_>>()
                .join(" "),
        };
        Ok(Outcome { value: Some(value), ..Outcome::of(&who, result) })
    }
}
