//! The chat room: the one piece of state every connection of a chat server
//! shares. That is why chat needs threads or an event loop and cannot run
//! in the fork model: a forked child gets a *copy* of the room, and a line
//! said in one child would never reach the members held by another.
//!
//! Members never write to each other's sockets. Saying a line leaves bytes
//! in every other member's [`Mailbox`]; each member's own driver (its
//! thread, or the event loop) wakes on the mailbox and sends them.
//!
//! A member who reads slower than another talks gets every line all the
//! same: while its mailbox is full, the talker's line waits ([`Said::Wait`])
//! and its connection stops being read — TCP then slows the talker — until
//! the mailbox is taken. A member that never reads blocks no one for long:
//! once its mailbox has been full for [`PATIENCE`](super::mailbox::PATIENCE), nobody waits for it,
//! lines that do not fit are dropped for it alone (noted once in the log,
//! and counted to the member when it reads again), and the others carry on.
//!
//! Every change happens under one lock, and a line goes to every other
//! member or, while one of them makes it wait, to none: every member sees
//! joins, lines and leaves in the same order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use super::handler::Ctx;
use super::mailbox::{Admit, Mailbox};
use crate::event::CallResult;

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 24;

/// Why a nickname was refused; the text goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NickError {
    Empty,
    TooLong,
    /// A control character, a space, or `:` (which would make `nick: text` ambiguous).
    BadChar(char),
    Taken,
}

impl std::fmt::Display for NickError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NickError::Empty => write!(f, "the nickname is empty"),
            NickError::TooLong => write!(f, "the nickname is longer than {MAX_NICK} characters"),
            NickError::BadChar(c) => {
                write!(f, "the nickname may not contain {c:?} (no spaces, control characters or ':')")
            }
            NickError::Taken => write!(f, "that nickname is taken"),
        }
    }
}

/// The nickname a first line asks for, trimmed, or why it cannot be one.
/// Uniqueness is the room's to check.
pub fn valid_nick(line: &str) -> Result<&str, NickError> {
    let nick = line.trim();
    if nick.is_empty() {
        return Err(NickError::Empty);
    }
    if nick.chars().count() > MAX_NICK {
        return Err(NickError::TooLong);
    }
    match nick.chars().find(|&c| c.is_control() || c.is_whitespace() || c == ':') {
        Some(c) => Err(NickError::BadChar(c)),
        None => Ok(nick),
    }
}

struct Member {
    id: u64,
    nick: String,
    mailbox: Arc<Mailbox>,
    ctx: Ctx,
    /// Lines dropped since its mailbox last took one.
    dropped: usize,
}

impl Member {
    /// Leave `bytes` for this member; a full mailbox drops them.
    fn deliver(&mut self, bytes: &[u8]) {
        if self.dropped > 0 {
            let note = format!("* {} lines for you were dropped: you were not reading\n", self.dropped);
            if !self.mailbox.push(note.as_bytes()) {
                self.dropped += 1;
                return;
            }
            self.ctx
                .note("mailbox", CallResult::ok(format!("{} reads again; {} lines dropped", self.nick, self.dropped)));
            self.dropped = 0;
        }
        if !self.mailbox.push(bytes) {
            if self.dropped == 0 {
                let why = format!("{} is not reading and its mailbox is full: dropping lines for it", self.nick);
                self.ctx.note("mailbox", CallResult::Failed { why });
            }
            self.dropped += 1;
        }
    }
}

/// Who is in the room.
#[derive(Default)]
pub struct Room {
    members: Mutex<Vec<Member>>,
    next_id: AtomicU64,
}

/// A member's ticket: what [`Room::say`] and [`Room::leave`] take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberId(u64);

