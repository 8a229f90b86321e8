//! Playground commands: parsed from a line into a typed `Command`.
//!
//! The same parser serves the REPL, lesson `run`/`try` steps, demos and
//! `netlab lint`, so a command that lints clean is a command that runs.

use std::time::Duration;

use super::Framing;
use super::addr::AddrSpec;
pub use super::command_help::{COMMANDS, CommandHelp, PAYLOAD_HELP, command_words, unknown_command};
pub use super::command_serve::ServeSpec;
use super::command_unix::{self, UnixCommand};
pub use super::exec_epoll::EpollSpec;
pub use super::exec_hmac::{HmacAnswer, HmacSpec};
pub use super::exec_opt::SockOpt;
pub use super::exec_poll::{PollEvents, PollSpec};
pub use super::exec_recv_loop::RecvLoop;
pub use super::exec_sendframe::SendFrame;
use super::payload::{IntFormat, Payload};
pub use super::resolve::IpFamily;
use super::service::faults::{Faults, Rate};
use super::tokens::{self, Args};
use crate::wire::kernel::TcpState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownHow {
    Read,
    Write,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// At least this many bytes queued for reading (FIONREAD).
    Readable(usize),
    /// The kernel shows this TCP state for the socket.
    State(TcpState),
    /// A TCP listener's accept queue holds at least this many connections.
    Queued(u32),
    /// The socket's receive thread (`follow`) has read this text.
    Heard(String),
    /// A server started with `serve` logged a line containing this text
    /// (after the line the previous such wait found).
    Log(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    TcpListen {
        addr: Option<AddrSpec>,
        name: Option<String>,
        reuseaddr: bool,
        backlog: i32,
    },
    /// `count`: that many clients at once, named NAME1…NAMEn (`--count N`).
    TcpConnect {
        target: AddrSpec,
        name: Option<String>,
        timeout: Option<Duration>,
        count: Option<usize>,
    },
    Accept {
        listener: String,
        name: Option<String>,
        timeout: Option<Duration>,
    },
    UdpBind {
        addr: Option<AddrSpec>,
        name: Option<String>,
    },
    UdpServeTime {
        addr: Option<AddrSpec>,
        name: Option<String>,
    },
    Relay {
        from: AddrSpec,
        to: AddrSpec,
        faults: Faults,
        name: Option<String>,
    },
    Send {
        sock: String,
        payload: Payload,
        timeout: Option<Duration>,
    },
    SendAll {
        sock: String,
        payload: Payload,
        timeout: Option<Duration>,
        reader: Option<String>,
    },
    SendTo {
        sock: String,
        target: AddrSpec,
        payload: Payload,
    },
    Recv {
        sock: String,
        size: usize,
        peek: bool,
        timeout: Option<Duration>,
        decode: Option<IntFormat>,
    },
    RecvFrom {
        sock: String,
        size: usize,
        peek: bool,
        timeout: Option<Duration>,
    },
    RecvFrame {
        sock: String,
        framing: Framing,
        timeout: Option<Duration>,
    },
    Wait {
        sock: String,
        until: WaitFor,
        timeout: Option<Duration>,
    },
    RecvLoop(RecvLoop),
    SendFrame(SendFrame),
    Poll(PollSpec),
    Epoll(EpollSpec),
    Close {
        sock: String,
    },
    Shutdown {
        sock: String,
        how: ShutdownHow,
    },
    Opt {
        sock: String,
        opt: SockOpt,
        value: Option<String>,
    },
    Sockets,
    Sysctl {
        name: String,
    },
    Resolve {
        host: String,
        family: Option<IpFamily>,
    },
    Addr {
        sock: String,
    },
    BindUnprivileged {
        addr: AddrSpec,
        name: Option<String>,
    },
    Unix(UnixCommand),
    /// A receive thread reads the socket and shows what arrives.
    Follow {
        sock: String,
    },
    Unfollow {
        sock: String,
    },
    /// A reference server as a child process (`netlab serve`).
    Serve(ServeSpec),
    /// The server's process and its children, from /proc.
    Procs {
        server: String,
    },
    /// Answer an auth server's challenge with HMAC(key, challenge).
    Hmac(HmacSpec),
}

const TIMEOUT: &[&str] = &["timeout"];

impl Command {
    pub fn parse(line: &str) -> Result<Command, String> {
        let words = tokens::split(line)?;
        let first = words.first().map(String::as_str).unwrap_or_default();
        let rest = words.get(1..).unwrap_or_default();
        match first {
            "tcp" => parse_tcp(rest),
            "udp" => match rest.first().map(String::as_str) {
                Some("bind") => {
                    let a = Args::parse(&rest[1..], &[], &[])?;
                    let addr = optional_addr(&a.positional, "udp bind [ADDR] [as NAME]")?;
                    Ok(Command::UdpBind { addr, name: a.name })
                }
                Some("serve") => {
                    let usage = "udp serve time [ADDR] [as NAME]";
                    let a = Args::parse(&rest[1..], &[], &[])?;
                    let Some(("time", addr)) = a.positional.split_first().map(|(p, rest)| (p.as_str(), rest)) else {
                        return Err(format!("serve what? the playground serves one protocol: {usage}"));
                    };
                    Ok(Command::UdpServeTime { addr: optional_addr(addr, usage)?, name: a.name })
                }
                _ => Err("udp what? use: udp bind [ADDR] [as NAME]  or  udp serve time [ADDR] [as NAME]".into()),
            },
            "relay" => parse_relay(rest),
            "accept" => {
                let a = Args::parse(rest, TIMEOUT, &[])?;
                let listener = one_sock(&a.positional, "accept LISTENER [as NAME]")?;
                Ok(Command::Accept { listener, name: a.name.clone(), timeout: timeout(&a)? })
            }
            "send" => {
                let a = Args::parse(rest, TIMEOUT, &[])?;
                let (sock, payload) =
                    a.positional.split_first().ok_or("usage: send SOCK PAYLOAD, e.g. send cli \"hello\"")?;
                tokens::check_name(sock)?;
                if a.name.is_some() {
                    return Err("send makes no socket, so it takes no `as NAME`".into());
                }
                Ok(Command::Send { sock: sock.clone(), payload: Payload::parse(payload)?, timeout: timeout(&a)? })
            }
            "sendall" => super::exec_sendall::parse(rest),
            "sendframe" => super::exec_sendframe::parse(rest),
            "sendto" => {
                let [sock, target, payload @ ..] = rest else {
                    return Err("usage: sendto SOCK ADDR|NAME PAYLOAD, e.g. sendto a b \"hi\"".into());
                };
                tokens::check_name(sock)?;
                let target = AddrSpec::parse(target)?;
                Ok(Command::SendTo { sock: sock.clone(), target, payload: Payload::parse(payload)? })
            }
            "recv" | "recvfrom" => parse_recv(first, rest),
            "recvloop" => RecvLoop::parse(rest).map(Command::RecvLoop),
            "poll" => PollSpec::parse(rest).map(Command::Poll),
            "epoll" => EpollSpec::parse(rest).map(Command::Epoll),
            "wait" => parse_wait(rest),
            "follow" | "unfollow" => {
                let a = Args::parse(rest, &[], &[])?;
                let sock = one_sock(&a.positional, &format!("{first} SOCK"))?;
                Ok(if first == "follow" { Command::Follow { sock } } else { Command::Unfollow { sock } })
            }
            "close" => {
                let a = Args::parse(rest, &[], &[])?;
                Ok(Command::Close { sock: one_sock(&a.positional, "close SOCK")? })
            }
            "shutdown" => {
                let usage = "usage: shutdown SOCK read|write|both";
                let [sock, how] = rest else { return Err(usage.into()) };
                tokens::check_name(sock)?;
                let how = match how.as_str() {
                    "read" | "rd" => ShutdownHow::Read,
                    "write" | "wr" => ShutdownHow::Write,
                    "both" | "rdwr" => ShutdownHow::Both,
                    _ => return Err(format!("shutdown {how}? {usage}")),
                };
                Ok(Command::Shutdown { sock: sock.clone(), how })
            }
            "opt" => {
                let usage = "usage: opt SOCK reuseaddr|nodelay|linger|rcvbuf|sndbuf|nonblock|rcvtimeo|sndtimeo [VALUE]";
                let (sock, opt, value) = match rest {
                    [sock, opt] => (sock, opt, None),
                    [sock, opt, value] => (sock, opt, Some(value.clone())),
                    _ => return Err(usage.into()),
                };
                tokens::check_name(sock)?;
                Ok(Command::Opt { sock: sock.clone(), opt: SockOpt::parse(opt)?, value })
            }
            "serve" => super::command_serve::parse_serve(rest),
            "procs" => super::command_serve::parse_procs(rest),
            "hmac" => super::exec_hmac::parse(rest),
            "unix" => command_unix::parse_unix(rest).map(Command::Unix),
            "socketpair" => command_unix::parse_socketpair(rest).map(Command::Unix),
            "addr" => {
                let a = Args::parse(rest, &[], &[])?;
                if a.name.is_some() {
                    return Err("addr makes no socket, so it takes no `as NAME`".into());
                }
                Ok(Command::Addr { sock: one_sock(&a.positional, "addr SOCK")? })
            }
            "resolve" => {
                let a = Args::parse(rest, &["family"], &[])?;
                let [host] = a.positional.as_slice() else {
                    return Err("usage: resolve HOST [--family 4|6], e.g. resolve localhost".into());
                };
                if a.name.is_some() {
                    return Err("resolve makes no socket, so it takes no `as NAME`".into());
                }
                let family = a.value("family").map(IpFamily::parse).transpose()?;
                Ok(Command::Resolve { host: host.clone(), family })
            }
            "sockets" | "ss" if rest.is_empty() => Ok(Command::Sockets),
            "sockets" | "ss" => Err("sockets takes no arguments".into()),
            "sysctl" => match rest {
                [name] => {
                    super::sysctl::path_of(name)?;
                    Ok(Command::Sysctl { name: name.clone() })
                }
                _ => Err("usage: sysctl NAME, e.g. sysctl net.core.somaxconn".into()),
            },
            "" => Err("empty command".into()),
            other => Err(unknown_command(other, &command_words())),
        }
    }

    /// Whether running it can change what later commands see (a recv
    /// consumes bytes; looking at sockets or options does not).
    pub fn changes_state(&self) -> bool {
        !matches!(
            self,
            Command::Sockets
                | Command::Poll(_)
                | Command::Epoll(_)
                | Command::Sysctl { .. }
                | Command::Resolve { .. }
                | Command::Addr { .. }
                | Command::BindUnprivileged { .. }
                | Command::Wait { .. }
                | Command::Opt { value: None, .. }
                | Command::Recv { peek: true, .. }
                | Command::RecvFrom { peek: true, .. }
                | Command::Unix(UnixCommand::Files)
                | Command::Procs { .. }
        )
    }

    /// The socket a command is about, for expectations like `state:`.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Command::TcpListen { name, .. } | Command::TcpConnect { name, .. } | Command::UdpBind { name, .. } => {
                name.as_deref()
            }
            Command::Accept { name, .. }
            | Command::BindUnprivileged { name, .. }
            | Command::UdpServeTime { name, .. }
            | Command::Relay { name, .. } => name.as_deref(),
            Command::Send { sock, .. }
            | Command::SendAll { sock, .. }
            | Command::SendTo { sock, .. }
            | Command::Recv { sock, .. }
            | Command::RecvFrom { sock, .. }
            | Command::RecvFrame { sock, .. }
            | Command::Wait { sock, .. }
            | Command::Close { sock }
            | Command::Shutdown { sock, .. }
            | Command::Opt { sock, .. }
            | Command::Addr { sock }
            | Command::Follow { sock }
            | Command::Unfollow { sock } => Some(sock),
            Command::RecvLoop(r) => Some(&r.sock),
            Command::SendFrame(f) => Some(&f.sock),
            Command::Poll(p) => p.socks.first().map(String::as_str),
            Command::Epoll(e) => Some(&e.sock),
            Command::Sockets | Command::Sysctl { .. } | Command::Resolve { .. } => None,
            Command::Serve(spec) => spec.name.as_deref(),
            Command::Procs { server } => Some(server),
            Command::Hmac(spec) => Some(&spec.sock),
            Command::Unix(u) => u.subject(),
        }
    }
}

