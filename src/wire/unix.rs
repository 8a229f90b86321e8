//! Parse `/proc/net/unix`: one row per AF_UNIX socket in the network namespace.
//!
//! ```text
//! Num       RefCount Protocol Flags    Type St Inode Path
//! 00000000e2ddcf60: 00000002 00000000 00010000 0005 01 135584 /tmp/x.sock
//! ```
//! Flags `00010000` is `__SO_ACCEPTCON`: the socket is listening. Type is
//! the socket type number (1 stream, 2 datagram, 5 seqpacket); St is the
//! socket-layer state (1 unconnected, 2 connecting, 3 connected, 4
//! disconnecting). An abstract name is printed with `@` for its leading NUL.

use std::io;

/// `__SO_ACCEPTCON` in the Flags column.
const ACCEPTING: u32 = 0x0001_0000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixEntry {
    pub flags: u32,
    pub sock_type: u16,
    pub state: u8,
    pub inode: u64,
    pub path: Option<String>,
}

impl UnixEntry {
    pub fn type_name(&self) -> &'static str {
        match i32::from(self.sock_type) {
            nix::libc::SOCK_STREAM => "stream",
            nix::libc::SOCK_DGRAM => "dgram",
            nix::libc::SOCK_SEQPACKET => "seqpacket",
            _ => "?",
        }
    }

    /// The state as `ss` shows it for unix sockets.
    pub fn state_name(&self) -> &'static str {
        if self.flags & ACCEPTING != 0 {
            return "LISTEN";
        }
        match self.state {
            1 => "UNCONN",
            2 => "CONNECTING",
            3 => "CONNECTED",
            4 => "DISCONNECTING",
            _ => "?",
        }
    }
}

pub fn parse_table(text: &str) -> Result<Vec<UnixEntry>, String> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [_, _, _, flags, ty, st, inode, rest @ ..] = f.as_slice() else {
                return Err(format!("short line: {line:?}"));
            };
            let hex = |s: &str| u32::from_str_radix(s, 16).map_err(|e| format!("bad number {s:?}: {e}"));
            Ok(UnixEntry {
                flags: hex(flags)?,
                sock_type: u16::try_from(hex(ty)?).map_err(|e| e.to_string())?,
                state: u8::try_from(hex(st)?).map_err(|e| e.to_string())?,
                inode: inode.parse().map_err(|e| format!("bad inode {inode:?}: {e}"))?,
                path: rest.first().map(|p| p.to_string()),
            })
        })
        .collect()
}

pub fn read_table() -> io::Result<Vec<UnixEntry>> {
    let text = std::fs::read_to_string("/proc/net/unix")?;
    parse_table(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("/proc/net/unix: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Num       RefCount Protocol Flags    Type St Inode Path
00000000e2ddcf60: 00000002 00000000 00010000 0005 01 135584 /tmp/uxdir/s
0000000016a10477: 00000002 00000000 00010000 0001 01 135585 @netlabtest
000000000d77236f: 00000003 00000000 00000000 0005 03 135586
00000000509bdb1e: 00000002 00000000 00000000 0002 01 135588 /tmp/uxdir/d
";

    #[test]
    fn parses_listeners_connections_and_names() {
        let t = parse_table(SAMPLE).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!((t[0].type_name(), t[0].state_name()), ("seqpacket", "LISTEN"));
        assert_eq!(t[1].path.as_deref(), Some("@netlabtest"));
        assert_eq!((t[2].state_name(), t[2].path.as_deref(), t[2].inode), ("CONNECTED", None, 135586));
        assert_eq!((t[3].type_name(), t[3].state_name()), ("dgram", "UNCONN"));
    }

    #[test]
    fn reads_our_own_socketpair() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let inode = crate::wire::kernel::socket_inode(std::os::fd::AsFd::as_fd(&a)).unwrap();
        let t = read_table().unwrap();
        let row = t.iter().find(|e| e.inode == inode).expect("our socket is listed");
        assert_eq!((row.type_name(), row.state_name()), ("stream", "CONNECTED"));
    }
}
