//! cmd: a remote-command server done safely.
//!
//! A request is one line of UTF-8 text ending in `\n`. Classic tutorial
//! clients send a bare command in one `send()` with no newline and wait;
//! for them a request also ends when the connection has been idle for
//! [`IDLE`] after data arrived. That timing rule is the classic protocol's
//! weak spot: two commands that reach the server within 100 ms of each
//! other — sent back to back, or queued while the server was busy — are
//! one request, `datels`. A newline is a real boundary; a pause is a guess.
//!
//! Each reply is framed like the framed server's: `[4-byte length][JSON
//! header][output]`, the header `{"status": "ok" | "error", "data_size":
//! N}`, so a client knows exactly how many bytes of output to read — 16 MiB
//! of `big` output arrives in many `recv()`s and is reassembled by the
//! length, not by luck. The server makes that output [`PIECE`] bytes at a
//! time, as the socket takes it: 13 bytes of request (`big 16777216`) from
//! a client that never reads cost the server one piece, not 16 MiB.
//!
//! Requests run from the allowlist in [`super::cmd_builtins`]; nothing is
//! ever handed to a shell or started as a program. A request that only a
//! shell would understand (`ls; rm -rf /`) gets an error reply, and the log
//! says what a `shell=True` server would have run.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::cmd_builtins::{self, Output, shell_syntax};
use super::handler::{Ctx, Flow, Handler};
use crate::event::CallResult;
use crate::proto::json_header::{self, LengthOrder};
use crate::render::hexdump::quote_text;

/// How long a connection must stay quiet, after data arrived, before what
/// it sent without a newline counts as one request.
pub const IDLE: Duration = Duration::from_millis(100);

/// Longest request line, in bytes. A command line is short; a peer that
/// sends more without a newline is closed rather than buffered.
pub const MAX_LINE: usize = 4096;

/// Output is made this much at a time: a `big` reply a piece per turn
/// of the driver ([`Handler::on_room`]), and requests queued behind a
/// reply wait while a piece is ready to go, so neither a huge reply nor a
/// pipeline of them makes the server hold more than about this.
pub const PIECE: usize = 64 * 1024;

/// Requests a client may queue while its replies wait unread, in bytes.
/// A client that keeps sending without reading is closed, not buffered.
pub const MAX_QUEUED: usize = 64 * 1024;

pub struct Cmd {
    ctx: Ctx,
    order: LengthOrder,
    /// Bytes of requests not yet run.
    pending: Vec<u8>,
    /// When the last bytes arrived: the idle rule counts from here.
    last_data: Option<Instant>,
    /// The `big` reply going out: its header is sent, its body is made as
    /// it is sent.
    big: Option<BigReply>,
    /// A piece of output is ready and work waits behind it (see [`PIECE`]).
    more: bool,
    /// The client shut down its side: queued requests, then a last one
    /// without a newline, are answered as the client reads, then it ends.
    eof: bool,
}

/// How far a `big N` reply's body has got.
struct BigReply {
    /// Bytes of the body made so far.
    made: usize,
    len: usize,
}

/// What ended a request, for the log.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Newline,
    Idle,
    Eof,
}

impl Ended {
    fn name(self) -> &'static str {
        match self {
            Ended::Newline => "newline",
            Ended::Idle => "100 ms idle, no newline",
            Ended::Eof => "EOF, no newline",
        }
    }
}

impl Cmd {
    pub fn new(ctx: Ctx, order: LengthOrder) -> Self {
        Cmd { ctx, order, pending: Vec::new(), last_data: None, big: None, more: false, eof: false }
    }

    /// Make output until a piece is ready: the rest of a `big` body,
    /// then every complete line (after EOF, the unfinished last one too).
    fn advance(&mut self, out: &mut Vec<u8>) -> Flow {
        self.more = false;
        loop {
            if let Some(big) = &mut self.big {
                let n = (big.len - big.made).min(PIECE.saturating_sub(out.len()));
                cmd_builtins::big_into(out, big.made, n);
                big.made += n;
                if big.made == big.len {
                    self.big = None;
                }
            }
            let newline = self.pending.iter().position(|&b| b == b'\n');
            let last_words = self.eof && !self.pending.is_empty();
            if self.big.is_none() && newline.is_none() && !last_words {
                break;
            }
            if out.len() >= PIECE {
                self.more = true;
                return Flow::Continue;
            }
            match newline {
                Some(pos) if pos > MAX_LINE + 1 => return self.too_long(pos, out),
                Some(pos) => {
                    let line: Vec<u8> = self.pending.drain(..=pos).take(pos).collect();
                    self.request(&line, Ended::Newline, out);
                }
                None if self.pending.len() > MAX_LINE => break,
                None => {
                    // The classic client's last command: sent without a
                    // newline, then shutdown(SHUT_WR) instead of a pause.
                    let line = std::mem::take(&mut self.pending);
                    self.request(&line, Ended::Eof, out);
                }
            }
        }
        if self.pending.len() > MAX_LINE {
            return self.too_long(self.pending.len(), out);
        }
        Flow::Continue
    }

