//! Run a Python 3 client (stdlib only) against a server, to prove wire
//! compatibility with programs written the classic tutorial way.

use std::io::Write;
use std::process::{Command, Stdio};

/// Run `script` with `python3 - ARGS…`; its stdout, or `None` (after a
/// notice) when python3 is not installed. Panics if the script fails.
pub fn run(script: &str, args: &[String]) -> Option<String> {
    let spawned = Command::new("python3")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("notice: python3 is not installed; skipping the Python client check");
            return None;
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    child.stdin.take().expect("piped stdin").write_all(script.as_bytes()).expect("write the script");
    let out = child.wait_with_output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "python3 failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    Some(stdout)
}
