//! chat: a chat room (聊天室) over TCP, one UTF-8 line per message.
//!
//! ```text
//! server → * welcome to netlab chat: send your nickname (one line), then chat; quit leaves
//! ann    → ann
//! server → * welcome, ann (nobody else here yet)
//!          … bob joins; ann gets:  * bob joined
//! ann    → hi bob
//!          bob gets:  ann: hi bob      (ann gets nothing back)
//! ann    → quit
//! server → * bye
//!          bob gets:  * ann left
//! ```
//!
//! The rules, all of them:
//! * Lines end in `\n` (`\r\n` is fine). A line longer than [`MAX_LINE`]
//!   bytes gets `* line too long…` and the connection is closed: past
//!   that point the server cannot tell where the next line starts.
//! * The first line is the nickname: trimmed, 1 to 24 characters, no
//!   spaces, control characters or `:`, and not already in the room. A
//!   refused nickname gets `* <why>; send another nickname` and the next
//!   line is tried as a nickname again.
//! * Every later line goes to every *other* member as `<nick>: text`.
//!   Empty lines are not sent; a line that is not UTF-8 is refused with a
//!   `*` line to its sender only.
//! * The others are told `* ann joined` and `* ann left`. A member leaves
//!   with `quit` (answered `* bye`), EOF, a reset, or anything else that
//!   ends the connection: leaving happens when the handler is dropped, so
//!   every driver's teardown announces it. Lines the others said before
//!   the `quit` or EOF arrived are still sent, ahead of `* bye`.
//! * A client that dies mid-line (bytes, then EOF or RST) disturbs no one:
//!   its unfinished line is dropped, never sent.
//! * Lines from the server itself start with `* `; a nickname cannot
//!   contain a space, so they never look like a member's line.

use std::sync::Arc;

use super::chat_room::{MemberId, Room, valid_nick};
use super::handler::{Ctx, Flow, Handler};
use super::mailbox::Mailbox;
use crate::event::CallResult;
use crate::proto::FrameError;
use crate::proto::line::Decoder;

/// Longest line accepted, newline excluded.
pub const MAX_LINE: usize = 4096;

/// What a client gets on connecting.
pub const GREETING: &str = "* welcome to netlab chat: send your nickname (one line), then chat; quit leaves\n";

pub struct Chat {
    room: Arc<Room>,
    ctx: Ctx,
    /// `None` if the eventfd could not be made (out of descriptors): then
    /// the greeting says why and closes the connection.
    mailbox: Option<Arc<Mailbox>>,
    lines: Decoder,
    member: Option<(MemberId, String)>,
}

impl Chat {
    pub fn new(room: Arc<Room>, ctx: Ctx) -> Self {
        let mailbox = match Mailbox::new() {
            Ok(m) => Some(Arc::new(m)),
            Err(e) => {
                ctx.note("eventfd", CallResult::Failed { why: format!("{e}: closing this client") });
                None
            }
        };
        Chat { room, ctx, mailbox, lines: Decoder::new(MAX_LINE), member: None }
    }

    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Flow {
        let Ok(text) = std::str::from_utf8(line) else {
            out.extend_from_slice(b"* that line is not UTF-8; it was not sent\n");
            return Flow::Continue;
        };
        if text.trim() == "quit" {
            self.flush_mail(out);
            out.extend_from_slice(b"* bye\n");
            self.leave("quit");
            return Flow::Close;
        }
        match &self.member {
            None => self.join(text, out),
            Some((id, nick)) => {
                if !text.is_empty() {
                    let told = self.room.say(*id, text);
                    let detail = format!("{nick}: {} bytes to {told} other member{}", text.len(), plural(told));
                    self.ctx.note("say", CallResult::ok(detail));
                }
            }
        }
        Flow::Continue
    }

