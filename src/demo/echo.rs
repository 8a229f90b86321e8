//! The first program of every socket tutorial — an echo-upper server and
//! its client — with each system call and its result on the timeline.

use super::must;
use crate::lab::Lab;
use crate::render::hexdump::quote_text;

const REQUEST: &[u8] = b"hello, server";

pub fn run(lab: &mut Lab) -> Result<(), String> {
    lab.heading("the server: socket, bind, listen");
    lab.say("Three calls make a server: socket() gets a file descriptor, bind() claims an address\n(port 0: let the kernel pick), listen() makes it accept connections.");
    must(lab, "tcp listen as srv")?;

    lab.heading("the client: socket, connect — then the server's accept");
    lab.say("connect() returns once the three-way handshake (三次握手) is done. The kernel does that\nalone and queues the connection; accept() just takes it off the queue.");
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;

    lab.heading("one request, one reply");
    must(lab, &format!("send cli {}", quote_text(REQUEST)))?;
    must(lab, &format!("wait conn readable {}", REQUEST.len()))?;
    let request = must(lab, "recv conn 1024")?.bytes.unwrap_or_default();
    let reply = request.to_ascii_uppercase();
    lab.say("The server's work: upper-case what it got, and send it back on the same connection.");
    must(lab, &format!("send conn {}", quote_text(&reply)))?;
    must(lab, &format!("wait cli readable {}", reply.len()))?;
    let answer = must(lab, "recv cli 1024")?.bytes.unwrap_or_default();
    lab.verdict(
        answer == REQUEST.to_ascii_uppercase(),
        format!("the client sent {} and got {} back", quote_text(REQUEST), quote_text(&answer)),
    );

    lab.heading("hanging up");
    must(lab, "close cli")?;
    let eof = must(lab, "recv conn")?;
    lab.verdict(
        eof.bytes.as_deref() == Some(&[][..]),
        "after the client's close(), the server's recv() returns 0 bytes: that is how a server learns a client is done",
    );
    must(lab, "close conn")?;
    must(lab, "close srv")?;
    Ok(())
}
