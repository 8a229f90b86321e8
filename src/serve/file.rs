//! file: framed list / get / put, rooted in one directory.
//!
//! Every message, both ways, is framed like `framed`:
//! `[4-byte length L][L bytes of JSON header][body of data_size bytes]`,
//! L big-endian (`struct.pack('!I', L)`), or little-endian with
//! `--native-endian` (`struct.pack('i', L)` on x86). Every header holds
//! `data_size`, the length of the body that follows it (0: none).
//!
//! Requests (`cmd`):
//!
//! ```text
//! {"cmd":"list","data_size":0}
//! {"cmd":"get","name":"a.txt","data_size":0}
//! {"cmd":"put","name":"a.txt","data_size":N,"sha256":"<64 hex digits>"}  + N bytes
//! {"cmd":"quit","data_size":0}
//! ```
//!
//! Replies, one per request, in order:
//!
//! ```text
//! list  {"status":"ok","data_size":N}  body: JSON [{"name":"a.txt","size":5}, …]
//! get   {"status":"ok","name":"a.txt","size":N,"sha256":"…","data_size":N}  body: the file
//! put   {"status":"ok","name":"a.txt","size":N,"sha256":"…","data_size":0}
//! quit  {"status":"ok","data_size":0}, then the server closes
//! any   {"status":"error","error":"what was wrong","data_size":0}
//! ```
//!
//! A put is streamed into a temporary file in the root while its SHA-256
//! is computed; only when all `data_size` bytes arrived *and* the digest
//! matches is it renamed to its name. A wrong digest, or a connection that
//! ends early, leaves nothing behind. Names are single path components
//! (see [`super::file_root`]): `../x`, `/etc/passwd`, NUL and symlinks are
//! refused. Files are capped at [`MAX_FILE`] both ways; headers at 64 KiB.
//! A get is sent in [`CHUNK`]-sized pieces, the next one made only when
//! the driver has sent the last ([`Handler::has_more`], [`Handler::on_room`]),
//! so a 64 MiB file never sits in memory whole — not even when the client
//! sends its requests, shuts down its side, and only then reads.
//!
//! Broken framing (a header that is not JSON, no `data_size`, a header or
//! body over its cap) gets an error reply and closes this connection
//! only: after it, where the next message starts is guesswork.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::file_root::FileRoot;
use super::handler::{Ctx, Flow, Handler};
use crate::event::CallResult;
use crate::proto::hex;
use crate::proto::json_header::LengthOrder;

#[path = "file_requests.rs"]
mod requests;

/// The largest file a put may store or a get send: 64 MiB.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// How much of a download goes out per turn of the driver.
pub const CHUNK: usize = 256 * 1024;

/// Requests a client may queue up while it is not reading the replies.
const MAX_BACKLOG: usize = 1024 * 1024;

/// The SHA-256 of `bytes`, as 64 lowercase hex digits (Python's `hexdigest()`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// One connection to the file server.
pub struct FileServer {
    root: Arc<FileRoot>,
    order: LengthOrder,
    ctx: Ctx,
    /// Received and not yet used: headers, and pipelined requests.
    buf: Vec<u8>,
    state: State,
    /// The step stopped because a chunk of output is ready, with perhaps
    /// more to do: the driver sends it, then asks for the rest
    /// ([`Handler::on_room`]).
    more: bool,
    /// The client shut down its side: once the work queued before the FIN
    /// is done, the connection ends.
    eof: bool,
}

enum State {
    /// Waiting for the next request's header.
    Idle,
    /// A put's body, streaming to a temporary file.
    Upload(Upload),
    /// The body of a refused request, read and dropped so the stream stays in step.
    Discard { left: u64 },
    /// A get's body, going out a chunk at a time.
    Download { file: File, left: u64 },
    /// quit, or broken framing: nothing more is read.
    Closed,
}

