//! What `netlab check` tests: an address on this machine, and — because
//! it is on this machine — the server process behind it and the kernel's
//! view of each connection's far end.
//!
//! Both ends of a loopback connection are in this machine's
//! `/proc/net/tcp`, so the checker can see how many bytes the server has
//! not read yet. That is what makes the 1-byte test exact: the next byte
//! goes only once the server's `recv()` has taken the previous one.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::wire::kernel::{self, Proto, TcpState};
use crate::wire::sock_diag;

/// Parse what the learner typed: `127.0.0.1:PORT`, `[::1]:PORT`,
/// `localhost:PORT` or a bare `PORT`. Anything not on this machine is
/// refused: the checker sends hostile traffic.
pub fn parse(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let addr = if let Ok(port) = text.parse::<u16>() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else if let Some(port) = text.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|_| format!("{text}: the port must be a number from 1 to 65535"))?;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        text.parse::<SocketAddr>().map_err(|_| {
            format!("{text}: give the address your server printed, e.g. 127.0.0.1:5000, [::1]:5000 or just 5000")
        })?
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not on this machine: netlab check sends hostile traffic, so it only tests loopback \
             servers — run yours on 127.0.0.1 and give 127.0.0.1:PORT"
        ));
    }
    if addr.port() == 0 {
        return Err(format!(
            "{text}: port 0 means \"any port\" when a server binds; give the port it printed (or let netlab start it: netlab check PROTO -- COMMAND)"
        ));
    }
    Ok(addr)
}

/// Bytes the server has received on this connection but not yet taken
/// with `recv()`: its socket is the row whose local end is our peer.
pub fn server_unread(client_local: SocketAddr, server: SocketAddr) -> Option<u32> {
    match sock_diag::tcp(server, client_local) {
        Ok(found) => found.map(|q| q.rqueue),
        // Without netlink, the slower full table.
        Err(_) => {
            let rows = kernel::read_table(Proto::Tcp).ok()?;
            kernel::find_by_addrs(&rows, server, client_local).map(|row| row.rx_queue)
        }
    }
}

/// Connections waiting in the accept queue of the listener that answers
/// `addr` (a LISTEN row's rx_queue is its accept queue's length).
pub fn accept_queue(addr: SocketAddr) -> Option<u32> {
    if let Ok(found) = sock_diag::listener(addr) {
        return found.filter(|q| TcpState::from_code(q.state) == Some(TcpState::Listen)).map(|q| q.rqueue);
    }
    let rows = kernel::read_table(Proto::Tcp).ok()?;
    rows.iter()
        .filter(|r| r.tcp_state() == Some(TcpState::Listen) && answers_on(r.local, addr))
        .map(|r| r.rx_queue)
        .next()
}

/// Whether something listens on TCP `port` (any address), and where: a
/// server on 0.0.0.0 or [::] answers on loopback too.
pub fn tcp_listeners(port: u16) -> Vec<SocketAddr> {
    let rows = kernel::read_table(Proto::Tcp).unwrap_or_default();
    rows.iter().filter(|r| r.local.port() == port && r.tcp_state() == Some(TcpState::Listen)).map(|r| r.local).collect()
}

/// UDP sockets bound to `port` (a UDP server has no LISTEN state: bound is ready).
pub fn udp_bound(port: u16) -> Vec<SocketAddr> {
    let rows = kernel::read_table(Proto::Udp).unwrap_or_default();
    rows.iter().filter(|r| r.local.port() == port).map(|r| r.local).collect()
}

/// Whether a listener at `addr` accepts connections to it: its own
/// address, or a wildcard of the same family.
pub fn answers_on(listener: SocketAddr, addr: SocketAddr) -> bool {
    listener.port() == addr.port()
        && (listener.ip() == addr.ip()
            || listener.ip().is_unspecified() && listener.is_ipv6() == addr.is_ipv6()
            || listener.ip() == IpAddr::from([0u16; 8]) && addr.is_ipv4())
}

/// The server's processes, so a test can say "it spun at 98% CPU" and the
/// header can name what is being tested.
#[derive(Debug, Clone, Default)]
pub struct Processes {
    pub pids: Vec<i32>,
    /// A launched program's process group: looked at afresh each time,
    /// so children it forks later (one per client) count too.
    group: Option<i32>,
}

