//! Framing (分帧): the same three messages through a hostile splitter,
//! read by a naive `recv(1024)` reader and by four framings.
//!
//! The splitter is deterministic by construction. *Coalesced*: every send
//! is queued (FIONREAD) before the reader's one recv(), so that recv must
//! hold all of them. *Trickled*: one byte per send(), and the reader reads
//! each byte before the next is sent, so every recv() holds one byte. The
//! naive reader is wrong both ways on every run; each decoder is right.
//! Then "send the length, wait for an ack" is timed against a length
//! prefix; the verdict is on the round-trip count, which is exact.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::must;
use crate::lab::payload::Payload;
use crate::lab::{Exchange, Handshake, Lab, tokens};
use crate::proto::{self, FrameError, fixed, json_header, length_prefix, line};
use crate::render::hexdump::quote_text;

const MESSAGES: [&str; 3] = ["hello", "how are you?", "bye"];
const RECORD: NonZeroUsize = NonZeroUsize::new(16).unwrap();
/// Messages timed in (d): enough for the ack cost to dwarf noise, few
/// enough to stay well under a second on loopback.
const TIMED: usize = 200;
/// The "sleep between sends" of (c).
const NAP: Duration = Duration::from_millis(50);

/// The messages a decoder recovered from a stream cut into pieces.
type Decoded = Result<Vec<Vec<u8>>, FrameError>;

/// One framing: how a learner would type a framed message, how netlab's
/// codec encodes it, and how the codec decodes a stream cut into pieces.
struct Method {
    name: &'static str,
    about: &'static str,
    typed: fn(&str) -> String,
    encode: fn(&[u8]) -> Result<Vec<u8>, FrameError>,
    decode: fn(&[Vec<u8>]) -> Decoded,
}

const METHODS: [Method; 4] = [
    Method {
        name: "fixed-size records",
        about: "Every message is padded with NUL bytes to exactly 16 bytes; the reader counts to 16.",
        typed: |m| format!("\"{m}\" repeat:{}:\"\\0\"", RECORD.get() - m.len()),
        encode: |m| fixed::encode(m, RECORD),
        decode: |pieces| proto::decode_all(fixed::Decoder::new(RECORD), pieces),
    },
    Method {
        name: "newline-delimited lines",
        about: "Every message ends with \\n; the reader splits at each newline (the body may not contain one).",
        typed: |m| format!("\"{m}\\n\""),
        encode: line::encode,
        decode: |pieces| proto::decode_all(line::Decoder::default(), pieces),
    },
    Method {
        name: "u32 length prefix",
        about: "Every message is [4-byte big-endian length][body]; the reader reads 4 bytes, then exactly that many.",
        typed: |m| format!("u32be:{} \"{m}\"", m.len()),
        encode: length_prefix::encode,
        decode: |pieces| proto::decode_all(length_prefix::Decoder::default(), pieces),
    },
    Method {
        name: "length + JSON header (报头) + body",
        about: "Every message is [4-byte length L][L bytes of JSON {\"data_size\": N}][N bytes of body].",
        typed: |m| {
            let header = format!("{{\"data_size\":{}}}", m.len());
            format!("u32be:{} '{header}' \"{m}\"", header.len())
        },
        encode: |m| json_header::encode_body(m, json_header::LengthOrder::BigEndian),
        decode: |pieces| {
            let frames = proto::decode_all(json_header::Decoder::default(), pieces)?;
            Ok(frames.into_iter().map(|f| f.body).collect())
        },
    },
];

pub fn run(lab: &mut Lab) -> Result<(), String> {
    naive_reader(lab)?;
    lab.heading("(b) four framings, the same hostile splitter");
    lab.say(
        "Each framing sends the same three messages through both tricks: three send()s read by one\n\
         late recv(1024) (coalesced), then the same bytes one per send() (trickled). The reader\n\
         hands whatever each recv() returned to that framing's decoder.",
    );
    for method in &METHODS {
        framed(lab, method)?;
    }
    sleep_between_sends(lab)?;
    ack_round_trips(lab)
}

fn expected() -> Vec<Vec<u8>> {
    MESSAGES.iter().map(|m| m.as_bytes().to_vec()).collect()
}

fn shown(frames: &[Vec<u8>]) -> String {
    frames.iter().map(|f| quote_text(f)).collect::<Vec<_>>().join(", ")
}

fn naive_reader(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) the naive reader: one recv(1024) = one message?");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    must(lab, "opt cli nodelay on")?;
    lab.say("Three messages, three send() calls, Nagle off. The reader is busy and comes late:");
    for m in MESSAGES {
        must(lab, &format!("send cli \"{m}\""))?;
    }
    let stream = MESSAGES.concat();
    must(lab, &format!("wait conn readable {}", stream.len()))?;
    let got = must(lab, "recv conn 1024")?.bytes.unwrap_or_default();
    lab.verdict(
        got == stream.as_bytes(),
        format!("coalesced: the naive reader got ONE \"message\", {}, where three were sent", quote_text(&got)),
    );
    lab.say("The splitter's other trick: the same bytes, one per send(), read as they arrive.");
    let pieces = lab.trickle("cli", "conn", stream.as_bytes(), 1024)?;
    lab.verdict(
        pieces.len() == stream.len() && pieces.iter().all(|p| p.len() == 1),
        format!("trickled: the naive reader got {} one-byte \"messages\" where three were sent", pieces.len()),
    );
    Ok(())
}

