//! `resolve HOST`: getaddrinfo, the call behind every "connect to a name".
//!
//! Resolving an arbitrary name can send DNS queries off the machine, and
//! netlab never talks to other machines. So it resolves only numeric
//! addresses (AI_NUMERICHOST: no lookup at all) and names that /etc/hosts
//! lists for the family asked — and only where nsswitch.conf has glibc read
//! /etc/hosts first. getaddrinfo then answers from the file; a name it
//! finds there never reaches DNS.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::libc;

use super::{Lab, Outcome};
use crate::event::{CallResult, Event};

const HOSTS: &str = "/etc/hosts";
const NSSWITCH: &str = "/etc/nsswitch.conf";
/// The label resolve's calls appear under (they use no socket).
const LABEL: &str = "resolve";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub fn parse(word: &str) -> Result<IpFamily, String> {
        match word {
            "4" | "inet" | "ipv4" => Ok(IpFamily::V4),
            "6" | "inet6" | "ipv6" => Ok(IpFamily::V6),
            _ => Err(format!("--family {word}? use 4 (IPv4) or 6 (IPv6)")),
        }
    }

    fn of(ip: IpAddr) -> IpFamily {
        if ip.is_ipv4() { IpFamily::V4 } else { IpFamily::V6 }
    }

    fn af_name(family: Option<IpFamily>) -> &'static str {
        match family {
            None => "AF_UNSPEC",
            Some(IpFamily::V4) => "AF_INET",
            Some(IpFamily::V6) => "AF_INET6",
        }
    }
}

/// One address line of /etc/hosts: `127.0.0.1 localhost` (line numbers from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsLine {
    pub line: usize,
    pub ip: IpAddr,
    pub names: Vec<String>,
}

/// Parse /etc/hosts text as glibc does: `#` starts a comment, the first
/// word is an address, the rest are names (matched case-insensitively).
pub fn parse_hosts(text: &str) -> Vec<HostsLine> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line_text = line.split('#').next().unwrap_or_default();
            let mut words = line_text.split_whitespace();
            let ip = words.next()?.parse().ok()?;
            Some(HostsLine { line: i + 1, ip, names: words.map(str::to_string).collect() })
        })
        .collect()
}

/// The lines of /etc/hosts that list `host`.
pub fn hosts_lines_for<'a>(lines: &'a [HostsLine], host: &str) -> Vec<&'a HostsLine> {
    lines.iter().filter(|l| l.names.iter().any(|n| n.eq_ignore_ascii_case(host))).collect()
}

/// The addresses /etc/hosts lists for `host` (empty if it cannot be read).
pub fn etc_hosts_addresses(host: &str) -> Vec<IpAddr> {
    let text = std::fs::read_to_string(HOSTS).unwrap_or_default();
    hosts_lines_for(&parse_hosts(&text), host).iter().map(|l| l.ip).collect()
}

/// Whether the `hosts:` line of nsswitch.conf asks `files` first. Without
/// the file, glibc's default is `dns [!UNAVAIL=return] files`: DNS first.
pub fn files_first(nsswitch: &str) -> bool {
    // Several hosts: lines would be odd; all of them must agree to count.
    let lines: Vec<&str> =
        nsswitch.lines().filter_map(|l| l.split('#').next()?.trim().strip_prefix("hosts:")).collect();
    !lines.is_empty() && lines.iter().all(|sources| sources.split_whitespace().next() == Some("files"))
}

/// A host name as RFC 1123 allows (letters, digits, '-', '.').
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !host.starts_with(['-', '.'])
}

/// The name of a getaddrinfo error code (glibc's values).
fn eai_name(code: i32) -> String {
    match code {
        -1 => "EAI_BADFLAGS",
        -2 => "EAI_NONAME",
        -3 => "EAI_AGAIN",
        -4 => "EAI_FAIL",
        -5 => "EAI_NODATA",
        -6 => "EAI_FAMILY",
        -9 => "EAI_ADDRFAMILY",
        -10 => "EAI_MEMORY",
        -11 => "EAI_SYSTEM",
        _ => return format!("EAI_{code}"),
    }
    .to_string()
}

