//! `netlab check file`: every test passes against `netlab serve file` in
//! every model and with --native-endian, and each broken server in the
//! gallery fails exactly the test aimed at its bug, with the right words.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::TempDir;
use common::check::{fixture_run, have_python, in_every_model};

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

#[test]
fn file_passes_against_the_reference_server_in_every_model() {
    in_every_model("file", |model| against_reference(&[&["file"], model].concat(), &[]));
}

#[test]
fn native_endian_is_honoured_and_a_mismatch_is_named() {
    against_reference(&["file", "--native-endian"], &["--native-endian"]).assert_all_passed("file --native-endian");
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
