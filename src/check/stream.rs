//! The tests every request/response stream protocol must pass, written
//! once over a [`Dialect`]: each makes one classic assumption false on
//! purpose and says which one broke.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::conn::{Conn, End, Taken};
use super::dialect::{Dialect, Exchange, Expect, Problem, ReplyError, read_reply};
use super::report::Failure;

use super::{Cx, Test};

pub use super::stream_pressure::{concurrent, large, reset, slow_reader};

/// Clients the concurrency test holds open at once.
pub const CLIENTS: usize = 50;

/// The large test's size: more than the largest send buffer the kernel
/// gives a socket (`net.ipv4.tcp_wmem`'s maximum) twice over, so a server
/// that ignores a short `send()` is certain to meet one.
pub fn large_size() -> usize {
    let max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    (2 * max + (1 << 20)).clamp(1 << 20, 16 << 20)
}

/// "9 MiB", "7.4 MiB", "512 bytes".
pub fn mib(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n => format!("{n} bytes"),
    }
}

/// The same failure under a new headline; the old one becomes its first fact.
pub fn reframe(f: Failure, assumption: impl Into<String>) -> Failure {
    let mut facts = vec![f.assumption];
    facts.extend(f.facts);
    Failure { assumption: assumption.into(), facts, ..f }
}

/// Connect and do what the protocol does first (auth's challenge…).
pub fn open(cx: &Cx, d: &dyn Dialect) -> Result<Conn, Failure> {
    let mut conn = cx.connect()?;
    d.open(cx, &mut conn)?;
    Ok(conn)
}

/// Send one whole request, or say why it could not go.
pub fn send(conn: &mut Conn, request: &[u8]) -> Result<(), Failure> {
    conn.send(request).map_err(|(sent, end)| {
        Failure::new(format!("your server stopped taking bytes after {sent} of {}: {}", request.len(), end.describe()))
    })
}

/// One exchange on `conn`: the reply's problem, if any.
pub fn exchange(cx: &Cx, d: &dyn Dialect, conn: &mut Conn, ex: &Exchange) -> Result<(), ReplyError> {
    if let Err((_, end)) = conn.send(&ex.request) {
        return Err(ReplyError { problem: Problem::Ended(end), got: Vec::new(), mismatch: None });
    }
    let _ = cx;
    read_reply(conn, &ex.reply, d.order())
}

/// A fresh client gets an answer: the server is still serving.
pub fn still_serving(cx: &Cx, d: &dyn Dialect) -> Result<(), Failure> {
    let mut conn = open(cx, d)?;
    let ex = d.message(7);
    exchange(cx, d, &mut conn, &ex).map_err(|e| {
        let said = e.describe(ex.reply.len());
        Failure::new(format!("a new client got no proper answer: {said}"))
    })
}

pub fn round_trip(d: Arc<dyn Dialect>) -> Test {
    Test::new("round-trip", "one well-formed request, one reply: the protocol itself", move |cx| {
        let mut conn = open(cx, &*d)?;
        let ex = d.message(0);
        exchange(cx, &*d, &mut conn, &ex).map_err(|e| {
            let said = e.describe(ex.reply.len());
            e.into_failure(format!("your server did not answer one ordinary {} request: {said}", d.name()))
                .sent(&ex.request)
        })?;
        Ok(format!("a {}-byte request got its reply", ex.request.len()))
    })
}

pub fn one_byte_writes(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "one-byte-writes",
        "a request sent one byte per send(), each recv()'d alone by the server before the next is sent",
        move |cx| {
            let mut conn = open(cx, &*d)?;
            let ex = d.message(1);
            let (mut alone, mut went) = (0, 0);
            for (i, byte) in ex.request.iter().enumerate() {
                went = i + 1;
                if conn.send(std::slice::from_ref(byte)).is_err() {
                    // It hung up (or reset) mid-request: what it sent back
                    // before that is the evidence, read below.
                    went = i;
                    break;
                }
                // The next byte waits until the server's recv() took this
                // one: the kernel shows its unread bytes for our connection
                // (and no socket at all once the server has closed it). A
                // loaded machine may take a while to run a new connection's
                // handler: the first byte gets the whole timeout.
                let patience = if i == 0 { cx.timeout } else { cx.timeout.min(Duration::from_millis(500)) };
                let taken = conn.wait_taken(patience);
                if taken == Taken::All {
                    alone += 1;
                } else if i == 0 {
                    conn.log().note(&conn.name, "the server did not recv() the first byte; sending the rest anyway");
                }
            }
            read_reply(&mut conn, &ex.reply, d.order()).map_err(|e| {
                let said = e.describe(ex.reply.len());
                let closed = matches!(e.problem, Problem::Ended(End::Eof) | Problem::Ended(End::Reset));
                let assumption = if closed && !e.got.is_empty() {
                    "your server assumed one recv() returns a whole message: it answered the first byte and hung up"
                        .to_string()
                } else if closed && went < ex.request.len() {
                    format!(
                        "your server assumed one recv() returns a whole message: it hung up while the message was \
                         arriving one byte per send() ({went} of {} bytes sent)",
                        ex.request.len()
                    )
                } else {
                    "your server assumed one recv() returns a whole message: TCP may deliver a message in pieces, \
                     so read until the message is complete"
                        .to_string()
                };
                e.into_failure(assumption)
                    .fact(format!(
                        "{went} of the request's {} bytes went, one per send(); your server recv()'d {alone} of \
                         them alone",
                        ex.request.len()
                    ))
                    .fact(said)
                    .sent(&ex.request)
            })?;
            Ok(format!(
                "{} bytes sent one per send(), each taken by its own recv() in your server, made one correct reply",
                ex.request.len()
            ))
        },
    )
}

