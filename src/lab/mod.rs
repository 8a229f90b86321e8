//! The lab: named real sockets, and the only code in netlab that touches
//! the OS. Every command runs here and reports what happened as events.

pub mod addr;
pub mod cancel;
pub mod command;
mod command_check;
mod command_help;
mod command_open;
mod command_read;
mod command_serve;
pub mod command_unix;
pub mod endpoint;
pub mod errno;
mod exec_check;
mod exec_conn;
mod exec_connect_many;
mod exec_epoll;
mod exec_follow;
mod exec_framing;
mod exec_hmac;
mod exec_info;
mod exec_io;
mod exec_opt;
mod exec_poll;
mod exec_recv_frame;
mod exec_recv_loop;
mod exec_send_while_reading;
mod exec_sendall;
mod exec_sendframe;
mod exec_serve;
mod exec_service;
mod exec_unix;
mod exec_unix_files;
mod exec_unix_io;
mod exec_wait;
pub mod follow;
mod names;
mod outcome;
pub mod payload;
pub mod ports;
pub mod privileged;
mod procs;
pub mod resolve;
pub(crate) mod server_proc;
pub mod service;
pub mod sysctl;
pub mod tokens;
mod unix_dir;
mod unprivileged;

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use cancel::Waited;
use nix::poll::PollFlags;

use socket2::Socket;

pub use command::Command;
pub use exec_framing::{Exchange, Handshake};
pub use exec_recv_frame::Framing;
pub use outcome::Outcome;

use crate::event::{CallResult, Event, Sink};
use endpoint::{Endpoint, UnixName};

/// The relay's seed unless `--seed N` says otherwise (for a demo: `netlab
/// demo NAME --seed N`). 14 makes the udp-loss demo's first eight requests
/// show a drop, a duplicate and a hold that is overtaken.
pub const DEFAULT_SEED: u64 = 14;

/// Blocking calls wait this long unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Listener,
    Stream,
    Udp,
    Unix(UnixKind),
}

/// An AF_UNIX socket's role; its type (stream, seqpacket, dgram) is asked
/// of the socket itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixKind {
    Listener,
    /// Connected: by connect, accept or socketpair.
    Conn,
    /// SOCK_DGRAM made by `unix bind`.
    Dgram,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Listener => "tcp listener",
            Kind::Stream => "tcp",
            Kind::Udp => "udp",
            Kind::Unix(_) => "unix",
        }
    }
}

pub struct LabSocket {
    pub kind: Kind,
    pub sock: Socket,
    pub local: Endpoint,
    pub peer: Option<Endpoint>,
    /// `shutdown read` was called: a 0-byte recv is then this side's
    /// doing, not the peer's FIN.
    pub read_shut: bool,
}

impl LabSocket {
    fn new(kind: Kind, sock: Socket, local: SocketAddr, peer: Option<SocketAddr>) -> LabSocket {
        LabSocket { kind, sock, local: Endpoint::Inet(local), peer: peer.map(Endpoint::Inet), read_shut: false }
    }

    fn unix(kind: UnixKind, sock: Socket, local: UnixName, peer: Option<UnixName>) -> LabSocket {
        let (local, peer) = (Endpoint::Unix(local), peer.map(Endpoint::Unix));
        LabSocket { kind: Kind::Unix(kind), sock, local, peer, read_shut: false }
    }
}

enum Slot {
    Open(LabSocket),
    /// After close() the kernel may still hold the connection (FIN_WAIT_2,
    /// TIME_WAIT…); remembering its addresses lets `sockets` show that.
    Closed {
        kind: Kind,
        local: Endpoint,
        peer: Option<Endpoint>,
    },
}

struct Entry {
    name: String,
    slot: Slot,
}

fn find_open<'a>(entries: &'a [Entry], name: &str) -> Option<&'a LabSocket> {
    entries.iter().find_map(|e| match &e.slot {
        Slot::Open(s) if e.name == name => Some(s),
        _ => None,
    })
}