fn framed(lab: &mut Lab, method: &Method) -> Result<(), String> {
    lab.say(format!("— {}. {}", method.name, method.about));
    let mut stream = Vec::new();
    for m in MESSAGES {
        let typed = (method.typed)(m);
        let encoded = (method.encode)(m.as_bytes()).map_err(|e| e.to_string())?;
        if typed_bytes(&typed)? != encoded {
            return Err(format!("`{typed}` is not what the {} codec sends", method.name));
        }
        must(lab, &format!("send cli {typed}"))?;
        stream.extend(encoded);
    }
    must(lab, &format!("wait conn readable {}", stream.len()))?;
    let got = must(lab, "recv conn 1024")?.bytes.unwrap_or_default();
    let decoded = (method.decode)(std::slice::from_ref(&got)).map_err(|e| e.to_string())?;
    lab.verdict(
        got == stream && decoded == expected(),
        format!(
            "{}, coalesced: one recv() held all {} bytes; the decoder → {}",
            method.name,
            got.len(),
            shown(&decoded)
        ),
    );
    let pieces = lab.trickle("cli", "conn", &stream, 1024)?;
    let decoded = (method.decode)(&pieces).map_err(|e| e.to_string())?;
    lab.verdict(
        pieces.len() == stream.len() && decoded == expected(),
        format!("{}, trickled: fed {} one-byte pieces, the decoder → {}", method.name, pieces.len(), shown(&decoded)),
    );
    Ok(())
}

/// The bytes a playground payload stands for.
fn typed_bytes(typed: &str) -> Result<Vec<u8>, String> {
    Payload::parse(&tokens::split(typed)?)?.bytes()
}

fn sleep_between_sends(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) \"sleep between sends\" does not keep messages apart");
    must(lab, "send cli \"hello\"")?;
    lab.say(format!("The sender sleeps {} ms, as tutorials suggest, before the second send().", NAP.as_millis()));
    std::thread::sleep(NAP);
    must(lab, "send cli \"world\"")?;
    lab.say(format!(
        "The two sends left as two separate segments, {} ms apart. But the reader was busy for longer:",
        NAP.as_millis()
    ));
    must(lab, "wait conn readable 10")?;
    let got = must(lab, "recv conn 1024")?.bytes.unwrap_or_default();
    lab.verdict(
        got == b"helloworld",
        format!("one recv() still returned {}: the sleep only helps a reader that is never late", quote_text(&got)),
    );
    Ok(())
}

fn ack_round_trips(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(d) \"send the length, wait for an ack, then send the data\"");
    lab.say("One message, step by step. The client sends only the length:");
    must(lab, "send cli u32be:5")?;
    must(lab, "wait conn readable 4")?;
    must(lab, "recv conn 4 --as u32be")?;
    lab.say("The server answers \"ok\". The client may not send the body until that answer is back:");
    must(lab, "send conn \"ok\"")?;
    must(lab, "wait cli readable 2")?;
    must(lab, "recv cli 2")?;
    must(lab, "send cli \"hello\"")?;
    must(lab, "wait conn readable 5")?;
    let body = must(lab, "recv conn 5")?.bytes.unwrap_or_default();
    lab.verdict(body == b"hello", "the message arrived whole — after a full round trip in the middle");
    lab.say(format!("Now {TIMED} messages, timed: the ack protocol, then a plain length prefix."));
    let messages: Vec<Vec<u8>> = (0..TIMED).map(|i| format!("message {i}").into_bytes()).collect();
    let ack = lab.exchange("cli", "conn", &messages, Handshake::LengthThenAck)?;
    let prefix = lab.exchange("cli", "conn", &messages, Handshake::LengthPrefix)?;
    lab.verdict(
        ack.delivered == messages && prefix.delivered == messages,
        format!("both delivered all {TIMED} messages whole and in order"),
    );
    lab.verdict(
        ack.round_trips == TIMED && prefix.round_trips == 0,
        format!(
            "the ack protocol stopped for {} round trips; the length prefix for {}",
            ack.round_trips, prefix.round_trips
        ),
    );
    lab.say(timing(&ack, &prefix));
    Ok(())
}

/// Times are shown, never asserted: they vary with load. The round-trip
/// count above does not.
fn timing(ack: &Exchange, prefix: &Exchange) -> String {
    let ms = |e: &Exchange| e.elapsed.as_secs_f64() * 1000.0;
    let per = |e: &Exchange| e.elapsed.as_secs_f64() * 1e6 / TIMED as f64;
    format!(
        "Measured on this machine: ack {:.2} ms ({:.0} µs a message), length prefix {:.2} ms ({:.0} µs a message).\n\
         Loopback is the best case, a round trip in microseconds. Across a real network each one\n\
         costs 1–100+ ms: the ack protocol adds {TIMED} of those, the length prefix none.",
        ms(ack),
        per(ack),
        ms(prefix),
        per(prefix)
    )
}
