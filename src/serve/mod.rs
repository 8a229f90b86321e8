//! Reference servers: `netlab serve PROTO --model M`.
//!
//! Each protocol is a [`handler::Handler`] (bytes in, bytes out, no
//! sockets), made per connection by a [`protocol::Protocol`]; each
//! concurrency model is a small module that accepts connections and drives
//! handlers. The same echo server, several ways.

pub mod auth;
pub mod chat;
pub mod chat_room;
pub mod cmd;
pub mod cmd_builtins;
pub mod config;
pub mod conn;
pub mod echo;
pub mod event_conn;
pub mod event_loop;
pub mod file;
pub mod file_root;
pub mod framed;
pub mod handler;
pub mod mailbox;
pub mod model_epoll;
pub mod model_fork;
pub mod model_iterative;
pub mod model_poll;
pub mod model_pool;
pub mod model_select;
pub mod model_thread;
pub mod protocol;
pub mod udp;
pub mod upper;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

pub use config::{Config, Model, Proto};
pub use protocol::Protocol;

use crate::event::{CallResult, Event, Sink};
use crate::lab::cancel;

/// What `netlab serve` says after its address. The playground does not
/// show it: there the server has its own process group, Ctrl-C does not
/// reach it, and `close NAME` stops it.
pub const STOP_HINT: &str = "Ctrl-C or SIGTERM stops the server";

/// How often blocked calls wake up to notice a stop.
pub const TICK: Duration = Duration::from_millis(100);

/// The event sink, shared by the accept loop and every connection thread.
#[derive(Clone)]
pub struct Log(Arc<Mutex<Box<dyn Sink>>>);

impl Log {
    pub fn new(sink: Box<dyn Sink>) -> Self {
        Log(Arc::new(Mutex::new(sink)))
    }

    /// A log that drops everything (the bench, unit tests).
    pub fn discard() -> Self {
        struct Discard;
        impl Sink for Discard {
            fn emit(&mut self, _: &Event) {}
        }
        Log::new(Box::new(Discard))
    }

    pub fn emit(&self, event: &Event) {
        // A thread that panicked mid-emit leaves the renderer usable.
        match self.0.lock() {
            Ok(mut sink) => sink.emit(event),
            Err(poisoned) => poisoned.into_inner().emit(event),
        }
    }

    pub fn call(&self, sock: &str, call: &str, result: CallResult) {
        self.emit(&Event::Call { sock: sock.into(), call: call.into(), result });
    }
}

/// When a server stops. `netlab serve` stops on Ctrl-C or SIGTERM; a
/// server inside a demo, the bench or the REPL stops when its owner says
/// so — never because the learner pressed Ctrl-C to cancel something else.
#[derive(Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    on_signals: bool,
}

impl Stop {
    /// Stop on Ctrl-C / SIGTERM (the handlers must be installed) or [`Stop::stop`].
    pub fn on_signals() -> Self {
        Stop { flag: Arc::default(), on_signals: true }
    }

    /// Stop only when [`Stop::stop`] is called.
    pub fn manual() -> Self {
        Stop::default()
    }

    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || (self.on_signals && cancel::is_cancelled())
    }
}

/// Refuse anything but loopback: netlab never serves the network.
pub fn check_loopback(addr: SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "--addr {addr}: not a loopback address; netlab serves only on 127.0.0.1 or ::1 (try --addr 127.0.0.1:0)"
        ))
    }
}

/// A server bound and ready, not yet serving: its address is known, so a
/// demo can start clients before [`Bound::serve`] runs on its own thread.
pub struct Bound {
    listener: Listener,
    local: SocketAddr,
    protocol: Protocol,
    config: Config,
}

