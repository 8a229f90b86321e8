//! file: framed `list`, `get NAME`, `put NAME` (size and sha256 in the
//! header), rooted in one directory. Requests and replies are frames
//! `[length][JSON header][body]`; every reply says `"status": "ok"` or
//! `"error"`.
//!
//! For the shared stream tests a message is a small `put` (its reply is
//! an empty `ok` frame), so a request split byte by byte or glued to the
//! next one is a header *and* a body to reassemble; the large test is the
//! file suite's own, a 9 MiB put and then the same file got back, read
//! late (`file_large`). The checker stores files named `netlab-check-…`
//! in the server's directory: the protocol has no delete.

use std::sync::Arc;

use serde_json::{Value, json};

use super::conn::Conn;
use super::dialect::{Body, Dialect, Exchange, Expect, Frame, read_frame};
use super::framing::{self, OrderProbe, by_order, random_tag, reason};
use super::pattern;
use super::report::{Failure, Mismatch};
use super::stream::{self, reframe};
use super::{Test, broken_frames, file_large, file_refusals};
use crate::proto::json_header::LengthOrder;
use crate::render::hexdump::quote_text;
pub use crate::serve::file::sha256_hex;

pub struct FileProto {
    pub order: LengthOrder,
}

impl FileProto {
    pub fn put(&self, name: &str, body: &[u8]) -> Vec<u8> {
        self.put_claiming(name, body, &sha256_hex(body))
    }

    /// A put whose header claims `sha256`, right or not.
    pub fn put_claiming(&self, name: &str, body: &[u8], sha256: &str) -> Vec<u8> {
        framing::frame(&[("cmd", json!("put")), ("name", json!(name)), ("sha256", json!(sha256))], body, self.order)
    }

    pub fn get(&self, name: &str) -> Vec<u8> {
        framing::frame(&[("cmd", json!("get")), ("name", json!(name))], b"", self.order)
    }

    pub fn list(&self) -> Vec<u8> {
        framing::frame(&[("cmd", json!("list"))], b"", self.order)
    }
}

impl Dialect for FileProto {
    fn name(&self) -> &'static str {
        "file"
    }

    fn message(&self, i: usize) -> Exchange {
        let body = format!("message {i}: hello, netlab\n");
        let request = self.put(&format!("netlab-check-{i}.txt"), body.as_bytes());
        Exchange { request, reply: Expect::Frame { body: Body::Exact(Vec::new()), status: Some("ok") } }
    }

    fn large(&self, size: usize) -> Exchange {
        let request = self.put("netlab-check-large.txt", &pattern::text(size));
        Exchange { request, reply: Expect::Frame { body: Body::Exact(Vec::new()), status: Some("ok") } }
    }

    /// A 64 KiB file, then 16 downloads of it: a megabyte of replies per
    /// 64 KiB sent, so a client that never reads soon backs them up.
    fn flood(&self) -> Vec<u8> {
        let name = "netlab-check-flood.txt";
        let mut out = self.put(name, &pattern::text(64 * 1024));
        for _ in 0..16 {
            out.extend_from_slice(&self.get(name));
        }
        out
    }

    fn order(&self) -> LengthOrder {
        self.order
    }
}

/// Send `request` (`what` names it in sentences) and read one frame back.
pub fn ask(conn: &mut Conn, d: &FileProto, request: &[u8], what: &str) -> Result<Frame, Failure> {
    stream::send(conn, request).map_err(|f| reframe(f, format!("your server stopped reading during {what}")))?;
    read_frame(conn, d.order).map_err(|e| {
        let said = e.describe(0);
        e.into_failure(format!("your server gave no proper reply to {what}: {said}"))
            .sent(&request[..request.len().min(4096)])
    })
}

pub fn status(frame: &Frame) -> &str {
    frame.header.get("status").and_then(Value::as_str).unwrap_or("")
}

/// The frame, if its status is ok.
pub fn expect_ok(frame: Frame, what: &str) -> Result<Frame, Failure> {
    if status(&frame) == "ok" {
        return Ok(frame);
    }
    let why = if status(&frame) == "error" {
        reason(&frame)
    } else {
        format!("its header: {}", Value::Object(frame.header.clone()))
    };
    Err(Failure::new(format!("your server did not answer {what} with \"status\": \"ok\"")).fact(why))
}

/// Whether the header's sha256 is `digest` (hex); `None`: it has none.
pub fn sha_matches(frame: &Frame, digest: &str) -> Option<bool> {
    let said = frame.header.get("sha256")?.as_str()?;
    Some(said.eq_ignore_ascii_case(digest))
}

/// Names (and sizes, where given) in a list reply: `[{"name", "size"}…]`,
/// or plain names.
fn listed(body: &[u8]) -> Option<Vec<(String, Option<u64>)>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let entries = value.as_array()?.iter().map(|e| match e {
        Value::String(name) => Some((name.clone(), None)),
        Value::Object(o) => Some((o.get("name")?.as_str()?.to_string(), o.get("size").and_then(Value::as_u64))),
        _ => None,
    });
    entries.collect()
}

/// `list` on `conn`: the names, or why there are none.
pub fn list_names(conn: &mut Conn, d: &FileProto) -> Result<Vec<(String, Option<u64>)>, Failure> {
    let request = d.list();
    let frame = expect_ok(ask(conn, d, &request, "list")?, "list")?;
    listed(&frame.body).ok_or_else(|| {
        Failure::new(
            "your server's list reply is not a JSON list of files: send [{\"name\": \"a.txt\", \"size\": 5}, …] as \
             its body",
        )
        .fact(format!("its body: {}", quote_text(&frame.body[..frame.body.len().min(200)])))
    })
}

