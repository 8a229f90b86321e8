//! Blocking and non-blocking (阻塞 / 非阻塞): one recv on an empty socket,
//! three ways — blocking (waits), with SO_RCVTIMEO (EAGAIN after the
//! timeout), non-blocking (EAGAIN at once) — then readiness: a spin loop
//! that burns thousands of EAGAINs versus one poll() that sleeps until
//! the socket is readable.
//!
//! Deterministic by construction: nothing is ever sent while a call
//! waits, so every wait ends by its own clock; the data for the last part
//! is sent before poll is asked, so poll reports it readable at once.

use std::time::Instant;

use super::must;
use crate::lab::{Lab, Outcome};

const BOUND_MS: u64 = 150;
const RCVTIMEO_MS: u64 = 100;
const SPIN_MS: u64 = 20;
/// Calls the demo's spin loop makes: the count, not the clock, ends it.
const SPIN_CALLS: usize = 1000;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    blocking(lab)?;
    with_timeout(lab)?;
    nonblocking(lab)?;
    readiness(lab)
}

/// Run `line`, which must fail with EAGAIN; return how long it took in ms.
/// The longest kernel tick (HZ=100).
const JIFFY_MS: u64 = 10;

fn timed_eagain(lab: &mut Lab, line: &str) -> (bool, u128) {
    let started = Instant::now();
    let out: Outcome = lab.run_shown(line);
    (out.errno() == Some("EAGAIN"), started.elapsed().as_millis())
}

fn blocking(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) blocking (阻塞): recv waits until there is data");
    lab.say("A new socket is blocking. With data queued, recv returns it at once:");
    must(lab, "send cli \"hello\"")?;
    let got = must(lab, "recv conn")?;
    lab.verdict(got.bytes.as_deref() == Some(b"hello".as_slice()), "with data queued, a blocking recv returns it");
    lab.say(format!(
        "With nothing queued, a blocking recv sleeps until data (or EOF) arrives — forever, if none\n\
         does. netlab bounds every wait: here --timeout {BOUND_MS}, and nothing is sent."
    ));
    let (eagain, ms) = timed_eagain(lab, &format!("recv conn --timeout {BOUND_MS}"));
    lab.verdict(
        eagain && ms >= u128::from(BOUND_MS),
        format!("the blocking recv waited {ms} ms (≥ {BOUND_MS}) for data that never came"),
    );
    Ok(())
}

fn with_timeout(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) a receive timeout: SO_RCVTIMEO");
    lab.say(format!(
        "setsockopt(SO_RCVTIMEO) makes a blocking recv give up after a while: it fails with EAGAIN\n\
         (EWOULDBLOCK, the same number on Linux). Python's sock.settimeout({}) raises\n\
         socket.timeout (TimeoutError) instead — CPython does it by making the socket non-blocking\n\
         and polling, not with SO_RCVTIMEO — but the idea is the same.",
        RCVTIMEO_MS as f64 / 1000.0
    ));
    must(lab, &format!("opt conn rcvtimeo {RCVTIMEO_MS}"))?;
    let (eagain, ms) = timed_eagain(lab, "recv conn");
    // SO_RCVTIMEO counts in kernel ticks (jiffies, 1–10 ms): the tick it
    // started in was already partly over, so it can end up to one tick
    // early by the wall clock (CI measured 99 ms for 100).
    lab.verdict(
        eagain && ms + u128::from(JIFFY_MS) >= u128::from(RCVTIMEO_MS),
        format!("with SO_RCVTIMEO {RCVTIMEO_MS} ms, recv failed with EAGAIN after {ms} ms"),
    );
    must(lab, "opt conn rcvtimeo 0")?;
    Ok(())
}

fn nonblocking(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) non-blocking (非阻塞): recv never waits");
    lab.say("O_NONBLOCK (Python: sock.setblocking(False)) turns every wait into an immediate EAGAIN:");
    must(lab, "opt conn nonblock on")?;
    let started = Instant::now();
    let out = lab.run_shown("recv conn");
    let us = started.elapsed().as_micros();
    lab.verdict(
        out.errno() == Some("EAGAIN"),
        format!("the non-blocking recv failed with EAGAIN without waiting ({us} µs) — Python raises BlockingIOError"),
    );
    Ok(())
}

fn readiness(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(d) readiness: spinning on EAGAIN versus one poll()");
    lab.say(format!(
        "So how does a non-blocking program wait? The wrong way is to call recv again and again until\n\
         it stops failing. Here is that spin loop, stopped after {SPIN_CALLS} calls (its summary says how\n\
         little time they took — a real one would go on until data came, at 100% CPU):"
    ));
    let spun = must(lab, &format!("recvloop conn --max {SPIN_CALLS} --timeout 10000"))?;
    let calls: usize = spun.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
    lab.verdict(
        calls == SPIN_CALLS && spun.bytes.as_deref() == Some(&[][..]),
        format!("the spin loop made {calls} recv() calls, every one EAGAIN: a CPU busy doing nothing"),
    );
    lab.say(format!(
        "The right way: poll() asks the kernel to wake us when the socket is readable. Same {SPIN_MS} ms:"
    ));
    let idle = must(lab, &format!("poll conn in --timeout {SPIN_MS}"))?;
    lab.verdict(
        idle.value.as_deref() == Some("none"),
        format!(
            "one poll() call slept the whole {SPIN_MS} ms and returned 0 ready: one system call instead of {calls}"
        ),
    );
    lab.say("Now the client sends. poll reports POLLIN, and the recv that follows cannot fail:");
    must(lab, "send cli \"ping\"")?;
    let ready = must(lab, "poll conn in --timeout 1000")?;
    let got = must(lab, "recv conn")?;
    lab.verdict(
        ready.value.as_deref() == Some("POLLIN") && got.bytes.as_deref() == Some(b"ping".as_slice()),
        "after poll said POLLIN, the non-blocking recv returned the data",
    );
    lab.say("Readable also means EOF: when the client closes, poll says so, and recv returns 0.");
    must(lab, "close cli")?;
    let eof = must(lab, "poll conn in rdhup --timeout 1000")?;
    let zero = must(lab, "recv conn")?;
    lab.verdict(
        eof.value.as_deref() == Some("POLLIN|POLLRDHUP") && zero.bytes.as_deref() == Some(&[][..]),
        "after the FIN, poll reports POLLIN|POLLRDHUP and recv returns 0 (EOF)",
    );
    lab.say(
        "That is the whole idea behind select, poll and epoll (I/O 多路复用, lesson multiplexing): wait\n\
         for readiness on many sockets at once, then make only calls that will not block.",
    );
    must(lab, "close conn")?;
    must(lab, "close srv")?;
    Ok(())
}
