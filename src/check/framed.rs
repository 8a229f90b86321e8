//! framed: an echo of messages, each `[4-byte length][JSON header with
//! data_size][body]` both ways. The classic tutorial code reads the length
//! with one `recv(4)` and the header and body with one `recv(n)` each —
//! fine on an idle loopback with small messages, wrong everywhere else —
//! and packs the length with `struct.pack('i')`, the machine's order.

use std::sync::Arc;

use serde_json::Value;

use super::conn::{Conn, Taken};
use super::dialect::{Body, Dialect, Exchange, Expect, Problem, read_frame};
use super::framing::{self, OrderProbe, by_order, diagnosis, order_word, other};
use super::pattern;
use super::report::{Failure, Mismatch};
use super::stream::{self, mib, reframe};
use super::{Cx, Test, broken_frames};
use crate::proto::json_header::{DATA_SIZE, DEFAULT_MAX_HEADER, LengthOrder};

pub struct Framed {
    order: LengthOrder,
}

fn echo_of(body: &[u8]) -> Expect {
    Expect::Frame { body: Body::Exact(body.to_vec()), status: None }
}

impl Framed {
    fn request(&self, fields: &[(&str, Value)], body: &[u8]) -> Exchange {
        Exchange { request: framing::frame(fields, body, self.order), reply: echo_of(body) }
    }
}

impl Dialect for Framed {
    fn name(&self) -> &'static str {
        "framed"
    }

    fn message(&self, i: usize) -> Exchange {
        self.request(&[], format!("message {i}: hello, netlab\n").as_bytes())
    }

    fn large(&self, size: usize) -> Exchange {
        self.request(&[], &pattern::text(size))
    }

    fn flood(&self) -> Vec<u8> {
        framing::frame(&[], &pattern::text(64 * 1024), self.order)
    }

    fn order(&self) -> LengthOrder {
        self.order
    }
}

/// Send one frame on `conn` and check its echo; `why` heads the failure.
fn echoed(cx: &Cx, d: &Framed, conn: &mut Conn, ex: &Exchange, why: &str) -> Result<(), Failure> {
    stream::exchange(cx, d, conn, ex).map_err(|e| {
        let said = e.describe(ex.reply.len());
        e.into_failure(why).fact(said).sent(&ex.request)
    })
}

fn byte_order(d: Arc<Framed>, probe: Arc<OrderProbe>) -> Test {
    Test::new(
        "byte-order",
        "the 4-byte length in the agreed order (big-endian; little-endian with --native-endian), both ways",
        move |cx| {
            let order = d.order;
            let mut conn = stream::open(cx, &*d)?;
            let body = b"byte order: hello, netlab\n";
            let ex = d.request(&[], body);
            stream::send(&mut conn, &ex.request)?;
            let e = match read_frame(&mut conn, order) {
                Ok(frame) if frame.body == body => {
                    return Ok(format!("a {} length went in and came back {}", order_word(order), order_word(order)));
                }
                Ok(frame) => {
                    return Err(Failure::new("your server's reply frame does not carry the body it was sent")
                        .mismatch(Mismatch::between(body, &frame.body))
                        .sent(&ex.request));
                }
                Err(e) => e,
            };
            // The reply's length read in our order is absurd, in the other sane.
            if let (Problem::BadFrame(_), Ok(four)) = (&e.problem, <[u8; 4]>::try_from(e.got.as_slice())) {
                let flipped = match other(order) {
                    LengthOrder::BigEndian => u32::from_be_bytes(four),
                    LengthOrder::LittleEndian => u32::from_le_bytes(four),
                } as usize;
                if (1..=DEFAULT_MAX_HEADER).contains(&flipped) {
                    return Err(Failure::new(diagnosis(order, true))
                        .fact(format!(
                            "the reply's length {} is {flipped} in {}",
                            crate::render::hexdump::hex_compact(&four),
                            order_word(other(order))
                        ))
                        .sent(&ex.request));
                }
            }
            let said = e.describe(ex.reply.len());
            conn.close();
            if probe.speaks_other(cx) {
                return Err(Failure::new(diagnosis(order, false))
                    .fact(format!("a frame with its length in {}: {said}", order_word(order)))
                    .fact(format!("the same frame with its length in {} got the right reply", order_word(other(order))))
                    .sent(&ex.request));
            }
            Err(e
                .into_failure(format!("your server did not answer a frame whose length is {}", order_word(order)))
                .fact(said)
                .sent(&ex.request))
        },
    )
}

fn extra_fields(d: Arc<Framed>) -> Test {
    Test::new(
        "extra-fields",
        "a header with more keys than data_size (strings, numbers, nesting) is accepted",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            // Written out by hand so data_size comes last, after a nested
            // object: a server that expects it first, or alone, shows.
            let body = b"extra fields are fine\n";
            let meta = r#"{"from": "netlab", "tags": ["a", "b"], "ok": true}"#;
            let header = format!(r#"{{"type": "greeting", "id": 7, "meta": {meta}, "data_size": {}}}"#, body.len());
            let ex = Exchange { request: framing::raw_frame(header.as_bytes(), body, d.order), reply: echo_of(body) };
            echoed(
                cx,
                &d,
                &mut conn,
                &ex,
                "your server refused a header with keys besides data_size: a header is a JSON object — read \
             data_size from it and ignore the keys you do not know",
            )?;
            Ok("a header with 3 keys before data_size, one of them nested, was accepted".into())
        },
    )
}

