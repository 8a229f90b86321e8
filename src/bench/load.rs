//! `netlab bench-load` (hidden): the load generator for the connection
//! count, a process of its own so the server's and the client's file
//! descriptors come from separate RLIMIT_NOFILE budgets, as on two hosts.
//!
//! It opens the connections, checks a sample still echoes, prints one
//! JSON line, then holds everything open until its stdin closes — the
//! bench reads the server's memory in between.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use serde::{Deserialize, Serialize};

/// How to get more descriptors, for the messages that say there are too few.
pub const RAISE: &str = "raise it with `ulimit -Hn N` (as root) or nofile in /etc/security/limits.conf";

/// Descriptors kept back for stdio, the binary, libraries.
pub const SPARE_FDS: u64 = 32;

const TIMEOUT: Duration = Duration::from_secs(3);

/// Connections opened before waiting for the server to accept them. The
/// kernel completes a handshake without the server, into the listen
/// queue; a full queue drops SYNs and the client retries a second later.
/// Fewer than the usual backlog (128) in flight keeps the queue short.
const BATCH: usize = 64;

/// What the load generator reports on its one line of stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoadResult {
    pub wanted: usize,
    pub opened: usize,
    /// Opened and not closed by the server when checked.
    pub held: usize,
    pub sampled: usize,
    pub sample_ok: usize,
    pub nofile_hard: u64,
    pub error: Option<String>,
}

/// Raise the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard).
pub fn raise_nofile() -> Result<(u64, u64), String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit(RLIMIT_NOFILE): {e}"))?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(|e| format!("setrlimit(RLIMIT_NOFILE, {hard}): {e}"))?;
    }
    Ok((hard, hard))
}

/// Open up to `wanted` connections to `addr`, check every `wanted/sample`th.
pub fn generate(addr: SocketAddr, wanted: usize, sample: usize) -> (LoadResult, Vec<TcpStream>) {
    let mut r = LoadResult { wanted, ..Default::default() };
    match raise_nofile() {
        Ok((_, hard)) => r.nofile_hard = hard,
        Err(e) => r.error = Some(e),
    }
    let room = r.nofile_hard.saturating_sub(SPARE_FDS) as usize;
    let target = if r.nofile_hard > 0 { wanted.min(room) } else { wanted };
    if target < wanted {
        r.error = Some(format!(
            "RLIMIT_NOFILE hard limit {} leaves room for {target} connections, not {wanted}; {RAISE}",
            r.nofile_hard
        ));
    }
    let mut conns = Vec::with_capacity(target);
    while conns.len() < target {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                conns.push(s);
                // An echo on the newest connection means the server has
                // accepted it, and the queue (FIFO) every one before it.
                let n = conns.len();
                if n % BATCH == 0 && !round_trip(&conns[n - 1], n - 1) {
                    r.error = Some(format!("connection {n} of {target} did not echo: is the server keeping up?"));
                    break;
                }
            }
            Err(e) => {
                r.error = Some(format!("connection {} of {target}: {e}", conns.len() + 1));
                break;
            }
        }
    }
    r.opened = conns.len();
    if !conns.is_empty() {
        let step = (conns.len() / sample.max(1)).max(1);
        let mut picks: Vec<usize> = (0..conns.len()).step_by(step).take(sample.max(1)).collect();
        if picks.last() != Some(&(conns.len() - 1)) {
            picks.push(conns.len() - 1);
        }
        r.sampled = picks.len();
        r.sample_ok = picks.iter().filter(|&&i| round_trip(&conns[i], i)).count();
    }
    r.held = r.opened.saturating_sub(closed_by_peer(&conns));
    (r, conns)
}

fn round_trip(s: &TcpStream, i: usize) -> bool {
    let msg = format!("conn {i:>8}\n");
    let mut back = vec![0u8; msg.len()];
    let mut s = s;
    s.set_read_timeout(Some(TIMEOUT)).is_ok()
        && s.write_all(msg.as_bytes()).is_ok()
        && s.read_exact(&mut back).is_ok()
        && back == msg.as_bytes()
}

/// How many connections have something to read — the server's EOF or
/// RST, since nothing was sent on them but the sample's echoes, all read.
fn closed_by_peer(conns: &[TcpStream]) -> usize {
    let mut fds: Vec<PollFd> = conns.iter().map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)).collect();
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) | Err(_) => 0,
        Ok(_) => fds.iter().filter(|f| f.revents().is_some_and(|r| !r.is_empty())).count(),
    }
}

/// The hidden subcommand: generate, report, hold until stdin closes (or
/// a minute passes: the bench is gone).
pub fn main(addr: SocketAddr, conns: usize, sample: usize) -> Result<(), String> {
    crate::serve::check_loopback(addr)?;
    let (result, held) = generate(addr, conns, sample);
    let line = serde_json::to_string(&result).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout();
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))?;
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(60_000u16));
    drop(held);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn counts_connections_the_server_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut accepted: Vec<TcpStream> = (0..4).map(|_| listener.accept().unwrap().0).collect();
        assert_eq!(closed_by_peer(&conns), 0);
        let _kept = accepted.pop();
        drop(accepted);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while closed_by_peer(&conns) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(closed_by_peer(&conns), 3);
    }
}
