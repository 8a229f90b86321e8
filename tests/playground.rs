//! Playground commands on real sockets: what each reports, checked on the
//! events (the same commands a learner types).

mod common;

use common::playground::{detail, lab, last_call, pair, run};
use netlab::event::{CallResult, Event};

#[test]
fn binding_a_non_loopback_address_is_refused_but_loopback_and_wildcard_work() {
    let (mut lab, rec) = lab();
    assert!(!run(&mut lab, "tcp listen 192.0.2.7:0 as far").is_ok());
    assert!(detail(&last_call(&rec, "far", "bind(")).contains("never talks to other machines"));
    assert!(run(&mut lab, "tcp listen 127.0.0.2:0 as lo2").is_ok());
    assert!(run(&mut lab, "udp bind 0.0.0.0 as any").is_ok());
    assert!(run(&mut lab, "tcp connect 192.0.2.7:80").usage_error.is_some(), "connect is loopback only");
    assert!(run(&mut lab, "sendto any 192.0.2.7:53 \"x\"").usage_error.is_some(), "sendto is loopback only");
}

#[test]
fn recv_after_our_own_shutdown_read_does_not_blame_the_peer() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "shutdown conn read");
    let out = run(&mut lab, "recv conn");
    assert_eq!(out.bytes.as_deref(), Some(&[][..]));
    let said = detail(&last_call(&rec, "conn", "recv("));
    assert!(said.contains("this side called shutdown(SHUT_RD)") && !said.contains("peer closed"), "{said}");
}

#[test]
fn linger_zero_close_resets_the_connection() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    let set = run(&mut lab, "opt cli linger 0");
    assert_eq!(set.value.as_deref(), Some("0"));
    run(&mut lab, "close cli");
    assert!(detail(&last_call(&rec, "cli", "close(")).contains("RST sent"));
    assert_eq!(run(&mut lab, "recv conn").errno(), Some("ECONNRESET"));
    assert!(run(&mut lab, "opt conn linger 61").usage_error.is_some(), "linger is bounded");
}

#[test]
fn wait_readable_leaves_the_receive_buffer_alone_and_sees_an_early_end() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    let before = run(&mut lab, "opt conn rcvbuf").value;
    run(&mut lab, "send cli \"12345\"");
    let short = run(&mut lab, "wait conn readable 100000 --timeout 50");
    assert!(matches!(short.result, Some(CallResult::TimedOut { .. })), "{short:?}");
    assert_eq!(run(&mut lab, "opt conn rcvbuf").value, before, "waiting must not grow SO_RCVBUF");
    run(&mut lab, "close cli");
    let ended = run(&mut lab, "wait conn readable 10");
    assert!(matches!(ended.result, Some(CallResult::Failed { .. })), "{ended:?}");
    assert!(detail(&last_call(&rec, "conn", "ioctl(FIONREAD)")).contains("only 5 bytes will ever arrive"));
}

#[test]
fn a_connect_to_a_full_accept_queue_times_out_and_stays_in_syn_sent() {
    let (mut lab, rec) = lab();
    run(&mut lab, "tcp listen as full --backlog 0");
    run(&mut lab, "tcp connect full as a1 --timeout 1000");
    run(&mut lab, "tcp connect full as a2 --timeout 100");
    let stalled = run(&mut lab, "tcp connect full as a3 --timeout 100");
    let stalled = if stalled.is_ok() { run(&mut lab, "tcp connect full as a4 --timeout 100") } else { stalled };
    assert!(
        matches!(stalled.result, Some(CallResult::TimedOut { .. })),
        "Linux stalls, it does not refuse: {stalled:?}"
    );
    assert_eq!(stalled.errno(), None, "a timeout is not an errno");
    run(&mut lab, "sockets");
    let table = rec.events().into_iter().rev().find_map(|e| match e {
        Event::Table { rows } => Some(rows),
        _ => None,
    });
    let stalled_name = stalled.sock.expect("named");
    let row =
        table.expect("a table").into_iter().find(|r| r.name == stalled_name).expect("the stalled socket is listed");
    assert_eq!(row.state, "SYN_SENT");
}

#[test]
fn sendto_our_own_socket_reports_the_datagram_queued_there() {
    let (mut lab, rec) = lab();
    run(&mut lab, "udp bind as a");
    run(&mut lab, "udp bind as b");
    run(&mut lab, "sendto a b \"one\"");
    assert!(detail(&last_call(&rec, "a", "sendto(")).ends_with("now queued at b"));
}

#[test]
fn a_send_the_peer_never_reads_stops_at_its_timeout_and_says_why() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "opt cli sndbuf 4096");
    run(&mut lab, "opt conn rcvbuf 4096");
    let out = run(&mut lab, "send cli repeat:4000000:\"z\" --timeout 100");
    let said = detail(&last_call(&rec, "cli", "send(4000000)"));
    match out.errno() {
        Some("EAGAIN") => assert!(said.contains("stayed full for 100 ms"), "{said}"),
        _ => assert!(said.contains("of 4000000 bytes queued") && said.contains("100 ms"), "{said}"),
    }
}

