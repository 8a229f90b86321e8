//! `cargo bench --bench check`: how long each `netlab check` suite takes
//! against netlab's own server (thread model) — the target is
//! under 5 s against a correct server. Printed, never asserted: timing
//! belongs in a benchmark, not in a test a loaded machine can fail.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RUNS: usize = 3;
const TARGET: Duration = Duration::from_secs(5);

/// (label, `netlab serve` arguments, extra `netlab check` arguments)
const SUITES: &[(&str, &[&str], &[&str])] = &[
    ("echo", &["echo"], &[]),
    ("upper", &["upper"], &[]),
    ("upper --udp", &["upper", "--udp"], &["--udp"]),
    ("time", &["time"], &[]),
    ("framed", &["framed"], &[]),
    ("cmd", &["cmd"], &[]),
    // A 1 s answer timeout on both sides: the timeout test waits for it.
    ("auth", &["auth", "--key", "bench", "--auth-timeout", "1000"], &["--key", "bench", "--auth-timeout", "1000"]),
    ("file", &["file"], &[]),
    ("chat", &["chat"], &[]),
];

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str]) -> Option<(Server, SocketAddr)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .arg("serve")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut first = String::new();
    BufReader::new(child.stdout.take()?).read_line(&mut first).ok()?;
    let addr = first.split_whitespace().find_map(|w| w.parse().ok())?;
    Some((Server(child), addr))
}

/// One run: (elapsed, passed, failed), from the summary event.
fn check(proto: &str, addr: SocketAddr, extra: &[&str]) -> Result<(Duration, u64, u64), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["check", "--format", "json", proto, &addr.to_string()])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "check_summary")
        .ok_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string())?;
    let s = &summary["summary"];
    let ms = s["elapsed_ms"].as_f64().unwrap_or(0.0);
    Ok((Duration::from_secs_f64(ms / 1000.0), s["passed"].as_u64().unwrap_or(0), s["failed"].as_u64().unwrap_or(0)))
}

fn main() {
    println!("{:<14} {:>9} {:>9} {:>9}  tests  target", "suite", "min", "median", "max");
    for (label, serve_args, extra) in SUITES {
        let proto = label.split(' ').next().unwrap_or(label);
        let Some((_server, addr)) = serve(serve_args) else {
            println!("{label:<14} cannot start netlab serve {}", serve_args.join(" "));
            continue;
        };
        let mut times = Vec::new();
        let mut counts = (0, 0);
        for _ in 0..RUNS {
            match check(proto, addr, extra) {
                Ok((t, passed, failed)) => {
                    times.push(t);
                    counts = (passed, failed);
                }
                Err(why) => {
                    println!("{label:<14} not measured: {why}");
                    break;
                }
            }
        }
        if times.is_empty() {
            continue;
        }
        times.sort();
        let s = |d: Duration| format!("{:7.2} s", d.as_secs_f64());
        let (min, median, max) = (times[0], times[times.len() / 2], times[times.len() - 1]);
        let verdict = if max < TARGET { "ok (< 5 s)" } else { "SLOW (≥ 5 s)" };
        let failed = if counts.1 > 0 { format!(", {} FAILED", counts.1) } else { String::new() };
        println!("{label:<14} {} {} {}  {:>3}{failed}  {verdict}", s(min), s(median), s(max), counts.0);
    }
}
