//! Lab-owned UDP services that run in background threads: the seeded lossy
//! relay (`relay udp …`) and the time server (`udp serve time`).
//!
//! Each service thread owns its socket, waits for datagrams with poll() in
//! short slices so it notices the lab's stop flag, and reports what it did
//! on a channel. The lab drains that channel before and after every command
//! (and right after a read), so the thread's reports reach the lab's one
//! event sink in the order they happened. A thread sends its report
//! *before* the datagram it describes, so a reply a client reads can never
//! be shown ahead of the relay decision that let it through.
//!
//! Dropping a [`Service`] stops and joins its thread and closes its socket:
//! no thread or descriptor outlives its name.

pub mod faults;
mod relay;
mod time_server;

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::event::RelayAction;
use faults::{Fate, Faults};

/// How often a service thread looks at its stop flag while idle.
const STOP_POLL: Duration = Duration::from_millis(20);

/// What a service thread tells the lab. Addresses stay addresses here; the
/// lab turns them into socket names when it shows them.
#[derive(Debug)]
pub enum Report {
    Relay { relay: String, n: Option<u64>, from: SocketAddr, to: SocketAddr, data: Vec<u8>, action: RelayAction },
    Served { server: String, from: SocketAddr, request: Vec<u8>, reply: Vec<u8> },
    Trouble { service: String, text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Relay { to: SocketAddr, faults: Faults },
    TimeServer,
}

impl What {
    pub fn label(&self) -> &'static str {
        match self {
            What::Relay { .. } => "udp relay",
            What::TimeServer => "udp time server",
        }
    }
}

pub struct Service {
    pub what: What,
    pub local: SocketAddr,
    /// The socket's inode, to find it in /proc/net/udp for `sockets`.
    pub inode: Option<u64>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// Datagrams received so far (counted after they are reported).
    seen: Arc<AtomicU64>,
    /// The relay's decision log: the fate of each datagram on its way to
    /// the server, in arrival order. Deterministic for a given seed.
    fates: Arc<Mutex<Vec<Fate>>>,
}

/// What a service thread gets: its name, socket, and ways to report.
struct Ctx {
    name: String,
    sock: UdpSocket,
    stop: Arc<AtomicBool>,
    seen: Arc<AtomicU64>,
    reports: Sender<Report>,
}

impl Ctx {
    fn report(&self, report: Report) {
        // The lab's receiver outlives every service, so a send only fails
        // while the lab itself is being torn down; nothing is left to tell.
        let _ = self.reports.send(report);
    }

    fn trouble(&self, text: String) {
        self.report(Report::Trouble { service: self.name.clone(), text });
    }

    /// The next datagram, or `None` when the lab said stop.
    fn next(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            let ready = poll(&mut fds, PollTimeout::try_from(STOP_POLL).unwrap_or(PollTimeout::ZERO));
            if matches!(ready, Ok(n) if n > 0) {
                match self.sock.recv_from(buf) {
                    Ok(got) => return Some(got),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    // ICMP errors from an earlier send surface here; they
                    // belong to that send, not to this read.
                    Err(e) => self.trouble(format!("recvfrom: {e}")),
                }
            }
        }
    }

    fn send(&self, data: &[u8], to: SocketAddr) {
        if let Err(e) = self.sock.send_to(data, to) {
            self.trouble(format!("sendto({to}): {e}"));
        }
    }

    fn counted(&self) {
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Service {
    /// Start `what` on `sock` (already bound) in a thread named for it.
    pub fn start(name: &str, what: What, sock: UdpSocket, reports: Sender<Report>) -> std::io::Result<Service> {
        sock.set_nonblocking(true)?;
        let local = sock.local_addr()?;
        let inode = crate::wire::kernel::socket_inode(sock.as_fd()).ok();
        let (stop, seen, fates) = (Arc::default(), Arc::new(AtomicU64::new(0)), Arc::default());
        let ctx = Ctx { name: name.to_string(), sock, stop: Arc::clone(&stop), seen: Arc::clone(&seen), reports };
        let thread = std::thread::Builder::new();
        let handle = match what {
            What::Relay { to, faults } => {
                let log = Arc::clone(&fates);
                thread.name("nl-relay".into()).spawn(move || relay::run(&ctx, to, faults, &log))?
            }
            What::TimeServer => thread.name("nl-time".into()).spawn(move || time_server::run(&ctx))?,
        };
        Ok(Service { what, local, inode, stop, handle: Some(handle), seen, fates })
    }

    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    pub fn fates(&self) -> Vec<Fate> {
        self.fates.lock().map_or_else(|p| p.into_inner().clone(), |f| f.clone())
    }

    /// Ask the thread to stop, without waiting: stopping several services
    /// then costs one poll slice, not one each.
    pub fn signal_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stop the thread and wait for it (at most one poll slice).
    pub fn stop(&mut self) {
        self.signal_stop();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
