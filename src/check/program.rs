//! `netlab check PROTO -- COMMAND…`: netlab starts the learner's server
//! itself, on a free port passed as `$PORT` and as `{port}` in the
//! arguments, waits until the kernel shows it listening (never a fixed
//! sleep, and never a probe connection the server would have to serve),
//! and stops it afterwards — its whole process group, so forked children
//! go too.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::target;

/// Lines of the program's output kept for "its last lines were".
const TAIL: usize = 12;

/// How long a stopped program gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

type Tail = Arc<Mutex<VecDeque<String>>>;

pub struct Program {
    command: Vec<String>,
    udp: bool,
    child: Child,
    pub addr: SocketAddr,
    tail: Tail,
    /// One message per output pipe when it reaches EOF.
    drained: Receiver<()>,
    pipes: usize,
}

/// How often a port is picked again when another program took it first.
const PORT_TRIES: usize = 3;

/// Why a started program is not listening.
enum Listen {
    /// Another program listens on the port picked for it.
    Taken,
    Failed(String),
}

/// A free port right now: bind port 0 and let go. Another program could
/// take it before the learner's does: see [`Program::start`].
fn free_port(udp: bool) -> Result<u16, String> {
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let port = if udp {
        UdpSocket::bind(any).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(any).and_then(|s| s.local_addr())
    };
    port.map(|a| a.port()).map_err(|e| format!("cannot find a free port: {e}"))
}

fn keep_lines(pipe: impl Read + Send + 'static, tail: Tail, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() == TAIL {
                t.pop_front();
            }
            t.push_back(line);
        }
        let _ = done.send(());
    });
}

/// "exited with status 1", "was killed by SIGSEGV".
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => {
            let name =
                Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("signal {sig}"));
            format!("was killed by {name}")
        }
        _ => "ended".into(),
    }
}

impl Program {
    /// Start `command` and wait (up to `patience`) until it listens.
    pub fn start(command: &[String], udp: bool, patience: Duration) -> Result<Program, String> {
        // The port is free when picked, but another program may take it
        // before the learner's binds it: then it is picked again.
        for _ in 0..PORT_TRIES {
            let port = free_port(udp)?;
            let mut program = Program::spawn(command, udp, port)?;
            match program.wait_listening(patience) {
                Ok(()) => return Ok(program),
                Err(Listen::Failed(why)) => return Err(why),
                Err(Listen::Taken) => {
                    program.stop();
                }
            }
        }
        Err(format!(
            "another program took the free port netlab picked for yours, {PORT_TRIES} times running: try again"
        ))
    }

    fn spawn(command: &[String], udp: bool, port: u16) -> Result<Program, String> {
        let Some((program, args)) = command.split_first() else {
            return Err("give the command that runs your server after --, e.g. -- python3 server.py {port}".into());
        };
        let args: Vec<String> = args.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        // `netlab` is this very binary, PATH or not: lessons start netlab's
        // own servers this way (`-- netlab serve echo --addr 127.0.0.1:{port}`).
        let exe = match program.as_str() {
            "netlab" => crate::lab::server_proc::netlab_bin()?,
            _ => program.into(),
        };
        let mut cmd = Command::new(exe);
        cmd.args(&args)
            .env("PORT", port.to_string())
            // Python buffers a piped stdout: its prints would come too late.
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: stopping it stops what it forked.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {program}: {e}"))?;
        let tail: Tail = Arc::default();
        let (done, drained) = mpsc::channel();
        let mut pipes = 0;
        if let Some(out) = child.stdout.take() {
            keep_lines(out, tail.clone(), done.clone());
            pipes += 1;
        }
        if let Some(err) = child.stderr.take() {
            keep_lines(err, tail.clone(), done);
            pipes += 1;
        }
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        Ok(Program { command: command.to_vec(), udp, child, addr, tail, drained, pipes })
    }