fn empty_body(d: Arc<Framed>) -> Test {
    Test::new(
        "empty-body",
        "a message with data_size 0 is echoed as an empty frame, and the next message on the connection still is",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let empty = d.request(&[], b"");
            echoed(
                cx,
                &d,
                &mut conn,
                &empty,
                "your server did not echo a message with an empty body: data_size 0 is a message too — recv(0) \
                 returns b'' at once, which is not the client closing",
            )?;
            let next = d.message(3);
            echoed(
                cx,
                &d,
                &mut conn,
                &next,
                "after a message with an empty body your server stopped answering: did it take recv()'s empty \
                 result for the client closing? Read a body only when data_size > 0",
            )?;
            Ok("an empty body came back empty; the next message still got its echo".into())
        },
    )
}

fn binary(d: Arc<Framed>) -> Test {
    Test::new("binary", "a body of all 256 byte values, invalid UTF-8 included, comes back unchanged", move |cx| {
        let mut conn = stream::open(cx, &*d)?;
        let body: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        let ex = d.request(&[], &body);
        echoed(
            cx,
            &d,
            &mut conn,
            &ex,
            "your server changed a binary body: the body is bytes — only the header is JSON text — so never \
             decode it",
        )?;
        Ok(format!("{} of every byte value came back unchanged", mib(body.len())))
    })
}

/// Whether the server frames its echo of a body from one `recv()`: a
/// 64 KiB body goes in two parts, the second only once the server has
/// taken the first; `Some((echoed, sent))` when its reply's header
/// promises only what had arrived. Only the header is read: a server
/// this broken soon resets the connection, losing what it had not sent.
fn short_echo(cx: &Cx, d: &Framed) -> Option<(usize, usize)> {
    let mut conn = stream::open(cx, d).ok()?;
    conn.log().note(&conn.name, "why: a 64 KiB body in two parts, the second once the first was taken");
    let body = pattern::text(64 * 1024);
    let request = framing::frame(&[], &body, d.order);
    let cut = request.len() - body.len() / 2;
    conn.send(&request[..cut]).ok()?;
    (conn.wait_taken(cx.timeout) == Taken::All).then_some(())?;
    // A server that already hung up has said enough.
    let _ = conn.send(&request[cut..]);
    let len = conn.recv_exact(4);
    let four = <[u8; 4]>::try_from(len.data.as_slice()).ok()?;
    let header_len = match d.order {
        LengthOrder::BigEndian => u32::from_be_bytes(four),
        LengthOrder::LittleEndian => u32::from_le_bytes(four),
    } as usize;
    if header_len > DEFAULT_MAX_HEADER {
        return None;
    }
    let header: serde_json::Map<String, Value> = serde_json::from_slice(&conn.recv_exact(header_len).data).ok()?;
    let echoed = header.get(DATA_SIZE)?.as_u64()? as usize;
    (echoed < body.len()).then_some((echoed, body.len()))
}

/// The shared large test, its failure explained when the server echoed
/// what one `recv()` returned instead of the whole body.
fn large(t: Test, d: Arc<Framed>) -> Test {
    let run = t.run;
    Test::new(t.name, t.about, move |cx| {
        run(cx).map_err(|f| match short_echo(cx, &d) {
            Some((echoed, sent)) => reframe(
                f,
                "your server assumed one recv() returns the whole body: a large body arrives in many recv()s — \
                 loop until data_size bytes are in",
            )
            .fact(format!(
                "a {sent}-byte body sent in two parts was echoed as {echoed} bytes: what one recv() had returned"
            )),
            None => f,
        })
    })
}

fn tests(order: LengthOrder) -> Vec<Test> {
    let d = Arc::new(Framed { order });
    let dialect: Arc<dyn Dialect> = d.clone();
    let probe = OrderProbe::new(|order| Arc::new(Framed { order }) as Arc<dyn Dialect>);
    let (gentle, destructive) = stream::shared(&dialect);
    let mut all: Vec<Test> =
        gentle.into_iter().map(|t| if t.name == "large" { large(t, d.clone()) } else { t }).collect();
    all.push(byte_order(d.clone(), probe.clone()));
    all.push(extra_fields(d.clone()));
    all.push(empty_body(d.clone()));
    all.push(binary(d.clone()));
    all.push(broken_frames::bad_header(dialect.clone()));
    all.push(broken_frames::bad_length(dialect.clone()));
    all.extend(destructive);
    // byte-order words its own failures; every other test's get the
    // diagnosis when the byte order is the cause.
    all.into_iter().map(|t| if t.name == "byte-order" { t } else { probe.wrap(t) }).collect()
}

pub fn suite() -> Vec<Test> {
    by_order(tests)
}
