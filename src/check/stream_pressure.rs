//! The shared tests that put a server under pressure: a 9 MiB reply read
//! late, 50 clients at once, a client that never reads, and clients that
//! vanish with RST. Each builds its pressure from the kernel's own limits
//! (buffer sizes, queue lengths), so it happens on every run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Test;
use super::conn::{Conn, End, Opts};
use super::dialect::{Dialect, Exchange, Problem, ReplyError, STALL, read_reply};
use super::pattern;
use super::report::Failure;
use super::stream::{CLIENTS, large_size, mib, open, reframe, send, still_serving};
use super::target;

/// The receive buffer of a client that reads late: small, so the
/// server's replies back up into its own send buffer soon.
const SMALL_RCVBUF: usize = 64 * 1024;

/// The slow reader stops pushing here even if the server keeps taking
/// (a server that drops what it cannot send never pushes back).
const FLOOD_CAP: usize = 64 << 20;

/// Wait until neither our sending nor our receive queue moves for
/// [`STALL`], or `done` says everything already arrived. Before the first
/// reply byte a pause is a server still starting (or busy elsewhere), not
/// full buffers: it counts only after `first`.
fn quiesce(
    conn: &Conn,
    sent: &AtomicUsize,
    writer_done: &AtomicBool,
    expected: usize,
    first: Duration,
    budget: Duration,
) {
    let start = Instant::now();
    let deadline = start + budget;
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
        } else if since.elapsed() >= STALL && (now.1 > 0 || start.elapsed() >= first) {
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
            quiesce(&conn, &sent, &done, ex.reply.len(), cx.timeout, cx.timeout * 10);
            let result = read_reply(&mut conn, &ex.reply, d.order());
            conn.shutdown_write();
            let wrote = thread.join().unwrap_or(Ok(()));
            result.map_err(|e| large_failure(e, &ex))?;
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

fn large_failure(e: ReplyError, ex: &Exchange) -> Failure {
    let said = e.describe(ex.reply.len());
    let gap = e.mismatch.as_ref().and_then(|m| pattern::missing(&e.got, m.first_diff));
    let assumption = match (&e.problem, gap) {
        (_, Some((at, lost))) => format!(
            "your server assumed send() sends everything: it returned less, and the rest was never sent — \
             {} bytes are missing after byte {}; loop until every byte is sent (sendall)",
            thousands(lost),
            thousands(at)
        ),
        (Problem::Ended(End::TimedOut(_)), None) if !e.got.is_empty() => format!(
            "your server assumed send() takes everything it is given: only the first {} of {} bytes came back, \
             then nothing — send() returns how many bytes it queued (on a full buffer, fewer, or EAGAIN); loop \
             until every byte is sent (sendall)",
            thousands(e.got.len()),
            thousands(ex.reply.len())
        ),
        (Problem::Ended(End::Eof | End::Reset), None) => format!(
            "your server hung up after {} of a {} reply: it assumed one recv() holds the whole request — \
             keep reading (and answering) until recv() returns 0",
            mib(e.got.len()),
            mib(ex.reply.len())
        ),
        _ => format!("a {} reply did not come back right: {said}", mib(ex.reply.len())),
    };
    e.into_failure(assumption).fact(said)
}

/// `4,221,884`: a byte count read at a glance.
fn thousands(n: usize) -> String {
    crate::bench::stats::thousands(n as u64)
}

pub fn reset(d: Arc<dyn Dialect>) -> Test {
    Test::new(
        "reset",
        "clients that vanish with RST — mid-request, and while the server is sending — then a new client",
        move |cx| {
            let mut a = open(cx, &*d)?;
            let partial = d.partial();
            send(&mut a, &partial)?;
            a.wait_taken(cx.timeout.min(Duration::from_millis(500)));
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
            let (accept_budget, mut waited) = (cx.timeout, Duration::ZERO);
            for i in 0..CLIENTS {
                let conn = open(cx, &*d).map_err(|f| {
                    let assumption = match i {
                        0 => "the first client could not even start".to_string(),
                        1 => "your server serves one client at a time: while the first stayed connected, the \
                              second was not served"
                            .to_string(),
                        _ => format!(
                            "your server serves only {i} clients at a time: with {i} connected, client {} was not \
                             served",
                            i + 1
                        ),
                    };
                    reframe(f, assumption)
                })?;
                // The next client connects once the server has accept()ed this
                // one, so a small listen backlog (Python's default is 5) costs
                // no SYN retries. One slow accept on a loaded machine is no
                // reason to stop waiting; a server that stops accepting costs
                // at most the timeout in all.
                let left = accept_budget.saturating_sub(waited);
                if !left.is_zero() {
                    let t0 = Instant::now();
                    let _ = crate::lab::cancel::wait_until(left.min(Duration::from_millis(200)), || {
                        (target::accept_queue(cx.addr) == Some(0)).then_some(())
                    });
                    waited += t0.elapsed();
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
