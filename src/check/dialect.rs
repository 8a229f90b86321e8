//! What the shared stream tests need to know about a protocol: how a
//! request looks on the wire, and how to read and judge its reply. Echo,
//! upper, framed, cmd and auth each describe themselves once here, and
//! every test in `stream` runs against all of them.

use std::time::Duration;

use serde_json::{Map, Value};

use super::Cx;
use super::conn::{Conn, End, Got};
use super::report::{Failure, Mismatch};
use crate::proto::json_header::{DATA_SIZE, DEFAULT_MAX_HEADER, LengthOrder};

/// One request and the reply a correct server gives it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub request: Vec<u8>,
    pub reply: Expect,
}

#[derive(Debug, Clone)]
pub enum Expect {
    /// Exactly these bytes (echo, upper, auth's echo).
    Bytes(Vec<u8>),
    /// One `[4-byte length][JSON header][body]` frame (framed, cmd, file).
    Frame { body: Body, status: Option<&'static str> },
}

#[derive(Debug, Clone)]
pub enum Body {
    Exact(Vec<u8>),
    /// Only the size is specified (cmd's `big N`: N bytes of anything).
    Size(usize),
}

impl Expect {
    /// Bytes of body the reply carries: what "large" means.
    pub fn len(&self) -> usize {
        match self {
            Expect::Bytes(b) | Expect::Frame { body: Body::Exact(b), .. } => b.len(),
            Expect::Frame { body: Body::Size(n), .. } => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub trait Dialect: Send + Sync {
    /// The protocol's name, for sentences.
    fn name(&self) -> &'static str;

    /// After connecting, before the first request: auth answers its
    /// challenge here, a protocol with a banner reads it.
    fn open(&self, _cx: &Cx, _conn: &mut Conn) -> Result<(), Failure> {
        Ok(())
    }

    /// The `i`-th small message of a test (each different, so a reply
    /// to the wrong one shows).
    fn message(&self, i: usize) -> Exchange;

    /// A request whose reply is `size` bytes (and, where the protocol
    /// lets a client send that much, whose request is too).
    fn large(&self, size: usize) -> Exchange;

    /// A request a client that never reads its replies can keep sending.
    fn flood(&self) -> Vec<u8>;

    /// The first part of a request, never a whole one: a client that
    /// vanishes mid-message sends this.
    fn partial(&self) -> Vec<u8> {
        let mut request = self.message(0).request;
        request.truncate((request.len() / 2).max(1));
        request
    }

    fn order(&self) -> LengthOrder {
        LengthOrder::BigEndian
    }
}

/// Why a reply was not the one expected.
#[derive(Debug, Clone)]
pub struct ReplyError {
    pub problem: Problem,
    /// Everything read of the reply (body only, for frames).
    pub got: Vec<u8>,
    pub mismatch: Option<Box<Mismatch>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The reply stopped before it was complete.
    Ended(End),
    /// Wrong bytes.
    Differs,
    /// A frame that breaks the framing rules, in words.
    BadFrame(String),
}

impl ReplyError {
    /// "the server closed the connection after 6 of 12 bytes".
    pub fn describe(&self, expected: usize) -> String {
        match &self.problem {
            Problem::Ended(end) if self.got.is_empty() => format!("no reply: {}", end.describe()),
            Problem::Ended(end) => format!("{} of {expected} bytes came, then {}", self.got.len(), end.describe()),
            Problem::Differs => match &self.mismatch {
                Some(m) => format!("the reply differs from byte {}", m.first_diff),
                None => "the reply differs".into(),
            },
            Problem::BadFrame(why) => why.clone(),
        }
    }

    /// A failure with this error's bytes attached.
    pub fn into_failure(self, assumption: impl Into<String>) -> Failure {
        Failure::new(assumption).mismatch(self.mismatch)
    }
}

/// Read one reply and judge it against `expect`.
pub fn read_reply(conn: &mut Conn, expect: &Expect, order: LengthOrder) -> Result<(), ReplyError> {
    match expect {
        Expect::Bytes(want) => {
            let got = conn.recv_exact(want.len());
            judge(want, got)
        }
        Expect::Frame { body, status } => {
            let frame = read_frame(conn, order)?;
            if let Some(want) = status {
                let said = frame.header.get("status").and_then(Value::as_str).unwrap_or("");
                if said != *want {
                    let error = frame.header.get("error").and_then(Value::as_str).unwrap_or("");
                    let why = if said.is_empty() {
                        format!("the reply's header has no \"status\": \"{want}\": {}", Value::Object(frame.header))
                    } else {
                        format!("the reply's status is \"{said}\", not \"{want}\" {error}")
                    };
                    return Err(ReplyError { problem: Problem::BadFrame(why), got: frame.body, mismatch: None });
                }
            }
            match body {
                Body::Exact(want) if *want != frame.body => Err(ReplyError {
                    problem: Problem::Differs,
                    mismatch: Mismatch::between(want, &frame.body),
                    got: frame.body,
                }),
                _ => Ok(()),
            }
        }
    }
}

fn judge(want: &[u8], got: Got) -> Result<(), ReplyError> {
    let mismatch = Mismatch::between(want, &got.data);
    let differs = got.data.iter().zip(want).any(|(a, b)| a != b);
    match (differs, got.end) {
        (false, None) => Ok(()),
        (true, _) => Err(ReplyError { problem: Problem::Differs, got: got.data, mismatch }),
        (false, Some(end)) => Err(ReplyError { problem: Problem::Ended(end), got: got.data, mismatch }),
    }
}

/// A frame as read off the wire.
#[derive(Debug, Clone)]
pub struct Frame {
    pub header: Map<String, Value>,
    pub body: Vec<u8>,
}

/// Headers up to this size are believed; past it the length is taken to
/// be a byte-order mistake or garbage.
const MAX_HEADER: usize = DEFAULT_MAX_HEADER;

fn read_len(bytes: &[u8], order: LengthOrder) -> u32 {
    let b = [bytes[0], bytes[1], bytes[2], bytes[3]];
    match order {
        LengthOrder::BigEndian => u32::from_be_bytes(b),
        LengthOrder::LittleEndian => u32::from_le_bytes(b),
    }
}

fn other(order: LengthOrder) -> LengthOrder {
    match order {
        LengthOrder::BigEndian => LengthOrder::LittleEndian,
        LengthOrder::LittleEndian => LengthOrder::BigEndian,
    }
}

fn order_name(order: LengthOrder) -> &'static str {
    match order {
        LengthOrder::BigEndian => "big-endian (network order, struct.pack('!I'))",
        LengthOrder::LittleEndian => "little-endian (struct.pack('i') on x86)",
    }
}

/// `[4-byte length][JSON header][body]`, every field checked.
pub fn read_frame(conn: &mut Conn, order: LengthOrder) -> Result<Frame, ReplyError> {
    let ended = |got: Got| ReplyError {
        problem: Problem::Ended(got.end.clone().unwrap_or(End::Eof)),
        got: got.data,
        mismatch: None,
    };
    let len = conn.recv_exact(4);
    if len.end.is_some() {
        return Err(ended(len));
    }
    let header_len = read_len(&len.data, order) as usize;
    if header_len > MAX_HEADER || header_len == 0 {
        let flipped = read_len(&len.data, other(order)) as usize;
        let why = if (1..=MAX_HEADER).contains(&flipped) {
            format!(
                "the reply's 4-byte length {} reads as {header_len} in {}, but as {flipped} in {}: your server wrote \
                 the length in the other byte order",
                crate::render::hexdump::hex_compact(&len.data),
                order_name(order),
                order_name(other(order))
            )
        } else {
            format!(
                "the reply's 4-byte length {} says a {header_len}-byte header: that is not a frame header",
                crate::render::hexdump::hex_compact(&len.data)
            )
        };
        return Err(ReplyError { problem: Problem::BadFrame(why), got: len.data, mismatch: None });
    }
    let header = conn.recv_exact(header_len);
    if header.end.is_some() {
        return Err(ended(header));
    }
    let parsed: Map<String, Value> = match serde_json::from_slice(&header.data) {
        Ok(Value::Object(map)) => map,
        _ => {
            let why = format!(
                "the reply's header is not a JSON object: {}",
                crate::render::hexdump::quote_text(&header.data[..header.data.len().min(120)])
            );
            return Err(ReplyError { problem: Problem::BadFrame(why), got: header.data, mismatch: None });
        }
    };
    let Some(size) = parsed.get(DATA_SIZE).and_then(Value::as_u64) else {
        let why = format!("the reply's header has no \"{DATA_SIZE}\" number: {}", Value::Object(parsed));
        return Err(ReplyError { problem: Problem::BadFrame(why), got: header.data, mismatch: None });
    };
    let body = conn.recv_exact(size as usize);
    if body.end.is_some() {
        let mut e = ended(body);
        if let Problem::Ended(end) = &e.problem {
            e.problem = Problem::BadFrame(format!(
                "the header promised {size} bytes of body, but {} came before {}",
                e.got.len(),
                end.describe()
            ));
        }
        return Err(e);
    }
    Ok(Frame { header: parsed, body: body.data })
}

/// `[length][{"data_size": N, …}][body]` in `order`.
pub fn frame(extra: &Map<String, Value>, body: &[u8], order: LengthOrder) -> Vec<u8> {
    // Our own frames are small JSON and bounded bodies: encode cannot fail
    // on them; an empty vector would only make the test fail visibly.
    crate::proto::json_header::encode(extra, body, order).unwrap_or_default()
}

/// How long the large test waits for nothing to move before it reads.
pub const STALL: Duration = Duration::from_millis(100);
