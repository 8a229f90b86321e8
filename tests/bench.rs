//! `netlab bench`, run as a user would: its JSON report has the expected
//! shape. No timing is asserted — a loaded machine may be slow, never
//! wrong — only that every row is either a positive measurement or a
//! reason why there is none.

use std::process::{Command, Stdio};

use serde_json::Value;

fn netlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NETLAB_BIN", env!("CARGO_BIN_EXE_netlab"))
        .stdin(Stdio::null())
        .output()
        .expect("run netlab")
}

fn positive(row: &Value, key: &str) -> f64 {
    let v = row[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {row}"));
    assert!(v > 0.0, "{key} not positive in {row}");
    v
}

/// A row is measured (numbers) or not (a non-empty reason), never both.
fn measured(row: &Value) -> bool {
    match row["na"].as_str() {
        Some(why) => {
            assert!(!why.trim().is_empty(), "empty reason in {row}");
            false
        }
        None => {
            assert!(row["na"].is_null(), "{row}");
            true
        }
    }
}

fn check_echo_row(row: &Value) {
    if measured(row) {
        positive(row, "rps");
        let p50 = positive(row, "p50_us");
        let p99 = positive(row, "p99_us");
        assert!(p50 <= p99, "{row}");
        assert!(row["requests"].as_u64().unwrap() > 0 && row["served"].as_u64().unwrap() > 0, "{row}");
    } else {
        assert!(row["rps"].is_null() && row["p50_us"].is_null(), "{row}");
    }
}

#[test]
fn quick_json_report_has_a_row_or_a_reason_for_everything() {
    let out = netlab(&["bench", "--quick", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let reports: Vec<&Value> = events.iter().filter(|e| e["event"] == "bench").collect();
    assert_eq!(reports.len(), 1, "{stdout}");
    let r = &reports[0]["report"];
    assert_eq!(r["quick"], true);
    assert_eq!(r["cancelled"], false);
    assert!(r["seconds"].as_f64().unwrap() > 0.0);

    let echo = r["echo"].as_array().expect("echo rows");
    for model in netlab::serve::Model::ALL {
        for clients in netlab::bench::CLIENTS {
            let rows: Vec<&Value> =
                echo.iter().filter(|row| row["server"] == model.name() && row["clients"] == clients).collect();
            assert_eq!(rows.len(), 1, "model {} at {clients} clients: {rows:?}", model.name());
            check_echo_row(rows[0]);
        }
    }
    // The two models every build has are measured, not n/a.
    for row in echo.iter().filter(|row| row["server"] == "thread" || row["server"] == "iterative") {
        assert!(measured(row), "{row}");
    }
    check_echo_row(&r["python"]);
    assert_eq!(r["python"]["clients"], 100);

    let framing = r["framing"].as_array().expect("framing rows");
    let names: Vec<&str> = framing.iter().map(|f| f["framing"].as_str().unwrap()).collect();
    assert_eq!(names, ["raw", "u32-length", "json-header"]);
    for f in framing {
        assert!(measured(f), "loopback framing always runs: {f}");
        positive(f, "mb_per_s");
        positive(f, "percent_of_raw");
        assert!(f["bytes"].as_u64().unwrap() > 0);
    }

    let conns = &r["conns"];
    assert_eq!(conns["wanted"], 1000, "--quick asks for 1,000");
    if measured(conns) {
        assert!(conns["held"].as_u64().unwrap() > 0, "{conns}");
        assert!(conns["server_rss_kb"].as_u64().unwrap() > 0, "{conns}");
        assert!(conns["sampled"].as_u64().unwrap() > 0, "{conns}");
    }

    let targets = r["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 3);
    for t in targets {
        assert!(t["ok"].is_boolean() || t["ok"].is_null(), "{t}");
        assert!(!t["measured"].as_str().unwrap().is_empty() && !t["target"].as_str().unwrap().is_empty());
    }
}

#[test]
fn bad_options_are_usage_errors() {
    let out = netlab(&["bench", "--models", "thread,nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = netlab(&["bench", "--conns", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--conns"));
}

#[test]
fn the_load_generator_is_hidden_from_help() {
    let help = netlab(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("bench") && !text.contains("bench-load"), "{text}");
}
