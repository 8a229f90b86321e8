//! Parse the kernel's socket tables in `/proc/net/{tcp,tcp6,udp,udp6}`.
//!
//! `netstat` reads these files (`ss` asks sock_diag netlink for the same data).
//! Every socket in the network namespace has a row, even ones no process holds
//! any more, such as connections in TIME_WAIT.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::{fmt, io};

/// The TCP state machine of RFC 793 as Linux numbers it (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpState {
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    NewSynRecv,
}

/// Each state with the name `ss` and textbooks print, in kernel code order:
/// code 1 is ESTABLISHED, so a variant's index here is `self as usize` = code − 1.
const TABLE: [(TcpState, &str); 12] = [
    (TcpState::Established, "ESTABLISHED"),
    (TcpState::SynSent, "SYN_SENT"),
    (TcpState::SynRecv, "SYN_RECV"),
    (TcpState::FinWait1, "FIN_WAIT_1"),
    (TcpState::FinWait2, "FIN_WAIT_2"),
    (TcpState::TimeWait, "TIME_WAIT"),
    (TcpState::Close, "CLOSED"),
    (TcpState::CloseWait, "CLOSE_WAIT"),
    (TcpState::LastAck, "LAST_ACK"),
    (TcpState::Listen, "LISTEN"),
    (TcpState::Closing, "CLOSING"),
    (TcpState::NewSynRecv, "NEW_SYN_RECV"),
];

impl TcpState {
    /// Map the kernel's numeric state (the `st` column, 1..=12) to a state.
    pub fn from_code(code: u8) -> Option<TcpState> {
        Some(TABLE.get(usize::from(code).checked_sub(1)?)?.0)
    }