    fn too_long(&mut self, len: usize, out: &mut Vec<u8>) -> Flow {
        let msg = format!("a request of {len}+ bytes: lines are at most {MAX_LINE} bytes; closing this connection");
        self.ctx.note("request", CallResult::Failed { why: msg.clone() });
        self.reply(out, false, format!("{msg}\n").as_bytes());
        self.pending.clear();
        Flow::Close
    }

    /// Stop everything: a client that sends without reading is closed,
    /// not buffered, and not sent the rest of a reply it is not reading.
    fn give_up(&mut self, why: String) -> Flow {
        self.ctx.note("request", CallResult::Failed { why });
        self.pending.clear();
        self.big = None;
        self.more = false;
        Flow::Close
    }

    /// One request: check it, run it, frame the reply, log it.
    fn request(&mut self, line: &[u8], ended: Ended, out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let shown = quote_text(line);
        let result = self.check_and_run(line, &shown);
        let how = ended.name();
        match result {
            Ok(output) => {
                let detail = format!("{shown} (ended by {how}) → ok, {} bytes of output", output.len());
                self.ctx.note("request", CallResult::ok(detail));
                match output {
                    Output::Bytes(bytes) => self.reply(out, true, &bytes),
                    Output::Big(len) => {
                        // The header now; the body as the socket takes it.
                        self.frame_head(out, true, len);
                        self.big = Some(BigReply { made: 0, len });
                    }
                }
            }
            Err(msg) => {
                let why = format!("{shown} (ended by {how}) → error reply: {msg}");
                self.ctx.note("request", CallResult::Failed { why });
                self.reply(out, false, format!("{msg}\n").as_bytes());
            }
        }
    }

    fn check_and_run(&self, line: &[u8], shown: &str) -> Result<Output, String> {
        if line.contains(&0) {
            return Err("the request contains a NUL byte; commands are text".into());
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err("the request is not UTF-8 text".into());
        };
        if let Some((token, meaning)) = shell_syntax(text) {
            // The lesson, shown safely: the line a shell=True server would
            // have handed to /bin/sh -c, every program in it included.
            let would = format!("a shell=True server would have run via /bin/sh: {shown}");
            self.ctx.note("shell", CallResult::Failed { why: format!("{would} — refused, no shell here") });
            return Err(format!(
                "'{token}' is shell syntax ({meaning}), and no shell is involved here: \
                 this server runs one built-in per request (try help)"
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        cmd_builtins::run(text, now)
    }

    fn reply(&self, out: &mut Vec<u8>, ok: bool, body: &[u8]) {
        self.frame_head(out, ok, body.len());
        out.extend_from_slice(body);
    }

    /// A reply's length prefix and header, announcing `len` bytes of body.
    fn frame_head(&self, out: &mut Vec<u8>, ok: bool, len: usize) {
        let mut header = Map::new();
        header.insert("status".into(), Value::from(if ok { "ok" } else { "error" }));
        match json_header::encode_head(&header, len, self.order) {
            Ok(head) => out.extend_from_slice(&head),
            Err(e) => self.ctx.note("reply", CallResult::Failed { why: e.to_string() }),
        }
    }
}

impl Handler for Cmd {
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        self.pending.extend_from_slice(input);
        self.last_data = Some(Instant::now());
        let flow = self.advance(out);
        if flow == Flow::Continue && self.pending.len() > MAX_QUEUED {
            return self.give_up(format!(
                "{} bytes of requests queued while the replies wait unread (at most {MAX_QUEUED}); closing this connection",
                self.pending.len()
            ));
        }
        flow
    }

    fn on_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        // Nothing more is read, but what was asked is answered, a piece at
        // a time as the client reads (it only shut down its sending side).
        self.eof = true;
        self.advance(out);
        Flow::Close
    }

    fn has_more(&self) -> bool {
        self.more
    }

    fn on_room(&mut self, out: &mut Vec<u8>) -> Flow {
        self.advance(out)
    }

    fn deadline(&self) -> Option<Instant> {
        // Lines queued behind a reply are not idle: they run as room is made.
        if self.more || self.big.is_some() || self.pending.is_empty() {
            return None;
        }
        self.last_data.map(|t| t + IDLE)
    }

    fn on_deadline(&mut self, out: &mut Vec<u8>) -> Flow {
        if self.deadline().is_none() {
            return Flow::Continue;
        }
        let line = std::mem::take(&mut self.pending);
        self.request(&line, Ended::Idle, out);
        // A `big` it started goes out like any other.
        self.advance(out)
    }
}

#[cfg(test)]
#[path = "cmd_tests.rs"]
mod tests;
