//! `sysctl NAME`: read one of the kernel's network settings from
//! /proc/sys/net, the same files `sysctl(8)` reads. Read-only: a lesson
//! shows what governs a behaviour; changing it is the learner's own
//! `sysctl -w`, outside netlab.

use super::{Lab, Outcome};
use crate::event::{CallResult, Event};

/// The settings lessons talk about, with what each governs.
pub const KNOWN: &[(&str, &str)] = &[
    ("net.core.somaxconn", "caps every listen() backlog: larger values are silently cut to this"),
    ("net.core.rmem_max", "the largest SO_RCVBUF a program may ask for (Linux then doubles it)"),
    ("net.core.wmem_max", "the largest SO_SNDBUF a program may ask for (Linux then doubles it)"),
    ("net.ipv4.ip_local_port_range", "where port 0 and clients' source ports come from (ephemeral ports)"),
    ("net.ipv4.ip_unprivileged_port_start", "ports below this need CAP_NET_BIND_SERVICE to bind (root has it)"),
    (
        "net.ipv4.tcp_max_syn_backlog",
        "matters only with SYN cookies off: SYNs from peers the kernel has no record of are dropped once a listener holds 3/4 this many half-open connections (the listen backlog bounds that SYN queue itself)",
    ),
    (
        "net.ipv4.tcp_abort_on_overflow",
        "1: a full accept queue answers the client's final ACK with RST; 0 (default): the server drops that ACK and later resends its SYN-ACK — the client already believes it is connected",
    ),
    ("net.ipv4.tcp_syn_retries", "how often connect() resends an unanswered SYN before ETIMEDOUT"),
    (
        "net.ipv4.tcp_fin_timeout",
        "how long an orphaned connection may sit in FIN_WAIT_2 — not TIME_WAIT, which is fixed at 60 s",
    ),
    (
        "net.ipv4.tcp_tw_reuse",
        "lets new OUTGOING connections reuse a TIME_WAIT port pair; does nothing for a server's bind()",
    ),
    ("net.ipv4.tcp_rmem", "min, default and max receive buffer of a TCP socket (auto-tuned between them)"),
    ("net.ipv4.tcp_wmem", "min, default and max send buffer of a TCP socket (auto-tuned between them)"),
    ("net.ipv4.tcp_autocorking", "1: Linux may hold small writes briefly to join them, even with TCP_NODELAY"),
    ("net.ipv4.tcp_keepalive_time", "seconds of silence before SO_KEEPALIVE sends its first probe"),
];

/// Setting files are short; anything longer is not a setting.
const MAX_LEN: u64 = 4096;

/// The /proc/sys path for a dotted `net.*` name, or why the name is refused.
pub fn path_of(name: &str) -> Result<String, String> {
    let valid = name.starts_with("net.")
        && name
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if !valid {
        return Err(format!(
            "'{name}' is not a network setting: netlab reads net.* names, e.g. sysctl net.core.somaxconn"
        ));
    }
    Ok(format!("/proc/sys/{}", name.replace('.', "/")))
}

/// The value of a `net.*` setting as sysctl(8) prints it: multi-value
/// files separate fields with tabs, shown here with one space.
pub fn value(name: &str) -> Result<String, String> {
    let path = path_of(name)?;
    let text = read_small(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => match crate::suggest::closest(name, &names()) {
            Some(s) => format!("no setting named {name} — did you mean {s}?"),
            None => format!("no setting named {name} (no {path}); known ones: {}", names().join(", ")),
        },
        _ => format!("cannot read {path}: {e}"),
    })?;
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Lab {
    pub(super) fn sysctl(&mut self, name: &str) -> Result<Outcome, String> {
        let value = value(name)?;
        let about = KNOWN.iter().find(|(n, _)| *n == name).map_or("", |(_, a)| a);
        self.emit(Event::Setting { name: name.to_string(), value: value.clone(), about: about.to_string() });
        Ok(Outcome { result: Some(CallResult::ok(value.clone())), value: Some(value), ..Outcome::default() })
    }
}

pub fn names() -> Vec<&'static str> {
    KNOWN.iter().map(|(n, _)| *n).collect()
}

fn read_small(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_LEN).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_net_names_map_to_proc_sys() {
        assert_eq!(path_of("net.core.somaxconn").as_deref(), Ok("/proc/sys/net/core/somaxconn"));
        for bad in ["kernel.hostname", "net..x", "net.core/../../etc", "net.core.some maxconn", "net."] {
            assert!(path_of(bad).is_err(), "{bad} should be refused");
        }
    }
}
