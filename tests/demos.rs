//! Every demo shows its effect on every run: each is run 20 times and its
//! events are checked, and no run leaks a file descriptor.

use std::sync::Mutex;

use netlab::event::{CallResult, Direction, Event, Recorder};
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

fn errno(result: &CallResult) -> Option<(&str, i32)> {
    match result {
        CallResult::Err { errno, code, .. } => Some((errno.as_str(), *code)),
        _ => None,
    }
}

#[test]
fn errors_triggers_each_errno_live_every_run() {
    for events in run_many("errors") {
        let connect = calls(&events, "cli", "connect(");
        assert_eq!(connect.iter().map(|r| errno(r)).collect::<Vec<_>>(), [Some(("ECONNREFUSED", 111))]);
        let reset = calls(&events, "b", "recv(");
        assert_eq!(errno(reset[0]), Some(("ECONNRESET", 104)), "the RST is reported by recv");
        assert!(detail(reset[1]).starts_with("0 bytes"), "then EOF: the error is reported once");
        assert_eq!(errno(calls(&events, "b", "send(")[0]), Some(("EPIPE", 32)));
        let sends = calls(&events, "c", "send(3)");
        assert!(sends[0].is_ok(), "the first send after the peer's close succeeds");
        assert_eq!(errno(sends[1]), Some(("EPIPE", 32)), "the second one gets EPIPE");
        let waits = calls(&events, "f", "recv(");
        assert!(waits.len() == 2 && waits.iter().all(|r| errno(r) == Some(("EAGAIN", 11))), "{waits:?}");
    }
}

/// The byte count at the start of a call's detail ("6144 bytes queued…").
fn count(result: &CallResult) -> Option<usize> {
    detail(result).split(' ').next()?.parse().ok()
}

#[test]
fn partial_writes_queue_what_fits_then_the_loop_delivers_every_byte_every_run() {
    for events in run_many("partial") {
        let single = calls(&events, "cli", "send(200000)");
        let took = single.first().and_then(|r| count(r)).expect("a byte count");
        assert!(took > 0 && took < 200_000, "one non-blocking send took {took}");
        let queued = events.iter().find_map(|e| match e {
            Event::Table { rows } => rows.iter().find(|r| r.name == "cli").and_then(|r| r.send_q),
            _ => None,
        });
        assert!(queued.is_some_and(|q| q > 0), "SIOCOUTQ shows queued bytes: {queued:?}");

        let sends = calls(&events, "cli2", "send(");
        assert!(count(sends[0]).is_some_and(|n| n < 200_000), "the loop's first send is partial");
        let blocked = sends.iter().find_map(|r| match r {
            CallResult::Err { errno, why: Some(why), .. } if errno == "EAGAIN" => Some(why.as_str()),
            _ => None,
        });
        let blocked = blocked.expect("an EAGAIN while the peer did not read");
        let outq: usize = blocked
            .split("full: ")
            .nth(1)
            .and_then(|w| w.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("SIOCOUTQ in the EAGAIN note");
        assert!(outq > 0, "bytes wait in the send queue while blocked");
        let done = calls(&events, "cli2", "sendall(200000)");
        assert!(detail(done[0]).starts_with("all 200000 bytes queued"), "{done:?}");
        let read = calls(&events, "conn2", "recv(");
        assert!(detail(read[0]).starts_with("200000 bytes: exactly the bytes"), "{read:?}");
        let arrived = events.iter().find_map(|e| match e {
            Event::Bytes { sock, dir: Direction::Received, len, data } if sock == "conn2" => Some((*len, data)),
            _ => None,
        });
        let (len, head) = arrived.expect("conn2 received bytes");
        assert_eq!(len, 200_000);
        assert!(head.starts_with(b"000000\n000001\n000002\n"), "the numbered lines, in order");
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
fn unix_shows_boundaries_socket_files_abstract_names_and_permissions_every_run() {
    let errno = |r: &CallResult| match r {
        CallResult::Err { errno, .. } => errno.clone(),
        _ => "ok".into(),
    };
    for events in run_many("unix") {
        assert_eq!(received(&events, "s2"), vec![&b"onetwo"[..]], "stream merges");
        assert_eq!(received(&events, "q2"), vec![&b"one"[..], b"two", b"hell"], "seqpacket keeps boundaries");
        assert!(calls(&events, "q2", "recv(4)").iter().any(|r| detail(r).contains("the message was 11 bytes")));
        assert_eq!(received(&events, "d2"), vec![&b"one"[..], b"two"], "dgram keeps boundaries");
        let binds: Vec<String> = calls(&events, "srv2", "bind(").into_iter().map(errno).collect();
        assert_eq!(binds, ["EADDRINUSE", "ok"], "rebind fails until unlinked");
        assert_eq!(errno(calls(&events, "late", "connect(")[0]), "ECONNREFUSED", "the abstract name is gone");
        assert_eq!(errno(calls(&events, "usercli", "connect(")[0]), "EACCES", "mode 0000 without the capability");
        assert!(calls(&events, "owner", "connect(")[0].is_ok(), "mode 0600 as the owner");
        // The private directory, named in the first bind, went with the lab.
        let made = calls(&events, "srv", "bind(");
        let file = detail(made[0]).strip_prefix("made the socket file ").expect("a socket file");
        let dir = std::path::Path::new(file).parent().expect("a directory");
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[test]
fn every_listed_demo_is_tested_here() {
    let tested = ["echo", "ports", "sticky", "timewait", "udp", "byteorder", "errors", "partial", "unix"];
    for name in netlab::demo::names() {
        assert!(tested.contains(&name), "demo {name} has no test in tests/demos.rs");
    }
}
