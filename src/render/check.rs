//! `netlab check` as text: a line per test, and for a failure the
//! assumption that broke, the bytes (first difference marked with a
//! caret), and the byte log.

use colored::Colorize;

use super::hexdump;
use crate::check::report::{ByteView, Failure, LogEntry, Logged, Mismatch, Outcome, Summary, TestReport};
use crate::event::CheckListRow;

const INDENT: &str = "    ";

pub fn start(proto: &str, target: &str, server: Option<&str>, tests: usize) -> Vec<String> {
    let server = server.map_or(String::new(), |s| format!(" — {s}"));
    vec![format!("{} {} against {target}{server}: {tests} tests", "netlab check".bold(), proto.bold())]
}

pub fn test(report: &TestReport) -> Vec<String> {
    let took = format!("({:.0} ms)", report.elapsed_ms).dimmed();
    let mut lines = match &report.outcome {
        Outcome::Passed { summary } => {
            vec![format!("{} {:<16} {summary} {took}", "✓".green().bold(), report.name.green())]
        }
        Outcome::NotRun { why } => {
            vec![format!("{} {:<16} {}", "-".yellow().bold(), report.name.yellow(), format!("not run: {why}").yellow())]
        }
        Outcome::Failed { failure } => {
            let mut l = vec![format!("{} {:<16} {} {took}", "✗".red().bold(), report.name.red().bold(), report.about)];
            l.extend(failure_lines(failure));
            l
        }
    };
    if !report.log.is_empty() {
        lines.push(format!("{INDENT}{}", "byte log:".dimmed()));
        lines.extend(report.log.iter().map(log_line));
    }
    lines
}

fn failure_lines(f: &Failure) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, text) in f.assumption.lines().enumerate() {
        let text = if i == 0 { format!("→ {text}") } else { format!("  {text}") };
        lines.push(format!("{INDENT}{}", text.red().bold()));
    }
    for fact in &f.facts {
        for (i, text) in fact.lines().enumerate() {
            let mark = if i == 0 { "·" } else { " " };
            lines.push(format!("{INDENT}{mark} {text}"));
        }
    }
    if let Some(sent) = &f.sent {
        lines.extend(labelled_dump("sent", sent, None));
    }
    if let Some(m) = &f.mismatch {
        lines.extend(mismatch_lines(m));
    }
    lines
}

/// Dump lines under a label in a fixed-width column; `caret_at` marks a
/// stream offset under the line that holds (or would next hold) it.
fn labelled_dump(label: &str, view: &ByteView, caret_at: Option<usize>) -> Vec<String> {
    let mut dump = hexdump::hexdump_at(&view.data, view.offset);
    let data_lines = dump.len();
    let mut caret = caret_at.and_then(|at| {
        let line = at.checked_sub(view.offset)? / 16;
        let column = INDENT.len() + 10 + hexdump::hex_column(at);
        Some((line, format!("{}{}", " ".repeat(column), "^^".red().bold())))
    });
    // A stream that ended on a line boundary: the missing byte starts a line.
    if let Some((line, _)) = &caret
        && *line == data_lines
        && data_lines > 0
    {
        dump.push(format!("{:08x}", view.offset + data_lines * 16));
    }
    let shown_end = view.offset + view.data.len();
    if view.data.is_empty() {
        let all = if view.total > 0 { format!("; {} bytes in all", view.total) } else { String::new() };
        dump.push(format!("(nothing{all})"));
        caret = None;
    } else if shown_end < view.total {
        dump.push(format!("… {} more bytes ({} in all)", view.total - shown_end, view.total));
    }
    let mut lines = Vec::new();
    for (i, line) in dump.iter().enumerate() {
        let head = if i == 0 { format!("{label:<9}") } else { " ".repeat(9) };
        lines.push(format!("{INDENT}{} {line}", head.dimmed()));
        if let Some((at_line, text)) = &caret
            && *at_line == i
        {
            lines.push(text.clone());
        }
    }
    lines
}

