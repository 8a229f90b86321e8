//! Narrated live demos: `netlab demo NAME`, or a `demo:` step in a lesson.
//!
//! Each demo is a script of playground commands — the same ones a learner
//! types — plus verdicts that check, on every run, that the effect really
//! happened. Timing is controlled by waiting for readiness (FIONREAD,
//! kernel state), never by sleeping and hoping.

mod auth;
mod backlog;
mod byteorder;
mod chat;
mod close;
mod cmd;
mod concurrency;
mod echo;
mod eof;
mod epoll;
mod errors;
mod file;
mod framing;
mod handshake;
mod nonblocking;
mod partial;
mod ports;
mod select;
mod sticky;
mod timewait;
mod udp;
mod udp_loss;
mod unix;

use crate::event::Event;
use crate::lab::{Lab, Outcome};

pub struct DemoInfo {
    pub name: &'static str,
    pub title: &'static str,
    /// The lesson this demo belongs to.
    pub lesson: &'static str,
    run: fn(&mut Lab) -> Result<(), String>,
}

pub const DEMOS: &[DemoInfo] = &[
    DemoInfo {
        name: "echo",
        title: "an echo-upper server and its client, one system call at a time",
        lesson: "hello-echo",
        run: echo::run,
    },
    DemoInfo {
        name: "ports",
        title: "port 0, both ends of a connection, 127.0.0.1 vs ::1, refused and privileged ports",
        lesson: "addresses-ports",
        run: ports::run,
    },
    DemoInfo {
        name: "byteorder",
        title: "one u32, two byte orders, and the number you get when they disagree",
        lesson: "byte-order",
        run: byteorder::run,
    },
    DemoInfo {
        name: "handshake",
        title: "the three-way handshake as kernel states: LISTEN, SYN_SENT, ESTABLISHED, before accept()",
        lesson: "tcp-lifecycle",
        run: handshake::run,
    },
    DemoInfo {
        name: "close",
        title: "the four-way close: FIN_WAIT_1/2, CLOSE_WAIT, LAST_ACK, and TIME_WAIT on the side that closes first",
        lesson: "tcp-lifecycle",
        run: close::run,
    },
    DemoInfo {
        name: "eof",
        title: "loops and EOF: recv() == 0 ends a loop, the spin when it is ignored, half-close",
        lesson: "loops-and-eof",
        run: eof::run,
    },
    DemoInfo {
        name: "timewait",
        title: "TIME_WAIT on the side that closes first, EADDRINUSE, and SO_REUSEADDR",
        lesson: "timewait-reuseaddr",
        run: timewait::run,
    },
    DemoInfo {
        name: "sticky",
        title: "sticky packets: two sends in one recv, one send in many, and the fix",
        lesson: "sticky-packets",
        run: sticky::run,
    },
    DemoInfo {
        name: "framing",
        title: "four framings vs a hostile splitter, the naive reader, and the cost of an ack",
        lesson: "framing",
        run: framing::run,
    },
    DemoInfo {
        name: "partial",
        title: "partial writes: send() queues what fits; a send-all loop sends the rest",
        lesson: "partial-writes",
        run: partial::run,
    },
    DemoInfo {
        name: "udp",
        title: "UDP keeps message boundaries: no merging, truncation, empty datagrams",
        lesson: "udp-boundaries",
        run: udp::run,
    },
    DemoInfo {
        name: "udp-loss",
        title: "a lossy relay drops, duplicates and reorders; ids, timeouts and retries cope",
        lesson: "udp-loss-order",
        run: udp_loss::run,
    },
    DemoInfo {
        name: "errors",
        title: "ECONNREFUSED, ECONNRESET, EPIPE and EAGAIN, each made to happen",
        lesson: "errors",
        run: errors::run,
    },
    DemoInfo {
        name: "nonblocking",
        title: "one recv blocking, with SO_RCVTIMEO, non-blocking; a spin loop versus one poll()",
        lesson: "blocking-nonblocking",
        run: nonblocking::run,
    },
    DemoInfo {
        name: "concurrency",
        title: "one echo server four ways: iterative (the second client waits), thread, fork (zombies and reaping), pool",
        lesson: "concurrency",
        run: concurrency::run,
    },
    DemoInfo {
        name: "select",
        title: "select: many clients served by one thread, and the FD_SETSIZE (1024) wall",
        lesson: "multiplexing",
        run: select::run,
    },
    DemoInfo {
        name: "epoll",
        title: "epoll: level-triggered vs edge-triggered readiness, and an edge-triggered server that reads until EAGAIN",
        lesson: "multiplexing",
        run: epoll::run,
    },
    DemoInfo {
        name: "backlog",
        title: "the listen backlog: handshakes done before accept(), a full queue stalls (not refuses), somaxconn",
        lesson: "backlog",
        run: backlog::run,
    },
    DemoInfo {
        name: "auth",
        title: "challenge–response with HMAC: the right key accepted, a replayed answer and a wrong key refused",
        lesson: "auth-hmac",
        run: auth::run,
    },
    DemoInfo {
        name: "cmd",
        title: "a remote-command server done safely: an allowlist, no shell, framed output, and the 100 ms rule",
        lesson: "remote-command",
        run: cmd::run,
    },
    DemoInfo {
        name: "file",
        title: "file transfer: framed put/get with size + sha256; \"sleep\" and \"##\" broken; ../ refused",
        lesson: "file-transfer",
        run: file::run,
    },
    DemoInfo {
        name: "chat",
        title: "a chat room: nickname first, lines to every other member, join/leave, clients vanishing mid-line",
        lesson: "chat",
        run: chat::run,
    },
    DemoInfo {
        name: "unix",
        title: "unix-domain sockets: stream vs seqpacket, socketpair, socket files, abstract names, permissions",
        lesson: "unix-sockets",
        run: unix::run,
    },
];

