//! `netlab serve cmd`: the real binary, real clients, every model in
//! MODELS; proof that nothing outside the allowlist runs; a classic Python
//! client for wire compatibility.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::server::{TIMEOUT, connect, start, stop};
use netlab::proto::json_header::{Decoder, LengthOrder};
use netlab::serve::cmd_builtins::big;

/// The models that serve cmd; a new model is one more name here.
const MODELS: &[&str] = &["iterative", "thread", "select", "poll", "epoll"];

/// A client that reads framed replies; bytes read past one reply are
/// kept for the next.
struct Client {
    s: TcpStream,
    dec: Decoder,
}

impl Client {
    fn new(addr: std::net::SocketAddr, order: LengthOrder) -> Client {
        Client { s: connect(addr), dec: Decoder::with_limits(order, 64 * 1024, 32 << 20) }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// One framed reply, (status, output); `None` if the server closed first.
    fn reply(&mut self) -> Option<(String, Vec<u8>)> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(f) = self.dec.next_frame().expect("a well-framed reply") {
                let status = f.header["status"].as_str().unwrap_or("?").to_string();
                return Some((status, f.body));
            }
            match self.s.read(&mut buf) {
                Ok(0) => return None,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Ok(n) => self.dec.push(&buf[..n]),
                Err(e) => panic!("reading a reply: {e}"),
            }
        }
    }

    fn ask(&mut self, request: &[u8]) -> (String, String) {
        self.send(request);
        let (status, out) = self.reply().expect("a reply");
        (status, String::from_utf8_lossy(&out).into_owned())
    }
}

#[test]
fn every_model_runs_the_builtins_and_frames_the_replies() {
    for model in MODELS {
        for (flag, order) in [(None, LengthOrder::BigEndian), (Some("--native-endian"), LengthOrder::LittleEndian)] {
            let mut args = vec!["cmd", "--model", model];
            args.extend(flag);
            let server = start(&args);
            let mut c = Client::new(server.addr, order);
            // Several requests in one write, each ended by its newline.
            c.send(b"echo hello   world\nls\r\nhelp\nbig 1000000\n");
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(c.reply().expect("a reply"));
            }
            assert_eq!(got[0], ("ok".into(), b"hello world\n".to_vec()), "{model}");
            assert_eq!(got[1].1, b"hello.txt\nnotes.md\nreport.csv\n");
            assert!(got[2].1.starts_with(b"built-in commands"));
            assert_eq!(got[3], ("ok".into(), big(1_000_000)), "{model}: 1 MB reassembled by its length");
            // One byte per write: still one request per line.
            for b in b"date\n" {
                c.send(&[*b]);
            }
            let (status, date) = c.reply().expect("the date");
            assert!(status == "ok" && date.ends_with(b"\n") && date.len() > 20, "{date:?}");
            drop(c);
            stop(server);
        }
    }
}

#[test]
fn a_bare_command_is_answered_after_the_idle_rule() {
    for model in MODELS {
        let server = start(&["cmd", "--model", model]);
        let mut c = Client::new(server.addr, LengthOrder::BigEndian);
        let sent = Instant::now();
        assert_eq!(c.ask(b"echo no newline"), ("ok".into(), "no newline\n".into()));
        assert!(sent.elapsed() >= Duration::from_millis(100), "answered only after 100 ms of quiet");
        // Shut down writing instead of pausing: EOF ends the request too.
        c.send(b"echo last");
        c.s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(c.reply().expect("a reply").1, b"last\n");
        assert_eq!(c.reply(), None, "then the server closes");
        stop(server);
    }
}

#[test]
fn two_bare_commands_queued_together_become_one_request() {
    // The iterative server is busy with `first`, so both of `second`'s
    // writes wait in its socket's receive queue — one recv() gets both.
    let server = start(&["cmd", "--model", "iterative"]);
    let mut first = Client::new(server.addr, LengthOrder::BigEndian);
    assert_eq!(first.ask(b"echo busy\n").1, "busy\n");
    let mut second = Client::new(server.addr, LengthOrder::BigEndian);
    second.send(b"date");
    second.send(b"ls");
    // Acked by the server's kernel: both are in its receive queue.
    let deadline = Instant::now() + TIMEOUT;
    while netlab::wire::queues::bytes_unsent(second.s.as_fd()).unwrap() > 0 {
        assert!(Instant::now() < deadline, "never acked");
        std::thread::yield_now();
    }
    drop(first);
    let (status, out) = second.reply().expect("a reply");
    assert_eq!(status, "error");
    assert!(String::from_utf8_lossy(&out).starts_with("unknown command 'datels'"), "{out:?}");
    drop(second);
    stop(server);
}