pub fn coalesced(d: Arc<dyn Dialect>) -> Test {
    Test::new("coalesced", "three requests in one send(): they reach the server in one recv()", move |cx| {
        let mut conn = open(cx, &*d)?;
        let exs: Vec<Exchange> = (2..5).map(|i| d.message(i)).collect();
        let glued: Vec<u8> = exs.iter().flat_map(|e| e.request.clone()).collect();
        send(&mut conn, &glued)?;
        for (k, ex) in exs.iter().enumerate() {
            read_reply(&mut conn, &ex.reply, d.order()).map_err(|e| {
                let said = e.describe(ex.reply.len());
                let assumption = if k > 0 && matches!(e.problem, Problem::Ended(_)) {
                    format!(
                        "your server assumed one recv() = one message: three arrived in one recv() and it answered \
                         only {k}"
                    )
                } else {
                    "your server assumed one recv() = one message: several messages can arrive glued together, \
                     so split them by the protocol's framing, not by recv()"
                        .to_string()
                };
                e.into_failure(assumption).fact(format!("reply {} of 3: {said}", k + 1)).sent(&glued)
            })?;
        }
        Ok(format!("3 requests in one {}-byte send() got 3 replies, in order", glued.len()))
    })
}

pub fn half_close(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "half-close",
        "a request, then shutdown(SHUT_WR): the server answers, sees recv() == 0, and closes",
        move |cx| {
            let mut conn = open(cx, &*d)?;
            let ex = d.message(5);
            send(&mut conn, &ex.request)?;
            conn.shutdown_write();
            read_reply(&mut conn, &ex.reply, d.order()).map_err(|e| {
                let said = e.describe(ex.reply.len());
                e.into_failure(
                    "your server stopped when it saw my FIN, before answering the request that came \
                                ahead of it: answer everything received, then close",
                )
                .fact(said)
            })?;
            let cpu_before = cx.procs.cpu_time();
            let t0 = Instant::now();
            let rest = conn.recv_to_end(1 << 20, cx.timeout);
            match rest.end {
                Some(End::Eof) if rest.data.is_empty() => Ok("answered, then closed after recv() returned 0".into()),
                Some(End::Eof) => Err(Failure::new(format!(
                    "your server sent {} bytes nobody asked for after its reply",
                    rest.data.len()
                ))),
                Some(End::TimedOut(_)) | None => {
                    let waited = t0.elapsed();
                    let cpu = cx.procs.cpu_time().saturating_sub(cpu_before);
                    let mut f = Failure::new(
                        "your server never closed the connection after recv() returned 0 (my FIN): an empty \
                         recv() means the client has finished — stop reading and close",
                    );
                    // A server blocked in recv() uses next to nothing; a spin
                    // gets whatever share of a CPU a loaded machine leaves it.
                    if !cx.procs.pids.is_empty() && cpu.as_secs_f64() > waited.as_secs_f64() / 10.0 {
                        f = f.fact(format!(
                            "meanwhile it used {:.0}% of a CPU: it is spinning on recv() returning 0",
                            100.0 * cpu.as_secs_f64() / waited.as_secs_f64()
                        ));
                    }
                    // A reset ends a spin that an EOF could not.
                    conn.reset();
                    Err(f.fact(format!("waited {} ms for its FIN", waited.as_millis())))
                }
                Some(end) => {
                    Err(Failure::new(format!("after my FIN your server did not close cleanly: {}", end.describe())))
                }
            }
        },
    )
}

/// The shared tests, in the order they run: gentle first, destructive last.
pub fn shared(d: &Arc<dyn Dialect>) -> (Vec<Test>, Vec<Test>) {
    let gentle = vec![
        round_trip(d.clone()),
        one_byte_writes(d.clone()),
        coalesced(d.clone()),
        large(d.clone()),
        half_close(d.clone()),
        concurrent(d.clone()),
        slow_reader(d.clone()),
    ];
    (gentle, vec![reset(d.clone())])
}

/// `Expect::Bytes` for a raw-bytes dialect.
pub fn bytes(b: impl Into<Vec<u8>>) -> Expect {
    Expect::Bytes(b.into())
}
