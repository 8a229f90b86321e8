//! The processes the bench starts — `netlab serve`, the Python reference
//! server, the connection load generator — each behind a guard that
//! stops and reaps it however the bench ends (error, panic, Ctrl-C).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::lab::cancel;

/// How long a process gets to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

pub use crate::lab::server_proc::netlab_bin;

/// A line a child printed, from stdout or stderr.
#[derive(Debug, Clone)]
pub struct Line {
    pub stderr: bool,
    pub text: String,
}

/// A running child process; dropping it sends SIGTERM and waits (then
/// SIGKILL if it will not go), so no process outlives the bench.
pub struct Guard {
    child: Child,
    what: String,
    lines: Receiver<Line>,
}

fn forward(out: impl Read + Send + 'static, stderr: bool, tx: Sender<Line>) {
    // Drains the pipe so the child never blocks on it; ends at EOF, which
    // comes when the child (and anything it forked) has exited.
    std::thread::spawn(move || {
        for text in BufReader::new(out).lines() {
            let Ok(text) = text else { break };
            if tx.send(Line { stderr, text }).is_err() {
                break;
            }
        }
    });
}

impl Guard {
    /// Start `cmd` with stdout and stderr read line by line.
    pub fn spawn(mut cmd: Command, what: &str) -> Result<Guard, String> {
        use std::os::unix::process::CommandExt;
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).env("NO_COLOR", "1");
        // Its own process group: Ctrl-C reaches the bench alone, which
        // stops its servers in order; a SIGKILL can reach forked children.
        cmd.process_group(0);
        // If the bench dies without running Drop (SIGKILL), the kernel
        // sends the child SIGTERM, so no server outlives it. Every child
        // is started from the main thread, whose exit is what triggers it.
        // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches
        // no memory of the parent.
        unsafe {
            cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from));
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {what}: {e}"))?;
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            forward(out, false, tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward(err, true, tx);
        }
        Ok(Guard { child, what: what.to_string(), lines })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.child.stdin.as_mut()
    }

    /// Close the child's stdin (its signal to finish, for the load generator).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Read lines until `found` recognises one, for at most `timeout`.
    /// The error says why not: the child's own error lines when it has
    /// them ("model fork: not built yet"), else its exit or the timeout.
    pub fn wait_for<T>(&mut self, timeout: Duration, found: impl Fn(&Line) -> Option<T>) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            if cancel::is_cancelled() {
                return Err("cancelled with Ctrl-C".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.min(Duration::from_millis(50))) {
                Ok(line) => {
                    if let Some(t) = found(&line) {
                        return Ok(t);
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(why(&seen).unwrap_or(format!(
                        "{}: no answer in {} ms",
                        self.what,
                        timeout.as_millis()
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map_or("exited".into(), |s| format!("exited ({s})"));
                    return Err(why(&seen).unwrap_or(format!("{} {status}", self.what)));
                }
            }
        }
    }

    /// The child's error lines printed within `wait` (or until it exits):
    /// why a server that announced its address then serves nothing.
    pub fn errors(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => return why(&seen),
            }
        }
    }
}

/// The first error among a child's lines: a JSON `error` event from
/// `netlab serve --format json`, or anything on stderr.
fn why(lines: &[Line]) -> Option<String> {
    lines.iter().find_map(|l| {
        if l.stderr && !l.text.trim().is_empty() {
            return Some(l.text.trim().trim_start_matches("error: ").to_string());
        }
        let v: serde_json::Value = serde_json::from_str(&l.text).ok()?;
        (v.get("event")? == "error").then(|| v.get("text")?.as_str().map(str::to_string))?
    })
}

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The whole group: a fork-model server's children too.
        let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// `netlab serve echo --model M` on 127.0.0.1:0, its address once it is
/// listening. A model that is not built yet still announces an address,
/// then exits: [`probe`] tells the two apart.
pub fn serve_echo(model: &str, max_conns: usize) -> Result<(Guard, SocketAddr), String> {
    let mut cmd = Command::new(netlab_bin()?);
    cmd.args(["serve", "echo", "--model", model, "--addr", "127.0.0.1:0", "--format", "json"])
        .args(["--max-conns", &max_conns.to_string()])
        .stdin(Stdio::null());
    let mut guard = Guard::spawn(cmd, &format!("netlab serve echo --model {model}"))?;
    let addr = guard.wait_for(Duration::from_secs(10), listening_addr)?;
    Ok((guard, addr))
}

/// The address in `{"event":"notice","text":"listening on 127.0.0.1:PORT (…)"}`.
fn listening_addr(line: &Line) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(&line.text).ok()?;
    let text = v.get("text")?.as_str()?;
    text.strip_prefix("listening on ")?.split_whitespace().next()?.parse().ok()
}

/// One small echo round trip: is anything serving at `addr`?
pub fn probe(addr: SocketAddr) -> Result<(), String> {
    use std::io::Write;
    let timeout = Duration::from_secs(2);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.write_all(b"probe").map_err(|e| format!("send: {e}"))?;
    let mut back = [0u8; 5];
    s.read_exact(&mut back).map_err(|e| format!("no echo: {e}"))?;
    if &back == b"probe" { Ok(()) } else { Err("the echo differs from what was sent".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(text: &str) -> Line {
        Line { stderr: false, text: text.into() }
    }

    #[test]
    fn finds_the_address_in_the_listening_notice() {
        let line = out(r#"{"event":"notice","text":"listening on 127.0.0.1:4567 (echo, model thread)","t_ms":1.0}"#);
        assert_eq!(listening_addr(&line), Some("127.0.0.1:4567".parse().unwrap()));
        assert_eq!(listening_addr(&out(r#"{"event":"notice","text":"Ctrl-C stops"}"#)), None);
        assert_eq!(listening_addr(&out("listening on 127.0.0.1:1")), None);
    }

    #[test]
    fn the_reason_is_the_first_error_line() {
        let lines = [
            out(r#"{"event":"notice","text":"listening on 127.0.0.1:1"}"#),
            out(r#"{"event":"error","text":"model fork: not built yet"}"#),
        ];
        assert_eq!(why(&lines).as_deref(), Some("model fork: not built yet"));
        let lines = [Line { stderr: true, text: "error: serve: bad flag".into() }];
        assert_eq!(why(&lines).as_deref(), Some("serve: bad flag"));
        assert_eq!(why(&[out("{}")]), None);
    }
}
