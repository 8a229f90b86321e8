//! Partial writes: send() queues what fits and says how much that was.
//!
//! Shown every run, by construction: the receiver's buffer is made small on
//! the listener (before the handshake fixes the window), the sender's too,
//! and the payload is far bigger than both — so one non-blocking send()
//! cannot take it all. The reader starts only once the sender is blocked,
//! so the full buffer (EAGAIN, bytes in SIOCOUTQ) is seen before it drains.

use super::must;
use crate::lab::Lab;

const SIZE: usize = 200_000;
const RCVBUF: usize = 4096;
/// Bigger than the receiver's window, so bytes must wait in SIOCOUTQ.
const SNDBUF: usize = 16384;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    lab.heading("a sender with small buffers, and a peer that does not read");
    must(lab, "tcp listen as srv")?;
    lab.say(format!(
        "SO_RCVBUF goes on the listener, before any client connects: accepted sockets copy it,\n\
         and the handshake fixes the window scale from it. {RCVBUF} bytes (Linux doubles it)."
    ));
    must(lab, &format!("opt srv rcvbuf {RCVBUF}"))?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    must(lab, &format!("opt cli sndbuf {SNDBUF}"))?;
    must(lab, "opt cli nonblock on")?;

    lab.heading("one send() of 200000 bytes");
    let first = must(lab, &format!("send cli count:{SIZE}"))?;
    let took = first.bytes.as_ref().map_or(0, Vec::len);
    lab.verdict(
        took > 0 && took < SIZE,
        format!("send() returned {took}, not {SIZE}: it queued what fit and reported how much"),
    );
    let (_, queued) = lab.queues("cli").unwrap_or_default();
    must(lab, "sockets")?;
    lab.verdict(queued > 0, format!("{queued} bytes wait in cli's send queue (SIOCOUTQ): not yet acknowledged — most not even sent, conn's window is full"));
    lab.say(format!(
        "Nothing was lost. The other {} bytes were simply not sent; they are still in the\n\
         program's own buffer, and sending them is the program's job. That is what \"send() may\n\
         lose data\" misreads: the return value says how much was queued.",
        SIZE - took
    ));

    lab.heading("a send-all loop, with a peer that starts reading once the sender blocks");
    lab.say(
        "A fresh connection with the same small buffers. sendall calls send() until every byte is\n\
         queued; each call is non-blocking (MSG_DONTWAIT), and on EAGAIN it waits for POLLOUT\n\
         (room in the buffer). --reader conn2 starts reading on the other end only once the\n\
         sender is blocked.",
    );
    must(lab, "tcp connect srv as cli2")?;
    must(lab, "accept srv as conn2")?;
    must(lab, &format!("opt cli2 sndbuf {SNDBUF}"))?;
    let (report, data) = lab.run_sendall(&format!("sendall cli2 count:{SIZE} --reader conn2"))?;
    let first_call = report.counts.first().copied().unwrap_or(0);
    lab.verdict(
        first_call < SIZE,
        format!("the first send() took {first_call} of {SIZE} bytes: a partial write, as before"),
    );
    lab.verdict(
        report.eagains > 0 && report.queued_when_blocked.is_some_and(|q| q > 0),
        format!(
            "then EAGAIN, with {} bytes waiting in SIOCOUTQ; the loop waited for POLLOUT",
            report.queued_when_blocked.unwrap_or(0)
        ),
    );
    lab.verdict(
        report.sent == SIZE,
        format!(
            "as conn2 read, room came back: {} send() calls (and {} EAGAINs) queued all {SIZE} bytes",
            report.counts.len(),
            report.eagains
        ),
    );
    lab.verdict(
        report.delivered_intact(&data),
        "conn2 received every byte, in order, identical to what was sent (numbered lines: a gap would show)",
    );
    lab.say(
        "A blocking send() does this loop inside the kernel: it sleeps until all is queued —\n\
         unless a signal or SO_SNDTIMEO interrupts it, and then it too returns a short count.\n\
         Python's sock.sendall() is the loop, in C. In C, write it yourself:\n\
         while (off < len) { n = send(fd, buf + off, len - off, MSG_NOSIGNAL);\n\
         if (n < 0 && errno == EAGAIN) { poll for POLLOUT; continue; } if (n < 0) fail; off += n; }",
    );
    Ok(())
}
