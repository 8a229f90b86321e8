//! Maximum connections: an epoll `netlab serve echo` in one process, the
//! load generator (`netlab bench-load`) in another, and the server's
//! resident memory (VmRSS) read while every connection is open.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::child::{self, Guard};
use super::load::{self, LoadResult};
use super::report::ConnsRow;

/// Connections checked with an echo while all are open.
const SAMPLE: usize = 100;

/// The server's cap, above any count the bench asks for by default.
const SERVER_MAX_CONNS: usize = 25_000;

/// VmRSS of `pid` in kB, from /proc/PID/status.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss_kb(&status)
}

fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Hold `wanted` connections on an epoll server, for at most `timeout`.
pub fn row(wanted: usize, timeout: Duration) -> ConnsRow {
    let mut row = ConnsRow { wanted, ..Default::default() };
    // Raised here, before the server starts, so the server inherits the
    // raised soft limit; the load generator raises its own.
    match load::raise_nofile() {
        Ok((_, hard)) => {
            row.nofile_hard = Some(hard);
            if hard < wanted as u64 + load::SPARE_FDS {
                row.note = Some(format!(
                    "the server's RLIMIT_NOFILE hard limit ({hard}) is below the {wanted} connections asked for; {}",
                    load::RAISE
                ));
            }
        }
        Err(e) => row.note = Some(e),
    }
    if let Err(why) = measure(&mut row, wanted, timeout) {
        row.na = Some(why);
    }
    row
}

fn measure(row: &mut ConnsRow, wanted: usize, timeout: Duration) -> Result<(), String> {
    let (server, addr) = child::serve_echo("epoll", SERVER_MAX_CONNS.max(wanted + 16))?;
    let mut server = server;
    if let Err(e) = child::probe(addr) {
        return Err(server.errors(Duration::from_millis(500)).unwrap_or(e));
    }
    let mut cmd = Command::new(child::netlab_bin()?);
    cmd.args(["bench-load", "--addr", &addr.to_string(), "--conns", &wanted.to_string()])
        .args(["--sample", &SAMPLE.to_string()])
        .stdin(Stdio::piped());
    let mut gen_ = Guard::spawn(cmd, "netlab bench-load")?;
    let result: LoadResult =
        gen_.wait_for(timeout, |l| if l.stderr { None } else { serde_json::from_str(&l.text).ok() })?;
    // Every connection is open now: this is the memory they cost.
    row.server_rss_kb = rss_kb(server.pid());
    gen_.close_stdin();
    drop(gen_);
    row.held = Some(result.held);
    row.sampled = result.sampled;
    row.sample_ok = result.sample_ok;
    if result.nofile_hard > 0 {
        row.nofile_hard = Some(row.nofile_hard.unwrap_or(u64::MAX).min(result.nofile_hard));
    }
    let mut notes: Vec<String> = row.note.take().into_iter().collect();
    if let Some(e) = result.error {
        // Both processes have the same hard limit: say it once.
        if e.contains("RLIMIT_NOFILE") {
            notes.clear();
        }
        notes.push(e);
    }
    if result.held < result.opened {
        notes.push(format!("the server closed {} of {} connections", result.opened - result.held, result.opened));
    }
    if result.sample_ok < result.sampled {
        notes.push(format!(
            "{} of {} sampled connections did not echo",
            result.sampled - result.sample_ok,
            result.sampled
        ));
    }
    row.note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss() {
        let status = "Name:\tnetlab\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t1\n";
        assert_eq!(parse_rss_kb(status), Some(5120));
        assert_eq!(parse_rss_kb("Name:\tx\n"), None);
        assert!(rss_kb(std::process::id()).is_some_and(|kb| kb > 0));
    }
}
