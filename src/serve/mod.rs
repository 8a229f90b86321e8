//! Reference servers: `netlab serve echo|upper --model iterative|thread`.
//!
//! Each protocol is a [`handler::Handler`] (bytes in, bytes out, no
//! sockets); each concurrency model is a small module that accepts
//! connections and drives handlers. The same echo server, several ways.

pub mod conn;
pub mod echo;
pub mod handler;
pub mod model_iterative;
pub mod model_thread;
pub mod upper;

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::poll::PollFlags;

use crate::event::{CallResult, Event, Sink};
use crate::lab::cancel::{self, Waited};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// Every byte back, unchanged.
    Echo,
    /// Every byte back, ASCII upper-cased.
    Upper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Model {
    /// One client at a time: the next waits in the listen queue.
    Iterative,
    /// A thread per connection, up to a cap.
    #[default]
    Thread,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Upper => "upper",
        }
    }
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Iterative => "iterative",
            Model::Thread => "thread",
        }
    }
}

/// How often blocked calls wake up to notice Ctrl-C or SIGTERM.
pub const TICK: Duration = Duration::from_millis(100);

/// The event sink, shared by the accept loop and every connection thread.
#[derive(Clone)]
pub struct Log(Arc<Mutex<Box<dyn Sink>>>);

impl Log {
    pub fn new(sink: Box<dyn Sink>) -> Self {
        Log(Arc::new(Mutex::new(sink)))
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

/// Bind, announce the address, and serve until Ctrl-C or SIGTERM. Returns
/// after every connection is closed and every thread joined.
pub fn run(proto: Proto, model: Model, addr: SocketAddr, log: &Log) -> Result<(), String> {
    check_loopback(addr)?;
    cancel::install_shutdown_handlers().map_err(|e| format!("cannot install the Ctrl-C/SIGTERM handler: {e}"))?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    // Non-blocking so a connection that vanishes between poll and accept
    // gives EAGAIN rather than a hang.
    listener.set_nonblocking(true).map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    log.emit(&Event::notice(format!("listening on {local} ({}, model {})", proto.name(), model.name())));
    log.emit(&Event::notice("Ctrl-C or SIGTERM stops the server"));
    let accepted = match model {
        Model::Iterative => model_iterative::serve(&listener, proto, log),
        Model::Thread => model_thread::serve(&listener, proto, log),
    };
    drop(listener);
    let plural = if accepted == 1 { "" } else { "s" };
    log.emit(&Event::notice(format!("shut down: {accepted} connection{plural} accepted, listener closed")));
    Ok(())
}

/// Wait for the next connection; `None` once shutdown was asked for.
pub fn next_client(listener: &TcpListener, log: &Log) -> Option<(std::net::TcpStream, SocketAddr)> {
    loop {
        match cancel::wait_fd(listener.as_fd(), PollFlags::POLLIN, TICK) {
            Ok(Waited::Cancelled) => return None,
            Ok(Waited::TimedOut) => continue,
            Ok(Waited::Ready(_)) => {}
            Err(e) => {
                log.call("listener", "poll", CallResult::Failed { why: e.to_string() });
                return None;
            }
        }
        match listener.accept() {
            Ok(pair) => return Some(pair),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            // ECONNABORTED, EMFILE…: one failed accept is not the end of the server.
            Err(e) => log.call("listener", "accept", CallResult::Failed { why: e.to_string() }),
        }
    }
}
