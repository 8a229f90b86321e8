//! `netlab lint DIR` finds each kind of mistake and points at it as
//! `file:line:col: message`, exiting 2.

mod common;

use std::process::Command;

use common::TempDir;

/// Run `netlab lint DIR`; return (exit code, lines with the dir prefix removed).
fn lint(dir: &TempDir) -> (i32, Vec<String>) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_netlab")).arg("lint").arg(dir.path()).env("NO_COLOR", "1").output().unwrap();
    let prefix = format!("{}/", dir.path().display());
    let text = String::from_utf8_lossy(&out.stderr).replace(&prefix, "");
    (out.status.code().unwrap_or(-1), text.lines().map(str::to_string).collect())
}

fn assert_reports(lines: &[String], want: &str) {
    assert!(lines.iter().any(|l| l.starts_with(want)), "no line starting with {want:?} in:\n{}", lines.join("\n"));
}

const GOOD: &str = "format: 1\nid: alpha\ntitle: Alpha\nsteps:\n  - say: hi\n";

#[test]
fn a_clean_directory_passes() {
    let dir = TempDir::new("lint-clean");
    dir.file("01-alpha.yaml", GOOD);
    let out = Command::new(env!("CARGO_BIN_EXE_netlab")).arg("lint").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 lessons, no problems"));
}

#[test]
fn unknown_keys_and_yaml_errors_point_at_their_place() {
    let dir = TempDir::new("lint-keys");
    dir.file("01-a.yaml", "format: 1\nid: a\ntitle: A\nsteps:\n  - say: hi\n    colour: red\n")
        .file("02-b.yaml", "format: 1\nid: b\ntitle: B\nsteps:\n  - say: hi\n   - say: broken indent\n")
        .file("03-c.yaml", "format: 1\nid: c\ntitel: C\nsteps:\n  - say: hi\n");
    let (code, lines) = lint(&dir);
    assert_eq!(code, 2);
    assert_reports(&lines, "01-a.yaml:6:5: step 1: unknown field `colour`");
    assert_reports(&lines, "02-b.yaml:6:");
    assert_reports(&lines, "03-c.yaml:3:1: unknown field `titel`");
}

#[test]
fn step_mistakes_point_at_the_step_key() {
    let dir = TempDir::new("lint-steps");
    dir.file(
        "01-a.yaml",
        "format: 1\nid: a\ntitle: A\nsteps:\n  - run: sned cli \"x\"\n  - say: a\n    run: sockets\n  - predict:\n      ask: q\n      choices: [a, b]\n      answer: 3\n  - demo: nosuch\n  - run: recv conn\n    expect: { error: EWHAT }\n  - run: recv conn\n    expect: { state: NOPE }\n  -\n    hint: h\n    expect: { ok: true }\n  - {}\n",
    );
    let (code, lines) = lint(&dir);
    assert_eq!(code, 2);
    assert_reports(&lines, "01-a.yaml:5:10: bad command: unknown command 'sned' — did you mean 'send'?");
    assert_reports(&lines, "01-a.yaml:7:10: step has two kinds (say, run)");
    assert_reports(&lines, "01-a.yaml:11:15: answer 3 is not a choice");
    assert_reports(&lines, "01-a.yaml:12:11: unknown demo 'nosuch'");
    assert_reports(&lines, "01-a.yaml:14:13: unknown errno 'EWHAT'");
    assert_reports(&lines, "01-a.yaml:16:13: unknown TCP state 'NOPE'");
    assert_reports(&lines, "01-a.yaml:18:11: a standalone expect step cannot carry a hint");
    assert_reports(&lines, "01-a.yaml:20:3: step has no kind");
}

#[test]
fn duplicate_ids_bad_requires_and_header_mistakes() {
    let dir = TempDir::new("lint-ids");
    dir.file("01-alpha.yaml", GOOD)
        .file("02-dup.yaml", "format: 1\nid: alpha\ntitle: Again\nrequires: [alpah]\nsteps:\n  - say: hi\n")
        .file("03-bad.yaml", "format: 2\nid: Bad_Id\ntitle: D\nsteps: []\n");
    let (code, lines) = lint(&dir);
    assert_eq!(code, 2);
    assert_reports(&lines, "02-dup.yaml:2:5: duplicate id 'alpha' (also in");
    assert_reports(&lines, "02-dup.yaml:4:11: requires 'alpah', but no lesson has that id — did you mean 'alpha'?");
    assert_reports(&lines, "03-bad.yaml:1:9: format 2 is not supported");
    assert_reports(&lines, "03-bad.yaml:2:5: id 'Bad_Id' should be lowercase");
    assert_reports(&lines, "03-bad.yaml:4:8: a lesson needs at least one step");
}

#[test]
fn a_missing_directory_is_a_usage_error() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_netlab")).args(["lint", "/nonexistent/netlab-lessons"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read lesson directory"));
}
