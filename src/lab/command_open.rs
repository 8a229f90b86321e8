//! Parsing the commands that open TCP sockets and start the UDP relay:
//! `tcp listen …`, `tcp connect …` (one client or a crowd), `relay udp …`.

use super::addr::AddrSpec;
use super::command::{Command, optional_addr, timeout};
use super::service::faults::{Faults, Rate};
use super::tokens::Args;

pub(super) fn parse_tcp(rest: &[String]) -> Result<Command, String> {
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

pub(super) fn parse_relay(rest: &[String]) -> Result<Command, String> {
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
