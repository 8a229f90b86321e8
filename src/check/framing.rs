//! What the three `[length][JSON header][body]` protocols (framed, cmd,
//! file) share beyond the stream tests: the byte order `--native-endian`
//! picks, the one-sentence diagnosis of a server that speaks the other
//! order, and how a server must answer a frame it cannot parse.
//!
//! A server that reads the length in the wrong byte order sees a 20-byte
//! header as a 335 MB one and waits for it: every test then fails with
//! "no reply", which says nothing. So when a test fails, the same request
//! is tried once in the other order; if that one is answered correctly
//! (and ours is not), the failure is reworded as what it is.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::conn::{Conn, End};
use super::dialect::{Dialect, Frame, Problem, read_frame};
use super::report::Failure;
use super::stream::{self, reframe};
use super::{Cx, Test};
use crate::proto::json_header::LengthOrder;

pub fn other(order: LengthOrder) -> LengthOrder {
    match order {
        LengthOrder::BigEndian => LengthOrder::LittleEndian,
        LengthOrder::LittleEndian => LengthOrder::BigEndian,
    }
}

/// "big-endian", for sentences.
pub fn order_word(order: LengthOrder) -> &'static str {
    match order {
        LengthOrder::BigEndian => "big-endian",
        LengthOrder::LittleEndian => "little-endian",
    }
}

/// The tests of a protocol, built once per byte order; each runs the
/// variant `--native-endian` selects (the suite is built before the
/// options are known, a test runs with them).
pub fn by_order(make: impl Fn(LengthOrder) -> Vec<Test>) -> Vec<Test> {
    let big = make(LengthOrder::BigEndian);
    let little = make(LengthOrder::LittleEndian);
    big.into_iter()
        .zip(little)
        .map(|(b, l)| {
            debug_assert_eq!(b.name, l.name);
            let (big, little) = (b.run, l.run);
            Test::new(b.name, b.about, move |cx| match cx.args.order() {
                LengthOrder::BigEndian => big(cx),
                LengthOrder::LittleEndian => little(cx),
            })
        })
        .collect()
}

/// The sentence for a server whose lengths are in the other order than
/// `expected`; `reads_ours`: it understood our requests and only its
/// replies are flipped (so --native-endian would not help).
pub fn diagnosis(expected: LengthOrder, reads_ours: bool) -> String {
    match (expected, reads_ours) {
        (LengthOrder::BigEndian, false) => "your server wrote the length in little-endian (struct.pack('i') on x86), \
             but the protocol's length is big-endian, network order (struct.pack('!I')): \
             use '!I' on both sides — or, if little-endian is what your server means to speak, run netlab check with \
             --native-endian"
            .into(),
        (LengthOrder::LittleEndian, false) => "your server wrote the length in big-endian (network order, \
             struct.pack('!I')), but --native-endian expects little-endian \
             (struct.pack('i')): if network order is what your server means to speak — the portable choice — run \
             netlab check without --native-endian"
            .into(),
        (order, true) => format!(
            "your server read my {} length but wrote its reply's length in {}: pack the length with the same \
             format you unpack it with",
            order_word(order),
            order_word(other(order))
        ),
    }
}

/// Whether a server speaks the other byte order, found out once per run
/// (its order does not change when a launched program is restarted).
pub struct OrderProbe {
    dialects: [Arc<dyn Dialect>; 2],
    verdict: Mutex<Option<bool>>,
}

fn index(order: LengthOrder) -> usize {
    match order {
        LengthOrder::BigEndian => 0,
        LengthOrder::LittleEndian => 1,
    }
}

/// Whether one ordinary request in `d`'s order gets its right reply:
/// `None` when the server could not even be reached (it says nothing).
fn answers(cx: &Cx, d: &dyn Dialect) -> Option<bool> {
    let mut conn = stream::open(cx, d).ok()?;
    conn.log().note(&conn.name, format!("the same kind of request, its length in {}", order_word(d.order())));
    let ex = d.message(7);
    Some(stream::exchange(cx, d, &mut conn, &ex).is_ok())
}

impl OrderProbe {
    /// `make` builds the protocol's dialect for one byte order.
    pub fn new(make: impl Fn(LengthOrder) -> Arc<dyn Dialect>) -> Arc<Self> {
        let dialects = [make(LengthOrder::BigEndian), make(LengthOrder::LittleEndian)];
        Arc::new(OrderProbe { dialects, verdict: Mutex::new(None) })
    }

