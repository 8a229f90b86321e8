//! The four-way close (四次挥手), one kernel state at a time.
//!
//! On loopback FIN_WAIT_1 and LAST_ACK last microseconds: the FIN is sent
//! and ACKed inside close(). The demo makes them last by construction: a
//! FIN is queued behind data, so it cannot leave while the peer's receive
//! window is zero (a receiver with a tiny buffer that is not reading). No
//! packets are captured: the FINs and ACKs named here are inferred from the
//! states the kernel reports.

use super::must;
use crate::lab::{Lab, Outcome, cancel};

/// Small enough that a few KiB fill the receiver's window and the sender's
/// queue (Linux doubles both values).
const RCVBUF: usize = 2048;
const SNDBUF: usize = 4096;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    client_closes_first(lab)?;
    fin_wait_1(lab)?;
    last_ack(lab)
}

/// `wait SOCK state STATE`, with a verdict saying what it means.
fn saw(lab: &mut Lab, sock: &str, state: &str, meaning: &str) -> bool {
    let waited = lab.run_shown(&format!("wait {sock} state {state}"));
    lab.verdict(waited.is_ok(), format!("{sock} is in {state}: {meaning}"))
}

fn client_closes_first(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) the client closes first");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    lab.say("cli calls close(): its kernel sends a FIN, and conn's kernel ACKs it at once.");
    must(lab, "close cli")?;
    saw(lab, "cli", "FIN_WAIT_2", "its FIN was ACKed; it waits for conn's FIN");
    saw(lab, "conn", "CLOSE_WAIT", "the peer closed; conn's program has not");
    let eof = must(lab, "recv conn")?;
    lab.verdict(eof.bytes.as_deref() == Some(&[][..]), "conn reads 0 bytes: EOF, the peer's FIN");
    must(lab, "sockets")?;
    lab.say(
        "This is where a server that forgets close() stays: CLOSE_WAIT, with no timeout, one per\n\
         client, until it runs out of file descriptors. (cli, owned by no program now, is dropped by\n\
         its kernel after tcp_fin_timeout, 60 s, if conn's FIN never comes.) Now conn closes:",
    );
    must(lab, "close conn")?;
    saw(lab, "cli", "TIME_WAIT", "the side that closed FIRST keeps the connection for 60 s");
    let conn_gone = gone(lab, "conn");
    lab.verdict(conn_gone, "conn, the side that closed second, is gone from the kernel's table");
    Ok(())
}

/// Whether the kernel has forgotten the connection (LAST_ACK ended); its
/// ACK is normally back before close() returns, so this rarely waits.
fn gone(lab: &Lab, sock: &str) -> bool {
    cancel::wait_until(crate::lab::DEFAULT_TIMEOUT, || lab.kernel_entry(sock).is_none().then_some(())).is_ok()
}

fn small_buffers(lab: &mut Lab, srv: &str, cli: &str, conn: &str) -> Result<(), String> {
    must(lab, &format!("tcp listen as {srv}"))?;
    must(lab, &format!("opt {srv} rcvbuf {RCVBUF}"))?;
    must(lab, &format!("tcp connect {srv} as {cli}"))?;
    must(lab, &format!("accept {srv} as {conn}"))?;
    must(lab, &format!("opt {cli} sndbuf {SNDBUF}"))?;
    Ok(())
}

/// Send more than `conn` has room for: `send` gives up after 10 ms with a
/// partial count, the rest of the kernel's queue stuck behind a zero window.
fn fill(lab: &mut Lab, from: &str) -> Result<usize, String> {
    let sent = must(lab, &format!("send {from} repeat:65536:\"x\" --timeout 10"))?;
    Ok(sent.bytes.map_or(0, |b| b.len()))
}

/// recv until EOF; returns the bytes read. Bounded by the data sent.
fn drain(lab: &mut Lab, sock: &str, expected: usize) -> Result<usize, String> {
    let mut total = 0;
    for _ in 0..=expected {
        let got: Outcome = must(lab, &format!("recv {sock} 65536"))?;
        match got.bytes.map_or(0, |b| b.len()) {
            0 => return Ok(total),
            n => total += n,
        }
    }
    Err(format!("{sock} read more than was sent"))
}

fn fin_wait_1(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) FIN_WAIT_1 in slow motion: a FIN stuck behind data");
    lab.say(format!(
        "conn2's receive buffer is tiny ({RCVBUF} bytes asked) and conn2 does not read. cli2 sends more than\n\
         fits, then closes. Its FIN joins the queue BEHIND the unsent bytes."
    ));
    small_buffers(lab, "srv2", "cli2", "conn2")?;
    let sent = fill(lab, "cli2")?;
    must(lab, "close cli2")?;
    saw(lab, "cli2", "FIN_WAIT_1", "it closed, and its FIN is not even sent yet: bytes are queued before it");
    must(lab, "sockets")?;
    lab.say("conn2 reads. Every byte arrives — close() lost nothing — and then the FIN: EOF.");
    let read = drain(lab, "conn2", sent)?;
    lab.verdict(read == sent, format!("conn2 read all {read} bytes cli2 had queued, then EOF"));
    saw(lab, "cli2", "FIN_WAIT_2", "its FIN went out after the data and was ACKed");
    saw(lab, "conn2", "CLOSE_WAIT", "conn2 has read the FIN but not closed");
    must(lab, "close conn2")?;
    Ok(())
}

fn last_ack(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) LAST_ACK in slow motion, and the server closing first");
    lab.say("This time the server's side, conn3, finishes first with shutdown(SHUT_WR): a FIN, but it can still read.");
    small_buffers(lab, "srv3", "cli3", "conn3")?;
    must(lab, "shutdown conn3 write")?;
    saw(lab, "conn3", "FIN_WAIT_2", "conn3 sent its FIN (first!) and it was ACKed");
    saw(lab, "cli3", "CLOSE_WAIT", "cli3 got the FIN; it may still send");
    lab.say("cli3 sends its last words, more than conn3 has room for, and closes.");
    let sent = fill(lab, "cli3")?;
    must(lab, "close cli3")?;
    saw(lab, "cli3", "LAST_ACK", "the second FIN is queued behind data; cli3 waits for it to be ACKed");
    let read = drain(lab, "conn3", sent)?;
    lab.verdict(read == sent, format!("conn3 read all {read} bytes, then EOF"));
    saw(lab, "conn3", "TIME_WAIT", "the server's side closed first, so the SERVER gets TIME_WAIT");
    let cli_gone = gone(lab, "cli3");
    lab.verdict(cli_gone, "cli3 got the last ACK and is gone");
    lab.say(
        "TIME_WAIT is not a server thing or a client thing: it lands on whichever side sent the\n\
         first FIN (主动关闭方). The other side goes CLOSE_WAIT → LAST_ACK → gone.",
    );
    must(lab, "close conn3")?;
    Ok(())
}
