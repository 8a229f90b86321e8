//! What `sockets` and `wait … state` report over a connection's life:
//! a listener's accept queue and backlog, and a socket the program still
//! holds whose connection the kernel has moved to TIME_WAIT; and
//! `wait … queued`, which waits for the server's side of a handshake.

mod common;

use common::playground::{lab, last_table, ok, pair, run};
use netlab::event::{CallResult, Event, Recorder, SocketRow};

/// The row for `sock` in the last `sockets` table.
fn row(rec: &Recorder, sock: &str) -> SocketRow {
    last_table(rec).into_iter().find(|r| r.name == sock).expect("the socket is listed")
}

#[test]
fn a_listener_shows_its_accept_queue_and_its_backlog() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "tcp listen --backlog 3 as srv");
    ok(&mut lab, "tcp connect srv as a");
    ok(&mut lab, "tcp connect srv as b");
    ok(&mut lab, "sockets");
    let srv = row(&rec, "srv");
    assert_eq!((srv.state.as_str(), srv.recv_q, srv.send_q), ("LISTEN", Some(2), Some(3)));
    ok(&mut lab, "accept srv as conn");
    ok(&mut lab, "sockets");
    assert_eq!(row(&rec, "srv").recv_q, Some(1), "accept() took one off the queue");
    let said = rec.events().into_iter().any(|e| matches!(e, Event::Notice { text } if text.contains("accept queue")));
    assert!(said, "the table says what a listener's queues mean");
}

#[test]
fn a_backlog_above_somaxconn_is_cut_down_to_it() {
    let (mut lab, rec) = lab();
    let max = lab.run_line("sysctl net.core.somaxconn").value.expect("somaxconn");
    let max: u64 = max.parse().expect("a number");
    ok(&mut lab, "tcp listen --backlog 65535 as big");
    ok(&mut lab, "sockets");
    assert_eq!(row(&rec, "big").send_q, Some(max.min(65535)));
}

#[test]
fn a_socket_still_open_after_shutdown_and_the_peers_fin_shows_time_wait() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    ok(&mut lab, "shutdown conn write");
    ok(&mut lab, "wait cli state CLOSE_WAIT");
    ok(&mut lab, "close cli");
    // conn's fd is still open, but the kernel moved its connection to an
    // ownerless TIME_WAIT row.
    ok(&mut lab, "wait conn state TIME_WAIT");
    ok(&mut lab, "sockets");
    assert_eq!(row(&rec, "conn").state, "TIME_WAIT");
}

#[test]
fn wait_queued_returns_once_the_listener_has_queued_that_many_connections() {
    let (mut lab, _rec) = lab();
    ok(&mut lab, "tcp listen --backlog 1 as srv");
    ok(&mut lab, "tcp connect srv as a");
    assert_eq!(ok(&mut lab, "wait srv queued 1").value.as_deref(), Some("1"));
    ok(&mut lab, "tcp connect srv as b");
    assert_eq!(ok(&mut lab, "wait srv queued 2").value.as_deref(), Some("2"));
    // backlog 1 holds two: a third can never be queued, so the wait gives up.
    let more = run(&mut lab, "wait srv queued 3 --timeout 50");
    let Some(CallResult::TimedOut { why, .. }) = &more.result else { panic!("not a timeout: {more:?}") };
    assert!(why.contains("at most 2"), "{why}");
    ok(&mut lab, "accept srv as conn");
    assert_eq!(ok(&mut lab, "wait srv queued 1").value.as_deref(), Some("1"), "accept() took one");
}

#[test]
fn wait_queued_wants_a_tcp_listener_and_a_count() {
    let (mut lab, _rec) = lab();
    pair(&mut lab);
    let not_listener = run(&mut lab, "wait cli queued 1");
    assert!(not_listener.usage_error.as_deref().is_some_and(|e| e.contains("not a TCP listener")), "{not_listener:?}");
    let not_count = run(&mut lab, "wait srv queued many");
    assert!(not_count.usage_error.as_deref().is_some_and(|e| e.contains("connection count")), "{not_count:?}");
}
