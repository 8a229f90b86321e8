//! Looking at sockets: options, the `sockets` table, and kernel TCP states
//! read from /proc/net/tcp — including connections already closed by the
//! program but still held by the kernel (FIN_WAIT_2, TIME_WAIT…).

use std::os::fd::AsFd;
use std::time::Duration;

use super::command::SockOpt;
use super::{Kind, Lab, LabSocket, Outcome, Slot};
use crate::event::{CallResult, Event, SocketRow};
use crate::wire::kernel::{self, KernelEntry, Proto};
use crate::wire::queues;

impl Lab {
    pub(super) fn opt(&mut self, name: &str, opt: SockOpt, value: Option<&str>) -> Result<Outcome, String> {
        let s = self.open(name)?;
        if opt == SockOpt::NoDelay && s.kind == Kind::Udp {
            return Err("nodelay (TCP_NODELAY) is a TCP option; UDP has no Nagle algorithm".into());
        }
        let label = match opt {
            SockOpt::ReuseAddr => "SO_REUSEADDR",
            SockOpt::NoDelay => "TCP_NODELAY",
            SockOpt::Linger => "SO_LINGER",
            SockOpt::RcvBuf => "SO_RCVBUF",
            SockOpt::SndBuf => "SO_SNDBUF",
        };
        let set = match value {
            None => Ok(()),
            Some(v) => set_opt(s, opt, v)?,
        };
        if let Err(e) = set {
            return Ok(self.failed(name, format!("setsockopt({label}, {})", value.unwrap_or_default()), &e));
        }
        let now = match get_opt(s, opt) {
            Ok(v) => v,
            Err(e) => return Ok(self.failed(name, format!("getsockopt({label})"), &e)),
        };
        let shown = match (opt, now.as_str()) {
            (SockOpt::ReuseAddr | SockOpt::NoDelay, "1") => "1 (on)".to_string(),
            (SockOpt::ReuseAddr | SockOpt::NoDelay, _) => "0 (off)".to_string(),
            (SockOpt::Linger, "off") => "off (close() returns at once; the kernel sends what is left)".to_string(),
            (SockOpt::Linger, "0") => "on, 0 s (close() will reset the connection: RST, no TIME_WAIT)".to_string(),
            (SockOpt::Linger, secs) => format!("on, {secs} s (close() may block up to {secs} s for unsent data)"),
            _ => now.clone(),
        };
        let (call, mut detail) = match value {
            Some(v) => (format!("setsockopt({label}, {v})"), format!("now {shown}")),
            None => (format!("getsockopt({label})"), shown),
        };
        if let (Some(asked), SockOpt::RcvBuf | SockOpt::SndBuf) = (value.and_then(|v| v.parse::<u64>().ok()), opt) {
            detail.push_str(&buffer_note(opt, asked, now.parse().unwrap_or(0)));
        }
        let result = CallResult::ok(detail);
        self.call(name, call, result.clone());
        Ok(Outcome { sock: Some(name.into()), result: Some(result), value: Some(now), ..Outcome::default() })
    }

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
                Slot::Open(s) => Some(open_row(&e.name, s, tcp.as_deref(), udp.as_deref())),
                Slot::Closed { kind: Kind::Stream, local, peer: Some(peer) } => {
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
            .collect();
        let udp_rows = rows.iter().any(|r| r.kind.starts_with(Kind::Udp.label()));
        self.emit(Event::Table { rows });
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
            Slot::Open(s) => {
                let inode = kernel::socket_inode(s.sock.as_fd()).ok()?;
                kernel::find_by_inode(&table, inode).cloned()
            }
            Slot::Closed { local, peer: Some(peer), .. } => kernel::find_by_addrs(&table, *local, *peer).cloned(),
            Slot::Closed { .. } => None,
        }
    }

    /// Whether `name` is (or was) a TCP socket netlab knows.
    pub(super) fn is_tcp(&self, name: &str) -> Option<bool> {
        self.entries.iter().find(|e| e.name == name).map(|e| match &e.slot {
            Slot::Open(s) => s.kind != Kind::Udp,
            Slot::Closed { kind, .. } => *kind != Kind::Udp,
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

/// Why SO_RCVBUF/SO_SNDBUF reads back differently from what was set.
fn buffer_note(opt: SockOpt, asked: u64, now: u64) -> String {
    let sysctl = if opt == SockOpt::RcvBuf { "net.core.rmem_max" } else { "net.core.wmem_max" };
    if now == asked.saturating_mul(2) {
        " (Linux doubles the value asked for, to leave room for bookkeeping — man 7 socket)".into()
    } else if now < asked.saturating_mul(2) {
        format!(" (capped: {sysctl} limits it, then Linux doubles — man 7 socket)")
    } else {
        " (raised to the kernel's minimum buffer size — man 7 socket)".into()
    }
}

fn state_name(k: &KernelEntry) -> String {
    k.tcp_state().map_or_else(|| k.state_code.to_string(), |s| s.name().to_string())
}

/// One row; a table that could not be read (`None`) gives state "?".
fn open_row(name: &str, s: &LabSocket, tcp: Option<&[KernelEntry]>, udp: Option<&[KernelEntry]>) -> SocketRow {
    let table = if s.kind == Kind::Udp { udp } else { tcp };
    let inode = kernel::socket_inode(s.sock.as_fd()).ok();
    let k = table.zip(inode).and_then(|(t, inode)| kernel::find_by_inode(t, inode));
    let state = match (s.kind, table, k) {
        (_, None, _) => "?".to_string(),
        (Kind::Udp, _, _) => "UNCONN".to_string(),
        (_, _, Some(k)) => state_name(k),
        // Not in /proc/net/tcp: the connection ended (a RST, or never set up).
        (_, _, None) => "CLOSED".to_string(),
    };
    // A listener's rx_queue is its accept queue. For UDP, FIONREAD would
    // count only the next datagram, so show the kernel's memory in use, as
    // `ss` does. For a TCP connection FIONREAD / SIOCOUTQ count bytes.
    let (recv_q, send_q) = match s.kind {
        Kind::Listener => (k.map(|k| k.rx_queue.into()), None),
        Kind::Udp => (k.map(|k| k.rx_queue.into()), k.map(|k| k.tx_queue.into())),
        Kind::Stream => (
            queues::bytes_readable(s.sock.as_fd()).ok().map(|n| n as u64),
            queues::bytes_unsent(s.sock.as_fd()).ok().map(|n| n as u64),
        ),
    };
    SocketRow {
        name: name.into(),
        kind: s.kind.label().into(),
        local: s.local.to_string(),
        peer: s.peer.map_or("-".into(), |p| p.to_string()),
        state,
        recv_q,
        send_q,
    }
}

fn parse_switch(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err(format!("'{v}' is not on/off (also 1/0)")),
    }
}

/// Outer error: the value was unusable (usage error). Inner: the kernel said no.
fn set_opt(s: &LabSocket, opt: SockOpt, v: &str) -> Result<std::io::Result<()>, String> {
    let sock = &s.sock;
    Ok(match opt {
        SockOpt::ReuseAddr => sock.set_reuse_address(parse_switch(v)?),
        SockOpt::NoDelay => sock.set_tcp_nodelay(parse_switch(v)?),
        SockOpt::Linger => {
            let linger = match v {
                "off" => None,
                secs => {
                    let usage = || format!("linger wants off or 0..=60 seconds, not '{secs}'");
                    let secs: u64 = secs.parse().map_err(|_| usage())?;
                    // Longer lingers only make close() block longer; the kernel
                    // would take huge values as "forever".
                    if secs > 60 {
                        return Err(usage());
                    }
                    Some(Duration::from_secs(secs))
                }
            };
            sock.set_linger(linger)
        }
        SockOpt::RcvBuf | SockOpt::SndBuf => {
            let size: usize = v.parse().map_err(|_| format!("'{v}' is not a size in bytes"))?;
            if opt == SockOpt::RcvBuf { sock.set_recv_buffer_size(size) } else { sock.set_send_buffer_size(size) }
        }
    })
}

fn get_opt(s: &LabSocket, opt: SockOpt) -> std::io::Result<String> {
    let sock = &s.sock;
    let switch = |b: bool| if b { "1" } else { "0" }.to_string();
    Ok(match opt {
        SockOpt::ReuseAddr => switch(sock.reuse_address()?),
        SockOpt::NoDelay => switch(sock.tcp_nodelay()?),
        SockOpt::Linger => match sock.linger()? {
            None => "off".into(),
            Some(d) => d.as_secs().to_string(),
        },
        SockOpt::RcvBuf => sock.recv_buffer_size()?.to_string(),
        SockOpt::SndBuf => sock.send_buffer_size()?.to_string(),
    })
}
