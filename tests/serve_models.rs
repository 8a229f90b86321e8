//! The concurrency models of `netlab serve`, run as the real binary: each
//! one answers scripted clients, many at once, survives clients that
//! misbehave, and shuts down on SIGTERM leaving no child behind.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use common::server::{Server, connect, round_trip, start, stop, wait_log};
use netlab::serve::Model;

/// Every model, plus epoll edge-triggered: the flags after `--model`.
fn variants() -> Vec<Vec<&'static str>> {
    let mut v: Vec<Vec<&str>> = Model::ALL.iter().map(|m| vec![m.name()]).collect();
    v.push(vec!["epoll", "--edge"]);
    v
}

fn start_with(proto: &str, variant: &[&str], extra: &[&str]) -> Server {
    let mut args = vec![proto, "--model"];
    args.extend_from_slice(variant);
    args.extend_from_slice(extra);
    start(&args)
}

fn big_payload() -> Vec<u8> {
    (0..1 << 20).map(|i| b"abcdefghij\n\x00\xff"[i % 13]).collect()
}

/// One request and its reply on an open connection.
fn exchange(s: &mut TcpStream, send: &[u8], want: &[u8], what: &str) {
    s.write_all(send).unwrap_or_else(|e| panic!("{what}: send: {e}"));
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap_or_else(|e| panic!("{what}: reply: {e}"));
    assert_eq!(got, want, "{what}");
}

fn reads_eof(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 16];
    // A reset counts: the server closed it either way.
    s.read(&mut b).map_or(true, |n| n == 0)
}

#[test]
fn every_model_echoes_and_upper_cases_whatever_the_split() {
    let big = big_payload();
    for variant in variants() {
        let what = variant.join(" ");
        let echo = start_with("echo", &variant, &[]);
        let words = b"byte by byte, split anywhere\n".repeat(20);
        assert_eq!(round_trip(echo.addr, words.clone(), 1), words, "{what}: 1-byte writes");
        assert_eq!(round_trip(echo.addr, big.clone(), 4096), big, "{what}: 1 MiB echo");
        stop(echo);
        let upper = start_with("upper", &variant, &[]);
        assert_eq!(round_trip(upper.addr, b"hello, World\n".to_vec(), 1), b"HELLO, WORLD\n", "{what}");
        assert_eq!(round_trip(upper.addr, big.clone(), 65536), big.to_ascii_uppercase(), "{what}: 1 MiB upper");
        stop(upper);
    }
}

#[test]
fn every_model_answers_200_clients_at_once() {
    const CLIENTS: usize = 200;
    for variant in variants() {
        let what = variant.join(" ");
        let server = start_with("echo", &variant, &[]);
        let addr = server.addr;
        // Thread, fork and the event loops answer every client while the
        // earlier ones stay connected (each thread hands its connection
        // back, open); iterative and a pool of 4 answer a few at a time,
        // so those clients close once answered.
        let hold = !matches!(variant[0], "iterative" | "pool");
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let what = what.clone();
                std::thread::spawn(move || {
                    let mut s = connect(addr);
                    let msg = format!("client {i} of {CLIENTS}\n");
                    exchange(&mut s, msg.as_bytes(), msg.as_bytes(), &what);
                    hold.then_some(s)
                })
            })
            .collect();
        let held: Vec<TcpStream> = clients
            .into_iter()
            .filter_map(|c| c.join().unwrap_or_else(|_| panic!("{what}: a client failed")))
            .collect();
        assert_eq!(held.len(), if hold { CLIENTS } else { 0 }, "{what}");
        let log = stop(server);
        assert!(!log.iter().any(|l| l.contains("refused")), "{what}: {log:?}");
    }
}

/// Connect, send garbage, and reset the connection without reading.
fn rude_client(addr: SocketAddr) {
    let mut s = connect(addr);
    let garbage: Vec<u8> = (0..64 * 1024).map(|i| (i * 7919 % 256) as u8).collect();
    let _ = s.write_all(&garbage);
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
    drop(s);
}

#[test]
fn resets_and_half_closes_do_not_disturb_the_other_clients() {
    for variant in variants() {
        let what = variant.join(" ");
        let server = start_with("upper", &variant, &[]);
        let iterative = variant[0] == "iterative";
        // A client in the middle of a conversation (the iterative model
        // serves only one at a time, so it gets none).
        let mut steady = (!iterative).then(|| {
            let mut s = connect(server.addr);
            exchange(&mut s, b"one", b"ONE", &what);
            s
        });
        rude_client(server.addr);
        // Half-close: the client has finished sending but still reads.
        let mut half = connect(server.addr);
        half.write_all(b"last words").unwrap();
        half.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        half.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"LAST WORDS", "{what}: half-closed client");
        rude_client(server.addr);
        if let Some(s) = steady.as_mut() {
            exchange(s, b"two", b"TWO", &what);
        }
        assert_eq!(round_trip(server.addr, b"after".to_vec(), 2), b"AFTER", "{what}");
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("reset")), "{what}: the reset is logged: {log:?}");
        if let Some(mut s) = steady {
            assert!(reads_eof(&mut s), "{what}: the server closed the steady client on shutdown");
        }
    }
}

