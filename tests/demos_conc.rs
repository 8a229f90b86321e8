//! The concurrency and multiplexing demos show their effect on every run:
//! the iterative server's second client waits and the others' do not,
//! zombies appear without reaping and vanish with it, one thread serves a
//! crowd until select's FD_SETSIZE wall, and epoll's two trigger modes
//! differ.

mod common;

use common::demo_runs::*;
use netlab::event::{CallResult, Event};

/// The first position of a line `server` logged containing `text`.
fn logged(events: &[Event], server: &str, text: &str) -> Option<usize> {
    events
        .iter()
        .position(|e| matches!(e, Event::ServerLog { server: s, line, .. } if s == server && line.contains(text)))
}

/// Whether any event, shown in full, mentions `text`.
fn mentions(events: &[Event], text: &str) -> bool {
    events.iter().any(|e| format!("{e:?}").contains(text))
}

/// The details of every call `call` on `sock`.
fn details<'a>(events: &'a [Event], sock: &str, call: &str) -> Vec<&'a str> {
    calls(events, sock, call).into_iter().map(detail).collect()
}

#[test]
fn concurrency_makes_the_second_client_wait_only_when_iterative_and_shows_zombies_every_run() {
    for events in run_many("concurrency") {
        // b: three timed recvs fail on the iterative server, then the echo
        // comes; on the thread server its first recv is answered.
        let b = calls(&events, "b", "recv(");
        assert!(b.len() >= 5, "{b:?}");
        assert!(b[..3].iter().all(|r| is_eagain(r)), "b waited: {b:?}");
        assert_eq!(detail(b[3]), "6 bytes");
        assert_eq!(detail(b[4]), "6 bytes", "the thread server answers b at once");
        let closed = logged(&events, "srv", "conn#1 close").expect("a's connection closed");
        let accepted = logged(&events, "srv", "conn#2 accept").expect("b accepted");
        assert!(closed < accepted, "the iterative server took b only after a left");
        // Zombies: state Z without reaping, no child left with it.
        assert!(mentions(&events, "state Z"), "a zombie is listed");
        let lazy = details(&events, "lazy", "read /proc");
        assert_eq!(lazy.len(), 1);
        assert!(lazy[0].ends_with("1 zombie(s)"), "{lazy:?}");
        let reaped = details(&events, "srv", "read /proc");
        assert!(reaped.iter().any(|d| d.ends_with("0 child process(es), 0 zombie(s)")), "{reaped:?}");
        assert!(logged(&events, "srv", "reaped").is_some());
        // The pool's third client waits for a worker.
        let c = calls(&events, "c", "recv(");
        assert_eq!(c.len(), 4, "{c:?}");
        assert!(c[..3].iter().all(|r| is_eagain(r)), "c waited: {c:?}");
        assert_eq!(received(&events, "c").last(), Some(&b"c".as_slice()));
    }
}

#[test]
fn select_serves_a_crowd_from_one_thread_and_refuses_fd_1024_every_run() {
    for events in run_many("select") {
        for i in 1..=5 {
            let got = received(&events, &format!("c{i}"));
            assert_eq!(got, [format!("client {i}").as_bytes()], "c{i}");
        }
        let procs = details(&events, "srv", "read /proc");
        assert!(procs[0].starts_with("1 server process (1 thread(s))"), "{procs:?}");
        assert!(mentions(&events, "≥ FD_SETSIZE (1024): select() cannot watch it"));
        let eof = events.iter().any(|e| {
            matches!(e, Event::Call { call, result: CallResult::Ok { detail }, .. }
                if call.starts_with("recv(") && detail.starts_with("0 bytes"))
        });
        assert!(eof, "the refused client reads EOF");
    }
}

#[test]
fn epoll_reports_level_every_wait_and_edge_once_every_run() {
    for events in run_many("epoll") {
        let waits = details(&events, "conn", "epoll_wait #");
        assert_eq!(waits.len(), 6, "{waits:?}");
        assert!(waits[..4].iter().all(|d| d.starts_with("conn EPOLLIN")), "{waits:?}");
        assert!(waits[4..].iter().all(|d| d.starts_with("0 events")), "{waits:?}");
        let echoed = calls(&events, "cli", "ioctl(FIONREAD) until ≥ 60000");
        assert!(matches!(echoed[..], [CallResult::Ok { .. }]), "{echoed:?}");
    }
}
