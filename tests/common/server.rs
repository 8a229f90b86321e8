//! A `netlab serve` child process and blocking loopback clients for it,
//! shared by every test of the reference servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The server child; killed if a test fails before it exits on its own.
pub struct Server {
    pub child: Child,
    pub lines: Receiver<String>,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    // Keeps draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn start(args: &[&str]) -> Server {
    start_env(args, &[])
}

/// [`start`] with extra environment variables (NETLAB_KEY…).
pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .arg("serve")
        .args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn netlab serve");
    let lines = read_lines(child.stdout.take().expect("piped stdout"));
    let mut server = Server { child, lines, addr: "127.0.0.1:1".parse().unwrap() };
    let line = server.lines.recv_timeout(TIMEOUT).expect("the server prints its address");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{line}");
    server.addr = addr;
    server
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Send `payload` in writes of `chunk` bytes from another thread (so a big
/// payload cannot deadlock with the replies), and read the whole reply.
pub fn round_trip(addr: SocketAddr, payload: Vec<u8>, chunk: usize) -> Vec<u8> {
    let mut s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let len = payload.len();
    let writer = std::thread::spawn(move || {
        for part in payload.chunks(chunk) {
            w.write_all(part).unwrap();
        }
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(len);
    s.read_to_end(&mut got).expect("read the reply to EOF");
    writer.join().unwrap();
    got
}

/// SIGTERM, then wait for exit 0; returns the lines printed since the address.
pub fn stop(mut server: Server) -> Vec<String> {
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    // The server's stdout reaches EOF when it exits: wait for that, not a sleep.
    let deadline = Instant::now() + TIMEOUT;
    let mut rest = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match server.lines.recv_timeout(left) {
            Ok(line) => rest.push(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the server did not exit within {TIMEOUT:?} of SIGTERM"),
        }
    }
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit status {status}, output {rest:?}");
    assert!(rest.iter().any(|l| l.contains("shut down")), "{rest:?}");
    rest
}
