//! A playground `Lab` on real sockets, recorded, and ways to read what its
//! commands reported. For the tests that type playground lines.

use netlab::event::{CallResult, Event, Recorder, SocketRow};
use netlab::lab::{Lab, Outcome};

/// A fresh lab and the recorder that sees its events.
pub fn lab() -> (Lab, Recorder) {
    let rec = Recorder::new();
    (Lab::new(Box::new(rec.clone())), rec)
}

/// Run `line`, whatever it does.
pub fn run(lab: &mut Lab, line: &str) -> Outcome {
    lab.run_line(line)
}

/// Run `line`, which must be a well-formed command (no usage error); the
/// call itself may still fail.
pub fn run_valid(lab: &mut Lab, line: &str) -> Outcome {
    let out = lab.run_line(line);
    assert!(out.usage_error.is_none(), "{line}: {out:?}");
    out
}

/// Run `line`, which must succeed.
pub fn ok(lab: &mut Lab, line: &str) -> Outcome {
    let out = lab.run_line(line);
    assert!(out.is_ok(), "{line}: {out:?}");
    out
}

/// A TCP listener `srv`, a client `cli` and the accepted `conn`.
pub fn pair(lab: &mut Lab) {
    pair_named(lab, "cli", "conn");
}

/// A TCP listener `srv`, a client `cli` and the accepted `conn`, named as given.
pub fn pair_named(lab: &mut Lab, cli: &str, conn: &str) {
    for line in ["tcp listen as srv".to_string(), format!("tcp connect srv as {cli}"), format!("accept srv as {conn}")]
    {
        ok(lab, &line);
    }
}

/// Every `(call, result)` made on `sock`, in order.
pub fn calls_on(rec: &Recorder, sock: &str) -> Vec<(String, CallResult)> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Call { sock: s, call, result } if s == sock => Some((call, result)),
            _ => None,
        })
        .collect()
}

/// The results of the calls made on `sock` whose name starts with `call`, in order.
pub fn results(rec: &Recorder, sock: &str, call: &str) -> Vec<CallResult> {
    calls_on(rec, sock).into_iter().filter(|(c, _)| c.starts_with(call)).map(|(_, r)| r).collect()
}

/// The result of the last call made on `sock` whose name starts with `call`.
pub fn last_call(rec: &Recorder, sock: &str, call: &str) -> CallResult {
    results(rec, sock, call).pop().unwrap_or_else(|| panic!("no {call} on {sock}"))
}

/// What a result says, whatever its kind: an error as "ERRNO why".
pub fn detail(r: &CallResult) -> String {
    match r {
        CallResult::Ok { detail } => detail.clone(),
        CallResult::Err { errno, why, .. } => format!("{errno} {}", why.clone().unwrap_or_default()),
        CallResult::TimedOut { why, .. } | CallResult::Failed { why } => why.clone(),
    }
}

/// The explanation of the errno `outcome` failed with; panics unless it is one.
pub fn why(outcome: &Outcome) -> String {
    match &outcome.result {
        Some(CallResult::Err { why: Some(why), .. }) => why.clone(),
        other => panic!("not an explained errno: {other:?}"),
    }
}

/// The rows of the last `sockets` table.
pub fn last_table(rec: &Recorder) -> Vec<SocketRow> {
    rec.events()
        .into_iter()
        .rev()
        .find_map(|e| match e {
            Event::Table { rows } => Some(rows),
            _ => None,
        })
        .expect("a sockets table")
}
