//! Sticky packets (粘包): TCP delivers a byte stream, not messages.
//!
//! Shown every run, by construction: (a) the reader waits until both sends
//! are queued (FIONREAD), so its one recv() must return both; (b) the
//! receive buffer is smaller than the send, so one send() cannot arrive in
//! one recv(); (c) a length-prefix decoder recovers the messages however
//! the bytes were split.

use super::must;
use crate::lab::Lab;
use crate::proto::length_prefix::{self, Decoder};
use crate::render::hexdump::quote_text;

const BIG: usize = 1 << 20;
const RCVBUF: usize = 64 * 1024;

pub fn run(lab: &mut Lab) -> Result<(), String> {
    two_sends_one_recv(lab)?;
    one_send_many_recvs(lab)?;
    the_fix(lab)
}

fn two_sends_one_recv(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(a) two send() calls, one recv()");
    must(lab, "tcp listen as srv")?;
    must(lab, "tcp connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    lab.say("TCP_NODELAY turns Nagle's algorithm off, so each small send() usually leaves at once as its own\nsegment (Linux's tcp_autocorking may still join some).");
    must(lab, "opt cli nodelay on")?;
    must(lab, "send cli \"hello\"")?;
    must(lab, "send cli \"world\"")?;
    lab.say("The reader is a little late — as real readers are. It waits until 10 bytes are queued:");
    must(lab, "wait conn readable 10")?;
    let got = must(lab, "recv conn 1024")?;
    let ok = got.bytes.as_deref() == Some(b"helloworld".as_slice());
    lab.verdict(
        ok,
        format!(
            "two send() calls came out of ONE recv() as {} — with Nagle off; a byte stream keeps no boundaries",
            got.bytes.as_deref().map_or("nothing".into(), quote_text)
        ),
    );
    Ok(())
}

fn one_send_many_recvs(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(b) one send() call, several recv()s");
    lab.say(format!(
        "The receiver's buffer is set to {} KiB (Linux doubles it to {} KiB) before the connection\n\
         exists. It can never hold a whole MiB, so however big the recv() buffer, the data must\n\
         arrive in pieces.",
        RCVBUF / 1024,
        RCVBUF * 2 / 1024
    ));
    must(lab, "tcp listen as big")?;
    must(lab, &format!("opt big rcvbuf {RCVBUF}"))?;
    must(lab, "tcp connect big as sender")?;
    must(lab, "accept big as reader")?;
    lab.say("One send() of 1 MiB from a second thread; recv(1048576) in a loop here:");
    let sizes = lab.send_while_reading("sender", "reader", &vec![b'x'; BIG], BIG)?;
    let total: usize = sizes.iter().sum();
    let shown: Vec<String> = sizes.iter().map(usize::to_string).collect();
    lab.say(format!("recv() sizes: {}", shown.join(" + ")));
    lab.verdict(
        sizes.len() >= 2 && total == BIG,
        format!("one send() of {BIG} bytes arrived in {} recv() calls, {total} bytes in all", sizes.len()),
    );
    Ok(())
}

fn the_fix(lab: &mut Lab) -> Result<(), String> {
    lab.heading("(c) the fix: a u32 length prefix (network byte order)");
    lab.say("Each message goes out as [4-byte big-endian length][body]. The reader never guesses:\nit reads 4 bytes, then exactly that many.");
    let messages: [&[u8]; 3] = [b"hello", b"world", b"a longer third message"];
    let mut stream_len = 0;
    for m in messages {
        stream_len += 4 + m.len();
        must(lab, &format!("send cli u32be:{} {}", m.len(), quote_text(m)))?;
    }
    must(lab, &format!("wait conn readable {stream_len}"))?;
    let got = must(lab, "recv conn 1024")?;
    let bytes = got.bytes.unwrap_or_default();
    lab.verdict(
        bytes.len() == stream_len,
        format!("three messages stuck together again: one recv() returned all {} bytes", bytes.len()),
    );
    let whole = decode(lab, &bytes, bytes.len().max(1))?;
    lab.verdict(whole == messages, "the decoder splits them back into the three original messages");
    let dribbled = decode(lab, &bytes, 1)?;
    lab.verdict(dribbled == messages, "fed one byte at a time (the worst split), it gives the same three messages");
    Ok(())
}

/// Feed `bytes` to a fresh decoder `chunk` bytes at a time.
fn decode(lab: &mut Lab, bytes: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, String> {
    let mut decoder = Decoder::new(length_prefix::DEFAULT_MAX_FRAME);
    let mut frames = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.push(piece);
        while let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            frames.push(frame);
        }
    }
    decoder.finish().map_err(|e| e.to_string())?;
    let shown: Vec<String> = frames.iter().map(|f| quote_text(f)).collect();
    lab.say(format!("decoder (chunks of {chunk}) → {}", shown.join(", ")));
    Ok(frames)
}
