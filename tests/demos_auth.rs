//! The auth demo, run many times against the real `netlab serve auth`:
//! the same verdicts every run, asserted on its events.

mod common;

use common::demo_runs::{calls, detail, received, run_many};
use netlab::event::{Direction, Event};

fn sent<'a>(events: &'a [Event], sock: &str) -> Vec<&'a [u8]> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Bytes { sock: s, dir: Direction::Sent, data, .. } if s == sock => Some(data.as_slice()),
            _ => None,
        })
        .collect()
}

fn server_logged(events: &[Event], text: &str) -> bool {
    events.iter().any(|e| matches!(e, Event::ServerLog { server, line, .. } if server == "srv" && line.contains(text)))
}

#[test]
fn auth_accepts_the_key_and_refuses_a_replay_and_a_wrong_key_every_run() {
    for events in run_many("auth") {
        // alice: a 32-byte challenge, then her own echo.
        let alice = received(&events, "alice");
        assert_eq!(alice.len(), 2, "{alice:?}");
        assert_eq!((alice[0].len(), alice[1]), (32, &b"hello"[..]));
        assert!(server_logged(&events, "conn#1 auth ok"));
        // eve: a different challenge, and alice's MAC sent back unchanged.
        let eve = received(&events, "eve");
        assert_eq!(eve[0].len(), 32);
        assert_ne!(eve[0], alice[0], "a new connection gets a new challenge");
        assert_eq!(sent(&events, "eve"), vec![sent(&events, "alice")[0]], "the replay is alice's MAC, byte for byte");
        assert!(server_logged(&events, "conn#2 auth failed: wrong MAC"));
        // mallory: a wrong key.
        assert!(calls(&events, "mallory", "HMAC-SHA256(key \"guess\"").len() == 1);
        assert!(server_logged(&events, "conn#3 auth failed: wrong MAC"));
        assert!(!server_logged(&events, "conn#2 auth ok") && !server_logged(&events, "conn#3 auth ok"));
        for refused in ["eve", "mallory"] {
            let recvs = calls(&events, refused, "recv(1024)");
            assert!(recvs.last().is_some_and(|r| detail(r).starts_with("0 bytes: EOF")), "{refused} sees the close");
        }
        assert!(server_logged(&events, "shut down: 3 connections accepted"));
    }
}
