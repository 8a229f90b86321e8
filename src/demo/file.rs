//! File transfer: framed put/get with size + sha256 against the real
//! `netlab serve file`; the classic "sleep, then `##` at the end" protocol
//! on plain sockets, broken both ways; path traversal refused.
//!
//! Deterministic by construction: every reply is read with `recv --frame
//! json` (it waits for the whole frame); the classic protocol's reader
//! reads only after `wait … readable` saw every byte queued, which is
//! what a server busy for longer than the sender's sleep sees.

use std::time::Duration;

use serde_json::Value;

use super::must;
use crate::lab::Lab;
use crate::render::hexdump::quote_text;
use crate::serve::file::sha256_hex;

/// A file whose content contains the classic end marker.
const CONTENT: &str = "total: 3 ## of 4 tests passed\n";
/// The tutorial's `time.sleep(...)` between the name and the content.
const NAP: Duration = Duration::from_millis(50);

pub fn run(lab: &mut Lab) -> Result<(), String> {
    round_trip(lab)?;
    sentinel(lab)?;
    refused(lab)?;
    must(lab, "close srv")?;
    Ok(())
}

/// Send one request; read one framed reply: (header, body).
fn ask(lab: &mut Lab, request: &str) -> Result<(Value, Vec<u8>), String> {
    must(lab, &format!("sendframe cli {request}"))?;
    let reply = must(lab, "recv cli --frame json")?;
    let header = reply.value.as_deref().and_then(|v| serde_json::from_str(v).ok()).unwrap_or(Value::Null);
    Ok((header, reply.bytes.unwrap_or_default()))
}

fn round_trip(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) put and get, framed, with size and sha256");
    lab.say(
        "The reference file server: every message is [4-byte length][JSON header][body], the header\n\
         says how long the body is (data_size) and what it hashes to (sha256).",
    );
    must(lab, "serve file as srv")?;
    must(lab, "tcp connect srv as cli")?;
    let sha = sha256_hex(CONTENT.as_bytes());
    let content = CONTENT.escape_debug();
    let (h, _) = ask(lab, &format!("'{{\"cmd\":\"put\",\"name\":\"report.txt\"}}' \"{content}\" --sha256"))?;
    lab.verdict(
        h["status"] == "ok" && h["sha256"] == sha.as_str(),
        format!("put: the server read exactly {} bytes, hashed them, and stored report.txt", CONTENT.len()),
    );
    let (h, body) = ask(lab, "'{\"cmd\":\"get\",\"name\":\"report.txt\"}'")?;
    lab.verdict(
        h["status"] == "ok" && body == CONTENT.as_bytes() && sha256_hex(&body) == sha && h["sha256"] == sha.as_str(),
        format!("get: {} came back whole, \"##\" and all; its sha256 matches the header", quote_text(&body)),
    );
    Ok(())
}

fn sentinel(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) the classic protocol: send the name, sleep, send the content, send \"##\"");
    lab.say(
        "Many tutorials send a file as: the name; time.sleep(0.05) \"so they don't stick together\";\n\
         the content; then \"##\" to say \"end of file\". The server: name = recv(1024), then recv\n\
         and write until the data is \"##\". Plain sockets, the same content:",
    );
    must(lab, "tcp listen as plain")?;
    must(lab, "tcp connect plain as tcli")?;
    must(lab, "accept plain as tconn")?;
    must(lab, "opt tcli nodelay on")?;
    must(lab, "send tcli \"report.txt\"")?;
    lab.say(format!("The sender sleeps {} ms.", NAP.as_millis()));
    std::thread::sleep(NAP);
    must(lab, &format!("send tcli \"{}\"", CONTENT.escape_debug()))?;
    must(lab, "send tcli \"##\"")?;
    let total = "report.txt".len() + CONTENT.len() + 2;
    lab.say("The server was busy for longer than the sleep (a disk write, another client). Then:");
    must(lab, &format!("wait tconn readable {total}"))?;
    let got = must(lab, "recv tconn 1024")?.bytes.unwrap_or_default();
    lab.verdict(
        got.len() == total && got.starts_with(b"report.txt"),
        format!(
            "name = recv(1024) got all {} bytes: the \"name\" is {} — the sleep kept nothing apart",
            got.len(),
            quote_text(&got)
        ),
    );
    lab.verdict(
        got != b"##",
        "no recv() will ever be exactly \"##\": the end marker came glued to the content, so that server waits forever",
    );
    // The careful variant scans for the marker: it stops at the first one.
    let stored = got.strip_prefix(b"report.txt").unwrap_or(&got);
    let cut = stored.windows(2).position(|w| w == b"##").map_or(stored, |at| &stored[..at]);
    lab.verdict(
        cut.len() < CONTENT.len(),
        format!(
            "a reader that stops at the first \"##\" stores {} of {} bytes: {} — the file's own \"##\" ended it",
            cut.len(),
            CONTENT.len(),
            quote_text(cut)
        ),
    );
    lab.say(
        "A sentinel only works when it can never appear in the data, and a sleep is not a boundary.\n\
         A length in a header is both: the framed server in (a) got the same content whole.",
    );
    for sock in ["tcli", "tconn", "plain"] {
        must(lab, &format!("close {sock}"))?;
    }
    Ok(())
}

fn refused(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) names that leave the directory, and a digest that does not match");
    lab.say(
        "A tutorial server does open(os.path.join(ROOT, name)). With name = \"../../etc/passwd\" that\n\
         reads any file the server can; with \"/etc/passwd\", join drops ROOT altogether.",
    );
    let mut refused = Vec::new();
    for (cmd, name) in [("get", "../../etc/passwd"), ("get", "/etc/passwd"), ("put", "../owned.txt")] {
        let extra = if cmd == "put" { " \"x\" --sha256" } else { "" };
        let (h, body) = ask(lab, &format!("'{{\"cmd\":\"{cmd}\",\"name\":\"{name}\"}}'{extra}"))?;
        if h["status"] == "error" && body.is_empty() {
            refused.push(format!("{cmd} {name}"));
        }
    }
    lab.verdict(
        refused.len() == 3,
        format!("refused, nothing read or written: {} (a name is one path component)", refused.join(", ")),
    );
    lab.say("Now a put whose header claims another sha256 than its body has (a corrupted upload):");
    let zeros = "0".repeat(64);
    let (h, _) = ask(lab, &format!("'{{\"cmd\":\"put\",\"name\":\"bad.txt\",\"sha256\":\"{zeros}\"}}' \"hello\""))?;
    let (_, listing) = ask(lab, "'{\"cmd\":\"list\"}'")?;
    let listing: Value = serde_json::from_slice(&listing).unwrap_or(Value::Null);
    let names: Vec<&str> = listing.as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
    lab.verdict(
        h["status"] == "error" && names == ["report.txt"],
        format!("the mismatch was refused and nothing stored: list shows only {names:?}"),
    );
    Ok(())
}
