//! A remote-command server done safely: `netlab serve cmd`, a real child
//! process, driven by a client on loopback.
//!
//! Deterministic by construction: (a)–(b) are request/reply exchanges
//! that wait for each framed reply; (c)'s reply is 1,000,039 bytes read
//! with recv(65536), so it takes at least 16 recv() calls whatever the
//! timing; (d) uses the iterative model, so the second client's two
//! writes sit in its socket's receive queue — acknowledged, SEND-Q 0 —
//! until the server is done with the first client, and one recv() gets
//! both. The server's log lines are events, so the verdicts read them.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::must;
use crate::lab::{Lab, Outcome};
use crate::proto::json_header::{self, Decoder};
use crate::render::hexdump::quote_text;
use crate::serve::cmd_builtins;

const BIG: usize = 1_000_000;
const RECV: usize = 65536;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    must(lab, "serve cmd --model iterative as srv")?;
    must(lab, "tcp connect srv as cli")?;
    builtins(lab)?;
    no_shell(lab)?;
    big_output(lab)?;
    idle_rule(lab)?;
    must(lab, "close srv")?;
    Ok(())
}

/// `recv SOCK --frame json`, and the reply's status and output.
fn framed_reply(lab: &mut Lab, sock: &str) -> Result<(String, Vec<u8>), String> {
    let got: Outcome = must(lab, &format!("recv {sock} --frame json"))?;
    let header: Value = serde_json::from_str(got.value.as_deref().unwrap_or("{}")).unwrap_or_default();
    let status = header.get("status").and_then(Value::as_str).unwrap_or("?").to_string();
    Ok((status, got.bytes.unwrap_or_default()))
}

fn builtins(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) one command line in, one framed reply out");
    lab.say(
        "A request is a line of text. The reply is framed: [4-byte length][JSON header][output],\n\
         the header saying {\"status\": \"ok\", \"data_size\": N}, so the client knows where the output ends.",
    );
    must(lab, "send cli \"echo hello, netlab\\n\"")?;
    let (status, out) = framed_reply(lab, "cli")?;
    lab.verdict(
        status == "ok" && out == b"hello, netlab\n",
        format!("echo ran as a built-in: {status}, {}", quote_text(&out)),
    );
    must(lab, "send cli \"date\\n\"")?;
    let (status, out) = framed_reply(lab, "cli")?;
    lab.verdict(status == "ok" && out.ends_with(b"\n"), "date is the server's own code too — no /bin/date was started");
    Ok(())
}

fn no_shell(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) an allowlist, and no shell");
    lab.say(
        "The classic tutorial server runs subprocess.Popen(request, shell=True): the request goes to\n\
         /bin/sh, so anyone who can connect runs any program. This one has a fixed list of built-ins.",
    );
    must(lab, "send cli \"cat /etc/passwd\\n\"")?;
    let (status, out) = framed_reply(lab, "cli")?;
    let text = String::from_utf8_lossy(&out);
    lab.verdict(
        status == "error" && text.contains("unknown command 'cat'"),
        "cat is not on the list: an error reply, nothing run",
    );
    must(lab, "send cli \"ls; rm -rf /\\n\"")?;
    let (status, out) = framed_reply(lab, "cli")?;
    let text = String::from_utf8_lossy(&out);
    lab.verdict(
        status == "error" && text.contains("no shell is involved"),
        "`;` means nothing without a shell: an error reply",
    );
    let logged = must(lab, "wait srv log \"would have run via /bin/sh\"")?;
    lab.verdict(logged.is_ok(), "the server's log shows what a shell=True server would have run: ls, then rm -rf /");
    let procs = must(lab, "procs srv")?;
    let detail = match &procs.result {
        Some(crate::event::CallResult::Ok { detail }) => detail.clone(),
        _ => String::new(),
    };
    lab.verdict(detail.contains(" 0 child process"), "and the server has no child process: it never started a program");
    Ok(())
}

fn big_output(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) a big output arrives in many recv()s; the header's data_size reassembles it");
    must(lab, &format!("send cli \"big {BIG}\\n\""))?;
    must(lab, &format!("wait srv log \"big {BIG}\""))?;
    lab.say(format!(
        "The client reads with recv({RECV}) until it has the whole frame (the recv() calls are not shown):"
    ));
    let mut decoder = Decoder::new(json_header::LengthOrder::BigEndian);
    let mut sizes = Vec::new();
    let frame = loop {
        let got = lab.muted(|lab| lab.run_line(&format!("recv cli {RECV}")));
        let bytes = got.bytes.unwrap_or_default();
        if !got.result.as_ref().is_some_and(|r| r.is_ok()) || bytes.is_empty() {
            return Err("the reply stopped before its end".into());
        }
        sizes.push(bytes.len());
        decoder.push(&bytes);
        if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            break frame;
        }
    };
    let total: usize = sizes.iter().sum();
    let shown: Vec<String> = sizes.iter().map(usize::to_string).collect();
    lab.say(format!("recv() sizes: {}", shown.join(" + ")));
    lab.verdict(
        sizes.len() >= 2,
        format!("one reply of {total} bytes took {} recv() calls: TCP keeps no boundaries, big or small", sizes.len()),
    );
    lab.verdict(
        frame.body == cmd_builtins::big(BIG) && frame.header.get("data_size") == Some(&Value::from(BIG)),
        format!("the decoder read the header (data_size {BIG}), then exactly that many bytes: the output is whole"),
    );
    Ok(())
}

fn idle_rule(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(d) the classic \"no newline, wait 100 ms\" rule glues two commands");
    lab.say(
        "Classic clients send a bare command (no newline) and the server waits for 100 ms of silence.\n\
         The iterative server is still busy with cli, so late's two commands wait in the kernel:",
    );
    must(lab, "tcp connect srv as late")?;
    must(lab, "send late \"date\"")?;
    must(lab, "send late \"ls\"")?;
    wait_acked(lab, "late")?;
    must(lab, "close cli")?;
    let (status, out) = framed_reply(lab, "late")?;
    let text = String::from_utf8_lossy(&out);
    lab.verdict(
        status == "error" && text.contains("'datels'"),
        "both were queued when the server read: ONE request, \"datels\" — a pause is not a boundary",
    );
    lab.say("A newline is a boundary the bytes carry, whatever the timing:");
    must(lab, "send late \"date\\nls\\n\"")?;
    let (first, _) = framed_reply(lab, "late")?;
    let (second, out) = framed_reply(lab, "late")?;
    lab.verdict(
        first == "ok" && second == "ok" && out.starts_with(cmd_builtins::SANDBOX[0].as_bytes()),
        "two lines in one send(): two requests, two replies",
    );
    Ok(())
}

/// Wait until the peer's kernel has acknowledged everything `sock` sent
/// (SEND-Q 0): the bytes are in the server's receive queue.
fn wait_acked(lab: &mut Lab, sock: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while lab.queues(sock).is_none_or(|(_, unsent)| unsent > 0) {
        if Instant::now() > deadline {
            return Err(format!("{sock}'s bytes were never acknowledged"));
        }
        std::thread::yield_now();
    }
    lab.say(format!("{sock}: SEND-Q 0 — the server's kernel has both writes, though no program has read them"));
    Ok(())
}
