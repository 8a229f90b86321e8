//! `netlab bench`'s report as text: echo, framing, connections, targets.

use colored::Colorize;

use crate::bench::report::{ConnsRow, EchoRow, FramingRow, Report};
use crate::bench::stats::{latency, thousands};

/// Left-aligned columns two spaces apart, header in bold.
fn columns(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = vec![line(&header).bold().to_string()];
    out.extend(rows.iter().map(|r| line(r)));
    out
}

fn echo_cells(r: &EchoRow) -> Vec<String> {
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("n/a".to_string(), f);
    let note = r.na.clone().or(r.note.clone()).unwrap_or_default();
    vec![
        r.server.clone(),
        r.clients.to_string(),
        opt(r.rps, |v| thousands(v.round() as u64)),
        opt(r.p50_us, latency),
        opt(r.p99_us, latency),
        note,
    ]
}

fn framing_cells(r: &FramingRow) -> Vec<String> {
    vec![
        r.framing.clone(),
        r.mb_per_s.map_or("n/a".into(), |v| thousands(v.round() as u64)),
        r.percent_of_raw.map_or("n/a".into(), |p| format!("{p:.0}%")),
        r.na.clone().unwrap_or_default(),
    ]
}

fn conns_line(c: &ConnsRow) -> String {
    let limit = c.nofile_hard.map_or(String::new(), |h| format!("; RLIMIT_NOFILE hard limit {h}"));
    let mut text = match (&c.na, c.held) {
        (Some(why), _) => format!("n/a: {why}"),
        (None, Some(held)) => {
            let rss = c.server_rss_kb.map_or("unknown".into(), |kb| format!("{:.1} MB", kb as f64 * 1024.0 / 1e6));
            format!(
                "held {} of {}; {} of {} sampled connections echoed; server RSS {rss}",
                thousands(held as u64),
                thousands(c.wanted as u64),
                c.sample_ok,
                c.sampled
            )
        }
        (None, None) => "not measured".into(),
    };
    text.push_str(&limit);
    if let Some(note) = &c.note {
        text.push_str(&format!("\n  {}", note.yellow()));
    }
    text
}

pub fn render(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let title = |t: String| vec![String::new(), t.bold().cyan().to_string()];
    out.extend(title(format!("echo: {}-byte round trips, clients on their own connections", r.message_bytes)));
    let mut rows: Vec<Vec<String>> = r.echo.iter().map(echo_cells).collect();
    rows.push(echo_cells(&r.python));
    out.extend(columns(&["SERVER", "CLIENTS", "REQ/S", "P50", "P99", "NOTE"], &rows));

    match r.framing.first() {
        Some(first) => {
            let size = first.message_bytes / 1024;
            out.extend(title(format!("framing: bulk transfer over loopback, {size} KiB messages")));
            let rows: Vec<Vec<String>> = r.framing.iter().map(framing_cells).collect();
            out.extend(columns(&["FRAMING", "MB/S", "OF RAW", "NOTE"], &rows));
        }
        None => {
            out.extend(title("framing: bulk transfer over loopback".into()));
            out.push("not measured".into());
        }
    }

    out.extend(title("connections: one epoll server, a separate load-generator process".into()));
    out.push(conns_line(&r.conns));

    out.extend(title("targets".into()));
    for t in &r.targets {
        let mark = match t.ok {
            Some(true) => "✓".green().bold(),
            Some(false) => "✗".red().bold(),
            None => "–".dimmed(),
        };
        out.push(format!("{mark} {}: {} (target {})", t.what, t.measured.bold(), t.target));
    }
    let mode = if r.quick { ", --quick" } else { "" };
    let cancelled = if r.cancelled { "; cancelled with Ctrl-C, rows after it are n/a" } else { "" };
    out.push(format!("{}", format!("{:.1} s{mode}{cancelled}", r.seconds).dimmed()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{PYTHON_CLIENTS, Target};
    use crate::bench::stats::Summary;

    #[test]
    fn rows_show_numbers_or_why_not_and_targets_their_mark() {
        colored::control::set_override(false);
        let s = Summary { requests: 12_345, rps: 12_345.4, p50_us: 85.0, p99_us: 1500.0 };
        let report = Report {
            quick: true,
            seconds: 2.5,
            cancelled: false,
            message_bytes: 64,
            echo: vec![
                EchoRow::measured("thread", 10, s, 10, None),
                EchoRow::na("fork", 10, "model fork: not built yet"),
            ],
            python: EchoRow::na("python", PYTHON_CLIENTS, "python3 not found on PATH"),
            framing: Vec::new(),
            conns: ConnsRow { wanted: 1000, na: Some("cancelled".into()), ..Default::default() },
            targets: vec![Target {
                what: "w".into(), target: "≥ 3×".into(), measured: "4.00×".into(), ok: Some(true)
            }],
        };
        let text = render(&report).join("\n");
        assert!(text.contains("thread  10       12,345  85 µs  1.5 ms"), "{text}");
        assert!(text.contains("fork    10       n/a     n/a    n/a     model fork: not built yet"), "{text}");
        assert!(text.contains("python3 not found on PATH"), "{text}");
        assert!(text.contains("n/a: cancelled"), "{text}");
        assert!(text.contains("loopback\nnot measured"), "{text}");
        assert!(text.contains("✓ w: 4.00× (target ≥ 3×)"), "{text}");
        assert!(text.contains("2.5 s, --quick"), "{text}");
    }
}
