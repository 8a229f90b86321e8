//! O_NONBLOCK, SO_RCVTIMEO / SO_SNDTIMEO and `sysctl`: what the learner's
//! settings make the next calls do, checked on real sockets.

mod common;

use common::playground::{lab, ok, pair, why};
use netlab::event::{Event, Recorder};

/// Whether any event asked the learner to wait (a blocking wait began).
fn waited(rec: &Recorder) -> bool {
    rec.events().iter().any(|e| matches!(e, Event::Notice { text } if text.contains("waiting up to")))
}

#[test]
fn a_non_blocking_recv_fails_with_eagain_at_once_then_reads_once_data_is_there() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    assert_eq!(ok(&mut lab, "opt conn nonblock on").value.as_deref(), Some("1"));
    let empty = lab.run_line("recv conn");
    assert_eq!(empty.errno(), Some("EAGAIN"));
    assert!(why(&empty).contains("non-blocking"), "{}", why(&empty));
    assert!(!waited(&rec), "a non-blocking recv must not wait");
    ok(&mut lab, "send cli \"hi\"");
    ok(&mut lab, "wait conn readable 2");
    assert_eq!(ok(&mut lab, "recv conn").bytes.as_deref(), Some(&b"hi"[..]));
    assert_eq!(ok(&mut lab, "opt conn nonblock off").value.as_deref(), Some("0"));
}

#[test]
fn a_non_blocking_accept_fails_with_eagain_until_a_client_has_connected() {
    let (mut lab, _) = lab();
    ok(&mut lab, "tcp listen as srv");
    ok(&mut lab, "opt srv nonblock on");
    assert_eq!(lab.run_line("accept srv").errno(), Some("EAGAIN"));
    ok(&mut lab, "tcp connect srv as cli");
    // On loopback the handshake is done before connect() returns, so the
    // connection already sits in the accept queue.
    ok(&mut lab, "accept srv as conn");
}

#[test]
fn so_rcvtimeo_makes_recv_give_up_with_eagain_after_that_long() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    assert_eq!(ok(&mut lab, "opt conn rcvtimeo").value.as_deref(), Some("off"));
    // The kernel keeps the timeout in clock ticks: it may read back rounded up.
    let set: u64 = ok(&mut lab, "opt conn rcvtimeo 50").value.and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!((50..=60).contains(&set), "SO_RCVTIMEO read back as {set}");
    let start = std::time::Instant::now();
    let timed_out = lab.run_line("recv conn");
    assert_eq!(timed_out.errno(), Some("EAGAIN"));
    assert!(why(&timed_out).contains(&format!("{set} ms")), "{}", why(&timed_out));
    assert!(start.elapsed() >= std::time::Duration::from_millis(50));
    assert_eq!(ok(&mut lab, "opt conn rcvtimeo off").value.as_deref(), Some("off"));
    assert!(lab.run_line("opt conn rcvtimeo soon").usage_error.is_some());
}

#[test]
fn a_non_blocking_send_into_a_full_buffer_queues_part_then_fails_with_eagain() {
    let (mut lab, _) = lab();
    ok(&mut lab, "tcp listen as srv");
    ok(&mut lab, "opt srv rcvbuf 4096");
    ok(&mut lab, "tcp connect srv as cli");
    ok(&mut lab, "accept srv as conn");
    ok(&mut lab, "opt cli sndbuf 4096");
    ok(&mut lab, "opt cli nonblock on");
    let first = ok(&mut lab, "send cli repeat:1048576:\"x\"");
    let sent = first.bytes.map_or(0, |b| b.len());
    assert!(sent > 0 && sent < 1 << 20, "a full buffer takes part of 1 MiB, took {sent}");
    // The kernel may still find room for a little more as the loopback
    // peer's window settles; the reader never reads, so EAGAIN must come.
    let refused = (0..1000)
        .map(|_| lab.run_line("send cli repeat:65536:\"x\""))
        .find(|o| !o.is_ok())
        .expect("a peer that never reads fills every buffer");
    assert_eq!(refused.errno(), Some("EAGAIN"));
    assert!(why(&refused).contains("POLLOUT"), "{}", why(&refused));
}

#[test]
fn a_send_keeps_the_learners_own_send_timeout() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    ok(&mut lab, "opt cli sndtimeo 200");
    ok(&mut lab, "send cli \"x\" --timeout 1000");
    assert_eq!(ok(&mut lab, "opt cli sndtimeo").value.as_deref(), Some("200"));
}

#[test]
fn sysctl_reads_network_settings_and_refuses_other_names() {
    let (mut lab, rec) = lab();
    let somaxconn = ok(&mut lab, "sysctl net.core.somaxconn");
    let expected = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap_or_default();
    assert_eq!(somaxconn.value.as_deref(), Some(expected.trim()));
    let range = ok(&mut lab, "sysctl net.ipv4.ip_local_port_range").value.unwrap_or_default();
    assert_eq!(range.split(' ').count(), 2, "two numbers, tab turned to a space: {range:?}");
    assert!(rec.events().iter().any(
        |e| matches!(e, Event::Setting { name, about, .. } if name == "net.core.somaxconn" && about.contains("backlog"))
    ));
    for bad in ["sysctl kernel.hostname", "sysctl net.core.nosuchthing", "sysctl", "sysctl ../etc/passwd"] {
        let outcome = lab.run_line(bad);
        assert!(outcome.usage_error.is_some(), "{bad} should be refused: {outcome:?}");
    }
}