/// getaddrinfo(host, NULL, {family, SOCK_STREAM, flags}) → the addresses,
/// in the order it returned them, or the EAI_* code. SOCK_STREAM: without a
/// socket type, each address comes back three times (stream, dgram, raw).
fn getaddrinfo(host: &str, family: Option<IpFamily>, numeric: bool) -> Result<Vec<IpAddr>, i32> {
    let c_host = CString::new(host).map_err(|_| libc::EAI_NONAME)?;
    let hints = libc::addrinfo {
        ai_flags: if numeric { libc::AI_NUMERICHOST } else { 0 },
        ai_family: match family {
            None => libc::AF_UNSPEC,
            Some(IpFamily::V4) => libc::AF_INET,
            Some(IpFamily::V6) => libc::AF_INET6,
        },
        ai_socktype: libc::SOCK_STREAM,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: std::ptr::null_mut(),
        ai_canonname: std::ptr::null_mut(),
        ai_next: std::ptr::null_mut(),
    };
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: c_host is a NUL-terminated string and hints a fully
    // initialised addrinfo, both alive for the call; service may be NULL.
    // On success the C library stores a list it allocated in `list`.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Err(rc);
    }
    let mut found = Vec::new();
    let mut node = list;
    while !node.is_null() {
        // SAFETY: `node` is a non-null element of the list getaddrinfo
        // returned, not yet freed. ai_addr points to ai_addrlen bytes of a
        // sockaddr of family ai_family; the length is checked before the
        // read, and read_unaligned makes no alignment assumption.
        let ai = unsafe { &*node };
        let len = usize::try_from(ai.ai_addrlen).unwrap_or(0);
        if !ai.ai_addr.is_null() {
            if ai.ai_family == libc::AF_INET && len >= size_of::<libc::sockaddr_in>() {
                let sin = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
                found.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
            } else if ai.ai_family == libc::AF_INET6 && len >= size_of::<libc::sockaddr_in6>() {
                let sin6 = unsafe { std::ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
                found.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        node = ai.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo and is freed once;
    // nothing borrowed from it outlives this point.
    unsafe { libc::freeaddrinfo(list) };
    Ok(found)
}

fn gai_message(code: i32) -> String {
    // SAFETY: gai_strerror returns a pointer to a static NUL-terminated
    // string for any code (an "Unknown error" text for unknown ones).
    let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
    text.to_string_lossy().into_owned()
}

fn family_label(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "AF_INET" } else { "AF_INET6" }
}

impl Lab {
    pub(super) fn resolve_host(&mut self, host: &str, family: Option<IpFamily>) -> Result<Outcome, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        // AI_NUMERICHOST never looks anything up, so asking it is safe; it
        // also takes inet_aton's short forms (127.1 is 127.0.0.1).
        let numeric = bare.parse::<IpAddr>().is_ok() || getaddrinfo(bare, None, true).is_ok();
        if !numeric {
            self.check_local_name(host, family)?;
        }
        let shown = if numeric { bare } else { host };
        let flags = if numeric { ", AI_NUMERICHOST" } else { "" };
        let call = format!("getaddrinfo(\"{shown}\", {}, SOCK_STREAM{flags})", IpFamily::af_name(family));
        let result = match getaddrinfo(shown, family, numeric) {
            Ok(addrs) => {
                let listed: Vec<String> = addrs.iter().map(|ip| format!("{ip} ({})", family_label(*ip))).collect();
                let count =
                    if addrs.len() == 1 { "1 address".to_string() } else { format!("{} addresses", addrs.len()) };
                let result = CallResult::ok(format!("{count}: {}", listed.join(", ")));
                self.emit(Event::Call { sock: LABEL.into(), call, result: result.clone() });
                let value = addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
                return Ok(Outcome { result: Some(result), value: Some(value), ..Outcome::default() });
            }
            Err(code) => CallResult::Err {
                errno: eai_name(code),
                code,
                message: gai_message(code),
                why: Some(match (numeric, family) {
                    (true, Some(_)) => "a numeric address of the other family: getaddrinfo does not convert it".into(),
                    _ => "getaddrinfo found no address for it".into(),
                }),
            },
        };
        self.emit(Event::Call { sock: LABEL.into(), call, result: result.clone() });
        Ok(Outcome { result: Some(result), ..Outcome::default() })
    }

    /// Refuse any name getaddrinfo could send to DNS; say where the answer
    /// will come from otherwise.
    fn check_local_name(&mut self, host: &str, family: Option<IpFamily>) -> Result<(), String> {
        let refuse = |why: String| {
            format!("{why}: netlab resolves only numeric addresses and /etc/hosts names, so nothing leaves the machine")
        };
        if !is_host_name(host) {
            return Err(format!("'{host}' is not a host name or an IP address"));
        }
        let nsswitch = std::fs::read_to_string(NSSWITCH).unwrap_or_default();
        if !files_first(&nsswitch) {
            return Err(refuse(format!("{NSSWITCH} does not have getaddrinfo read {HOSTS} first here")));
        }
        let text = std::fs::read_to_string(HOSTS).map_err(|e| refuse(format!("cannot read {HOSTS} ({e})")))?;
        let lines = parse_hosts(&text);
        let listed: Vec<&HostsLine> = hosts_lines_for(&lines, host)
            .into_iter()
            .filter(|l| family.is_none_or(|f| IpFamily::of(l.ip) == f))
            .collect();
        if listed.is_empty() {
            let what = match family {
                None => String::new(),
                Some(IpFamily::V4) => " with an IPv4 address".into(),
                Some(IpFamily::V6) => " with an IPv6 address".into(),
            };
            return Err(refuse(format!("{HOSTS} does not list '{host}'{what} (getaddrinfo would ask DNS)")));
        }
        let from: Vec<String> = listed.iter().map(|l| format!("{} (line {})", l.ip, l.line)).collect();
        self.emit(Event::notice(format!(
            "{HOSTS} lists {host} as {}; nsswitch.conf has getaddrinfo read that file before DNS",
            from.join(", ")
        )));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_lines_and_comments() {
        let text = "# comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost # both\nnot-an-ip name\n\n";
        let lines = parse_hosts(text);
        assert_eq!(lines.len(), 2);
        let found = hosts_lines_for(&lines, "LOCALHOST");
        assert_eq!(found.iter().map(|l| l.ip.to_string()).collect::<Vec<_>>(), ["127.0.0.1", "::1"]);
        assert_eq!(found[1].line, 3);
        assert!(hosts_lines_for(&lines, "both").is_empty(), "comments are not names");
    }

    #[test]
    fn only_files_first_is_local() {
        assert!(files_first("passwd: files\nhosts:          files dns\n"));
        assert!(files_first("hosts: files mdns4_minimal [NOTFOUND=return] dns"));
        assert!(!files_first("hosts: resolve [!UNAVAIL=return] files dns"));
        assert!(!files_first(""), "no nsswitch.conf: glibc asks DNS first");
        assert!(!files_first("#hosts: files\n"));
    }

    #[test]
    fn numeric_addresses_resolve_without_a_lookup() {
        assert_eq!(getaddrinfo("::1", None, true), Ok(vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]));
        assert_eq!(getaddrinfo("127.0.0.1", Some(IpFamily::V4), true), Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]));
        assert!(getaddrinfo("127.0.0.1", Some(IpFamily::V6), true).is_err());
        assert!(getaddrinfo("localhost", None, true).is_err(), "AI_NUMERICHOST refuses names");
        assert!(!is_host_name("a b") && !is_host_name("-x") && is_host_name("ip6-localhost"));
    }
}
