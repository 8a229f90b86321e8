//! `sendall`: the send loop, on real sockets — each call's count, EAGAIN
//! while the peer does not read, and every byte delivered once it does.

mod common;

use common::playground::{lab, results, run};
use netlab::event::CallResult;
use netlab::lab::Lab;

/// A connection whose buffers are small: the receiver's set on the
/// listener before the handshake, the sender's on the client.
fn small_pair(lab: &mut Lab) {
    for line in [
        "tcp listen as srv",
        "opt srv rcvbuf 4096",
        "tcp connect srv as cli",
        "accept srv as conn",
        "opt cli sndbuf 4096",
    ] {
        assert!(run(lab, line).is_ok(), "{line}");
    }
}

#[test]
fn without_a_reader_the_loop_stops_at_its_timeout_and_keeps_the_rest() {
    let (mut lab, rec) = lab();
    small_pair(&mut lab);
    let out = run(&mut lab, "sendall cli count:200000 --timeout 100");
    assert!(!out.is_ok(), "the peer never reads: {out:?}");
    let sent = out.bytes.as_ref().map_or(0, Vec::len);
    assert!(sent > 0 && sent < 200_000, "queued {sent}");
    let sends = results(&rec, "cli", "send(");
    assert!(matches!(&sends[0], CallResult::Ok { detail } if detail.contains("partial")), "{sends:?}");
    assert!(sends.iter().any(|r| matches!(r, CallResult::Err { errno, .. } if errno == "EAGAIN")), "{sends:?}");
    let end = &results(&rec, "cli", "sendall(")[0];
    assert!(matches!(end, CallResult::Failed { why } if why.contains("still yours to send")), "{end:?}");
}

#[test]
fn with_a_reader_every_byte_arrives_in_order() {
    let (mut lab, rec) = lab();
    small_pair(&mut lab);
    let out = run(&mut lab, "sendall cli count:100000 --reader conn");
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(out.bytes.as_ref().map(Vec::len), Some(100_000));
    assert_eq!(out.value.as_deref(), Some("100000"), "the reader's byte count");
    let read = results(&rec, "conn", "recv(");
    assert!(matches!(&read[0], CallResult::Ok { detail } if detail.contains("nothing lost")), "{read:?}");
    assert!(run(&mut lab, "recv conn --timeout 0").errno() == Some("EAGAIN"), "the reader took it all");
}

#[test]
fn bytes_queued_before_are_read_first_and_counted_apart() {
    let (mut lab, rec) = lab();
    small_pair(&mut lab);
    run(&mut lab, "send cli \"early\"");
    run(&mut lab, "wait conn readable 5");
    let out = run(&mut lab, "sendall cli \"later\" --reader conn");
    assert_eq!(out.value.as_deref(), Some("5"));
    let read = results(&rec, "conn", "recv(");
    assert!(matches!(&read[0], CallResult::Ok { detail } if detail.contains("after 5 bytes sent earlier")));
}

#[test]
fn a_small_payload_goes_in_one_call() {
    let (mut lab, rec) = lab();
    small_pair(&mut lab);
    assert!(run(&mut lab, "sendall cli \"hello\"").is_ok());
    assert_eq!(results(&rec, "cli", "send(").len(), 1);
}

#[test]
fn a_dead_connection_ends_the_loop_with_its_errno() {
    let (mut lab, _) = lab();
    small_pair(&mut lab);
    run(&mut lab, "opt conn linger 0");
    run(&mut lab, "close conn");
    run(&mut lab, "wait cli state CLOSED");
    let out = run(&mut lab, "sendall cli count:1000");
    assert_eq!(out.errno(), Some("ECONNRESET"));
}

#[test]
fn wrong_sockets_and_arguments_are_one_line_usage_errors() {
    let (mut lab, _) = lab();
    small_pair(&mut lab);
    run(&mut lab, "udp bind as u");
    for line in [
        "sendall srv \"x\"",
        "sendall u \"x\"",
        "sendall cli \"x\" --reader cli",
        "sendall cli \"x\" --reader srv",
        "sendall cli \"x\" as other",
        "sendall cli",
        "sendall cli count:x",
    ] {
        let out = run(&mut lab, line);
        let text = out.usage_error.unwrap_or_else(|| panic!("{line} should be refused"));
        assert!(!text.contains('\n'), "{line}: {text}");
    }
}
