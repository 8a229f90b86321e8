//! Running `netlab check` and reading its JSON verdicts: shared by the
//! tests of every protocol's suite, against netlab's own servers and the
//! gallery of broken ones in tests/fixtures/.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::server;

/// What one `netlab check … --format json` run reported.
pub struct CheckRun {
    pub code: i32,
    /// Every `check_test` event's report.
    pub tests: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl CheckRun {
    fn status(&self, name: &str) -> &str {
        self.report(name)["status"].as_str().unwrap_or("")
    }

    pub fn report(&self, name: &str) -> &Value {
        self.tests
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no test {name} in the run:\n{}", self.stdout))
    }

    /// Names of the tests that failed (or did not run), in order.
    pub fn failed(&self) -> Vec<String> {
        self.tests
            .iter()
            .filter(|t| t["status"] != "passed")
            .map(|t| t["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn passed(&self, name: &str) -> bool {
        self.status(name) == "passed"
    }

    /// The one-sentence assumption a failed test names.
    pub fn assumption(&self, name: &str) -> String {
        let r = self.report(name);
        assert_eq!(r["status"], "failed", "{name} did not fail:\n{}", self.stdout);
        r["failure"]["assumption"].as_str().unwrap_or("").to_string()
    }

    /// The assumption and every fact of a failed test, as one text.
    pub fn explanation(&self, name: &str) -> String {
        let r = self.report(name);
        let facts: Vec<&str> =
            r["failure"]["facts"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        format!("{} {}", self.assumption(name), facts.join(" "))
    }

    /// Panics with the whole output unless every test passed and the exit status is 0.
    pub fn assert_all_passed(&self, what: &str) {
        assert!(
            self.code == 0 && self.failed().is_empty(),
            "{what}: failed {:?}\n{}\n{}",
            self.failed(),
            self.stdout,
            self.stderr
        );
    }
}

/// `netlab check ARGS --format json`.
pub fn run(args: &[&str]) -> CheckRun {
    run_env(args, &[])
}

pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> CheckRun {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .arg("check")
        // Before ARGS: after a `--`, they would go to the learner's program.
        .args(["--format", "json"])
        .args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run netlab check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let tests = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "check_test")
        .map(|v| v["report"].clone())
        .collect();
    CheckRun {
        code: out.status.code().unwrap_or(-1),
        tests,
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The path of a gallery server, for `-- python3 PATH`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Whether python3 runs here; says so once if not.
pub fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("notice: python3 is not installed; skipping the gallery of broken servers");
    }
    ok
}

/// Check a gallery server started by netlab itself.
pub fn fixture_run(proto: &str, file: &str, extra: &[&str]) -> CheckRun {
    let path = fixture(file);
    let mut args = vec![proto];
    args.extend_from_slice(extra);
    args.extend(["--", "python3", path.as_str()]);
    run(&args)
}

/// `netlab check PROTO` against `netlab serve SERVE_ARGS…` (the server
/// stopped afterwards); `check_extra` adds options to the check.
pub fn against_reference(proto: &str, serve_args: &[&str], check_extra: &[&str]) -> CheckRun {
    let srv = server::start(serve_args);
    let addr = srv.addr.to_string();
    let mut args = vec![proto, addr.as_str()];
    args.extend_from_slice(check_extra);
    let run = run(&args);
    drop(srv);
    run
}

pub const MODELS: [&str; 7] = ["iterative", "thread", "fork", "pool", "select", "poll", "epoll"];

/// What each model fails by design: iterative serves one client at a
/// time; a pool of 4 workers serves 4 (the fifth of 50 waits), though a
/// slow reader ties up only one of them.
pub fn expected_failures(model: &str) -> Vec<&'static str> {
    match model {
        "iterative" => vec!["concurrent", "slow-reader"],
        "pool" => vec!["concurrent"],
        _ => vec![],
    }
}

/// `check(["--model", M])` for every model, and epoll `--edge`: each must
/// fail exactly its design limits, and exit 1 only then.
pub fn in_every_model(what: &str, check: impl Fn(&[&str]) -> CheckRun) {
    for model in MODELS {
        let run = check(&["--model", model]);
        let expected = expected_failures(model);
        assert_eq!(run.failed(), expected, "{what} --model {model}:\n{}", run.stdout);
        assert_eq!(run.code, if expected.is_empty() { 0 } else { 1 }, "{what} --model {model}");
    }
    check(&["--model", "epoll", "--edge"]).assert_all_passed(&format!("{what} --model epoll --edge"));
}
