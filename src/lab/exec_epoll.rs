//! `epoll`: register one socket with a fresh epoll instance, then call
//! epoll_wait(2) several times without reading, and show what each call
//! reported. That is the difference between the two triggering modes
//! (man 7 epoll): level-triggered (the default) reports the socket on
//! every wait while unread data is queued; edge-triggered (EPOLLET)
//! reports it once per arrival, so a program must read until EAGAIN
//! each time it wakes, or it will never hear about those bytes again.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::tokens::{self, Args};
use super::{Lab, Outcome, cancel};
use crate::event::{CallResult, Event};
use crate::wire::queues::bytes_readable;

/// epoll_wait in slices this long so a Ctrl-C is noticed quickly.
const SLICE_MS: u64 = 50;
const DEFAULT_WAITS: usize = 3;
const MAX_WAITS: usize = 10;
const DEFAULT_WAIT_MS: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpollSpec {
    pub sock: String,
    /// EPOLLET: report a change of readiness, not a state.
    pub edge: bool,
    /// How many epoll_wait calls to make.
    pub waits: usize,
    /// How long each epoll_wait may wait.
    pub timeout: Duration,
}

impl EpollSpec {
    pub fn parse(rest: &[String]) -> Result<EpollSpec, String> {
        let usage = "usage: epoll SOCK [--edge] [--waits N] [--timeout MS], e.g. epoll conn --edge";
        let a = Args::parse(rest, &["waits", "timeout"], &["edge"])?;
        if a.name.is_some() {
            return Err("epoll makes no socket you can use later, so it takes no `as NAME`".into());
        }
        let [sock] = a.positional.as_slice() else { return Err(usage.into()) };
        tokens::check_name(sock)?;
        let waits = a.number::<usize>("waits")?.unwrap_or(DEFAULT_WAITS);
        if !(1..=MAX_WAITS).contains(&waits) {
            return Err(format!("--waits wants 1..{MAX_WAITS}"));
        }
        let timeout = super::command::timeout(&a)?.unwrap_or(Duration::from_millis(DEFAULT_WAIT_MS));
        Ok(EpollSpec { sock: sock.clone(), edge: a.has("edge"), waits, timeout })
    }
}

/// Every event bit worth naming on a socket, with what it means.
const FLAGS: [(EpollFlags, &str, &str); 5] = [
    (EpollFlags::EPOLLIN, "EPOLLIN", "readable"),
    (EpollFlags::EPOLLOUT, "EPOLLOUT", "writable"),
    (EpollFlags::EPOLLRDHUP, "EPOLLRDHUP", "the peer shut its sending side"),
    (EpollFlags::EPOLLHUP, "EPOLLHUP", "hung up"),
    (EpollFlags::EPOLLERR, "EPOLLERR", "an error is pending"),
];

fn names(bits: EpollFlags) -> String {
    let set: Vec<&str> = FLAGS.iter().filter(|(b, ..)| bits.contains(*b)).map(|(_, n, _)| *n).collect();
    if set.is_empty() { "none".to_string() } else { set.join("|") }
}

/// One epoll_wait for at most `timeout`, in slices; `None` on Ctrl-C.
fn wait_once(epoll: &Epoll, timeout: Duration) -> Result<Option<EpollFlags>, Errno> {
    let started = Instant::now();
    let mut events = [EpollEvent::empty()];
    loop {
        if cancel::is_cancelled() {
            return Ok(None);
        }
        let left = timeout.saturating_sub(started.elapsed());
        let slice = left.min(Duration::from_millis(SLICE_MS));
        let slice = EpollTimeout::try_from(slice).unwrap_or(EpollTimeout::ZERO);
        match epoll.wait(&mut events, slice) {
            Ok(0) if left.is_zero() => return Ok(Some(EpollFlags::empty())),
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => return Ok(Some(events[0].events())),
            Err(e) => return Err(e),
        }
    }
}

impl Lab {
    pub(super) fn epoll(&mut self, spec: &EpollSpec) -> Result<Outcome, String> {
        let name = spec.sock.as_str();
        let mode = if spec.edge { "edge-triggered, EPOLLET" } else { "level-triggered" };
        let interest = if spec.edge { EpollFlags::EPOLLIN | EpollFlags::EPOLLET } else { EpollFlags::EPOLLIN };
        let epoll = match Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC) {
            Ok(e) => e,
            Err(e) => return Ok(self.failed(name, "epoll_create1(EPOLL_CLOEXEC)", &e.into())),
        };
        let add = format!("epoll_ctl(ADD, {name}, {})", if spec.edge { "EPOLLIN|EPOLLET" } else { "EPOLLIN" });
        let added = epoll.add(self.open(name)?.sock.as_fd(), EpollEvent::new(interest, 0));
        if let Err(e) = added {
            return Ok(self.failed(name, add, &e.into()));
        }
        self.call(name, add, CallResult::ok(format!("registered, {mode}")));
        let ms = spec.timeout.as_millis();
        let mut seen = Vec::with_capacity(spec.waits);
        for n in 1..=spec.waits {
            let call = format!("epoll_wait #{n} ({ms} ms)");
            let started = Instant::now();
            let got = match wait_once(&epoll, spec.timeout) {
                Ok(Some(got)) => got,
                Ok(None) => return Ok(self.gave_up(name, &call, cancel::Waited::Cancelled, spec.timeout, "", false)),
                Err(e) => return Ok(self.failed(name, call, &e.into())),
            };
            let unread = bytes_readable(self.open(name)?.sock.as_fd()).map_err(|e| e.to_string())?;
            let detail = if got.is_empty() {
                format!("0 events after {} ms, though {unread} bytes are still unread", started.elapsed().as_millis())
            } else {
                let meaning: Vec<&str> = FLAGS.iter().filter(|(b, ..)| got.contains(*b)).map(|(.., m)| *m).collect();
                format!("{name} {} ({}), {unread} bytes unread", names(got), meaning.join("; "))
            };
            self.call(name, call, CallResult::ok(detail));
            seen.push(names(got));
        }
        let reported = seen.iter().filter(|s| *s != "none").count();
        self.emit(Event::notice(format!(
            "{mode}: {reported} of {} waits reported {name}, with nothing read in between",
            spec.waits
        )));
        Ok(Outcome { value: Some(seen.join(" ")), ..Outcome::of(name, CallResult::ok(format!("{reported} reported"))) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<EpollSpec, String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        EpollSpec::parse(&words)
    }

    #[test]
    fn parses_defaults_and_flags() {
        let spec = parse("conn").expect("valid");
        assert_eq!((spec.edge, spec.waits, spec.timeout), (false, 3, Duration::from_millis(100)));
        let spec = parse("conn --edge --waits 2 --timeout 20").expect("valid");
        assert_eq!((spec.edge, spec.waits, spec.timeout), (true, 2, Duration::from_millis(20)));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse("").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("conn --waits 0").is_err());
        assert!(parse("conn --waits 11").is_err());
        assert!(parse("conn as x").is_err());
    }
}
