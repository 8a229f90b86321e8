//! Every demo shows its effect on every run: each is run 20 times and its
//! events are checked, and no run leaks a file descriptor. The demos of
//! lessons about bytes and messages are in tests/demos_io.rs.

mod common;

use common::demo_runs::*;
use netlab::event::{CallResult, Event};

#[test]
fn sticky_merges_two_sends_and_splits_one_every_run() {
    for events in run_many("sticky") {
        assert!(received(&events, "conn").contains(&b"helloworld".as_slice()), "two sends, one recv");
        let pieces: Vec<usize> = calls(&events, "reader", "recv(")
            .iter()
            .map(|r| detail(r).trim_end_matches(" bytes").parse().expect("a byte count"))
            .collect();
        assert!(pieces.len() >= 2, "1 MiB in one recv: {pieces:?}");
        assert_eq!(pieces.iter().sum::<usize>(), 1 << 20);
        let sends = calls(&events, "sender", "send(1048576)");
        assert!(sends.iter().any(|r| detail(r).contains("returned 1048576")), "one send call took it all");
    }
}

#[test]
fn timewait_shows_time_wait_then_eaddrinuse_then_reuse_every_run() {
    for events in run_many("timewait") {
        let tw = events
            .iter()
            .any(|e| matches!(e, Event::Kernel { sock, state, .. } if sock == "conn" && state == "TIME_WAIT"));
        assert!(tw, "the server's connection is seen in TIME_WAIT");
        let binds = calls(&events, "again", "bind(");
        assert_eq!(binds.len(), 2);
        assert!(matches!(binds[0], CallResult::Err { errno, code: 98, .. } if errno == "EADDRINUSE"));
        assert!(binds[1].is_ok(), "with SO_REUSEADDR the bind succeeds");
    }
}

#[test]
fn udp_keeps_boundaries_truncates_and_delivers_empty_datagrams_every_run() {
    for events in run_many("udp") {
        let got = received(&events, "b");
        assert_eq!(got, vec![&b"one"[..], b"two", b"three", b"hell", b"next"]);
        let recvs = calls(&events, "b", "recvfrom(");
        assert!(recvs.iter().any(|r| detail(r).contains("TRUNCATED: the datagram was 11 bytes")));
        assert!(recvs.iter().any(|r| detail(r).starts_with("0 bytes")), "the empty datagram");
    }
}

#[test]
fn byteorder_shows_both_orders_and_the_wrong_reading_every_run() {
    for events in run_many("byteorder") {
        let got = received(&events, "conn");
        assert_eq!(got[0], [0, 0, 3, 0xe8]);
        assert_eq!(got[1], [0xe8, 3, 0, 0]);
        let reads = calls(&events, "conn", "recv(4)");
        assert!(detail(reads[0]).ends_with("read as u32be: 1000"));
        assert!(detail(reads[1]).ends_with("read as u32be: 3892510720"));
    }
}

#[test]
fn echo_round_trips_and_sees_eof_every_run() {
    for events in run_many("echo") {
        assert_eq!(received(&events, "conn"), vec![&b"hello, server"[..]]);
        assert_eq!(received(&events, "cli"), vec![&b"HELLO, SERVER"[..]]);
        let recvs = calls(&events, "conn", "recv(");
        assert!(recvs.last().is_some_and(|r| detail(r).starts_with("0 bytes: EOF")), "the server sees EOF");
    }
}

#[test]
fn handshake_shows_listen_established_before_accept_and_syn_sent_every_run() {
    for events in run_many("handshake") {
        assert_eq!(states(&events, "srv"), ["LISTEN"]);
        assert_eq!(states(&events, "cli"), ["ESTABLISHED"]);
        assert_eq!(queues(&events, "srv"), [(Some(1), Some(128))], "one connection queued before accept");
        let accepted = events.iter().position(|e| matches!(e, Event::Call { call, .. } if call == "accept()"));
        let cli_up = events.iter().position(|e| matches!(e, Event::Kernel { sock, .. } if sock == "cli"));
        assert!(cli_up < accepted, "the client is ESTABLISHED before accept()");
        let waits = calls(&events, "full", "getsockopt(TCP_INFO) until");
        assert!(matches!(waits[..], [CallResult::Ok { .. }, CallResult::Ok { .. }]), "both queued: {waits:?}");
        for queued in ["first", "second"] {
            assert!(matches!(calls(&events, queued, "connect(")[..], [CallResult::Ok { .. }]), "{queued} got in");
        }
        assert_eq!(states(&events, "late"), ["SYN_SENT"]);
        assert!(matches!(calls(&events, "late", "connect(")[..], [CallResult::TimedOut { .. }]), "not refused");
    }
}

