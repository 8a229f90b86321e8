//! Where a socket lives: an internet address, or a unix-domain name.
//!
//! An AF_UNIX socket is named by a path in the file system, by an
//! "abstract" name (Linux only: the name starts with a NUL byte, shown as
//! `@name`, and no file is made), or not at all (socketpair, and a client
//! that never called bind).

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use socket2::SockAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixName {
    Unnamed,
    Path(PathBuf),
    /// The bytes after the leading NUL; empty asks bind() to autobind.
    Abstract(Vec<u8>),
}

impl UnixName {
    /// What the kernel reported (getsockname, getpeername, recvfrom).
    pub fn from_sockaddr(addr: &SockAddr) -> Option<UnixName> {
        if addr.is_unnamed() {
            return Some(UnixName::Unnamed);
        }
        if let Some(bytes) = addr.as_abstract_namespace() {
            return Some(UnixName::Abstract(bytes.to_vec()));
        }
        addr.as_pathname().map(|p| UnixName::Path(p.to_path_buf()))
    }

    /// The `sockaddr_un` for bind/connect/sendto; `None` when unnamed.
    pub fn to_sockaddr(&self) -> Option<std::io::Result<SockAddr>> {
        match self {
            UnixName::Unnamed => None,
            UnixName::Path(p) => Some(SockAddr::unix(p)),
            // An address of just the family: bind() then picks a unique
            // abstract name itself (autobind, man 7 unix).
            UnixName::Abstract(name) if name.is_empty() => Some(SockAddr::unix("")),
            UnixName::Abstract(name) => {
                let mut bytes = vec![0u8];
                bytes.extend_from_slice(name);
                Some(SockAddr::unix(Path::new(std::ffi::OsStr::from_bytes(&bytes))))
            }
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            UnixName::Path(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Unnamed => f.write_str("(unnamed)"),
            UnixName::Path(p) => write!(f, "{}", p.display()),
            UnixName::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

/// A socket's local or peer address, of either family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Inet(SocketAddr),
    Unix(UnixName),
}

impl Endpoint {
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Endpoint::Inet(a) => Some(*a),
            Endpoint::Unix(_) => None,
        }
    }

    pub fn unix(&self) -> Option<&UnixName> {
        match self {
            Endpoint::Unix(u) => Some(u),
            Endpoint::Inet(_) => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Inet(a) => write!(f, "{a}"),
            Endpoint::Unix(u) => write!(f, "{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_sockaddr() {
        for name in [UnixName::Path("/tmp/x.sock".into()), UnixName::Abstract(b"netlab".to_vec())] {
            let addr = name.to_sockaddr().unwrap().unwrap();
            assert_eq!(UnixName::from_sockaddr(&addr), Some(name));
        }
        assert_eq!(UnixName::Abstract(b"a".to_vec()).to_string(), "@a");
        assert!(UnixName::Unnamed.to_sockaddr().is_none());
    }
}
