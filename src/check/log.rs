//! A test's byte log, shared by every connection the test opens (and by
//! the threads that write and read them), in the order things happened.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::report::{LogEntry, Logged};

/// Bytes kept of each send or receive: enough to recognise a message;
/// the length is always exact.
pub const PREVIEW: usize = 64;

/// Sends and receives this large are bulk: merged with their neighbours.
const BULK: usize = 4096;

/// Entries kept per test: a 9 MiB transfer is hundreds of `recv()`s, and
/// the first ones show the pattern.
const MAX_ENTRIES: usize = 400;

#[derive(Clone)]
pub struct ByteLog {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    entries: Vec<LogEntry>,
    dropped: usize,
}

impl ByteLog {
    pub fn new() -> Self {
        ByteLog { start: Instant::now(), inner: Arc::default() }
    }

    pub fn add(&self, conn: &str, what: Logged) {
        let t_ms = (self.start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // One RST can fail both a send() (EPIPE) and the recv() after it:
        // the server reset the connection once.
        let reset = |e: &LogEntry| e.conn == conn && matches!(e.what, Logged::ResetReceived);
        if matches!(what, Logged::ResetReceived) && inner.entries.iter().any(reset) {
            return;
        }
        if inner.entries.len() < MAX_ENTRIES {
            inner.entries.push(LogEntry { t_ms, conn: conn.to_string(), what });
        } else {
            inner.dropped += 1;
        }
    }

    pub fn sent(&self, conn: &str, data: &[u8]) {
        if !self.merged(conn, data.len(), true) {
            self.add(conn, Logged::Sent { len: data.len(), calls: 1, data: data[..data.len().min(PREVIEW)].to_vec() });
        }
    }

    pub fn received(&self, conn: &str, data: &[u8]) {
        if !self.merged(conn, data.len(), false) {
            let preview = data[..data.len().min(PREVIEW)].to_vec();
            self.add(conn, Logged::Received { len: data.len(), calls: 1, data: preview });
        }
    }

    /// A bulk transfer is one entry, not hundreds: a large send or
    /// receive right after another on the same connection is added to it.
    /// Small ones always stand alone — they are what 1-byte tests show.
    fn merged(&self, conn: &str, len: usize, sent: bool) -> bool {
        if len < BULK {
            return false;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(last) = inner.entries.last_mut().filter(|e| e.conn == conn) else { return false };
        match (&mut last.what, sent) {
            (Logged::Sent { len: total, calls, .. }, true) | (Logged::Received { len: total, calls, .. }, false)
                if *total >= BULK =>
            {
                *total += len;
                *calls += 1;
                true
            }
            _ => false,
        }
    }

    pub fn note(&self, conn: &str, text: impl Into<String>) {
        self.add(conn, Logged::Note { text: text.into() });
    }

    /// Every entry so far, with a last note if some were not kept.
    pub fn entries(&self) -> Vec<LogEntry> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut entries = inner.entries.clone();
        if inner.dropped > 0 {
            let t_ms = entries.last().map_or(0.0, |e| e.t_ms);
            let text = format!("… {} more entries not kept", inner.dropped);
            entries.push(LogEntry { t_ms, conn: String::new(), what: Logged::Note { text } });
        }
        entries
    }
}

impl Default for ByteLog {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_the_exact_length_and_a_short_preview() {
        let log = ByteLog::new();
        log.sent("c1", &[7u8; 1000]);
        let entries = log.entries();
        assert_eq!(entries.len(), 1);
        match &entries[0].what {
            Logged::Sent { len, data, .. } => assert_eq!((*len, data.len()), (1000, PREVIEW)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bulk_transfers_are_one_entry_and_small_ones_stay_apart() {
        let log = ByteLog::new();
        for _ in 0..100 {
            log.sent("c1", &[1u8; 65536]);
        }
        log.sent("c1", b"x");
        log.sent("c1", b"y");
        log.received("c1", &[2u8; 8192]);
        log.received("c1", &[2u8; 8192]);
        let entries = log.entries();
        assert_eq!(entries.len(), 4, "{entries:?}");
        assert!(matches!(entries[0].what, Logged::Sent { len: 6_553_600, calls: 100, .. }));
        assert!(matches!(entries[3].what, Logged::Received { len: 16384, calls: 2, .. }));
    }

    #[test]
    fn one_reset_is_logged_once_per_connection() {
        let log = ByteLog::new();
        log.add("c1", Logged::ResetReceived);
        log.add("c1", Logged::ResetReceived);
        log.add("c2", Logged::ResetReceived);
        assert_eq!(log.entries().len(), 2);
    }

    #[test]
    fn a_long_log_says_how_much_it_left_out() {
        let log = ByteLog::new();
        for _ in 0..MAX_ENTRIES + 5 {
            log.received("c1", b"x");
        }
        let entries = log.entries();
        assert_eq!(entries.len(), MAX_ENTRIES + 1);
        assert!(matches!(&entries[MAX_ENTRIES].what, Logged::Note { text } if text.contains("5 more")));
    }
}
