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
//! A get is sent in [`CHUNK`]-sized pieces (the handler asks its driver
//! to come back at once through [`Handler::deadline`]), so a 64 MiB file
//! never sits in memory whole.
//!
//! Broken framing (a header that is not JSON, no `data_size`, a header or
//! body over its cap) gets an error reply and closes this connection
//! only: after it, where the next message starts is guesswork.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::file_root::FileRoot;
use super::handler::{Ctx, Flow, Handler};
use crate::event::CallResult;
use crate::proto::hex;
use crate::proto::json_header::{self, DEFAULT_MAX_HEADER, LengthOrder};

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
    /// Output is pending that did not fit in one turn.
    more: bool,
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
        FileServer { root, order, ctx, buf: Vec::new(), state: State::Idle, more: false }
    }

    /// Do as much as the buffered input allows, stopping once a chunk of
    /// output is ready (the driver sends it and comes back via the deadline).
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
                    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(CHUNK);
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

    /// Parse and answer the next buffered request; `Some` when the step
    /// must end (more input needed, or close).
    fn next_request(&mut self, out: &mut Vec<u8>) -> Option<Flow> {
        let parsed = json_header::parse_header(&self.buf, self.order, DEFAULT_MAX_HEADER, usize::MAX);
        let pending = match parsed {
            Ok(Some(p)) => p,
            Ok(None) if self.buf.len() > MAX_BACKLOG => {
                return Some(self.fatal(out, "too many requests queued without reading the replies"));
            }
            Ok(None) => return Some(Flow::Continue),
            Err(e) => return Some(self.fatal(out, &format!("{e}; closing this connection"))),
        };
        self.buf.drain(..pending.header_len);
        let size = pending.body_len as u64;
        if size > MAX_FILE {
            let why = format!("a body of {size} bytes is over the {MAX_FILE}-byte limit; closing this connection");
            return Some(self.fatal(out, &why));
        }
        let header = pending.header;
        let cmd = header.get("cmd").and_then(Value::as_str).unwrap_or_default();
        if cmd != "put" && size > 0 {
            // Skip the body so the next request is found where it starts.
            self.state = State::Discard { left: size };
            let why = match cmd {
                "list" | "get" | "quit" => format!("{cmd}: takes no body, got {size} bytes"),
                _ => format!("unknown cmd \"{cmd}\": use list, get, put or quit"),
            };
            self.error(out, &why);
            return None;
        }
        match cmd {
            "list" => self.list(out),
            "get" => self.get(&header, out),
            "put" => self.put(&header, size, out),
            "quit" => {
                self.ctx.note("quit", CallResult::ok("closing"));
                self.reply(out, Map::new(), &[]);
                self.state = State::Closed;
                return Some(Flow::Close);
            }
            "" => self.error(out, "the header has no \"cmd\": use list, get, put or quit"),
            other => self.error(out, &format!("unknown cmd \"{other}\": use list, get, put or quit")),
        }
        None
    }

    fn list(&mut self, out: &mut Vec<u8>) {
        match self.root.list() {
            Ok(files) => {
                let entries: Vec<Value> =
                    files.iter().map(|(name, size)| json!({"name": name, "size": size})).collect();
                let body = Value::Array(entries).to_string().into_bytes();
                let plural = if files.len() == 1 { "" } else { "s" };
                self.ctx.note("list", CallResult::ok(format!("{} file{plural}", files.len())));
                self.reply(out, Map::new(), &body);
            }
            Err(e) => self.error(out, &format!("cannot list the directory: {e}")),
        }
    }

    fn get(&mut self, header: &Map<String, Value>, out: &mut Vec<u8>) {
        let Some(name) = self.name(header, "get", out) else { return };
        let (mut file, size) = match self.root.open_file(&name) {
            Ok(opened) => opened,
            Err(why) => return self.error(out, &why),
        };
        if size > MAX_FILE {
            return self.error(out, &format!("{name}: {size} bytes, over the {MAX_FILE}-byte limit"));
        }
        // The digest goes in the header, before the body: one pass to
        // compute it, a second to send, in bounded memory both times.
        let sha = match digest_of(&mut file, size) {
            Ok(sha) => sha,
            Err(e) => return self.error(out, &format!("{name}: cannot read it: {e}")),
        };
        self.ctx.note(&format!("get {name}"), CallResult::ok(format!("{size} bytes, sha256 {}…", &sha[..12])));
        let mut fields = Map::new();
        fields.insert("name".into(), name.into());
        fields.insert("size".into(), size.into());
        fields.insert("sha256".into(), sha.into());
        fields.insert(json_header::DATA_SIZE.into(), size.into());
        self.reply(out, fields, &[]);
        self.state = if size == 0 { State::Idle } else { State::Download { file, left: size } };
    }

    fn put(&mut self, header: &Map<String, Value>, size: u64, out: &mut Vec<u8>) {
        // Whatever is wrong with the header, the body is on its way: read
        // it and drop it, so the next request is found where it starts.
        self.state = State::Discard { left: size };
        let Some(name) = self.name(header, "put", out) else { return };
        let want = match header.get("sha256").and_then(Value::as_str) {
            Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s.to_ascii_lowercase(),
            Some(_) => {
                return self.error(out, "put: \"sha256\" must be 64 hex digits (hashlib.sha256(data).hexdigest())");
            }
            None => return self.error(out, "put: the header needs \"sha256\", the body's SHA-256 in hex"),
        };
        if let Err(why) = self.root.check_replaceable(&name) {
            return self.error(out, &why);
        }
        let (file, temp) = match self.root.temp_file() {
            Ok(t) => t,
            Err(e) => return self.error(out, &format!("{name}: cannot store it: {e}")),
        };
        let up = Upload { name, file, temp: Some(temp), size, left: size, hasher: Sha256::new(), want };
        self.state = State::Upload(up);
        if size == 0 {
            self.finish_upload(out);
        }
    }

    /// All bytes of a put are in the temporary file: keep it if they are
    /// the bytes the client meant.
    fn finish_upload(&mut self, out: &mut Vec<u8>) {
        let State::Upload(mut up) = std::mem::replace(&mut self.state, State::Idle) else { return };
        let got = hex(&std::mem::take(&mut up.hasher).finalize());
        if got != up.want {
            let why = format!(
                "{}: sha256 mismatch: the header said {}, the {} bytes received hash to {got}; nothing stored",
                up.name, up.want, up.size
            );
            self.ctx.note(&format!("put {}", up.name), CallResult::Failed { why: why.clone() });
            return self.error(out, &why);
        }
        let Some(temp) = up.temp.take() else { return };
        if let Err(why) = self.root.commit(&temp, &up.name) {
            let _ = std::fs::remove_file(&temp);
            return self.error(out, &why);
        }
        self.ctx.note(&format!("put {}", up.name), CallResult::ok(format!("{} bytes, sha256 ok, stored", up.size)));
        let mut fields = Map::new();
        fields.insert("name".into(), up.name.clone().into());
        fields.insert("size".into(), up.size.into());
        fields.insert("sha256".into(), got.into());
        self.reply(out, fields, &[]);
    }

    /// The request's "name", if it is one the server may use.
    fn name(&mut self, header: &Map<String, Value>, cmd: &str, out: &mut Vec<u8>) -> Option<String> {
        let Some(name) = header.get("name").and_then(Value::as_str) else {
            self.error(out, &format!("{cmd}: the header needs \"name\", a file name"));
            return None;
        };
        match super::file_root::check_name(name) {
            Ok(()) => Some(name.to_string()),
            Err(why) => {
                self.ctx.note(&format!("{cmd} refused"), CallResult::Failed { why: why.clone() });
                self.error(out, &why);
                None
            }
        }
    }

    fn reply(&self, out: &mut Vec<u8>, mut fields: Map<String, Value>, body: &[u8]) {
        fields.insert("status".into(), "ok".into());
        self.frame(out, fields, body);
    }

    fn error(&self, out: &mut Vec<u8>, why: &str) {
        let mut fields = Map::new();
        fields.insert("status".into(), "error".into());
        fields.insert("error".into(), why.into());
        self.frame(out, fields, &[]);
    }

    /// An error after which the stream cannot be trusted: reply, then close.
    fn fatal(&mut self, out: &mut Vec<u8>, why: &str) -> Flow {
        self.ctx.note("recv request", CallResult::Failed { why: why.to_string() });
        self.error(out, why);
        self.state = State::Closed;
        Flow::Close
    }

    /// Frame a header (whose data_size may announce a body sent later).
    fn frame(&self, out: &mut Vec<u8>, mut fields: Map<String, Value>, body: &[u8]) {
        fields.entry(json_header::DATA_SIZE).or_insert_with(|| body.len().into());
        let json = Value::Object(fields).to_string().into_bytes();
        let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&match self.order {
            LengthOrder::BigEndian => len.to_be_bytes(),
            LengthOrder::LittleEndian => len.to_le_bytes(),
        });
        out.extend_from_slice(&json);
        out.extend_from_slice(body);
    }
}