fn waiting_notice(sock: &str, what: &str, timeout: Duration) -> Event {
    Event::notice(format!("{sock}: waiting up to {} ms for {what} — Ctrl-C cancels", timeout.as_millis()))
}

pub struct Lab {
    entries: Vec<Entry>,
    /// Relays and servers running in background threads.
    services: Vec<exec_service::NamedService>,
    /// Their reports, drained into `sink` around every command.
    reports: Receiver<service::Report>,
    reporter: Sender<service::Report>,
    /// Receive threads started by `follow SOCK`, and their reports.
    follows: exec_follow::Follows,
    /// Reference servers started with `serve`: child processes.
    servers: Vec<exec_serve::NamedServer>,
    /// The last answer `hmac` sent, for `hmac SOCK --replay`.
    hmac_sent: Option<exec_hmac::Captured>,
    /// The seed demos use for their relays (`netlab demo NAME --seed N`).
    seed: u64,
    sink: Box<dyn Sink>,
    /// Verdicts emitted so far, and how many failed (a demo's result).
    verdicts: usize,
    failed_verdicts: usize,
    /// Declared after `entries`, so sockets close before their files go.
    unix_files: unix_dir::UnixFiles,
}

/// Swallows events while a lesson's earlier steps are replayed.
struct Muted;

impl Sink for Muted {
    fn emit(&mut self, _: &Event) {}
}

impl Lab {
    pub fn new(sink: Box<dyn Sink>) -> Lab {
        let (reporter, reports) = std::sync::mpsc::channel();
        let (entries, services) = (Vec::new(), Vec::new());
        Lab {
            entries,
            services,
            reports,
            reporter,
            follows: Default::default(),
            servers: Vec::new(),
            hmac_sent: None,
            seed: DEFAULT_SEED,
            sink,
            verdicts: 0,
            failed_verdicts: 0,
            unix_files: Default::default(),
        }
    }

    /// The seed for demos' seeded relays.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// `(verdicts, failed)` so far.
    pub fn verdict_counts(&self) -> (usize, usize) {
        (self.verdicts, self.failed_verdicts)
    }

    /// Run `f` with a fresh, empty set of sockets (a demo inside a lesson),
    /// then close them all and bring the learner's sockets back.
    pub fn isolated<T>(&mut self, f: impl FnOnce(&mut Lab) -> T) -> T {
        let saved = std::mem::take(&mut self.entries);
        // Its own socket-file directory too, so its names never meet the learner's.
        let files = std::mem::take(&mut self.unix_files);
        let saved_services = std::mem::take(&mut self.services);
        let saved_follows = self.follows.take();
        let saved_servers = std::mem::take(&mut self.servers);
        let result = f(self);
        self.follows.clear();
        self.drain_follows();
        self.follows = saved_follows;
        self.stop_services();
        self.stop_servers();
        self.entries = saved;
        self.unix_files = files;
        self.services = saved_services;
        self.servers = saved_servers;
        result
    }

    /// Run `f` with every event discarded.
    pub fn muted<T>(&mut self, f: impl FnOnce(&mut Lab) -> T) -> T {
        let sink = std::mem::replace(&mut self.sink, Box::new(Muted));
        let result = f(self);
        self.sink = sink;
        result
    }

    pub fn emit(&mut self, event: Event) {
        self.sink.emit(&event);
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.emit(Event::say(text));
    }

    pub fn heading(&mut self, text: impl Into<String>) {
        self.emit(Event::Heading { text: text.into() });
    }

    /// Report whether a claim held, and return it.
    pub fn verdict(&mut self, ok: bool, text: impl Into<String>) -> bool {
        self.verdicts += 1;
        self.failed_verdicts += usize::from(!ok);
        self.emit(Event::Verdict { ok, text: text.into() });
        ok
    }

