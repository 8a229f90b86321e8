//! Parsing the commands that read and wait: `recv`, `recvfrom`,
//! `recv --frame`, and `wait SOCK readable|state|queued|log|heard …`.

use super::Framing;
use super::command::{Command, TIMEOUT, WaitFor, timeout};
use super::payload::{IntFormat, Payload};
use super::tokens::{self, Args};
use crate::wire::kernel::TcpState;

pub(super) fn parse_recv(cmd: &str, rest: &[String]) -> Result<Command, String> {
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

pub(super) fn parse_wait(rest: &[String]) -> Result<Command, String> {
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
