//! The typed event stream: everything netlab shows is an `Event` first.
//!
//! The lab, lessons and demos never print. They emit events; a renderer
//! turns them into colored text, JSON lines or Markdown, and tests assert on
//! the events themselves rather than on terminal output.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::{Serialize, Serializer};

use crate::render::hexdump;

/// Which way bytes crossed the socket, from the named socket's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Sent,
    Received,
}

/// What a system call returned: a short success summary, or the errno.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CallResult {
    Ok {
        detail: String,
    },
    Err {
        errno: String,
        code: i32,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// netlab's own time limit ran out first. Not an errno: no system call
    /// failed, netlab stopped waiting.
    TimedOut {
        after_ms: u64,
        why: String,
    },
    /// The call cannot succeed, for a reason that is not an errno (the
    /// stream ended before the bytes waited for arrived…).
    Failed {
        why: String,
    },
}

impl CallResult {
    pub fn ok(detail: impl Into<String>) -> Self {
        CallResult::Ok { detail: detail.into() }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, CallResult::Ok { .. })
    }
}

/// A relay's decision about one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayAction {
    Forwarded,
    Dropped,
    /// Sent on twice.
    Duplicated,
    /// Kept back, to go out right after the next datagram (however long
    /// that takes).
    HeldBack,
    /// A held datagram, sent after the one that followed it.
    Released,
    /// A datagram still held when the relay was closed, sent then.
    ReleasedOnClose,
    /// A reply from the server, sent back to the client untouched.
    PassedBack,
}

impl RelayAction {
    pub fn describe(self) -> &'static str {
        match self {
            RelayAction::Forwarded => "forwarded",
            RelayAction::Dropped => "DROPPED",
            RelayAction::Duplicated => "DUPLICATED: forwarded twice",
            RelayAction::HeldBack => "HELD BACK: goes out after the next one",
            RelayAction::Released => "released, after the datagram that followed it",
            RelayAction::ReleasedOnClose => "released: the relay is closing",
            RelayAction::PassedBack => "reply passed back",
        }
    }
}

