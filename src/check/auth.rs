//! auth: a 32-byte challenge first; the client answers HMAC(key,
//! challenge); then the connection is an echo (or upper) server. The
//! shared stream tests run on authenticated connections; the tests here
//! attack the handshake: wrong keys, wrong digests, replayed answers,
//! answers in pieces or glued to data, and a client that says nothing.
//!
//! One property cannot be tested from outside: a constant-time compare.
//! Over loopback the timing difference of `==` on 32 bytes is nanoseconds
//! under microseconds of noise, so no test pretends to measure it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Conn, End};
use super::dialect::{Dialect, Exchange, read_reply};
use super::report::Failure;
use super::stream;
use super::{Cx, Test};
use crate::proto::challenge::{self, CHALLENGE_LEN};
use crate::render::hexdump::hex_compact;
use crate::serve::config::{AfterAuth, Digest};

/// An echo or upper dialect behind the handshake.
struct Authed {
    inner: Box<dyn Dialect>,
}

fn key(cx: &Cx) -> Vec<u8> {
    cx.args.key.clone().unwrap_or_default().into_bytes()
}

/// Read the challenge: exactly 32 bytes, first thing.
pub fn read_challenge(conn: &mut Conn) -> Result<Vec<u8>, Failure> {
    let got = conn.recv_exact(CHALLENGE_LEN);
    match got.end {
        None => Ok(got.data),
        Some(end) => Err(Failure::new(format!(
            "your server did not send a {CHALLENGE_LEN}-byte challenge first: {} bytes came, then {}",
            got.data.len(),
            end.describe()
        ))),
    }
}

fn answer(cx: &Cx, digest: Digest, challenge: &[u8]) -> Vec<u8> {
    challenge::mac(&key(cx), digest, challenge)
}

impl Dialect for Authed {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn open(&self, cx: &Cx, conn: &mut Conn) -> Result<(), Failure> {
        let challenge = read_challenge(conn)?;
        let mac = answer(cx, cx.args.digest, &challenge);
        stream::send(conn, &mac)
    }

    fn message(&self, i: usize) -> Exchange {
        self.inner.message(i)
    }

    fn large(&self, size: usize) -> Exchange {
        self.inner.large(size)
    }

    fn flood(&self) -> Vec<u8> {
        self.inner.flood()
    }
}

/// After a refused answer: the server must hang up and echo nothing.
fn expect_refused(cx: &Cx, conn: &mut Conn, probe: &[u8], why: &str) -> Result<String, Failure> {
    // The probe may meet a closed connection: that is the right outcome.
    let _ = conn.send(probe);
    let rest = conn.recv_to_end(64 * 1024, cx.timeout);
    match (rest.data.is_empty(), rest.end) {
        (true, Some(End::Eof | End::Reset)) => Ok("refused: the connection closed with nothing sent back".into()),
        (false, _) => Err(Failure::new(why.to_string())
            .fact(format!("after the answer your server sent {} bytes back", rest.data.len()))
            .sent(probe)),
        (true, _) => Err(Failure::new(
            "your server neither accepted nor refused a wrong answer: it kept the connection open — close it at once",
        )
        .fact(format!("nothing came back, and no FIN, for {} ms", cx.timeout.as_millis()))),
    }
}

fn challenges(d: Arc<Authed>) -> Test {
    let _ = d;
    Test::new("challenge", "32 bytes arrive first, and two connections get different ones", move |cx| {
        let mut a = cx.connect()?;
        let mut b = cx.connect()?;
        let ca = read_challenge(&mut a)?;
        let cb = read_challenge(&mut b)?;
        if ca == cb {
            return Err(Failure::new(
                "your server sends the same challenge to every client: an answer recorded once works forever — \
                 send 32 fresh random bytes per connection (os.urandom, secrets.token_bytes)",
            )
            .fact(format!("both got {}", hex_compact(&ca))));
        }
        Ok("two connections, two different 32-byte challenges".into())
    })
}

fn wrong_key(d: Arc<Authed>) -> Test {
    Test::new(
        "wrong-key",
        "an answer made with another key is refused: the connection closes, nothing is echoed",
        move |cx| {
            let mut conn = cx.connect()?;
            let c = read_challenge(&mut conn)?;
            let mut wrong_key = key(cx);
            wrong_key.extend_from_slice(b"-not-it");
            let mac = challenge::mac(&wrong_key, cx.args.digest, &c);
            stream::send(&mut conn, &mac)?;
            let probe = d.message(0).request;
            expect_refused(
                cx,
                &mut conn,
                &probe,
                "your server accepted an answer made with the wrong key: compare the client's MAC with HMAC(key, \
                 challenge) (hmac.compare_digest) and hang up when they differ",
            )
        },
    )
}

fn wrong_digest(d: Arc<Authed>) -> Test {
    Test::new("wrong-digest", "an answer made with the other digest (MD5 for SHA-256, or back) is refused", move |cx| {
        let mut conn = cx.connect()?;
        let c = read_challenge(&mut conn)?;
        let other = match cx.args.digest {
            Digest::Sha256 => Digest::Md5,
            Digest::Md5 => Digest::Sha256,
        };
        let mac = answer(cx, other, &c);
        stream::send(&mut conn, &mac)?;
        expect_refused(
            cx,
            &mut conn,
            &d.message(0).request,
            "your server accepted an answer made with the wrong digest: check the whole MAC of the agreed digest",
        )
    })
}

