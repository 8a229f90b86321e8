//! What `sockets` and `wait … state` report over a connection's life:
//! a listener's accept queue and backlog, and a socket the program still
//! holds whose connection the kernel has moved to TIME_WAIT.

use netlab::event::{Event, Recorder, SocketRow};
use netlab::lab::Lab;

fn lab() -> (Lab, Recorder) {
    let rec = Recorder::new();
    (Lab::new(Box::new(rec.clone())), rec)
}

fn must(lab: &mut Lab, line: &str) {
    let out = lab.run_line(line);
    assert!(out.is_ok(), "{line}: {out:?}");
}

/// The row for `sock` in the last `sockets` table.
fn row(rec: &Recorder, sock: &str) -> SocketRow {
    let table = rec.events().into_iter().rev().find_map(|e| match e {
        Event::Table { rows } => Some(rows),
        _ => None,
    });
    table.expect("a table").into_iter().find(|r| r.name == sock).expect("the socket is listed")
}

#[test]
fn a_listener_shows_its_accept_queue_and_its_backlog() {
    let (mut lab, rec) = lab();
    must(&mut lab, "tcp listen --backlog 3 as srv");
    must(&mut lab, "tcp connect srv as a");
    must(&mut lab, "tcp connect srv as b");
    must(&mut lab, "sockets");
    let srv = row(&rec, "srv");
    assert_eq!((srv.state.as_str(), srv.recv_q, srv.send_q), ("LISTEN", Some(2), Some(3)));
    must(&mut lab, "accept srv as conn");
    must(&mut lab, "sockets");
    assert_eq!(row(&rec, "srv").recv_q, Some(1), "accept() took one off the queue");
    let said = rec.events().into_iter().any(|e| matches!(e, Event::Notice { text } if text.contains("accept queue")));
    assert!(said, "the table says what a listener's queues mean");
}

#[test]
fn a_backlog_above_somaxconn_is_cut_down_to_it() {
    let (mut lab, rec) = lab();
    let max = lab.run_line("sysctl net.core.somaxconn").value.expect("somaxconn");
    let max: u64 = max.parse().expect("a number");
    must(&mut lab, "tcp listen --backlog 65535 as big");
    must(&mut lab, "sockets");
    assert_eq!(row(&rec, "big").send_q, Some(max.min(65535)));
}

#[test]
fn a_socket_still_open_after_shutdown_and_the_peers_fin_shows_time_wait() {
    let (mut lab, rec) = lab();
    for line in ["tcp listen as srv", "tcp connect srv as cli", "accept srv as conn"] {
        must(&mut lab, line);
    }
    must(&mut lab, "shutdown conn write");
    must(&mut lab, "wait cli state CLOSE_WAIT");
    must(&mut lab, "close cli");
    // conn's fd is still open, but the kernel moved its connection to an
    // ownerless TIME_WAIT row.
    must(&mut lab, "wait conn state TIME_WAIT");
    must(&mut lab, "sockets");
    assert_eq!(row(&rec, "conn").state, "TIME_WAIT");
}
