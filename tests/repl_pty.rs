//! The interactive REPL through a real pseudo-terminal: stepping a lesson,
//! the playground, bad input, tab completion and predictions.

use expectrl::ControlCode;

mod common;

use common::pty::{Dirs, Repl, connected_pair, plain, step_counter};

#[test]
fn start_at_a_lesson_and_step_through_it() {
    let dirs = Dirs::new("start");
    let mut repl = Repl::spawn(&dirs, &["lesson", "sticky-packets"]);
    let (intro, prompt) = repl.prompt();
    assert!(
        intro.contains("── lesson ") && intro.contains("Sticky packets"),
        "the lesson heading comes first: {intro}"
    );
    assert!(prompt.contains("sticky-packets 0/"), "a fresh lesson starts at step 0: {prompt}");
    let (_, total) = step_counter(&prompt);
    for step in 1..=3 {
        let (out, prompt) = repl.run("");
        assert!(!plain(&out).trim().is_empty(), "Enter shows step {step}");
        assert_eq!(step_counter(&prompt), (step, total), "the prompt counts the steps done: {prompt}");
        assert!(prompt.contains("sticky-packets"), "still in the lesson: {prompt}");
    }
    repl.quit();
}

#[test]
fn playground_sends_and_receives_between_named_sockets() {
    let dirs = Dirs::new("playground");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    connected_pair(&mut repl);
    let (out, _) = repl.run(r#"send cli "hi""#);
    assert!(out.contains("2 bytes queued"), "send: {out}");
    let (out, _) = repl.run("recv conn");
    assert!(out.contains(r#""hi""#), "recv shows the bytes: {out}");
    let (out, _) = repl.run("sockets");
    let established: Vec<&str> = out.lines().filter(|l| l.contains("ESTABLISHED")).collect();
    assert_eq!(established.len(), 2, "cli and conn are ESTABLISHED: {out}");
    assert!(established.iter().any(|l| l.starts_with("cli")) && established.iter().any(|l| l.starts_with("conn")));
    assert!(out.lines().any(|l| l.starts_with("srv") && l.contains("LISTEN")), "srv listens: {out}");
    repl.quit();
}

#[test]
fn bad_input_never_ends_the_repl() {
    let dirs = Dirs::new("bad-input");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    connected_pair(&mut repl);
    let cases = [
        (r#"sned cli "x""#, "did you mean 'send'"),
        ("recv nosuch", "no socket named 'nosuch'"),
        (r#"send cli "unterminated"#, "unterminated quote"),
        ("tcp connect 10.1.2.3:80", "is not a loopback address"),
    ];
    for (i, (line, error)) in cases.into_iter().enumerate() {
        let (out, _) = repl.run(line);
        assert!(out.contains(error), "`{line}` should say {error:?}: {out}");
        // A valid command still works after each mistake.
        let (out, _) = repl.run(&format!(r#"send cli "ok{i}""#));
        assert!(out.contains("3 bytes queued"), "send after `{line}`: {out}");
        let (out, _) = repl.run("recv conn");
        assert!(out.contains(&format!(r#""ok{i}""#)), "recv after `{line}`: {out}");
    }
    repl.quit();
}

#[test]
fn tab_completes_demo_and_socket_names() {
    let dirs = Dirs::new("tab");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    repl.send("demo sti");
    repl.ctrl(ControlCode::HorizontalTabulation);
    repl.expect_text("cky");
    repl.send("\r");
    let out = repl.expect_text("── demo sticky:");
    assert!(!out.contains("no demo"), "the completed line ran the demo: {out}");
    repl.expect_text("checks held");
    repl.prompt();

    let (out, _) = repl.run("tcp listen as srv");
    assert!(out.contains("listening on"), "{out}");
    let (out, _) = repl.run("tcp connect srv as cli");
    assert!(out.contains("connected from"), "{out}");
    repl.send("send c");
    repl.ctrl(ControlCode::HorizontalTabulation);
    repl.expect_text("cli");
    let (out, _) = repl.run(r#" "tab""#);
    assert!(out.contains("cli   send(3)"), "the completed name was used: {out}");
    repl.quit();
}

#[test]
fn predict_answers_get_a_verdict() {
    let dirs = Dirs::new("predict");
    let mut repl = Repl::spawn(&dirs, &["lesson", "hello-echo"]);
    repl.prompt();
    let mut asked = false;
    for _ in 0..20 {
        if repl.run("").0.contains("answer with a number") {
            asked = true;
            break;
        }
    }
    assert!(asked, "hello-echo asks a question early on");
    let (out, _) = repl.run("99");
    assert!(out.contains("answer with a number from 1 to"), "out of range: {out}");

    // Answer 1; whichever verdict that gets, come back and get the other.
    let (out, _) = repl.run("1");
    let right_first = out.contains("✓ right");
    let retry = if right_first {
        "2".to_string()
    } else {
        let at = out.find("not quite — the answer is ").unwrap_or_else(|| panic!("a verdict for 1: {out}"));
        let rest = &out[at + "not quite — the answer is ".len()..];
        rest.chars().take_while(char::is_ascii_digit).collect()
    };
    repl.run("back");
    let (question, _) = repl.run("");
    assert!(question.contains("answer with a number"), "back + Enter asks again: {question}");
    let (out, _) = repl.run(&retry);
    let expected = if right_first { "✗ not quite" } else { "✓ right" };
    assert!(out.contains(expected), "answer {retry} should get {expected:?}: {out}");
    repl.quit();
}

#[test]
fn pasted_lines_run_one_command_each() {
    let dirs = Dirs::new("paste");
    let mut repl = Repl::spawn(&dirs, &[]);
    repl.prompt();
    // A bracketed paste of three commands copied from the book: readline
    // hands them over as one text.
    repl.send("\x1b[200~tcp listen as srv\ntcp connect srv as cli\n\nsockets\x1b[201~\r");
    let out = repl.expect_text("cli ");
    let (rest, _) = repl.prompt();
    let out = plain(&(out + &rest));
    assert!(!out.contains("error"), "each pasted line ran as its own command: {out}");
    assert!(out.contains("listening on") && out.contains("connected from"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("srv") && l.contains("LISTEN")), "sockets ran last: {out}");
    repl.quit();
}
