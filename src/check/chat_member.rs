//! A chat member for the chat suite: one connection, the lines it has
//! received (a line reader over whatever recv() cut), and waits for a
//! line that matches. Servers differ in what else they send — a welcome,
//! announcements worded their own way — so members skip lines they do
//! not look for, and keep every line for the negative checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::conn::{Conn, End, Opts};
use super::report::Failure;
use super::{Cx, stream};

pub struct Member {
    pub conn: Conn,
    pub nick: String,
    /// Every complete line received, without its line ending.
    pub heard: Vec<String>,
    partial: Vec<u8>,
}

impl Member {
    /// Connect and send the nickname line.
    pub fn join(cx: &Cx, nick: &str) -> Result<Member, Failure> {
        Member::join_with(cx, nick, Opts::default())
    }

    pub fn join_with(cx: &Cx, nick: &str, opts: Opts) -> Result<Member, Failure> {
        let mut conn = cx.connect_with(opts)?;
        stream::send(&mut conn, format!("{nick}\n").as_bytes())?;
        Ok(Member { conn, nick: nick.to_string(), heard: Vec::new(), partial: Vec::new() })
    }

    pub fn say(&mut self, text: &str) -> Result<(), Failure> {
        stream::send(&mut self.conn, format!("{text}\n").as_bytes())
    }

    /// Read until a line satisfies `wanted`; every line read is kept.
    /// `Err` says how the wait ended.
    pub fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> Result<String, End> {
        let at = self.wait_from(0, wanted)?;
        Ok(self.heard[at].clone())
    }

    /// Like `wait_for`, looking only at lines from index `from` on, and
    /// giving the index of the line found: a later wait can start after it,
    /// even when one recv() brought in the lines after it too.
    pub fn wait_from(&mut self, from: usize, wanted: impl Fn(&str) -> bool) -> Result<usize, End> {
        let mut searched = from;
        loop {
            if let Some(at) = self.heard.iter().skip(searched).position(|l| wanted(l)) {
                return Ok(searched + at);
            }
            searched = searched.max(self.heard.len());
            let chunk = self.conn.recv_once(64 * 1024, self.conn.timeout)?;
            self.partial.extend_from_slice(&chunk);
            while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.partial.drain(..=nl).collect();
                let text = String::from_utf8_lossy(&line[..nl]).trim_end_matches('\r').to_string();
                self.heard.push(text);
            }
        }
    }

    /// Wait for `from`'s line `text` as `from: text`.
    pub fn hear(&mut self, from: &str, text: &str) -> Result<(), Failure> {
        let want = format!("{from}: {text}");
        let since = self.heard.len();
        self.wait_for(|l| l == want).map(|_| ()).map_err(|end| {
            let new = &self.heard[since..];
            let seen = match new.len() {
                0 => "nothing".to_string(),
                n if n > 3 => format!(
                    "{n} lines, the last: {}",
                    new[n - 3..].iter().map(|l| short(l)).collect::<Vec<_>>().join(" | ")
                ),
                _ => new.iter().map(|l| short(l)).collect::<Vec<_>>().join(" | "),
            };
            Failure::new(format!("{} never got {from}'s line as \"{}\"", self.nick, short(&want))).fact(format!(
                "{} heard {seen}; then {}",
                self.nick,
                end.describe()
            ))
        })
    }

    /// Whether a line announces `nick` (joined, left…): it names them and
    /// is not their own chat line.
    pub fn announces(line: &str, nick: &str) -> bool {
        line.contains(nick) && !line.starts_with(&format!("{nick}:"))
    }

    /// Lines heard so far that `pred` picks.
    pub fn heard_any(&self, pred: impl Fn(&str) -> bool) -> Option<&String> {
        self.heard.iter().find(|l| pred(l))
    }
}

/// A line as shown in a sentence: at most 60 characters.
pub fn short(line: &str) -> String {
    if line.chars().count() <= 60 {
        line.to_string()
    } else {
        format!("{}…", line.chars().take(57).collect::<String>())
    }
}

/// Members joined one at a time, each known to be in the room before the
/// next joins. Nothing in the protocol says "you are in": so the first
/// member says `sync …` lines until the newcomer hears one — which proves
/// both are in the room (the newcomer could not hear it otherwise, and
/// the first speaks only after its own nickname). Two connections are not
/// ordered against each other, so one line might go out just before the
/// newcomer is registered: hence lines, not a line, each given a short
/// look, all within the test's timeout.
pub fn room(cx: &Cx, nicks: &[String]) -> Result<Vec<Member>, Failure> {
    let mut members: Vec<Member> = Vec::with_capacity(nicks.len());
    for nick in nicks {
        let mut m = Member::join(cx, nick)?;
        if let Some(first) = members.first_mut() {
            sync(cx, first, &mut m)?;
        }
        members.push(m);
    }
    Ok(members)
}

/// How long the newcomer looks for each sync line.
const SYNC_LOOK: Duration = Duration::from_millis(50);

pub fn sync(cx: &Cx, first: &mut Member, newcomer: &mut Member) -> Result<(), Failure> {
    let deadline = Instant::now() + cx.timeout;
    let prefix = format!("{}: sync {} ", first.nick, newcomer.nick);
    let saved = newcomer.conn.timeout;
    newcomer.conn.timeout = SYNC_LOOK;
    // Mostly one line is enough once the server has read the nickname.
    newcomer.conn.wait_taken(cx.timeout.min(Duration::from_millis(500)));
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        if let Err(f) = first.say(&format!("sync {} {attempt}", newcomer.nick)) {
            break Err(f);
        }
        match newcomer.wait_for(|l| l.starts_with(&prefix)) {
            Ok(_) => break Ok(()),
            Err(End::TimedOut(_)) if Instant::now() < deadline => continue,
            Err(end) => {
                let f = Failure::new(format!(
                    "{} joined the room, but none of {}'s lines reached it",
                    newcomer.nick, first.nick
                ))
                .fact(format!(
                    "{} said {attempt} line(s) like \"sync {} 1\"; {} heard {}; then {}",
                    first.nick,
                    newcomer.nick,
                    newcomer.nick,
                    if newcomer.heard.is_empty() {
                        "nothing".to_string()
                    } else {
                        newcomer.heard.iter().map(|l| short(l)).collect::<Vec<_>>().join(" | ")
                    },
                    end.describe()
                ));
                break Err(f);
            }
        }
    };
    newcomer.conn.timeout = saved;
    result
}

/// Nicknames no earlier test used (`ann3`, `bob3`…): a member of the
/// previous test may still be leaving while the next one joins.
pub fn nicks(names: &[&str]) -> Vec<String> {
    static TESTS: AtomicUsize = AtomicUsize::new(1);
    let tag = TESTS.fetch_add(1, Ordering::SeqCst);
    names.iter().map(|n| format!("{n}{tag}")).collect()
}
