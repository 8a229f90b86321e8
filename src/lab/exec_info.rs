//! Looking at sockets: options, the `sockets` table, and kernel TCP states
//! read from /proc/net/tcp — including connections already closed by the
//! program but still held by the kernel (FIN_WAIT_2, TIME_WAIT…).

use std::os::fd::AsFd;

use super::endpoint::Endpoint;
use super::{Kind, Lab, LabSocket, Outcome, Slot, find_open};
use crate::event::{Event, SocketRow};
use crate::wire::kernel::{self, KernelEntry, Proto};
use crate::wire::{listen_queue, queues};

impl Lab {
    pub(super) fn sockets(&mut self) -> Result<Outcome, String> {
        let (tcp, udp) = (kernel::read_table(Proto::Tcp), kernel::read_table(Proto::Udp));
        for (table, file) in [(&tcp, "/proc/net/tcp"), (&udp, "/proc/net/udp")] {
            if let Err(e) = table {
                self.emit(Event::notice(format!("cannot read {file} ({e}): kernel states show as ?")));
            }
        }
        let (tcp, udp) = (tcp.ok(), udp.ok());
        let rows: Vec<SocketRow> = self
            .entries
            .iter()
            .filter_map(|e| match &e.slot {
                Slot::Open(s) if matches!(s.kind, Kind::Unix(_)) => {
                    Some(super::exec_unix::unix_row(&e.name, s, &self.unix_files))
                }
                Slot::Open(s) => Some(open_row(&e.name, s, tcp.as_deref(), udp.as_deref())),
                Slot::Closed { kind: Kind::Stream, local: Endpoint::Inet(local), peer: Some(Endpoint::Inet(peer)) } => {
                    // Closed by us; shown only while the kernel still has it.
                    let k = kernel::find_by_addrs(tcp.as_deref()?, *local, *peer)?;
                    Some(SocketRow {
                        name: e.name.clone(),
                        kind: "tcp (closed)".into(),
                        local: local.to_string(),
                        peer: peer.to_string(),
                        state: state_name(k),
                        recv_q: Some(k.rx_queue.into()),
                        send_q: Some(k.tx_queue.into()),
                    })
                }
                Slot::Closed { .. } => None,
            })
            .chain(self.service_rows(udp.as_deref()))
            .chain(self.server_rows())
            .collect();
        let udp_rows = rows.iter().any(|r| r.kind.starts_with(Kind::Udp.label()));
        let listener_rows = rows.iter().any(|r| r.kind == Kind::Listener.label());
        self.emit(Event::Table { rows });
        if listener_rows {
            self.emit(Event::notice(
                "listener: RECV-Q = accept queue (handshakes done, waiting for accept()), \
                 SEND-Q = backlog (from listen(), capped by net.core.somaxconn)",
            ));
        }
        if udp_rows {
            self.emit(Event::notice(
                "udp queues are kernel memory in use, as ss shows (a datagram costs more than its bytes)",
            ));
        }
        Ok(Outcome::default())
    }

    /// The kernel's entry for a socket: by inode while open, by its address
    /// pair once closed (the kernel's TIME_WAIT entries have no inode).
    pub fn kernel_entry(&self, name: &str) -> Option<KernelEntry> {
        let entry = self.entries.iter().find(|e| e.name == name)?;
        let table = kernel::read_table(Proto::Tcp).ok()?;
        match &entry.slot {
            Slot::Open(s) => kernel_row(&table, s).cloned(),
            Slot::Closed { local: Endpoint::Inet(local), peer: Some(Endpoint::Inet(peer)), .. } => {
                kernel::find_by_addrs(&table, *local, *peer).cloned()
            }
            Slot::Closed { .. } => None,
        }
    }

    /// A listener's accept queue and backlog; `None` for any other socket.
    pub fn accept_queue(&self, name: &str) -> Option<listen_queue::AcceptQueue> {
        let s = find_open(&self.entries, name).filter(|s| s.kind == Kind::Listener)?;
        listen_queue::accept_queue(s.sock.as_fd()).ok()
    }

