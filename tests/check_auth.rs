//! `netlab check auth`: the suite passes against netlab's own auth server
//! in every model, digest and `--then`, and the gallery's auth server
//! without a deadline fails exactly the timeout test.

mod common;

use common::check::{against_reference, fixture, have_python, in_every_model, run, run_env};

fn reference(model: &[&str], extra_serve: &[&str], extra_check: &[&str]) -> common::check::CheckRun {
    let mut serve = vec!["auth", "--key", "k3y", "--auth-timeout", "500"];
    serve.extend_from_slice(model);
    serve.extend_from_slice(extra_serve);
    let mut check = vec!["--key", "k3y", "--auth-timeout", "500"];
    check.extend_from_slice(extra_check);
    against_reference("auth", &serve, &check)
}

#[test]
fn auth_passes_against_the_reference_server_in_every_model() {
    in_every_model("auth", |model| reference(model, &[], &[]));
}

#[test]
fn md5_and_then_upper_are_checked_as_the_server_speaks_them() {
    reference(&[], &["--digest", "md5"], &["--digest", "md5"]).assert_all_passed("auth --digest md5");
    reference(&[], &["--then", "upper"], &["--then", "upper"]).assert_all_passed("auth --then upper");
    // A checker told the wrong digest fails from the first test on.
    let run = reference(&[], &[], &["--digest", "md5", "--only", "round-trip"]);
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
    for (file, failed) in
        [("auth_good.py", vec![]), ("auth_no_timeout.py", vec!["timeout"]), ("auth_one_recv.py", vec!["answer-split"])]
    {
        let path = fixture(file);
        let run = run_env(&["auth", "--auth-timeout", "500", "--", "python3", path.as_str()], &env);
        assert_eq!(run.failed(), failed, "{file}:\n{}", run.stdout);
    }
    let path = fixture("auth_no_timeout.py");
    let run = run_env(&["auth", "--auth-timeout", "500", "--only", "timeout", "--", "python3", path.as_str()], &env);
    assert!(run.assumption("timeout").contains("waits forever for an answer"), "{}", run.stdout);
    let path = fixture("auth_one_recv.py");
    let run = run_env(&["auth", "--only", "answer-split", "--", "python3", path.as_str()], &env);
    assert!(run.explanation("answer-split").contains("recv"), "{}", run.stdout);
}
