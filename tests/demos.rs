//! Every demo shows its effect on every run: each is run 20 times and its
//! events are checked, and no run leaks a file descriptor.

use std::sync::Mutex;

use netlab::event::{CallResult, Direction, Event, Recorder, RelayAction};
use netlab::lab::Lab;

const RUNS: usize = 20;

/// fd counts are per process: demos in this file must not overlap.
static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Run a demo `RUNS` times; return each run's events.
fn run_many(name: &str) -> Vec<Vec<Event>> {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let demo = netlab::demo::find(name).expect("demo exists");
    (0..RUNS)
        .map(|run| {
            let before = open_fds();
            let rec = Recorder::new();
            let mut lab = Lab::new(Box::new(rec.clone()));
            let ok = netlab::demo::run(demo, &mut lab);
            drop(lab);
            assert_eq!(open_fds(), before, "demo {name} run {run} leaked file descriptors");
            let failed: Vec<_> = rec.verdicts().into_iter().filter(|(ok, _)| !ok).collect();
            assert!(ok && failed.is_empty(), "demo {name} run {run}: {failed:?}");
            rec.events()
        })
        .collect()
}

fn received<'a>(events: &'a [Event], sock: &str) -> Vec<&'a [u8]> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Bytes { sock: s, dir: Direction::Received, data, .. } if s == sock => Some(data.as_slice()),
            _ => None,
        })
        .collect()
}

fn calls<'a>(events: &'a [Event], sock: &str, prefix: &str) -> Vec<&'a CallResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call { sock: s, call, result } if s == sock && call.starts_with(prefix) => Some(result),
            _ => None,
        })
        .collect()
}

fn detail(result: &CallResult) -> &str {
    match result {
        CallResult::Ok { detail } => detail,
        CallResult::Err { errno, .. } => errno,
        CallResult::TimedOut { why, .. } | CallResult::Failed { why } => why,
    }
}

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

/// The relay's decision about each datagram on its way to the server.
fn relay_decisions(events: &[Event]) -> Vec<(u64, RelayAction)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Relay { n: Some(n), action, .. }
                if !matches!(action, RelayAction::Released | RelayAction::ReleasedOnClose) =>
            {
                Some((*n, *action))
            }
            _ => None,
        })
        .collect()
}

/// Ids of the time replies `cli` received, in order (`#3 16:40:01` → 3).
fn reply_ids(events: &[Event]) -> Vec<u64> {
    received(events, "cli")
        .iter()
        .filter_map(|r| std::str::from_utf8(r).ok()?.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn udp_loss_drops_duplicates_reorders_and_the_retrying_client_copes_every_run() {
    let runs = run_many("udp-loss");
    let first = relay_decisions(&runs[0]);
    for events in &runs {
        let decisions = relay_decisions(events);
        // The naive client's eight requests meet the same fates every run.
        assert_eq!(decisions[..8], first[..8], "same seed, same decision log");
        let naive: Vec<RelayAction> = decisions[..8].iter().map(|d| d.1).collect();
        for fate in [RelayAction::Dropped, RelayAction::Duplicated, RelayAction::HeldBack] {
            assert!(naive.contains(&fate), "{fate:?} among the naive client's requests: {naive:?}");
        }
        let ids = reply_ids(events);
        let (naive_ids, rest) = ids.split_at(8);
        assert_eq!(naive_ids, [2, 4, 3, 5, 6, 6, 7, 8], "one lost, one twice, one overtaken");
        // The retrying client ends with every id, in order, strays aside.
        let mut wanted = 1;
        for id in rest {
            if *id == wanted {
                wanted += 1;
            }
        }
        assert_eq!(wanted, 9, "the retrying client got #1..#8: {rest:?}");
        let timeouts = calls(events, "cli", "recvfrom(").iter().filter(|r| detail(r) == "EAGAIN").count();
        assert!(timeouts >= 2, "the retrying client timed out and retried: {timeouts}");
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
fn every_listed_demo_is_tested_here() {
    let tested = ["echo", "ports", "sticky", "timewait", "udp", "byteorder", "udp-loss"];
    for name in netlab::demo::names() {
        assert!(tested.contains(&name), "demo {name} has no test in tests/demos.rs");
    }
}
