//! `netlab check framed`: every test passes against `netlab serve framed`
//! in every model and in both byte orders, and each broken server in the
//! gallery fails exactly the tests its bug breaks, with the right words.

mod common;

use common::check::{against_reference, fixture_run, have_python, in_every_model};

#[test]
fn framed_passes_against_the_reference_server_in_every_model() {
    in_every_model("framed", |model| against_reference("framed", &[&["framed"], model].concat(), &[]));
}

#[test]
fn native_endian_is_honoured_both_ways() {
    against_reference("framed", &["framed", "--native-endian"], &["--native-endian"])
        .assert_all_passed("framed --native-endian");
    // A big-endian server checked as little-endian is told so, once per
    // test, with the way out.
    let run = against_reference("framed", &["framed"], &["--native-endian", "--only", "round-trip,byte-order"]);
    assert_eq!(run.failed(), ["round-trip", "byte-order"], "{}", run.stdout);
    let why = run.assumption("byte-order");
    assert!(why.starts_with("your server wrote the length in big-endian"), "{why}");
    assert!(why.contains("without --native-endian"), "{why}");
}

#[test]
fn a_correct_python_server_passes_everything() {
    if !have_python() {
        return;
    }
    fixture_run("framed", "framed_good.py", &[]).assert_all_passed("framed_good.py");
}

#[test]
fn the_one_recv_server_fails_the_split_and_large_messages() {
    if !have_python() {
        return;
    }
    let run = fixture_run("framed", "framed_one_recv.py", &[]);
    // Coalesced messages pass: recv(n) returns n bytes when n are queued.
    assert_eq!(run.failed(), ["one-byte-writes", "large"], "{}", run.stdout);
    for test in ["one-byte-writes", "large"] {
        let why = run.assumption(test);
        assert!(why.contains("assumed one recv() returns"), "{test}: {why}");
    }
    assert!(run.explanation("large").contains("echoed as 32768 bytes"), "{}", run.explanation("large"));
}

#[test]
fn the_native_endian_server_is_diagnosed_in_every_test_and_passes_with_the_flag() {
    if !have_python() {
        return;
    }
    // Every test exchanges frames, so every test fails (the one
    // unavoidable collateral): each says why in the same sentence.
    let run = fixture_run("framed", "framed_native_endian.py", &[]);
    assert_eq!(run.code, 1);
    assert!(run.tests.len() >= 14 && run.failed().len() == run.tests.len(), "{}", run.stdout);
    for t in run.failed() {
        let why = run.assumption(&t);
        assert!(why.starts_with("your server wrote the length in little-endian"), "{t}: {why}");
        assert!(why.contains("--native-endian"), "{t}: {why}");
    }
    fixture_run("framed", "framed_native_endian.py", &["--native-endian"])
        .assert_all_passed("framed_native_endian.py --native-endian");
}

#[test]
fn the_server_that_believes_any_length_fails_bad_length() {
    if !have_python() {
        return;
    }
    let run = fixture_run("framed", "framed_no_limit.py", &[]);
    assert_eq!(run.failed(), ["bad-length"], "{}", run.stdout);
    let why = run.explanation("bad-length");
    assert!(why.contains("believed a header length of ff ff ff ff") && why.contains("limit"), "{why}");
    assert!(why.contains("kept asking for more"), "the kernel shows it read everything: {why}");
}
