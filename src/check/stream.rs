//! The tests every request/response stream protocol must pass, written
//! once over a [`Dialect`]: each makes one classic assumption false on
//! purpose and says which one broke.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::conn::{Conn, End, Opts};
use super::dialect::{Dialect, Exchange, Expect, Problem, ReplyError, STALL, read_reply};
use super::pattern;
use super::report::Failure;
use super::target;
use super::{Cx, Test};

/// Clients the concurrency test holds open at once.
pub const CLIENTS: usize = 50;

/// The receive buffer of a client that reads late: small, so the
/// server's replies back up into its own send buffer soon.
const SMALL_RCVBUF: usize = 64 * 1024;

/// The slow reader stops pushing here even if the server keeps taking
/// (a server that drops what it cannot send never pushes back).
const FLOOD_CAP: usize = 64 << 20;

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
            let mut alone = 0;
            for (i, byte) in ex.request.iter().enumerate() {
                send(&mut conn, std::slice::from_ref(byte))?;
                // The next byte waits until the server's recv() took this
                // one: the kernel shows its unread bytes for our connection.
                let taken = crate::lab::cancel::wait_until(cx.timeout.min(Duration::from_millis(500)), || {
                    (target::server_unread(conn.local, conn.peer) == Some(0)).then_some(())
                });
                if taken.is_ok() {
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
                } else {
                    "your server assumed one recv() returns a whole message: TCP may deliver a message in pieces, \
                     so read until the message is complete"
                        .to_string()
                };
                e.into_failure(assumption)
                    .fact(format!(
                        "{} bytes went one per send(); your server recv()'d {alone} of them alone",
                        ex.request.len()
                    ))
                    .fact(said)
                    .sent(&ex.request)
            })?;
            Ok(format!(
                "{} bytes, one per send() and one per recv() on your side, made one correct reply",
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

/// Wait until neither our sending nor our receive queue moves for
/// [`STALL`], or `done` says everything already arrived.
fn quiesce(conn: &Conn, sent: &AtomicUsize, writer_done: &AtomicBool, expected: usize, budget: Duration) {
    let deadline = Instant::now() + budget;
    let mut last = (usize::MAX, usize::MAX);
    let mut since = Instant::now();
    while Instant::now() < deadline && !crate::lab::cancel::is_cancelled() {
        let now = (sent.load(Ordering::SeqCst), conn.queued());
        if writer_done.load(Ordering::SeqCst) && now.1 >= expected {
            return;
        }
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= STALL {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn large(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "large",
        "a request with a reply of 9 MiB or more, read only once every buffer between us is full",
        move |cx| {
            let size = large_size();
            let mut conn = cx.connect_with(Opts { rcvbuf: Some(SMALL_RCVBUF) })?;
            d.open(cx, &mut conn)?;
            let ex = d.large(size);
            let mut writer = conn.writer().map_err(|e| Failure::new(format!("cannot share the socket: {e}")))?;
            let sent = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicBool::new(false));
            let (s, dn, request) = (sent.clone(), done.clone(), ex.request.clone());
            let thread = std::thread::spawn(move || {
                // In 256 KiB pieces, so the progress counter moves.
                let mut result = Ok(());
                for piece in request.chunks(256 * 1024) {
                    result = writer.send(piece);
                    if result.is_err() {
                        break;
                    }
                    s.fetch_add(piece.len(), Ordering::SeqCst);
                }
                dn.store(true, Ordering::SeqCst);
                result
            });
            // Reading late is the point: the server's send() meets a full
            // buffer, and a server that ignores its return value loses bytes.
            quiesce(&conn, &sent, &done, ex.reply.len(), cx.timeout * 10);
            let result = read_reply(&mut conn, &ex.reply, d.order());
            conn.shutdown_write();
            let wrote = thread.join().unwrap_or(Ok(()));
            result.map_err(|e| large_failure(e, &ex, &d))?;
            if let Err((n, end)) = wrote {
                return Err(Failure::new(format!(
                    "your server stopped reading the request after {n} bytes: {}",
                    end.describe()
                )));
            }
            Ok(format!("{} came back whole and in order, read only after the buffers filled", mib(ex.reply.len())))
        },
    )
}

fn large_failure(e: ReplyError, ex: &Exchange, d: &Arc<dyn Dialect>) -> Failure {
    let said = e.describe(ex.reply.len());
    let gap = e.mismatch.as_ref().and_then(|m| pattern::missing(&e.got, m.first_diff));
    let assumption = match (&e.problem, gap) {
        (_, Some((at, lost))) => format!(
            "your server assumed send() sends everything: it returned less, and the rest was never sent — \
             {lost} bytes are missing after byte {at}; loop until every byte is sent (sendall)"
        ),
        (Problem::Ended(End::TimedOut(_)), None) if !e.got.is_empty() => format!(
            "only {} of {} bytes came back: your server dropped bytes — does it check what send() returns?",
            e.got.len(),
            ex.reply.len()
        ),
        _ => format!("a {} reply did not come back right: {said}", mib(ex.reply.len())),
    };
    let _ = d;
    e.into_failure(assumption).fact(said)
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
                    if !cx.procs.pids.is_empty() && cpu.as_secs_f64() > waited.as_secs_f64() / 2.0 {
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

pub fn reset(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "reset",
        "clients that vanish with RST — mid-request, and while the server is sending — then a new client",
        move |cx| {
            let mut a = open(cx, &*d)?;
            let partial = d.partial();
            send(&mut a, &partial)?;
            let _ = crate::lab::cancel::wait_until(cx.timeout.min(Duration::from_millis(500)), || {
                (target::server_unread(a.local, a.peer) == Some(0)).then_some(())
            });
            a.reset();
            still_serving(cx, &*d).map_err(|f| {
                reframe(
                    f,
                    "your server stopped serving when a client reset its connection mid-request: recv() fails with \
                     ECONNRESET — catch it and close that connection only",
                )
            })?;
            let mut b = cx.connect_with(Opts { rcvbuf: Some(SMALL_RCVBUF) })?;
            d.open(cx, &mut b)?;
            flood_until_stalled(&mut b, &*d, cx.timeout);
            b.reset();
            still_serving(cx, &*d).map_err(|f| {
                reframe(
                    f,
                    "your server stopped serving when a client reset its connection while being sent to: send() \
                     fails with EPIPE or ECONNRESET — catch it and close that connection only (in C, ignore SIGPIPE \
                     or pass MSG_NOSIGNAL, or the signal kills the process)",
                )
            })?;
            Ok("two clients reset (mid-request, and while being sent to); the next client was served".into())
        },
    )
}

/// Send `d.flood()` until the connection stops taking bytes: the
/// server's replies fill our small receive buffer and its send buffer,
/// and it stops reading. Returns the bytes sent.
fn flood_until_stalled(conn: &mut Conn, d: &dyn Dialect, timeout: Duration) -> usize {
    let chunk = d.flood();
    let mut sent = 0;
    let saved = conn.timeout;
    conn.timeout = timeout;
    while sent < FLOOD_CAP && !crate::lab::cancel::is_cancelled() {
        if !conn.writable_within(STALL) {
            break;
        }
        // A short write timeout: the last piece may not fit either.
        match conn.send(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err((n, _)) => {
                sent += n;
                break;
            }
        }
    }
    conn.timeout = saved;
    sent
}

pub fn concurrent(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "concurrent",
        "50 clients connected at once, each sends a request: all are answered while all stay connected",
        move |cx| {
            let mut conns = Vec::with_capacity(CLIENTS);
            let mut accepting = true;
            for i in 0..CLIENTS {
                let conn = open(cx, &*d).map_err(|f| {
                    let assumption = format!("with {i} clients connected, client {} could not connect", i + 1);
                    reframe(f, assumption)
                })?;
                // The next client connects once the server has accept()ed this
                // one, so a small listen backlog (Python's default is 5) costs
                // no SYN retries; a server that stops accepting is waited for once.
                if accepting {
                    let bound = cx.timeout.min(Duration::from_millis(200));
                    accepting = crate::lab::cancel::wait_until(bound, || {
                        (target::accept_queue(cx.addr) == Some(0)).then_some(())
                    })
                    .is_ok();
                }
                conns.push(conn);
            }
            let exs: Vec<Exchange> = (0..CLIENTS).map(|i| d.message(10 + i)).collect();
            for (conn, ex) in conns.iter_mut().zip(&exs) {
                send(conn, &ex.request)?;
            }
            let mut answered = 0;
            let mut first_bad = None;
            for (i, (conn, ex)) in conns.iter_mut().zip(&exs).enumerate() {
                // After one silent client, the rest get a short look each: one
                // timeout for the test, not fifty.
                if first_bad.is_some() {
                    conn.timeout = Duration::from_millis(20);
                }
                match read_reply(conn, &ex.reply, d.order()) {
                    Ok(()) => answered += 1,
                    Err(e) => {
                        first_bad.get_or_insert((i, e));
                    }
                }
            }
            match first_bad {
                None => Ok(format!("{CLIENTS} clients connected at once were all answered")),
                Some((i, e)) => {
                    let said = e.describe(exs[i].reply.len());
                    let assumption = if answered <= 1 && matches!(e.problem, Problem::Ended(End::TimedOut(_))) {
                        "your server serves one client at a time: while the first stayed connected, the others got no answer"
                        .to_string()
                    } else if matches!(e.problem, Problem::Ended(End::TimedOut(_))) {
                        format!(
                            "your server answered only {answered} of {CLIENTS} clients connected at once: a few workers, \
                         or one client at a time, makes the rest wait"
                        )
                    } else {
                        format!("client {} of {CLIENTS} connected at once got a wrong answer", i + 1)
                    };
                    Err(e.into_failure(assumption).fact(format!("client {}: {said}", i + 1)))
                }
            }
        },
    )
}

pub fn slow_reader(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "slow-reader",
        "one client sends and never reads its replies; another client must still be answered",
        move |cx| {
            let mut slow = cx.connect_with(Opts { rcvbuf: Some(SMALL_RCVBUF) })?;
            d.open(cx, &mut slow)?;
            let flooded = flood_until_stalled(&mut slow, &*d, cx.timeout);
            let result = still_serving(cx, &*d);
            slow.reset();
            result.map_err(|f| {
                reframe(
                    f,
                    "your server stops serving others while one client is slow: a blocking send() to a client that \
                     does not read holds up everyone (one thread, or one client at a time)",
                )
                .fact(format!("the slow client had sent {} and read nothing", mib(flooded)))
            })?;
            Ok(format!("while one client sat on {} of unread replies, another was answered", mib(flooded)))
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
