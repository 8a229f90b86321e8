//! `opt SOCK NAME [VALUE]`: read or set one socket option, and say what
//! the kernel made of it (Linux doubles buffer sizes, caps them…).

use std::time::Duration;

use super::{Kind, Lab, LabSocket, Outcome};
use crate::event::CallResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOpt {
    ReuseAddr,
    NoDelay,
    Linger,
    RcvBuf,
    SndBuf,
    /// O_NONBLOCK, a file flag rather than a socket option, but set the
    /// same way from the learner's point of view.
    NonBlock,
    RcvTimeo,
    SndTimeo,
}

impl SockOpt {
    pub const NAMES: [&'static str; 8] =
        ["reuseaddr", "nodelay", "linger", "rcvbuf", "sndbuf", "nonblock", "rcvtimeo", "sndtimeo"];

    pub(super) fn parse(word: &str) -> Result<SockOpt, String> {
        let all = [
            SockOpt::ReuseAddr,
            SockOpt::NoDelay,
            SockOpt::Linger,
            SockOpt::RcvBuf,
            SockOpt::SndBuf,
            SockOpt::NonBlock,
            SockOpt::RcvTimeo,
            SockOpt::SndTimeo,
        ];
        Self::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(word))
            .map(|i| all[i])
            .ok_or_else(|| format!("unknown option '{word}': use one of {}", Self::NAMES.join(", ")))
    }
}

/// Longest SO_RCVTIMEO / SO_SNDTIMEO the playground sets, in ms.
const MAX_TIMEOUT_MS: u64 = 600_000;

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
            SockOpt::NonBlock => "O_NONBLOCK",
            SockOpt::RcvTimeo => "SO_RCVTIMEO",
            SockOpt::SndTimeo => "SO_SNDTIMEO",
        };
        // O_NONBLOCK is a file status flag: fcntl, not setsockopt.
        let (set_call, get_call) = match opt {
            SockOpt::NonBlock => (format!("fcntl(F_SETFL, {label})"), "fcntl(F_GETFL)".to_string()),
            _ => (format!("setsockopt({label}, {})", value.unwrap_or_default()), format!("getsockopt({label})")),
        };
        let set = match value {
            None => Ok(()),
            Some(v) => set_opt(s, opt, v)?,
        };
        if let Err(e) = set {
            return Ok(self.failed(name, set_call, &e));
        }
        let now = match get_opt(s, opt) {
            Ok(v) => v,
            Err(e) => return Ok(self.failed(name, get_call, &e)),
        };
        let shown = match (opt, now.as_str()) {
            (SockOpt::ReuseAddr | SockOpt::NoDelay, "1") => "1 (on)".to_string(),
            (SockOpt::ReuseAddr | SockOpt::NoDelay, _) => "0 (off)".to_string(),
            (SockOpt::Linger, "off") => "off (close() returns at once; the kernel sends what is left)".to_string(),
            (SockOpt::Linger, "0") => "on, 0 s (close() will reset the connection: RST, no TIME_WAIT)".to_string(),
            (SockOpt::Linger, secs) => format!("on, {secs} s (close() may block up to {secs} s for unsent data)"),
            (SockOpt::NonBlock, "1") => {
                "on: recv, send and accept never wait — EAGAIN (or a partial send) when they would block".to_string()
            }
            (SockOpt::NonBlock, _) => "off: calls block until they can finish (netlab bounds every wait)".to_string(),
            (SockOpt::RcvTimeo | SockOpt::SndTimeo, "off") => format!(
                "off: a blocking {} waits forever (netlab stops after --timeout, {} ms by default)",
                if opt == SockOpt::RcvTimeo { "recv" } else { "send" },
                super::DEFAULT_TIMEOUT.as_millis()
            ),
            (SockOpt::RcvTimeo, ms) => format!("{ms} ms: recv and accept give up with EAGAIN after waiting that long"),
            (SockOpt::SndTimeo, ms) => {
                format!("{ms} ms: a send that finds the buffer full gives up after that long (partial, or EAGAIN)")
            }
            _ => now.clone(),
        };
        let (call, mut detail) = match value {
            Some(_) => (set_call, format!("now {shown}")),
            None => (get_call, shown),
        };
        match (value.and_then(|v| v.parse::<u64>().ok()), opt) {
            (Some(asked), SockOpt::RcvBuf | SockOpt::SndBuf) => {
                detail.push_str(&buffer_note(opt, asked, now.parse().unwrap_or(0)))
            }
            (Some(asked), SockOpt::RcvTimeo | SockOpt::SndTimeo) if asked > 0 && now != asked.to_string() => detail
                .push_str(&format!(
                    " (asked for {asked} ms: the kernel keeps timeouts in clock ticks, so it reads back rounded)"
                )),
            _ => {}
        }
        let result = CallResult::ok(detail);
        self.call(name, call, result.clone());
        Ok(Outcome { sock: Some(name.into()), result: Some(result), value: Some(now), ..Outcome::default() })
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
        SockOpt::NonBlock => sock.set_nonblocking(parse_switch(v)?),
        SockOpt::RcvTimeo | SockOpt::SndTimeo => {
            let usage = || format!("{v}? a timeout wants milliseconds 1..={MAX_TIMEOUT_MS}, or off");
            let timeout = match v {
                // The kernel reads a zero timeout as "wait forever".
                "off" | "0" => None,
                ms => match ms.parse::<u64>() {
                    Ok(ms @ 1..=MAX_TIMEOUT_MS) => Some(Duration::from_millis(ms)),
                    _ => return Err(usage()),
                },
            };
            if opt == SockOpt::RcvTimeo { sock.set_read_timeout(timeout) } else { sock.set_write_timeout(timeout) }
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
        SockOpt::NonBlock => switch(sock.nonblocking()?),
        SockOpt::RcvTimeo => millis(sock.read_timeout()?),
        SockOpt::SndTimeo => millis(sock.write_timeout()?),
    })
}

fn millis(timeout: Option<Duration>) -> String {
    timeout.map_or_else(|| "off".to_string(), |t| t.as_millis().to_string())
}
