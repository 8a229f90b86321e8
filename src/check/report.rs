//! What one check test found, as data: the renderer shows it, `--format
//! json` prints it, and the gallery tests assert on it.

use serde::Serialize;

use crate::event::BYTES_PREVIEW;

/// A window onto a byte stream: `data` starts at byte `offset` of a
/// stream of `total` bytes (a 9 MiB echo is shown near where it broke,
/// not whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ByteView {
    pub offset: usize,
    pub total: usize,
    #[serde(serialize_with = "crate::event::bytes_as_hex")]
    pub data: Vec<u8>,
}

impl ByteView {
    /// The first [`BYTES_PREVIEW`] bytes of `data`.
    pub fn whole(data: &[u8]) -> Self {
        ByteView { offset: 0, total: data.len(), data: data[..data.len().min(BYTES_PREVIEW)].to_vec() }
    }

    /// Up to `len` bytes of `data` starting at `offset`.
    pub fn window(data: &[u8], offset: usize, len: usize) -> Self {
        let start = offset.min(data.len());
        let end = (start + len).min(data.len());
        ByteView { offset: start, total: data.len(), data: data[start..end].to_vec() }
    }
}

/// What a test expected against what came back, and the first byte where
/// they part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub expected: ByteView,
    pub received: ByteView,
    /// Byte offset of the first difference; when `received` is a prefix of
    /// `expected`, its length (the first byte that never came).
    pub first_diff: usize,
}

/// Bytes shown either side of a first difference.
const CONTEXT: usize = 32;

impl Mismatch {
    /// Compare two whole streams; `None` if they are equal.
    pub fn between(expected: &[u8], received: &[u8]) -> Option<Box<Self>> {
        let first_diff = expected.iter().zip(received).position(|(a, b)| a != b);
        let first_diff = match first_diff {
            Some(at) => at,
            None if expected.len() == received.len() => return None,
            None => expected.len().min(received.len()),
        };
        // Start on a 16-byte line so offsets in the dump stay round.
        let start = first_diff.saturating_sub(CONTEXT) / 16 * 16;
        let len = first_diff - start + CONTEXT;
        Some(Box::new(Mismatch {
            expected: ByteView::window(expected, start, len),
            received: ByteView::window(received, start, len),
            first_diff,
        }))
    }
}

/// Why a test failed, in the learner's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// One sentence naming the assumption that broke ("your server
    /// assumed one recv() = one message").
    pub assumption: String,
    /// Facts behind it: what was sent, what happened, measured numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<String>,
    /// What was sent, when the bytes matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<Box<ByteView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Box<Mismatch>>,
}

impl Failure {
    pub fn new(assumption: impl Into<String>) -> Self {
        Failure { assumption: assumption.into(), facts: Vec::new(), sent: None, mismatch: None }
    }

    pub fn fact(mut self, fact: impl Into<String>) -> Self {
        self.facts.push(fact.into());
        self
    }

    pub fn sent(mut self, data: &[u8]) -> Self {
        self.sent = Some(Box::new(ByteView::whole(data)));
        self
    }

    pub fn mismatch(mut self, mismatch: Option<Box<Mismatch>>) -> Self {
        self.mismatch = mismatch;
        self
    }
}

/// One entry of a test's byte log: every send, receive, close and reset,
/// on every connection the test opened (`c1`, `c2`…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub t_ms: f64,
    pub conn: String,
    #[serde(flatten)]
    pub what: Logged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Logged {
    Connected {
        local: String,
    },
    /// `len` bytes in `calls` send()s (bulk transfers are one entry).
    Sent {
        len: usize,
        calls: usize,
        #[serde(serialize_with = "crate::event::bytes_as_hex")]
        data: Vec<u8>,
    },
    Received {
        len: usize,
        calls: usize,
        #[serde(serialize_with = "crate::event::bytes_as_hex")]
        data: Vec<u8>,
    },
    /// `shutdown(SHUT_WR)`: our FIN, "I have nothing more to send".
    HalfClosed,
    /// The server's FIN: `recv()` returned 0.
    Eof,
    /// `SO_LINGER` 0 and close: our RST.
    ResetSent,
    /// The server's RST: ECONNRESET.
    ResetReceived,
    Closed,
    /// close() with bytes still unread: the kernel sends RST, not FIN.
    ClosedUnread {
        unread: usize,
    },
    Note {
        text: String,
    },
}

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Passed {
        summary: String,
    },
    Failed {
        failure: Box<Failure>,
    },
    /// Not run: the server was gone and could not be restarted.
    NotRun {
        why: String,
    },
}

/// One test's name, what it checks, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    pub name: String,
    pub about: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub elapsed_ms: f64,
    /// The byte log: always for a failure, for every test with --verbose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogEntry>,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }
}

/// The last line of a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
    pub elapsed_ms: f64,
    /// The names of the tests that failed or did not run, in order.
    pub failed_tests: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_streams_have_no_mismatch() {
        assert_eq!(Mismatch::between(b"abc", b"abc"), None);
    }

    #[test]
    fn the_first_differing_byte_is_found() {
        let m = Mismatch::between(b"hello world", b"hello World").expect("differs");
        assert_eq!(m.first_diff, 6);
        assert_eq!(m.expected.offset, 0);
        assert_eq!(m.received.data, b"hello World");
    }

    #[test]
    fn a_short_stream_differs_where_it_stops() {
        let m = Mismatch::between(b"hello\nworld\n", b"hello\n").expect("differs");
        assert_eq!(m.first_diff, 6);
        assert_eq!(m.received.total, 6);
        let m = Mismatch::between(b"ab", b"abc").expect("longer differs too");
        assert_eq!(m.first_diff, 2);
    }

    #[test]
    fn a_late_difference_is_shown_in_a_window_on_a_line_boundary() {
        let expected = vec![b'a'; 1 << 20];
        let mut received = expected.clone();
        received[700_001] = b'b';
        let m = Mismatch::between(&expected, &received).expect("differs");
        assert_eq!(m.first_diff, 700_001);
        assert_eq!(m.expected.offset % 16, 0);
        assert!(m.expected.offset <= 700_001 && 700_001 < m.expected.offset + m.expected.data.len());
        assert!(m.received.data.len() <= 80, "a window, not the whole stream");
        assert_eq!(m.expected.total, 1 << 20);
    }
}