/// What became of a line.
#[derive(Debug)]
pub enum Said {
    /// Left for this many other members.
    Told(usize),
    /// Not left for anyone yet: `nick`'s mailbox is full. Say it again
    /// once `room` has space for `len` bytes (the sender's mailbox is woken
    /// when it is taken, or when it goes), or at `until` at the latest.
    Wait { nick: String, room: Weak<Mailbox>, len: usize, until: Instant },
}
impl Room {
    fn lock(&self) -> MutexGuard<'_, Vec<Member>> {
        // A thread that panicked while holding the lock left a usable list.
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Join as `nick` (already [`valid_nick`]): the others get `* nick joined`.
    /// Returns the member's id and the nicknames already here.
    pub fn join(&self, nick: &str, mailbox: Arc<Mailbox>, ctx: Ctx) -> Result<(MemberId, Vec<String>), NickError> {
        let mut members = self.lock();
        if members.iter().any(|m| m.nick == nick) {
            return Err(NickError::Taken);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let others: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
        let line = format!("* {nick} joined\n");
        for m in members.iter_mut() {
            m.deliver(line.as_bytes());
        }
        members.push(Member { id, nick: nick.to_string(), mailbox, ctx, dropped: 0 });
        Ok((MemberId(id), others))
    }

    /// `text` from member `id` to every other member as `nick: text`.
    pub fn say(&self, id: MemberId, text: &str) -> Said {
        self.say_at(id, text, Instant::now())
    }

    /// [`Room::say`], with the clock read by the caller (tests pass a later one).
    pub fn say_at(&self, id: MemberId, text: &str, now: Instant) -> Said {
        let mut members = self.lock();
        let Some((nick, sender)) = members.iter().find(|m| m.id == id.0).map(|m| (m.nick.clone(), m.mailbox.clone()))
        else {
            return Said::Told(0);
        };
        let line = format!("{nick}: {text}\n");
        for m in members.iter().filter(|m| m.id != id.0) {
            if let Admit::Wait { until } = m.mailbox.admit(line.len(), now, &sender) {
                let room = Arc::downgrade(&m.mailbox);
                return Said::Wait { nick: m.nick.clone(), room, len: line.len(), until };
            }
        }
        let mut told = 0;
        for m in members.iter_mut().filter(|m| m.id != id.0) {
            m.deliver(line.as_bytes());
            told += 1;
        }
        Said::Told(told)
    }

    /// Member `id` leaves: the others get `* nick left`. Leaving twice is harmless.
    pub fn leave(&self, id: MemberId) {
        let mut members = self.lock();
        let Some(i) = members.iter().position(|m| m.id == id.0) else { return };
        let gone = members.remove(i);
        let line = format!("* {} left\n", gone.nick);
        for m in members.iter_mut() {
            m.deliver(line.as_bytes());
        }
    }

    /// Nicknames present, in joining order.
    pub fn nicks(&self) -> Vec<String> {
        self.lock().iter().map(|m| m.nick.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::handler::test_ctx;
    use crate::serve::mailbox::{MAILBOX_CAP, MAILBOX_SOFT, PATIENCE};

    fn member(room: &Room, nick: &str) -> (MemberId, Arc<Mailbox>) {
        let mailbox = Arc::new(Mailbox::new().unwrap());
        let (id, _) = room.join(nick, Arc::clone(&mailbox), test_ctx()).unwrap();
        (id, mailbox)
    }

    fn text(m: &Mailbox) -> String {
        String::from_utf8(m.take()).unwrap()
    }

    fn told(said: Said) -> usize {
        match said {
            Said::Told(n) => n,
            other => panic!("the line waits: {other:?}"),
        }
    }

    #[test]
    fn nicknames_are_trimmed_capped_and_plain() {
        assert_eq!(valid_nick("  ann \r"), Ok("ann"));
        assert_eq!(valid_nick("小明"), Ok("小明"));
        assert_eq!(valid_nick(" \t"), Err(NickError::Empty));
        assert_eq!(valid_nick(&"x".repeat(MAX_NICK)), Ok("x".repeat(MAX_NICK).as_str()));
        assert_eq!(valid_nick(&"x".repeat(MAX_NICK + 1)), Err(NickError::TooLong));
        assert_eq!(valid_nick("a b"), Err(NickError::BadChar(' ')));
        assert_eq!(valid_nick("a:b"), Err(NickError::BadChar(':')));
        assert_eq!(valid_nick("a\x1bb"), Err(NickError::BadChar('\x1b')));
    }

    #[test]
    fn a_line_goes_to_every_other_member_not_back_to_its_sender() {
        let room = Room::default();
        let (ann, ann_box) = member(&room, "ann");
        let (_, bob_box) = member(&room, "bob");
        let (_, cy_box) = member(&room, "cy");
        assert_eq!(text(&ann_box), "* bob joined\n* cy joined\n");
        assert_eq!(text(&bob_box), "* cy joined\n");
        assert_eq!(told(room.say(ann, "hi all")), 2);
        assert_eq!(text(&ann_box), "");
        assert_eq!(text(&bob_box), "ann: hi all\n");
        assert_eq!(text(&cy_box), "ann: hi all\n");
    }

    #[test]
    fn duplicates_are_refused_and_a_nick_is_free_again_after_leaving() {
        let room = Room::default();
        let (ann, _) = member(&room, "ann");
        let other = Arc::new(Mailbox::new().unwrap());
        assert_eq!(room.join("ann", Arc::clone(&other), test_ctx()).unwrap_err(), NickError::Taken);
        room.leave(ann);
        room.leave(ann);
        let (_, here) = room.join("ann", other, test_ctx()).unwrap();
        assert!(here.is_empty());
        assert_eq!(room.nicks(), ["ann"]);
    }

    #[test]
    fn leaving_is_announced_to_the_others() {
        let room = Room::default();
        let (ann, _) = member(&room, "ann");
        let (_, bob_box) = member(&room, "bob");
        room.leave(ann);
        assert_eq!(text(&bob_box), "* ann left\n");
        assert_eq!(told(room.say(ann, "ghost")), 0);
    }

    #[test]
    fn a_member_that_never_reads_holds_lines_up_once_then_loses_them_and_stalls_no_one() {
        let room = Room::default();
        let (ann, _) = member(&room, "ann");
        let (_, bob_box) = member(&room, "bob");
        let (_, cy_box) = member(&room, "cy");
        let _ = (text(&bob_box), text(&cy_box));
        assert!(bob_box.push(&vec![b'.'; MAILBOX_CAP - 10]));
        let later = Instant::now() + PATIENCE;
        // Bob may only be slow: the line waits, for everyone alike.
        let said = room.say(ann, "line 0 is long enough");
        assert!(matches!(&said, Said::Wait { nick, .. } if nick == "bob"), "{said:?}");
        assert_eq!(text(&cy_box), "", "a line goes to all or, while it waits, to none");
        // Bob has taken nothing for PATIENCE: he is not reading; nobody waits for him.
        for i in 0..3 {
            assert_eq!(told(room.say_at(ann, &format!("line {i} is long enough"), later)), 2);
        }
        assert_eq!(text(&cy_box).lines().count(), 3, "cy got every line");
        assert_eq!(bob_box.take().len(), MAILBOX_CAP - 10, "bob's lines were dropped");
        room.say(ann, "back?");
        assert_eq!(text(&bob_box), "* 3 lines for you were dropped: you were not reading\nann: back?\n");
    }

    #[test]
    fn a_member_who_reads_late_gets_every_line_and_the_talker_is_woken_to_go_on() {
        let room = Room::default();
        let (ann, ann_box) = member(&room, "ann");
        let (_, bob_box) = member(&room, "bob");
        let _ = text(&ann_box);
        let line = "x".repeat(1000);
        let mut sent = 0;
        let room_for_bob = loop {
            match room.say(ann, &line) {
                Said::Told(1) => sent += 1,
                Said::Wait { nick, room, len, .. } => {
                    assert_eq!(nick, "bob");
                    break (room, len);
                }
                other => panic!("{other:?}"),
            }
        };
        assert!(sent * 1000 <= MAILBOX_SOFT, "held up at the soft cap, after {sent} lines");
        let (room_ref, len) = room_for_bob;
        let bob_mailbox = room_ref.upgrade().expect("bob is still here");
        assert!(!bob_mailbox.has_room(len));
        // Bob reads: ann's mailbox wakes her driver, and her line now goes.
        assert_eq!(bob_box.take().len(), sent * "ann: ".len() + sent * 1001);
        let mut fds = [nix::poll::PollFd::new(ann_box.fd(), nix::poll::PollFlags::POLLIN)];
        assert_eq!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap(), 1, "ann's driver is woken");
        assert!(ann_box.take().is_empty(), "a wake-up, not mail");
        assert!(bob_mailbox.has_room(len));
        assert_eq!(told(room.say(ann, &line)), 1);
        assert_eq!(text(&bob_box).len(), "ann: ".len() + 1001, "nothing was dropped");
    }
}
