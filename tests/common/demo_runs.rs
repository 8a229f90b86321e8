//! Running a demo many times and reading its events: shared by the demo
//! test files.

use std::sync::{Mutex, MutexGuard};

use netlab::event::{CallResult, Direction, Event, Recorder};
use netlab::lab::Lab;

use super::{new_fds, open_fds};

pub const RUNS: usize = 20;

/// The fd-leak check compares the whole process's descriptors, so a demo
/// run must not overlap anything else in its test binary that opens one
/// (even a `read_dir` of tests/): such code holds `serial()` too.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run a demo `RUNS` times; return each run's events.
pub fn run_many(name: &str) -> Vec<Vec<Event>> {
    let _serial = serial();
    let demo = netlab::demo::find(name).expect("demo exists");
    (0..RUNS)
        .map(|run| {
            let before = open_fds();
            let rec = Recorder::new();
            let mut lab = Lab::new(Box::new(rec.clone()));
            let ok = netlab::demo::run(demo, &mut lab);
            drop(lab);
            let leaked = new_fds(&before);
            assert!(leaked.is_empty(), "demo {name} run {run} leaked file descriptors: {leaked:?}");
            let failed: Vec<_> = rec.verdicts().into_iter().filter(|(ok, _)| !ok).collect();
            assert!(ok && failed.is_empty(), "demo {name} run {run}: {failed:?}");
            rec.events()
        })
        .collect()
}

pub fn received<'a>(events: &'a [Event], sock: &str) -> Vec<&'a [u8]> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Bytes { sock: s, dir: Direction::Received, data, .. } if s == sock => Some(data.as_slice()),
            _ => None,
        })
        .collect()
}

pub fn calls<'a>(events: &'a [Event], sock: &str, prefix: &str) -> Vec<&'a CallResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call { sock: s, call, result } if s == sock && call.starts_with(prefix) => Some(result),
            _ => None,
        })
        .collect()
}

pub fn detail(result: &CallResult) -> &str {
    match result {
        CallResult::Ok { detail } => detail,
        CallResult::Err { errno, .. } => errno,
        CallResult::TimedOut { why, .. } | CallResult::Failed { why } => why,
    }
}

/// The events from the `Command` event for `line` up to the next command.
pub fn after_command<'a>(events: &'a [Event], line: &str) -> &'a [Event] {
    let start = events.iter().position(|e| matches!(e, Event::Command { line: l } if l == line));
    let start = start.unwrap_or_else(|| panic!("no command `{line}`")) + 1;
    let len = events[start..].iter().position(|e| matches!(e, Event::Command { .. })).unwrap_or(events.len() - start);
    &events[start..start + len]
}

pub fn is_eagain(result: &CallResult) -> bool {
    matches!(result, CallResult::Err { errno, code: 11, .. } if errno == "EAGAIN")
}

/// The number in a verdict's text right after `before`.
pub fn number_after(events: &[Event], before: &str) -> u128 {
    events
        .iter()
        .find_map(|e| match e {
            Event::Verdict { text, .. } => text.split_once(before).map(|(_, rest)| rest),
            _ => None,
        })
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no verdict with `{before}N`"))
}

pub fn detail_why(result: &CallResult) -> &str {
    match result {
        CallResult::Err { why, .. } => why.as_deref().unwrap_or(""),
        _ => "",
    }
}

/// The kernel states a demo observed for `sock` (`wait SOCK state …`).
pub fn states<'a>(events: &'a [Event], sock: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Kernel { sock: s, state, .. } if s == sock => Some(state.as_str()),
            _ => None,
        })
        .collect()
}

/// The RECV-Q and SEND-Q of `sock` in every `sockets` table shown.
pub fn queues(events: &[Event], sock: &str) -> Vec<(Option<u64>, Option<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Table { rows } => rows.iter().find(|r| r.name == sock).map(|r| (r.recv_q, r.send_q)),
            _ => None,
        })
        .collect()
}

pub fn errno(result: &CallResult) -> Option<(&str, i32)> {
    match result {
        CallResult::Err { errno, code, .. } => Some((errno.as_str(), *code)),
        _ => None,
    }
}

/// The byte count at the start of a call's detail ("6144 bytes queued…").
pub fn count(result: &CallResult) -> Option<usize> {
    detail(result).split(' ').next()?.parse().ok()
}
