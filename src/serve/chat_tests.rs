//! The chat handler driven without sockets: nicknames, splits, leaving,
//! and lines held while a member's mailbox is full.

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
    assert!(matches!(bob_says, Said::Told(1)), "{bob_says:?}");
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

#[test]
fn a_line_a_full_mailbox_cannot_take_is_held_and_nothing_more_is_read_until_it_goes() {
    let room = Arc::new(Room::default());
    let mut ann = joined(&room, "ann");
    let bob = joined(&room, "bob");
    let _ = mail(&ann);
    let bob_box = bob.mailbox().unwrap();
    assert!(bob_box.push(&vec![b'.'; crate::serve::mailbox::MAILBOX_SOFT]));
    let mut out = Vec::new();
    assert_eq!(ann.on_bytes(b"first\nsecond\nthird", &mut out), Flow::Continue);
    assert!(!ann.wants_input(), "ann is not read while her line waits");
    assert!(!ann.has_more(), "bob has not read yet");
    let until = ann.deadline().expect("the line waits at most until bob counts as not reading");
    assert!(until > Instant::now());
    // Bob reads: ann's line can go, and the one buffered behind it.
    assert_eq!(bob_box.take().len(), crate::serve::mailbox::MAILBOX_SOFT);
    assert!(ann.has_more());
    assert_eq!(ann.on_room(&mut out), Flow::Continue);
    assert!(ann.wants_input() && !ann.has_more() && ann.deadline().is_none());
    assert_eq!(mail(&bob), "ann: first\nann: second\n", "in order, none lost; 'third' has no newline yet");
    assert!(out.is_empty(), "nothing back to ann");
}
