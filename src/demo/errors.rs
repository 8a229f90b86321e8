//! Socket errors, each made to happen on purpose: ECONNREFUSED,
//! ECONNRESET, EPIPE, a receive timeout and a non-blocking EAGAIN.
//!
//! Deterministic by construction: every RST is waited for in the kernel's
//! own table (`wait SOCK state CLOSED`) before the call that reports it.

use super::must;
use crate::event::CallResult;
use crate::lab::{Lab, Outcome};

pub fn run(lab: &mut Lab) -> Result<(), String> {
    refused(lab)?;
    reset(lab)?;
    broken_pipe(lab)?;
    timeout(lab)?;
    would_block(lab)?;
    lab.heading("how to react");
    lab.say(
        "ECONNREFUSED  nobody listens: retry later with a growing delay, or report the server down\n\
         ECONNRESET    the connection is gone: close it, log it, reconnect if the work must go on\n\
         EPIPE         you wrote to a dead connection: stop writing, close (in C, also ignore SIGPIPE)\n\
         EAGAIN        not an error: wait for readiness (poll) or until your deadline, then try again\n\
         recv() = 0    not an error either: EOF, the peer finished sending — close your side",
    );
    Ok(())
}

/// `(name, number)` of the errno a call failed with.
fn errno(outcome: &Outcome) -> Option<(&str, i32)> {
    match outcome.result.as_ref()? {
        CallResult::Err { errno, code, .. } => Some((errno, *code)),
        _ => None,
    }
}

/// A verdict that `outcome` failed with errno `want`.
fn expect_errno(lab: &mut Lab, outcome: &Outcome, want: &str, claim: &str) -> bool {
    let got = errno(outcome).map_or("no error".to_string(), |(name, code)| format!("{name} ({code})"));
    lab.verdict(errno(outcome).is_some_and(|(name, _)| name == want), format!("{claim}: {got}"))
}

fn refused(lab: &mut Lab) -> Result<(), String> {
    lab.heading("ECONNREFUSED: nobody listens on the port");
    lab.say("A listener, closed at once: its port is free again, and nothing listens there.");
    must(lab, "tcp listen as gone")?;
    let port = lab.local_addr("gone").map_or(0, |a| a.port());
    must(lab, "close gone")?;
    // Held bound, never listening, so no other program listens there
    // before the connect (see the ports demo).
    let _held = super::ports::hold_v4(port);
    let out = lab.run_shown("tcp connect gone as cli");
    expect_errno(lab, &out, "ECONNREFUSED", "connect() to a closed port fails at once");
    lab.say(
        "The client's SYN reached this machine's kernel, which found no listener and answered\n\
         with a RST. A RST in reply to a SYN is what \"connection refused\" means.",
    );
    Ok(())
}

fn reset(lab: &mut Lab) -> Result<(), String> {
    lab.heading("ECONNRESET: the peer aborts the connection");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as a")?;
    must(lab, "accept srv as b")?;
    lab.say("SO_LINGER with a 0 s timeout turns close() into an abort: a RST instead of a FIN.");
    must(lab, "opt a linger 0")?;
    must(lab, "close a")?;
    must(lab, "wait b state CLOSED")?;
    lab.say("b's kernel got the RST and dropped the connection. b's program learns it on its next call:");
    let first = lab.run_shown("recv b");
    expect_errno(lab, &first, "ECONNRESET", "recv() reports the reset");
    let again = must(lab, "recv b")?;
    lab.verdict(
        again.bytes.as_deref() == Some(&[][..]),
        "the error is reported once: the next recv() returns 0 bytes, as at EOF",
    );
    let write = lab.run_shown("send b \"anyone there?\"");
    expect_errno(lab, &write, "EPIPE", "and a send() on the dead socket fails");
    must(lab, "close b")?;
    Ok(())
}

fn broken_pipe(lab: &mut Lab) -> Result<(), String> {
    lab.heading("EPIPE: writing after the peer closed");
    must(lab, "tcp connect srv as c")?;
    must(lab, "accept srv as d")?;
    lab.say("This time the peer closes normally: a FIN, so c reaches CLOSE_WAIT.");
    must(lab, "close d")?;
    must(lab, "wait c state CLOSE_WAIT")?;
    let first = must(lab, "send c \"one\"")?;
    lab.verdict(
        first.bytes.as_deref() == Some(b"one".as_slice()),
        "the first send() after the peer's close SUCCEEDS: a FIN only says \"I send no more\"",
    );
    lab.say(
        "The bytes reached d's kernel, but no program will ever read them (d is closed), so it\n\
         answers with a RST. c's kernel, in CLOSE_WAIT, records that as EPIPE and drops the\n\
         connection:",
    );
    must(lab, "wait c state CLOSED")?;
    let second = lab.run_shown("send c \"two\"");
    expect_errno(lab, &second, "EPIPE", "the second send() fails");
    lab.say(
        "In C, that send() would also raise SIGPIPE, whose default action kills the process\n\
         (exit status 141 in a shell). Pass MSG_NOSIGNAL to send(), or ignore SIGPIPE once:\n\
         signal(SIGPIPE, SIG_IGN). Rust and Python ignore SIGPIPE for you, so they get EPIPE\n\
         (Python raises BrokenPipeError). netlab passes MSG_NOSIGNAL.",
    );
    let eof = must(lab, "recv c")?;
    lab.verdict(eof.bytes.as_deref() == Some(&[][..]), "reading still works: recv() returns 0, d's FIN (EOF)");
    must(lab, "close c")?;
    Ok(())
}

fn timeout(lab: &mut Lab) -> Result<(), String> {
    lab.heading("EAGAIN after a receive timeout (SO_RCVTIMEO)");
    must(lab, "tcp connect srv as e")?;
    must(lab, "accept srv as f")?;
    lab.say(
        "Nobody sends to f. SO_RCVTIMEO bounds how long a blocking recv() waits; Python's\n\
         f.settimeout(0.1) does the same job, and raises socket.timeout (TimeoutError) instead.",
    );
    must(lab, "opt f rcvtimeo 100")?;
    let out = lab.run_shown("recv f");
    expect_errno(lab, &out, "EAGAIN", "after 100 ms of silence, recv() fails with");
    lab.say(
        "Not a broken connection: nothing arrived in time. Try again, or give up on the peer\n\
         when your own deadline has passed.",
    );
    Ok(())
}

fn would_block(lab: &mut Lab) -> Result<(), String> {
    lab.heading("EAGAIN on a non-blocking socket (O_NONBLOCK)");
    lab.say("A non-blocking socket never waits: with nothing to read, recv() returns at once.");
    must(lab, "opt f nonblock on")?;
    let out = lab.run_shown("recv f");
    expect_errno(lab, &out, "EAGAIN", "recv() on an empty non-blocking socket fails at once with");
    lab.say(
        "Same errno, different cause: EAGAIN (also named EWOULDBLOCK) means \"this call would have\n\
         blocked\". Wait for readiness with poll/select/epoll, then call again; calling recv()\n\
         in a tight loop just burns CPU.",
    );
    Ok(())
}
