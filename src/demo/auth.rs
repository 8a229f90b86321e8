//! Challenge–response with HMAC, against the real `netlab serve auth`.
//!
//! Deterministic by construction: each step waits for the server's own log
//! line (`auth ok`, `auth failed: wrong MAC`) before it looks at the
//! connection, so a refused client's recv() always finds the server's
//! close, never a race with it. (a) the right key is accepted and the
//! connection echoes; (b) an eavesdropper's replay of that very answer is
//! refused, because the new connection got a new challenge; (c) a wrong key
//! is refused.

use super::must;
use crate::lab::{Lab, Outcome};

const KEY: &str = "k3y";

pub fn run(lab: &mut Lab) -> Result<(), String> {
    lab.say(format!(
        "A real `netlab serve auth` child process with the shared key \"{KEY}\". Every client first gets 32\n\
         random bytes, and must answer HMAC-SHA256(key, those bytes) before anything else."
    ));
    must(lab, &format!("serve auth --key {KEY} as srv"))?;
    let answer = right_key(lab)?;
    replay(lab, &answer)?;
    wrong_key(lab)?;
    must(lab, "close srv")?;
    Ok(())
}

/// (a) The key holder: returns the MAC it sent, which an eavesdropper saw.
fn right_key(lab: &mut Lab) -> Result<String, String> {
    lab.heading("(a) the right key");
    must(lab, "tcp connect srv as alice")?;
    let sent = must(lab, &format!("hmac alice {KEY}"))?;
    let logged = must(lab, "wait srv log \"conn#1 auth ok\"")?;
    must(lab, "send alice \"hello\"")?;
    let echoed = must(lab, "recv alice")?;
    lab.verdict(
        logged.is_ok() && echoed.bytes.as_deref() == Some(b"hello".as_slice()),
        "HMAC(key, challenge) was accepted: the server logged auth ok and the connection echoes \"hello\"",
    );
    sent.value.ok_or_else(|| "hmac did not report the MAC it sent".to_string())
}

/// (b) An eavesdropper resends alice's answer on a connection of its own.
fn replay(lab: &mut Lab, captured: &str) -> Result<(), String> {
    lab.heading("(b) a replayed answer");
    lab.say(
        "Eve recorded alice's 32-byte answer on the wire. She has no key, so she sends that recording\n\
         to a new connection of her own:",
    );
    must(lab, "tcp connect srv as eve")?;
    let sent = must(lab, "hmac eve --replay")?;
    lab.verdict(sent.value.as_deref() == Some(captured), "eve sent exactly the bytes alice's accepted answer was");
    let logged = must(lab, "wait srv log \"conn#2 auth failed: wrong MAC\"")?;
    let got = must(lab, "recv eve")?;
    lab.verdict(
        logged.is_ok() && is_eof(&got),
        "refused: the server gave eve's connection a NEW challenge, so yesterday's answer is wrong — it closed (recv → 0 bytes)",
    );
    Ok(())
}

/// (c) A client that does not know the key.
fn wrong_key(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) a wrong key");
    must(lab, "tcp connect srv as mallory")?;
    must(lab, "hmac mallory guess")?;
    let logged = must(lab, "wait srv log \"conn#3 auth failed: wrong MAC\"")?;
    let got = must(lab, "recv mallory")?;
    lab.verdict(
        logged.is_ok() && is_eof(&got),
        "a MAC made with the wrong key is refused: auth failed: wrong MAC, and the server closed (recv → 0 bytes)",
    );
    Ok(())
}

fn is_eof(got: &Outcome) -> bool {
    got.is_ok() && got.bytes.as_deref().is_some_and(<[u8]>::is_empty)
}
