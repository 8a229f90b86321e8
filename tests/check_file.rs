//! `netlab check file`: every test passes against `netlab serve file` in
//! every model and with --native-endian, and each broken server in the
//! gallery fails exactly the test aimed at its bug, with the right words.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::TempDir;
use common::check::{fixture_run, have_python};

/// `netlab check file` against `netlab serve SERVE… --root DIR`, DIR this
/// test's own: a killed server cannot remove the directory it made (9 MiB
/// of check files each time), so the test removes its own.
fn against_reference(serve: &[&str], check: &[&str]) -> common::check::CheckRun {
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = TempDir::new(&format!("check-file-{}", N.fetch_add(1, Ordering::SeqCst)));
    let dir = root.path().to_str().expect("a UTF-8 temp dir").to_string();
    let serve = [serve, &["--root", &dir]].concat();
    common::check::against_reference("file", &serve, check)
}

const MODELS: [&str; 7] = ["iterative", "thread", "fork", "pool", "select", "poll", "epoll"];

/// What each model fails by design: iterative serves one client at a
/// time; a pool of 4 workers serves 4 (the fifth of 50 waits).
fn expected_failures(model: &str) -> Vec<&'static str> {
    match model {
        "iterative" => vec!["concurrent", "slow-reader"],
        "pool" => vec!["concurrent"],
        _ => vec![],
    }
}

/// The event-loop models' known reference-server bug: a `get` of more
/// than one 256 KiB chunk stalls and the loop spins, serving no one after
/// it. `large` shows it; the other tests run on a server it has not hit.
fn event_loop(model: &str) -> bool {
    matches!(model, "select" | "poll" | "epoll")
}

/// Every test of the file suite but `large`, for --only.
fn all_but_large() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["check", "--list", "file", "--format", "json"])
        .output()
        .expect("run netlab check --list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON event");
    let names: Vec<&str> = list["rows"][0]["tests"]
        .as_array()
        .expect("the file suite's tests")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|&n| n != "large")
        .collect();
    assert!(names.len() >= 14, "{names:?}");
    names.join(",")
}

/// Checks `netlab serve SERVE…` with every test, working round the known
/// event-loop bug (which a correct run of `large` would stop hitting).
fn check_model(model: &str, serve: &[&str], check: &[&str]) {
    if !event_loop(model) {
        let run = against_reference(serve, check);
        assert_eq!(run.failed(), expected_failures(model), "file {serve:?}:\n{}", run.stdout);
        assert_eq!(run.code, if expected_failures(model).is_empty() { 0 } else { 1 });
        return;
    }
    let rest = all_but_large();
    let run = against_reference(serve, &[check, &["--only", &rest]].concat());
    run.assert_all_passed(&format!("file {serve:?} (all but large)"));
    // KNOWN BUG (reference server, event loops): get over 256 KiB stalls.
    // When it is fixed this fails: expect large to pass here too.
    let run = against_reference(serve, &[check, &["--only", "large"]].concat());
    assert_eq!(run.failed(), ["large"], "file {serve:?} large: the known get-stall bug fixed?\n{}", run.stdout);
    assert!(run.assumption("large").contains("download stopped short"), "{}", run.assumption("large"));
}

#[test]
fn file_passes_against_the_reference_server_in_every_model() {
    for model in MODELS {
        check_model(model, &["file", "--model", model], &[]);
    }
}

#[test]
fn epoll_edge_triggered_passes_too() {
    check_model("epoll", &["file", "--model", "epoll", "--edge"], &[]);
}

#[test]
fn native_endian_is_honoured_and_a_mismatch_is_named() {
    check_model("thread", &["file", "--native-endian"], &["--native-endian"]);
    let run = against_reference(&["file"], &["--native-endian", "--only", "round-trip,list"]);
    assert_eq!(run.failed(), ["round-trip", "list"], "{}", run.stdout);
    for test in run.failed() {
        let why = run.assumption(&test);
        assert!(why.starts_with("your server wrote the length in big-endian"), "{test}: {why}");
    }
}

#[test]
fn a_correct_python_server_passes_everything() {
    if !have_python() {
        return;
    }
    fixture_run("file", "file_good.py", &[]).assert_all_passed("file_good.py");
}

#[test]
fn the_traversal_server_reads_and_writes_outside_and_leaves_nothing_behind() {
    if !have_python() {
        return;
    }
    let run = fixture_run("file", "file_traversal.py", &[]);
    assert_eq!(run.failed(), ["traversal"], "{}", run.stdout);
    let why = run.explanation("traversal");
    assert!(why.starts_with("your server wrote a file outside its directory"), "{why}");
    assert!(why.contains("served a file outside its directory") && why.contains("/etc/passwd"), "{why}");
    // Each canary the server made was removed by the checker.
    for word in why.split_whitespace().filter(|w| w.starts_with("/tmp/netlab-check-")) {
        assert!(!std::path::Path::new(word).exists(), "{word} was left behind");
    }
}

#[test]
fn the_server_that_ignores_the_sha256_fails_bad_sha256() {
    if !have_python() {
        return;
    }
    let run = fixture_run("file", "file_no_sha.py", &[]);
    assert_eq!(run.failed(), ["bad-sha256"], "{}", run.stdout);
    let why = run.assumption("bad-sha256");
    assert!(why.contains("accepted an upload whose sha256 does not match"), "{why}");
}