    fn join(&mut self, text: &str, out: &mut Vec<u8>) {
        let (Some(mailbox), Ok(nick)) = (&self.mailbox, valid_nick(text)) else {
            if let Err(why) = valid_nick(text) {
                out.extend_from_slice(format!("* {why}; send another nickname\n").as_bytes());
            }
            return;
        };
        match self.room.join(nick, Arc::clone(mailbox), self.ctx.clone()) {
            Ok((id, others)) => {
                let here = if others.is_empty() {
                    "nobody else here yet".to_string()
                } else {
                    format!("here: {}", others.join(", "))
                };
                out.extend_from_slice(format!("* welcome, {nick} ({here})\n").as_bytes());
                self.ctx.note("join", CallResult::ok(format!("{nick}, {} in the room", others.len() + 1)));
                self.member = Some((id, nick.to_string()));
            }
            Err(why) => out.extend_from_slice(format!("* {why}; send another nickname\n").as_bytes()),
        }
    }

    /// Lines the others said before this connection ends go out with its
    /// last words: a driver that sees input and mail together serves the
    /// input first, and after a close there is no next turn for the mail.
    fn flush_mail(&self, out: &mut Vec<u8>) {
        if let Some(m) = &self.mailbox {
            out.extend_from_slice(&m.take());
        }
    }