/// `(pid, state)` of every process whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) S ppid …": comm may hold spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let parent: u32 = fields.next()?.parse().ok()?;
            (parent == ppid).then_some((pid, state))
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn sigterm_with_clients_connected_exits_zero_and_leaves_no_child() {
    for variant in variants() {
        let what = variant.join(" ");
        let server = start_with("echo", &variant, &[]);
        let n = if variant[0] == "iterative" { 1 } else { 3 };
        let mut held: Vec<TcpStream> = (0..n)
            .map(|i| {
                let mut s = connect(server.addr);
                exchange(&mut s, format!("{i}").as_bytes(), format!("{i}").as_bytes(), &what);
                s
            })
            .collect();
        let pid = server.child.id();
        let kids = children_of(pid);
        if variant[0] == "fork" {
            assert_eq!(kids.len(), n, "{what}: one child per client: {kids:?}");
        } else {
            assert!(kids.is_empty(), "{what}: no child processes: {kids:?}");
        }
        let log = stop(server);
        for (kid, _) in &kids {
            // Reaped by the server itself, not left to init.
            assert!(log.iter().any(|l| l.contains(&format!("child {kid} exited, reaped"))), "{what}: {log:?}");
            assert!(!alive(*kid), "{what}: child {kid} outlived the server");
        }
        for s in &mut held {
            assert!(reads_eof(s), "{what}: clients are closed on shutdown");
        }
    }
}

#[test]
fn fork_reaps_every_child_unless_told_not_to() {
    let server = start(&["echo", "--model", "fork"]);
    for i in 0..3 {
        assert_eq!(round_trip(server.addr, vec![b'a' + i; 10], 3), vec![b'a' + i; 10]);
    }
    wait_log(&server, "reaped", 3);
    let kids = children_of(server.child.id());
    assert!(kids.is_empty(), "every child reaped, no zombie: {kids:?}");
    stop(server);

    let server = start(&["echo", "--model", "fork", "--no-reap"]);
    for i in 0..3 {
        assert_eq!(round_trip(server.addr, vec![b'a' + i; 10], 3), vec![b'a' + i; 10]);
    }
    wait_log(&server, "left a zombie", 3);
    let kids = children_of(server.child.id());
    assert_eq!(kids.len(), 3, "{kids:?}");
    assert!(kids.iter().all(|(_, state)| *state == 'Z'), "three zombies: {kids:?}");
    let log = stop(server);
    for (kid, _) in &kids {
        assert!(log.iter().any(|l| l.contains(&format!("child {kid} exited, reaped at shutdown"))), "{log:?}");
    }
}

#[test]
fn fork_refuses_chat_because_the_room_cannot_be_shared() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "chat", "--model", "fork"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chat needs one room shared by every client") && err.contains("own process"), "{err}");
}

#[test]
fn pool_queues_clients_while_every_worker_is_busy() {
    let server = start(&["echo", "--model", "pool", "--workers", "2"]);
    let mut first = connect(server.addr);
    exchange(&mut first, b"1", b"1", "first");
    let mut second = connect(server.addr);
    exchange(&mut second, b"2", b"2", "second");
    // Both workers hold a client: the third is accepted but waits in the queue.
    let mut third = connect(server.addr);
    third.write_all(b"3").unwrap();
    wait_log(&server, "queued: all 2 workers are busy", 1);
    // Once a worker is free, it takes the third client.
    drop(first);
    let mut b = [0u8; 1];
    third.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"3");
    drop((second, third));
    stop(server);
}

#[test]
fn every_model_but_iterative_caps_its_clients() {
    for variant in variants().into_iter().filter(|v| v[0] != "iterative") {
        let what = variant.join(" ");
        let server = start_with("echo", &variant, &["--max-conns", "2", "--workers", "2"]);
        let held: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut s = connect(server.addr);
                exchange(&mut s, b"x", b"x", &what);
                s
            })
            .collect();
        let mut extra = connect(server.addr);
        assert!(reads_eof(&mut extra), "{what}: the third client is closed at once");
        wait_log(&server, "refused: 2 clients already connected", 1);
        drop(held);
        stop(server);
    }
}

#[test]
fn pool_with_no_workers_is_refused_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "echo", "--model", "pool", "--workers", "0"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--workers 0") && err.trim().lines().count() == 1, "{err}");
}

/// The classic tutorial client: many sockets open at once, each sends a
/// line, then each reads its reply — in Python, written from the spec.
const PY_CLIENTS: &str = r#"
import socket, sys
socket.setdefaulttimeout(10)
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
for i, s in enumerate(socks):
    s.sendall(b"hello %d\n" % i)
for i, s in enumerate(socks):
    want = b"HELLO %d\n" % i
    got = b""
    while len(got) < len(want):
        chunk = s.recv(1024)
        if not chunk:
            break
        got += chunk
    assert got == want, (got, want)
    s.close()
print("ok")
"#;

#[test]
fn a_python_client_with_20_sockets_open_is_answered_by_every_concurrent_model() {
    for variant in variants().into_iter().filter(|v| v[0] != "iterative") {
        let what = variant.join(" ");
        let server = start_with("upper", &variant, &["--workers", "32"]);
        let Some(said) = common::python_client::run(PY_CLIENTS, &[server.addr.port().to_string()]) else { return };
        assert_eq!(said.trim(), "ok", "{what}");
        stop(server);
    }
}
