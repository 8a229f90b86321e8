//! The three-way handshake (三次握手), seen as kernel states.
//!
//! On loopback the whole handshake happens inside connect(), so SYN_SENT
//! is normally gone before anyone can look. The demo freezes it by
//! construction: a listener with backlog 1 holds two finished connections
//! (`wait … queued` makes sure the server's kernel has queued each), and
//! Linux then drops the next SYN, so that client stays in SYN_SENT.
//! Not backlog 0: before Linux 6.13 a backlog-0 listener counts every SYN
//! as a SYN flood, so whether even one client gets in depends on the kernel
//! and on net.ipv4.tcp_syncookies.
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
    lab.say("The server's kernel queues the connection when it has processed that ACK — wait for it:");
    must(lab, "wait srv queued 1")?;
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
        "To see SYN_SENT on loopback, the SYN must go unanswered. A listener with backlog 1 has\n\
         room for two finished connections (Linux lets backlog + 1 wait); while they wait, Linux\n\
         drops new SYNs. (Not backlog 0: whether that admits even one client depends on the kernel\n\
         version and net.ipv4.tcp_syncookies.)",
    );
    must(lab, "tcp listen --backlog 1 as full")?;
    must(lab, "tcp connect full as first")?;
    must(lab, "wait full queued 1")?;
    must(lab, "tcp connect full as second")?;
    must(lab, "wait full queued 2")?;
    lab.say("The queue is full. The next connect() sends its SYN, and nothing comes back:");
    let late = lab.run_shown("tcp connect full --timeout 100 as late");
    lab.verdict(!late.is_ok() && late.errno().is_none(), "connect() did not fail: it is still waiting for a SYN-ACK");
    let syn_sent = lab.run_shown("wait late state SYN_SENT");
    lab.verdict(syn_sent.is_ok(), "the kernel shows late in SYN_SENT: SYN sent, no SYN-ACK yet");
    lab.say(
        "Left alone, its kernel would resend the SYN 1 s later, and again, for about 2 minutes (the\n\
         backlog lesson waits for a retry). The demo gives up instead. These segments (SYN, SYN-ACK, ACK) are inferred\n\
         from the states; netlab does not capture packets yet.",
    );
    must(lab, "close late")?;
    Ok(())
}
