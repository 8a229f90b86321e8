//! `follow SOCK`: a receive thread in the playground, the way a chat
//! client reads while its user types. Checked on the events it reports.

mod common;

use common::playground::{calls_on, lab, ok, pair, run};
use netlab::event::{CallResult, Direction, Event, Recorder};

/// Every chunk the receive thread reported for `sock`, joined.
fn followed_bytes(rec: &Recorder, sock: &str) -> Vec<u8> {
    let events = rec.events();
    let mut got = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Event::Call { sock: s, result: CallResult::Ok { detail }, .. } = e else { continue };
        if s != sock || !detail.contains("(receive thread)") {
            continue;
        }
        if let Some(Event::Bytes { dir: Direction::Received, data, .. }) = events.get(i + 1) {
            got.extend_from_slice(data);
        }
    }
    got
}

#[test]
fn a_followed_socket_shows_what_arrives_and_refuses_recv_until_unfollowed() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    ok(&mut lab, "follow cli");
    ok(&mut lab, "send conn \"one\\n\"");
    let heard = ok(&mut lab, "wait cli heard \"one\"");
    assert_eq!(heard.bytes.as_deref(), Some(&b"one"[..]));
    ok(&mut lab, "send conn \"two\\n\"");
    ok(&mut lab, "wait cli heard two");
    assert_eq!(followed_bytes(&rec, "cli"), b"one\ntwo\n", "shown as it arrived, nothing twice");

    let refused = run(&mut lab, "recv cli");
    assert!(refused.usage_error.as_deref().is_some_and(|e| e.contains("cli is being followed")), "{refused:?}");
    assert!(run(&mut lab, "recvloop cli").usage_error.is_some());
    assert!(run(&mut lab, "wait cli readable 1").usage_error.is_some());
    assert!(run(&mut lab, "follow cli").usage_error.is_some(), "one thread per socket");

    // A wait for text that never comes times out, saying what it did hear.
    let missed = run(&mut lab, "wait cli heard \"three\" --timeout 100");
    let Some(CallResult::TimedOut { why, .. }) = missed.result else { panic!("{missed:?}") };
    assert!(why.contains("heard only \"\\n\""), "{why}");

    ok(&mut lab, "unfollow cli");
    ok(&mut lab, "send conn \"four\"");
    assert_eq!(ok(&mut lab, "recv cli").bytes.as_deref(), Some(&b"four"[..]), "recv works again");
    assert!(run(&mut lab, "unfollow cli").usage_error.is_some());
}

#[test]
fn the_receive_thread_reports_eof_and_a_heard_wait_then_gives_up_at_once() {
    let (mut lab, rec) = lab();
    pair(&mut lab);
    ok(&mut lab, "follow cli");
    ok(&mut lab, "send conn \"bye\"");
    ok(&mut lab, "close conn");
    let out = run(&mut lab, "wait cli heard \"never\" --timeout 5000");
    let Some(CallResult::Failed { why }) = &out.result else { panic!("{out:?}") };
    assert!(why.contains("the connection ended first") && why.contains("\"bye\""), "{why}");
    let eof = calls_on(&rec, "cli")
        .into_iter()
        .any(|(_, r)| matches!(r, CallResult::Ok { detail } if detail.starts_with("0 bytes: EOF")));
    assert!(eof, "the thread's 0-byte recv is shown");
    // Closing a followed socket stops its thread first.
    ok(&mut lab, "close cli");
    assert!(run(&mut lab, "unfollow cli").usage_error.is_some());
}

#[test]
fn follow_wants_a_connected_stream_socket() {
    let (mut lab, _rec) = lab();
    ok(&mut lab, "tcp listen as srv");
    ok(&mut lab, "udp bind as u");
    assert!(run(&mut lab, "follow srv").usage_error.is_some());
    assert!(run(&mut lab, "follow u").usage_error.is_some());
    assert!(run(&mut lab, "follow nothing").usage_error.is_some());
    assert!(run(&mut lab, "wait srv heard x").usage_error.is_some(), "not followed");
    for bad in ["follow", "follow a b", "unfollow", "follow srv as x", "wait srv heard"] {
        assert!(run(&mut lab, bad).usage_error.is_some(), "{bad}");
    }
    ok(&mut lab, "socketpair as a b");
    ok(&mut lab, "follow a");
    ok(&mut lab, "send b \"over unix\"");
    ok(&mut lab, "wait a heard \"over unix\"");
    // Dropping the lab with a thread still running joins it.
    lab.close_all();
}

#[test]
fn two_chat_clients_with_receive_threads_hear_each_other_through_serve_chat() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "serve chat as srv");
    ok(&mut lab, "tcp connect srv as ann");
    ok(&mut lab, "tcp connect srv as bob");
    ok(&mut lab, "follow ann");
    ok(&mut lab, "follow bob");
    ok(&mut lab, "send ann \"ann\\n\"");
    ok(&mut lab, "wait ann heard \"welcome, ann\"");
    ok(&mut lab, "send bob \"bob\\n\"");
    ok(&mut lab, "wait ann heard \"* bob joined\\n\"");
    ok(&mut lab, "send bob \"hi ann\\n\"");
    ok(&mut lab, "wait ann heard \"bob: hi ann\\n\"");
    ok(&mut lab, "send bob \"quit\\n\"");
    ok(&mut lab, "wait bob heard \"* bye\\n\"");
    ok(&mut lab, "wait ann heard \"* bob left\\n\"");
    let ann = String::from_utf8(followed_bytes(&rec, "ann")).unwrap();
    assert!(ann.ends_with("* welcome, ann (nobody else here yet)\n* bob joined\nbob: hi ann\n* bob left\n"), "{ann}");
    let bob = String::from_utf8(followed_bytes(&rec, "bob")).unwrap();
    assert!(!bob.contains("bob: hi ann"), "a line never comes back to its sender: {bob}");
    ok(&mut lab, "close srv");
}