/// Every way a shell=True server could be made to create `canary`.
fn injections(canary: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        format!("ls; touch {canary}"),
        format!("ls && touch {canary}"),
        format!("ls || touch {canary}"),
        format!("ls | touch {canary}"),
        format!("echo $(touch {canary})"),
        format!("echo `touch {canary}`"),
        format!("echo x > {canary}"),
        format!("touch {canary}"),
        format!("/usr/bin/touch {canary}"),
        format!("sh -c 'touch {canary}'"),
        "cat /etc/passwd".into(),
        "ls /".into(),
        "ls ../../etc".into(),
        "ls /etc/passwd".into(),
        "$(id)".into(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    v.push(format!("ls\0; touch {canary}").into_bytes());
    v.push(b"ls \xff\xfe".to_vec());
    v
}

/// The server's child processes, from /proc (tasks list their children).
fn children(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's tasks");
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

#[test]
fn nothing_outside_the_allowlist_ever_runs() {
    let canary = std::env::temp_dir().join(format!("netlab-cmd-canary-{}", std::process::id()));
    let _ = std::fs::remove_file(&canary);
    let canary_s = canary.display().to_string();
    for model in MODELS {
        let server = start(&["cmd", "--model", model]);
        let mut c = Client::new(server.addr, LengthOrder::BigEndian);
        for request in injections(&canary_s) {
            let mut line = request.clone();
            line.push(b'\n');
            let (status, out) = c.ask(&line);
            assert_eq!(status, "error", "{model}: {:?} → {out}", String::from_utf8_lossy(&request));
            assert!(children(server.child.id()).is_empty(), "the server started a process");
        }
        assert_eq!(c.ask(b"echo still serving\n").1, "still serving\n");
        drop(c);
        let log = stop(server);
        assert!(!canary.exists(), "{model}: a request created {canary_s}");
        let would: Vec<_> = log.iter().filter(|l| l.contains("would have run via /bin/sh: ")).collect();
        assert_eq!(would.len(), 8, "{model}: the shell-syntax requests are logged: {log:?}");
        assert!(would[0].contains(&format!("\"ls; touch {canary_s}\"")), "{would:?}");
    }
}

#[test]
fn an_over_long_line_gets_an_error_and_the_connection_closes() {
    for model in MODELS {
        let server = start(&["cmd", "--model", model]);
        let mut c = Client::new(server.addr, LengthOrder::BigEndian);
        let (status, out) = c.ask(&vec![b'x'; 10_000]);
        assert_eq!(status, "error");
        assert!(out.contains("at most 4096 bytes"), "{out}");
        // Closed after the reply (a reset if our last bytes were unread).
        assert!(c.reply().is_none(), "{model}");
        let mut fresh = Client::new(server.addr, LengthOrder::BigEndian);
        assert_eq!(fresh.ask(b"echo ok\n").1, "ok\n");
        drop(fresh);
        stop(server);
    }
}

#[test]
fn a_classic_python_client_sending_bare_commands_works_in_both_byte_orders() {
    for (flag, fmt) in [(None, ">i"), (Some("--native-endian"), "i")] {
        let mut args = vec!["cmd"];
        args.extend(flag);
        let server = start(&args);
        let argv = [server.addr.ip().to_string(), server.addr.port().to_string(), fmt.to_string()];
        if let Some(out) = common::python_client::run(include_str!("py/cmd_client.py"), &argv) {
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines[0], "echo ok 12 hello world", "{fmt}: {out}");
            assert_eq!(lines[1], "big ok 1000000 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-");
            assert!(lines[2].starts_with("ls; error ") && lines[2].contains("no shell is involved"), "{out}");
            assert!(lines[3].starts_with("date ok "), "{out}");
        }
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("ended by 100 ms idle, no newline")), "{log:?}");
    }
}

/// The server's resident memory, in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS in kB")
}

#[test]
fn a_big_reply_nobody_reads_costs_the_server_a_chunk_not_the_reply() {
    // 13 bytes of request ask for 16 MiB of reply. The clients read the
    // reply's header (so it has begun) and nothing more: the server must
    // produce the output as the socket takes it, not hold it all.
    const CLIENTS: usize = 8;
    for variant in [&["thread"][..], &["pool"], &["select"], &["poll"], &["epoll"], &["epoll", "--edge"]] {
        let what = variant.join(" ");
        let mut args = vec!["cmd", "--model"];
        args.extend_from_slice(variant);
        args.extend_from_slice(&["--workers", "8"]);
        let server = start(&args);
        let before = rss_kib(server.child.id());
        let clients: Vec<TcpStream> = (0..CLIENTS)
            .map(|_| {
                let mut s = connect(server.addr);
                s.write_all(b"big 16777216\n").unwrap();
                let mut len = [0u8; 4];
                s.read_exact(&mut len).unwrap();
                let mut header = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut header).unwrap();
                assert!(String::from_utf8_lossy(&header).contains("16777216"), "{what}: {header:?}");
                s
            })
            .collect();
        let grew = rss_kib(server.child.id()).saturating_sub(before);
        // Each reply is 16 MiB; what the kernel's buffers take of it is not
        // the server's memory. A connection may hold a chunk or two.
        assert!(grew < (CLIENTS as u64) * 2048, "{what}: {CLIENTS} unread replies grew the server by {grew} KiB");
        drop(clients);
        stop(server);
    }
}