fn parse_tcp(rest: &[String]) -> Result<Command, String> {
    match rest.first().map(String::as_str) {
        Some("listen") => {
            let a = Args::parse(&rest[1..], &["backlog"], &["no-reuseaddr", "unprivileged"])?;
            let addr = optional_addr(&a.positional, "tcp listen [ADDR] [as NAME]")?;
            if a.has("unprivileged") {
                // A separate command: it never makes a listener, only tries the bind.
                let addr =
                    addr.ok_or("--unprivileged wants a privileged port, e.g. tcp listen 127.0.0.1:80 --unprivileged")?;
                return Ok(Command::BindUnprivileged { addr, name: a.name.clone() });
            }
            let backlog = a.number::<i32>("backlog")?.unwrap_or(128);
            if !(0..=65535).contains(&backlog) {
                return Err("--backlog wants 0..65535".into());
            }
            Ok(Command::TcpListen { addr, name: a.name.clone(), reuseaddr: !a.has("no-reuseaddr"), backlog })
        }
        Some("connect") => {
            let a = Args::parse(&rest[1..], &["timeout", "count"], &[])?;
            let [target] = a.positional.as_slice() else {
                return Err("usage: tcp connect ADDR|NAME [as NAME] [--count N], e.g. tcp connect srv as cli".into());
            };
            let count = a.number::<usize>("count")?;
            if let Some(n) = count
                && !(1..=super::exec_connect_many::MAX_COUNT).contains(&n)
            {
                return Err(format!("--count wants 1..{}", super::exec_connect_many::MAX_COUNT));
            }
            let (target, name, timeout) = (AddrSpec::parse(target)?, a.name.clone(), timeout(&a)?);
            Ok(Command::TcpConnect { target, name, timeout, count })
        }
        _ => Err("tcp what? use: tcp listen [ADDR] [as NAME]  or  tcp connect ADDR|NAME [as NAME]".into()),
    }
}

