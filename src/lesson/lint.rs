//! `netlab lint`: every problem in a set of lesson files, as
//! `file:line:col: message`. Loading uses the same checks, so a lesson that
//! lints clean is a lesson that loads.

use std::collections::HashMap;
use std::fmt;

use super::locate::Locator;
use super::model::{Expect, FORMAT, Lesson, LessonFile, Step};
use crate::lab::errno;
use crate::wire::kernel::TcpState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}

/// Check `(file name, text)` pairs; returns the lessons that are fine and
/// every diagnostic found.
pub fn check_sources(sources: &[(String, String)]) -> (Vec<Lesson>, Vec<Diagnostic>) {
    let mut lessons = Vec::new();
    let mut diags = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut requires: Vec<(String, (usize, usize), String)> = Vec::new();
    for (file, text) in sources {
        let at = |(line, col): (usize, usize), message: String| Diagnostic { file: file.clone(), line, col, message };
        let parsed: LessonFile = match serde_yaml::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
                diags.push(at((line, col), yaml_message(&e.to_string())));
                continue;
            }
        };
        let loc = Locator::new(text);
        let before = diags.len();
        if parsed.format != FORMAT {
            diags.push(at(
                loc.top_key("format"),
                format!("format {} is not supported: this netlab reads format {FORMAT}", parsed.format),
            ));
        }
        if !valid_id(&parsed.id) {
            diags.push(at(loc.top_key("id"), format!("id '{}' should be lowercase words joined by dashes", parsed.id)));
        }
        if let Some(other) = seen.insert(parsed.id.clone(), file.clone()) {
            diags.push(at(loc.top_key("id"), format!("duplicate id '{}' (also in {other})", parsed.id)));
        }
        for r in &parsed.requires {
            requires.push((file.clone(), loc.top_key("requires"), r.clone()));
        }
        if parsed.steps.is_empty() {
            diags.push(at(loc.top_key("steps"), "a lesson needs at least one step".into()));
        }
        let mut steps = Vec::new();
        for (i, step) in parsed.steps.into_iter().enumerate() {
            match Step::from_file(step) {
                Ok(step) => {
                    for (key, message) in check_step(&step) {
                        diags.push(at(loc.step_key(i, key), message));
                    }
                    steps.push(step);
                }
                Err((key, message)) => diags.push(at(loc.step_key(i, key), message)),
            }
        }
        if diags.len() == before {
            lessons.push(Lesson {
                id: parsed.id,
                title: parsed.title,
                summary: parsed.summary,
                requires: parsed.requires,
                steps,
                file: file.clone(),
            });
        }
    }
    for (file, (line, col), r) in requires {
        if !seen.contains_key(&r) {
            let ids: Vec<&str> = seen.keys().map(String::as_str).collect();
            let hint = crate::suggest::closest(&r, &ids).map_or(String::new(), |s| format!(" — did you mean '{s}'?"));
            diags.push(Diagnostic {
                file,
                line,
                col,
                message: format!("requires '{r}', but no lesson has that id{hint}"),
            });
        }
    }
    diags.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    (lessons, diags)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// serde's message ends with " at line X column Y" (the prefix says that)
/// and counts steps from 0 (`steps[0]`); authors count from 1.
fn yaml_message(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    let Some(rest) = msg.strip_prefix("steps[") else { return msg.to_string() };
    match rest.split_once(']') {
        Some((n, tail)) if n.parse::<usize>().is_ok() => {
            format!("step {}{tail}", n.parse::<usize>().unwrap_or_default() + 1)
        }
        _ => msg.to_string(),
    }
}

/// Problems in a step that parsed: (key to point at, message).
fn check_step(step: &Step) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match step {
        Step::Predict { predict, .. } => {
            if predict.choices.len() < 2 {
                out.push(("choices", "a predict step needs at least two choices".into()));
            }
            if !(1..=predict.choices.len()).contains(&predict.answer) {
                out.push((
                    "answer",
                    format!("answer {} is not a choice: use 1..{} (1-based)", predict.answer, predict.choices.len()),
                ));
            }
        }
        Step::Demo(name) if crate::demo::find(name).is_none() => {
            let names = crate::demo::names();
            out.push(("demo", format!("unknown demo '{name}': demos are {}", names.join(", "))));
        }
        Step::Run { expect: Some(e), .. } | Step::Try { expect: Some(e), .. } | Step::Expect(e) => {
            out.extend(check_expect(e).into_iter().map(|m| ("expect", m)));
        }
        _ => {}
    }
    out
}

fn check_expect(e: &Expect) -> Vec<String> {
    let mut out = Vec::new();
    if e.is_empty() {
        out.push("expect has no keys: say what must hold, e.g. { bytes: \"hello\" }".into());
    }
    if let Some(name) = &e.error
        && !errno::is_known(name)
    {
        out.push(format!("unknown errno '{name}': use a Linux name like ECONNREFUSED or EADDRINUSE"));
    }
    if let Some(state) = &e.state
        && TcpState::parse(state).is_none()
    {
        out.push(format!("unknown TCP state '{state}': e.g. ESTABLISHED, TIME_WAIT, CLOSE_WAIT"));
    }
    if let Some(hex) = &e.hex
        && super::expect::parse_hex(hex).is_none()
    {
        out.push(format!("hex '{hex}' is not pairs of hex digits"));
    }
    if e.sock.is_some() && e.state.is_none() {
        out.push("sock names the socket whose state to check: add state".into());
    }
    if e.ok == Some(true) && e.error.is_some() {
        out.push("ok: true and error contradict each other".into());
    }
    out
}
