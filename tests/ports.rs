//! Addresses and ports in the playground: resolve, addr (getsockname /
//! getpeername), connection refused, and the privileged-port check.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::playground::{calls_on, lab, run_valid};
use netlab::event::CallResult;
use netlab::lab::resolve::{hosts_lines_for, parse_hosts};
use netlab::lab::{Outcome, ports};

fn addr_of(text: &str) -> SocketAddr {
    text.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("no address in {text}"))
}

fn localhost_in_etc_hosts() -> Vec<IpAddr> {
    let text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts_lines_for(&parse_hosts(&text), "localhost").iter().map(|l| l.ip).collect()
}

#[test]
fn localhost_resolves_to_exactly_what_etc_hosts_lists_and_all_of_it_is_loopback() {
    let listed = localhost_in_etc_hosts();
    if listed.is_empty() {
        return; // nothing to compare with; the refusal is tested below
    }
    let (mut lab, _) = lab();
    let out = run_valid(&mut lab, "resolve localhost");
    let got: Vec<IpAddr> = out.value.expect("addresses").split(", ").map(|a| a.parse().expect("an IP")).collect();
    assert!(!got.is_empty() && got.iter().all(IpAddr::is_loopback), "{got:?}");
    for ip in &listed {
        assert!(got.contains(ip), "/etc/hosts lists {ip} for localhost; getaddrinfo gave {got:?}");
    }
    let has_v6 = listed.iter().any(IpAddr::is_ipv6);
    let v6 = lab.run_line("resolve localhost --family 6");
    if has_v6 {
        assert!(v6.value.expect("addresses").split(", ").all(|a| a.contains(':')), "only IPv6 asked");
    } else {
        let refused = v6.usage_error.expect("no IPv6 line for localhost: refused, it would go to DNS");
        assert!(refused.contains("nothing leaves the machine"), "{refused}");
    }
}

#[test]
fn numeric_addresses_resolve_and_names_outside_etc_hosts_are_refused() {
    let (mut lab, rec) = lab();
    assert_eq!(run_valid(&mut lab, "resolve ::1").value.as_deref(), Some("::1"));
    assert_eq!(run_valid(&mut lab, "resolve 127.1").value.as_deref(), Some("127.0.0.1"), "inet_aton's short form");
    let call = &calls_on(&rec, "resolve")[0].0;
    assert!(call.contains("AI_NUMERICHOST"), "numeric: no lookup at all: {call}");
    assert!(!run_valid(&mut lab, "resolve 127.0.0.1 --family 6").is_ok(), "no conversion between families");
    let refused = lab.run_line("resolve netlab-no-such-host.invalid").usage_error.expect("refused");
    assert!(refused.contains("nothing leaves the machine"), "{refused}");
    assert!(lab.run_line("resolve 'a b'").usage_error.is_some());
    assert!(lab.run_line("resolve localhost --family 5").usage_error.is_some());
}

#[test]
fn addr_shows_both_ends_and_enotconn_on_a_listener() {
    let (mut lab, rec) = lab();
    run_valid(&mut lab, "tcp listen as srv");
    assert_eq!(run_valid(&mut lab, "addr srv").errno(), Some("ENOTCONN"), "a listener has no peer");
    run_valid(&mut lab, "tcp connect srv as cli");
    run_valid(&mut lab, "accept srv as conn");
    let cli = run_valid(&mut lab, "addr cli");
    let conn = run_valid(&mut lab, "addr conn");
    let (cli_local, conn_local): (SocketAddr, SocketAddr) =
        (addr_of(cli.value.as_deref().unwrap_or_default()), addr_of(conn.value.as_deref().unwrap_or_default()));
    let peer_of = |o: &Outcome| match &o.result {
        Some(CallResult::Ok { detail }) => addr_of(detail),
        other => panic!("getpeername: {other:?}"),
    };
    assert_eq!(peer_of(&cli), conn_local, "the client's peer is the accepted socket's local address");
    assert_eq!(peer_of(&conn), cli_local);
    assert_eq!(Some(conn_local), lab.local_addr("srv"), "the accepted socket shares the listener's port");
    let range = ports::ephemeral_range().expect("ip_local_port_range");
    assert!(range.contains(&cli_local.port()), "the client's source port comes from the ephemeral range");
    let said = calls_on(&rec, "cli");
    assert!(said.iter().any(|(c, r)| c == "getsockname()" && format!("{r:?}").contains("in the ephemeral range")));
    run_valid(&mut lab, "udp bind as u");
    assert_eq!(run_valid(&mut lab, "addr u").errno(), Some("ENOTCONN"));
    assert!(lab.run_line("addr nosuch").usage_error.is_some());
}

#[test]
fn connecting_to_a_closed_listeners_port_is_refused() {
    let (mut lab, _) = lab();
    run_valid(&mut lab, "tcp listen as srv");
    run_valid(&mut lab, "close srv");
    assert_eq!(run_valid(&mut lab, "tcp connect srv as cli").errno(), Some("ECONNREFUSED"));
}

#[test]
fn wildcard_and_ipv6_listeners_accept_loopback_clients() {
    let (mut lab, _) = lab();
    run_valid(&mut lab, "tcp listen 0.0.0.0:0 as any");
    run_valid(&mut lab, "tcp connect any as c4");
    let conn = run_valid(&mut lab, "accept any as a4");
    assert!(conn.is_ok(), "{conn:?}");
    run_valid(&mut lab, "tcp listen [::1]:0 as six");
    run_valid(&mut lab, "tcp connect six as c6");
    assert!(run_valid(&mut lab, "accept six as a6").is_ok());
    let v4 = lab.local_addr("any").expect("bound");
    let v6 = lab.local_addr("six").expect("bound");
    assert!(v4.ip().is_unspecified() && v6.ip() == IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
}

#[test]
fn an_unprivileged_bind_of_a_privileged_port_fails_with_eacces_and_binds_nothing() {
    let start = ports::unprivileged_port_start().expect("ip_unprivileged_port_start");
    let (mut lab, rec) = lab();
    let out = run_valid(&mut lab, "tcp listen 127.0.0.1:80 --unprivileged as web");
    let binds: Vec<CallResult> =
        calls_on(&rec, "web").into_iter().filter(|(c, _)| c.starts_with("bind(")).map(|(_, r)| r).collect();
    assert_eq!(binds.len(), 1);
    if start > 80 {
        assert_eq!(out.errno(), Some("EACCES"), "{out:?}");
    } else {
        assert!(matches!(&binds[0], CallResult::Failed { why } if why.contains("not tried")), "{binds:?}");
    }
    assert!(lab.names().is_empty(), "no socket is kept");
    // Only the helper thread lost the capability: netlab's own binds are as before.
    run_valid(&mut lab, "tcp listen as srv");
    let high = run_valid(&mut lab, &format!("tcp listen 127.0.0.1:{start} --unprivileged as high"));
    assert!(matches!(high.result, Some(CallResult::Failed { ref why }) if why.contains("not tried")), "{high:?}");
    let zero = run_valid(&mut lab, "tcp listen 0 --unprivileged as zero");
    assert!(matches!(zero.result, Some(CallResult::Failed { .. })));
    assert!(lab.run_line("tcp listen --unprivileged").usage_error.is_some(), "needs a port");
    assert!(lab.run_line("tcp listen 192.0.2.1:80 --unprivileged").usage_error.is_some(), "loopback only");
    assert!(lab.run_line("tcp listen 0.0.0.0:80 --unprivileged").usage_error.is_some(), "not every interface");
}