fn parse_relay(rest: &[String]) -> Result<Command, String> {
    let usage = "usage: relay udp [FROM] TO [--loss P] [--dup P] [--reorder P] [--seed N] [as NAME], e.g. relay udp srv --loss 25 as net";
    let Some(("udp", rest)) = rest.split_first().map(|(p, rest)| (p.as_str(), rest)) else {
        return Err(format!("netlab relays UDP only: {usage}"));
    };
    let a = Args::parse(rest, &["loss", "dup", "reorder", "seed"], &[])?;
    let (from, to) = match a.positional.as_slice() {
        [to] => (AddrSpec::Addr(super::addr::LOOPBACK_ANY_PORT), to),
        [from, to] => (AddrSpec::parse(from)?, to),
        _ => return Err(usage.into()),
    };
    let rate = |flag: &str| {
        a.value(flag).map_or(Ok(Rate::default()), |v| Rate::parse(v).map_err(|e| format!("--{flag}: {e}")))
    };
    let faults = Faults {
        loss: rate("loss")?,
        dup: rate("dup")?,
        reorder: rate("reorder")?,
        seed: a.number::<u64>("seed")?.unwrap_or(super::DEFAULT_SEED),
    };
    Ok(Command::Relay { from, to: AddrSpec::parse(to)?, faults, name: a.name.clone() })
}

