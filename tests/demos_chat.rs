//! The chat demo, run many times against the real `netlab serve chat`:
//! the same lines reach the same members in the same order every run.

mod common;

use common::demo_runs::{received, run_many};
use netlab::event::{CallResult, Event};

fn text(events: &[Event], sock: &str) -> String {
    received(events, sock).iter().map(|b| String::from_utf8_lossy(b)).collect()
}

#[test]
fn chat_broadcasts_to_the_others_and_drops_unfinished_lines_every_run() {
    for events in run_many("chat") {
        let ann = text(&events, "ann");
        let want = "* welcome, ann (nobody else here yet)\n* bob joined\n* cy joined\ncy: hello ann\n\
                    * dan joined\n* dan left\n* eve joined\n* eve left\nbob: still here\n* cy left\n* bob left\n* bye\n";
        assert!(ann.ends_with(want), "what ann's receive thread read: {ann:?}");
        assert!(!ann.contains("ann: hi all"), "a line never goes back to its sender");
        for sock in ["ann", "bob", "cy"] {
            let got = text(&events, sock);
            assert!(!got.contains("half a li") && !got.contains("typing"), "{sock} got a partial line: {got:?}");
        }
        assert!(text(&events, "cy").ends_with("bob: still here\n* bye\n"));
        // Shown as a log line, or as what `wait srv log` found (whichever saw it first).
        let said = "unfinished line: dropped";
        let dropped = events.iter().any(|e| match e {
            Event::ServerLog { server, line, .. } => server == "srv" && line.contains(said),
            Event::Call { sock, result: CallResult::Ok { detail }, .. } => sock == "srv" && detail.contains(said),
            _ => false,
        });
        assert!(dropped, "the server says it dropped the unfinished line");
    }
}
