//! Playground commands: parsed from a line into a typed `Command`.
//!
//! The same parser serves the REPL, lesson `run`/`try` steps, demos and
//! `netlab lint`, so a command that lints clean is a command that runs.

use std::time::Duration;

use super::Framing;
use super::addr::AddrSpec;
pub use super::command_check::CheckSpec;
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
use super::service::faults::Faults;
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
    /// `netlab check`'s hostile suite against a server.
    Check(CheckSpec),
}

pub(super) const TIMEOUT: &[&str] = &["timeout"];

impl Command {
    pub fn parse(line: &str) -> Result<Command, String> {
        let words = tokens::split(line)?;
        let first = words.first().map(String::as_str).unwrap_or_default();
        let rest = words.get(1..).unwrap_or_default();
        match first {
            "tcp" => super::command_open::parse_tcp(rest),
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
            "relay" => super::command_open::parse_relay(rest),
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
            "recv" | "recvfrom" => super::command_read::parse_recv(first, rest),
            "recvloop" => RecvLoop::parse(rest).map(Command::RecvLoop),
            "poll" => PollSpec::parse(rest).map(Command::Poll),
            "epoll" => EpollSpec::parse(rest).map(Command::Epoll),
            "wait" => super::command_read::parse_wait(rest),
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
            "check" => super::command_check::parse_check(rest),
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
                | Command::Check(_)
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
            Command::Check(_) => None,
            Command::Unix(u) => u.subject(),
        }
    }
}

pub(super) fn optional_addr(positional: &[String], usage: &str) -> Result<Option<AddrSpec>, String> {
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