fn parse_recv(cmd: &str, rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, &["timeout", "as", "frame"], &["peek"])?;
    if let Some(kind) = a.value("frame") {
        return parse_recv_frame(cmd, &a, kind);
    }
    let usage = match cmd {
        "recv" => "usage: recv SOCK [N] [--peek] [--timeout MS] [--as u32be|u32le|…]".to_string(),
        _ => format!("usage: {cmd} SOCK [N] [--peek] [--timeout MS]"),
    };
    let (sock, size) = match a.positional.as_slice() {
        [sock] => (sock, 1024),
        [sock, n] => {
            let n: usize = n.parse().map_err(|_| format!("'{n}' is not a byte count: {usage}"))?;
            (sock, n)
        }
        _ => return Err(usage),
    };
    tokens::check_name(sock)?;
    if !(1..=super::payload::MAX_PAYLOAD).contains(&size) {
        return Err(format!("recv size must be 1..{} bytes", super::payload::MAX_PAYLOAD));
    }
    let (sock, peek, timeout) = (sock.clone(), a.has("peek"), timeout(&a)?);
    if cmd == "recvfrom" {
        if a.value("as").is_some() {
            return Err("--as works with recv only".into());
        }
        return Ok(Command::RecvFrom { sock, size, peek, timeout });
    }
    let decode = a
        .value("as")
        .map(|f| IntFormat::parse(f).ok_or_else(|| format!("--as {f}? use one of {}", IntFormat::NAMES.join(", "))))
        .transpose()?;
    Ok(Command::Recv { sock, size, peek, timeout, decode })
}

