//! `netlab serve auth`: challenge, HMAC answer, then echo — the real
//! binary, real clients on loopback (Rust and Python 3), every model.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Instant;

use common::server::{Server, TIMEOUT, connect, start, start_env, stop};
use hmac::{Hmac, Mac};

/// The models every auth test runs under: adding one is one line.
const MODELS: &[&str] = &[
    "iterative", //
    "thread",
];

const KEY: &[u8] = b"correct horse";

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn hmac_md5(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<md5::Md5>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn auth_server(model: &str, extra: &[&str]) -> Server {
    let mut args = vec!["auth", "--model", model, "--key", "correct horse"];
    args.extend_from_slice(extra);
    start(&args)
}

/// Connect and read the whole 32-byte challenge.
fn challenged(addr: SocketAddr) -> (TcpStream, [u8; 32]) {
    let mut s = connect(addr);
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).expect("the 32-byte challenge");
    (s, challenge)
}

/// After a refusal the server closes: EOF, with nothing sent.
fn assert_closed(s: &mut TcpStream, why: &str) {
    let mut buf = [0u8; 64];
    // A reset (we may have sent bytes the server never read) is a close too.
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "{why}: the server should have closed");
}

/// Lines from the server until one contains `needle` (or the timeout).
fn wait_line(server: &Server, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while let Ok(line) = server.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return seen;
        }
    }
    panic!("the server never logged {needle:?}: {seen:?}");
}

#[test]
fn the_right_mac_then_echo_the_bytes_after_it_included() {
    for model in MODELS {
        let server = auth_server(model, &[]);
        let (mut s, challenge) = challenged(server.addr);
        // The MAC and the first message in one write: nothing may be lost.
        let mut first = hmac_sha256(KEY, &challenge);
        first.extend_from_slice(b"hello ");
        s.write_all(&first).unwrap();
        s.write_all(b"world").unwrap();
        let mut got = [0u8; 11];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello world", "model {model}");
        wait_line(&server, "auth ok");
        drop(s);
        stop(server);
    }
}

#[test]
fn a_wrong_key_is_refused_and_the_server_keeps_serving() {
    for model in MODELS {
        let server = auth_server(model, &[]);
        let (mut s, challenge) = challenged(server.addr);
        s.write_all(&hmac_sha256(b"wrong horse", &challenge)).unwrap();
        assert_closed(&mut s, model);
        wait_line(&server, "auth failed: wrong MAC");
        // The next client, with the right key, is served.
        let (mut ok, challenge) = challenged(server.addr);
        ok.write_all(&[hmac_sha256(KEY, &challenge), b"ping".to_vec()].concat()).unwrap();
        let mut got = [0u8; 4];
        ok.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping", "model {model}");
        drop(ok);
        stop(server);
    }
}

#[test]
fn a_replayed_answer_fails_against_a_new_challenge() {
    for model in MODELS {
        let server = auth_server(model, &[]);
        // An eavesdropper records a good exchange…
        let (mut first, c1) = challenged(server.addr);
        let captured = hmac_sha256(KEY, &c1);
        first.write_all(&captured).unwrap();
        wait_line(&server, "auth ok");
        drop(first);
        // …and replays the answer on a connection of its own.
        let (mut replay, c2) = challenged(server.addr);
        assert_ne!(c1, c2, "every connection gets a fresh challenge");
        replay.write_all(&captured).unwrap();
        assert_closed(&mut replay, model);
        wait_line(&server, "auth failed: wrong MAC");
        stop(server);
    }
}

#[test]
fn md5_and_then_upper() {
    for model in MODELS {
        let server = auth_server(model, &["--digest", "md5", "--then", "upper"]);
        let (mut s, challenge) = challenged(server.addr);
        let answer = hmac_md5(KEY, &challenge);
        assert_eq!(answer.len(), 16);
        s.write_all(&answer).unwrap();
        s.write_all(b"quiet").unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"QUIET", "model {model}");
        drop(s);
        stop(server);
    }
}

#[test]
fn no_answer_in_time_closes_the_connection() {
    for model in MODELS {
        let server = auth_server(model, &["--auth-timeout", "200"]);
        let (mut s, challenge) = challenged(server.addr);
        // Half an answer, then silence.
        s.write_all(&hmac_sha256(KEY, &challenge)[..10]).unwrap();
        let started = Instant::now();
        assert_closed(&mut s, model);
        assert!(started.elapsed() < TIMEOUT);
        wait_line(&server, "auth failed: no answer within 200 ms (10 of 32 bytes)");
        stop(server);
    }
}

#[test]
fn the_key_can_come_from_netlab_key() {
    let server = start_env(&["auth", "--model", "thread"], &[("NETLAB_KEY", "correct horse")]);
    let (mut s, challenge) = challenged(server.addr);
    s.write_all(&[hmac_sha256(KEY, &challenge), b"env".to_vec()].concat()).unwrap();
    let mut got = [0u8; 3];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"env");
    drop(s);
    stop(server);
}

#[test]
fn no_key_is_refused_with_one_line_saying_how_to_give_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "auth"])
        .env("NO_COLOR", "1")
        .env_remove("NETLAB_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--key") && err.contains("NETLAB_KEY") && err.trim().lines().count() == 1, "{err}");
}

/// A client written the classic way (the Python cookbook's
/// client_authenticate, with the digest Python 3.8+ requires).
const PYTHON_CLIENT: &str = r#"
import hashlib
import hmac
import socket
import sys

port, digest = int(sys.argv[1]), sys.argv[2]
secret_key = b'correct horse'

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(('127.0.0.1', port))
s.settimeout(10)
message = s.recv(32)
if digest == 'md5':
    hash = hmac.new(secret_key, message, hashlib.md5)
else:
    hash = hmac.new(secret_key, message, hashlib.sha256)
s.send(hash.digest())
s.send(b'Hello from Python')
print(s.recv(1024).decode())
s.close()
"#;

#[test]
fn a_classic_python_client_authenticates_with_sha256_and_md5() {
    for (digest, model) in [("sha256", "thread"), ("md5", "iterative")] {
        let server = auth_server(model, &["--digest", digest]);
        let args = [server.addr.port().to_string(), digest.to_string()];
        let Some(out) = common::python_client::run(PYTHON_CLIENT, &args) else { return };
        assert_eq!(out.trim(), "Hello from Python", "{digest}");
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("auth ok")), "{log:?}");
    }
}