fn replay(d: Arc<Authed>) -> Test {
    Test::new("replay", "connection 1's right answer, replayed on connection 2, is refused", move |cx| {
        let mut first = cx.connect()?;
        let c1 = read_challenge(&mut first)?;
        let recorded = answer(cx, cx.args.digest, &c1);
        stream::send(&mut first, &recorded)?;
        first.close();
        let mut second = cx.connect()?;
        let c2 = read_challenge(&mut second)?;
        stream::send(&mut second, &recorded)?;
        expect_refused(
            cx,
            &mut second,
            &d.message(0).request,
            "your server accepted an answer recorded from another connection: each connection's challenge must be \
             new, and the answer checked against that one",
        )
        .map_err(|f| f.fact(format!("challenge 1 {}, challenge 2 {}", hex_compact(&c1), hex_compact(&c2))))
    })
}

fn answer_split(d: Arc<Authed>) -> Test {
    Test::new("answer-split", "the answer sent one byte per send(), each taken by its own recv()", move |cx| {
        let mut conn = cx.connect()?;
        let c = read_challenge(&mut conn)?;
        let mac = answer(cx, cx.args.digest, &c);
        // The server's answer deadline runs meanwhile: on a loaded machine
        // 32 paced bytes can take a while, so past a quarter of it the rest
        // goes in one send(). The first byte alone already catches a
        // server that takes one recv() for the answer.
        let (t0, hurry) = (Instant::now(), Duration::from_millis(cx.args.auth_timeout / 4));
        let mut pieces = 0;
        for (i, byte) in mac.iter().enumerate() {
            let rest = if t0.elapsed() > hurry { &mac[i..] } else { std::slice::from_ref(byte) };
            pieces += 1;
            if conn.send(rest).is_err() || rest.len() > 1 {
                break;
            }
            // The next byte once the server's recv() took this one.
            conn.wait_taken(cx.timeout.min(Duration::from_millis(500)));
        }
        let ex = d.message(1);
        stream::exchange(cx, &*d, &mut conn, &ex).map_err(|e| {
            let said = e.describe(ex.reply.len());
            e.into_failure(
                "your server assumed the answer arrives in one recv(): TCP may deliver it in pieces — read until \
                 you have all of its bytes",
            )
            .fact(said)
        })?;
        Ok(format!("a {}-byte answer in {pieces} pieces was accepted", mac.len()))
    })
}

fn answer_and_data(d: Arc<Authed>) -> Test {
    Test::new(
        "answer-and-data",
        "the answer and the first message in one send(): nothing after the answer is lost",
        move |cx| {
            let mut conn = cx.connect()?;
            let c = read_challenge(&mut conn)?;
            let ex = d.message(2);
            let mut glued = answer(cx, cx.args.digest, &c);
            glued.extend_from_slice(&ex.request);
            stream::send(&mut conn, &glued)?;
            read_reply(&mut conn, &ex.reply, d.order()).map_err(|e| {
                let said = e.describe(ex.reply.len());
                e.into_failure(
                    "your server threw away what came after the answer in the same recv(): the first message was glued \
                 to the MAC — keep the bytes past the MAC's length",
                )
                .fact(said)
                .sent(&glued)
            })?;
            Ok("the message glued to the answer was served".into())
        },
    )
}

fn timeout(d: Arc<Authed>) -> Test {
    let _ = d;
    Test::new(
        "timeout",
        "a client that takes the challenge and says nothing is hung up on (--auth-timeout)",
        move |cx| {
            let mut conn = cx.connect()?;
            read_challenge(&mut conn)?;
            let allowed = Duration::from_millis(cx.args.auth_timeout);
            let patience = allowed + allowed.max(Duration::from_millis(1000)) / 2;
            let t0 = Instant::now();
            let rest = conn.recv_to_end(64 * 1024, patience);
            let waited = t0.elapsed();
            match rest.end {
                Some(End::Eof | End::Reset) => Ok(format!("hung up after {} ms of silence", waited.as_millis())),
                _ => Err(Failure::new(
                    "your server waits forever for an answer: a client that connects and says nothing holds a \
                 connection (and with one thread, the whole server) — give the answer a deadline (settimeout)",
                )
                .fact(format!(
                    "still open after {} ms (your --auth-timeout is {} ms)",
                    waited.as_millis(),
                    allowed.as_millis()
                ))),
            }
        },
    )
}

pub fn suite(upper: bool) -> Vec<Test> {
    let authed = Arc::new(Authed { inner: super::echo::raw(upper) });
    let d: Arc<dyn Dialect> = authed.clone();
    let (mut tests, destructive) = stream::shared(&d);
    let first = vec![challenges(authed.clone()), answer_split(authed.clone()), answer_and_data(authed.clone())];
    tests.splice(1..1, first);
    tests.extend([wrong_key(authed.clone()), wrong_digest(authed.clone()), replay(authed.clone()), timeout(authed)]);
    tests.extend(destructive);
    tests
}

/// Which dialect `--then` asks for.
pub fn upper(then: AfterAuth) -> bool {
    then == AfterAuth::Upper
}
