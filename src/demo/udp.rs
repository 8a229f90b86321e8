//! UDP keeps message boundaries: each sendto() is one datagram, received
//! whole by one recvfrom() — or cut short by a small buffer, never merged.

use super::must;
use crate::lab::Lab;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    lab.heading("three datagrams (数据报), three recvfrom()s");
    must(lab, "udp bind as a")?;
    must(lab, "udp bind as b")?;
    let sent = ["one", "two", "three"];
    for word in sent {
        must(lab, &format!("sendto a b \"{word}\""))?;
    }
    lab.say("All three are now queued at b. Each recvfrom(1024) has room for all of them:");
    let mut got = Vec::new();
    for _ in sent {
        got.push(must(lab, "recvfrom b 1024")?.bytes.unwrap_or_default());
    }
    let same = got.iter().zip(sent).all(|(g, s)| g.as_slice() == s.as_bytes());
    lab.verdict(same && got.len() == 3, "three sendto() → three recvfrom(), each exactly one message, never merged");

    lab.heading("a buffer too small for the datagram");
    must(lab, "sendto a b \"hello world\"")?;
    let short = must(lab, "recvfrom b 4")?;
    lab.verdict(
        short.bytes.as_deref() == Some(b"hell".as_slice()) && short.real_len == Some(11),
        "recvfrom(4) got \"hell\"; MSG_TRUNC reports the datagram was 11 bytes",
    );
    must(lab, "sendto a b \"next\"")?;
    let next = must(lab, "recvfrom b 1024")?;
    lab.verdict(
        next.bytes.as_deref() == Some(b"next".as_slice()),
        "the other 7 bytes are gone: the next recvfrom() returns the next datagram, \"next\"",
    );

    lab.heading("an empty datagram");
    must(lab, "sendto a b \"\"")?;
    let empty = must(lab, "recvfrom b 1024")?;
    lab.verdict(
        empty.is_ok() && empty.bytes.as_deref() == Some(&[][..]),
        "a 0-byte datagram arrives as a 0-byte message — on UDP that is not EOF (there is no connection to end)",
    );
    Ok(())
}
