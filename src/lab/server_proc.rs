//! A reference server the playground started (`serve echo --model fork as
//! srv`): the real `netlab serve` binary as a child process, so a learner
//! sees a real PID, real forked children, real zombies. Its log lines come
//! back over a pipe, a reader thread per stream turning them into lines on
//! a channel that the lab drains around every command.
//!
//! The child gets its own process group, so the learner's Ctrl-C (which
//! the terminal sends to the whole foreground group) cancels the REPL's
//! current wait without killing the server; and PR_SET_PDEATHSIG, so a
//! crashed lab takes its server with it.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long a server may take to print its address, or to exit after SIGTERM.
pub const START_TIMEOUT: Duration = Duration::from_secs(5);

/// One line a server printed, tagged with the stream it came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Err(String),
}

pub struct ServerProc {
    child: Child,
    pub local: SocketAddr,
    lines: Receiver<Line>,
    readers: Vec<JoinHandle<()>>,
}

/// The `netlab` binary to run: this one, unless this process is a test or
/// bench harness (then the one cargo built next to it, or `NETLAB_BIN`).
pub fn netlab_bin() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NETLAB_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the netlab binary: {e}"))?;
    if exe.file_stem().is_some_and(|s| s == "netlab") {
        return Ok(exe);
    }
    // target/<profile>/deps/<harness> → target/<profile>/netlab
    let sibling = exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("netlab"));
    sibling
        .filter(|p| p.is_file())
        .ok_or_else(|| "cannot find the netlab binary to run the server: set NETLAB_BIN".to_string())
}

fn forward(stream: impl Read + Send + 'static, tx: Sender<Line>, wrap: fn(String) -> Line) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if strip_stamp(&line) == crate::serve::STOP_HINT {
                continue;
            }
            if tx.send(wrap(line)).is_err() {
                break;
            }
        }
    })
}

/// The line `netlab serve` prints first: `listening on 127.0.0.1:PORT (…)`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    line.strip_prefix("listening on ")?.split_whitespace().next()?.parse().ok()
}

/// `netlab serve` prefixes each line with a timestamp; the lab shows its
/// own timeline, so the server's clock only adds noise.
pub fn strip_stamp(line: &str) -> &str {
    let t = line.trim_start();
    match t.split_once("ms ") {
        Some((stamp, rest)) if !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_digit() || c == '.') => rest,
        _ => line,
    }
}

impl ServerProc {
    /// Start `netlab serve ARGS --addr 127.0.0.1:0` and wait for its address.
    /// Lines it printed meanwhile (and, on failure, its error) are returned.
    pub fn start(args: &[String]) -> Result<(ServerProc, Vec<Line>), String> {
        let mut cmd = Command::new(netlab_bin()?);
        cmd.arg("serve").args(args).args(["--addr", "127.0.0.1:0"]);
        cmd.env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start netlab serve: {e}"))?;
        let (tx, lines) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(forward(out, tx.clone(), Line::Out));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(forward(err, tx, Line::Err));
        }
        let mut server = ServerProc { child, local: SocketAddr::from(([127, 0, 0, 1], 0)), lines, readers };
        let mut seen = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Line::Out(text) = &line
                        && let Some(addr) = listening_addr(strip_stamp(text))
                    {
                        server.local = addr;
                        seen.push(line);
                        return Ok((server, seen));
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // It exited: its stderr says why (a bad option, a missing key…).
                    let why = seen.iter().rev().find_map(|l| match l {
                        Line::Err(e) => Some(e.trim_start_matches("error: ").trim_start_matches("serve: ").to_string()),
                        Line::Out(_) => None,
                    });
                    return Err(why.unwrap_or_else(|| "netlab serve exited without printing its address".into()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("netlab serve printed no address within {} s", START_TIMEOUT.as_secs()));
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines printed since the last call, without waiting.
    pub fn new_lines(&self) -> Vec<Line> {
        self.lines.try_iter().collect()
    }

    /// Wait up to `timeout` for the next line. `Err(())`: the server has
    /// exited (both pipes closed), so no line will ever come.
    pub fn next_line(&self, timeout: Duration) -> Result<Option<Line>, ()> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// SIGTERM, then wait for the exit (SIGKILL if it does not come):
    /// the server closes its sockets and reaps its children first.
    /// Returns the lines it printed on the way out and how it ended.
    pub fn stop(mut self) -> (Vec<Line>, String) {
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let mut lines = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        // Both pipes reach EOF when it has exited.
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        // Its pipes closed as it exited; the exit itself is a moment later.
        let left = deadline.saturating_duration_since(Instant::now());
        let exited = super::cancel::wait_until(left, || self.child.try_wait().ok().flatten());
        let status = match exited {
            Ok(status) => status.to_string(),
            Err(_) => {
                // The whole group: a fork-model server's children too.
                let _ = killpg(pid, Signal::SIGKILL);
                self.child.wait().map_or_else(|e| e.to_string(), |s| format!("{s} (killed: it ignored SIGTERM)"))
            }
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        (lines, status)
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // Only reached without stop() on a panic path: never leave a server behind.
        if self.readers.is_empty() {
            return;
        }
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_stripped_and_addresses_found() {
        assert_eq!(strip_stamp("     3.0ms conn#1 accept → client x"), "conn#1 accept → client x");
        assert_eq!(
            strip_stamp("listening on 127.0.0.1:5 (echo, model thread)"),
            "listening on 127.0.0.1:5 (echo, model thread)"
        );
        assert_eq!(
            listening_addr("listening on 127.0.0.1:4242 (echo, model thread)"),
            Some(([127, 0, 0, 1], 4242).into())
        );
        assert_eq!(listening_addr("shut down"), None);
    }
}
