//! Tab completion: commands, then whatever the command takes next —
//! socket names, lesson ids, demo names, option names, TCP states.

use rustyline::Context;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use crate::lab::Framing;
use crate::lab::command::{PollEvents, SockOpt, command_words};
use crate::lab::command_unix::UnixType;

use super::commands::REPL_WORDS;

#[derive(Default)]
pub struct NetlabHelper {
    pub sockets: Vec<String>,
    pub lessons: Vec<String>,
    pub demos: Vec<String>,
}

const RELAY_FLAGS: [&str; 5] = ["--loss", "--dup", "--reorder", "--seed", "as"];
const SERVE_FLAGS: [&str; 13] = [
    "--model",
    "--workers",
    "--max-conns",
    "--native-endian",
    "--key",
    "--digest",
    "--then",
    "--auth-timeout",
    "--root",
    "--no-reap",
    "--edge",
    "--udp",
    "as",
];

const CHECK_FLAGS: [&str; 12] = [
    "--only",
    "--verbose",
    "--timeout",
    "--start-timeout",
    "--udp",
    "--native-endian",
    "--key",
    "--digest",
    "--then",
    "--auth-timeout",
    "--list",
    "--",
];

const STATES: [&str; 9] =
    ["ESTABLISHED", "SYN_SENT", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];

impl NetlabHelper {
    /// Candidates for the word at position `index`, given the words before it.
    pub fn candidates(&self, before: &[&str]) -> Vec<String> {
        let socks = || self.sockets.clone();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match before {
            [] => {
                let mut all = words(&command_words());
                all.extend(words(&REPL_WORDS).into_iter().filter(|w| w.len() > 1));
                all.sort();
                all.dedup();
                all
            }
            ["tcp"] => words(&["listen", "connect"]),
            ["udp"] => words(&["bind", "serve"]),
            ["udp", "serve"] => words(&["time"]),
            ["relay"] => words(&["udp"]),
            ["tcp", "connect"] | ["tcp", "listen"] | ["udp", "bind"] | ["relay", "udp"] => socks(),
            ["relay", "udp", .., "--loss" | "--dup" | "--reorder" | "--seed" | "as"] => Vec::new(),
            ["relay", "udp", _, ..] => {
                let mut all = socks();
                all.extend(words(&RELAY_FLAGS));
                all
            }
            ["serve"] => crate::serve::Proto::ALL.iter().map(|p| p.name().to_string()).collect(),
            ["serve", .., "--model"] => crate::serve::Model::ALL.iter().map(|m| m.name().to_string()).collect(),
            ["serve", .., "--digest"] => words(&["sha256", "md5"]),
            ["serve", .., "--then"] => words(&["echo", "upper"]),
            ["serve", .., "--workers" | "--max-conns" | "--key" | "--auth-timeout" | "--root" | "as"] => Vec::new(),
            ["serve", _, rest @ ..] => {
                words(&SERVE_FLAGS).into_iter().filter(|f| !rest.contains(&f.as_str())).collect()
            }
            ["check"] => {
                let mut all: Vec<String> = crate::serve::Proto::ALL.iter().map(|p| p.name().to_string()).collect();
                all.push("--list".into());
                all
            }
            ["check", .., "--digest"] => words(&["sha256", "md5"]),
            ["check", .., "--then"] => words(&["echo", "upper"]),
            ["check", .., "--timeout" | "--key" | "--auth-timeout" | "--only" | "--start-timeout"] => Vec::new(),
            // After `--` comes the learner's own command line.
            ["check", rest @ ..] if rest.contains(&"--") => Vec::new(),
            ["check", _] => socks(),
            ["check", _, rest @ ..] => {
                words(&CHECK_FLAGS).into_iter().filter(|f| !rest.contains(&f.as_str())).collect()
            }
            ["procs"] => socks(),
            ["hmac"] => socks(),
            ["hmac", _] => words(&["--replay"]),
            ["hmac", .., "--digest"] => words(&["sha256", "md5"]),
            ["hmac", .., "--timeout"] => Vec::new(),
            ["hmac", _, key, ..] if *key != "--replay" => words(&["--digest", "--timeout"]),
            ["lesson"] => self.lessons.clone(),
            ["demo"] => self.demos.clone(),
            ["help"] => {
                let mut all = words(&command_words());
                all.extend(words(&REPL_WORDS));
                all
            }
            [
                "accept" | "send" | "sendto" | "recv" | "recvfrom" | "recvloop" | "wait" | "close" | "shutdown" | "opt"
                | "addr" | "follow" | "unfollow",
            ] => socks(),
            // poll takes any number of sockets, then event words.
            ["poll", ..] => {
                let mut all = socks();
                all.extend(words(&PollEvents::WORDS));
                all.retain(|w| !before[1..].contains(&w.as_str()));
                all
            }
            ["epoll"] => socks(),
            ["epoll", .., "--waits" | "--timeout"] => Vec::new(),
            ["epoll", _, rest @ ..] => {
                words(&["--edge", "--waits", "--timeout"]).into_iter().filter(|f| !rest.contains(&f.as_str())).collect()
            }
            ["resolve"] => words(&["localhost", "127.0.0.1", "::1"]),
            ["resolve", _] => words(&["--family"]),
            ["resolve", _, "--family"] => words(&["4", "6"]),
            ["sendall" | "sendframe"] => socks(),
            ["sendto", _] => socks(),
            ["opt", _] => words(&SockOpt::NAMES),
            ["opt", _, "reuseaddr" | "nodelay" | "nonblock"] => words(&["on", "off"]),
            ["opt", _, "rcvtimeo" | "sndtimeo" | "linger"] => words(&["off"]),
            ["sysctl"] => words(&crate::lab::sysctl::names()),
            ["shutdown", _] => words(&["read", "write", "both"]),
            ["wait", _] => words(&["readable", "state", "queued", "log", "heard"]),
            ["wait", _, "state"] => words(&STATES),
            ["recv", _, .., "--frame"] => words(&Framing::NAMES),
            ["sendall", .., "--reader"] => socks(),
            [.., "as"] => Vec::new(),
            ["unix"] => words(&["listen", "connect", "bind", "unlink", "chmod", "files"]),
            ["unix", "connect" | "unlink" | "chmod"] => socks(),
            ["unix", "chmod", _] => words(&["600", "666", "000"]),
            ["unix", sub @ ("listen" | "connect"), rest @ ..] => {
                let flags: &[&str] =
                    if *sub == "listen" { &["--seqpacket"] } else { &["--seqpacket", "--unprivileged"] };
                words(flags).into_iter().filter(|f| !rest.contains(&f.as_str())).collect()
            }
            ["socketpair"] => words(&UnixType::NAMES),
            _ => Vec::new(),
        }
    }
}

