//! The listen backlog (监听队列): how many finished connections may wait
//! for accept(), and what Linux does when that queue is full.
//!
//! Deterministic by construction: on loopback each connect() finishes its
//! handshake before it returns, and `wait srv queued N` waits until the
//! server's kernel has queued it, so the queue fills one by one; Linux drops
//! a SYN once the queue holds more than the backlog, so the next client
//! stays in SYN_SENT. The kernel would resend that SYN after 1 s; the demo
//! stays under that and gives up (the lesson waits for the retry).

use super::must;
use crate::lab::Lab;

const BACKLOG: u32 = 2;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    queue_fills(lab)?;
    somaxconn_caps(lab)
}

fn queue_fills(lab: &mut Lab) -> Result<(), String> {
    lab.heading(format!("(a) listen({BACKLOG}), and nobody calls accept()"));
    must(lab, &format!("tcp listen --backlog {BACKLOG} as srv"))?;
    lab.say("Clients connect. The server's kernel finishes each handshake on its own and queues the connection.");
    for i in 1..=BACKLOG + 1 {
        must(lab, &format!("tcp connect srv as c{i}"))?;
        // connect() returns before the server's kernel has necessarily
        // queued the connection; the next SYN must find it there.
        must(lab, &format!("wait srv queued {i}"))?;
    }
    let last = format!("c{}", BACKLOG + 1);
    let established = lab.run_shown(&format!("wait {last} state ESTABLISHED"));
    lab.verdict(established.is_ok(), format!("{last} is ESTABLISHED, though the server never called accept()"));
    must(lab, "sockets")?;
    let q = lab.accept_queue("srv").ok_or("srv has no accept queue")?;
    lab.verdict(
        q.queued == BACKLOG + 1 && q.backlog == BACKLOG,
        format!(
            "srv's accept queue holds {} connections with backlog {}: Linux lets backlog + 1 wait",
            q.queued, q.backlog
        ),
    );

    lab.heading("(b) one more client: refused, or stalled?");
    lab.say("The queue is full. Linux does not refuse the next client (no RST, no ECONNREFUSED): it drops its SYN.");
    let late = lab.run_shown("tcp connect srv --timeout 200 as late");
    lab.verdict(late.errno().is_none() && !late.is_ok(), "connect() was not refused: after 200 ms it is still waiting");
    let syn_sent = lab.run_shown("wait late state SYN_SENT");
    lab.verdict(syn_sent.is_ok(), "late is stuck in SYN_SENT: its SYN was dropped, no SYN-ACK came");
    lab.say(
        "Its kernel resends the SYN 1 s after the first, and keeps trying for about 2 minutes\n\
         (net.ipv4.tcp_syn_retries). One accept() makes room, and the next retry gets in. The demo\n\
         won't wait a second for that (the backlog lesson does): it closes late first, so no retry\n\
         refills the queue, then accepts one.",
    );
    must(lab, "close late")?;
    must(lab, "accept srv as conn1")?;
    let after = lab.accept_queue("srv").map_or(u32::MAX, |q| q.queued);
    lab.verdict(after == BACKLOG, format!("accept() took one: {after} left, so the queue has room again"));
    Ok(())
}

fn somaxconn_caps(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) net.core.somaxconn caps the backlog");
    let max = must(lab, "sysctl net.core.somaxconn")?;
    let somaxconn: u32 = max.value.as_deref().and_then(|v| v.parse().ok()).ok_or("somaxconn is not a number")?;
    lab.say("listen() with a bigger backlog than that does not fail. The kernel quietly uses the smaller number:");
    must(lab, "tcp listen --backlog 65535 as big")?;
    must(lab, "sockets")?;
    let backlog = lab.accept_queue("big").map_or(0, |q| q.backlog);
    lab.verdict(
        backlog == somaxconn.min(65535),
        format!("listen(65535) got a backlog of {backlog}: net.core.somaxconn is {somaxconn}"),
    );
    lab.say(
        "So a server that wants a long queue needs both: a big listen() backlog and a big enough\n\
         net.core.somaxconn (4096 since Linux 5.4, 128 before).",
    );
    Ok(())
}