    /// Whether `name` is (or was) a TCP socket netlab knows.
    pub(super) fn is_tcp(&self, name: &str) -> Option<bool> {
        self.entries.iter().find(|e| e.name == name).map(|e| match &e.slot {
            Slot::Open(s) => matches!(s.kind, Kind::Listener | Kind::Stream),
            Slot::Closed { kind, .. } => matches!(kind, Kind::Listener | Kind::Stream),
        })
    }

    pub(super) fn emit_kernel(&mut self, name: &str, k: &KernelEntry) {
        let (state, meaning) = match k.tcp_state() {
            Some(s) => (s.name().to_string(), s.meaning().to_string()),
            None => (format!("state {}", k.state_code), String::new()),
        };
        self.emit(Event::Kernel { sock: name.into(), local: k.local, peer: k.peer, state, meaning });
    }
}

fn state_name(k: &KernelEntry) -> String {
    k.tcp_state().map_or_else(|| k.state_code.to_string(), |s| s.name().to_string())
}

/// The kernel's row for a socket the program still holds. Usually found by
/// inode; but after shutdown(SHUT_WR) and the peer's FIN, the connection
/// moves to TIME_WAIT as an ownerless row (inode 0) while the fd stays open.
fn kernel_row<'t>(table: &'t [KernelEntry], s: &LabSocket) -> Option<&'t KernelEntry> {
    let inode = kernel::socket_inode(s.sock.as_fd()).ok()?;
    // After shutdown(SHUT_WR) and the peer's FIN, Linux hands the
    // connection to an ownerless TIME_WAIT row while our fd stays open.
    kernel::find_by_inode(table, inode).or_else(|| match (s.kind, &s.local, &s.peer) {
        (Kind::Stream, Endpoint::Inet(local), Some(Endpoint::Inet(peer))) => {
            kernel::find_by_addrs(table, *local, *peer).filter(|k| k.inode == 0)
        }
        _ => None,
    })
}

/// One row; a table that could not be read (`None`) gives state "?".
fn open_row(name: &str, s: &LabSocket, tcp: Option<&[KernelEntry]>, udp: Option<&[KernelEntry]>) -> SocketRow {
    let table = if s.kind == Kind::Udp { udp } else { tcp };
    let k = table.and_then(|t| kernel_row(t, s));
    let state = match (s.kind, table, k) {
        (_, None, _) => "?".to_string(),
        (Kind::Udp, _, _) => "UNCONN".to_string(),
        (_, _, Some(k)) => state_name(k),
        // Not in /proc/net/tcp: the connection ended (a RST, or never set up).
        (_, _, None) => "CLOSED".to_string(),
    };
    // A listener's queues are its accept queue and backlog, as `ss -lt`
    // shows them. For UDP, FIONREAD would count only the next datagram, so
    // show the kernel's memory in use, as `ss` does. For a TCP connection
    // FIONREAD / SIOCOUTQ count bytes.
    let (recv_q, send_q) = match s.kind {
        Kind::Listener => match listen_queue::accept_queue(s.sock.as_fd()) {
            Ok(q) => (Some(q.queued.into()), Some(q.backlog.into())),
            Err(_) => (k.map(|k| k.rx_queue.into()), None),
        },
        Kind::Udp => (k.map(|k| k.rx_queue.into()), k.map(|k| k.tx_queue.into())),
        Kind::Stream | Kind::Unix(_) => (
            queues::bytes_readable(s.sock.as_fd()).ok().map(|n| n as u64),
            queues::bytes_unsent(s.sock.as_fd()).ok().map(|n| n as u64),
        ),
    };
    SocketRow {
        name: name.into(),
        kind: s.kind.label().into(),
        local: s.local.to_string(),
        peer: s.peer.as_ref().map_or("-".into(), |p| p.to_string()),
        state,
        recv_q,
        send_q,
    }
}
