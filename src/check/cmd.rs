//! cmd: one command line per request (ended by `\n`, or by 100 ms of
//! silence for the classic client that sends a bare command and waits),
//! each answered with a frame `{"status": "ok"|"error", "data_size": N}`.
//! The shared stream tests use `echo TEXT` (its output is TEXT and a
//! newline) and `big N` (N bytes of anything) for the large reply.
//!
//! The classic tutorial server hands the line to `subprocess.Popen(cmd,
//! shell=True)`: whoever can connect runs any program. `no-shell` proves
//! it: the injected part of each request creates a file in a fresh
//! directory only this checker knows, and a file that appears is the proof.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::conn::Conn;
use super::dialect::{Body, Dialect, Exchange, Expect, read_frame, read_reply};
use super::framing::{OrderProbe, by_order, random_tag};
use super::report::{Failure, LogEntry, Logged};
use super::stream;
use super::{Cx, Test};
use crate::proto::json_header::LengthOrder;
use crate::render::hexdump::quote_text;

pub struct Cmd {
    order: LengthOrder,
}

fn ok(output: impl Into<Vec<u8>>) -> Expect {
    Expect::Frame { body: Body::Exact(output.into()), status: Some("ok") }
}

/// `echo TEXT` and the reply it gets.
fn echo(text: &str) -> Exchange {
    Exchange { request: format!("echo {text}\n").into_bytes(), reply: ok(format!("{text}\n")) }
}

impl Dialect for Cmd {
    fn name(&self) -> &'static str {
        "cmd"
    }

    fn message(&self, i: usize) -> Exchange {
        echo(&format!("message {i}: hello, netlab"))
    }

    fn large(&self, size: usize) -> Exchange {
        let reply = Expect::Frame { body: Body::Size(size), status: Some("ok") };
        Exchange { request: format!("big {size}\n").into_bytes(), reply }
    }

    fn flood(&self) -> Vec<u8> {
        let line = format!("echo {}\n", "x".repeat(1000));
        line.repeat(64 * 1024 / line.len()).into_bytes()
    }

    fn order(&self) -> LengthOrder {
        self.order
    }
}

/// Send `ex` on `conn` and judge its reply; `why` heads the failure.
fn exchange(cx: &Cx, d: &Cmd, conn: &mut Conn, ex: &Exchange, why: &str) -> Result<(), Failure> {
    stream::exchange(cx, d, conn, ex).map_err(|e| {
        let said = e.describe(ex.reply.len());
        e.into_failure(why).fact(said).sent(&ex.request)
    })
}

/// After a request the server had to refuse, the connection still works.
fn still_usable(cx: &Cx, d: &Cmd, conn: &mut Conn, after: &str) -> Result<(), Failure> {
    let ex = echo("still here");
    exchange(
        cx,
        d,
        conn,
        &ex,
        &format!(
            "after {after} your server stopped answering on that connection: reply with an error frame and keep \
             reading the next request"
        ),
    )
}

fn unknown_command(d: Arc<Cmd>) -> Test {
    Test::new(
        "unknown-command",
        "a command that is not a built-in gets a framed error reply, and the connection is still usable",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let request = b"frobnicate --now\n";
            stream::send(&mut conn, request)?;
            match read_frame(&mut conn, d.order) {
                Ok(frame) if super::framing::is_error(&frame) => {}
                Ok(frame) => {
                    return Err(Failure::new(
                        "your server answered an unknown command without saying it failed: its reply's header needs \
                         \"status\": \"error\", so a client can tell an error message from output",
                    )
                    .fact(format!("its reply's header: {}", serde_json::Value::Object(frame.header)))
                    .sent(request));
                }
                Err(e) => {
                    let said = e.describe(0);
                    return Err(e
                        .into_failure(
                            "your server gave no framed error reply to an unknown command: answer it with \
                             {\"status\": \"error\"} and a message, and keep the connection open",
                        )
                        .fact(said)
                        .sent(request));
                }
            }
            still_usable(cx, &d, &mut conn, "an unknown command")?;
            Ok("an unknown command got an error frame; the next request on the connection was answered".into())
        },
    )
}

/// A fresh directory for the canaries, under a path no shell would split.
fn canary_dir() -> Result<PathBuf, Failure> {
    let base = std::env::temp_dir();
    let plain = base.to_str().is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)));
    let base = if plain { base } else { PathBuf::from("/tmp") };
    let dir = base.join(format!("netlab-check-shell-{}", random_tag()));
    std::fs::create_dir(&dir).map_err(|e| {
        Failure::new(format!("cannot make a directory for the no-shell test in {}: {e}", base.display()))
    })?;
    Ok(dir)
}

