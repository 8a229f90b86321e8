//! `netlab check auth`: the suite passes against netlab's own auth server
//! in every model, digest and `--then`, and the gallery's auth server
//! without a deadline fails exactly the timeout test.

mod common;

use common::check::{against_reference, fixture, have_python, run, run_env};

const MODELS: [&str; 7] = ["iterative", "thread", "fork", "pool", "select", "poll", "epoll"];

/// What each model fails by design (see tests/check_echo.rs).
fn expected_failures(model: &str) -> Vec<&'static str> {
    match model {
        "iterative" => vec!["concurrent", "slow-reader"],
        "pool" => vec!["concurrent"],
        _ => vec![],
    }
}

fn reference(model: &str, extra_serve: &[&str], extra_check: &[&str]) -> common::check::CheckRun {
    let mut serve = vec!["auth", "--key", "k3y", "--auth-timeout", "500", "--model", model];
    serve.extend_from_slice(extra_serve);
    let mut check = vec!["--key", "k3y", "--auth-timeout", "500"];
    check.extend_from_slice(extra_check);
    against_reference("auth", &serve, &check)
}

#[test]
fn auth_passes_against_the_reference_server_in_every_model() {
    for model in MODELS {
        let run = reference(model, &[], &[]);
        assert_eq!(run.failed(), expected_failures(model), "auth --model {model}:\n{}", run.stdout);
    }
    reference("epoll", &["--edge"], &[]).assert_all_passed("auth epoll --edge");
}

#[test]
fn md5_and_then_upper_are_checked_as_the_server_speaks_them() {
    reference("thread", &["--digest", "md5"], &["--digest", "md5"]).assert_all_passed("auth --digest md5");
    reference("thread", &["--then", "upper"], &["--then", "upper"]).assert_all_passed("auth --then upper");
    // A checker told the wrong digest fails from the first test on.
    let run = reference("thread", &[], &["--digest", "md5", "--only", "round-trip"]);
    assert_eq!(run.failed(), ["round-trip"], "{}", run.stdout);
}

#[test]
fn a_missing_key_is_a_usage_error_before_anything_runs() {
    let run = run(&["auth", "127.0.0.1:9"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--key SECRET or set NETLAB_KEY"), "{}", run.stderr);
}

#[test]
fn the_gallery_servers_pass_and_fail_exactly_what_they_should() {
    if !have_python() {
        return;
    }
    let env = [("NETLAB_KEY", "k3y")];
    for (file, failed) in [("auth_good.py", vec![]), ("auth_no_timeout.py", vec!["timeout"])] {
        let path = fixture(file);
        let run = run_env(&["auth", "--auth-timeout", "500", "--", "python3", path.as_str()], &env);
        assert_eq!(run.failed(), failed, "{file}:\n{}", run.stdout);
    }
    let path = fixture("auth_no_timeout.py");
    let run = run_env(&["auth", "--auth-timeout", "500", "--only", "timeout", "--", "python3", path.as_str()], &env);
    assert!(run.assumption("timeout").contains("waits forever for an answer"), "{}", run.stdout);
}