pub fn find(name: &str) -> Option<&'static DemoInfo> {
    DEMOS.iter().find(|d| d.name == name)
}

pub fn names() -> Vec<&'static str> {
    DEMOS.iter().map(|d| d.name).collect()
}

/// The message for a demo name that does not exist.
pub fn unknown(name: &str) -> String {
    let names = names();
    match crate::suggest::closest(name, &names) {
        Some(s) => format!("no demo named '{name}' — did you mean '{s}'?"),
        None => format!("no demo named '{name}' — demos are {}", names.join(", ")),
    }
}

/// Run a demo on its own fresh sockets; true when every verdict held.
pub fn run(demo: &DemoInfo, lab: &mut Lab) -> bool {
    lab.isolated(|lab| {
        let (before, failed_before) = lab.verdict_counts();
        lab.heading(format!("demo {}: {}", demo.name, demo.title));
        if let Err(e) = (demo.run)(lab) {
            lab.emit(Event::error(format!("demo {} stopped: {e}", demo.name)));
            lab.verdict(false, format!("demo {} did not finish", demo.name));
        }
        let (after, failed_after) = lab.verdict_counts();
        let failed = failed_after - failed_before;
        let total = after - before;
        let ok = failed == 0 && total > 0;
        let summary = if ok {
            format!("demo {}: all {total} checks held", demo.name)
        } else {
            format!("demo {}: {failed} of {total} checks failed", demo.name)
        };
        lab.emit(Event::notice(summary));
        ok
    })
}

/// Run a command that the demo needs to succeed; a failure stops the demo.
fn must(lab: &mut Lab, line: &str) -> Result<Outcome, String> {
    if crate::lab::cancel::is_cancelled() {
        return Err("cancelled with Ctrl-C".into());
    }
    let outcome = lab.run_shown(line);
    if outcome.is_ok() { Ok(outcome) } else { Err(format!("`{line}` failed")) }
}
