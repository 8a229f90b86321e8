//! `serve`, `procs`, `wait SERVER log TEXT` and `close` in the playground:
//! a real `netlab serve` child process, checked through events and /proc.

mod common;

use common::playground::{calls_on, lab, ok, run, run_valid};
use netlab::event::{CallResult, Event, Recorder};

fn server_lines(rec: &Recorder, server: &str) -> Vec<String> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ServerLog { server: s, line, .. } if s == server => Some(line),
            _ => None,
        })
        .collect()
}

/// The server's pid, from the detail of the `serve` call.
fn pid_of(rec: &Recorder, server: &str) -> u32 {
    let (_, result) = calls_on(rec, server).into_iter().find(|(c, _)| c.starts_with("netlab serve")).unwrap();
    let CallResult::Ok { detail } = result else { panic!("{result:?}") };
    detail.split_whitespace().nth(1).unwrap().trim_end_matches(',').parse().unwrap()
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; only a reaped process is gone.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_served_echo_answers_logs_and_stops_on_close() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "serve echo --model iterative as srv");
    let pid = pid_of(&rec, "srv");
    assert!(alive(pid));
    ok(&mut lab, "tcp connect srv as a");
    ok(&mut lab, "send a \"hi\"");
    assert_eq!(ok(&mut lab, "recv a").bytes.as_deref(), Some(&b"hi"[..]));
    let found = ok(&mut lab, "wait srv log conn#1 accept");
    assert!(format!("{:?}", found.result).contains("client 127.0.0.1:"), "{found:?}");
    let procs = ok(&mut lab, "procs srv");
    assert_eq!(procs.value.as_deref(), Some("0"), "no zombies: {procs:?}");
    ok(&mut lab, "close a");
    ok(&mut lab, "wait srv log \"conn#1 close\"");
    ok(&mut lab, "close srv");
    assert!(!alive(pid), "the server process is reaped on close");
    let lines = server_lines(&rec, "srv");
    assert!(lines.iter().any(|l| l.starts_with("listening on 127.0.0.1:")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("shut down: 1 connection accepted")), "{lines:?}");
    // Timestamps are the lab's, not the server's.
    assert!(lines.iter().all(|l| !l.trim_start().starts_with(|c: char| c.is_ascii_digit())), "{lines:?}");
}

#[test]
fn each_wait_finds_the_next_matching_line() {
    let (mut lab, _rec) = lab();
    ok(&mut lab, "serve echo as srv");
    ok(&mut lab, "tcp connect srv as a");
    ok(&mut lab, "wait srv log accept");
    // The one accept is used up: a second wait needs a second client.
    let second = run_valid(&mut lab, "wait srv log accept --timeout 200");
    assert!(matches!(second.result, Some(CallResult::Failed { .. })), "{second:?}");
    ok(&mut lab, "tcp connect srv as b");
    ok(&mut lab, "wait srv log accept");
}

#[test]
fn bad_options_and_names_are_one_line_errors() {
    let (mut lab, _rec) = lab();
    for bad in [
        "serve",
        "serve gopher",
        "serve echo --model threads",
        "serve echo --addr 0.0.0.0:7",
        "serve echo --workers many",
        "procs",
        "procs nosuch",
        "wait nosuch log x",
    ] {
        let out = run(&mut lab, bad);
        let text = out.usage_error.unwrap_or_else(|| panic!("{bad}: accepted"));
        assert!(!text.contains('\n'), "{bad}: {text}");
    }
    ok(&mut lab, "serve echo as srv");
    assert!(run(&mut lab, "serve upper as srv").usage_error.unwrap().contains("taken"));
    let send = run(&mut lab, "send srv \"x\"").usage_error.unwrap();
    assert!(send.contains("tcp connect srv"), "{send}");
}

#[test]
fn servers_never_outlive_the_lab() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "serve echo --model thread as one");
    ok(&mut lab, "serve upper --model iterative as two");
    let pids = [pid_of(&rec, "one"), pid_of(&rec, "two")];
    assert!(pids.iter().all(|&p| alive(p)));
    drop(lab);
    assert!(pids.iter().all(|&p| !alive(p)), "both servers stopped and reaped");
}

#[test]
fn sockets_lists_a_server_and_its_name_resolves() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "serve upper as up");
    ok(&mut lab, "sockets");
    let table = common::playground::last_table(&rec);
    let row = table.iter().find(|r| r.name == "up").expect("a row for the server");
    assert!(row.kind.starts_with("server (pid "), "{row:?}");
    assert_eq!(row.state, "LISTEN");
    ok(&mut lab, "tcp connect up as c");
    ok(&mut lab, "send c \"shout\"");
    assert_eq!(ok(&mut lab, "recv c").bytes.as_deref(), Some(&b"SHOUT"[..]));
}
