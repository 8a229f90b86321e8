//! `netlab check echo|upper`: every test passes against netlab's own
//! servers in every model, and each broken server in the gallery fails
//! exactly the test aimed at its bug, with the right explanation.

mod common;

use common::check::{against_reference, fixture_run, have_python, in_every_model};

#[test]
fn echo_passes_against_the_reference_server_in_every_model() {
    in_every_model("echo", |model| against_reference("echo", &[&["echo"], model].concat(), &[]));
}

#[test]
fn upper_passes_against_the_reference_server_in_every_model() {
    in_every_model("upper", |model| against_reference("upper", &[&["upper"], model].concat(), &[]));
}

#[test]
fn a_correct_python_server_passes_everything() {
    if !have_python() {
        return;
    }
    fixture_run("echo", "echo_good.py", &[]).assert_all_passed("echo_good.py");
}

#[test]
fn the_iterative_server_fails_the_concurrency_tests_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("echo", "echo_iterative.py", &[]);
    assert_eq!(run.failed(), ["concurrent", "slow-reader"], "{}", run.stdout);
    assert!(run.assumption("concurrent").contains("one client at a time"), "{}", run.assumption("concurrent"));
    assert!(run.assumption("slow-reader").contains("stops serving others while one client is slow"));
    assert_eq!(run.code, 1);
}

#[test]
fn the_server_that_ignores_eof_fails_half_close_and_is_seen_spinning() {
    if !have_python() {
        return;
    }
    let run = fixture_run("echo", "echo_no_eof.py", &[]);
    assert_eq!(run.failed(), ["half-close"], "{}", run.stdout);
    let why = run.explanation("half-close");
    assert!(why.contains("never closed the connection after recv() returned 0"), "{why}");
    assert!(why.contains("spinning"), "a launched program's CPU time is measured: {why}");
}

#[test]
fn the_server_that_ignores_send_s_count_fails_large_with_the_missing_bytes() {
    if !have_python() {
        return;
    }
    let run = fixture_run("echo", "echo_send_unchecked.py", &[]);
    assert_eq!(run.failed(), ["large"], "{}", run.stdout);
    let why = run.assumption("large");
    assert!(why.contains("send()"), "{why}");
    let failure = &run.report("large")["failure"];
    assert!(failure["mismatch"]["first_diff"].as_u64().is_some(), "the first differing byte is marked: {failure}");
}

#[test]
fn the_server_that_reads_once_fails_the_tests_that_split_a_message() {
    if !have_python() {
        return;
    }
    let run = fixture_run("echo", "echo_one_recv.py", &[]);
    // Coalesced requests fit in its one recv(); a request in pieces, and
    // one larger than its buffer, do not.
    assert_eq!(run.failed(), ["one-byte-writes", "large"], "{}", run.stdout);
    assert!(run.assumption("one-byte-writes").contains("answered the first byte and hung up"));
    assert!(run.assumption("large").contains("one recv() holds the whole request"));
    let mismatch = &run.report("one-byte-writes")["failure"]["mismatch"];
    assert_eq!(mismatch["first_diff"], 1, "the byte after the one it answered: {mismatch}");
}
