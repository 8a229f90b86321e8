//! The echo load generator: one thread drives a share of the clients,
//! each a non-blocking connection watched with epoll, in a closed loop —
//! every connection keeps exactly one 64-byte request outstanding: send
//! it, wait for the whole echo, check it, time it, send the next.
//!
//! Why not a thread per client, blocking in `write`/`read`: the bench
//! compares servers, so the client must never be what limits them. On a
//! 2-core machine 100 client threads and their context switches take the
//! CPU the server needs, and every fast server measured the client's
//! ceiling, the same number. Here a round trip costs the client one
//! `write`, one `read` and a share of one `epoll_wait`, less than any
//! server spends on it, so the server is what is measured.
//!
//! Every wait is bounded: connecting by the whole budget (run + grace),
//! replies by the end of the grace. A client still waiting then was kept
//! waiting by the server (the iterative server's listen queue) — the
//! measurement, not a failure.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::echo::{Budget, Gate, MESSAGE};
use crate::lab::cancel;

/// The longest epoll_wait, so Ctrl-C is noticed while replies are awaited.
const TICK: Duration = Duration::from_millis(50);

/// What one client (one connection) did.
#[derive(Debug, Default)]
pub struct ClientRun {
    pub latencies_ns: Vec<u64>,
    pub error: Option<String>,
    /// When the last reply arrived.
    pub done: Option<Instant>,
}

/// One client's connection and where it is in its round trip.
struct Client {
    /// `None` once closed: finished, failed, or never connected.
    stream: Option<TcpStream>,
    msg: [u8; MESSAGE],
    back: [u8; MESSAGE],
    /// Bytes of `msg` written, and of the echo read, this round trip.
    sent: usize,
    got: usize,
    /// When this round trip's request was sent.
    t0: Instant,
    /// What epoll was last told: writable too, or readable only.
    wants_write: bool,
    run: ClientRun,
}

impl Client {
    fn new(id: usize, now: Instant) -> Client {
        let mut msg = [0u8; MESSAGE];
        for (i, b) in msg.iter_mut().enumerate() {
            *b = b'a' + ((i + id) % 26) as u8;
        }
        Client {
            stream: None,
            msg,
            back: [0; MESSAGE],
            sent: 0,
            got: 0,
            t0: now,
            wants_write: true,
            run: ClientRun::default(),
        }
    }

    /// Stop watching and close: the server sees EOF at once, so an
    /// iterative server moves on to the next client in its queue.
    fn close(&mut self, epoll: &Epoll) {
        if let Some(s) = self.stream.take() {
            let _ = epoll.delete(&s);
        }
    }

    fn fail(&mut self, epoll: &Epoll, why: String) {
        self.run.error = Some(why);
        self.close(epoll);
    }

    /// Tell epoll about writability only while part of a request is unsent:
    /// level-triggered, a socket with room would otherwise wake it forever.
    fn watch(&mut self, epoll: &Epoll, write: bool, token: u64) -> Result<(), String> {
        let Some(s) = &self.stream else { return Ok(()) };
        if write == self.wants_write {
            return Ok(());
        }
        let flags = if write { EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT } else { EpollFlags::EPOLLIN };
        epoll.modify(s, &mut EpollEvent::new(flags, token)).map_err(|e| format!("epoll_ctl: {e}"))?;
        self.wants_write = write;
        Ok(())
    }

    /// Start a round trip at `now`: write as much of the request as fits.
    fn send(&mut self, epoll: &Epoll, token: u64, now: Instant) {
        (self.sent, self.got, self.t0) = (0, 0, now);
        self.write_more(epoll, token);
    }

    fn write_more(&mut self, epoll: &Epoll, token: u64) {
        let Some(s) = &mut self.stream else { return };
        while self.sent < MESSAGE {
            match s.write(&self.msg[self.sent..]) {
                Ok(0) => return self.fail(epoll, "send: the connection took no bytes".into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(epoll, format!("send: {e}")),
            }
        }
        if let Err(e) = self.watch(epoll, self.sent < MESSAGE, token) {
            self.fail(epoll, e);
        }
    }

    /// Read what has arrived of the echo. A whole echo is checked and
    /// timed; before `run_end` the next request goes out, after it the
    /// connection closes (the run is over for this client).
    fn read_more(&mut self, epoll: &Epoll, token: u64, run_end: Instant) {
        let Some(s) = &mut self.stream else { return };
        match s.read(&mut self.back[self.got..]) {
            Ok(0) => return self.fail(epoll, "the server closed the connection".into()),
            Ok(n) => self.got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            Err(e) => return self.fail(epoll, format!("recv: {e}")),
        }
        if self.got < MESSAGE {
            return;
        }
        // An echo cannot run ahead of the request: bytes before it is all
        // sent are wrong too.
        if self.sent < MESSAGE || self.back != self.msg {
            return self.fail(epoll, "the echo differs from what was sent".into());
        }
        let now = Instant::now();
        self.run.latencies_ns.push((now - self.t0).as_nanos() as u64);
        self.run.done = Some(now);
        if now < run_end {
            self.send(epoll, token, now);
        } else {
            self.close(epoll);
        }
    }
}

/// Start a non-blocking connect to `addr`; completion is "writable".
fn start_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), Some(Protocol::TCP))?;
    s.set_nonblocking(true)?;
    // 64-byte requests must go out at once, not wait for Nagle.
    s.set_tcp_nodelay(true)?;
    match s.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(e) => return Err(e),
    }
    Ok(s.into())
}

