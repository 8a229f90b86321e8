//! The file server's requests, one method each — list, get, put and the
//! commit of an upload — and the framing of their replies. The state
//! machine in [`super`] decides when each runs and streams the bodies;
//! these decide what is answered.

use std::fs::File;
use std::io::Read;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{FileServer, MAX_BACKLOG, MAX_FILE, State, Upload};
use crate::event::CallResult;
use crate::proto::hex;
use crate::proto::json_header::{self, DEFAULT_MAX_HEADER, LengthOrder};
use crate::serve::handler::Flow;

impl FileServer {
    /// Parse and answer the next buffered request; `Some` when the step
    /// must end (more input needed, or close).
    pub(super) fn next_request(&mut self, out: &mut Vec<u8>) -> Option<Flow> {
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
    pub(super) fn finish_upload(&mut self, out: &mut Vec<u8>) {
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
        match crate::serve::file_root::check_name(name) {
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

    pub(super) fn error(&self, out: &mut Vec<u8>, why: &str) {
        let mut fields = Map::new();
        fields.insert("status".into(), "error".into());
        fields.insert("error".into(), why.into());
        self.frame(out, fields, &[]);
    }

    /// An error after which the stream cannot be trusted: reply, then close.
    pub(super) fn fatal(&mut self, out: &mut Vec<u8>, why: &str) -> Flow {
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