    /// The name `ss` and textbooks print, e.g. `"TIME_WAIT"`, `"FIN_WAIT_1"`
    /// (the kernel source spells these `TCP_FIN_WAIT1`, `TCP_CLOSE`, …).
    pub fn name(self) -> &'static str {
        TABLE[self as usize].1
    }

    /// Parse a state name case-insensitively, with `_`, `-`, space or no
    /// separator: `"time_wait"`, `"TIME-WAIT"`, `"timewait"`, `"fin_wait2"`.
    /// The kernel's own spelling `"CLOSE"` is accepted for [`TcpState::Close`].
    pub fn parse(s: &str) -> Option<TcpState> {
        let norm = |t: &str| t.to_ascii_uppercase().replace(['_', '-', ' '], "");
        let want = norm(s);
        if want == "CLOSE" {
            return Some(TcpState::Close);
        }
        TABLE.iter().map(|e| e.0).find(|st| norm(st.name()) == want)
    }

    /// One sentence on what this state means for the application.
    #[rustfmt::skip] // one state per line reads like a reference table
    pub fn meaning(self) -> &'static str {
        match self {
            TcpState::Established => "the three-way handshake is complete; data can flow in both directions",
            TcpState::SynSent => "connect() sent a SYN and is waiting for the peer's SYN-ACK",
            TcpState::SynRecv => "a SYN arrived and a SYN-ACK was sent; waiting for the final ACK of the handshake",
            TcpState::FinWait1 => "this side closed (close() or shutdown(SHUT_WR)) and sent a FIN; waiting for it to be ACKed",
            TcpState::FinWait2 => "our FIN was ACKed; waiting for the peer's FIN (an orphaned socket gives up after tcp_fin_timeout, 60 s by default)",
            TcpState::TimeWait => "closed first; the kernel keeps the port pair for 2×MSL (60 s on Linux) so stray segments of this connection can't corrupt a new one",
            TcpState::Close => "not connected: a fresh socket, or one that is fully closed",
            TcpState::CloseWait => "the peer closed; this side has not called close() yet",
            TcpState::LastAck => "the peer closed first and this side has now closed too; waiting for the ACK of our FIN",
            TcpState::Listen => "listen() was called; incoming SYNs are answered and finished connections wait for accept()",
            TcpState::Closing => "both sides sent a FIN at the same time; waiting for the ACK of ours",
            TcpState::NewSynRecv => "a half-open connection kept by a listener as a lightweight request; /proc/net/tcp prints it as SYN_RECV",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Serializes as the name string, so JSON shows `"TIME_WAIT"`.
impl serde::Serialize for TcpState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One row of a `/proc/net/{tcp,udp}[6]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelEntry {
    pub local: SocketAddr,
    /// `0.0.0.0:0` / `[::]:0` when there is no peer (listening or unconnected).
    pub peer: SocketAddr,
    /// Raw `st` value; for UDP it is 7 (CLOSE) or 1 (ESTABLISHED = connect()ed).
    pub state_code: u8,
    /// Bytes in the send queue (TCP: sent but not yet ACKed, or not yet sent).
    pub tx_queue: u32,
    /// Bytes received but not yet read by the application (LISTEN: accept queue length).
    pub rx_queue: u32,
    /// Key to `/proc/PID/fd/N -> socket:[inode]`; 0 = no process owns it (TIME_WAIT).
    pub inode: u64,
}

impl KernelEntry {
    /// The TCP state, if `state_code` is a known one.
    pub fn tcp_state(&self) -> Option<TcpState> {
        TcpState::from_code(self.state_code)
    }
}

/// Which family of tables to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// The kernel prints each 32-bit word of the address (kept in network byte
/// order in memory) with `%08X` as a native-endian integer, so the original
/// bytes come back with `to_ne_bytes`. The port is already host order.
fn parse_addr(field: &str, v6: bool) -> Result<SocketAddr, String> {
    let (ip_hex, port_hex) = field.split_once(':').ok_or("address without ':'")?;
    let port = u16::from_str_radix(port_hex, 16).map_err(|e| format!("bad port: {e}"))?;
    let word =
        |h: &str| u32::from_str_radix(h, 16).map(u32::to_ne_bytes).map_err(|e| format!("bad address {ip_hex:?}: {e}"));
    let ip = match (v6, ip_hex.len()) {
        (false, 8) => IpAddr::V4(Ipv4Addr::from(word(ip_hex)?)),
        (true, 32) => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                let hex = ip_hex.get(i * 8..i * 8 + 8).ok_or("non-ASCII address")?;
                chunk.copy_from_slice(&word(hex)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return Err(format!("address {ip_hex:?} has the wrong length")),
    };
    Ok(SocketAddr::new(ip, port))
}

fn parse_line(line: &str, v6: bool) -> Result<KernelEntry, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return Err(format!("expected at least 10 columns, got {}", f.len()));
    }
    let (tx, rx) = f[4].split_once(':').ok_or("queue column without ':'")?;
    let hex32 = |s: &str| u32::from_str_radix(s, 16).map_err(|e| format!("bad hex {s:?}: {e}"));
    Ok(KernelEntry {
        local: parse_addr(f[1], v6)?,
        peer: parse_addr(f[2], v6)?,
        state_code: u8::from_str_radix(f[3], 16).map_err(|e| format!("bad state: {e}"))?,
        tx_queue: hex32(tx)?,
        rx_queue: hex32(rx)?,
        inode: f[9].parse().map_err(|e| format!("bad inode: {e}"))?,
    })
}

/// Parse the text of `/proc/net/{tcp,tcp6,udp,udp6}` (header line included).
pub fn parse_table(text: &str, v6: bool) -> Result<Vec<KernelEntry>, String> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l, v6).map_err(|e| format!("line {}: {e}: {:?}", i + 1, l.trim())))
        .collect()
}

/// Read the IPv4 and IPv6 tables for `proto` (IPv6 may be disabled: a missing
/// v6 file is skipped). Only this process's network namespace is visible.
pub fn read_table(proto: Proto) -> io::Result<Vec<KernelEntry>> {
    let base = match proto {
        Proto::Tcp => "/proc/net/tcp",
        Proto::Udp => "/proc/net/udp",
    };
    let mut out = Vec::new();
    for (path, v6) in [(base.to_string(), false), (format!("{base}6"), true)] {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if v6 && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let rows =
            parse_table(&text, v6).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {e}")))?;
        out.extend(rows);
    }
    Ok(out)
}

/// The row whose inode is `inode`. Inode 0 never matches: it means "no owner".
pub fn find_by_inode(entries: &[KernelEntry], inode: u64) -> Option<&KernelEntry> {
    entries.iter().find(|e| inode != 0 && e.inode == inode)
}

/// An IPv6 socket talking to IPv4 shows `::ffff:a.b.c.d`; fold that to IPv4.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// The row with this exact local/peer pair, treating `a.b.c.d` and
/// `::ffff:a.b.c.d` as equal. Works for ownerless rows such as TIME_WAIT.
pub fn find_by_addrs(entries: &[KernelEntry], local: SocketAddr, peer: SocketAddr) -> Option<&KernelEntry> {
    let (local, peer) = (canonical(local), canonical(peer));
    let same = |e: &&KernelEntry| (canonical(e.local), canonical(e.peer)) == (local, peer);
    entries.iter().find(same)
}

/// The inode of the socket behind `fd`, read from the `/proc/self/fd/N`
/// symlink (`socket:[INODE]`) — the same key the `/proc/net` tables use.
pub fn socket_inode(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    let text = link.to_string_lossy();
    // Anything else ("/dev/null", "pipe:[7]") leaves no number to parse.
    let num = text.strip_prefix("socket:[").unwrap_or_default();
    let err = |_| io::Error::new(io::ErrorKind::InvalidInput, format!("not a socket: {text}"));
    num.trim_end_matches(']').parse().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    // Captured on little-endian x86_64; the hex words depend on endianness.
    const TCP4: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0
   1: 0201A8C0:D0A2 0100007F:1F90 01 0000000A:00000005 01:00000014 00000000  1000        0 41240 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D09E 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1671 1 0000000000000000 100 0 0 10 0
   1: B80D0120000000000000000001000000:0016 B80D0120000000000000000002000000:B3F2 01 00000100:0000001C 02:0005A3D8 00000000     0        0 52311 2 0000000000000000 20 4 31 10 -1
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C350 06 00000000:00000000 03:00000D5C 00000000     0        0 0 3 0000000000000000
";

    /// One string per row, "local peer STATE tx:rx inode", for compact asserts.
    fn rows(text: &str, v6: bool) -> Vec<String> {
        let st = |e: &KernelEntry| e.tcp_state().map_or("?", TcpState::name);
        let row = |e: &KernelEntry| {
            let (l, p, tx, rx) = (e.local, e.peer, e.tx_queue, e.rx_queue);
            format!("{l} {p} {} {tx}:{rx} {}", st(e), e.inode)
        };
        parse_table(text, v6).unwrap().iter().map(row).collect()
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_ipv4_sample() {
        let expected = [
            "127.0.0.1:8080 0.0.0.0:0 LISTEN 0:0 41234",
            "192.168.1.2:53410 127.0.0.1:8080 ESTABLISHED 10:5 41240",
            "127.0.0.1:53406 127.0.0.1:8080 TIME_WAIT 0:0 0",
        ];
        assert_eq!(rows(TCP4, false), expected);
        let t = parse_table(TCP4, false).unwrap();
        assert_eq!(find_by_inode(&t, 0), None, "inode 0 means no owner");
        assert_eq!(find_by_inode(&t, 41240), Some(&t[1]));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_ipv6_sample() {
        let expected = [
            "[::]:22 [::]:0 LISTEN 0:0 1671",
            "[2001:db8::1]:22 [2001:db8::2]:46066 ESTABLISHED 256:28 52311",
            "[::ffff:127.0.0.1]:8080 [::ffff:127.0.0.1]:50000 TIME_WAIT 0:0 0",
        ];
        assert_eq!(rows(TCP6, true), expected);
        let t = parse_table(TCP6, true).unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let hit = find_by_addrs(&t, local, "127.0.0.1:50000".parse().unwrap());
        assert_eq!(hit, Some(&t[2]), "IPv4 must match its ::ffff: mapped form");
    }

    #[test]
    fn bad_lines_are_reported() {
        let err = parse_table("header\n 0: 0100007F:XYZ 00000000:0000 0A", false).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse_table(TCP6, false).is_err(), "v6 text parsed as v4");
    }

    #[test]
    fn state_names_round_trip() {
        for code in 1..=12u8 {
            let st = TcpState::from_code(code).unwrap();
            assert_eq!(TcpState::parse(st.name()), Some(st));
            assert_eq!(st.to_string(), st.name());
            assert!(!st.meaning().is_empty());
        }
        assert_eq!(TcpState::from_code(0), None);
        assert_eq!(TcpState::from_code(13), None);
        assert_eq!(TcpState::from_code(6), Some(TcpState::TimeWait));
        assert_eq!(TcpState::from_code(12), Some(TcpState::NewSynRecv));
        let json = serde_json::to_string(&TcpState::TimeWait).unwrap();
        assert_eq!(json, "\"TIME_WAIT\"");
    }

    #[test]
    fn parse_accepts_spellings() {
        for (names, want) in [
            ("time_wait TIME-WAIT timewait Time_Wait", TcpState::TimeWait),
            ("fin_wait2 FIN_WAIT_2 finwait-2", TcpState::FinWait2),
            ("closed CLOSED close", TcpState::Close),
            ("close_wait CLOSE-WAIT", TcpState::CloseWait),
        ] {
            for s in names.split(' ') {
                assert_eq!(TcpState::parse(s), Some(want), "{s}");
            }
        }
        assert_eq!(TcpState::parse("bogus"), None);
    }

    #[test]
    fn live_loopback_sockets_are_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let table = read_table(Proto::Tcp).unwrap();
        let ino = socket_inode(listener.as_fd()).unwrap();
        let row = find_by_inode(&table, ino).expect("listener row");
        assert_eq!(row.tcp_state(), Some(TcpState::Listen));
        assert_eq!(row.local, listener.local_addr().unwrap());
        let (l, p) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let row = find_by_addrs(&table, l, p).expect("client row");
        assert_eq!(row.tcp_state(), Some(TcpState::Established));
        assert_eq!(row.inode, socket_inode(client.as_fd()).unwrap());
    }
}
