//! `netlab serve chat`: the real binary, several real clients on loopback,
//! each checking the order of the lines it receives.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::server::{TIMEOUT, connect, start, stop};

/// Every model that can share one room (fork cannot: each child would
/// hold its own copy). Adding a model is one entry here.
const MODELS: &[&str] = &["thread", "epoll"];

const GREETING: &str = "* welcome to netlab chat: send your nickname (one line), then chat; quit leaves";

struct Client {
    nick: String,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connect and read the greeting, without joining yet.
    fn connect(addr: SocketAddr, nick: &str) -> Client {
        let writer = connect(addr);
        let reader = BufReader::new(writer.try_clone().unwrap());
        let mut c = Client { nick: nick.into(), writer, reader };
        assert_eq!(c.line(), GREETING);
        c
    }

    /// Connect, send the nickname, and read the welcome (returned).
    fn join(addr: SocketAddr, nick: &str) -> (Client, String) {
        let mut c = Client::connect(addr, nick);
        c.send(nick);
        let welcome = c.line();
        assert!(welcome.starts_with(&format!("* welcome, {nick} (")), "{welcome}");
        (c, welcome)
    }

    fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// The next line, waiting at most TIMEOUT.
    fn line(&mut self) -> String {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => panic!("{}: EOF while waiting for a line", self.nick),
            Ok(_) => line.strip_suffix('\n').unwrap_or_else(|| panic!("{}: unterminated {line:?}", self.nick)).into(),
            Err(e) => panic!("{}: no line within {TIMEOUT:?}: {e}", self.nick),
        }
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want, "what {} received", self.nick);
    }

    /// Read to EOF: the server closed this connection.
    fn expect_eof(&mut self) {
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "{}: nothing more before EOF", self.nick);
    }

    /// Close with RST instead of FIN: SO_LINGER 0, then close.
    fn reset(self) {
        socket2::SockRef::from(&self.writer).set_linger(Some(Duration::ZERO)).unwrap();
    }
}

#[test]
fn three_clients_see_joins_lines_and_leaves_in_order() {
    for model in MODELS {
        let server = start(&["chat", "--model", model]);
        let (mut ann, welcome) = Client::join(server.addr, "ann");
        assert_eq!(welcome, "* welcome, ann (nobody else here yet)", "{model}");
        let (mut bob, welcome) = Client::join(server.addr, "bob");
        assert_eq!(welcome, "* welcome, bob (here: ann)");
        ann.expect("* bob joined");
        let (mut cy, welcome) = Client::join(server.addr, "cy");
        assert_eq!(welcome, "* welcome, cy (here: ann, bob)");
        ann.expect("* cy joined");
        bob.expect("* cy joined");

        ann.send("hi all");
        bob.expect("ann: hi all");
        cy.expect("ann: hi all");
        cy.send("hi ann");
        // ann's own line never comes back: the next thing she reads is cy's.
        ann.expect("cy: hi ann");
        bob.expect("cy: hi ann");

        bob.send("quit");
        bob.expect("* bye");
        bob.expect_eof();
        ann.expect("* bob left");
        cy.expect("* bob left");

        // A plain close (EOF) leaves too.
        drop(cy);
        ann.expect("* cy left");
        ann.send("quit");
        ann.expect("* bye");
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("cy (EOF)")), "{model}: {log:?}");
    }
}

#[test]
fn a_client_vanishing_mid_line_disturbs_no_one() {
    for model in MODELS {
        let server = start(&["chat", "--model", model]);
        let (mut ann, _) = Client::join(server.addr, "ann");
        let (mut bob, _) = Client::join(server.addr, "bob");
        ann.expect("* bob joined");
        for (nick, vanish) in [("rude", "rst"), ("gone", "eof")] {
            let (mut c, _) = Client::join(server.addr, nick);
            ann.expect(&format!("* {nick} joined"));
            bob.expect(&format!("* {nick} joined"));
            c.writer.write_all(b"half a li").unwrap();
            if vanish == "rst" {
                c.reset();
            } else {
                c.writer.shutdown(Shutdown::Write).unwrap();
                c.expect_eof();
            }
            // The unfinished line is never sent, only the leave.
            ann.expect(&format!("* {nick} left"));
            bob.expect(&format!("* {nick} left"));
        }
        bob.send("still here");
        ann.expect("bob: still here");
        ann.send("me too");
        bob.expect("ann: me too");
        drop((ann, bob));
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("unfinished line: dropped")), "{model}: {log:?}");
    }
}

