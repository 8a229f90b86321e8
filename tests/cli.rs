//! The command line, run as a learner or a script would run it.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TempDir;

/// A private state/data home so tests never touch the user's progress.
struct Home(TempDir);

impl Home {
    fn new(tag: &str) -> Home {
        Home(TempDir::new(&format!("cli-{tag}")))
    }

    fn netlab(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_netlab"));
        cmd.args(args)
            .env("XDG_STATE_HOME", self.0.path().join("state"))
            .env("XDG_DATA_HOME", self.0.path().join("data"))
            .env_remove("NO_COLOR");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.netlab(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Feed `script` to the REPL on stdin, as `printf … | netlab` would.
    fn script(&self, args: &[&str], script: &str) -> Output {
        let mut child =
            self.netlab(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_has_examples_and_version_prints() {
    let home = Home::new("help");
    let help = home.run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("netlab demo sticky") && stdout(&help).contains("Exit status"));
    assert!(stdout(&home.run(&["--version"])).starts_with("netlab "));
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    let home = Home::new("usage");
    let bad = home.run(&["demo", "stiky"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no demo named 'stiky' — did you mean 'sticky'?"), "{}", stderr(&bad));
    assert_eq!(home.run(&["--frobnicate"]).status.code(), Some(2));
    let missing = home.run(&["--lessons", "/nonexistent/x", "lessons"]);
    assert_eq!(missing.status.code(), Some(2));
    let lesson = home.run(&["lesson", "nope"]);
    assert_eq!(lesson.status.code(), Some(2));
    assert!(stderr(&lesson).contains("no lesson 'nope'"));
}

#[test]
fn demo_list_and_a_demo_in_text_without_color() {
    let home = Home::new("demo");
    let list = stdout(&home.run(&["demo", "--list"]));
    for name in ["sticky", "timewait", "udp", "byteorder"] {
        assert!(list.contains(name), "{list}");
    }
    let out = home.run(&["demo", "udp"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("TRUNCATED") && text.contains("checks held"), "{text}");
    assert!(!text.contains('\x1b'), "no color codes when stdout is not a terminal");
}

#[test]
fn demo_json_is_one_event_per_line() {
    let home = Home::new("json");
    let out = home.run(&["demo", "sticky", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<serde_json::Value> =
        stdout(&out).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert!(events.iter().all(|e| e["event"].is_string() && e["t_ms"].is_number()));
    let merged = events.iter().any(|e| e["event"] == "bytes" && e["data"]["text"] == "helloworld");
    assert!(merged, "the merged recv is in the JSON stream");
    assert!(events.iter().any(|e| e["event"] == "verdict" && e["ok"] == true));
}

#[test]
fn lessons_list_shows_progress_marks() {
    let home = Home::new("lessons");
    let out = stdout(&home.run(&["lessons"]));
    assert!(out.contains("hello-echo") && out.contains("udp-boundaries"), "{out}");
    home.script(&["lesson", "byte-order"], "quit\n");
    let after = stdout(&home.run(&["lessons"]));
    assert!(after.lines().any(|l| l.starts_with('▸') && l.contains("byte-order")), "{after}");
    let json = stdout(&home.run(&["lessons", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["rows"][0]["id"], "hello-echo");
}

#[test]
fn completions_are_generated_for_bash_and_zsh() {
    let home = Home::new("compl");
    for shell in ["bash", "zsh", "fish"] {
        let out = home.run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains("netlab"));
    }
    assert_eq!(home.run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn a_piped_script_drives_the_playground() {
    let home = Home::new("pipe");
    let script =
        "tcp listen as srv\ntcp connect srv as cli\naccept srv as conn\nsend cli \"ping\"\nrecv conn\nsockets\nquit\n";
    let out = home.script(&[], script);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("netlab> send cli \"ping\""), "commands are echoed: {text}");
    assert!(text.contains("got  4 bytes  \"ping\""), "{text}");
    assert!(text.contains("ESTABLISHED"), "{text}");
}

#[test]
fn bad_lines_in_a_script_are_reported_and_exit_2_but_the_rest_runs() {
    let home = Home::new("badpipe");
    let out = home.script(&[], "sned x\nrecv nosuch\ntcp listen as srv\nsockets\n");
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("did you mean 'send'"), "{text}");
    assert!(text.contains("no socket named 'nosuch'"), "{text}");
    assert!(text.contains("LISTEN"), "the script went on after bad lines: {text}");
}

#[test]
fn progress_is_saved_resumed_and_reset() {
    let home = Home::new("progress");
    home.script(&["lesson", "udp-boundaries"], "\n\n\nquit\n");
    let file = std::fs::read_to_string(home.0.path().join("state/netlab/progress.yaml")).unwrap();
    assert!(file.contains("lesson: udp-boundaries") && file.contains("step: 3"), "{file}");
    let resumed = stdout(&home.script(&[], "quit\n"));
    assert!(resumed.contains("resuming after step 3/"), "{resumed}");
    assert!(stdout(&home.run(&["progress"])).contains("udp-boundaries"));
    assert!(stdout(&home.run(&["progress", "--reset"])).contains("progress reset"));
    assert!(!home.0.path().join("state/netlab/progress.yaml").exists());
}

#[test]
fn a_damaged_progress_file_is_reported_and_never_overwritten() {
    let home = Home::new("damaged");
    let path = home.0.path().join("state/netlab/progress.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "lesson: [oops\n").unwrap();
    let out = home.script(&[], "\n\nquit\n");
    let text = stdout(&out);
    assert!(text.contains("is damaged") && text.contains("progress is not saved"), "{text}");
    assert!(text.contains("progress NOT saved"), "quitting tells the truth: {text}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "lesson: [oops\n", "the learner's file is left alone");
}

#[test]
fn an_authors_own_lessons_are_used_with_lessons_dir() {
    let home = Home::new("authored");
    let dir = home.0.path().join("mine");
    std::fs::create_dir_all(&dir).unwrap();
    let lesson = "format: 1\nid: my-first\ntitle: My first lesson\nsteps:\n  - say: hello\n  - run: udp bind as u\n    expect: { ok: true }\n";
    std::fs::write(dir.join("01-mine.yaml"), lesson).unwrap();
    let d = dir.to_str().unwrap();
    let list = stdout(&home.run(&["--lessons", d, "lessons"]));
    assert!(list.contains("my-first") && !list.contains("hello-echo"), "{list}");
    let run = home.script(&["--lessons", d], "\n\n\nquit\n");
    let text = stdout(&run);
    assert!(text.contains("My first lesson") && text.contains("lesson my-first complete"), "{text}");
    std::fs::write(dir.join("02-broken.yaml"), "format: 1\nid: broken\ntitle: B\nsteps:\n  - run: frob\n").unwrap();
    let broken = home.run(&["--lessons", d, "lessons"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("02-broken.yaml:5:10: bad command"), "{}", stderr(&broken));
}

#[test]
fn the_book_matches_the_lessons() {
    let home = Home::new("book");
    let book = concat!(env!("CARGO_MANIFEST_DIR"), "/book/src");
    let out = home.run(&["book", "--check", "--out", book]);
    assert_eq!(out.status.code(), Some(0), "run `netlab book` to regenerate: {}", stderr(&out));
    let fresh = home.0.path().join("book");
    let out = home.run(&["book", "--out", fresh.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(fresh.join("SUMMARY.md").exists() && fresh.join("lessons/sticky-packets.md").exists());
}
