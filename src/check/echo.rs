//! echo and upper over TCP: every byte back unchanged, or ASCII
//! upper-cased. The simplest protocols, and the ones where "it worked when
//! I tried it" hides the most: a server that decodes text, reads once, or
//! ignores what `send()` returned looks fine with one short line.

use std::sync::Arc;

use super::Test;
use super::dialect::{Dialect, Exchange};
use super::pattern;
use super::report::Failure;
use super::stream::{self, bytes};

/// How the server must transform what it receives.
#[derive(Clone, Copy)]
enum Transform {
    Echo,
    Upper,
}

impl Transform {
    fn apply(self, data: &[u8]) -> Vec<u8> {
        match self {
            Transform::Echo => data.to_vec(),
            Transform::Upper => data.to_ascii_uppercase(),
        }
    }
}

struct Raw(Transform);

impl Dialect for Raw {
    fn name(&self) -> &'static str {
        match self.0 {
            Transform::Echo => "echo",
            Transform::Upper => "upper",
        }
    }

    fn message(&self, i: usize) -> Exchange {
        let request = format!("message {i}: hello, netlab\n").into_bytes();
        Exchange { reply: bytes(self.0.apply(&request)), request }
    }

    fn large(&self, size: usize) -> Exchange {
        let request = pattern::text(size);
        Exchange { reply: bytes(self.0.apply(&request)), request }
    }

    fn flood(&self) -> Vec<u8> {
        pattern::text(64 * 1024)
    }
}

/// Send `request`, expect `reply`; on a difference, `why` is the sentence.
fn exact(cx: &super::Cx, d: &dyn Dialect, request: &[u8], reply: &[u8], why: &str) -> Result<(), Failure> {
    let mut conn = stream::open(cx, d)?;
    let ex = Exchange { request: request.to_vec(), reply: bytes(reply) };
    stream::exchange(cx, d, &mut conn, &ex).map_err(|e| {
        let said = e.describe(reply.len());
        e.into_failure(why).fact(said).sent(request)
    })
}

fn binary(d: Arc<dyn Dialect>) -> Test {
    Test::new("binary", "all 256 byte values, NUL and invalid UTF-8 included, come back unchanged", move |cx| {
        let all: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        exact(
            cx,
            &*d,
            &all,
            &all,
            "your server changed the bytes: send back exactly what arrived — bytes, not text (no decode, strip or \
             newline handling)",
        )?;
        Ok("1024 bytes of every value came back unchanged".into())
    })
}

fn non_ascii(d: Arc<dyn Dialect>) -> Test {
    Test::new("non-ascii", "UTF-8 text beyond ASCII: only a–z are upper-cased, every other byte stays", move |cx| {
        let text = "héllo wörld, straße ñ\n".as_bytes();
        exact(
            cx,
            &*d,
            text,
            &text.to_ascii_uppercase(),
            "your server upper-cased more than ASCII: Unicode rules change bytes (ß becomes SS, é becomes É), the \
             protocol upper-cases a–z only",
        )?;
        Ok("only the ASCII letters changed".into())
    })
}

fn invalid_utf8(d: Arc<dyn Dialect>) -> Test {
    Test::new("invalid-utf8", "bytes that are not UTF-8 (ff fe, a lone continuation byte) pass through", move |cx| {
        let data = b"abc \xff\xfe \x80 def\n";
        exact(
            cx,
            &*d,
            data,
            &data.to_ascii_uppercase(),
            "your server decoded the bytes as UTF-8 and failed on bytes that are not: upper-case the bytes \
             themselves (bytes.upper() in Python, toupper per byte in C)",
        )?;
        Ok("invalid UTF-8 passed through; the letters around it were upper-cased".into())
    })
}

/// The echo (or upper) dialect, for protocols that become one (auth).
pub fn raw(upper: bool) -> Box<dyn Dialect> {
    Box::new(Raw(if upper { Transform::Upper } else { Transform::Echo }))
}

pub fn echo_suite() -> Vec<Test> {
    let d: Arc<dyn Dialect> = Arc::new(Raw(Transform::Echo));
    let (mut tests, destructive) = stream::shared(&d);
    tests.push(binary(d.clone()));
    tests.extend(destructive);
    tests
}

pub fn upper_suite() -> Vec<Test> {
    let d: Arc<dyn Dialect> = Arc::new(Raw(Transform::Upper));
    let (mut tests, destructive) = stream::shared(&d);
    tests.push(non_ascii(d.clone()));
    tests.push(invalid_utf8(d.clone()));
    tests.extend(destructive);
    tests
}
