//! `netlab serve`: the real binary as a child process, real clients on
//! loopback, shutdown by SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{TIMEOUT, connect, round_trip, start, stop};

fn big_payload() -> Vec<u8> {
    (0..1 << 20).map(|i| b"abcdefghij\n\x00\xff"[i % 13]).collect()
}

#[test]
fn thread_model_echoes_many_clients_at_once_and_stops_on_sigterm() {
    let server = start(&["echo", "--model", "thread"]);
    let addr = server.addr;
    // A client that stays connected and idle must not block the others.
    let idle = connect(addr);
    let clients: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let payload =
                    if i == 0 { big_payload() } else { format!("client {i} says hi\n").repeat(50).into_bytes() };
                let chunk = if i == 1 { 1 } else { 4096 };
                assert_eq!(round_trip(addr, payload.clone(), chunk), payload, "client {i}");
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    drop(idle);
    stop(server);
}

#[test]
fn thread_model_refuses_clients_past_its_cap_and_keeps_serving() {
    let server = start(&["echo", "--model", "thread", "--max-conns", "8"]);
    // 8 clients, each answered, so each has its own live thread.
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = connect(server.addr);
            c.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).unwrap();
            c
        })
        .collect();
    let mut extra = connect(server.addr);
    let mut buf = [0u8; 8];
    assert_eq!(extra.read(&mut buf).unwrap_or(0), 0, "the 9th client is closed at once");
    // Once one leaves (and its thread is reaped), a new client is served.
    drop(held.pop());
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut c = connect(server.addr);
        c.write_all(b"y").unwrap();
        if c.read(&mut buf[..1]).unwrap_or(0) == 1 {
            break;
        }
        // Refused again: the left client's thread had not finished yet.
        assert!(Instant::now() < deadline, "never served again after a client left");
    }
    drop(held);
    let log = stop(server);
    assert!(log.iter().any(|l| l.contains("refused: 8 clients")), "{log:?}");
}

#[test]
fn thread_model_upper_cases() {
    let server = start(&["upper"]);
    let big = big_payload();
    assert_eq!(round_trip(server.addr, big.clone(), 65536), big.to_ascii_uppercase());
    assert_eq!(round_trip(server.addr, b"hello, World\n".to_vec(), 1), b"HELLO, WORLD\n");
    // A client that resets its connection closes only itself.
    let rude = connect(server.addr);
    socket2::SockRef::from(&rude).set_linger(Some(Duration::ZERO)).unwrap();
    drop(rude);
    assert_eq!(round_trip(server.addr, b"still here".to_vec(), 3), b"STILL HERE");
    stop(server);
}

#[test]
fn iterative_model_serves_one_client_and_stops_on_sigterm() {
    let server = start(&["echo", "--model", "iterative"]);
    assert_eq!(round_trip(server.addr, big_payload(), 1000), big_payload());
    let upper = start(&["upper", "--model", "iterative"]);
    assert_eq!(round_trip(upper.addr, b"abc".to_vec(), 1), b"ABC");
    stop(upper);
    stop(server);
}

#[test]
fn iterative_model_accepts_the_next_client_only_after_the_first_closes() {
    let server = start(&["echo", "--model", "iterative"]);
    let mut first = connect(server.addr);
    first.write_all(b"1").unwrap();
    let mut buf = [0u8; 1];
    first.read_exact(&mut buf).unwrap();
    // The second client's handshake completes in the kernel's listen queue
    // and its byte waits in its socket: nobody has accepted it yet.
    let mut second = connect(server.addr);
    second.write_all(b"2").unwrap();
    drop(first);
    second.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"2");
    drop(second);
    let log = stop(server);
    let at = |needle: &str| log.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {log:?}"));
    assert!(at("conn#1 close") < at("conn#2 accept"), "{log:?}");
}

#[test]
fn sigterm_with_a_client_still_connected_exits_zero() {
    let server = start(&["echo", "--model", "iterative"]);
    let mut held = connect(server.addr);
    held.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    held.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    stop(server);
    // The server closed our connection on its way out.
    assert_eq!(held.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn non_loopback_addr_is_refused_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "echo", "--addr", "0.0.0.0:0"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a loopback address") && err.trim().lines().count() == 1, "{err}");
}
