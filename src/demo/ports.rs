//! Addresses and ports: where port 0 comes from, both ends of a connection
//! (getsockname / getpeername), 127.0.0.1 vs ::1 vs 0.0.0.0, getaddrinfo for
//! localhost, connection refused, and privileged ports.
//!
//! Deterministic by construction: every port is picked by the kernel (port
//! 0), the refused connects go to ports whose listener this demo just
//! closed or never had in that family, and the privileged bind runs on a
//! thread without CAP_NET_BIND_SERVICE, so it fails even as root.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

use super::must;
use crate::event::CallResult;
use crate::lab::{Lab, Outcome};

pub fn run(lab: &mut Lab) -> Result<(), String> {
    let range = ephemeral_ports(lab)?;
    both_ends(lab, &range)?;
    refused(lab)?;
    families(lab)?;
    localhost(lab)?;
    privileged(lab)
}

/// The address at the start of a call's detail, or of an outcome's value.
fn addr_in(text: &str) -> Option<SocketAddr> {
    text.split_whitespace().next()?.parse().ok()
}

fn local_of(out: &Outcome) -> Result<SocketAddr, String> {
    out.value.as_deref().and_then(addr_in).ok_or_else(|| "addr gave no local address".to_string())
}

fn peer_of(out: &Outcome) -> Result<SocketAddr, String> {
    match &out.result {
        Some(CallResult::Ok { detail }) => addr_in(detail).ok_or_else(|| "getpeername gave no address".to_string()),
        _ => Err("getpeername failed on a connected socket".into()),
    }
}

fn ephemeral_ports(lab: &mut Lab) -> Result<RangeInclusive<u16>, String> {
    lab.heading("port 0: the kernel picks from the ephemeral range");
    lab.say("bind() to port 0 means \"any free port\". The kernel takes it from one range, a setting:");
    let shown = must(lab, "sysctl net.ipv4.ip_local_port_range")?;
    let mut ends = shown.value.as_deref().unwrap_or_default().split_whitespace().map(str::parse::<u16>);
    let (Some(Ok(low)), Some(Ok(high))) = (ends.next(), ends.next()) else {
        return Err("ip_local_port_range is not two ports".into());
    };
    must(lab, "tcp listen 127.0.0.1:0 as srv")?;
    let srv = lab.run_shown("addr srv");
    let port = local_of(&srv)?.port();
    lab.verdict(
        (low..=high).contains(&port),
        format!("port 0 gave port {port}, inside the ephemeral range {low}–{high}"),
    );
    lab.verdict(
        srv.errno() == Some("ENOTCONN"),
        "getpeername() on a listener fails with ENOTCONN: a listener has no other end",
    );
    Ok(low..=high)
}

fn both_ends(lab: &mut Lab, range: &RangeInclusive<u16>) -> Result<(), String> {
    lab.heading("one connection, two ends: getsockname and getpeername");
    lab.say("The client never calls bind(): connect() binds it to an ephemeral port too — its source port.");
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    let cli = lab.run_shown("addr cli");
    let conn = lab.run_shown("addr conn");
    let (cli_local, conn_local) = (local_of(&cli)?, local_of(&conn)?);
    lab.verdict(
        range.contains(&cli_local.port()),
        format!("the client's source port {} is in the ephemeral range too", cli_local.port()),
    );
    lab.verdict(
        peer_of(&cli)? == conn_local && peer_of(&conn)? == cli_local,
        format!("getpeername(cli) = getsockname(conn) = {conn_local}, and the other way round: {cli_local}"),
    );
    lab.verdict(
        lab.local_addr("srv").is_some_and(|a| a.port() == conn_local.port()),
        "the accepted socket has the listener's port: a connection is named by BOTH ends' address and port",
    );
    for line in ["close cli", "close conn", "close srv"] {
        must(lab, line)?;
    }
    Ok(())
}

fn refused(lab: &mut Lab) -> Result<(), String> {
    lab.heading("a port nobody listens on: connection refused");
    lab.say("A listener gets a port, and closes. Now nothing listens there. Connect to it anyway:");
    must(lab, "tcp listen as gone")?;
    let port = lab.local_addr("gone").map_or(0, |a| a.port());
    must(lab, "close gone")?;
    // Held bound (never listening) until the connect is refused: no other
    // program can start listening on the freed port in between, and the
    // kernel will not pick it as our own client's port (a self-connect).
    let _held = hold_v4(port);
    let out = lab.run_shown("tcp connect gone as late");
    lab.verdict(
        out.errno() == Some("ECONNREFUSED"),
        format!(
            "connect() fails at once with {}: the kernel answered the SYN with a RST",
            out.errno().unwrap_or("no error (unexpected)")
        ),
    );
    Ok(())
}

