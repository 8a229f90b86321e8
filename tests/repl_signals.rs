//! The REPL through a real pseudo-terminal, at its edges: Ctrl-C at the
//! prompt and during blocking calls, and quitting (quit, Ctrl-D) with the
//! progress and history files a session leaves behind.

use expectrl::ControlCode;
use std::fs;
use std::time::{Duration, Instant};

mod common;

use common::pty::{Dirs, Repl, connected_pair};

#[test]
fn ctrl_c_at_the_prompt_does_not_exit() {
    let dirs = Dirs::new("ctrl-c-prompt");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    repl.ctrl(ControlCode::EndOfText);
    repl.expect_text("type quit or press Ctrl-D to leave");
    repl.prompt();
    // Half a line, then Ctrl-C: the line is dropped, netlab stays.
    repl.send("tcp lis");
    repl.ctrl(ControlCode::EndOfText);
    repl.expect_text("type quit or press Ctrl-D to leave");
    repl.prompt();
    let (out, _) = repl.run("tcp listen as srv");
    assert!(out.contains("listening on"), "a command works after Ctrl-C: {out}");
    repl.quit();
}

#[test]
fn ctrl_c_cancels_a_blocking_recv() {
    let dirs = Dirs::new("ctrl-c-recv");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    connected_pair(&mut repl);
    let started = Instant::now();
    repl.type_line("recv conn --timeout 5000");
    // netlab says when a call is about to block; from then on the terminal
    // is in cooked mode and one Ctrl-C is a SIGINT that must cancel it.
    repl.expect("Ctrl-C cancels", "the waiting notice");
    repl.ctrl(ControlCode::EndOfText);
    let out = repl.expect("cancelled with Ctrl-C", "the cancel notice").before;
    assert!(started.elapsed() < Duration::from_millis(4500), "cancelled before the 5 s timeout");
    assert!(out.contains("EINTR"), "the cancelled recv reports EINTR: {out}");
    repl.prompt();
    let (out, _) = repl.run(r#"send cli "after""#);
    assert!(out.contains("5 bytes queued"), "{out}");
    let (out, _) = repl.run("recv conn");
    assert!(out.contains(r#""after""#), "the REPL goes on after a cancelled recv: {out}");
    repl.quit();
}

#[test]
fn ctrl_c_cancels_a_connect_stalled_on_a_full_accept_queue() {
    let dirs = Dirs::new("ctrl-c-connect");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    // Backlog 0: the accept queue holds one connection; later SYNs are
    // dropped, so the next connect stalls (Linux does not refuse it).
    repl.run("tcp listen as full --backlog 0");
    repl.run("tcp connect full as x1");
    repl.run("tcp connect full as x2 --timeout 200");
    let started = Instant::now();
    repl.type_line("tcp connect full as x3 --timeout 600000");
    repl.expect("waiting up to 600000 ms for the handshake", "the waiting notice");
    repl.ctrl(ControlCode::EndOfText);
    let out = repl.expect("cancelled with Ctrl-C", "the cancel notice").before;
    assert!(out.contains("EINTR"), "the cancelled connect reports EINTR: {out}");
    assert!(started.elapsed() < Duration::from_secs(30), "Ctrl-C ended the 10-minute connect");
    repl.prompt();
    let (out, _) = repl.run("sockets");
    assert!(out.contains("x1"), "the REPL goes on: {out}");
    repl.quit();
}

#[test]
fn quit_saves_progress_and_netlab_resumes_there() {
    let dirs = Dirs::new("resume");
    let mut repl = Repl::spawn(&dirs, &["lesson", "sticky-packets"]);
    repl.prompt();
    let mut prompt = String::new();
    for _ in 0..3 {
        prompt = repl.run("").1;
    }
    assert!(prompt.contains("sticky-packets 3/"), "three steps done: {prompt}");
    repl.quit();

    let progress = fs::read_to_string(dirs.progress()).expect("quit writes progress.yaml");
    assert!(progress.contains("lesson: sticky-packets"), "progress names the lesson: {progress}");
    assert!(progress.lines().any(|l| l.trim() == "step: 3"), "progress names the step: {progress}");

    let mut repl = Repl::spawn(&dirs, &[]);
    let (intro, prompt) = repl.prompt();
    assert!(intro.contains("resuming after step 3/"), "netlab says it resumes: {intro}");
    assert!(prompt.contains("sticky-packets 3/"), "same lesson, same step: {prompt}");
    // The replayed steps made the sockets the next steps need.
    let (out, _) = repl.run("sockets");
    assert!(out.lines().any(|l| l.starts_with("cli") && l.contains("ESTABLISHED")), "replayed connect: {out}");
    repl.quit();
}

#[test]
fn ctrl_d_saves_progress_and_history() {
    let dirs = Dirs::new("ctrl-d");
    let mut repl = Repl::spawn(&dirs, &["lesson", "hello-echo"]);
    repl.prompt();
    repl.run("");
    let (out, _) = repl.run("tcp listen as historic");
    assert!(out.contains("listening on"), "{out}");
    repl.ctrl(ControlCode::EndOfTransmission);
    repl.expect_text("progress saved");
    repl.expect_exit();

    let progress = fs::read_to_string(dirs.progress()).expect("Ctrl-D writes progress.yaml");
    assert!(progress.contains("lesson: hello-echo"), "{progress}");
    assert!(progress.lines().any(|l| l.trim() == "step: 1"), "{progress}");
    let history = fs::read_to_string(dirs.history()).expect("Ctrl-D writes the history file");
    assert!(history.contains("tcp listen as historic"), "history keeps typed commands: {history}");
}