/// Each request, and the file its injected part creates if a shell runs it.
fn injections(dir: &Path) -> Vec<(String, PathBuf)> {
    let at = |name: &str| dir.join(name);
    let d = dir.display();
    vec![
        (format!("echo semicolon; touch {d}/semicolon"), at("semicolon")),
        (format!("echo dollar $(touch {d}/dollar)"), at("dollar")),
        (format!("echo backtick `touch {d}/backtick`"), at("backtick")),
        (format!("echo pipe | touch {d}/pipe"), at("pipe")),
        (format!("echo and && touch {d}/and"), at("and")),
    ]
}

fn no_shell(d: Arc<Cmd>) -> Test {
    Test::new(
        "no-shell",
        "requests with ; $( ) ` | && never reach a shell: the files their injected commands would create never appear",
        move |cx| {
            let dir = canary_dir()?;
            let result = shell_probe(cx, &d, &dir);
            // The canaries and their directory go, whatever happened.
            let _ = std::fs::remove_dir_all(&dir);
            result
        },
    )
}

fn shell_probe(cx: &Cx, d: &Cmd, dir: &Path) -> Result<String, Failure> {
    let mut unanswered = None;
    for (line, canary) in injections(dir) {
        let mut conn = stream::open(cx, d)?;
        let request = format!("{line}\n").into_bytes();
        let answered = conn.send(&request).is_ok() && read_frame(&mut conn, d.order).is_ok();
        // A shell=True server replies once the shell has exited: by then
        // the injected command has made its file.
        if canary.exists() {
            return Err(Failure::new(format!(
                "your server ran my request through a shell: {} created {} — handing network input to a shell \
                 (shell=True, os.system, popen) is remote code execution: anyone who can connect runs any program \
                 as you",
                quote_text(line.as_bytes()),
                canary.display()
            ))
            .fact("run a fixed list of commands yourself, or pass an argument list with no shell")
            .sent(&request));
        }
        if !answered && unanswered.is_none() {
            unanswered = Some(request);
        }
    }
    if let Some(request) = unanswered {
        return Err(Failure::new(
            "your server gave no framed reply to a request with shell syntax in it: answer every request — an \
             error reply is fine — and keep serving",
        )
        .sent(&request));
    }
    Ok("5 requests with shell syntax were answered and none of their injected commands ran".into())
}

fn bare_command(d: Arc<Cmd>) -> Test {
    Test::new(
        "bare-command",
        "a command with no newline, then silence: answered once the connection has been idle for 100 ms",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let ex = echo("bare command");
            let bare = &ex.request[..ex.request.len() - 1];
            let t0 = Instant::now();
            stream::send(&mut conn, bare)?;
            read_reply(&mut conn, &ex.reply, d.order).map_err(|e| {
                let said = e.describe(ex.reply.len());
                e.into_failure(
                    "your server waits for a newline that a classic client never sends: a request also ends once \
                     the connection has been idle for 100 ms after data arrived",
                )
                .fact(said)
                .sent(bare)
            })?;
            let waited = t0.elapsed().as_millis();
            still_usable(cx, &d, &mut conn, "a bare command")?;
            Ok(format!("a bare command was answered after {waited} ms of silence; the connection still worked"))
        },
    )
}

fn big_output(d: Arc<Cmd>) -> Test {
    Test::new(
        "big-output",
        "big 1000000 and an echo in one send(): exactly 1,000,000 bytes of output framed, then the echo's frame",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let after = echo("after big");
            let request = [&b"big 1000000\n"[..], &after.request].concat();
            stream::send(&mut conn, &request)?;
            let big = Expect::Frame { body: Body::Size(1_000_000), status: Some("ok") };
            read_reply(&mut conn, &big, d.order).map_err(|e| {
                let said = e.describe(1_000_000);
                e.into_failure(
                    "your server did not frame 1,000,000 bytes of output right: data_size must count the bytes of \
                     output exactly, and all of them must be sent (sendall)",
                )
                .fact(said)
                .sent(&request)
            })?;
            read_reply(&mut conn, &after.reply, d.order).map_err(|e| {
                let said = e.describe(after.reply.len());
                e.into_failure(
                    "after a 1,000,000-byte reply your next frame is not where its length said: the big reply \
                     sent more or fewer bytes than its data_size",
                )
                .fact(said)
                .sent(&request)
            })?;
            Ok("1,000,000 bytes of output came in one frame, and the next reply started right after it".into())
        },
    )
}

