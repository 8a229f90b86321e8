//! A pseudo-terminal harness for the REPL tests: netlab runs in a real pty
//! (expectrl), and every wait is for output with a deadline — nothing can
//! hang and nothing sleeps to let something happen. The output is read by
//! polling the pty, not by spinning, so the tests stay fast on a busy
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

pub const BIN: &str = env!("CARGO_BIN_EXE_netlab");

/// The longest any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A lesson prompt, e.g. `netlab [4/5 sticky-packets 3/27]> `.
pub const PROMPT: &str = r"netlab \[\d+/\d+ [a-z0-9-]+ \d+/\d+\]> ";

/// Fresh XDG state and data directories for one test, removed afterwards.
pub struct Dirs {
    pub root: PathBuf,
}

impl Dirs {
    pub fn new(tag: &str) -> Dirs {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("netlab-pty-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("state")).expect("create the state dir");
        fs::create_dir_all(root.join("data")).expect("create the data dir");
        Dirs { root }
    }

    pub fn progress(&self) -> PathBuf {
        self.root.join("state/netlab/progress.yaml")
    }

    pub fn history(&self) -> PathBuf {
        self.root.join("data/netlab/history")
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// What one wait found: the output before the match, and the match.
pub struct Seen {
    pub before: String,
    pub matched: String,
}

/// netlab running in a pseudo-terminal.
pub struct Repl {
    session: OsSession,
    /// A duplicate of the pty master, only to poll it for output.
    pty: File,
    /// Everything read so far, for failure messages.
    transcript: String,
}

impl Repl {
    pub fn spawn(dirs: &Dirs, args: &[&str]) -> Repl {
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
    pub fn wait<N: Needle>(&mut self, needle: N, what: &str, within: Duration) -> Result<Seen, String> {
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
    pub fn expect<N: Needle>(&mut self, needle: N, what: &str) -> Seen {
        match self.wait(needle, what, TIMEOUT) {
            Ok(seen) => seen,
            Err(e) => self.fail(&e),
        }
    }

    /// Wait for `text` to appear; returns the output up to and including it.
    pub fn expect_text(&mut self, text: &str) -> String {
        let seen = self.expect(text, &format!("{text:?}"));
        seen.before + &seen.matched
    }

    /// Wait for the next prompt; returns the output before it and the prompt.
    pub fn prompt(&mut self) -> (String, String) {
        let seen = self.expect(Regex(PROMPT), "prompt");
        (seen.before, seen.matched)
    }

    /// Type `line` and Enter; returns the output it made and the next prompt.
    pub fn run(&mut self, line: &str) -> (String, String) {
        self.type_line(line);
        self.prompt()
    }

    /// Type `line` and Enter, and wait until the line editor has handed it
    /// over (it prints a newline after leaving raw mode).
    pub fn type_line(&mut self, line: &str) {
        self.send(format!("{line}\r"));
        self.expect("\n", "the end of the typed line");
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        if let Err(e) = self.session.send(bytes) {
            self.fail(&format!("cannot write to the pty: {e}"));
        }
    }

    pub fn ctrl(&mut self, code: ControlCode) {
        self.send([u8::from(code)]);
    }

    /// Wait for the program to end; it must exit with status 0.
    pub fn expect_exit(&mut self) {
        self.expect(Eof, "end of output");
        match self.session.get_process().wait() {
            Ok(WaitStatus::Exited(_, 0)) => {}
            other => self.fail(&format!("netlab ended with {other:?}")),
        }
    }

    /// `quit`: progress saved, every socket closed, exit status 0.
    pub fn quit(mut self) {
        self.type_line("quit");
        self.expect_text("progress saved");
        self.expect_exit();
    }

    pub fn fail(&mut self, why: &str) -> ! {
        let rest = match self.session.check(Regex(r"(?s).+")) {
            Ok(found) if !found.is_empty() => String::from_utf8_lossy(found.as_bytes()).into_owned(),
            _ => String::new(),
        };
        panic!("{why}\n--- terminal output ---\n{}{}\n--- end ---", plain(&self.transcript), plain(&rest));
    }
}

/// Terminal output without escape sequences, for reading in a failure.
pub fn plain(text: &str) -> String {
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
pub fn step_counter(prompt: &str) -> (usize, usize) {
    let inner = prompt.trim_end().trim_end_matches("]>");
    let counter = inner.rsplit(' ').next().unwrap_or_default();
    let (done, total) = counter.split_once('/').unwrap_or_else(|| panic!("no step counter in {prompt:?}"));
    (done.parse().expect("steps done"), total.parse().expect("steps in all"))
}

/// srv listening, cli connected to it, conn accepted.
pub fn connected_pair(repl: &mut Repl) {
    let (out, _) = repl.run("tcp listen as srv");
    assert!(out.contains("listening on 127.0.0.1:"), "tcp listen: {out}");
    let (out, _) = repl.run("tcp connect srv as cli");
    assert!(out.contains("connected from"), "tcp connect: {out}");
    let (out, _) = repl.run("accept srv as conn");
    assert!(out.contains("new socket conn"), "accept: {out}");
}
