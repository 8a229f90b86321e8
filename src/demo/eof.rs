//! Loops and EOF: the communication loop (通信循环) that ends when recv()
//! returns 0, the connection loop (链接循环) that accepts the next client,
//! the busy loop you get when the 0 is ignored, and half-close (半关闭).
//!
//! Deterministic by construction: every recv in the loops is made after
//! the client has acted (sent, or closed), and netlab's recv waits for
//! readiness; the spinning loop is bounded by a call count, not a clock.

use super::must;
use crate::lab::Lab;
use crate::render::hexdump::quote_text;

const SPINS: usize = 1000;
const REPLY: &str = "report line 1\nreport line 2\nreport line 3\n";

pub fn run(lab: &mut Lab) -> Result<(), String> {
    two_loops(lab)?;
    ignored_eof(lab)?;
    half_close(lab)
}

fn two_loops(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) the connection loop around the communication loop");
    lab.say(
        "An iterative echo-upper server is two loops:\n\
         \x20 while True:                      # connection loop (链接循环)\n\
         \x20     conn, addr = srv.accept()\n\
         \x20     while True:                  # communication loop (通信循环)\n\
         \x20         data = conn.recv(1024)\n\
         \x20         if not data: break       # 0 bytes: the client closed\n\
         \x20         conn.send(data.upper())\n\
         \x20     conn.close()\n\
         Two clients connect at once; bob waits in the accept queue while alice is served.",
    );
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as alice")?;
    // Queued one at a time, so accept() takes alice first on every run.
    must(lab, "wait srv queued 1")?;
    must(lab, "tcp connect srv as bob")?;
    must(lab, "wait srv queued 2")?;
    let mut served = Vec::new();
    for (client, messages) in [("alice", &["hello", "how are you"][..]), ("bob", &["bye"][..])] {
        lab.say(format!("connection loop: accept() takes the next client off the queue — {client}"));
        must(lab, "accept srv as conn")?;
        let rounds = communication_loop(lab, client, messages)?;
        served.push((client, rounds));
        must(lab, "close conn")?;
    }
    let ok = served == [("alice", 2), ("bob", 1)];
    lab.verdict(ok, "each communication loop served every message, then ended on a 0-byte recv (EOF)");
    lab.verdict(ok, "the connection loop then accepted the next client: bob, who had waited in the accept queue");
    Ok(())
}

/// Serve one client: it sends each of `messages`, reading the reply, then
/// closes. Returns how many messages the server's loop answered.
fn communication_loop(lab: &mut Lab, client: &str, messages: &[&str]) -> Result<usize, String> {
    let mut pending = messages.iter();
    let mut answered = 0;
    loop {
        match pending.next() {
            Some(m) => must(lab, &format!("send {client} {}", quote_text(m.as_bytes())))?,
            None => {
                lab.say(format!("{client} is done and hangs up."));
                must(lab, &format!("close {client}"))?
            }
        };
        let data = must(lab, "recv conn")?.bytes.unwrap_or_default();
        if data.is_empty() {
            lab.say("recv returned 0 bytes: `if not data: break` — the communication loop ends.");
            return Ok(answered);
        }
        let upper = data.to_ascii_uppercase();
        must(lab, &format!("send conn {}", quote_text(&upper)))?;
        let reply = must(lab, &format!("recv {client}"))?.bytes.unwrap_or_default();
        if reply != upper {
            return Err(format!("{client} got {} instead of {}", quote_text(&reply), quote_text(&upper)));
        }
        answered += 1;
    }
}

fn ignored_eof(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) the loop that forgot `if not data: break`");
    lab.say(
        "Tutorials say that on Linux \"recv returns empty in an infinite loop when the client dies\".\n\
         Watch what really happens. carol sends her last words and closes (a client that dies is\n\
         the same: its kernel closes the socket and sends the FIN).",
    );
    must(lab, "tcp connect srv as carol")?;
    must(lab, "accept srv as conn")?;
    must(lab, "send carol \"last words\"")?;
    must(lab, "close carol")?;
    lab.say(format!("The server's loop has no EOF check. netlab stops it after {SPINS} calls:"));
    let spun = must(lab, &format!("recvloop conn --ignore-eof --max {SPINS}"))?;
    let calls: usize = spun.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
    let got = spun.bytes.unwrap_or_default();
    lab.verdict(
        calls == SPINS && got == b"last words",
        format!(
            "{calls} recv() calls: the first returned {}, the other {} returned 0 at once — the loop spins",
            quote_text(&got),
            calls.saturating_sub(1)
        ),
    );
    let again = must(lab, "recv conn")?;
    lab.verdict(
        again.bytes.as_deref() == Some(&[][..]),
        "one more recv(): still 0 bytes, at once — EOF is not an error and it never goes away",
    );
    lab.say(
        "So recv did exactly its job: 0 bytes means \"the peer closed\", on Linux, macOS and Windows\n\
         alike. The infinite loop was the program's. With the check, the loop ends on the first 0:",
    );
    let fixed = must(lab, "recvloop conn")?;
    lab.verdict(fixed.value.as_deref() == Some("1"), "the loop with `if not data: break` stops after one call");
    must(lab, "close conn")?;
    Ok(())
}

fn half_close(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) half-close (半关闭): shutdown(SHUT_WR), then read to EOF");
    lab.say(
        "dave sends a request and has nothing more to say, but still wants the whole reply.\n\
         shutdown(SHUT_WR) sends a FIN — the server reads EOF, so it KNOWS the request is complete —\n\
         while dave's receiving side stays open.",
    );
    must(lab, "tcp connect srv as dave")?;
    must(lab, "accept srv as conn")?;
    must(lab, "send dave \"GET report\"")?;
    must(lab, "shutdown dave write")?;
    let request = must(lab, "recvloop conn")?;
    lab.verdict(
        request.bytes.as_deref() == Some(b"GET report".as_slice()),
        "the server read the request to EOF: no length header or delimiter was needed for this one message",
    );
    let fin_wait = lab.run_shown("wait dave state FIN_WAIT_2");
    let close_wait = lab.run_shown("wait conn state CLOSE_WAIT");
    lab.verdict(
        fin_wait.is_ok() && close_wait.is_ok(),
        "half open: dave in FIN_WAIT_2, conn in CLOSE_WAIT — bytes can still flow from conn to dave",
    );
    must(lab, &format!("send conn {}", quote_text(REPLY.as_bytes())))?;
    must(lab, "close conn")?;
    lab.say("dave reads 16 bytes at a time until recv returns 0 — the reply is complete at EOF:");
    let reply = must(lab, "recvloop dave 16")?;
    let calls: usize = reply.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0);
    lab.verdict(
        reply.bytes.as_deref() == Some(REPLY.as_bytes()) && calls >= 4,
        format!(
            "after its own shutdown(SHUT_WR), dave still read all {} bytes of the reply in {} recv() calls, then EOF",
            REPLY.len(),
            calls.saturating_sub(1)
        ),
    );
    must(lab, "close dave")?;
    must(lab, "close srv")?;
    Ok(())
}