fn parse_recv_frame(cmd: &str, a: &Args, kind: &str) -> Result<Command, String> {
    let usage = "usage: recv SOCK --frame line|u32|json|json-le|fixed:N [--timeout MS]";
    if cmd != "recv" {
        return Err(format!("--frame reads a TCP stream: {usage}"));
    }
    let [sock] = a.positional.as_slice() else {
        return Err(format!("recv --frame reads one whole frame, so it takes no size: {usage}"));
    };
    if a.has("peek") || a.value("as").is_some() {
        return Err(format!("--frame does not combine with --peek or --as: {usage}"));
    }
    tokens::check_name(sock)?;
    Ok(Command::RecvFrame { sock: sock.clone(), framing: Framing::parse(kind)?, timeout: timeout(a)? })
}

fn parse_wait(rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, TIMEOUT, &[])?;
    let usage = "usage: wait SOCK readable N  or  wait SOCK state STATE (e.g. TIME_WAIT)  or  wait LISTENER queued N  or  wait SERVER log TEXT  or  wait SOCK heard TEXT";
    if let [sock, what, text @ ..] = a.positional.as_slice()
        && (what == "log" || what == "heard")
        && !text.is_empty()
    {
        tokens::check_name(sock)?;
        // Quoted or bare, the text is what the log line must contain.
        let quoted = text.first().is_some_and(|w| w.starts_with(['"', '\'']));
        let text = if quoted {
            let bytes = Payload::parse(text)?.bytes()?;
            String::from_utf8(bytes).map_err(|_| format!("wait … {what} wants text, not bytes"))?
        } else {
            text.join(" ")
        };
        let until = if what == "log" { WaitFor::Log(text) } else { WaitFor::Heard(text) };
        return Ok(Command::Wait { sock: sock.clone(), until, timeout: timeout(&a)? });
    }
    let [sock, what, arg] = a.positional.as_slice() else { return Err(usage.into()) };
    tokens::check_name(sock)?;
    let until = match what.as_str() {
        "readable" => WaitFor::Readable(arg.parse().map_err(|_| format!("'{arg}' is not a byte count: {usage}"))?),
        "state" => WaitFor::State(
            TcpState::parse(arg).ok_or_else(|| format!("'{arg}' is not a TCP state, e.g. ESTABLISHED, TIME_WAIT"))?,
        ),
        "queued" => WaitFor::Queued(arg.parse().map_err(|_| format!("'{arg}' is not a connection count: {usage}"))?),
        _ => return Err(usage.into()),
    };
    Ok(Command::Wait { sock: sock.clone(), until, timeout: timeout(&a)? })
}

fn optional_addr(positional: &[String], usage: &str) -> Result<Option<AddrSpec>, String> {
    match positional {
        [] => Ok(None),
        [addr] => AddrSpec::parse(addr).map(Some),
        _ => Err(format!("usage: {usage}")),
    }
}

fn one_sock(positional: &[String], usage: &str) -> Result<String, String> {
    match positional {
        [sock] => tokens::check_name(sock).map(|()| sock.clone()),
        _ => Err(format!("usage: {usage}")),
    }
}

pub(super) fn timeout(a: &Args) -> Result<Option<Duration>, String> {
    let ms = a.number::<u64>("timeout")?;
    match ms {
        Some(ms) if ms > 600_000 => Err("--timeout is in milliseconds, at most 600000".into()),
        _ => Ok(ms.map(Duration::from_millis)),
    }
}
