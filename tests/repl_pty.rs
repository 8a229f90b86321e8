//! The interactive REPL through a real pseudo-terminal: rustyline's line
//! editing, Ctrl-C and Ctrl-D, tab completion, and the progress and history
//! files a session leaves behind.
//!
//! Every wait is for output on the terminal, with a deadline, so nothing
//! can hang and no test sleeps to let something happen. The output is read
//! by polling the pty, not by spinning, so the tests stay fast on a busy
//! machine.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{ControlCode, Eof, Expect, Needle, Regex, Session};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

const BIN: &str = env!("CARGO_BIN_EXE_netlab");

/// The longest any single wait may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A lesson prompt, e.g. `netlab [4/5 sticky-packets 3/27]> `.
const PROMPT: &str = r"netlab \[\d+/\d+ [a-z0-9-]+ \d+/\d+\]> ";

/// Fresh XDG state and data directories for one test, removed afterwards.
struct Dirs {
    root: PathBuf,
}

impl Dirs {
    fn new(tag: &str) -> Dirs {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("netlab-pty-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("state")).expect("create the state dir");
        fs::create_dir_all(root.join("data")).expect("create the data dir");
        Dirs { root }
    }

    fn progress(&self) -> PathBuf {
        self.root.join("state/netlab/progress.yaml")
    }

    fn history(&self) -> PathBuf {
        self.root.join("data/netlab/history")
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// What one wait found: the output before the match, and the match.
struct Seen {
    before: String,
    matched: String,
}

/// netlab running in a pseudo-terminal.
struct Repl {
    session: OsSession,
    /// A duplicate of the pty master, only to poll it for output.
    pty: File,
    /// Everything read so far, for failure messages.
    transcript: String,
}

impl Repl {
    fn spawn(dirs: &Dirs, args: &[&str]) -> Repl {
        // A wide terminal, so rustyline never wraps (and redraws) a line.
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(r#"stty cols 200 rows 50 && exec "$0" "$@""#).arg(BIN).args(args);
        cmd.env("XDG_STATE_HOME", dirs.root.join("state"))
            .env("XDG_DATA_HOME", dirs.root.join("data"))
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .current_dir(&dirs.root);
        let mut session = Session::spawn(cmd).expect("spawn netlab in a pty");
        session.set_expect_timeout(Some(TIMEOUT));
        let pty = session.get_process().get_raw_handle().expect("duplicate the pty master");
        Repl { session, pty, transcript: String::new() }
    }

    /// Wait until `needle` appears in the output.
    fn wait<N: Needle>(&mut self, needle: N, what: &str, within: Duration) -> Result<Seen, String> {
        let deadline = Instant::now() + within;
        loop {
            match self.session.check(&needle) {
                Ok(found) if !found.is_empty() => {
                    let seen = Seen {
                        before: String::from_utf8_lossy(found.before()).into_owned(),
                        matched: String::from_utf8_lossy(&found[0]).into_owned(),
                    };
                    self.transcript.push_str(&String::from_utf8_lossy(found.as_bytes()));
                    return Ok(seen);
                }
                Ok(_) => {}
                Err(e) => return Err(format!("{e} while waiting for {what}")),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no {what} within {} ms", within.as_millis()));
            }
            let slice = PollTimeout::try_from(left.min(Duration::from_millis(500))).unwrap_or(PollTimeout::ZERO);
            let mut fds = [PollFd::new(self.pty.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, slice);
        }
    }

    /// Wait for `needle`, or fail the test showing the whole session.
    fn expect<N: Needle>(&mut self, needle: N, what: &str) -> Seen {
        match self.wait(needle, what, TIMEOUT) {
            Ok(seen) => seen,
            Err(e) => self.fail(&e),
        }
    }

    /// Wait for `text` to appear; returns the output up to and including it.
    fn expect_text(&mut self, text: &str) -> String {
        let seen = self.expect(text, &format!("{text:?}"));
        seen.before + &seen.matched
    }

    /// Wait for the next prompt; returns the output before it and the prompt.
    fn prompt(&mut self) -> (String, String) {
        let seen = self.expect(Regex(PROMPT), "prompt");
        (seen.before, seen.matched)
    }

    /// Type `line` and Enter; returns the output it made and the next prompt.
    fn run(&mut self, line: &str) -> (String, String) {
        self.type_line(line);
        self.prompt()
    }

    /// Type `line` and Enter, and wait until the line editor has handed it
    /// over (it prints a newline after leaving raw mode).
    fn type_line(&mut self, line: &str) {
        self.send(format!("{line}\r"));
        self.expect("\n", "the end of the typed line");
    }

    fn send(&mut self, bytes: impl AsRef<[u8]>) {
        if let Err(e) = self.session.send(bytes) {
            self.fail(&format!("cannot write to the pty: {e}"));
        }
    }

    fn ctrl(&mut self, code: ControlCode) {
        self.send([u8::from(code)]);
    }

    /// Wait for the program to end; it must exit with status 0.
    fn expect_exit(&mut self) {
        self.expect(Eof, "end of output");
        match self.session.get_process().wait() {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => self.fail(&format!("netlab ended with {other:?}")),
        }
    }

    /// `quit`: progress saved, every socket closed, exit status 0.
    fn quit(mut self) {
        self.type_line("quit");
        self.expect_text("progress saved");
        self.expect_exit();
    }

    fn fail(&mut self, why: &str) -> ! {
        let rest = match self.session.check(Regex(r"(?s).+")) {
            Ok(found) if !found.is_empty() => String::from_utf8_lossy(found.as_bytes()).into_owned(),
            _ => String::new(),
        };
        panic!("{why}\n--- terminal output ---\n{}{}\n--- end ---", plain(&self.transcript), plain(&rest));
    }
}

/// Terminal output without escape sequences, for reading in a failure.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.next_if_eq(&'[').is_some() {
                    // A CSI sequence ends with its first letter (or ~).
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The `done/total` step counter of a prompt.
fn step_counter(prompt: &str) -> (usize, usize) {
    let inner = prompt.trim_end().trim_end_matches("]>");
    let counter = inner.rsplit(' ').next().unwrap_or_default();
    let (done, total) = counter.split_once('/').unwrap_or_else(|| panic!("no step counter in {prompt:?}"));
    (done.parse().expect("steps done"), total.parse().expect("steps in all"))
}

/// srv listening, cli connected to it, conn accepted.
fn connected_pair(repl: &mut Repl) {
    let (out, _) = repl.run("tcp listen as srv");
    assert!(out.contains("listening on 127.0.0.1:"), "tcp listen: {out}");
    let (out, _) = repl.run("tcp connect srv as cli");
    assert!(out.contains("connected from"), "tcp connect: {out}");
    let (out, _) = repl.run("accept srv as conn");
    assert!(out.contains("new socket conn"), "accept: {out}");
}

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