#[test]
fn recv_as_says_when_it_decodes_only_the_first_bytes() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "send cli u32be:7 \"tail\"");
    run(&mut lab, "wait conn readable 8");
    let out = run(&mut lab, "recv conn 8 --as u32be");
    assert_eq!(out.value.as_deref(), Some("7"));
    assert!(detail(&last_call(&rec, "conn", "recv(")).contains("first 4 of 8 bytes read as u32be: 7"));
}

#[test]
fn recv_frame_reads_exactly_one_message_and_leaves_the_rest_queued() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    assert!(run(&mut lab, r#"send cli "hello\r\nworld\n" u32be:2 "hi" u32be:15 '{"data_size":3}' "bye""#).is_ok());
    assert!(run(&mut lab, "wait conn readable 41").is_ok());
    let first = run(&mut lab, "recv conn --frame line");
    assert_eq!(first.bytes.as_deref(), Some(&b"hello"[..]));
    assert!(detail(&last_call(&rec, "conn", "recv(--frame line)")).ends_with("; 34 bytes stay queued"));
    assert_eq!(run(&mut lab, "recv conn --frame line").bytes.as_deref(), Some(&b"world"[..]));
    assert_eq!(run(&mut lab, "recv conn --frame u32").bytes.as_deref(), Some(&b"hi"[..]));
    let json = run(&mut lab, "recv conn --frame json");
    assert_eq!(json.bytes.as_deref(), Some(&b"bye"[..]));
    assert_eq!(json.value.as_deref(), Some(r#"{"data_size":3}"#));
    // Fixed-size records: padding is stripped.
    assert!(run(&mut lab, r#"send cli "ab" repeat:6:"\0" "cd""#).is_ok());
    assert_eq!(run(&mut lab, "recv conn --frame fixed:8").bytes.as_deref(), Some(&b"ab"[..]));
}

#[test]
fn recv_frame_waits_for_the_rest_reports_invalid_frames_and_tells_clean_eof_from_mid_frame() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    assert!(run(&mut lab, "send cli u32be:5 \"hel\"").is_ok());
    let early = run(&mut lab, "recv conn --frame u32 --timeout 50");
    assert_eq!(early.errno(), Some("EAGAIN"), "an incomplete frame is waited for, not returned");
    assert!(run(&mut lab, "send cli \"lo\"").is_ok());
    assert_eq!(run(&mut lab, "recv conn --frame u32").bytes.as_deref(), Some(&b"hello"[..]));
    // A header that is not JSON: reported, nothing consumed.
    assert!(run(&mut lab, "send cli u32be:3 \"abc\"").is_ok());
    assert!(!run(&mut lab, "recv conn --frame json").is_ok());
    assert!(detail(&last_call(&rec, "conn", "recv(--frame json)")).contains("not JSON"));
    assert_eq!(run(&mut lab, "recv conn 7").bytes.as_deref(), Some(&b"\0\0\0\x03abc"[..]));
    // The peer dies mid-line, then the stream ends.
    assert!(run(&mut lab, "send cli \"unfinished\"").is_ok());
    assert!(run(&mut lab, "close cli").is_ok());
    assert!(!run(&mut lab, "recv conn --frame line").is_ok());
    assert!(detail(&last_call(&rec, "conn", "recv(--frame line)")).contains("closed mid-frame: 10 bytes"));
    assert_eq!(run(&mut lab, "recv conn 100").bytes.as_deref(), Some(&b"unfinished"[..]));
    let end = run(&mut lab, "recv conn --frame line");
    assert!(end.is_ok() && end.bytes.as_deref() == Some(&b""[..]), "a clean EOF between frames");
}

#[test]
fn recv_frame_usage_errors_are_one_line() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    for bad in [
        "recv conn 10 --frame line",
        "recv conn --frame lines",
        "recv conn --frame fixed:0",
        "recv conn --frame line --peek",
        "recvfrom conn --frame line",
    ] {
        let err = run(&mut lab, bad).usage_error.unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn recv_frame_on_a_non_blocking_socket_says_eagain_for_an_incomplete_frame() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    assert!(run(&mut lab, "opt conn nonblock on").is_ok());
    assert!(run(&mut lab, "send cli \"no newline yet\"").is_ok());
    assert!(run(&mut lab, "wait conn readable 13").is_ok());
    assert_eq!(run(&mut lab, "recv conn --frame line").errno(), Some("EAGAIN"));
    assert!(run(&mut lab, "send cli \"\\n\"").is_ok());
    assert!(run(&mut lab, "wait conn readable 14").is_ok());
    assert_eq!(run(&mut lab, "recv conn --frame line").bytes.as_deref(), Some(&b"no newline yet"[..]));
}