/// One row of the `sockets` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketRow {
    pub name: String,
    pub kind: String,
    pub local: String,
    pub peer: String,
    /// Kernel TCP state (`TIME_WAIT`…), `UNCONN` for unconnected UDP.
    pub state: String,
    pub recv_q: Option<u64>,
    pub send_q: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A section title: a lesson's name, a demo's part (a), (b)…
    Heading {
        text: String,
    },
    /// Narration, in the lesson's or demo's voice.
    Say {
        text: String,
    },
    /// A playground command about to run (a lesson `run` step, a demo line).
    Command {
        line: String,
    },
    /// One socket system call and what the kernel answered.
    Call {
        sock: String,
        call: String,
        result: CallResult,
    },
    /// Bytes that crossed a socket: `len` of them, the first few kept in
    /// `data` (a 1 MiB send is shown, not stored twice).
    Bytes {
        sock: String,
        dir: Direction,
        len: usize,
        #[serde(serialize_with = "bytes_as_hex")]
        data: Vec<u8>,
    },
    /// A kernel TCP state observed for one socket (from /proc/net/tcp).
    Kernel {
        sock: String,
        local: SocketAddr,
        peer: SocketAddr,
        state: String,
        meaning: String,
    },
    /// What netlab's lossy relay did with one datagram: `n` numbers the
    /// datagrams on their way to the server (replies have none).
    Relay {
        relay: String,
        n: Option<u64>,
        from: String,
        to: String,
        len: usize,
        #[serde(serialize_with = "bytes_as_hex")]
        data: Vec<u8>,
        action: RelayAction,
    },
    /// A kernel setting read from /proc/sys (`sysctl net.core.somaxconn`).
    Setting {
        name: String,
        value: String,
        /// What it governs, for the settings lessons mention.
        about: String,
    },
    /// The `sockets` table.
    Table {
        rows: Vec<SocketRow>,
    },
    /// An expectation checked live: the demo or lesson claim held, or not.
    Verdict {
        ok: bool,
        text: String,
    },
    /// A `predict` question waiting for the learner's answer.
    Question {
        ask: String,
        choices: Vec<String>,
    },
    /// The learner's turn: a `try` step.
    YourTurn {
        command: String,
    },
    Hint {
        text: String,
    },
    /// An aside in a lesson: a tip, a longer code example.
    Note {
        text: String,
    },
    /// A line a reference server the playground started printed to its log
    /// (`srv: conn#1 accept → client 127.0.0.1:40312`).
    ServerLog {
        server: String,
        line: String,
        /// It came on the server's stderr (an error).
        error: bool,
    },
    /// Neutral information about netlab itself (progress saved, lesson list…).
    Notice {
        text: String,
    },
    /// A usage error: bad command, unknown socket, bad payload. One line.
    Error {
        text: String,
    },
    /// The lesson list, with the learner's progress.
    Lessons {
        rows: Vec<LessonRow>,
    },
    /// The demo list.
    Demos {
        rows: Vec<DemoRow>,
    },
    /// `netlab bench`'s measurements and targets.
    Bench {
        report: Box<crate::bench::report::Report>,
    },
    /// `netlab check` begins: the protocol, the server tested, its processes.
    CheckStart {
        proto: String,
        target: String,
        /// `pid 4242 (python3)`, when the server's processes could be found.
        server: Option<String>,
        tests: usize,
    },
    /// One check test's outcome, with its byte log when it failed.
    CheckTest {
        report: Box<crate::check::report::TestReport>,
    },
    /// `N passed, M failed`.
    CheckSummary {
        summary: crate::check::report::Summary,
    },
    /// `netlab check --list`: the tests per protocol.
    CheckList {
        rows: Vec<CheckListRow>,
    },
    /// A problem in a lesson file, found by `netlab lint`.
    Diagnostic {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LessonRow {
    pub number: usize,
    pub id: String,
    pub title: String,
    pub summary: String,
    /// `done`, `current` or `todo`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckListRow {
    /// `echo`, `upper --udp`…
    pub proto: String,
    pub tests: Vec<CheckTestInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckTestInfo {
    pub name: String,
    pub about: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoRow {
    pub name: String,
    pub title: String,
    pub lesson: String,
}

impl Event {
    pub fn say(text: impl Into<String>) -> Self {
        Event::Say { text: text.into() }
    }

    pub fn notice(text: impl Into<String>) -> Self {
        Event::Notice { text: text.into() }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Event::Error { text: text.into() }
    }

    pub fn bytes(sock: &str, dir: Direction, data: &[u8]) -> Self {
        let keep = data.len().min(BYTES_PREVIEW);
        Event::Bytes { sock: sock.to_string(), dir, len: data.len(), data: data[..keep].to_vec() }
    }
}

/// How many bytes of a transfer an event keeps for display.
pub const BYTES_PREVIEW: usize = 4096;

pub(crate) fn bytes_as_hex<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(2))?;
    map.serialize_entry("hex", &hexdump::hex_compact(data).replace(' ', ""))?;
    if hexdump::is_printable_text(data) {
        map.serialize_entry("text", &String::from_utf8_lossy(data))?;
    }
    map.end()
}

/// Where events go. Implemented by the renderers and by [`Recorder`].
pub trait Sink: Send {
    fn emit(&mut self, event: &Event);
}

/// Keeps every event, for tests and for checking a demo's verdicts.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn events(&self) -> Vec<Event> {
        match self.0.lock() {
            Ok(events) => events.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `(ok, text)` of every verdict so far.
    pub fn verdicts(&self) -> Vec<(bool, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Verdict { ok, text } => Some((ok, text)),
                _ => None,
            })
            .collect()
    }
}

impl Sink for Recorder {
    fn emit(&mut self, event: &Event) {
        match self.0.lock() {
            Ok(mut events) => events.push(event.clone()),
            Err(poisoned) => poisoned.into_inner().push(event.clone()),
        }
    }
}

/// Sends every event to two sinks: a renderer for the learner and a
/// recorder for the verdict that decides the exit code.
pub struct Tee<A: Sink, B: Sink>(pub A, pub B);

impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    fn emit(&mut self, event: &Event) {
        self.0.emit(event);
        self.1.emit(event);
    }
}