struct Upload {
    name: String,
    file: File,
    /// Removed on drop unless the upload was committed.
    temp: Option<PathBuf>,
    size: u64,
    left: u64,
    hasher: Sha256,
    want: String,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl FileServer {
    pub fn new(root: Arc<FileRoot>, order: LengthOrder, ctx: Ctx) -> Self {
        FileServer { root, order, ctx, buf: Vec::new(), state: State::Idle, more: false, eof: false }
    }

    /// [`Self::step`], and after EOF, once the step needs input that will
    /// never come, the end: say what was cut short, and close.
    fn advance(&mut self, out: &mut Vec<u8>) -> Flow {
        let flow = self.step(out);
        if flow == Flow::Close || self.more || !self.eof {
            return flow;
        }
        self.at_eof(out)
    }

    /// Do as much as the buffered input allows, stopping once a chunk of
    /// output is ready. `out` only grows here: the driver empties it, then
    /// comes back through [`Handler::on_room`] — calling this again with
    /// the same `out` would stop at once, having made nothing.
    fn step(&mut self, out: &mut Vec<u8>) -> Flow {
        self.more = false;
        loop {
            if out.len() >= CHUNK {
                self.more = true;
                return Flow::Continue;
            }
            match &mut self.state {
                State::Closed => return Flow::Close,
                State::Idle => match self.next_request(out) {
                    Some(flow) => return flow,
                    None => continue,
                },
                State::Discard { left } => {
                    let n = take(&mut self.buf, left);
                    if *left == 0 {
                        self.state = State::Idle;
                    } else if n == 0 {
                        return Flow::Continue;
                    }
                }
                State::Upload(up) => {
                    let n = usize::try_from(up.left).unwrap_or(usize::MAX).min(self.buf.len());
                    let chunk: Vec<u8> = self.buf.drain(..n).collect();
                    up.left -= n as u64;
                    up.hasher.update(&chunk);
                    if let Err(e) = up.file.write_all(&chunk) {
                        let why = format!("{}: cannot write it: {e}", up.name);
                        self.state = State::Discard { left: up.left };
                        self.error(out, &why);
                        continue;
                    }
                    if up.left == 0 {
                        self.finish_upload(out);
                    } else if n == 0 {
                        return Flow::Continue;
                    }
                }
                State::Download { file, left } => {
                    // Top `out` up to a chunk: pieces stay one chunk big
                    // whatever came before this body in them.
                    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(CHUNK - out.len());
                    let start = out.len();
                    out.resize(start + want, 0);
                    if let Err(e) = file.read_exact(&mut out[start..]) {
                        // The file shrank under us: the promised data_size
                        // can no longer be kept, so the stream cannot be either.
                        out.truncate(start);
                        self.ctx.note("get", CallResult::Failed { why: format!("file changed while sending: {e}") });
                        self.state = State::Closed;
                        return Flow::Close;
                    }
                    *left -= want as u64;
                    if *left == 0 {
                        self.state = State::Idle;
                    }
                }
            }
        }
    }
}

/// Drop up to `left` bytes from the front of `buf`; returns how many.
fn take(buf: &mut Vec<u8>, left: &mut u64) -> usize {
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    buf.drain(..n);
    *left -= n as u64;
    n
}

impl Handler for FileServer {
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        if matches!(self.state, State::Closed) {
            return Flow::Close;
        }
        self.buf.extend_from_slice(input);
        // While a download is going out, step() takes no input: a client
        // that keeps sending without reading must not fill our memory.
        if self.more && self.buf.len() > MAX_BACKLOG {
            return self.fatal(out, "too many requests queued without reading the replies");
        }
        self.advance(out)
    }

    fn on_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        // Requests that arrived before the FIN still get their replies, a
        // chunk at a time as the client reads them (it only shut down its
        // sending side); at_eof says what was cut short once they are out.
        self.eof = true;
        self.advance(out)
    }

    fn has_more(&self) -> bool {
        self.more
    }

    fn on_room(&mut self, out: &mut Vec<u8>) -> Flow {
        self.advance(out)
    }
}

impl FileServer {
    /// Nothing more will arrive: a request cut short gets an error reply,
    /// and the connection closes.
    fn at_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        let why = match &self.state {
            State::Upload(up) => Some(format!(
                "{}: connection closed after {} of {} bytes; nothing stored",
                up.name,
                up.size - up.left,
                up.size
            )),
            State::Discard { left } => Some(format!("connection closed with {left} bytes of a body missing")),
            State::Idle if !self.buf.is_empty() => {
                Some(format!("connection closed inside a request header ({} bytes of it)", self.buf.len()))
            }
            _ => None,
        };
        if let Some(why) = why {
            // The client only shut down its sending side; it may still read this.
            self.ctx.note("recv request", CallResult::Failed { why: why.clone() });
            self.error(out, &why);
        }
        self.state = State::Closed; // drops an unfinished upload: its temp file goes
        Flow::Close
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
