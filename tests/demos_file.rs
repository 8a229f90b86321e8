//! The file-transfer demo, run 20 times: the real `netlab serve file`
//! stores and returns the file whole, the classic sleep + "##" protocol
//! breaks every run, and traversal is refused.

mod common;

use common::demo_runs::*;
use netlab::event::Event;

const CONTENT: &[u8] = b"total: 3 ## of 4 tests passed\n";

fn server_log(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ServerLog { server, line, .. } if server == "srv" => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn file_round_trips_breaks_the_sentinel_and_refuses_traversal_every_run() {
    for events in run_many("file") {
        // The get's body is the file, "##" included.
        assert!(received(&events, "cli").contains(&CONTENT), "the framed get returned the content whole");
        // The classic reader's first recv held name, content and marker.
        let glued = [b"report.txt".as_slice(), CONTENT, b"##"].concat();
        assert_eq!(received(&events, "tconn"), vec![glued.as_slice()]);
        let log = server_log(&events);
        assert!(log.iter().any(|l| l.contains("put report.txt → 30 bytes, sha256 ok, stored")), "{log:?}");
        assert_eq!(log.iter().filter(|l| l.contains("refused")).count(), 3, "{log:?}");
        assert!(log.iter().any(|l| l.contains("put bad.txt") && l.contains("sha256 mismatch")), "{log:?}");
        assert!(log.iter().any(|l| l.contains("shut down")), "close srv stopped it: {log:?}");
    }
}
