//! The seeded lossy relay and the time server: playground commands that
//! run in background threads. Checked on real sockets, through events.

mod common;

use std::sync::Mutex;

use common::playground::{lab, last_table, ok};
use common::{new_fds, open_fds};
use netlab::event::{CallResult, Event, Recorder, RelayAction};
use netlab::lab::Lab;
use netlab::lab::service::faults::Fate;

/// Thread and fd counts are per process: tests here must not overlap.
static SERIAL: Mutex<()> = Mutex::new(());

fn service_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("nl-relay") || comm.starts_with("nl-time"))
        .count()
}

/// A new thread names itself once it runs, so its name shows up a moment
/// after spawn: look again for a while before giving up.
fn service_threads_become(n: usize) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while service_threads() != n {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    true
}

/// A time server behind a relay with `flags`, and a client `cli`.
fn relayed(flags: &str) -> (Lab, Recorder) {
    let (mut lab, rec) = lab();
    ok(&mut lab, "udp serve time as srv");
    ok(&mut lab, &format!("relay udp 127.0.0.1:0 srv {flags} as net"));
    ok(&mut lab, "udp bind as cli");
    (lab, rec)
}

/// Send `count` numbered requests through the relay; its decision log.
fn fates_for(seed: u64, count: u64) -> Vec<Fate> {
    let (mut lab, _) = relayed(&format!("--loss 30 --dup 20 --reorder 20 --seed {seed}"));
    for k in 1..=count {
        ok(&mut lab, &format!("sendto cli net \"#{k} %T\""));
    }
    lab.relay_fates("net").expect("a relay")
}

#[test]
fn the_same_seed_gives_the_same_decision_log_and_another_seed_another() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let first = fates_for(5, 40);
    assert_eq!(first.len(), 40);
    assert_eq!(first, fates_for(5, 40), "same seed, same datagrams: same fates");
    assert_ne!(first, fates_for(6, 40), "another seed: other fates");
    for fate in [Fate::Forward, Fate::Drop, Fate::Duplicate, Fate::Hold] {
        assert!(first.contains(&fate), "{fate:?} in 40 datagrams at these rates");
    }
}

#[test]
fn closing_stops_and_joins_the_threads_and_frees_the_sockets() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (threads, fds) = (service_threads(), open_fds());
    let (mut lab, rec) = relayed("--loss 50 --seed 3");
    assert!(service_threads_become(threads + 2), "a relay thread and a server thread");
    ok(&mut lab, "sockets");
    let kinds: Vec<String> = last_table(&rec).into_iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&"udp relay".into()) && kinds.contains(&"udp time server".into()), "{kinds:?}");
    let closed = ok(&mut lab, "close net");
    assert!(matches!(closed.result, Some(CallResult::Ok { ref detail }) if detail.contains("thread joined")));
    ok(&mut lab, "close srv");
    // join() returns once the thread is done; the kernel drops its task
    // entry a moment later, so look again for a while.
    assert!(service_threads_become(threads), "close joins the threads");
    assert!(lab.run_line("sendto cli net \"x\"").is_ok(), "a closed relay's address stays known");
    drop(lab);
    assert_eq!(new_fds(&fds), Vec::<String>::new(), "no socket left open");
    // Dropping a lab with running services stops them too.
    let (lab, _) = relayed("");
    assert!(service_threads_become(threads + 2));
    drop(lab);
    assert!(service_threads_become(threads));
    assert_eq!(new_fds(&fds), Vec::<String>::new());
}

#[test]
fn the_time_server_answers_formats_defaults_and_errors_through_a_clean_relay() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut lab, rec) = relayed("");
    ok(&mut lab, "sendto cli net \"#1 %Y\"");
    let got = ok(&mut lab, "recvfrom cli").bytes.expect("a reply");
    let text = String::from_utf8(got).expect("text");
    assert!(text.starts_with("#1 20") && text.len() == 7, "{text}");
    ok(&mut lab, "sendto cli net \"\"");
    let got = ok(&mut lab, "recvfrom cli").bytes.expect("a reply");
    assert_eq!(got.len(), "2026-11-23 16:40:01".len(), "{got:?}");
    ok(&mut lab, "sendto cli net \"%Q\"");
    let got = ok(&mut lab, "recvfrom cli").bytes.expect("a reply");
    assert!(got.starts_with(b"error: unknown conversion '%Q'"), "{got:?}");
    ok(&mut lab, "sendto cli srv hex:ff");
    let got = ok(&mut lab, "recvfrom cli").bytes.expect("a reply");
    assert!(got.starts_with(b"error: the format is not UTF-8"), "{got:?}");
    let actions: Vec<RelayAction> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Relay { action, .. } => Some(action),
            _ => None,
        })
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == RelayAction::Forwarded).count(), 3);
    assert_eq!(actions.iter().filter(|a| **a == RelayAction::PassedBack).count(), 3);
}

#[test]
fn a_held_datagram_waits_for_the_next_one_however_long_and_goes_out_on_close() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut lab, rec) = relayed("--reorder 100");
    ok(&mut lab, "sendto cli net \"#1\"");
    assert_eq!(lab.run_line("recvfrom cli --timeout 300").errno(), Some("EAGAIN"), "#1 is held: no time limit");
    ok(&mut lab, "sendto cli net \"#2\"");
    assert_eq!(ok(&mut lab, "recvfrom cli").bytes.as_deref(), Some(&b"#1"[..]), "#2 let #1 go");
    ok(&mut lab, "close net");
    let on_close = rec
        .events()
        .into_iter()
        .any(|e| matches!(e, Event::Relay { n: Some(2), action: RelayAction::ReleasedOnClose, .. }));
    assert!(on_close, "the last held datagram goes out when the relay closes");
}

#[test]
fn bad_relay_commands_are_one_line_errors() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut lab, _) = lab();
    ok(&mut lab, "udp serve time as srv");
    for (line, says) in [
        ("relay udp srv --loss 101", "not a percentage"),
        ("relay udp srv --dup 0.001", "not a percentage"),
        ("relay tcp srv", "UDP only"),
        ("relay udp 192.0.2.1:53", "not a loopback address"),
        ("relay udp 127.0.0.1:0", "needs a destination with a port"),
        ("relay udp srv --seed x", "whole number"),
        ("udp serve echo", "serves one protocol"),
        ("recvfrom srv", "background thread"),
        ("udp serve time 0.0.0.0:0", "not loopback"),
        ("relay udp 0.0.0.0:0 srv", "not loopback"),
    ] {
        let out = lab.run_line(line);
        let err = out.usage_error.unwrap_or_default();
        assert!(err.contains(says), "{line}: {err}");
    }
    assert!(lab.run_line("relay udp 127.0.0.1:0 srv as srv").usage_error.is_some(), "the name is taken");
}
