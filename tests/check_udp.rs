//! `netlab check time` and `netlab check upper --udp`: the suites pass
//! against netlab's own UDP servers, and each broken gallery server fails
//! exactly the test aimed at its bug.

mod common;

use common::check::{against_reference, fixture_run, have_python};

#[test]
fn the_reference_udp_servers_pass() {
    against_reference("time", &["time"], &[]).assert_all_passed("serve time");
    against_reference("upper", &["upper", "--udp"], &["--udp"]).assert_all_passed("serve upper --udp");
}

#[test]
fn udp_applies_to_upper_only() {
    let run = common::check::run(&["echo", "--udp", "127.0.0.1:9"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--udp applies to upper only"), "{}", run.stderr);
}

#[test]
fn correct_python_udp_servers_pass() {
    if !have_python() {
        return;
    }
    fixture_run("upper", "udp_upper_good.py", &["--udp"]).assert_all_passed("udp_upper_good.py");
    fixture_run("time", "time_good.py", &[]).assert_all_passed("time_good.py");
}

#[test]
fn a_1024_byte_recvfrom_buffer_fails_large_datagram_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("upper", "udp_upper_small_buffer.py", &["--udp"]);
    assert_eq!(run.failed(), ["large-datagram"], "{}", run.stdout);
    let why = run.assumption("large-datagram");
    assert!(why.contains("recvfrom buffer is smaller than the datagram") && why.contains("first 1024 bytes"), "{why}");
}

#[test]
fn a_time_server_that_crashes_on_bad_input_fails_the_two_bad_input_tests() {
    if !have_python() {
        return;
    }
    let run = fixture_run("time", "time_no_error_reply.py", &[]);
    assert_eq!(run.failed(), ["invalid-format", "invalid-utf8"], "{}", run.stdout);
    for test in ["invalid-format", "invalid-utf8"] {
        let why = run.explanation(test);
        assert!(why.contains("an error must be a reply datagram"), "{why}");
        assert!(why.contains("your program exited with status 1"), "{why}");
    }
}
