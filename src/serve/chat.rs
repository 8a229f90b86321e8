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
//!   `*` line to its sender only. A member who reads gets every line, even
//!   from a member who talks faster than it reads: the talker is then read
//!   more slowly (see [`super::chat_room`]); only a member who does not
//!   read at all loses lines.
//! * The others are told `* ann joined` and `* ann left`. A member leaves
//!   with `quit` (answered `* bye`), EOF, a reset, or anything else that
//!   ends the connection: leaving happens when the handler is dropped, so
//!   every driver's teardown announces it. Lines the others said before
//!   the `quit` or EOF arrived are still sent, ahead of `* bye`.
//! * A client that dies mid-line (bytes, then EOF or RST) disturbs no one:
//!   its unfinished line is dropped, never sent.
//! * Lines from the server itself start with `* `; a nickname cannot
//!   contain a space, so they never look like a member's line.

use std::sync::{Arc, Weak};
use std::time::Instant;

use super::chat_room::{MemberId, Room, Said, valid_nick};
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
    /// A line the room could not take yet, a member's mailbox being full:
    /// nothing more is read from this client until it goes.
    held: Option<Held>,
}

/// A held line, and what it waits for (see [`Said::Wait`]).
struct Held {
    text: String,
    room: Weak<Mailbox>,
    len: usize,
    until: Instant,
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
        Chat { room, ctx, mailbox, lines: Decoder::new(MAX_LINE), member: None, held: None }
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
            Some(_) if text.is_empty() => {}
            Some(_) => self.say(text.to_string()),
        }
        Flow::Continue
    }

    /// Say `text` to the room, or hold it while a member's mailbox is full.
    fn say(&mut self, text: String) {
        let Some((id, nick)) = &self.member else { return };
        match self.room.say(*id, &text) {
            Said::Told(told) => {
                let detail = format!("{nick}: {} bytes to {told} other member{}", text.len(), plural(told));
                self.ctx.note("say", CallResult::ok(detail));
            }
            Said::Wait { nick: slow, room, len, until } => {
                let detail =
                    format!("{nick} waits for {slow} to read: its mailbox is full; {nick} is not read meanwhile");
                self.ctx.note("mailbox", CallResult::ok(detail));
                self.held = Some(Held { text, room, len, until });
            }
        }
    }

    /// The held line, if the room takes it now, then the lines buffered
    /// behind it, until one is held again or more input is needed.
    fn process(&mut self, out: &mut Vec<u8>) -> Flow {
        if let Some(held) = self.held.take() {
            self.say(held.text);
        }
        while self.held.is_none() {
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
        self.process(out)
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

    /// Not while a line is held: the client's bytes wait in the kernel,
    /// whose flow control slows it down.
    fn wants_input(&self) -> bool {
        self.held.is_none()
    }

    /// The held line can go: the full mailbox was taken (its owner's
    /// driver woke ours through our mailbox), or its member left.
    fn has_more(&self) -> bool {
        self.held.as_ref().is_some_and(|h| h.room.upgrade().is_none_or(|m| m.has_room(h.len)))
    }

    fn on_room(&mut self, out: &mut Vec<u8>) -> Flow {
        self.process(out)
    }

    /// At the held line's `until`, the slow member counts as not reading
    /// and the line goes to the others.
    fn deadline(&self) -> Option<Instant> {
        self.held.as_ref().map(|h| h.until)
    }

    fn on_deadline(&mut self, out: &mut Vec<u8>) -> Flow {
        self.process(out)
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
#[path = "chat_tests.rs"]
mod tests;
