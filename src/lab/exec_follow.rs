//! `follow SOCK` / `unfollow SOCK` / `wait SOCK heard TEXT`: a receive
//! thread in the playground (see `follow`). What it reads shows after
//! every command; `wait … heard` waits for a text to arrive, so a lesson
//! is as deterministic with a receive thread as without.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use super::command::{Command, WaitFor};
use super::follow::{CHUNK, FollowReport, Follower};
use super::{Kind, Lab, Outcome, UnixKind, cancel};
use crate::event::{CallResult, Direction, Event};
use crate::render::hexdump::quote_text;

/// The lab's receive threads and the channel they report on.
pub struct Follows {
    list: Vec<Follower>,
    tx: Sender<FollowReport>,
    rx: Receiver<FollowReport>,
}

impl Default for Follows {
    fn default() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        Follows { list: Vec::new(), tx, rx }
    }
}

impl Follows {
    fn get(&self, name: &str) -> Option<&Follower> {
        self.list.iter().find(|f| f.sock == name)
    }

    /// Stop and join every thread.
    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// For a demo run inside a lesson: its own, empty set.
    pub fn take(&mut self) -> Follows {
        std::mem::take(self)
    }
}

impl Lab {
    pub(super) fn follow(&mut self, name: &str) -> Result<Outcome, String> {
        let s = self.open(name)?;
        if !matches!(s.kind, Kind::Stream | Kind::Unix(UnixKind::Conn)) {
            return Err(format!(
                "'{name}' is not a connected stream socket: follow reads a connection, e.g. follow cli"
            ));
        }
        if self.follows.get(name).is_some() {
            return Err(format!("'{name}' is already followed (unfollow {name} stops its thread)"));
        }
        let dup = match s.sock.try_clone() {
            Ok(d) => d,
            Err(e) => return Ok(self.failed(name, "dup()", &e)),
        };
        let follower = match Follower::start(name, dup, self.follows.tx.clone()) {
            Ok(f) => f,
            Err(e) => return Ok(self.failed(name, "pthread_create()", &e)),
        };
        self.follows.list.push(follower);
        let detail = format!(
            "a receive thread now calls recv({CHUNK}) on {name} whenever it is readable; what it reads shows after each command (wait {name} heard TEXT waits for it; unfollow {name} stops it)"
        );
        let result = CallResult::ok(detail);
        self.call(name, "follow", result.clone());
        Ok(Outcome::of(name, result))
    }

    pub(super) fn unfollow(&mut self, name: &str) -> Result<Outcome, String> {
        let Some(i) = self.follows.list.iter().position(|f| f.sock == name) else {
            return Err(format!("'{name}' is not followed (follow {name} starts a receive thread)"));
        };
        drop(self.follows.list.remove(i));
        self.drain_follows();
        let result = CallResult::ok("receive thread stopped and joined; recv works again");
        self.call(name, "unfollow", result.clone());
        Ok(Outcome::of(name, result))
    }

    /// Show everything the receive threads read since the last drain.
    pub(super) fn drain_follows(&mut self) {
        while let Ok(report) = self.follows.rx.try_recv() {
            match report {
                FollowReport::Chunk { sock, data } => {
                    let detail = format!("{} bytes (receive thread)", data.len());
                    self.call(&sock, format!("recv({CHUNK})"), CallResult::ok(detail));
                    self.emit(Event::bytes(&sock, Direction::Received, &data));
                }
                FollowReport::Ended { sock, why: None } => {
                    let detail = "0 bytes: EOF — the peer closed; the receive thread has ended";
                    self.call(&sock, format!("recv({CHUNK})"), CallResult::ok(detail));
                }
                FollowReport::Ended { sock, why: Some(why) } => {
                    let why = format!("{why}; the receive thread has ended");
                    self.call(&sock, format!("recv({CHUNK})"), CallResult::Failed { why });
                }
            }
        }
    }

    /// A command that would read a followed socket itself, or close it
    /// under its thread: refused, or (close) the thread is stopped first.
    pub(super) fn before_follow_sensitive(&mut self, cmd: &Command) -> Option<String> {
        let reads = match cmd {
            Command::Recv { sock, .. }
            | Command::RecvFrom { sock, .. }
            | Command::RecvFrame { sock, .. }
            | Command::Wait { sock, until: WaitFor::Readable(_), .. } => Some(sock),
            Command::RecvLoop(r) => Some(&r.sock),
            Command::Close { sock } => {
                if let Some(i) = self.follows.list.iter().position(|f| &f.sock == sock) {
                    drop(self.follows.list.remove(i));
                    self.drain_follows();
                }
                None
            }
            _ => None,
        };
        let sock = reads.filter(|s| self.follows.get(s).is_some())?;
        Some(format!(
            "{sock} is being followed: its receive thread reads everything that arrives (shown after each command); use wait {sock} heard TEXT, or unfollow {sock} to recv yourself"
        ))
    }

    pub(super) fn wait_heard(&mut self, name: &str, text: &str, timeout: Duration) -> Result<Outcome, String> {
        if self.follows.get(name).is_none() {
            return Err(format!("'{name}' is not followed: follow {name} first, then wait {name} heard TEXT"));
        }
        let call = format!("wait until the receive thread heard {}", quote_text(text.as_bytes()));
        // `ended` first: bytes and EOF arriving between the two looks must
        // still find the bytes (EOF is only set after the last of them).
        let try_now = |f: &Follower| {
            let ended = f.ended();
            f.take_heard(text.as_bytes()).ok_or(ended)
        };
        let first = self.follows.get(name).map(try_now);
        let found = match first {
            Some(Ok(bytes)) => Ok(bytes),
            _ => {
                self.emit(super::waiting_notice(name, &format!("{} to arrive", quote_text(text.as_bytes())), timeout));
                let follows = &self.follows;
                cancel::wait_until(timeout, || match follows.get(name).map(try_now) {
                    Some(Ok(bytes)) => Some(Ok(bytes)),
                    Some(Err(true)) | None => Some(Err(())),
                    Some(Err(false)) => None,
                })
                .map_err(Some)
                .and_then(|r| r.map_err(|()| None))
            }
        };
        self.drain_follows();
        match found {
            Ok(bytes) => {
                let result = CallResult::ok(format!("heard, after {} bytes", bytes.len()));
                self.call(name, call, result.clone());
                Ok(Outcome { bytes: Some(bytes), ..Outcome::of(name, result) })
            }
            Err(waited) => {
                let pending = self.follows.get(name).map(Follower::pending).unwrap_or_default();
                let heard = if pending.is_empty() {
                    "nothing new was heard".to_string()
                } else {
                    format!("heard only {}", quote_text(&pending))
                };
                match waited {
                    Some(w) => Ok(self.gave_up(name, &call, w, timeout, &heard, false)),
                    None => {
                        let result = CallResult::Failed { why: format!("the connection ended first; {heard}") };
                        self.call(name, call, result.clone());
                        Ok(Outcome::of(name, result))
                    }
                }
            }
        }
    }
}
