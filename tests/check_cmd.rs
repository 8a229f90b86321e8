//! `netlab check cmd`: every test passes against `netlab serve cmd` in
//! every model and with --native-endian, and each broken server in the
//! gallery fails exactly the test aimed at its bug, with the right words.

mod common;

use common::check::{against_reference, fixture_run, have_python, in_every_model};

#[test]
fn cmd_passes_against_the_reference_server_in_every_model() {
    in_every_model("cmd", |model| against_reference("cmd", &[&["cmd"], model].concat(), &[]));
}

#[test]
fn native_endian_is_honoured_and_a_mismatch_is_named() {
    against_reference("cmd", &["cmd", "--native-endian"], &["--native-endian"])
        .assert_all_passed("cmd --native-endian");
    let run = against_reference("cmd", &["cmd", "--native-endian"], &["--only", "round-trip,unknown-command"]);
    assert_eq!(run.failed(), ["round-trip", "unknown-command"], "{}", run.stdout);
    for test in run.failed() {
        let why = run.assumption(&test);
        assert!(why.starts_with("your server wrote the length in little-endian"), "{test}: {why}");
    }
}

#[test]
fn a_correct_python_server_passes_everything() {
    if !have_python() {
        return;
    }
    fixture_run("cmd", "cmd_good.py", &[]).assert_all_passed("cmd_good.py");
}

#[test]
fn the_shell_server_is_caught_running_the_injected_command() {
    if !have_python() {
        return;
    }
    let run = fixture_run("cmd", "cmd_shell.py", &[]);
    assert_eq!(run.failed(), ["no-shell"], "{}", run.stdout);
    let why = run.assumption("no-shell");
    assert!(why.starts_with("your server ran my request through a shell"), "{why}");
    assert!(why.contains("remote code execution"), "{why}");
    // The proof was removed with its directory.
    let canary = why.split(" created ").nth(1).and_then(|s| s.split(' ').next()).expect("the canary's path");
    let dir = std::path::Path::new(canary).parent().expect("its directory");
    assert!(dir.starts_with(std::env::temp_dir()) || dir.starts_with("/tmp"), "{canary}");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

#[test]
fn the_server_that_waits_for_a_newline_fails_bare_command() {
    if !have_python() {
        return;
    }
    let run = fixture_run("cmd", "cmd_no_idle.py", &[]);
    assert_eq!(run.failed(), ["bare-command"], "{}", run.stdout);
    let why = run.assumption("bare-command");
    assert!(why.contains("waits for a newline") && why.contains("100 ms"), "{why}");
}
