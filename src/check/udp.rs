//! The datagram protocols: `upper --udp` (each datagram back upper-cased)
//! and `time` (a strftime format in, the local time out). UDP keeps
//! message boundaries, has no connection and no EOF, and truncates a
//! datagram bigger than the reader's buffer — the tests lean on exactly
//! those facts.

use std::time::{SystemTime, UNIX_EPOCH};

use super::report::{Failure, Mismatch};
use super::stream::CLIENTS;
use super::udp_client::{Udp, no_reply};
use super::{Cx, Test};
use crate::proto::time::{DEFAULT_FORMAT, format_local};

/// Send `request`, expect exactly `reply`; `why` names the assumption.
fn expect(cx: &Cx, request: &[u8], reply: &[u8], why: &str) -> Result<(), Failure> {
    let udp = Udp::open(cx)?;
    let got = udp.ask(request)?;
    match Mismatch::between(reply, &got) {
        None => Ok(()),
        Some(m) => Err(Failure::new(why).mismatch(Some(m)).sent(request)),
    }
}

/// The server answers an ordinary request afterwards.
fn still_answering(cx: &Cx, request: &[u8]) -> Result<(), Failure> {
    Udp::open(cx)?.ask(request).map(|_| ()).map_err(|f| {
        super::stream::reframe(
            f,
            "your server stopped answering after that datagram: catch the error and answer the next one",
        )
    })
}

/// Three datagrams sent back to back come back as three, never merged.
fn boundaries(reply: fn(&[u8]) -> Vec<u8>, request: fn(usize) -> Vec<u8>) -> Test {
    Test::new(
        "boundaries",
        "three datagrams sent back to back: three replies, one per datagram, none merged",
        move |cx| {
            let udp = Udp::open(cx)?;
            let requests: Vec<Vec<u8>> = (1..=3).map(request).collect();
            for r in &requests {
                udp.send(r)?;
            }
            let mut replies = Vec::new();
            for _ in &requests {
                replies.push(
                    udp.recv().map_err(|end| no_reply(&end).fact(format!("{} of 3 replies came", replies.len())))?,
                );
            }
            let mut wanted: Vec<Vec<u8>> = requests.iter().map(|r| reply(r)).collect();
            let mut got = replies.clone();
            wanted.sort();
            got.sort();
            if wanted != got {
                return Err(Failure::new(
                "your server's replies do not match the datagrams one for one: answer each recvfrom() with one sendto()",
            )
            .fact(format!("replies: {}", replies.iter().map(|r| crate::render::hexdump::quote_text(r)).collect::<Vec<_>>().join(", "))));
            }
            Ok("3 datagrams, 3 replies".into())
        },
    )
}

/// 50 sockets at once, each must get its own answer.
fn concurrent(request: fn(usize) -> Vec<u8>, reply: fn(&[u8]) -> Vec<u8>) -> Test {
    Test::new("concurrent", "50 client sockets send at once; each gets its own reply, at its own address", move |cx| {
        let clients: Vec<Udp> = (0..CLIENTS).map(|_| Udp::open(cx)).collect::<Result<_, _>>()?;
        for (i, c) in clients.iter().enumerate() {
            c.send(&request(100 + i))?;
        }
        let mut answered = 0;
        for (i, c) in clients.iter().enumerate() {
            let want = reply(&request(100 + i));
            match c.recv() {
                Ok(got) if got == want => answered += 1,
                Ok(got) => {
                    return Err(Failure::new(format!(
                        "client {} got someone else's reply: send each reply to the address recvfrom() returned",
                        i + 1
                    ))
                    .mismatch(Mismatch::between(&want, &got)));
                }
                Err(end) => {
                    return Err(no_reply(&end)
                        .fact(format!("{answered} of {CLIENTS} clients were answered; client {} was not", i + 1)));
                }
            }
        }
        Ok(format!("{CLIENTS} client sockets, {CLIENTS} replies, each to its sender"))
    })
}

fn upper(d: &[u8]) -> Vec<u8> {
    d.to_ascii_uppercase()
}

fn upper_request(i: usize) -> Vec<u8> {
    format!("datagram {i}: hello, netlab").into_bytes()
}