    /// Parse and run one command line, as typed at the prompt.
    pub fn run_line(&mut self, line: &str) -> Outcome {
        match Command::parse(line) {
            Ok(cmd) => self.exec(&cmd),
            Err(e) => self.usage_error(e),
        }
    }

    /// Show the command, then run it: for lesson `run` steps and demos.
    pub fn run_shown(&mut self, line: &str) -> Outcome {
        self.emit(Event::Command { line: line.to_string() });
        self.run_line(line)
    }

    pub fn exec(&mut self, cmd: &Command) -> Outcome {
        self.drain_reports();
        self.drain_servers();
        self.drain_follows();
        if let Some(refused) = self.before_follow_sensitive(cmd) {
            return self.usage_error(refused);
        }
        let outcome = self.exec_now(cmd);
        self.drain_reports();
        self.drain_servers();
        self.drain_follows();
        outcome
    }

    fn exec_now(&mut self, cmd: &Command) -> Outcome {
        let result = match cmd {
            Command::TcpListen { addr, name, reuseaddr, backlog } => {
                self.tcp_listen(addr.as_ref(), name.as_deref(), *reuseaddr, *backlog)
            }
            Command::TcpConnect { target, name, timeout, count: None } => {
                self.tcp_connect(target, name.as_deref(), *timeout)
            }
            Command::TcpConnect { target, name, timeout, count: Some(n) } => {
                self.tcp_connect_many(target, name.as_deref(), *timeout, *n)
            }
            Command::Accept { listener, name, timeout } => self.accept(listener, name.as_deref(), *timeout),
            Command::UdpBind { addr, name } => self.udp_bind(addr.as_ref(), name.as_deref()),
            Command::UdpServeTime { addr, name } => self.udp_serve_time(addr.as_ref(), name.as_deref()),
            Command::Relay { from, to, faults, name } => self.relay(from, to, *faults, name.as_deref()),
            Command::Send { sock, payload, timeout } => self.send(sock, payload, *timeout),
            Command::SendAll { sock, payload, timeout, reader } => {
                self.send_all(sock, payload, *timeout, reader.as_deref())
            }
            Command::SendTo { sock, target, payload } => self.send_to(sock, target, payload),
            Command::Recv { sock, size, peek, timeout, decode } => self.recv(sock, *size, *peek, *timeout, *decode),
            Command::RecvFrom { sock, size, peek, timeout } => self.recv_from(sock, *size, *peek, *timeout),
            Command::RecvFrame { sock, framing, timeout } => self.recv_frame(sock, *framing, *timeout),
            Command::Wait { sock, until, timeout } => self.wait(sock, until, *timeout),
            Command::RecvLoop(spec) => self.recv_loop(spec),
            Command::SendFrame(spec) => self.send_frame(spec),
            Command::Poll(spec) => self.poll(spec),
            Command::Epoll(spec) => self.epoll(spec),
            Command::Close { sock } => match self.close_service(sock).or_else(|| self.close_server(sock)) {
                Some(outcome) => Ok(outcome),
                None => self.close(sock),
            },
            Command::Shutdown { sock, how } => self.shutdown(sock, *how),
            Command::Opt { sock, opt, value } => self.opt(sock, *opt, value.as_deref()),
            Command::Sockets => self.sockets(),
            Command::Sysctl { name } => self.sysctl(name),
            Command::Resolve { host, family } => self.resolve_host(host, *family),
            Command::Addr { sock } => self.addr(sock),
            Command::BindUnprivileged { addr, name } => self.bind_unprivileged(addr, name.as_deref()),
            Command::Unix(u) => self.unix(u),
            Command::Follow { sock } => self.follow(sock),
            Command::Unfollow { sock } => self.unfollow(sock),
            Command::Serve(spec) => self.serve(spec),
            Command::Procs { server } => self.procs(server),
            Command::Hmac(spec) => self.hmac(spec),
            Command::Check(spec) => self.check(spec),
        };
        result.unwrap_or_else(|e| self.usage_error(e))
    }