    /// Leave the room (if in it), saying why in the log.
    fn leave(&mut self, how: &str) {
        if let Some((id, nick)) = self.member.take() {
            self.room.leave(id);
            self.ctx.note("leave", CallResult::ok(format!("{nick} ({how})")));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Handler for Chat {
    fn greet(&mut self, out: &mut Vec<u8>) -> Flow {
        match self.mailbox {
            Some(_) => {
                out.extend_from_slice(GREETING.as_bytes());
                Flow::Continue
            }
            None => {
                out.extend_from_slice(b"* the server is out of file descriptors; try again later\n");
                Flow::Close
            }
        }
    }

    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        if self.mailbox.is_none() {
            return Flow::Close;
        }
        self.lines.push(input);
        loop {
            match self.lines.next_frame() {
                Ok(None) => return Flow::Continue,
                Ok(Some(line)) => {
                    if self.on_line(&line, out) == Flow::Close {
                        return Flow::Close;
                    }
                }
                Err(e) => {
                    let why = match e {
                        FrameError::TooLarge { .. } => format!("more than {MAX_LINE} bytes without a newline"),
                        other => other.to_string(),
                    };
                    out.extend_from_slice(format!("* line too long: {why}; goodbye\n").as_bytes());
                    self.ctx.note("recv", CallResult::Failed { why: format!("{why}: closing this client") });
                    self.leave("line too long");
                    return Flow::Close;
                }
            }
        }
    }

    fn on_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        // Half-closed clients may still be reading.
        self.flush_mail(out);
        if self.lines.finish().is_err() {
            let why = format!("EOF after {} bytes of an unfinished line: dropped, not sent", self.lines.buffered());
            self.ctx.note("recv", CallResult::Failed { why });
        }
        self.leave("EOF");
        Flow::Close
    }

    fn mailbox(&self) -> Option<Arc<Mailbox>> {
        self.mailbox.clone()
    }
}

impl Drop for Chat {
    /// However the connection ended (EOF, reset, server shutdown, a driver
    /// error), the others hear that this member left.
    fn drop(&mut self) {
        self.leave("connection closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::handler::{feed_split, test_ctx};

    fn chat(room: &Arc<Room>) -> Chat {
        Chat::new(Arc::clone(room), test_ctx())
    }

    /// A client that has sent its nickname; its greeting and welcome are read.
    fn joined(room: &Arc<Room>, nick: &str) -> Chat {
        let mut c = chat(room);
        let mut out = Vec::new();
        assert_eq!(c.greet(&mut out), Flow::Continue);
        assert_eq!(c.on_bytes(format!("{nick}\n").as_bytes(), &mut out), Flow::Continue);
        assert!(String::from_utf8(out).unwrap().contains(&format!("* welcome, {nick} (")));
        c
    }

    fn mail(c: &Chat) -> String {
        String::from_utf8(c.mailbox().unwrap().take()).unwrap()
    }

    #[test]
    fn greets_then_welcomes_and_refuses_bad_or_taken_nicknames() {
        let room = Arc::new(Room::default());
        let _ann = joined(&room, "ann");
        let mut c = chat(&room);
        let out = feed_split(&mut c, b"\nann\nbad nick\nbob\n", &[3]);
        let want = format!(
            "{GREETING}* the nickname is empty; send another nickname\n\
             * that nickname is taken; send another nickname\n\
             * the nickname may not contain ' ' (no spaces, control characters or ':'); send another nickname\n\
             * welcome, bob (here: ann)\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn lines_reach_the_others_whatever_the_split_and_never_the_sender() {
        let stream = "héllo 中文\r\n\nsecond line\n".as_bytes();
        for cut in 0..=stream.len() {
            let room = Arc::new(Room::default());
            let mut ann = joined(&room, "ann");
            let bob = joined(&room, "bob");
            let _ = mail(&ann);
            let mut out = Vec::new();
            for part in [&stream[..cut], &stream[cut..]] {
                assert_eq!(ann.on_bytes(part, &mut out), Flow::Continue);
            }
            assert!(out.is_empty(), "cut {cut}: nothing back to the sender");
            assert_eq!(mail(&bob), "ann: héllo 中文\nann: second line\n", "cut {cut}");
            assert_eq!(mail(&ann), "");
        }
    }

    #[test]
    fn a_partial_line_then_eof_is_dropped_and_the_leave_announced() {
        let stream = b"first\nunfinished li";
        for cut in 0..=stream.len() {
            let room = Arc::new(Room::default());
            let mut ann = joined(&room, "ann");
            let bob = joined(&room, "bob");
            let mut out = Vec::new();
            ann.on_bytes(&stream[..cut], &mut out);
            ann.on_bytes(&stream[cut..], &mut out);
            assert_eq!(ann.on_eof(&mut out), Flow::Close);
            assert_eq!(mail(&bob), "ann: first\n* ann left\n", "cut {cut}");
            assert_eq!(room.nicks(), ["bob"]);
        }
    }

    #[test]
    fn dropping_the_handler_leaves_the_room() {
        let room = Arc::new(Room::default());
        let ann = joined(&room, "ann");
        let bob = joined(&room, "bob");
        let mut out = Vec::new();
        let mut ann = ann;
        ann.on_bytes(b"half a li", &mut out);
        drop(ann);
        assert_eq!(mail(&bob), "* ann left\n");
        assert_eq!(room.nicks(), ["bob"]);
    }

    #[test]
    fn quit_says_bye_and_leaves_once() {
        let room = Arc::new(Room::default());
        let mut ann = joined(&room, "ann");
        let bob = joined(&room, "bob");
        let mut out = Vec::new();
        let bob_says = bob.room.say(bob.member.as_ref().unwrap().0, "wait!");
        assert_eq!(bob_says, 1);
        assert_eq!(ann.on_bytes(b" quit \nnever sent\n", &mut out), Flow::Close);
        assert_eq!(out, b"* bob joined\nbob: wait!\n* bye\n", "what was said before the quit still goes out");
        drop(ann);
        assert_eq!(mail(&bob), "* ann left\n");
    }

    #[test]
    fn a_too_long_line_closes_only_its_sender() {
        let room = Arc::new(Room::default());
        let mut ann = joined(&room, "ann");
        let bob = joined(&room, "bob");
        let mut out = Vec::new();
        assert_eq!(ann.on_bytes(&vec![b'x'; MAX_LINE], &mut out), Flow::Continue);
        assert_eq!(ann.on_bytes(b"\n", &mut out), Flow::Continue, "exactly MAX_LINE bytes is fine");
        assert_eq!(ann.on_bytes(&vec![b'y'; MAX_LINE + 2], &mut out), Flow::Close);
        assert!(String::from_utf8(out).unwrap().starts_with("* line too long: more than 4096 bytes"));
        let got = mail(&bob);
        assert!(got.starts_with("ann: xxx") && got.ends_with("x\n* ann left\n"), "{got:.40}");
    }

    #[test]
    fn invalid_utf8_and_empty_lines_are_not_sent() {
        let room = Arc::new(Room::default());
        let mut ann = joined(&room, "ann");
        let bob = joined(&room, "bob");
        let mut out = Vec::new();
        ann.on_bytes(b"\xff\xfe\n\n\r\nok\n", &mut out);
        assert_eq!(out, b"* that line is not UTF-8; it was not sent\n");
        assert_eq!(mail(&bob), "ann: ok\n");
    }
}
