//! epoll: level-triggered versus edge-triggered readiness, seen on
//! successive epoll_wait calls with the data left unread; then an
//! edge-triggered echo server that drains every wake-up.
//!
//! Deterministic by construction: the data is queued before epoll is
//! asked, nothing reads it in between, and each wait that reports nothing
//! ends by its own short timeout. The server part waits for readiness
//! (FIONREAD) of the whole echo, not for a time.

use super::must;
use crate::event::CallResult;
use crate::lab::Lab;

const WAIT_MS: u64 = 30;
const BULK: usize = 60_000;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    triggers(lab)?;
    edge_server(lab)
}

fn triggers(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) level-triggered: readable on every wait while data is unread");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    must(lab, "send cli \"hello\"")?;
    must(lab, "wait conn readable 5")?;
    let level = must(lab, &format!("epoll conn --timeout {WAIT_MS}"))?;
    lab.verdict(
        level.value.as_deref() == Some("EPOLLIN EPOLLIN EPOLLIN"),
        "level-triggered: all 3 waits reported conn readable — the 5 bytes were still there",
    );
    lab.heading("(b) edge-triggered (EPOLLET): readable once, when the data arrived");
    let edge = must(lab, &format!("epoll conn --edge --timeout {WAIT_MS}"))?;
    lab.verdict(
        edge.value.as_deref() == Some("EPOLLIN none none"),
        format!(
            "edge-triggered: only the first wait reported conn; the next two slept {WAIT_MS} ms with 5 bytes unread"
        ),
    );
    lab.say(
        "An edge is a change: \"data arrived\". Reading only part of it produces no new edge, so an\n\
         edge-triggered program that stops reading early is never told about the rest — until more\n\
         data comes. The rule (man 7 epoll): non-blocking sockets, and read until EAGAIN on every wake-up.",
    );
    let got = must(lab, "recv conn")?;
    lab.verdict(got.bytes.as_deref() == Some(b"hello".as_slice()), "the bytes were there all along");
    for name in ["cli", "conn", "srv"] {
        must(lab, &format!("close {name}"))?;
    }
    Ok(())
}

fn edge_server(lab: &mut Lab) -> Result<(), String> {
    lab.heading(format!("(c) an edge-triggered echo server, {BULK} bytes at once"));
    must(lab, "serve echo --model epoll --edge as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, &format!("sendall cli repeat:{BULK}:\"x\""))?;
    let all = must(lab, &format!("wait cli readable {BULK}"))?;
    lab.verdict(
        all.is_ok(),
        format!("all {BULK} bytes came back: each time epoll woke it, the server read (and wrote) until EAGAIN"),
    );
    let echo = must(lab, "recv cli 65536")?;
    lab.verdict(echo.bytes.as_ref().map(Vec::len) == Some(BULK), format!("one recv took all {BULK}"));
    let procs = must(lab, "procs srv")?;
    let one = matches!(&procs.result, Some(CallResult::Ok { detail }) if detail.starts_with("1 server process (1 thread(s))"));
    lab.verdict(one, "one process, one thread");
    must(lab, "close cli")?;
    must(lab, "close srv")?;
    Ok(())
}