    fn usage_error(&mut self, text: String) -> Outcome {
        self.emit(Event::error(text.clone()));
        Outcome { usage_error: Some(text), ..Outcome::default() }
    }

    /// Wait for `events` on the open socket `name`; if that will block, say
    /// so first. Borrows the sockets and the sink as separate fields.
    fn wait_on(&mut self, name: &str, events: PollFlags, timeout: Duration, what: &str) -> Result<Waited, String> {
        let Lab { entries, sink, .. } = self;
        let s = find_open(entries, name).ok_or_else(|| format!("no socket named '{name}'"))?;
        let announce = || sink.emit(&waiting_notice(name, what, timeout));
        cancel::wait_fd_announced(s.sock.as_fd(), events, timeout, announce).map_err(|e| e.to_string())
    }

    /// How long a call on `name` may wait: `--timeout` if given, else the
    /// socket's own SO_RCVTIMEO / SO_SNDTIMEO, else netlab's default. `None`
    /// when the socket is non-blocking: the call must not wait at all.
    fn patience(&self, name: &str, asked: Option<Duration>, writing: bool) -> Result<Option<Duration>, String> {
        let sock = &self.open(name)?.sock;
        if sock.nonblocking().map_err(|e| e.to_string())? {
            return Ok(None);
        }
        let own = if writing { sock.write_timeout() } else { sock.read_timeout() };
        Ok(Some(asked.or(own.map_err(|e| e.to_string())?).unwrap_or(DEFAULT_TIMEOUT)))
    }

    /// A call on a non-blocking socket that would have had to wait.
    fn would_block(&mut self, sock: &str, call: &str, err: &std::io::Error, why: String) -> Outcome {
        let mut result = errno::call_error(err);
        if let CallResult::Err { why: w, .. } = &mut result {
            *w = Some(why);
        }
        self.call(sock, call, result.clone());
        Outcome::of(sock, result)
    }

    /// Close every socket, stop every service, and forget every name.
    pub fn close_all(&mut self) {
        self.follows.clear();
        self.drain_follows();
        self.stop_services();
        self.stop_servers();
        self.entries.clear();
        self.unix_files.clean();
    }

    /// Register a new socket under `name`, report the call that finished
    /// making it (unless already reported), and return its outcome.
    fn created(&mut self, name: &str, sock: LabSocket, call: Option<String>, detail: String) -> Outcome {
        let result = CallResult::ok(detail);
        if let Some(call) = call {
            self.call(name, call, result.clone());
        }
        // A closed socket's name may be reused; the old record goes.
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry { name: name.to_string(), slot: Slot::Open(sock) });
        Outcome::of(name, result)
    }

    /// Wait up to `left` of the call's `timeout` until `name` is readable.
    /// `Ok(None)`: it is. `Ok(Some(_))`: the timeout or Ctrl-C came first,
    /// already reported as `call` failing.
    fn until_readable(
        &mut self,
        name: &str,
        call: &str,
        (left, timeout): (Duration, Duration),
        what: &str,
        missing: &str,
    ) -> Result<Option<Outcome>, String> {
        let waited = self.wait_on(name, PollFlags::POLLIN, left, what)?;
        Ok((!matches!(waited, Waited::Ready(_))).then(|| self.gave_up(name, call, waited, timeout, missing, true)))
    }

    fn call(&mut self, sock: &str, call: impl Into<String>, result: CallResult) {
        self.emit(Event::Call { sock: sock.to_string(), call: call.into(), result });
    }

    /// Report a failed system call; the outcome carries the errno.
    fn failed(&mut self, sock: &str, call: impl Into<String>, err: &std::io::Error) -> Outcome {
        let result = errno::call_error(err);
        self.call(sock, call, result.clone());
        Outcome::of(sock, result)
    }
}
