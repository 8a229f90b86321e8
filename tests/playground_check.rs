//! `check` in the playground: netlab check's suite against a server the
//! playground started, its verdicts among the learner's events.

mod common;

use common::playground::{lab, run};
use netlab::event::Event;

fn test_reports(rec: &netlab::event::Recorder) -> Vec<(String, bool)> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::CheckTest { report } => Some((report.name.clone(), report.passed())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_served_server_is_checked_by_name_and_the_failed_tests_are_the_value() {
    let (mut lab, rec) = lab();
    assert!(run(&mut lab, "serve echo --model thread as good").is_ok());
    let out = run(&mut lab, "check echo good --only round-trip,coalesced");
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(out.value.as_deref(), Some(""));
    assert_eq!(test_reports(&rec), [("round-trip".to_string(), true), ("coalesced".to_string(), true)]);

    assert!(run(&mut lab, "serve echo --model iterative as iter").is_ok());
    let out = run(&mut lab, "check echo iter --only concurrent");
    assert!(!out.is_ok() && out.usage_error.is_none(), "a failed check is a result, not a usage error: {out:?}");
    assert_eq!(out.value.as_deref(), Some("concurrent"));
    // The server's own log of the suite's connections is kept, not shown.
    assert!(rec.events().iter().any(|e| matches!(e, Event::Notice { text } if text.contains("during the check"))));
}

#[test]
fn unknown_names_and_bad_options_are_usage_errors() {
    let (mut lab, _) = lab();
    let out = run(&mut lab, "check echo nosuch");
    assert!(out.usage_error.as_deref().is_some_and(|e| e.contains("no server or listener named nosuch")), "{out:?}");
    let out = run(&mut lab, "check echo 10.0.0.1:80");
    assert!(out.usage_error.as_deref().is_some_and(|e| e.contains("not on this machine")), "{out:?}");
    let out = run(&mut lab, "check echo 127.0.0.1:9 --format json");
    assert!(out.usage_error.is_some());
}
