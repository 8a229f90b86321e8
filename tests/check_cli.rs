//! `netlab check` as a command: usage errors, loopback only, starting and
//! stopping the learner's program, and what a crash looks like.

mod common;

use std::process::{Command, Stdio};

use common::check::{fixture_run, have_python, run};

fn netlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run netlab")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn other_machines_are_refused_with_what_to_do() {
    let out = netlab(&["check", "echo", "192.168.1.10:5000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not on this machine"), "{}", stderr(&out));
    let out = netlab(&["check", "echo", "example.com:80"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nothing_listening_is_a_usage_error_that_suggests_the_launcher() {
    // A port just released by the kernel has no listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = netlab(&["check", "echo", &port.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("nothing listens on") && e.contains("-- python3"), "{e}");
}

#[test]
fn list_shows_every_protocol_and_only_refuses_unknown_tests() {
    let out = netlab(&["check", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for proto in ["echo", "upper", "upper --udp", "time", "framed", "cmd", "auth", "file", "chat"] {
        assert!(text.contains(&format!("{proto} (")), "{text}");
    }
    assert!(text.contains("one-byte-writes") && text.contains("slow-reader"), "{text}");
    // One protocol lists its own suite only; time is UDP without --udp.
    for (args, heading) in [(&["time"][..], "time ("), (&["upper"], "upper ("), (&["upper", "--udp"], "upper --udp (")]
    {
        let out = netlab(&[&["check", "--list"][..], args].concat());
        let text = String::from_utf8_lossy(&out.stdout);
        let headings: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ') && l.contains(" (")).collect();
        assert_eq!(headings.len(), 1, "{args:?}: {text}");
        assert!(headings[0].starts_with(heading), "{args:?}: {text}");
    }
    let out = netlab(&["check", "echo", "--only", "nope", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--only nope: no such test; the tests are: round-trip"), "{}", stderr(&out));
}

#[test]
fn a_program_that_exits_before_listening_is_reported_with_its_status_and_output() {
    let out = netlab(&["check", "echo", "--", "sh", "-c", "echo booting; echo 'cannot bind' >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("your program exited with status 3 before it listened on port"), "{e}");
    assert!(e.contains("cannot bind"), "its last output is shown: {e}");
}

#[test]
fn a_program_that_never_listens_is_stopped_whole_group_and_all() {
    let marker = format!("netlab-check-sleeper-{}", std::process::id());
    // The shell forks a child; both are in the program's process group.
    let script = format!("sleep 30 & exec -a {marker} sleep 30");
    let out = netlab(&["check", "echo", "--start-timeout", "300", "--", "bash", "-c", &script]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(e.contains("did not listen on port") && e.contains("$PORT"), "{e}");
    let left = Command::new("pgrep").args(["-f", &marker]).output().expect("pgrep");
    assert!(left.stdout.is_empty(), "left running: {}", String::from_utf8_lossy(&left.stdout));
}

#[test]
fn the_launched_program_is_gone_after_the_run() {
    let run = run(&["echo", "--only", "round-trip", "--", "netlab", "serve", "echo", "--addr", "127.0.0.1:{port}"]);
    run.assert_all_passed("netlab serve echo as the learner's program");
    let start = run.stdout.lines().find(|l| l.contains("check_start")).expect("a start event");
    let v: serde_json::Value = serde_json::from_str(start).unwrap();
    let pid: u32 = v["server"].as_str().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "pid {pid} still exists");
}

#[test]
fn a_crash_is_reported_with_the_exit_status_and_the_program_restarted() {
    if !have_python() {
        return;
    }
    let run = fixture_run("echo", "echo_crash_on_reset.py", &[]);
    assert_eq!(run.failed(), ["concurrent", "slow-reader", "reset"], "{}", run.stdout);
    let why = run.explanation("reset");
    assert!(why.contains("your program exited with status 1 during this test"), "{why}");
    assert!(why.contains("ConnectionResetError"), "its traceback is quoted: {why}");
    assert_eq!(run.code, 1);
}

#[test]
fn json_output_is_one_event_per_line_ending_with_the_summary() {
    let run =
        run(&["echo", "--only", "round-trip,binary", "--", "netlab", "serve", "echo", "--addr", "127.0.0.1:{port}"]);
    let events: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(events.first().unwrap()["event"], "check_start");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "check_summary");
    assert_eq!(last["summary"]["passed"], 2);
    assert_eq!(last["summary"]["failed_tests"], serde_json::json!([]));
}