fn describe_byte(view: &ByteView, at: usize) -> String {
    match at.checked_sub(view.offset).and_then(|i| view.data.get(i)) {
        Some(&b) if b.is_ascii_graphic() || b == b' ' => format!("0x{b:02x} '{}'", b as char),
        Some(&b) => format!("0x{b:02x}"),
        None if view.total == 0 => "nothing".into(),
        None if at >= view.total => {
            let unit = if view.total == 1 { "byte" } else { "bytes" };
            format!("nothing more (the reply stopped after {} {unit})", view.total)
        }
        None => "a byte not shown".into(),
    }
}

fn mismatch_lines(m: &Mismatch) -> Vec<String> {
    let mut lines = labelled_dump("expected", &m.expected, None);
    lines.extend(labelled_dump("received", &m.received, Some(m.first_diff)));
    if m.received.total == 0 {
        return lines;
    }
    lines.push(format!(
        "{INDENT}{} first difference at byte {}: expected {}, received {}",
        " ".repeat(9),
        m.first_diff,
        describe_byte(&m.expected, m.first_diff),
        describe_byte(&m.received, m.first_diff)
    ));
    lines
}

fn log_line(e: &LogEntry) -> String {
    let what = match &e.what {
        Logged::Connected { local } => format!("connected from {local}"),
        Logged::Sent { len, calls, data } => {
            format!("→ {}{} {}", count(*len), in_calls(*calls, "send"), preview(data, *len))
        }
        Logged::Received { len, calls, data } => {
            format!("← {}{} {}", count(*len), in_calls(*calls, "recv"), preview(data, *len))
        }
        Logged::HalfClosed => "shutdown(SHUT_WR): FIN sent".into(),
        Logged::Eof => "← EOF (recv() returned 0)".into(),
        Logged::ResetSent => "close with SO_LINGER 0: RST sent".into(),
        Logged::ResetReceived => "← RST (ECONNRESET)".into(),
        Logged::Closed => "close()".into(),
        Logged::ClosedUnread { unread } => {
            format!("close() with {unread} unread bytes queued: the kernel sent RST, not FIN")
        }
        Logged::Note { text } => text.dimmed().to_string(),
    };
    format!("{INDENT}{} {:<4} {what}", format!("{:>9.1}ms", e.t_ms).dimmed(), e.conn.cyan())
}

fn in_calls(calls: usize, call: &str) -> String {
    if calls > 1 { format!(" in {calls} {call}() calls") } else { String::new() }
}

fn count(len: usize) -> String {
    match len {
        1 => "1 byte ".into(),
        n if n >= 1 << 20 => crate::check::stream::mib(n),
        n => format!("{n} bytes"),
    }
}

fn preview(data: &[u8], len: usize) -> String {
    let quoted = hexdump::quote_text(data);
    let more = if data.len() < len { "…" } else { "" };
    if quoted.chars().count() > 80 {
        let cut: String = quoted.chars().take(77).collect();
        format!("{cut}…").dimmed().to_string()
    } else {
        format!("{quoted}{more}").dimmed().to_string()
    }
}

pub fn summary(s: &Summary) -> Vec<String> {
    let passed = format!("{} passed", s.passed);
    let failed = format!("{} failed", s.failed);
    let mut line = if s.failed == 0 && s.not_run == 0 {
        format!("{}, {failed}", passed.green().bold())
    } else {
        format!("{passed}, {}", failed.red().bold())
    };
    if s.not_run > 0 {
        line.push_str(&format!(", {}", format!("{} not run", s.not_run).yellow()));
    }
    vec![String::new(), format!("{line} {}", format!("in {:.1} s", s.elapsed_ms / 1000.0).dimmed())]
}

pub fn list(rows: &[CheckListRow]) -> Vec<String> {
    let width = rows.iter().flat_map(|r| r.tests.iter().map(|t| t.name.len())).max().unwrap_or(0);
    let mut lines = Vec::new();
    for row in rows {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(format!("{} ({} tests)", row.proto.bold(), row.tests.len()));
        lines.extend(row.tests.iter().map(|t| format!("  {:<width$}  {}", t.name.cyan(), t.about)));
    }
    lines
}