/// Drop up to `left` bytes from the front of `buf`; returns how many.
fn take(buf: &mut Vec<u8>, left: &mut u64) -> usize {
    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
    buf.drain(..n);
    *left -= n as u64;
    n
}

/// SHA-256 of the first `size` bytes of `file`, then rewind it.
fn digest_of(file: &mut File, size: u64) -> std::io::Result<String> {
    use std::io::Seek;
    let mut hasher = Sha256::new();
    let copied = std::io::copy(&mut Read::by_ref(file).take(size), &mut hasher)?;
    if copied != size {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file shrank while reading it"));
    }
    file.rewind()?;
    Ok(hex(&hasher.finalize()))
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
        self.step(out)
    }

    fn on_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        // Requests that arrived just before the FIN still get their replies
        // (the driver sends `out` once, after this: cap what it may hold).
        while self.step(out) == Flow::Continue && self.more && out.len() <= MAX_FILE as usize {}
        if self.more {
            self.ctx.note("close", CallResult::Failed { why: "EOF with replies still unsent; dropped".into() });
            self.state = State::Closed;
            return Flow::Close;
        }
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

    fn deadline(&self) -> Option<Instant> {
        self.more.then(Instant::now)
    }

    fn on_deadline(&mut self, out: &mut Vec<u8>) -> Flow {
        self.step(out)
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
