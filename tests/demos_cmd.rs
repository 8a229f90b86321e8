//! The cmd demo, run 20 times against a real `netlab serve cmd` child:
//! every run shows the allowlist, the would-be shell command, a big reply
//! across many recv()s, and two bare commands glued by the idle rule.

mod common;

use common::demo_runs::*;
use netlab::event::Event;

fn server_log(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ServerLog { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn cmd_refuses_the_shell_frames_big_output_and_glues_bare_commands_every_run() {
    for events in run_many("cmd") {
        let log = server_log(&events);
        let has = |needle: &str| log.iter().any(|l| l.contains(needle));
        assert!(has("would have run via /bin/sh: \"ls; rm -rf /\""), "{log:?}");
        assert!(has("\"cat /etc/passwd\" (ended by newline) → error reply: unknown command 'cat'"), "{log:?}");
        assert!(has("\"big 1000000\" (ended by newline) → ok, 1000000 bytes of output"), "{log:?}");
        assert!(has("\"datels\" (ended by 100 ms idle, no newline) → error reply"), "{log:?}");
        assert!(has("exited") || has("shut down"), "the server stopped: {log:?}");
        let late = received(&events, "late");
        assert!(late.iter().any(|b| b.starts_with(b"unknown command 'datels'")), "the glued request's reply");
        assert!(late.contains(&b"hello.txt\nnotes.md\nreport.csv\n".as_slice()), "ls after the newline fix");
        let recvs = number_after(&events, "took ");
        assert!(recvs >= 16, "1,000,039 bytes through recv(65536): {recvs} calls");
    }
}