/// A TCP listener, or the one UDP socket of `upper --udp` and `time`.
pub enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Check the config and bind the listener.
pub fn bind(config: &Config) -> Result<Bound, String> {
    check_loopback(config.addr)?;
    let protocol = Protocol::new(config)?;
    if config.model == Model::Pool {
        model_pool::check(config.workers)?;
    }
    if config.is_udp() {
        let socket = udp::bind(config.addr)?;
        let local = socket.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
        return Ok(Bound { listener: Listener::Udp(socket), local, protocol, config: config.clone() });
    }
    let listener = TcpListener::bind(config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    // Non-blocking so a connection that vanishes between poll and accept
    // gives EAGAIN rather than a hang.
    listener.set_nonblocking(true).map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    Ok(Bound { listener: Listener::Tcp(listener), local, protocol, config: config.clone() })
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serve until `stop`; returns how many connections were accepted
    /// (datagrams answered, for UDP), after every one is closed and every
    /// thread joined.
    pub fn serve(self, log: &Log, stop: &Stop) -> usize {
        let Bound { listener, local, protocol, config } = self;
        let listener = match listener {
            Listener::Tcp(l) => l,
            Listener::Udp(socket) => return udp::serve(&socket, local, &config, log, stop),
        };
        log.emit(&Event::notice(format!(
            "listening on {local} ({}, model {})",
            config.proto.name(),
            config.model.name()
        )));
        for note in protocol.notes() {
            log.emit(&Event::notice(note));
        }
        if stop.on_signals {
            log.emit(&Event::notice(STOP_HINT));
        }
        let server = Server { listener: &listener, protocol: &protocol, config: &config, log, stop };
        let accepted = match config.model {
            Model::Iterative => model_iterative::serve(&server),
            Model::Thread => model_thread::serve(&server),
            Model::Fork => model_fork::serve(&server),
            Model::Pool => model_pool::serve(&server),
            Model::Select => model_select::serve(&server),
            Model::Poll => model_poll::serve(&server),
            Model::Epoll => model_epoll::serve(&server),
        };
        drop(listener);
        let plural = if accepted == 1 { "" } else { "s" };
        log.emit(&Event::notice(format!("shut down: {accepted} connection{plural} accepted, listener closed")));
        accepted
    }
}

/// What [`Server::next_or_tick`] saw.
pub enum Next {
    Client(std::net::TcpStream, SocketAddr),
    Tick,
    Stop,
}

/// What every model needs: the listener, how to make handlers, the
/// settings, where to log, and when to stop.
pub struct Server<'a> {
    pub listener: &'a TcpListener,
    pub protocol: &'a Protocol,
    pub config: &'a Config,
    pub log: &'a Log,
    pub stop: &'a Stop,
}

/// `netlab serve`: bind, announce, serve until Ctrl-C or SIGTERM.
pub fn run(config: &Config, log: &Log) -> Result<(), String> {
    cancel::install_shutdown_handlers().map_err(|e| format!("cannot install the Ctrl-C/SIGTERM handler: {e}"))?;
    let bound = bind(config)?;
    let stop = Stop::on_signals();
    bound.serve(log, &stop);
    Ok(())
}

impl Server<'_> {
    /// Wait for the next connection; `None` once the server should stop.
    pub fn next_client(&self) -> Option<(std::net::TcpStream, SocketAddr)> {
        loop {
            match self.next_or_tick() {
                Next::Client(stream, peer) => return Some((stream, peer)),
                Next::Tick => continue,
                Next::Stop => return None,
            }
        }
    }

    /// Wait at most one TICK for a connection, so a model with chores
    /// (reaping children) gets control back at least that often.
    pub fn next_or_tick(&self) -> Next {
        if self.stop.is_set() {
            return Next::Stop;
        }
        let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(TICK.as_millis() as u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return Next::Tick,
            Ok(_) => {}
            Err(e) => {
                self.log.call("listener", "poll", CallResult::Failed { why: e.to_string() });
                return Next::Stop;
            }
        }
        match self.listener.accept() {
            Ok((stream, peer)) => Next::Client(stream, peer),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Next::Tick,
            // ECONNABORTED, EMFILE…: one failed accept is not the end of the server.
            Err(e) => {
                self.log.call("listener", "accept", CallResult::Failed { why: e.to_string() });
                // EMFILE leaves the listener readable: back off instead of spinning.
                std::thread::sleep(TICK);
                Next::Tick
            }
        }
    }

    /// Turn connection `name` from `peer` away: log why, tell the client
    /// where its protocol has a way to ([`Protocol::refusal`]), and close
    /// with a FIN — what it already sent is read and dropped first, since
    /// closing on unread input sends a reset, which can destroy the reason
    /// before the client reads it.
    pub fn refuse(&self, stream: std::net::TcpStream, name: &str, peer: SocketAddr, why: &str) {
        self.log.emit(&Event::notice(format!("{name} from {peer} refused: {why}")));
        conn::refuse(stream, &self.protocol.refusal(why));
    }

    /// Why a client past `--max-conns` is turned away.
    pub fn full(&self) -> String {
        let cap = self.config.max_conns;
        let clients = if cap == 1 { "client" } else { "clients" };
        format!("{cap} {clients} already connected (--max-conns)")
    }

    /// The context a handler for connection number `n` gets.
    pub fn ctx(&self, n: usize, peer: SocketAddr) -> handler::Ctx {
        handler::Ctx { name: format!("conn#{n}"), peer, log: self.log.clone() }
    }
}