#[test]
fn fifty_clients_each_see_every_other_line() {
    for model in MODELS {
        let server = start(&["chat", "--model", model]);
        let mut clients: Vec<Client> = (0..50).map(|i| Client::join(server.addr, &format!("c{i}")).0).collect();
        for c in &mut clients {
            let line = format!("from {}", c.nick);
            c.send(&line);
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let mut joins = Vec::new();
            let mut lines = Vec::new();
            while lines.len() < 49 {
                let got = c.line();
                if got.ends_with(" joined") { joins.push(got) } else { lines.push(got) }
            }
            assert_eq!(joins.len(), 49 - i, "{model}: c{i} saw every later join");
            let mut want: Vec<String> = (0..50).filter(|&j| j != i).map(|j| format!("c{j}: from c{j}")).collect();
            lines.sort();
            want.sort();
            assert_eq!(lines, want, "{model}: what c{i} received");
        }
        drop(clients);
        stop(server);
    }
}

#[test]
fn a_member_that_never_reads_stalls_no_one() {
    for model in MODELS {
        let server = start(&["chat", "--model", model]);
        // ann joins and then never reads again.
        let (_ann, _) = Client::join(server.addr, "ann");
        let (mut bob, _) = Client::join(server.addr, "bob");
        let (mut cy, _) = Client::join(server.addr, "cy");
        // Far more than ann's socket buffers (loopback autotunes them to
        // several MB), the 1 MiB of unsent output and her 1 MiB mailbox hold.
        let (lines, text) = (3000, "x".repeat(4000));
        let writer = std::thread::spawn(move || {
            for _ in 0..lines {
                bob.send(&text);
            }
            bob.send("done");
            bob
        });
        for i in 0..lines {
            assert_eq!(cy.line().len(), "bob: ".len() + 4000, "{model}: line {i} reached cy");
        }
        cy.expect("bob: done");
        let _bob = writer.join().unwrap_or_else(|_| panic!("{model}: bob's writes never finished"));
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("ann is not reading")), "{model}: {log:?}");
    }
}

#[test]
fn iterative_model_is_a_room_of_one_at_a_time() {
    let server = start(&["chat", "--model", "iterative"]);
    let (mut ann, _) = Client::join(server.addr, "ann");
    // bob's connect completes in the kernel's accept queue, but the one
    // server thread is busy with ann: bob hears nothing, not even a greeting.
    let mut bob = connect(server.addr);
    bob.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 64];
    let err = bob.read(&mut buf).expect_err("nothing for bob while ann is served");
    assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
    bob.write_all(b"bob\nanyone?\n").unwrap();
    ann.send("hello?");
    ann.send("quit");
    ann.expect("* bye");
    ann.expect_eof();
    // Only now is bob accepted: alone in the room, and ann's line is gone for good.
    bob.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut bob = Client { nick: "bob".into(), reader: BufReader::new(bob.try_clone().unwrap()), writer: bob };
    bob.expect(GREETING);
    bob.expect("* welcome, bob (nobody else here yet)");
    drop(bob);
    stop(server);
}

/// The receive-thread chat client every Python tutorial ends up with:
/// a thread prints whatever arrives while the main thread reads input.
const PY_CLIENT: &str = r#"
import socket, sys, threading

def receive(sock):
    while True:
        data = sock.recv(1024)
        if not data:
            break
        print(data.decode(), end="", flush=True)

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))
t = threading.Thread(target=receive, args=(sock,))
t.start()
for line in sys.stdin:
    sock.sendall(line.rstrip("\n").encode() + b"\n")
sock.sendall("quit".encode() + b"\n")
t.join()
sock.close()
"#;

#[test]
fn a_python_client_with_a_receive_thread_chats() {
    if Command::new("python3").arg("-c").arg("pass").status().map(|s| !s.success()).unwrap_or(true) {
        eprintln!("python3 not found: skipping the Python chat client test");
        return;
    }
    let server = start(&["chat"]);
    let (mut ann, _) = Client::join(server.addr, "ann");
    let mut py = Command::new("python3")
        .args(["-c", PY_CLIENT, "127.0.0.1", &server.addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, py_lines) = mpsc::channel();
    let stdout = py.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin = py.stdin.take().unwrap();
    writeln!(stdin, "py\nhello from python").unwrap();
    ann.expect("* py joined");
    ann.expect("py: hello from python");
    ann.send("hi py, 你好");
    let mut seen = Vec::new();
    while !seen.iter().any(|l| l == "ann: hi py, 你好") {
        seen.push(py_lines.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("python printed only {seen:?}")));
    }
    assert_eq!(seen[..2], [GREETING, "* welcome, py (here: ann)"]);
    drop(stdin);
    ann.expect("* py left");
    let status = py.wait().unwrap();
    assert!(status.success());
    reader.join().unwrap();
    let rest: Vec<String> = py_lines.try_iter().collect();
    assert_eq!(rest, ["* bye"]);
    drop(ann);
    stop(server);
}
