//! select (I/O 多路复用): one thread serves a crowd of clients, until a
//! client's descriptor reaches FD_SETSIZE (1024) — the wall select cannot
//! pass, because an fd_set is a fixed bitmap of 1024 bits.
//!
//! Deterministic by construction. Part (a) runs `netlab serve` with
//! `--model select` and checks /proc: one process, one thread. Part (b)
//! runs the same select server inside this process, so the server's
//! descriptors and the demo's clients share one numbering: every client
//! takes one fd and its accepted connection another, so a few hundred
//! clients are certain to push the server past 1023 (other threads'
//! descriptors only bring the wall nearer). Which client is refused is
//! read from the server's log (conn#K is the K-th), not guessed from
//! descriptor numbers. Clients connect in
//! batches, each waiting until the server has accepted the last batch,
//! so the listen queue never overflows (no SYN is dropped, no retry).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use super::must;
use crate::event::{CallResult, Event, Sink};
use crate::lab::{Lab, cancel};
use crate::serve::{self, Config, Log, Model, Proto, Stop};

const CLIENTS: usize = 5;
/// Clients in part (b): two fds each in this process, so about 510 reach
/// fd 1024; the rest are refused by the server.
const CROWD: usize = 600;
const BATCH: usize = 100;
/// Descriptors part (b) needs, with room for the test harness's own.
const NEEDED_FDS: u64 = 2 * CROWD as u64 + 100;
const FD_SETSIZE: usize = 1024;
/// The soft limit raised to (when the hard one allows).
const ROOMY_FDS: u64 = 65536;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    one_thread(lab)?;
    wall(lab)
}

fn one_thread(lab: &mut Lab) -> Result<(), String> {
    lab.heading(format!("(a) {CLIENTS} clients, one thread, select()"));
    must(lab, "serve echo --model select as srv")?;
    must(lab, &format!("tcp connect srv --count {CLIENTS} as c"))?;
    lab.say("Every client sends first, then every client reads: no thread waits for any one of them.");
    for i in 1..=CLIENTS {
        must(lab, &format!("send c{i} \"client {i}\""))?;
    }
    let mut answered = 0;
    for i in 1..=CLIENTS {
        let got = must(lab, &format!("recv c{i}"))?;
        answered += usize::from(got.bytes.as_deref() == Some(format!("client {i}").as_bytes()));
    }
    lab.verdict(answered == CLIENTS, format!("{answered} of {CLIENTS} clients got their own echo"));
    let procs = must(lab, "procs srv")?;
    let one = matches!(&procs.result, Some(CallResult::Ok { detail }) if detail.starts_with("1 server process (1 thread(s)), 0 child"));
    lab.verdict(one, "all of them served by one process with one thread: select() watched every socket at once");
    for i in 1..=CLIENTS {
        must(lab, &format!("close c{i}"))?;
    }
    must(lab, "close srv")?;
    Ok(())
}

/// The server's log lines, kept as text for the demo to look through.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<String>>>);

impl Sink for Kept {
    fn emit(&mut self, event: &Event) {
        let line = match event {
            Event::Call { sock, call, result: CallResult::Ok { detail } } => format!("{sock} {call} → {detail}"),
            Event::Notice { text } => text.clone(),
            Event::Error { text } => format!("error: {text}"),
            _ => return,
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
}

impl Kept {
    fn count(&self, text: &str) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|l| l.contains(text)).count()
    }

    fn first(&self, text: &str) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|l| l.contains(text)).cloned()
    }
}

/// Make sure this process may open enough descriptors: raise the soft
/// RLIMIT_NOFILE towards the hard one (an unprivileged process may).
fn enough_fds() -> Result<(), String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    if soft >= NEEDED_FDS {
        return Ok(());
    }
    if hard < NEEDED_FDS {
        return Err(format!(
            "this process may open only {hard} descriptors (hard RLIMIT_NOFILE); the wall needs {NEEDED_FDS}"
        ));
    }
    // As high as allowed, not just enough: the limit is the whole
    // process's, and whatever else runs in it (a lesson's sockets, other
    // threads) still needs room while the wall holds its 1,200.
    let soft = hard.clamp(NEEDED_FDS, ROOMY_FDS);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(|e| format!("setrlimit: {e}"))
}