fn list(d: Arc<FileProto>) -> Test {
    Test::new("list", "a file just put is in the list, with its size", move |cx| {
        let mut conn = stream::open(cx, &*d)?;
        let name = format!("netlab-check-list-{}.txt", random_tag());
        let body = b"listed, 23 bytes long.\n";
        expect_ok(ask(&mut conn, &d, &d.put(&name, body), &format!("put {name}"))?, &format!("put {name}"))?;
        let names = list_names(&mut conn, &d)?;
        let Some((_, size)) = names.iter().find(|(n, _)| *n == name) else {
            let shown: Vec<&str> = names.iter().take(20).map(|(n, _)| n.as_str()).collect();
            return Err(Failure::new(format!("your server's list does not show {name}, stored a moment before"))
                .fact(format!("it listed {} names: {}", names.len(), shown.join(", "))));
        };
        match size {
            Some(n) if *n != body.len() as u64 => Err(Failure::new(format!(
                "your server's list gives {name} a size of {n} bytes; it holds {}",
                body.len()
            ))),
            _ => Ok(format!("{name} was listed with its {} bytes among {} files", body.len(), names.len())),
        }
    })
}

fn put_get(d: Arc<FileProto>) -> Test {
    Test::new(
        "put-get",
        "a binary file put, then got back: the same bytes, and a sha256 in the header that matches",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let name = format!("netlab-check-{}.bin", random_tag());
            let body: Vec<u8> = (0..=255u8).cycle().take(4096).chain(*b"\r\n\n\0end").collect();
            let sha = sha256_hex(&body);
            let put = d.put_claiming(&name, &body, &sha);
            let stored = expect_ok(ask(&mut conn, &d, &put, &format!("put {name}"))?, &format!("put {name}"))?;
            if sha_matches(&stored, &sha) == Some(false) {
                return Err(Failure::new(
                    "your server's put reply has a sha256 that is not the upload's: hash exactly the bytes received",
                ));
            }
            let got = expect_ok(ask(&mut conn, &d, &d.get(&name), &format!("get {name}"))?, &format!("get {name}"))?;
            if got.body != body {
                return Err(Failure::new(
                    "your server's download differs from the upload: store and send a file's bytes exactly as they \
                     arrived (binary mode, no decoding, no newline translation)",
                )
                .mismatch(Mismatch::between(&body, &got.body)));
            }
            match sha_matches(&got, &sha) {
                Some(true) => {
                    Ok(format!("{} bytes of every value went up and came back; both sha256s matched", body.len()))
                }
                Some(false) => Err(Failure::new(
                    "your server's get reply has a sha256 that does not match the bytes it sent: the client will \
                     throw a good download away",
                )
                .fact(format!("the header said {}", got.header.get("sha256").and_then(Value::as_str).unwrap_or("")))
                .fact(format!("the bytes hash to {sha}"))),
                None => Err(Failure::new(
                    "your server's get reply has no \"sha256\" in its header: the client cannot check the download — \
                     send hashlib.sha256(data).hexdigest()",
                )
                .fact(format!("its header: {}", Value::Object(got.header)))),
            }
        },
    )
}

fn missing_file(d: Arc<FileProto>) -> Test {
    Test::new(
        "missing-file",
        "get of a file that does not exist: an error reply, and the connection still works",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let name = format!("netlab-check-missing-{}.txt", random_tag());
            let what = format!("get {name}, a file that does not exist");
            let frame = ask(&mut conn, &d, &d.get(&name), &what).map_err(|f| {
                let crashed = stream::still_serving(cx, &*d).is_err();
                let how = if crashed { "stopped serving everyone" } else { "closed the connection" };
                let why = format!(
                    "your server {how} when asked for a file that does not exist: reply with an error frame and \
                     keep serving"
                );
                reframe(f, why)
            })?;
            if status(&frame) != "error" {
                return Err(Failure::new(format!(
                    "your server answered get of a file that does not exist with status \"{}\", not \"error\"",
                    status(&frame)
                ))
                .fact(format!("its header: {}", Value::Object(frame.header))));
            }
            list_names(&mut conn, &d).map_err(|f| {
                reframe(f, "after its error reply for a missing file your server stopped answering on that connection")
            })?;
            Ok(format!("a missing file got an error ({}); the connection still worked", reason(&frame)))
        },
    )
}

fn tests(order: LengthOrder) -> Vec<Test> {
    let d = Arc::new(FileProto { order });
    let dialect: Arc<dyn Dialect> = d.clone();
    let probe = OrderProbe::new(|order| Arc::new(FileProto { order }) as Arc<dyn Dialect>);
    let (gentle, destructive) = stream::shared(&dialect);
    // The shared large test reads a large *reply*; a put's reply is tiny.
    let mut all: Vec<Test> =
        gentle.into_iter().map(|t| if t.name == "large" { file_large::large(d.clone()) } else { t }).collect();
    all.push(list(d.clone()));
    all.push(put_get(d.clone()));
    all.push(missing_file(d.clone()));
    all.push(file_refusals::bad_sha256(d.clone()));
    all.push(file_refusals::traversal(d.clone()));
    all.push(broken_frames::bad_header(dialect.clone()));
    all.push(broken_frames::bad_length(dialect.clone()));
    all.extend(destructive);
    all.into_iter().map(|t| probe.wrap(t)).collect()
}

pub fn suite() -> Vec<Test> {
    by_order(tests)
}
