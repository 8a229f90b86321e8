//! file's large test, both ways: a 9 MiB put (the server must read a body
//! that arrives in hundreds of `recv()`s), then a get of the same file
//! read only once every buffer between us is full, so the server's
//! `send()` meets a full socket and returns less than it was given.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Test;
use super::conn::{Conn, End, Opts};
use super::dialect::{Problem, STALL, read_frame};
use super::file::{FileProto, ask, expect_ok, sha_matches, sha256_hex};
use super::framing::random_tag;
use super::pattern;
use super::report::{Failure, Mismatch};
use super::stream::{self, large_size, mib, reframe};

/// The late reader's receive buffer: small, so the download backs up.
const SMALL_RCVBUF: usize = 64 * 1024;

/// How much longer than `--timeout` a server may take to start a reply
/// to a 9 MiB request: it hashes the whole file first (a debug build on a
/// busy machine needs seconds for that).
const HASHING: u32 = 5;

/// Wait until the reply has begun (up to `first` for its first byte) and
/// then the bytes queued for us stop growing for [`STALL`]: the server's
/// send buffer and ours are full (or it has sent everything).
fn settle(conn: &Conn, expected: usize, first: Duration, budget: Duration) {
    let start = Instant::now();
    let (mut last, mut since) = (0, Instant::now());
    while start.elapsed() < budget && !crate::lab::cancel::is_cancelled() {
        let now = conn.queued();
        if now >= expected || (now == 0 && start.elapsed() >= first) {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if now > 0 && since.elapsed() >= STALL {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn large(d: Arc<FileProto>) -> Test {
    Test::new(
        "large",
        "a 9 MiB put, then a get of it read only once every buffer between us is full: the same bytes back",
        move |cx| {
            let size = large_size();
            let data = pattern::text(size);
            let name = format!("netlab-check-large-{}.txt", random_tag());
            let mut conn = cx.connect_with(Opts { rcvbuf: Some(SMALL_RCVBUF) })?;
            // Hashed once: 9 MiB through SHA-256 is slow in a debug build.
            let sha = sha256_hex(&data);
            let put = d.put_claiming(&name, &data, &sha);
            let what = format!("a put of {}", mib(size));
            conn.timeout = cx.timeout * HASHING;
            let stored = ask(&mut conn, &d, &put, &what);
            conn.timeout = cx.timeout;
            let stored = stored.and_then(|f| expect_ok(f, &what)).map_err(|f| {
                let why = format!(
                    "your server did not store {what}: a body this size arrives in many recv()s — loop until \
                         data_size bytes are in"
                );
                reframe(f, why)
            })?;
            if sha_matches(&stored, &sha) == Some(false) {
                return Err(Failure::new(format!(
                    "your server's reply to {what} has a sha256 that is not the upload's: it hashed different \
                     bytes than it was sent — did a recv() get lost or counted twice?"
                )));
            }
            stream::send(&mut conn, &d.get(&name))?;
            // Reading late is the point: the server's send() meets a full
            // buffer, and a server that ignores its return value loses bytes.
            settle(&conn, size, cx.timeout * HASHING, cx.timeout * 10);
            let (cpu_before, t0) = (cx.procs.cpu_time(), Instant::now());
            let frame = read_frame(&mut conn, d.order).map_err(|e| {
                let busy = cx.procs.cpu_time().saturating_sub(cpu_before).as_secs_f64() / t0.elapsed().as_secs_f64();
                let said = e.describe(size);
                let assumption = match &e.problem {
                    Problem::Ended(End::TimedOut(_)) | Problem::BadFrame(_) if !e.got.is_empty() => format!(
                        "your server's {} download stopped short: {said} — does it check what send() returns?",
                        mib(size)
                    ),
                    _ => format!("your server did not send back a {} file: {said}", mib(size)),
                };
                let f = e.into_failure(assumption);
                if !cx.procs.pids.is_empty() && busy > 0.5 {
                    f.fact(format!(
                        "meanwhile your server used {:.0}% of a CPU: it is spinning, not waiting",
                        100.0 * busy
                    ))
                } else {
                    f
                }
            })?;
            let frame = expect_ok(frame, &format!("get of a {} file", mib(size)))?;
            if frame.body != data {
                let mismatch = Mismatch::between(&data, &frame.body);
                let gap = mismatch.as_ref().and_then(|m| pattern::missing(&frame.body, m.first_diff));
                let assumption = match gap {
                    Some((at, lost)) => format!(
                        "your server assumed send() sends everything: it returned less, and the rest was never \
                         sent — {lost} bytes are missing after byte {at}; loop until every byte is sent (sendall)"
                    ),
                    None => format!("the {} file came back different from what was put", mib(size)),
                };
                return Err(Failure::new(assumption).mismatch(mismatch));
            }
            match sha_matches(&frame, &sha) {
                Some(true) => Ok(format!(
                    "{} went up and came back whole, read only after the buffers filled; sha256 matched",
                    mib(size)
                )),
                Some(false) => {
                    Err(Failure::new("your server's get reply has a sha256 that does not match the bytes it sent")
                        .fact(format!("the bytes hash to {sha}")))
                }
                None => Err(Failure::new(
                    "your server's get reply has no \"sha256\" in its header: the client cannot check the download",
                )
                .fact(format!("its header: {}", Value::Object(frame.header)))),
            }
        },
    )
}