fn invalid_utf8(d: Arc<Cmd>) -> Test {
    Test::new(
        "invalid-utf8",
        "a request that is not UTF-8 (ff fe, a lone é byte) gets a framed reply, and the connection still works",
        move |cx| {
            let mut conn = stream::open(cx, &*d)?;
            let request = b"echo \xff\xfe caf\xe9\n";
            stream::send(&mut conn, request)?;
            read_frame(&mut conn, d.order).map_err(|e| {
                let said = e.describe(0);
                e.into_failure(
                    "your server gave no framed reply to a request that is not UTF-8: decoding failed and took the \
                     connection with it — catch the error (or decode with errors='replace') and reply with an error",
                )
                .fact(said)
                .sent(request)
            })?;
            still_usable(cx, &d, &mut conn, "a request that is not UTF-8")?;
            Ok("a request that is not UTF-8 got a framed reply; the connection still worked".into())
        },
    )
}

/// A pause this long between two bytes of the one-byte test may have
/// ended the request by the 100 ms idle rule: the server was right to
/// answer it, and the test says nothing about the server.
const PAUSE_MS: f64 = 80.0;

/// Tries of the one-byte test when netlab itself paused too long.
const TRIES: usize = 3;

/// The longest pause between two one-byte sends on one connection.
fn longest_pause(entries: &[LogEntry]) -> f64 {
    let mut last: HashMap<&str, f64> = HashMap::new();
    let mut longest = 0.0f64;
    for e in entries {
        if let Logged::Sent { len: 1, .. } = e.what {
            if let Some(t) = last.insert(&e.conn, e.t_ms) {
                longest = longest.max(e.t_ms - t);
            }
        }
    }
    longest
}

/// The shared one-byte test, run again when a busy machine held netlab
/// past the idle rule between two bytes (the checker's fault, not yours).
fn paced(t: Test) -> Test {
    let run = t.run;
    Test::new(t.name, t.about, move |cx| {
        let mut attempt = 1;
        loop {
            let from = cx.log.entries().len();
            let f = match run(cx) {
                Ok(summary) => return Ok(summary),
                Err(f) => f,
            };
            let pause = longest_pause(cx.log.entries().get(from..).unwrap_or_default());
            if pause < PAUSE_MS {
                return Err(f);
            }
            if attempt == TRIES {
                return Err(f.fact(format!(
                    "netlab itself paused {pause:.0} ms between two bytes (a busy machine), past the 100 ms idle \
                     rule: this failure may be netlab's — run the check again"
                )));
            }
            let why = format!("netlab paused {pause:.0} ms between two bytes, so the idle rule may have ended it");
            cx.log.note("", format!("{why}: once more"));
            attempt += 1;
        }
    })
}

fn tests(order: LengthOrder) -> Vec<Test> {
    let d = Arc::new(Cmd { order });
    let dialect: Arc<dyn Dialect> = d.clone();
    let probe = OrderProbe::new(|order| Arc::new(Cmd { order }) as Arc<dyn Dialect>);
    let (gentle, destructive) = stream::shared(&dialect);
    let mut all: Vec<Test> =
        gentle.into_iter().map(|t| if t.name == "one-byte-writes" { paced(t) } else { t }).collect();
    all.push(unknown_command(d.clone()));
    all.push(bare_command(d.clone()));
    all.push(big_output(d.clone()));
    all.push(invalid_utf8(d.clone()));
    all.push(no_shell(d.clone()));
    all.extend(destructive);
    all.into_iter().map(|t| probe.wrap(t)).collect()
}

pub fn suite() -> Vec<Test> {
    by_order(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(conn: &str, t_ms: f64, len: usize) -> LogEntry {
        LogEntry { t_ms, conn: conn.into(), what: Logged::Sent { len, calls: 1, data: vec![b'x'; len] } }
    }

    #[test]
    fn the_longest_pause_is_between_one_byte_sends_on_one_connection() {
        let log = [sent("c1", 0.0, 1), sent("c2", 50.0, 1), sent("c1", 10.0, 1), sent("c1", 95.0, 1)];
        assert_eq!(longest_pause(&log), 85.0);
        // Whole requests and other connections' bytes are not pauses.
        assert_eq!(longest_pause(&[sent("c1", 0.0, 30), sent("c1", 500.0, 30), sent("c2", 900.0, 1)]), 0.0);
    }

    #[test]
    fn every_injection_names_a_canary_inside_the_directory() {
        let dir = Path::new("/tmp/netlab-check-shell-x");
        for (line, canary) in injections(dir) {
            assert!(canary.starts_with(dir) && line.contains(canary.to_str().unwrap()), "{line}");
            assert!(crate::serve::cmd_builtins::shell_syntax(&line).is_some(), "{line}");
        }
    }
}
