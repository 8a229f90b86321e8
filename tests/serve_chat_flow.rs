//! `netlab serve chat` under pressure, in every model that shares one
//! room: a member who reads, just later than a flooder writes, still gets
//! every line (the flooder is slowed instead), and a connection the server
//! cannot give a mailbox to is told why and closed — not left open.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::server::{Server, TIMEOUT, connect, start, stop};

/// The chat models, as the flags after `--model` (fork cannot share a room).
const MODELS: &[&[&str]] = &[&["thread"], &["pool"], &["select"], &["poll"], &["epoll"], &["epoll", "--edge"]];

fn start_model(variant: &[&str]) -> Server {
    let mut args = vec!["chat", "--model"];
    args.extend_from_slice(variant);
    args.extend_from_slice(&["--workers", "8"]);
    start(&args)
}

struct Member {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Member {
    /// Connect and read the first line the server sends.
    fn connect(addr: SocketAddr) -> (Member, String) {
        let writer = connect(addr);
        let reader = BufReader::new(writer.try_clone().unwrap());
        let mut m = Member { writer, reader };
        let first = m.line();
        (m, first)
    }

    /// Connect, read the greeting, send the nickname, read the welcome.
    fn join(addr: SocketAddr, nick: &str) -> Member {
        let (mut m, greeting) = Member::connect(addr);
        assert!(greeting.starts_with("* welcome to netlab chat"), "{greeting}");
        m.send(nick);
        let welcome = m.line();
        assert!(welcome.starts_with(&format!("* welcome, {nick} (")), "{welcome}");
        m
    }

    fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("EOF while waiting for a line"),
            Ok(_) => line.trim_end_matches('\n').to_string(),
            Err(e) => panic!("no line within {TIMEOUT:?}: {e}"),
        }
    }
}

/// The server's log, line by line, until one contains any of `needles`.
fn next_log_with(server: &Server, needles: &[&str]) -> String {
    loop {
        match server.lines.recv_timeout(TIMEOUT) {
            Ok(line) if needles.iter().any(|n| line.contains(n)) => return line,
            Ok(_) => {}
            Err(e) => panic!("no log line with any of {needles:?}: {e}"),
        }
    }
}

#[test]
fn a_member_who_reads_later_than_a_flooder_writes_gets_every_line() {
    // Far more than what the server and the kernel hold for the reader
    // before anything must give: its 1 MiB of unsent output, its mailbox,
    // the server's send buffer (4 MiB at most here) and its own receive
    // buffer (128 KiB while it does not read).
    const LINES: usize = 5000;
    let text = "x".repeat(4000);
    for variant in MODELS {
        let what = variant.join(" ");
        let server = start_model(variant);
        let mut reader = Member::join(server.addr, "reader");
        let mut talker = Member::join(server.addr, "talker");
        assert_eq!(reader.line(), "* talker joined");
        let line = text.clone();
        let flood = std::thread::spawn(move || {
            for i in 0..LINES {
                talker.send(&format!("{i:05} {line}"));
            }
            talker.send("done");
            talker
        });
        // The reader does not read until the server has had to do something
        // about it: slow the talker down (right) or drop lines (wrong).
        let seen = next_log_with(&server, &["waits for reader", "reader is not reading"]);
        assert!(seen.contains("waits for reader"), "{what}: lines for a member who reads were dropped: {seen}");
        for i in 0..LINES {
            let got = reader.line();
            assert!(got == format!("talker: {i:05} {text}"), "{what}: line {i} is {:.30}…", got);
        }
        assert_eq!(reader.line(), "talker: done", "{what}");
        let talker = flood.join().unwrap_or_else(|_| panic!("{what}: the talker's writes never finished"));
        drop((talker, reader));
        let log = stop(server);
        assert!(!log.iter().any(|l| l.contains("reader is not reading")), "{what}: {log:?}");
    }
}

/// The lowest descriptor number `pid` does not have open: the next one it
/// will get.
fn lowest_free_fd(pid: u32) -> u64 {
    let open: std::collections::BTreeSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's descriptors")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap_or(0)
}

/// Set `pid`'s soft RLIMIT_NOFILE; returns the limits it had.
fn set_nofile(pid: u32, soft: Option<u64>, old: Option<nix::libc::rlimit>) -> nix::libc::rlimit {
    let mut was = nix::libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit reads `new` and writes `was`, both valid for the call.
    let rc = unsafe { nix::libc::prlimit(pid as i32, nix::libc::RLIMIT_NOFILE, std::ptr::null(), &mut was) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    let new = match (soft, old) {
        (Some(soft), _) => nix::libc::rlimit { rlim_cur: soft, rlim_max: was.rlim_max },
        (None, Some(old)) => old,
        (None, None) => return was,
    };
    // SAFETY: as above.
    let rc = unsafe { nix::libc::prlimit(pid as i32, nix::libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    was
}

#[test]
fn a_client_the_server_has_no_descriptor_for_is_told_and_closed() {
    for variant in MODELS {
        let what = variant.join(" ");
        let server = start_model(variant);
        let pid = server.child.id();
        // Joined: the loop is running and holds everything it needs.
        let mut ann = Member::join(server.addr, "ann");
        // One descriptor left: the next client's socket takes it, and its
        // mailbox (an eventfd) cannot be made.
        let old = set_nofile(pid, Some(lowest_free_fd(pid) + 1), None);
        let (mut bob, first) = Member::connect(server.addr);
        assert_eq!(first, "* the server is out of file descriptors; try again later", "{what}");
        let mut rest = String::new();
        bob.reader.read_to_string(&mut rest).unwrap_or_else(|e| panic!("{what}: never closed: {e}"));
        assert_eq!(rest, "", "{what}");
        set_nofile(pid, None, Some(old));
        // The room goes on, and bob never was in it.
        let _cy = Member::join(server.addr, "cy");
        assert_eq!(ann.line(), "* cy joined", "{what}");
        ann.send("still here");
        drop((ann, bob));
        stop(server);
    }
}