    /// Whether the server answers requests in the other order and not in ours.
    pub fn speaks_other(&self, cx: &Cx) -> bool {
        let mut verdict = self.verdict.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = *verdict {
            return v;
        }
        let ours = cx.args.order();
        let found = match answers(cx, &*self.dialects[index(other(ours))]) {
            None => return false,
            Some(false) => false,
            // A server that takes both orders is not wrong about either.
            Some(true) => answers(cx, &*self.dialects[index(ours)]) == Some(false),
        };
        *verdict = Some(found);
        found
    }

    /// `f`, reworded as a byte-order mistake if that is what it is.
    pub fn explain(&self, cx: &Cx, f: Failure) -> Failure {
        if self.speaks_other(cx) {
            let ours = cx.args.order();
            reframe(f, diagnosis(ours, false)).fact(format!(
                "the same request with its length in {} got the right reply, in {0}",
                order_word(other(ours))
            ))
        } else {
            f
        }
    }

    /// `t`, its failures explained by the byte order where that is the cause.
    pub fn wrap(self: &Arc<Self>, t: Test) -> Test {
        let (probe, run) = (self.clone(), t.run);
        Test::new(t.name, t.about, move |cx| run(cx).map_err(|f| probe.explain(cx, f)))
    }
}

/// A frame with these header fields (`data_size` added) and body.
pub fn frame(fields: &[(&str, Value)], body: &[u8], order: LengthOrder) -> Vec<u8> {
    let map: Map<String, Value> = fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    super::dialect::frame(&map, body, order)
}

/// `[length][header bytes]`, the length counting exactly `header`: for
/// headers that are not what a well-behaved client sends.
pub fn raw_frame(header: &[u8], body: &[u8], order: LengthOrder) -> Vec<u8> {
    let len = u32::try_from(header.len()).unwrap_or(u32::MAX);
    let mut out = match order {
        LengthOrder::BigEndian => len.to_be_bytes().to_vec(),
        LengthOrder::LittleEndian => len.to_le_bytes().to_vec(),
    };
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// How a server answered something it could not use.
pub enum Refusal {
    /// It closed (FIN or RST): fine, nothing after a broken frame is safe.
    Closed,
    /// A frame whose header says it is an error.
    ErrorFrame(Frame),
    /// A frame that does not say "error".
    Answered(Frame),
    /// Nothing, for the whole timeout: it is waiting for more.
    Waited,
    /// Bytes that are not a frame, or an error of the kernel's.
    Garbled(String),
}

pub fn is_error(frame: &Frame) -> bool {
    frame.header.get("status").and_then(Value::as_str) == Some("error") || frame.header.contains_key("error")
}

/// Read what the server does after a request it must refuse.
pub fn refusal(conn: &mut Conn, order: LengthOrder) -> Refusal {
    match read_frame(conn, order) {
        Ok(frame) if is_error(&frame) => Refusal::ErrorFrame(frame),
        Ok(frame) => Refusal::Answered(frame),
        Err(e) => match e.problem {
            Problem::Ended(End::Eof | End::Reset) if e.got.is_empty() => Refusal::Closed,
            Problem::Ended(End::TimedOut(_)) if e.got.is_empty() => Refusal::Waited,
            _ => Refusal::Garbled(e.describe(0)),
        },
    }
}

/// `{"status":"error","error":"…"}`: the reason a server gave, for a fact.
pub fn reason(frame: &Frame) -> String {
    let said = frame.header.get("error").and_then(Value::as_str).map(str::to_string);
    let said = said.unwrap_or_else(|| String::from_utf8_lossy(&frame.body).trim().to_string());
    if said.is_empty() { "your server replied with an error frame".into() } else { format!("your server said: {said}") }
}

/// A hex tag for names no earlier run left behind.
pub fn random_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process and steps per call.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagnosis_names_the_order_and_the_way_out() {
        let be = diagnosis(LengthOrder::BigEndian, false);
        assert!(be.starts_with("your server wrote the length in little-endian") && be.contains("--native-endian"));
        let le = diagnosis(LengthOrder::LittleEndian, false);
        assert!(le.contains("in big-endian") && le.contains("without --native-endian"));
        assert!(!diagnosis(LengthOrder::BigEndian, true).contains("--native-endian"));
    }

    #[test]
    fn a_raw_frame_counts_the_header_it_is_given() {
        assert_eq!(raw_frame(b"nope", b"!", LengthOrder::BigEndian), b"\0\0\0\x04nope!");
        assert_eq!(raw_frame(b"ab", b"", LengthOrder::LittleEndian), b"\x02\0\0\0ab");
        assert_ne!(random_tag(), random_tag());
    }
}