impl Processes {
    /// The processes holding a socket bound to `addr`'s port: found
    /// through `/proc/PID/fd` (only processes we may look into).
    pub fn owning(addr: SocketAddr, udp: bool) -> Self {
        let proto = if udp { Proto::Udp } else { Proto::Tcp };
        let rows = kernel::read_table(proto).unwrap_or_default();
        let inodes: Vec<u64> = rows
            .iter()
            .filter(|r| r.inode != 0 && answers_on(r.local, addr) && (udp || r.tcp_state() == Some(TcpState::Listen)))
            .map(|r| r.inode)
            .collect();
        let mut pids = Vec::new();
        for pid in all_pids() {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
            let holds = fds.flatten().any(|fd| {
                let link = std::fs::read_link(fd.path()).unwrap_or_default();
                let text = link.to_string_lossy();
                text.strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|inode| inodes.contains(&inode))
            });
            if holds {
                pids.push(pid);
            }
        }
        Processes { pids, group: None }
    }

    /// Every process in process group `pgid` (a launched program and the
    /// children it forked).
    pub fn group(pgid: i32) -> Self {
        let pids = all_pids().into_iter().filter(|&pid| stat(pid).is_some_and(|s| s.pgrp == pgid)).collect();
        Processes { pids, group: Some(pgid) }
    }

    /// CPU time used so far by all of them, user + system.
    pub fn cpu_time(&self) -> Duration {
        let pids = match self.group {
            Some(pgid) => Processes::group(pgid).pids,
            None => self.pids.clone(),
        };
        let ticks: u64 = pids.iter().filter_map(|&p| stat(p)).map(|s| s.utime + s.stime).sum();
        // Linux reports in USER_HZ, 100 per second on every architecture.
        Duration::from_millis(ticks * 10)
    }

    /// `pid 4242 (python3)`, for the header.
    pub fn describe(&self) -> Option<String> {
        let named: Vec<String> =
            self.pids.iter().map(|&p| format!("pid {p} ({})", stat(p).map(|s| s.comm).unwrap_or_default())).collect();
        (!named.is_empty()).then(|| named.join(", "))
    }
}

fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()
}

struct Stat {
    comm: String,
    pgrp: i32,
    utime: u64,
    stime: u64,
}

/// Fields of `/proc/PID/stat` (man 5 proc). The name is in parentheses
/// and may itself hold spaces or ')', so fields count from the last ')'.
fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
    Some(Stat {
        comm,
        pgrp: rest.get(2)?.parse().ok()?,
        utime: rest.get(11)?.parse().ok()?,
        stime: rest.get(12)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms_are_accepted() {
        assert_eq!(parse("5000").unwrap(), "127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        assert_eq!(parse("localhost:5000").unwrap(), "127.0.0.1:5000".parse::<SocketAddr>().unwrap());
        assert_eq!(parse("[::1]:80").unwrap(), "[::1]:80".parse::<SocketAddr>().unwrap());
        assert_eq!(parse("127.0.0.2:7").unwrap(), "127.0.0.2:7".parse::<SocketAddr>().unwrap());
    }

    #[test]
    fn other_machines_port_zero_and_names_are_refused_with_what_to_do() {
        let e = parse("192.168.1.10:5000").unwrap_err();
        assert!(e.contains("not on this machine") && e.contains("127.0.0.1:PORT"), "{e}");
        assert!(parse("0.0.0.0:5000").unwrap_err().contains("not on this machine"));
        assert!(parse("127.0.0.1:0").unwrap_err().contains("port 0"));
        assert!(parse("example.com:80").unwrap_err().contains("e.g. 127.0.0.1:5000"));
        assert!(parse("localhost:http").unwrap_err().contains("number"));
    }

    #[test]
    fn wildcard_listeners_answer_on_loopback() {
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(answers_on("0.0.0.0:5000".parse().unwrap(), a));
        assert!(answers_on("127.0.0.1:5000".parse().unwrap(), a));
        assert!(answers_on("[::]:5000".parse().unwrap(), a), "dual-stack [::] takes IPv4 too");
        assert!(!answers_on("127.0.0.1:5001".parse().unwrap(), a));
        assert!(!answers_on("10.0.0.1:5000".parse().unwrap(), a));
    }

    #[test]
    fn this_process_is_found_by_its_listener_and_its_cpu_time_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let found = Processes::owning(addr, false);
        assert!(found.pids.contains(&(std::process::id() as i32)), "{found:?}");
        assert!(found.describe().is_some());
        let _ = found.cpu_time();
        assert!(tcp_listeners(addr.port()).contains(&addr));
    }
}
