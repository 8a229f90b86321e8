//! The three-way handshake (三次握手), seen as kernel states.
//!
//! On loopback the whole handshake happens inside connect(), so SYN_SENT
//! is normally gone before anyone can look. The demo freezes it by
//! construction: a listener with backlog 0 holds one finished connection,
//! and Linux then drops the next SYN, so that client stays in SYN_SENT.
//! No packets are captured: the segments named here are inferred from the
//! states the kernel reports.

use super::must;
use crate::lab::Lab;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    before_accept(lab)?;
    frozen_mid_handshake(lab)
}

fn before_accept(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) the kernel does the handshake; accept() comes after");
    must(lab, "tcp listen as srv")?;
    let listening = lab.run_shown("wait srv state LISTEN");
    lab.verdict(listening.is_ok(), "after listen(), the kernel shows srv in LISTEN");
    lab.say(
        "connect() sends a SYN; the listener's kernel answers SYN-ACK; the client's kernel sends the\n\
         final ACK. Nobody has called accept() yet.",
    );
    must(lab, "tcp connect srv as cli")?;
    let established = lab.run_shown("wait cli state ESTABLISHED");
    lab.verdict(established.is_ok(), "the client is ESTABLISHED before the server called accept()");
    must(lab, "sockets")?;
    let queued = lab.accept_queue("srv").map_or(0, |q| q.queued);
    lab.verdict(
        queued == 1,
        format!("srv's accept queue holds {queued} finished connection, waiting for accept() to take it"),
    );
    lab.say("accept() does no networking: it takes the finished connection off that queue.");
    must(lab, "accept srv as conn")?;
    let server_side = lab.run_shown("wait conn state ESTABLISHED");
    lab.verdict(server_side.is_ok(), "the accepted socket conn is ESTABLISHED too");
    let after = lab.accept_queue("srv").map_or(u32::MAX, |q| q.queued);
    lab.verdict(after == 0, "and srv's accept queue is empty again");
    Ok(())
}

fn frozen_mid_handshake(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) a handshake caught half-way: SYN_SENT");
    lab.say(
        "To see SYN_SENT on loopback, the SYN must go unanswered. A listener with backlog 0 has\n\
         room for one finished connection; while that one waits, Linux drops new SYNs.",
    );
    must(lab, "tcp listen --backlog 0 as full")?;
    must(lab, "tcp connect full as first")?;
    lab.say("The queue is full. The next connect() sends its SYN, and nothing comes back:");
    let second = lab.run_shown("tcp connect full --timeout 100 as second");
    lab.verdict(
        !second.is_ok() && second.errno().is_none(),
        "connect() did not fail: it is still waiting for a SYN-ACK",
    );
    let syn_sent = lab.run_shown("wait second state SYN_SENT");
    lab.verdict(syn_sent.is_ok(), "the kernel shows second in SYN_SENT: SYN sent, no SYN-ACK yet");
    lab.say(
        "Left alone, its kernel would resend the SYN 1 s later, and again, for about 2 minutes (the\n\
         backlog lesson waits for a retry). The demo gives up instead. These segments (SYN, SYN-ACK, ACK) are inferred\n\
         from the states; netlab does not capture packets yet.",
    );
    must(lab, "close second")?;
    Ok(())
}