pub fn upper_suite() -> Vec<Test> {
    vec![
        Test::new("round-trip", "one datagram, its upper-cased reply", |cx| {
            let r = upper_request(0);
            expect(cx, &r, &upper(&r), "your server's reply is not the datagram upper-cased")?;
            Ok("one datagram, one upper-cased reply".into())
        }),
        boundaries(upper, upper_request),
        Test::new("empty", "an empty datagram is a message: it gets an empty reply", |cx| {
            let udp = Udp::open(cx)?;
            match udp.ask(b"") {
                Ok(got) if got.is_empty() => Ok("an empty datagram got an empty reply".into()),
                Ok(got) => Err(Failure::new("an empty datagram upper-cased is empty, but your server sent bytes")
                    .mismatch(Mismatch::between(b"", &got))),
                Err(f) => Err(super::stream::reframe(
                    f,
                    "your server ignored an empty datagram: in UDP a 0-byte datagram is a message (recvfrom returns 0 \
                     with the sender's address) — there is no EOF without a connection",
                )),
            }
        }),
        Test::new(
            "large-datagram",
            "a 65,000-byte datagram comes back whole (a small recvfrom buffer truncates it)",
            |cx| {
                let big = super::pattern::text(65_000);
                let udp = Udp::open(cx)?;
                let got = udp.ask(&big)?;
                if got == upper(&big) {
                    return Ok("65,000 bytes in, 65,000 upper-cased bytes out".into());
                }
                let why = if got.len() < big.len() && upper(&big).starts_with(&got) {
                    format!(
                        "your server's recvfrom buffer is smaller than the datagram: it got the first {} bytes and the \
                     rest was cut off — UDP keeps boundaries, it does not split; use a 65,535-byte buffer",
                        got.len()
                    )
                } else {
                    "your server's reply to a large datagram is not that datagram upper-cased".into()
                };
                Err(Failure::new(why).mismatch(Mismatch::between(&upper(&big), &got)))
            },
        ),
        Test::new("non-ascii", "UTF-8 beyond ASCII: only a–z are upper-cased", |cx| {
            let text = "héllo wörld, straße".as_bytes();
            expect(
                cx,
                text,
                &upper(text),
                "your server upper-cased more than ASCII: the protocol upper-cases a–z only",
            )?;
            Ok("only the ASCII letters changed".into())
        }),
        Test::new("invalid-utf8", "bytes that are not UTF-8 pass through; the server keeps answering", |cx| {
            let data = b"abc \xff\xfe \x80 def";
            expect(
                cx,
                data,
                &upper(data),
                "your server decoded the datagram as UTF-8 and failed on bytes that are not: upper-case the bytes",
            )?;
            still_answering(cx, b"after")?;
            Ok("invalid UTF-8 passed through".into())
        }),
        concurrent(upper_request, upper),
    ]
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Ask for `format`; the reply must be what this machine's clock gives
/// for it at one of the seconds the exchange spanned.
fn time_expect(cx: &Cx, format: &str, why: &str) -> Result<(), Failure> {
    let udp = Udp::open(cx)?;
    let before = now();
    let got = udp.ask(format.as_bytes())?;
    let after = now();
    let shape = if format.is_empty() { DEFAULT_FORMAT } else { format };
    let wanted: Vec<String> = (before..=after).filter_map(|t| format_local(shape, t).ok()).collect();
    if wanted.iter().any(|w| w.as_bytes() == got) {
        return Ok(());
    }
    let want = wanted.last().cloned().unwrap_or_default();
    Err(Failure::new(why).mismatch(Mismatch::between(want.as_bytes(), &got)).sent(format.as_bytes()))
}

/// A request the server cannot honour must get some reply, and the
/// server must answer the next request.
fn survives(cx: &Cx, request: &[u8], what: &str) -> Result<(), Failure> {
    let udp = Udp::open(cx)?;
    match udp.ask(request) {
        Ok(got) if !got.is_empty() => {}
        Ok(_) => {
            return Err(Failure::new(format!(
                "your server answered {what} with an empty datagram: say what was wrong"
            )));
        }
        Err(f) => {
            return Err(super::stream::reframe(
                f,
                format!(
                    "your server sent nothing back for {what}: UDP has no connection to close, so an error must be a reply datagram"
                ),
            ));
        }
    }
    still_answering(cx, b"%Y")
}

fn time_request(i: usize) -> Vec<u8> {
    format!("#{i} ").into_bytes()
}

fn literal(d: &[u8]) -> Vec<u8> {
    d.to_vec()
}

pub fn time_suite() -> Vec<Test> {
    vec![
        Test::new("literal", "text outside % conversions comes back as it is", |cx| {
            time_expect(
                cx,
                "netlab check #7",
                "your server changed text that has no % conversion: strftime copies it as it is",
            )?;
            Ok("plain text came back unchanged".into())
        }),
        Test::new("year", "%Y is this machine's year; %H:%M:%S its local time", |cx| {
            time_expect(cx, "%Y", "your server's %Y is not the local year")?;
            time_expect(cx, "%H:%M:%S", "your server's %H:%M:%S is not the local time (is it UTC?)")?;
            Ok("%Y and %H:%M:%S match the local clock".into())
        }),
        Test::new("percent", "%% is a literal %", |cx| {
            time_expect(cx, "100%%", "your server did not turn %% into %")?;
            Ok("%% became %".into())
        }),
        Test::new("empty", "an empty datagram means %Y-%m-%d %X", |cx| {
            time_expect(
                cx,
                "",
                "an empty datagram asks for %Y-%m-%d %X: your server must answer it in that format (in UDP a 0-byte \
                 datagram is a message, not EOF)",
            )?;
            Ok("an empty datagram got the date and time".into())
        }),
        boundaries(literal, time_request),
        Test::new(
            "invalid-format",
            "an unknown conversion and a NUL byte each get a reply, and the server goes on",
            |cx| {
                survives(cx, b"%Q", "an unknown conversion (%Q)")?;
                survives(cx, b"%Y\0%m", "a format with a NUL byte")?;
                Ok("both got replies; the server kept answering".into())
            },
        ),
        Test::new("invalid-utf8", "a format that is not UTF-8 gets a reply, and the server goes on", |cx| {
            survives(cx, b"\xff\xfe %Y", "a datagram that is not UTF-8")?;
            Ok("invalid UTF-8 got a reply; the server kept answering".into())
        }),
        concurrent(time_request, literal),
    ]
}
