//! Terminal text: a timeline of socket calls and bytes, with narration.

use std::time::Duration;

use colored::Colorize;

use super::hexdump;
use super::table;
use crate::event::{CallResult, Direction, Event, RelayAction};

/// Bytes shown inline up to this many characters, as a hexdump beyond.
const INLINE_TEXT_MAX: usize = 72;
const HEXDUMP_MAX_LINES: usize = 8;

pub fn render(event: &Event, stamp: Option<Duration>) -> Vec<String> {
    let pre = |s: String| match stamp {
        Some(t) => format!("{} {s}", format!("{:>8.1}ms", t.as_secs_f64() * 1000.0).dimmed()),
        None => s,
    };
    match event {
        Event::Heading { text } => vec![String::new(), format!("── {text} ──").bold().cyan().to_string()],
        Event::Say { text } => text.trim_end().lines().map(str::to_string).collect(),
        Event::Command { line } => vec![format!("{} {}", "▸".bold(), line.bold())],
        Event::Call { sock, call, result } => call_lines(sock, call, result).into_iter().map(pre).collect(),
        Event::Bytes { sock, dir, len, data } => bytes_lines(sock, *dir, *len, data).into_iter().map(pre).collect(),
        Event::Kernel { sock, local, peer, state, meaning } => vec![pre(format!(
            "{} {} {local} ↔ {peer}  {}  {}",
            "kernel".dimmed(),
            name(sock),
            state.bold().magenta(),
            meaning
        ))],
        Event::Relay { relay, n, from, to, len, data, action } => {
            let n = n.map_or(String::new(), |n| format!("#{n} "));
            let shown = if data.len() == *len && *len <= INLINE_TEXT_MAX {
                hexdump::quote_text(data)
            } else {
                format!("{len} bytes")
            };
            let action = match action {
                RelayAction::Dropped | RelayAction::Duplicated | RelayAction::HeldBack => {
                    action.describe().yellow().bold().to_string()
                }
                _ => action.describe().to_string(),
            };
            vec![pre(format!("{} {n}{from} → {to} {shown}: {action}", name(relay)))]
        }
        Event::Setting { name, value, about } => {
            let about = if about.is_empty() { String::new() } else { format!("  {}", about.dimmed()) };
            vec![pre(format!("{} {name} = {}{about}", "sysctl".dimmed(), value.bold()))]
        }
        Event::Table { rows } => table::render(rows),
        Event::Bench { report } => super::bench_table::render(report),
        Event::Verdict { ok: true, text } => vec![format!("{} {text}", "✓".green().bold()).green().to_string()],
        Event::Verdict { ok: false, text } => vec![format!("{} {text}", "✗".red().bold()).red().to_string()],
        Event::Question { ask, choices } => {
            let mut lines = vec![format!("{} {}", "?".yellow().bold(), ask.bold())];
            lines.extend(choices.iter().enumerate().map(|(i, c)| format!("  {}) {c}", i + 1)));
            lines.push(format!("  {}", "answer with a number".dimmed()));
            lines
        }
        Event::YourTurn { command } => {
            vec![format!("{} type: {}", "your turn ▸".yellow().bold(), command.bold())]
        }
        Event::Hint { text } => labelled("hint:".yellow().bold(), text),
        Event::Note { text } => labelled("note:".cyan().bold(), text),
        Event::ServerLog { server, line, error } => {
            let line = if *error { line.red().to_string() } else { line.clone() };
            vec![pre(format!("{} {} {line}", name(server), "│".dimmed()))]
        }
        Event::Notice { text } => vec![text.dimmed().to_string()],
        Event::Error { text } => vec![format!("{} {text}", "error:".red().bold())],
        Event::Lessons { rows } => rows
            .iter()
            .map(|r| {
                let mark = match r.status.as_str() {
                    "done" => "✓".green().bold(),
                    "current" => "▸".yellow().bold(),
                    _ => "·".dimmed(),
                };
                format!("{mark} {:>2}  {:<20} {}", r.number, r.id.bold(), r.title)
            })
            .collect(),
        Event::Demos { rows } => {
            let width = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0);
            rows.iter()
                .map(|r| {
                    let lesson = format!("(lesson {})", r.lesson).dimmed();
                    format!("{:<width$} {}  {lesson}", r.name.bold(), r.title)
                })
                .collect()
        }
        Event::CheckStart { proto, target, server, tests } => {
            super::check::start(proto, target, server.as_deref(), *tests)
        }
        Event::CheckTest { report } => super::check::test(report),
        Event::CheckSummary { summary } => super::check::summary(summary),
        Event::CheckList { rows } => super::check::list(rows),
        Event::Diagnostic { file, line, col, message } => vec![format!("{}:{line}:{col}: {message}", file.bold())],
    }
}

/// `label first line`, later lines indented under it.
fn labelled(label: colored::ColoredString, text: &str) -> Vec<String> {
    let mut lines = text.trim_end().lines();
    let first = lines.next().unwrap_or_default();
    let mut out = vec![format!("{label} {first}")];
    out.extend(lines.map(|l| format!("      {l}")));
    out
}

fn name(sock: &str) -> String {
    format!("{sock:<5}").cyan().bold().to_string()
}

fn call_lines(sock: &str, call: &str, result: &CallResult) -> Vec<String> {
    match result {
        CallResult::Ok { detail } if detail.is_empty() => vec![format!("{} {call} → {}", name(sock), "ok".green())],
        CallResult::Ok { detail } => vec![format!("{} {call} → {}", name(sock), detail.green())],
        CallResult::TimedOut { after_ms, why } => vec![
            format!("{} {call} → {}", name(sock), format!("timed out after {after_ms} ms").yellow().bold()),
            format!("      {}", why.yellow()),
        ],
        CallResult::Failed { why } => vec![format!("{} {call} → {}", name(sock), why.red().bold())],
        CallResult::Err { errno, code, message, why } => {
            let mut lines =
                vec![format!("{} {call} → {}", name(sock), format!("{errno} ({code}) {message}").red().bold())];
            if let Some(why) = why {
                lines.push(format!("      {}", why.yellow()));
            }
            lines
        }
    }
}

fn bytes_lines(sock: &str, dir: Direction, len: usize, data: &[u8]) -> Vec<String> {
    let verb = match dir {
        Direction::Sent => "sent",
        Direction::Received => "got ",
    };
    let head = format!("{} {verb} {len} bytes", name(sock));
    if data.is_empty() {
        return vec![head.dimmed().to_string()];
    }
    let quoted = hexdump::quote_text(data);
    if len == data.len() && hexdump::is_printable_text(data) && quoted.chars().count() <= INLINE_TEXT_MAX {
        return vec![format!("{head}  {}", quoted.yellow())];
    }
    let mut lines = vec![head];
    lines.extend(
        hexdump::hexdump_limited(data, len, HEXDUMP_MAX_LINES).into_iter().map(|l| format!("      {}", l.yellow())),
    );
    lines
}
