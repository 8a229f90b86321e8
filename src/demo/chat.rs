//! A chat room (聊天室): join, broadcast (广播), leave, and clients that
//! vanish mid-line — against the real `netlab serve chat`.
//!
//! Shown every run, by construction: every client has a receive thread
//! (`follow`), and each step waits until the thread *heard* what the
//! server sent (`wait … heard`) before the next one, so the order every
//! member sees is fixed. `wait … heard` returns everything heard since the
//! previous wait, so "nothing else arrived in between" is checked too.

use super::must;
use crate::lab::Lab;
use crate::render::hexdump::quote_text;

/// Everything `sock`'s receive thread heard up to and including `text`.
fn heard(lab: &mut Lab, sock: &str, text: &str) -> Result<String, String> {
    let got = must(lab, &format!("wait {sock} heard {}", quote_text(text.as_bytes())))?;
    Ok(String::from_utf8_lossy(got.bytes.as_deref().unwrap_or_default()).into_owned())
}

pub fn run(lab: &mut Lab) -> Result<(), String> {
    join(lab)?;
    broadcast(lab)?;
    vanish(lab)?;
    leave(lab)
}

fn join(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) joining: the first line is the nickname");
    lab.say("One chat server, its own process, one thread per connection. Three clients connect, and each\ngets a receive thread — the one every chat client needs: a program blocked in input() is\nnot in recv(), so without it nothing the others say would show until the user pressed Enter.");
    must(lab, "serve chat --model thread as srv")?;
    for nick in ["ann", "bob", "cy"] {
        must(lab, &format!("tcp connect srv as {nick}"))?;
        must(lab, &format!("follow {nick}"))?;
    }
    let mut ok = true;
    let welcomes = ["nobody else here yet", "here: ann", "here: ann, bob"];
    for (i, nick) in ["ann", "bob", "cy"].into_iter().enumerate() {
        must(lab, &format!("send {nick} \"{nick}\\n\""))?;
        let got = heard(lab, nick, &format!("* welcome, {nick} ({})\n", welcomes[i]))?;
        ok &= got.starts_with("* welcome to netlab chat");
        for earlier in ["ann", "bob", "cy"].into_iter().take(i) {
            ok &= heard(lab, earlier, &format!("* {nick} joined\n"))? == format!("* {nick} joined\n");
        }
    }
    lab.verdict(
        ok,
        "a greeting, a welcome naming who is here, and each later join told to the earlier members, in order",
    );
    Ok(())
}

fn broadcast(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) one line, every other member");
    lab.say("ann sends one line. The server writes it to bob and cy as \"ann: …\" — and not back to ann.");
    must(lab, "send ann \"hi all\\n\"")?;
    let bob = heard(lab, "bob", "ann: hi all\n")?;
    let cy = heard(lab, "cy", "ann: hi all\n")?;
    lab.verdict(bob == "ann: hi all\n" && cy == "ann: hi all\n", "bob and cy each got \"ann: hi all\"");
    must(lab, "send cy \"hello ann\\n\"")?;
    let ann = heard(lab, "ann", "cy: hello ann\n")?;
    heard(lab, "bob", "cy: hello ann\n")?;
    lab.verdict(
        ann == "cy: hello ann\n",
        format!("ann's next line is cy's answer, not her own line back: she heard {}", quote_text(ann.as_bytes())),
    );
    Ok(())
}

fn vanish(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) clients that vanish mid-line");
    lab.say("dan joins, types half a line, and his program stops sending (shutdown: a FIN). The server\nhas \"half a li\" buffered with no newline — a line that will never be finished.");
    must(lab, "tcp connect srv as dan")?;
    must(lab, "follow dan")?;
    must(lab, "send dan \"dan\\n\"")?;
    heard(lab, "dan", "* welcome, dan (")?;
    heard(lab, "ann", "* dan joined\n")?;
    must(lab, "send dan \"half a li\"")?;
    must(lab, "shutdown dan write")?;
    must(lab, "wait srv log \"unfinished line\"")?;
    let ann = heard(lab, "ann", "* dan left\n")?;
    lab.verdict(ann == "* dan left\n", "the others got \"* dan left\" and not a byte of the unfinished line");
    lab.say("eve joins, types half a line, and her machine resets the connection (SO_LINGER 0, then\nclose: an RST instead of a FIN). The server's recv() fails with ECONNRESET.");
    must(lab, "tcp connect srv as eve")?;
    must(lab, "follow eve")?;
    must(lab, "send eve \"eve\\n\"")?;
    heard(lab, "eve", "* welcome, eve (")?;
    heard(lab, "ann", "* eve joined\n")?;
    must(lab, "send eve \"typing when the cable\"")?;
    must(lab, "opt eve linger 0")?;
    must(lab, "close eve")?;
    let ann = heard(lab, "ann", "* eve left\n")?;
    let bob = heard(lab, "bob", "* eve left\n")?;
    lab.verdict(
        ann == "* eve left\n" && bob == "* dan joined\n* dan left\n* eve joined\n* eve left\n",
        "ann and bob got \"* eve left\" and not a byte of the partial line",
    );
    must(lab, "send bob \"still here\\n\"")?;
    let ann = heard(lab, "ann", "bob: still here\n")?;
    lab.verdict(ann == "bob: still here\n", "the room carries on: ann hears bob as before");
    Ok(())
}

fn leave(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(d) leaving with quit");
    must(lab, "send cy \"quit\\n\"")?;
    heard(lab, "cy", "* bye\n")?;
    let ann = heard(lab, "ann", "* cy left\n")?;
    let bob = heard(lab, "bob", "* cy left\n")?;
    lab.verdict(ann == "* cy left\n" && bob == "* cy left\n", "quit: cy got \"* bye\", the others \"* cy left\"");
    lab.say("bob and ann quit too, so the room is empty before the server stops.");
    must(lab, "send bob \"quit\\n\"")?;
    heard(lab, "bob", "* bye\n")?;
    heard(lab, "ann", "* bob left\n")?;
    must(lab, "send ann \"quit\\n\"")?;
    heard(lab, "ann", "* bye\n")?;
    lab.say("Every join, line and leave went through one room that all the connections share. That is\nwhy a chat server needs threads or an event loop: a forked child has its own copy of the\nroom, and a line said in one child would never reach the members held by another.");
    must(lab, "close srv")?;
    Ok(())
}
