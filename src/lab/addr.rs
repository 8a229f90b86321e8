//! Addresses as a learner writes them: `127.0.0.1:0`, `[::1]:8000`, `8000`,
//! or the name of a socket whose local address should be used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::tokens::check_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSpec {
    Addr(SocketAddr),
    /// Another socket (even a closed one): its local address.
    Name(String),
    /// A unix-domain address (`@name`, or a path with a `/`), for sendto.
    Unix(super::command_unix::UnixSpec),
}

pub const LOOPBACK_ANY_PORT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

impl AddrSpec {
    pub fn parse(word: &str) -> Result<AddrSpec, String> {
        if word.starts_with('@') || word.contains('/') {
            return super::command_unix::UnixSpec::parse(word).map(AddrSpec::Unix);
        }
        if let Ok(addr) = word.parse::<SocketAddr>() {
            return Ok(AddrSpec::Addr(addr));
        }
        let port_only = word.strip_prefix(':').unwrap_or(word);
        if let Ok(port) = port_only.parse::<u16>() {
            return Ok(AddrSpec::Addr(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)));
        }
        // An address without a port means "any port" (port 0).
        let bare = word.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(AddrSpec::Addr(SocketAddr::new(ip, 0)));
        }
        if let Some(port) = word.strip_prefix("localhost:") {
            let port = port.parse::<u16>().map_err(|_| format!("'{port}' is not a port (0-65535)"))?;
            return Ok(AddrSpec::Addr(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)));
        }
        if word.contains(':') || word.contains('.') || check_name(word).is_err() {
            return Err(format!(
                "'{word}' is not an address: write 127.0.0.1:PORT, [::1]:PORT, a port number, or a socket name"
            ));
        }
        Ok(AddrSpec::Name(word.to_string()))
    }
}

/// Where a connect/sendto to a socket bound on a wildcard should go: the
/// loopback address of the same family (0.0.0.0 means "every local
/// address", which includes 127.0.0.1).
pub fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// netlab only ever sends to this machine: 127.0.0.0/8 and ::1 (and the
/// IPv4-mapped form of 127.x).
pub fn is_loopback(addr: SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = |s: &str| AddrSpec::parse(s).unwrap();
        assert_eq!(a("127.0.0.1:80"), AddrSpec::Addr("127.0.0.1:80".parse().unwrap()));
        assert_eq!(a("999"), AddrSpec::Addr("127.0.0.1:999".parse().unwrap()));
        assert_eq!(a(":999"), AddrSpec::Addr("127.0.0.1:999".parse().unwrap()));
        assert_eq!(a("[::1]:0"), AddrSpec::Addr("[::1]:0".parse().unwrap()));
        assert_eq!(a("::1"), AddrSpec::Addr("[::1]:0".parse().unwrap()));
        assert_eq!(a("0.0.0.0"), AddrSpec::Addr("0.0.0.0:0".parse().unwrap()));
        assert_eq!(a("srv"), AddrSpec::Name("srv".into()));
        assert!(AddrSpec::parse("1.2.3:4").is_err());
        assert!(AddrSpec::parse("99999").is_err());
    }

    #[test]
    fn loopback_only() {
        assert!(is_loopback("127.0.0.1:1".parse().unwrap()));
        assert!(is_loopback("127.1.2.3:1".parse().unwrap()));
        assert!(is_loopback("[::1]:1".parse().unwrap()));
        assert!(is_loopback("[::ffff:127.0.0.1]:1".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1:1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0:1".parse().unwrap()));
        assert_eq!(loopback_for("0.0.0.0:5".parse().unwrap()), "127.0.0.1:5".parse().unwrap());
    }
}
