//! `recvloop` and `poll` on real sockets: what each reports, checked on the
//! events and the outcome.

mod common;

use common::playground::{calls_on, detail, lab, pair, run};

#[test]
fn recvloop_reads_a_reply_to_eof_in_several_recvs() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "send conn repeat:40:\"x\"");
    run(&mut lab, "close conn");
    let out = run(&mut lab, "recvloop cli 16");
    assert!(out.is_ok());
    assert_eq!(out.bytes, Some(vec![b'x'; 40]));
    assert_eq!(out.value.as_deref(), Some("4"), "16 + 16 + 8, then EOF");
    let calls = calls_on(&rec, "cli");
    let last = calls.last().expect("a summary");
    assert!(last.0.contains("until EOF") && detail(&last.1).contains("then 0 = EOF"), "{last:?}");
}

#[test]
fn recvloop_ignoring_eof_spins_and_every_call_returns_zero() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "close cli");
    let out = run(&mut lab, "recvloop conn --ignore-eof --max 50");
    assert_eq!(out.value.as_deref(), Some("50"));
    assert_eq!(out.bytes.as_deref(), Some(&[][..]));
    let recvs: Vec<_> = calls_on(&rec, "conn").into_iter().filter(|(c, _)| c.starts_with("recv(")).collect();
    assert_eq!(recvs.len(), 4, "three shown one by one, then one line for the rest: {recvs:?}");
    assert_eq!(recvs[3].0, "recv(1024) ×47 more");
    assert!(recvs.iter().all(|(_, r)| detail(r).starts_with("0 bytes")));
}

#[test]
fn recvloop_on_a_non_blocking_socket_spins_on_eagain_until_its_timeout() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "opt conn nonblock on");
    let out = run(&mut lab, "recvloop conn --timeout 10 --max 1000000");
    assert!(out.is_ok());
    let calls: usize = out.value.as_deref().and_then(|v| v.parse().ok()).expect("a call count");
    assert!(calls >= 1);
    let summary = calls_on(&rec, "conn").pop().expect("a summary");
    assert!(detail(&summary.1).contains("stopped by --timeout 10 ms"), "{summary:?}");
    assert!(detail(&summary.1).contains(&format!("{calls} were EAGAIN")), "{summary:?}");
}

#[test]
fn recvloop_on_a_blocking_socket_gives_up_with_eagain() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    run(&mut lab, "send cli \"partial\"");
    let out = run(&mut lab, "recvloop conn --timeout 50");
    assert_eq!(out.errno(), Some("EAGAIN"), "no EOF came within the time");
    assert_eq!(out.bytes.as_deref(), Some(b"partial".as_slice()), "what did arrive is kept");
}

#[test]
fn recvloop_refuses_what_has_no_eof_or_no_bound() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    run(&mut lab, "udp bind as u");
    for bad in
        ["recvloop u", "recvloop srv", "recvloop conn --max 0", "recvloop conn as x", "recvloop", "recvloop conn 0"]
    {
        assert!(run(&mut lab, bad).usage_error.is_some(), "{bad}");
    }
}

#[test]
fn poll_times_out_with_none_then_reports_pollin() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    let idle = run(&mut lab, "poll conn --timeout 30");
    assert!(idle.is_ok());
    assert_eq!(idle.value.as_deref(), Some("none"));
    assert!(detail(&calls_on(&rec, "conn").pop().expect("poll").1).starts_with("0 ready after"));
    run(&mut lab, "send cli \"x\"");
    assert_eq!(run(&mut lab, "poll conn in").value.as_deref(), Some("POLLIN"));
    assert_eq!(run(&mut lab, "recv conn").bytes.as_deref(), Some(b"x".as_slice()));
}

#[test]
fn poll_watches_several_sockets_and_reports_each() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "tcp connect srv as cli2");
    let out = run(&mut lab, "poll srv conn cli out --timeout 1000");
    assert_eq!(out.value.as_deref(), Some("srv=none conn=POLLOUT cli=POLLOUT"));
    let waiting = run(&mut lab, "poll srv conn in --timeout 1000");
    assert_eq!(waiting.value.as_deref(), Some("srv=POLLIN conn=none"), "a client waits to be accepted");
    let (call, _) = calls_on(&rec, "srv,conn").pop().expect("the poll");
    assert_eq!(call, "poll(srv,conn: POLLIN, 1000 ms)");
}

#[test]
fn poll_reports_rdhup_after_the_peers_fin_and_hup_after_both() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    run(&mut lab, "shutdown cli write");
    assert_eq!(run(&mut lab, "poll conn in rdhup").value.as_deref(), Some("POLLIN|POLLRDHUP"));
    assert_eq!(run(&mut lab, "poll conn rdhup").value.as_deref(), Some("POLLRDHUP"), "rdhup alone");
    run(&mut lab, "shutdown conn write");
    let both = run(&mut lab, "poll cli in --timeout 1000");
    assert_eq!(both.value.as_deref(), Some("POLLIN|POLLHUP"), "both directions shut: hung up");
}

#[test]
fn poll_usage_errors_are_one_line() {
    let (mut lab, _) = lab();
    pair(&mut lab);
    for bad in ["poll", "poll in", "poll conn conn", "poll nosuch", "poll conn as x", "poll conn --timeout x"] {
        let out = run(&mut lab, bad);
        let e = out.usage_error.unwrap_or_else(|| panic!("{bad} should be refused"));
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn recvloop_after_our_own_shutdown_read_does_not_blame_the_peer() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    run(&mut lab, "shutdown conn read");
    assert_eq!(run(&mut lab, "recvloop conn").value.as_deref(), Some("1"));
    let said = calls_on(&rec, "conn").into_iter().find(|(c, _)| c.starts_with("recv(")).expect("a recv");
    assert!(detail(&said.1).contains("this side called shutdown(SHUT_RD)"), "{said:?}");
}
