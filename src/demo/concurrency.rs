//! Concurrency (并发): the same echo server run iterative, thread per
//! connection, fork per connection (with and without reaping), and as a
//! pool — who waits, and what is left behind.
//!
//! Deterministic by construction: the iterative server cannot reply to b
//! while it is inside a's connection, so every timed recv on b fails
//! until a closes — the wait is counted, not clocked. Zombies and reaping
//! are read from /proc after the server logged the child's exit; the pool's
//! third client is queued once both workers have echoed (so both are busy).

use super::must;
use crate::event::CallResult;
use crate::lab::{Lab, Outcome};

/// Timed recvs the waiting client makes while the first one stays.
const TRIES: usize = 3;
const TRY_MS: u64 = 40;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    iterative(lab)?;
    thread(lab)?;
    fork(lab)?;
    pool(lab)
}

/// Connect `name` to `server`, send `text`, read the echo.
fn echoed(lab: &mut Lab, server: &str, name: &str, text: &str) -> Result<bool, String> {
    must(lab, &format!("tcp connect {server} as {name}"))?;
    must(lab, &format!("send {name} \"{text}\""))?;
    let got = must(lab, &format!("recv {name}"))?;
    Ok(got.bytes.as_deref() == Some(text.as_bytes()))
}

/// How many of `TRIES` timed recvs on `name` got nothing.
fn unanswered(lab: &mut Lab, name: &str) -> usize {
    (0..TRIES).filter(|_| lab.run_shown(&format!("recv {name} --timeout {TRY_MS}")).errno() == Some("EAGAIN")).count()
}

fn detail(outcome: &Outcome) -> &str {
    match &outcome.result {
        Some(CallResult::Ok { detail }) => detail,
        _ => "",
    }
}

fn iterative(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) iterative: one client at a time");
    must(lab, "serve echo --model iterative as srv")?;
    let a = echoed(lab, "srv", "a", "from a")?;
    lab.verdict(a, "a is served");
    lab.say("a stays connected. b connects and sends: the server's kernel queues both, the server is busy with a.");
    let b = must(lab, "tcp connect srv as b")?;
    must(lab, "send b \"from b\"")?;
    lab.verdict(b.is_ok(), "b's connect() succeeded: the kernel finished the handshake; b waits in the listen queue");
    let waited = unanswered(lab, "b");
    lab.verdict(
        waited == TRIES,
        format!("{waited} of {TRIES} timed recvs on b ({TRY_MS} ms each) got no echo while a was connected"),
    );
    lab.say("a leaves. The server sees EOF, closes, accept()s b and reads what b sent long ago.");
    must(lab, "close a")?;
    let got = must(lab, "recv b")?;
    lab.verdict(got.bytes.as_deref() == Some(b"from b".as_slice()), "once a closed, b got its echo");
    let order = must(lab, "wait srv log \"conn#2 accept\"")?;
    lab.verdict(order.is_ok(), "the server accepted b (conn#2) only after a (conn#1) was closed");
    must(lab, "close b")?;
    must(lab, "close srv")?;
    Ok(())
}

fn thread(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) a thread per connection: nobody waits");
    must(lab, "serve echo --model thread as srv")?;
    let a = echoed(lab, "srv", "a", "from a")?;
    let b = echoed(lab, "srv", "b", "from b")?;
    lab.verdict(a && b, "b got its echo while a was still connected: each client has its own thread");
    let procs = must(lab, "procs srv")?;
    lab.verdict(detail(&procs).contains("(3 thread(s))"), "one process, 3 threads: the accept loop and one per client");
    must(lab, "close a")?;
    must(lab, "close b")?;
    must(lab, "close srv")?;
    Ok(())
}

fn fork(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) a child process per connection, and its zombie");
    lab.say("--no-reap: the parent never calls waitpid(), as in the classic buggy fork server.");
    must(lab, "serve echo --model fork --no-reap as lazy")?;
    let a = echoed(lab, "lazy", "a", "from a")?;
    lab.verdict(a, "a child process served a");
    must(lab, "close a")?;
    must(lab, "wait lazy log \"left a zombie\"")?;
    let zombies = must(lab, "procs lazy")?;
    lab.verdict(
        zombies.value.as_deref() == Some("1"),
        "a's child exited and stays a zombie (state Z): nobody collected its exit status",
    );
    must(lab, "close lazy")?;
    lab.say("The same server with reaping: waitpid(-1, WNOHANG) on every turn of its loop.");
    must(lab, "serve echo --model fork as srv")?;
    let a = echoed(lab, "srv", "a", "from a")?;
    let children = must(lab, "procs srv")?;
    lab.verdict(a && detail(&children).contains("1 child process(es)"), "while a is connected, one child serves it");
    must(lab, "close a")?;
    must(lab, "wait srv log \"reaped\"")?;
    let after = must(lab, "procs srv")?;
    lab.verdict(
        detail(&after).contains("0 child process(es), 0 zombie(s)"),
        "a's child exited and was reaped: no child, no zombie",
    );
    must(lab, "close srv")?;
    Ok(())
}

fn pool(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(d) a pool of 2 worker threads: the third client waits");
    must(lab, "serve echo --model pool --workers 2 as srv")?;
    let a = echoed(lab, "srv", "a", "a")?;
    let b = echoed(lab, "srv", "b", "b")?;
    lab.verdict(a && b, "two clients, two workers: both served at once");
    must(lab, "tcp connect srv as c")?;
    must(lab, "wait srv log \"queued\"")?;
    must(lab, "send c \"c\"")?;
    let waited = unanswered(lab, "c");
    lab.verdict(waited == TRIES, format!("{waited} of {TRIES} timed recvs on c got nothing: both workers are busy"));
    must(lab, "close a")?;
    let got = must(lab, "recv c")?;
    lab.verdict(got.bytes.as_deref() == Some(b"c".as_slice()), "a left, a worker took c, and c got its echo");
    for name in ["b", "c", "srv"] {
        must(lab, &format!("close {name}"))?;
    }
    Ok(())
}