fn families(lab: &mut Lab) -> Result<(), String> {
    lab.heading("127.0.0.1, ::1 and 0.0.0.0 are different addresses");
    // The kernel picks six's port among IPv6 ports only: on a busy machine
    // another program may hold the same number on IPv4. Holding
    // 127.0.0.1:PORT bound (never listening) proves nobody listens there,
    // so the connect below is refused every run; when it is taken, the
    // demo takes another port.
    let (port, _held) = loop {
        must(lab, "tcp listen [::1]:0 as six")?;
        let port = lab.local_addr("six").map_or(0, |a| a.port());
        if let Some(held) = hold_v4(port) {
            break (port, held);
        }
        lab.say(format!("(127.0.0.1:{port} is in use by another program on this machine: another port)"));
        must(lab, "close six")?;
    };
    must(lab, "tcp connect six as c6")?;
    must(lab, "accept six as a6")?;
    lab.say(format!(
        "six listens on [::1]:{port}, IPv6 loopback. Same port number, IPv4 loopback — a different address:"
    ));
    let v4 = lab.run_shown(&format!("tcp connect 127.0.0.1:{port} as c4"));
    lab.verdict(
        v4.errno() == Some("ECONNREFUSED"),
        format!("127.0.0.1:{port} is refused: the listener on [::1]:{port} does not cover IPv4"),
    );
    lab.say(
        "0.0.0.0 (the wildcard, INADDR_ANY) means every address this machine has: loopback AND the\n\
         network cards. A server bound there can be reached from other machines — a security\n\
         decision, not a default to copy. netlab's accept() hangs up on any peer that is not loopback.",
    );
    must(lab, "tcp listen 0.0.0.0:0 as any")?;
    must(lab, "tcp connect any as near")?;
    let conn = must(lab, "accept any as anyconn")?;
    lab.verdict(conn.is_ok(), "a wildcard listener accepts a loopback client: 0.0.0.0 includes 127.0.0.1");
    Ok(())
}

/// A socket bound to 127.0.0.1:`port` and never listening (a connect to
/// it is refused), or `None` when something else has that port.
pub(super) fn hold_v4(port: u16) -> Option<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], port)).into()).ok()?;
    Some(socket)
}

fn localhost(lab: &mut Lab) -> Result<(), String> {
    lab.heading("getaddrinfo(\"localhost\")");
    lab.say("Names become addresses through getaddrinfo(), which reads /etc/hosts before asking DNS.");
    let out = lab.run_shown("resolve localhost");
    if !out.is_ok() {
        // Where nsswitch asks DNS before /etc/hosts, netlab will not resolve names.
        lab.say("This machine's resolver configuration does not read /etc/hosts first, so netlab does not look names up here.");
        return Ok(());
    }
    let got: Vec<IpAddr> =
        out.value.as_deref().unwrap_or_default().split(", ").filter_map(|a| a.parse().ok()).collect();
    let listed = crate::lab::resolve::etc_hosts_addresses("localhost");
    let shown: Vec<String> = got.iter().map(IpAddr::to_string).collect();
    lab.verdict(
        !got.is_empty() && got.iter().all(IpAddr::is_loopback) && listed.iter().all(|ip| got.contains(ip)),
        format!("localhost gives {} — loopback only, every address /etc/hosts lists for it", shown.join(" and ")),
    );
    if !got.iter().any(IpAddr::is_ipv6) {
        lab.say(
            "This machine's /etc/hosts lists localhost for IPv4 only. Many list `::1 localhost` too,\n\
             and then getaddrinfo returns both: a client should try each address in turn.",
        );
    }
    Ok(())
}

fn privileged(lab: &mut Lab) -> Result<(), String> {
    lab.heading("privileged ports: a capability, not \"root\"");
    let start = must(lab, "sysctl net.ipv4.ip_unprivileged_port_start")?;
    let start: u32 = start.value.as_deref().unwrap_or_default().trim().parse().map_err(|_| "not a number")?;
    lab.say(
        "netlab may be running as root, where bind() to port 80 simply works. So it tries the bind on a\n\
         helper thread that dropped CAP_NET_BIND_SERVICE — what every ordinary user's program lacks:",
    );
    let out = lab.run_shown("tcp listen 127.0.0.1:80 --unprivileged as web");
    if start > 80 {
        lab.verdict(
            out.errno() == Some("EACCES"),
            format!(
                "without CAP_NET_BIND_SERVICE, bind() to port 80 fails with {} (ports below {start} are privileged)",
                out.errno().unwrap_or("no error (unexpected)")
            ),
        );
    } else {
        lab.verdict(
            matches!(out.result, Some(CallResult::Failed { .. })),
            format!("on this machine ip_unprivileged_port_start is {start}: port 80 is not privileged, so netlab did not try"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_held_port_refuses_connects_and_a_taken_one_cannot_be_held() {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else { return };
        let Ok(taken) = listener.local_addr() else { return };
        assert!(hold_v4(taken.port()).is_none(), "a port someone listens on is not ours to hold");
        drop(listener);
        let held = hold_v4(taken.port()).expect("a port just released can be held");
        let refused = TcpStream::connect_timeout(&taken, Duration::from_secs(2));
        let kind = refused.err().map(|e| e.kind());
        assert_eq!(kind, Some(std::io::ErrorKind::ConnectionRefused));
        drop(held);
    }
}