fn wall(lab: &mut Lab) -> Result<(), String> {
    lab.heading(format!("(b) the wall: FD_SETSIZE = {FD_SETSIZE}"));
    lab.say(
        "An fd_set is a bitmap of FD_SETSIZE = 1024 bits: FD_SET(fd) sets bit fd, so a descriptor numbered\n\
         1024 or more has no bit. In C, FD_SET(1024, &set) writes past the end of the set — undefined\n\
         behaviour, a memory corruption; Rust's nix panics instead. So a select() server must refuse\n\
         such a client. This select server runs inside the demo's own process, so its connections and\n\
         the demo's clients share one set of descriptor numbers, and a few hundred clients get there.",
    );
    enough_fds()?;
    let config = Config::new(Proto::Echo, Model::Select);
    let bound = serve::bind(&config)?;
    let addr = bound.local_addr();
    let kept = Kept::default();
    let log = Log::new(Box::new(kept.clone()));
    let stop = Stop::manual();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || bound.serve(&log, &stop))
    };
    let crowd = crowd(lab, &addr.to_string(), &kept);
    stop.stop();
    server.join().map_err(|_| "the select server panicked".to_string())?;
    let refused = crowd?;
    let first = kept.first("FD_SETSIZE").unwrap_or_default();
    lab.say(format!("The server's log, at the wall:\n  {first}"));
    let fd: Option<usize> = first.split_once(" fd ").and_then(|(_, rest)| rest.split(' ').next()?.parse().ok());
    lab.verdict(
        refused > 0 && fd.is_some_and(|fd| fd >= FD_SETSIZE),
        format!("{refused} clients refused, the first as its connection got fd {}, ≥ FD_SETSIZE", fd.unwrap_or(0)),
    );
    lab.say(
        "poll() takes an array of (fd, events) with no such limit, and epoll registers each descriptor\n\
         once instead of passing them all on every call. That is why servers moved on from select.",
    );
    Ok(())
}

/// Connect `CROWD` clients in batches; check one below the wall is served
/// and the first refused one sees EOF. Returns how many were refused.
fn crowd(lab: &mut Lab, addr: &str, kept: &Kept) -> Result<usize, String> {
    let settle = Duration::from_secs(3);
    for batch in 0..CROWD / BATCH {
        must(lab, &format!("tcp connect {addr} --count {BATCH} as b{batch}_"))?;
        let want = (batch + 1) * BATCH;
        let accepted = || (kept.count(" accept → ") + kept.count(" refused: ") >= want).then_some(());
        cancel::wait_until(settle, accepted).map_err(|_| format!("the server did not accept {want} clients"))?;
    }
    let refused = kept.count("FD_SETSIZE");
    // conn#K is the K-th client: each connect finished before the next
    // began, and the server accepts in queue order. Which ones it served
    // depends on how many descriptors the process already had, so ask its log.
    let client = |pattern: &str| -> Result<String, String> {
        let line = kept.first(pattern).unwrap_or_default();
        let k: usize = line
            .strip_prefix("conn#")
            .and_then(|rest| rest.split(' ').next()?.parse().ok())
            .filter(|k| (1..=CROWD).contains(k))
            .ok_or_else(|| format!("no {pattern:?} line for a client in the server's log: {line:?}"))?;
        Ok(format!("b{}_{}", (k - 1) / BATCH, (k - 1) % BATCH + 1))
    };
    let served = client(" accept → ")?;
    must(lab, &format!("send {served} \"below the wall\""))?;
    let echo = must(lab, &format!("recv {served}"))?;
    lab.verdict(
        echo.bytes.as_deref() == Some(b"below the wall".as_slice()),
        format!("{served}, the first client below the wall, is served"),
    );
    let name = client("FD_SETSIZE")?;
    let eof = must(lab, &format!("recv {name}"))?;
    lab.verdict(
        eof.bytes.as_deref() == Some(&[][..]),
        format!("{name}, past the wall, was closed at once: recv returns 0"),
    );
    Ok(refused)
}
