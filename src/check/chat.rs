//! chat: newline-delimited UTF-8; the first line is the nickname, every
//! later line goes to every *other* member as `nick: text`, joins and
//! leaves are announced, `quit` or EOF leaves. The tests need no
//! particular welcome or wording of announcements: they look for the
//! lines the protocol fixes, and name members in announcements.
//!
//! Negative checks ("the sender never gets its own line", "no fragment of
//! an unfinished line") are made exact by ordering, not by waiting: one
//! connection's bytes arrive in order, so once a later line has arrived,
//! an earlier one that was going to come would have come first.

use std::time::Duration;

use super::Test;
use super::chat_member::{Member, nicks, room, sync};
use super::conn::{End, Opts};
use super::report::Failure;
use super::stream::{self, CLIENTS, mib, reframe};

pub fn suite() -> Vec<Test> {
    vec![
        Test::new("broadcast", "a line reaches every other member as `nick: text`, and not its sender", |cx| {
            let n = nicks(&["ann", "bob", "cy"]);
            let mut m = room(cx, &n)?;
            m[0].say("hello, everyone")?;
            let since = m[0].heard.len();
            for other in m.iter_mut().skip(1) {
                other.hear(&n[0], "hello, everyone")?;
            }
            // bob's reply reaches ann after anything the server sent her
            // for her own line: her stream is in order.
            m[1].say("hi ann")?;
            m[0].hear(&n[1], "hi ann")?;
            let own = format!("{}: hello, everyone", n[0]);
            let back = m[0].heard[since..].iter().find(|l| **l == own || *l == "hello, everyone");
            if let Some(line) = back {
                return Err(Failure::new(
                    "your server sent the line back to its sender: broadcast to every member except the one it came from",
                )
                .fact(format!("{} got {line:?}", n[0])));
            }
            Ok("a line reached both other members as `nick: text`, and not its sender".into())
        }),
        Test::new("join-leave", "joins and leaves are announced to the others, naming the member", |cx| {
            // ann and bob are proven to be in the room before cy connects,
            // so cy's join comes after theirs whatever order the server
            // ran their first lines in (between ann and bob it could be
            // either way round).
            let n = nicks(&["ann", "bob", "cy", "dan"]);
            let mut m = room(cx, &n[..2])?;
            let ann = &mut m[0];
            // Each announcement is looked for after the one before it, so
            // a leave is never mistaken for the same member's join.
            let announced = |ann: &mut Member, from: usize, who: &str, what: &str| -> Result<usize, Failure> {
                ann.wait_from(from, |l| Member::announces(l, who)).map(|at| at + 1).map_err(|end| {
                    Failure::new(format!(
                        "your server did not announce that {who} {what}: tell the others (a line naming them)"
                    ))
                    .fact(format!(
                        "{} heard since: {}; then {}",
                        ann.nick,
                        ann.heard[from.min(ann.heard.len())..].join(" | "),
                        end.describe()
                    ))
                })
            };
            let from = ann.heard.len();
            let mut cy = Member::join(cx, &n[2])?;
            let from = announced(ann, from, &n[2], "joined")?;
            stream::send(&mut cy.conn, b"quit\n")?;
            let from = announced(ann, from, &n[2], "left (with quit)")?;
            let mut dan = Member::join(cx, &n[3])?;
            let from = announced(ann, from, &n[3], "joined")?;
            // A FIN, not close(): dan has unread lines, and closing over
            // them would send RST.
            dan.conn.shutdown_write();
            announced(ann, from, &n[3], "left (by closing the connection, no quit)")?;
            drop(dan);
            Ok("a join, a quit and a close were each announced to the others".into())
        }),
        Test::new("one-byte-writes", "a line sent one byte per send(), each recv()'d alone, arrives whole", |cx| {
            let n = nicks(&["ann", "bob"]);
            let mut m = room(cx, &n)?;
            let line = b"one byte at a time\n";
            for byte in line {
                stream::send(&mut m[1].conn, std::slice::from_ref(byte))?;
                m[1].conn.wait_taken(cx.timeout.min(Duration::from_millis(500)));
            }
            m[0].hear(&n[1], "one byte at a time").map_err(|f| {
                reframe(
                    f,
                    "your server assumed one recv() holds one line: a line can arrive in pieces — collect bytes \
                     until the newline, then send the line",
                )
            })?;
            Ok("a line in 19 pieces reached the others as one line".into())
        }),
        Test::new("coalesced", "three lines in one send() reach the others as three lines, in order", |cx| {
            let n = nicks(&["ann", "bob"]);
            let mut m = room(cx, &n)?;
            stream::send(&mut m[1].conn, b"line one\nline two\nline three\n")?;
            for text in ["line one", "line two", "line three"] {
                m[0].hear(&n[1], text).map_err(|f| {
                    reframe(
                        f,
                        "your server assumed one recv() = one line: three arrived in one recv() — split what you \
                         receive at every newline",
                    )
                })?;
            }
            Ok("three lines glued in one send() came out as three".into())
        }),
        Test::new("concurrent", "50 members in the room at once; one line reaches the other 49", |cx| {
            let names: Vec<String> = (0..CLIENTS).map(|i| format!("m{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let n = nicks(&refs);
            let mut m = room(cx, &n).map_err(|f| reframe(f, "your server cannot hold 50 members at once"))?;
            m[0].say("hi all 50")?;
            for other in m.iter_mut().skip(1) {
                other.hear(&n[0], "hi all 50")?;
            }
            Ok(format!("{CLIENTS} members; one line reached the other {}", CLIENTS - 1))
        }),
        Test::new("slow-reader", "a member that never reads does not stop the others' chat", |cx| {
            let n = nicks(&["ann", "bob", "slow"]);
            let mut m = room(cx, &n[..2])?;
            let mut slow = Member::join_with(cx, &n[2], Opts { rcvbuf: Some(64 * 1024) })?;
            sync(cx, &mut m[0], &mut slow)?;
            // More than any send buffer can hold for the slow member.
            let line = "x".repeat(1000);
            let (lines, batch) = (8192, 64);
            for k in (0..lines).step_by(batch) {
                let chunk: String = (k..k + batch).map(|i| format!("{i} {line}\n")).collect();
                if let Err((_, end)) = m[1].conn.send(chunk.as_bytes()) {
                    return Err(stuck(k, &end));
                }
                let last = format!("{} {line}", k + batch - 1);
                m[0].hear(&n[1], &last).map_err(|f| reframe(f, stuck_sentence(k + batch)))?;
            }
            slow.conn.reset();
            Ok(format!("{} of lines went by while one member read none", mib(lines * 1006)))
        }),
        Test::new("quit", "`quit` leaves: the server closes the connection", |cx| {
            let n = nicks(&["ann"]);
            let mut ann = Member::join(cx, &n[0])?;
            ann.say("quit")?;
            match ann.wait_for(|_| false) {
                Err(End::Eof | End::Reset) => Ok("quit closed the connection".into()),
                _ => Err(Failure::new("your server did not close the connection after `quit`")),
            }
        }),
        Test::new(
            "mid-line-vanish",
            "members that vanish mid-line (FIN, RST): no fragment is sent, the room goes on",
            |cx| {
                let n = nicks(&["ann", "bob", "cy", "dan"]);
                let mut m = room(cx, &n[..3])?;
                // ann reads up to bob's "mark", so what she hears from here
                // on is what came after it: bob's leave, if announced, and
                // before it, in the same stream, any fragment of his.
                m[1].say("mark")?;
                m[0].hear(&n[1], "mark")?;
                let mark = format!("{}: mark", n[1]);
                let from = m[0].heard.iter().rposition(|l| *l == mark).map_or(0, |at| at + 1);
                let cy = m.pop().ok_or_else(|| Failure::new("no member"))?;
                let mut bob = m.pop().ok_or_else(|| Failure::new("no member"))?;
                stream::send(&mut bob.conn, b"half a li")?;
                // FIN: bob has unread lines, so close() would be a second RST.
                bob.conn.shutdown_write();
                let mut cy_conn = cy.conn;
                stream::send(&mut cy_conn, b"half of anoth")?;
                // The RST goes once the server has read cy's fragment: an
                // RST that came first would throw the fragment away unread,
                // and a server that relays it would pass by luck.
                cy_conn.wait_taken(cx.timeout);
                cy_conn.reset();
                // A server that does not announce leaves is join-leave's
                // failure: one wait for it is enough.
                for who in [&n[1], &n[2]] {
                    if m[0].wait_from(from, |l| Member::announces(l, who)).is_err() {
                        break;
                    }
                }
                let mut dan = Member::join(cx, &n[3])?;
                dan.say("is anyone here")?;
                m[0].hear(&n[3], "is anyone here")
                    .map_err(|f| reframe(f, "your server stopped relaying after members vanished mid-line"))?;
                if let Some(line) = m[0].heard_any(|l| l.contains("half a li") || l.contains("half of anoth")) {
                    return Err(Failure::new(
                        "your server sent an unfinished line: a member that vanishes mid-line never finished it — drop \
                     the fragment",
                    )
                    .fact(format!("{} got {line:?}", n[0])));
                }
                Ok("two members vanished mid-line; no fragment was sent, and the room went on".into())
            },
        ),
        Test::new("invalid-utf8", "a line that is not UTF-8 does not break the server or the room", |cx| {
            let n = nicks(&["ann", "bob", "cy"]);
            let mut m = room(cx, &n)?;
            let _ = m[1].conn.send(b"\xff\xfe not utf-8\n");
            m[0].say("still working?")?;
            m[2].hear(&n[0], "still working?").map_err(|f| {
                reframe(
                    f,
                    "your server stopped relaying after a line that is not UTF-8: decode with errors handled, or \
                     refuse that line only",
                )
            })?;
            Ok("after an invalid UTF-8 line the room still worked".into())
        }),
    ]
}

fn stuck_sentence(sent: usize) -> String {
    format!(
        "your server stops the room while one member is slow: after {sent} lines, a blocking send() to the member \
         that does not read held up everyone — give each member its own queue (and drop or cut off one that never \
         reads)"
    )
}

fn stuck(k: usize, end: &End) -> Failure {
    Failure::new(stuck_sentence(k)).fact(format!("bob's send stalled: {}", end.describe()))
}