/// epoll_wait for at most `left` (whole ms, rounded up, at most a TICK);
/// EINTR is an empty wait.
fn wait(epoll: &Epoll, events: &mut [EpollEvent], left: Duration) -> Result<usize, String> {
    let ms = left.min(TICK).as_micros().div_ceil(1000) as u16;
    match epoll.wait(events, EpollTimeout::from(ms)) {
        Ok(n) => Ok(n),
        Err(Errno::EINTR) => Ok(0),
        Err(e) => Err(format!("epoll_wait: {e}")),
    }
}

/// Connect every client, waiting at most `limit` for the handshakes.
/// A server's listen queue completes them even before it accepts.
fn connect_all(epoll: &Epoll, clients: &mut [Client], addr: SocketAddr, limit: Duration) {
    let mut pending = 0;
    for (k, c) in clients.iter_mut().enumerate() {
        let added = start_connect(addr).and_then(|s| {
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT;
            epoll.add(&s, EpollEvent::new(flags, k as u64))?;
            Ok(s)
        });
        match added {
            Ok(s) => {
                c.stream = Some(s);
                pending += 1;
            }
            Err(e) => c.run.error = Some(format!("connect: {e}")),
        }
    }
    let mut connected = vec![false; clients.len()];
    let mut events = vec![EpollEvent::empty(); clients.len().max(1)];
    let deadline = Instant::now() + limit;
    while pending > 0 && !cancel::is_cancelled() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let n = match wait(epoll, &mut events, left) {
            Ok(n) => n,
            Err(e) => {
                clients.iter_mut().filter(|c| c.stream.is_some()).for_each(|c| c.fail(epoll, format!("connect: {e}")));
                return;
            }
        };
        for ev in &events[..n] {
            let k = ev.data() as usize;
            let (Some(c), Some(false)) = (clients.get_mut(k), connected.get(k).copied()) else { continue };
            let Some(s) = &c.stream else { continue };
            pending -= 1;
            match s.take_error() {
                Ok(None) if !ev.events().contains(EpollFlags::EPOLLHUP) => {
                    connected[k] = true;
                    // Readable only from now on: writable would wake this
                    // wait at once, over and over, while others connect.
                    if let Err(e) = c.watch(epoll, false, k as u64) {
                        c.fail(epoll, format!("connect: {e}"));
                    }
                }
                Ok(None) => c.fail(epoll, "connect: the connection was closed".into()),
                Ok(Some(e)) | Err(e) => c.fail(epoll, format!("connect: {e}")),
            }
        }
    }
    for (c, ok) in clients.iter_mut().zip(connected) {
        if !ok && c.stream.is_some() {
            let why = if cancel::is_cancelled() {
                "cancelled".into()
            } else {
                format!("connect: no answer in {} ms", limit.as_millis())
            };
            c.fail(epoll, why);
        }
    }
}

/// Drive clients `ids` against `addr`: connect them all, arrive at the
/// gate, then run closed-loop round trips from the gate's start until
/// `budget.run` has passed, and wait up to `budget.grace` more for the
/// replies still owed. One result per client, in `ids` order.
pub fn drive(addr: SocketAddr, ids: Range<usize>, budget: Budget, gate: &Gate) -> Vec<ClientRun> {
    let now = Instant::now();
    let mut clients: Vec<Client> = ids.map(|id| Client::new(id, now)).collect();
    let epoll = match Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC) {
        Ok(e) => e,
        Err(e) => {
            // Arrive all the same, so the others do not wait for this thread.
            let _ = gate.arrive();
            let why = format!("epoll_create1: {e}");
            return clients.into_iter().map(|_| ClientRun { error: Some(why.clone()), ..Default::default() }).collect();
        }
    };
    connect_all(&epoll, &mut clients, addr, budget.run + budget.grace);
    // Every thread arrives, whatever its connects did, so the clock
    // starts once for all clients.
    if let Some(start) = gate.arrive() {
        run(&epoll, &mut clients, start, budget);
    }
    clients
        .into_iter()
        .map(|mut c| {
            c.close(&epoll);
            c.run
        })
        .collect()
}

fn run(epoll: &Epoll, clients: &mut [Client], start: Instant, budget: Budget) {
    let run_end = start + budget.run;
    let hard_end = run_end + budget.grace;
    for (k, c) in clients.iter_mut().enumerate() {
        c.send(epoll, k as u64, Instant::now());
    }
    let mut events = vec![EpollEvent::empty(); clients.len().max(1)];
    let mut live = clients.iter().filter(|c| c.stream.is_some()).count();
    while live > 0 && !cancel::is_cancelled() {
        let left = hard_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let n = match wait(epoll, &mut events, left) {
            Ok(n) => n,
            Err(e) => {
                clients.iter_mut().filter(|c| c.stream.is_some()).for_each(|c| c.fail(epoll, e.clone()));
                return;
            }
        };
        for ev in &events[..n] {
            let k = ev.data();
            let Some(c) = clients.get_mut(k as usize).filter(|c| c.stream.is_some()) else { continue };
            let got = ev.events();
            if got.intersects(EpollFlags::EPOLLOUT | EpollFlags::EPOLLERR) && c.sent < MESSAGE {
                c.write_more(epoll, k);
            }
            if got.intersects(EpollFlags::EPOLLIN | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR) {
                c.read_more(epoll, k, run_end);
            }
            if c.stream.is_none() {
                live -= 1;
            }
        }
    }
    // Still owed a reply at the end of the grace: a client that was served
    // before was cut off; one never served waited (the note says so).
    let waited = budget.run + budget.grace;
    for c in clients.iter_mut().filter(|c| c.stream.is_some()) {
        if !c.run.latencies_ns.is_empty() && !cancel::is_cancelled() {
            c.run.error = Some(format!("no reply within {} ms", waited.as_millis()));
        }
        c.close(epoll);
    }
}

#[cfg(test)]
#[path = "echo_load_tests.rs"]
mod tests;
