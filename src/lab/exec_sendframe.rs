//! `sendframe SOCK HEADER [PAYLOAD…] [--sha256] [--le]`: one JSON-header
//! message — `[4-byte length][JSON header][body]` — built the way the
//! classic Python client builds it, then sent whole (the sendall loop):
//!
//! ```text
//! header["data_size"] = len(body)              # always: the real length wins
//! header["sha256"] = sha256(body).hexdigest()  # with --sha256
//! h = json.dumps(header).encode()
//! sock.sendall(struct.pack('!I', len(h)) + h + body)   # '<I' with --le
//! ```
//!
//! So a learner can talk to `serve framed` / `serve file` without counting
//! header bytes by hand; `recv SOCK --frame json` reads the reply.

use std::time::Duration;

use serde_json::{Map, Value};

use super::command::{self, Command};
use super::payload::{self, Payload};
use super::tokens::{self, Args};
use super::{Lab, Outcome};
use crate::event::Event;
use crate::proto::json_header::{self, LengthOrder};

const USAGE: &str =
    "usage: sendframe SOCK HEADER [PAYLOAD…] [--sha256] [--le] [--timeout MS], e.g. sendframe cli '{\"cmd\":\"list\"}'";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFrame {
    pub sock: String,
    /// A JSON object, checked when parsed; `data_size` is added when sent.
    pub header: String,
    pub body: Option<Payload>,
    /// Add `"sha256"`: the body's SHA-256 in hex.
    pub sha256: bool,
    pub order: LengthOrder,
    pub timeout: Option<Duration>,
}

pub(super) fn parse(rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, &["timeout"], &["sha256", "le"])?;
    let [sock, header, body @ ..] = a.positional.as_slice() else { return Err(USAGE.into()) };
    tokens::check_name(sock)?;
    if a.name.is_some() {
        return Err("sendframe makes no socket, so it takes no `as NAME`".into());
    }
    if !(header.starts_with('\'') || header.starts_with('"')) {
        return Err(format!("the header {header} must be quoted JSON, e.g. '{{\"cmd\":\"list\"}}'"));
    }
    let text = String::from_utf8(payload::unquote(header)?).map_err(|_| "the header is not UTF-8 text".to_string())?;
    header_fields(&text)?;
    let body = if body.is_empty() { None } else { Some(Payload::parse(body)?) };
    let order = if a.has("le") { LengthOrder::LittleEndian } else { LengthOrder::BigEndian };
    Ok(Command::SendFrame(SendFrame {
        sock: sock.clone(),
        header: text,
        body,
        sha256: a.has("sha256"),
        order,
        timeout: command::timeout(&a)?,
    }))
}

fn header_fields(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the header {text} is JSON but not an object: write {{\"key\": value, …}}")),
        Err(e) => Err(format!("the header {text} is not JSON ({e})")),
    }
}

/// The whole frame for `spec`, and a one-line description of its parts.
pub fn build(spec: &SendFrame) -> Result<(Vec<u8>, String), String> {
    let body = match &spec.body {
        Some(p) => p.bytes()?,
        None => Vec::new(),
    };
    let mut header = header_fields(&spec.header)?;
    if spec.sha256 {
        header.insert("sha256".into(), crate::serve::file::sha256_hex(&body).into());
    }
    let frame = json_header::encode(&header, &body, spec.order).map_err(|e| e.to_string())?;
    let json_len = frame.len() - 4 - body.len();
    let json = String::from_utf8_lossy(&frame[4..4 + json_len]);
    let order = match spec.order {
        LengthOrder::BigEndian => "big-endian, struct.pack('!I')",
        LengthOrder::LittleEndian => "little-endian, struct.pack('<I')",
    };
    let about = format!(
        "frame: length {json_len} ({order}) + header {json} + body {} bytes = {} bytes",
        body.len(),
        frame.len()
    );
    Ok((frame, about))
}

impl Lab {
    pub(super) fn send_frame(&mut self, spec: &SendFrame) -> Result<Outcome, String> {
        let (frame, about) = build(spec)?;
        self.emit(Event::Note { text: about });
        self.send_all(&spec.sock, &Payload::from_bytes(frame), spec.timeout, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<SendFrame, String> {
        match Command::parse(line)? {
            Command::SendFrame(f) => Ok(f),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn builds_what_the_python_client_sends() {
        let f = parse_line(r#"sendframe cli '{"cmd":"put","name":"a.txt"}' "hello" --sha256"#).unwrap();
        let (frame, about) = build(&f).unwrap();
        let json = br#"{"cmd":"put","data_size":5,"name":"a.txt","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}"#;
        let mut want = (json.len() as u32).to_be_bytes().to_vec();
        want.extend_from_slice(json);
        want.extend_from_slice(b"hello");
        assert_eq!(frame, want);
        assert!(about.contains("body 5 bytes"), "{about}");
        let f = parse_line(r#"sendframe cli '{"cmd":"list"}' --le"#).unwrap();
        assert_eq!(build(&f).unwrap().0, b"\x1c\x00\x00\x00{\"cmd\":\"list\",\"data_size\":0}");
    }

    #[test]
    fn bad_headers_are_caught_when_parsed() {
        for bad in [
            "sendframe cli",
            "sendframe cli {}",
            r#"sendframe cli '{"cmd":'"#,
            "sendframe cli '[1,2]'",
            r#"sendframe cli '{}' as x"#,
        ] {
            let e = Command::parse(bad).unwrap_err();
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }
}