#[test]
fn close_shows_every_closing_state_and_time_wait_on_the_first_closer_every_run() {
    for events in run_many("close") {
        assert_eq!(states(&events, "cli"), ["FIN_WAIT_2", "TIME_WAIT"], "client closed first");
        assert_eq!(states(&events, "conn"), ["CLOSE_WAIT"]);
        assert_eq!(states(&events, "cli2"), ["FIN_WAIT_1", "FIN_WAIT_2"]);
        assert_eq!(states(&events, "conn2"), ["CLOSE_WAIT"]);
        assert_eq!(states(&events, "conn3"), ["FIN_WAIT_2", "TIME_WAIT"], "server closed first");
        assert_eq!(states(&events, "cli3"), ["CLOSE_WAIT", "LAST_ACK"]);
        let queued = queues(&events, "cli2");
        assert!(queued.iter().any(|(_, sendq)| sendq.is_some_and(|n| n > 1)), "data queued before the FIN: {queued:?}");
        for sock in ["conn", "conn2", "conn3"] {
            let eof = calls(&events, sock, "recv(");
            assert!(eof.last().is_some_and(|r| detail(r).starts_with("0 bytes: EOF")), "{sock} reads to EOF");
        }
    }
}

/// The address a call's detail starts with (getsockname, getpeername).
fn addr_detail(events: &[Event], sock: &str, call: &str) -> std::net::SocketAddr {
    let results = calls(events, sock, call);
    let first = results.first().unwrap_or_else(|| panic!("no {call} on {sock}"));
    detail(first).split_whitespace().next().and_then(|w| w.parse().ok()).expect("an address")
}

#[test]
fn ports_shows_the_range_both_ends_refusals_localhost_and_eacces_every_run() {
    let range = netlab::lab::ports::ephemeral_range().expect("ip_local_port_range");
    let start = netlab::lab::ports::unprivileged_port_start().expect("ip_unprivileged_port_start");
    for events in run_many("ports") {
        assert!(range.contains(&addr_detail(&events, "srv", "getsockname").port()), "port 0 → the range");
        let cli_local = addr_detail(&events, "cli", "getsockname");
        assert!(range.contains(&cli_local.port()), "the client's source port is ephemeral");
        assert_eq!(addr_detail(&events, "cli", "getpeername"), addr_detail(&events, "conn", "getsockname"));
        assert_eq!(addr_detail(&events, "conn", "getpeername"), cli_local);
        assert_eq!(detail(calls(&events, "srv", "getpeername")[0]), "ENOTCONN");
        for sock in ["late", "c4"] {
            assert_eq!(detail(calls(&events, sock, "connect(")[0]), "ECONNREFUSED", "{sock}");
        }
        let resolved = detail(calls(&events, "resolve", "getaddrinfo(\"localhost\"")[0]).to_string();
        assert!(resolved.contains("127.0.0.1") || resolved.contains("::1"), "{resolved}");
        let bind = calls(&events, "web", "bind(127.0.0.1:80)");
        if start > 80 {
            assert!(matches!(bind[0], CallResult::Err { errno, .. } if errno == "EACCES"), "{bind:?}");
        } else {
            assert!(matches!(bind[0], CallResult::Failed { .. }), "not tried: {bind:?}");
        }
    }
}

#[test]
fn backlog_queues_before_accept_stalls_when_full_and_is_capped_every_run() {
    for events in run_many("backlog") {
        let srv = queues(&events, "srv");
        assert_eq!(srv[0], (Some(3), Some(2)), "backlog 2 holds 3 finished connections");
        assert_eq!(srv[1], (Some(2), Some(2)), "one accept() frees one slot");
        let waits = calls(&events, "srv", "getsockopt(TCP_INFO) until");
        assert_eq!(waits.len(), 3, "waited for each client to be queued");
        assert!(waits.iter().all(|r| matches!(r, CallResult::Ok { .. })), "{waits:?}");
        assert!(matches!(calls(&events, "late", "connect(")[..], [CallResult::TimedOut { .. }]), "not refused");
        assert_eq!(states(&events, "late"), ["SYN_SENT"]);
        let somaxconn = {
            let _serial = serial();
            std::fs::read_to_string("/proc/sys/net/core/somaxconn").expect("somaxconn")
        };
        let cap: u64 = somaxconn.trim().parse().expect("a number");
        assert_eq!(queues(&events, "big"), [(Some(0), Some(cap.min(65535)))]);
    }
}

/// Every demo `netlab demo --list` shows is run by a test in one of the
/// demo test files.
#[test]
fn every_listed_demo_is_tested_here() {
    // Every tests/demos*.rs file, so a new demo test file counts without an edit here.
    let _serial = serial();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let sources: Vec<String> = std::fs::read_dir(dir)
        .expect("tests/")
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with("demos") && e.path().extension().is_some_and(|x| x == "rs")
        })
        .map(|e| std::fs::read_to_string(e.path()).expect("a test file"))
        .collect();
    for name in netlab::demo::names() {
        let call = format!("run_many(\"{name}\")");
        assert!(sources.iter().any(|s| s.contains(&call)), "demo {name} has no test in tests/demos*.rs");
    }
}
