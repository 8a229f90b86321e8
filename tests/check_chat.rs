//! `netlab check chat`: the suite passes against netlab's own chat server
//! in every model that can run it, and each broken gallery server fails
//! exactly the test aimed at its bug.

mod common;

use common::check::{against_reference, fixture_run, have_python};

#[test]
fn chat_passes_against_the_reference_server_in_every_model() {
    for model in ["thread", "pool", "select", "poll", "epoll"] {
        let mut serve = vec!["chat", "--model", model];
        // A 4-worker pool serves 4 members at a time: fine for rooms of
        // 3, not for 50.
        if model == "pool" {
            serve.extend(["--workers", "64"]);
        }
        let run = against_reference("chat", &serve, &[]);
        run.assert_all_passed(&format!("chat --model {model}"));
    }
    against_reference("chat", &["chat", "--model", "epoll", "--edge"], &[]).assert_all_passed("chat epoll --edge");
}

#[test]
fn the_iterative_chat_is_a_room_of_one() {
    let run = against_reference("chat", &["chat", "--model", "iterative"], &[]);
    // Only quit needs no second member.
    let all_but_quit: Vec<String> =
        run.tests.iter().map(|t| t["name"].as_str().unwrap().to_string()).filter(|n| n != "quit").collect();
    assert_eq!(run.failed(), all_but_quit, "{}", run.stdout);
    assert!(run.assumption("broadcast").contains("none of ann"), "{}", run.assumption("broadcast"));
}

#[test]
fn a_correct_python_chat_server_passes_everything() {
    if !have_python() {
        return;
    }
    fixture_run("chat", "chat_good.py", &[]).assert_all_passed("chat_good.py");
}

#[test]
fn the_server_that_echoes_to_the_sender_fails_broadcast_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("chat", "chat_echo_sender.py", &[]);
    assert_eq!(run.failed(), ["broadcast"], "{}", run.stdout);
    assert!(run.assumption("broadcast").contains("sent the line back to its sender"));
}

#[test]
fn the_server_that_broadcasts_with_blocking_sends_fails_slow_reader_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("chat", "chat_blocking_broadcast.py", &[]);
    assert_eq!(run.failed(), ["slow-reader"], "{}", run.stdout);
    assert!(run.assumption("slow-reader").contains("stops the room while one member is slow"));
}

#[test]
fn the_server_that_never_announces_leaves_fails_join_leave_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("chat", "chat_no_leave.py", &[]);
    assert_eq!(run.failed(), ["join-leave"], "{}", run.stdout);
    assert!(run.assumption("join-leave").contains("left (with quit)"), "{}", run.assumption("join-leave"));
}

#[test]
fn the_makefile_loop_that_sends_half_lines_fails_mid_line_vanish_only() {
    if !have_python() {
        return;
    }
    let run = fixture_run("chat", "chat_half_line.py", &[]);
    assert_eq!(run.failed(), ["mid-line-vanish"], "{}", run.stdout);
    assert!(run.explanation("mid-line-vanish").contains("half"), "{}", run.explanation("mid-line-vanish"));
}