impl Completer for NetlabHelper {
    type Candidate = String;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        let upto = &line[..pos];
        // After the last whitespace character, however many bytes it is
        // (a full-width space from a Chinese input method is three).
        let start = upto.char_indices().rev().find(|(_, c)| c.is_whitespace()).map_or(0, |(i, c)| i + c.len_utf8());
        let before: Vec<&str> = upto[..start].split_whitespace().collect();
        let partial = &upto[start..];
        let mut found: Vec<String> = self.candidates(&before).into_iter().filter(|c| c.starts_with(partial)).collect();
        found.dedup();
        Ok((start, found))
    }
}

impl Hinter for NetlabHelper {
    type Hint = String;
}

impl Highlighter for NetlabHelper {}

impl Validator for NetlabHelper {}

impl rustyline::Helper for NetlabHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> NetlabHelper {
        NetlabHelper {
            sockets: vec!["srv".into(), "cli".into()],
            lessons: vec!["sticky-packets".into()],
            demos: vec!["sticky".into()],
        }
    }

    #[test]
    fn wide_spaces_do_not_break_completion() {
        let h = helper();
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        let line = "send\u{3000}c";
        let (start, found) = h.complete(line, line.len(), &ctx).unwrap();
        assert_eq!(&line[start..], "c");
        assert_eq!(found, vec!["cli"]);
    }

    #[test]
    fn completes_by_position() {
        let h = helper();
        assert!(h.candidates(&[]).contains(&"sendto".to_string()));
        assert!(h.candidates(&[]).contains(&"next".to_string()));
        assert_eq!(h.candidates(&["send"]), vec!["srv", "cli"]);
        assert_eq!(h.candidates(&["lesson"]), vec!["sticky-packets"]);
        assert_eq!(h.candidates(&["opt", "cli"]), SockOpt::NAMES.to_vec());
        assert!(h.candidates(&["wait", "conn", "state"]).contains(&"TIME_WAIT".to_string()));
        assert_eq!(h.candidates(&["wait", "srv"]), vec!["readable", "state", "queued", "log", "heard"]);
        assert_eq!(h.candidates(&["follow"]), vec!["srv", "cli"]);
        assert_eq!(h.candidates(&["unfollow"]), vec!["srv", "cli"]);
        assert!(h.candidates(&["serve"]).contains(&"chat".to_string()));
        assert!(h.candidates(&["check"]).contains(&"framed".to_string()));
        assert!(h.candidates(&["check", "echo", "srv"]).contains(&"--only".to_string()));
        assert!(h.candidates(&["check", "echo", "--", "python3"]).is_empty(), "the learner's own command");
        assert!(h.candidates(&["serve", "echo", "--model"]).contains(&"epoll".to_string()));
        assert!(h.candidates(&["serve", "echo"]).contains(&"--no-reap".to_string()));
        assert!(h.candidates(&[]).contains(&"unix".to_string()));
        assert!(h.candidates(&[]).contains(&"socketpair".to_string()));
        assert!(h.candidates(&["unix"]).contains(&"listen".to_string()));
        assert_eq!(h.candidates(&["unix", "connect"]), vec!["srv", "cli"]);
        assert_eq!(h.candidates(&["unix", "connect", "srv", "--seqpacket"]), vec!["--unprivileged"]);
        assert_eq!(h.candidates(&["socketpair"]), vec!["stream", "dgram", "seqpacket"]);
        assert_eq!(h.candidates(&["recvloop"]), vec!["srv", "cli"]);
        assert_eq!(h.candidates(&["poll", "cli"]), vec!["srv", "in", "out", "rdhup"]);
        assert_eq!(h.candidates(&["epoll", "cli", "--edge"]), vec!["--waits", "--timeout"]);
        assert_eq!(h.candidates(&["recv", "conn", "--frame"]), Framing::NAMES.to_vec());
        assert_eq!(h.candidates(&["udp", "serve"]), vec!["time"]);
        assert_eq!(h.candidates(&["relay"]), vec!["udp"]);
        assert_eq!(h.candidates(&["relay", "udp"]), vec!["srv", "cli"]);
        assert!(h.candidates(&["relay", "udp", "srv"]).contains(&"--reorder".to_string()));
        assert!(h.candidates(&["relay", "udp", "srv", "--seed"]).is_empty());
        assert_eq!(h.candidates(&["addr"]), vec!["srv", "cli"]);
        assert_eq!(h.candidates(&["resolve", "localhost", "--family"]), vec!["4", "6"]);
    }
}
