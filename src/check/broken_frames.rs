//! Frames no server can use — a 4 GiB length, a header that is not JSON
//! or has no `data_size` — for the protocols whose requests are frames
//! (framed, file). Nothing after a broken frame can be trusted to start a
//! new one, so the right answer is an error frame or a closed connection,
//! at once; waiting for 4 GiB, or dying, is the bug. And one client's
//! garbage must never stop the server serving the others.

use std::sync::Arc;

use super::dialect::Dialect;
use super::framing::{Refusal, raw_frame, reason, refusal};
use super::report::Failure;
use super::stream::{self, reframe};
use super::{Cx, Test, target};
use crate::render::hexdump::hex_compact;

/// Bytes after the bad length: not JSON whatever a server makes of them,
/// so even a server that reads "up to 4 GiB" in one recv() stops there.
const TRAILER: usize = 1024;

fn down(f: Failure, what: &str) -> Failure {
    reframe(
        f,
        format!(
            "your server stopped serving everyone after one client sent {what}: an error in one connection's code \
             took the whole server down — catch it, close that connection only, and keep accepting"
        ),
    )
}

/// A fresh client is still served after `what`.
fn others_served(cx: &Cx, d: &dyn Dialect, what: &str) -> Result<(), Failure> {
    stream::still_serving(cx, d).map_err(|f| down(f, what))
}

pub fn bad_length(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "bad-length",
        "a header length of ff ff ff ff (4 GiB): an error frame or a close at once, and others still served",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let mut bytes = vec![0xff; 4];
            bytes.extend(std::iter::repeat_n(b'x', TRAILER));
            // A server that closes before all of it went has refused it.
            let verdict = match conn.send(&bytes) {
                Ok(()) => refusal(&mut conn, d.order()),
                Err(_) => Refusal::Closed,
            };
            let sent = bytes.len();
            match verdict {
                Refusal::Closed | Refusal::ErrorFrame(_) => {}
                Refusal::Waited => {
                    let mut f = Failure::new(format!(
                        "your server believed a header length of {} — 4,294,967,295 bytes — and waited for them: \
                         check a length against a limit (a few KiB for a JSON header) before reading that much, \
                         and close the connection when it is over",
                        hex_compact(&bytes[..4])
                    ));
                    if target::server_unread(conn.local, conn.peer) == Some(0) {
                        f = f.fact(format!("it read all {sent} bytes I sent and kept asking for more"));
                    }
                    return Err(f.fact(format!("nothing came back for {} ms", cx.timeout.as_millis())).sent(&bytes));
                }
                Refusal::Answered(frame) => {
                    return Err(Failure::new(
                        "your server answered a frame whose length says 4 GiB as if it were fine: a length over \
                         your limit is an error (reply with one, or close)",
                    )
                    .fact(format!("its reply's header: {}", serde_json::Value::Object(frame.header)))
                    .sent(&bytes));
                }
                Refusal::Garbled(why) => {
                    return Err(Failure::new(format!(
                        "after a 4 GiB header length your server sent bytes that are not a frame: {why}"
                    ))
                    .sent(&bytes));
                }
            }
            conn.close();
            others_served(cx, &*d, "a 4 GiB header length")?;
            Ok("a 4 GiB length was refused at once; the next client was served".into())
        },
    )
}

/// One header a server cannot use, what it is, and whether a reply that
/// is not an error is acceptable too (a lenient decoder may take it).
struct BadHeader {
    what: &'static str,
    header: &'static [u8],
    body: &'static [u8],
    lenient_ok: bool,
}

const BAD_HEADERS: [BadHeader; 3] = [
    BadHeader { what: "not JSON", header: b"this is not JSON", body: b"", lenient_ok: false },
    BadHeader { what: "JSON without \"data_size\"", header: b"{\"size\": 5}", body: b"hello", lenient_ok: false },
    // Invalid UTF-8 inside a JSON string: strict decoders refuse it,
    // lenient ones replace it; either way the server must not hang or die.
    BadHeader { what: "not UTF-8", header: b"{\"data_size\": 0, \"note\": \"\xff\xfe\"}", body: b"", lenient_ok: true },
];

pub fn bad_header(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "bad-header",
        "headers that are not JSON, lack data_size, or are not UTF-8: an error frame or a close, and others served",
        move |cx| {
            let mut seen = Vec::new();
            for (i, case) in BAD_HEADERS.iter().enumerate() {
                let mut conn = match (stream::open(cx, &*d), i) {
                    (Ok(conn), _) => conn,
                    (Err(f), 0) => return Err(f),
                    (Err(f), _) => return Err(down(f, &format!("a header that is {}", BAD_HEADERS[i - 1].what))),
                };
                let bytes = raw_frame(case.header, case.body, d.order());
                let verdict = match conn.send(&bytes) {
                    Ok(()) => refusal(&mut conn, d.order()),
                    Err(_) => Refusal::Closed,
                };
                match verdict {
                    Refusal::Closed => seen.push(format!("{}: closed", case.what)),
                    Refusal::ErrorFrame(frame) => seen.push(format!("{}: error frame ({})", case.what, reason(&frame))),
                    Refusal::Answered(_) if case.lenient_ok => seen.push(format!("{}: answered", case.what)),
                    Refusal::Answered(frame) => {
                        return Err(Failure::new(format!(
                            "your server answered a header that is {} as if it were fine: without a valid header \
                             it cannot know how long the body is — reply with an error, or close",
                            case.what
                        ))
                        .fact(format!("its reply's header: {}", serde_json::Value::Object(frame.header)))
                        .sent(&bytes));
                    }
                    Refusal::Waited => {
                        return Err(Failure::new(format!(
                            "your server kept waiting after a header that is {}: more bytes can never make it a \
                             valid frame — reply with an error or close the connection",
                            case.what
                        ))
                        .fact(format!("nothing came back for {} ms", cx.timeout.as_millis()))
                        .sent(&bytes));
                    }
                    Refusal::Garbled(why) => {
                        return Err(Failure::new(format!(
                            "after a header that is {} your server sent bytes that are not a frame: {why}",
                            case.what
                        ))
                        .sent(&bytes));
                    }
                }
                conn.close();
            }
            others_served(cx, &*d, "a broken header")?;
            Ok(format!("{}; the next client was served", seen.join("; ")))
        },
    )
}