    /// Backoff from 2 ms to 50 ms between looks at the kernel's tables.
    fn wait_listening(&mut self, patience: Duration) -> Result<(), Listen> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let bound =
                if self.udp { target::udp_bound(self.addr.port()) } else { target::tcp_listeners(self.addr.port()) };
            if bound.iter().any(|&l| target::answers_on(l, self.addr)) {
                // Someone's socket answers on the port: the tests must not
                // go to another program that happened to take it.
                return if self.owns_port() { Ok(()) } else { Err(Listen::Taken) };
            }
            if let Some(elsewhere) = bound.first() {
                self.stop();
                return Err(Listen::Failed(format!(
                    "your program listens on {elsewhere}, which 127.0.0.1 cannot reach: bind 127.0.0.1 (or 0.0.0.0)"
                )));
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let lines = self.last_lines();
                return Err(Listen::Failed(format!(
                    "your program {} before it listened on port {}{}",
                    describe_exit(status),
                    self.addr.port(),
                    quoted(&lines)
                )));
            }
            if crate::lab::cancel::is_cancelled() {
                self.stop();
                return Err(Listen::Failed("cancelled with Ctrl-C".into()));
            }
            if started.elapsed() >= patience {
                let elsewhere = self.listening_elsewhere();
                self.stop();
                let hint = match elsewhere {
                    Some(a) => format!(" — it listens on {a} instead"),
                    None => String::new(),
                };
                return Err(Listen::Failed(format!(
                    "your program did not listen on port {} within {} ms{hint}: it must take its port from $PORT \
                     or from {{port}} in its arguments (or give --start-timeout MS if it starts slowly)",
                    self.addr.port(),
                    patience.as_millis()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Whether the socket that answers on our port is held by the
    /// program's process group (or what it forked). When no process can be
    /// seen holding it (another user's, or /proc hides their fds), it is
    /// taken to be ours: only a stranger seen holding it is one.
    fn owns_port(&self) -> bool {
        let owners = target::Processes::owning(self.addr, self.udp).pids;
        let group = target::Processes::group(self.pgid());
        owners.is_empty() || owners.iter().any(|p| group.pids.contains(p))
    }

    /// A port the program's process group listens on, if not ours.
    fn listening_elsewhere(&self) -> Option<SocketAddr> {
        let group = target::Processes::group(self.child.id() as i32);
        let rows = crate::wire::kernel::read_table(crate::wire::kernel::Proto::Tcp).ok()?;
        rows.iter()
            .filter(|r| r.tcp_state() == Some(crate::wire::kernel::TcpState::Listen))
            .find(|r| target::Processes::owning(r.local, false).pids.iter().any(|p| group.pids.contains(p)))
            .map(|r| r.local)
    }

    pub fn pgid(&self) -> i32 {
        self.child.id() as i32
    }

    /// If it has exited: how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// If it exits within `patience` (or has already): how.
    pub fn exited_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its last lines of output (stdout and stderr, interleaved); once it
    /// has exited, after the pipe readers caught its dying words.
    pub fn last_lines(&mut self) -> Vec<String> {
        if self.exited().is_some() {
            self.wait_pipes();
        }
        self.tail.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    /// Start it again on a fresh port (the old one may sit in TIME_WAIT).
    pub fn restart(&mut self, patience: Duration) -> Result<(), String> {
        self.stop();
        let fresh = Program::start(&self.command, self.udp, patience)?;
        *self = fresh;
        Ok(())
    }

    /// SIGTERM to the whole group, SIGKILL after a grace period, reaped.
    /// Returns how it ended if it had already exited on its own.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            self.kill_group(Signal::SIGKILL);
            self.wait_pipes();
            return Some(status);
        }
        self.kill_group(Signal::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Children that ignored SIGTERM, or outlived their parent.
        self.kill_group(Signal::SIGKILL);
        let _ = self.child.wait();
        self.wait_pipes();
        None
    }

    fn kill_group(&self, sig: Signal) {
        let _ = killpg(Pid::from_raw(self.pgid()), sig);
    }

    /// The readers end when every holder of the pipes is gone; a program
    /// that put a process outside its group is not waited for.
    fn wait_pipes(&mut self) {
        while self.pipes > 0 && self.drained.recv_timeout(Duration::from_secs(1)).is_ok() {
            self.pipes -= 1;
        }
        self.pipes = 0;
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if self.pipes > 0 || self.exited().is_none() {
            self.stop();
        }
    }
}

/// `: its last lines were:\n  …`, or nothing.
pub fn quoted(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let body: Vec<String> = lines.iter().map(|l| format!("  | {l}")).collect();
    format!("; its last output:\n{}", body.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_another_program_listens_on_is_not_taken_for_the_learners() {
        // This test process is "another program": its listener holds the
        // port, and the started program (which never listens) does not.
        let Ok(other) = TcpListener::bind("127.0.0.1:0") else { return };
        let Ok(port) = other.local_addr().map(|a| a.port()) else { return };
        let command = ["sleep".to_string(), "5".to_string()];
        let mut program = Program::spawn(&command, false, port).expect("sleep starts");
        let seen = program.wait_listening(Duration::from_secs(2));
        program.stop();
        assert!(matches!(seen, Err(Listen::Taken)), "the other program's listener was taken for ours");
    }
}
