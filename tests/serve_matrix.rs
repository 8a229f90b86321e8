//! Every protocol × every model: the real `netlab serve`, one scripted
//! client per protocol written from the spec in curriculum.md, against
//! each concurrency model that can run it. The protocol code is written
//! once; this proves every driver runs it the same.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use common::server::{connect, start, stop};

/// A client that speaks one protocol and checks the answers.
type Script = fn(SocketAddr) -> Result<(), String>;

const MODELS: &[&str] = &["iterative", "thread"];

fn expect_reply(addr: SocketAddr, send: &[u8], want: &[u8]) -> Result<(), String> {
    let mut s = connect(addr);
    // Split the request in two writes: no protocol may assume one recv = one message.
    let (a, b) = send.split_at(send.len() / 2);
    s.write_all(a).map_err(|e| e.to_string())?;
    s.write_all(b).map_err(|e| e.to_string())?;
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).map_err(|e| format!("reading the reply: {e}"))?;
    if got == want { Ok(()) } else { Err(format!("sent {send:?}, got {got:?}, wanted {want:?}")) }
}

fn echo(addr: SocketAddr) -> Result<(), String> {
    expect_reply(addr, b"hello, models\n", b"hello, models\n")
}

fn upper(addr: SocketAddr) -> Result<(), String> {
    expect_reply(addr, b"hello, models\n", b"HELLO, MODELS\n")
}

/// Read the 32-byte challenge, answer HMAC-SHA256(key, challenge) with a
/// message in the same write, and get the message echoed.
fn auth(addr: SocketAddr) -> Result<(), String> {
    use hmac::Mac;
    let mut s = connect(addr);
    let mut challenge = [0u8; 32];
    s.read_exact(&mut challenge).map_err(|e| format!("reading the challenge: {e}"))?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"k").map_err(|e| e.to_string())?;
    mac.update(&challenge);
    let answer = [mac.finalize().into_bytes().as_slice(), b"after auth"].concat();
    s.write_all(&answer).map_err(|e| e.to_string())?;
    let mut got = [0u8; 10];
    s.read_exact(&mut got).map_err(|e| format!("reading the echo: {e}"))?;
    if &got == b"after auth" { Ok(()) } else { Err(format!("got {got:?} after auth")) }
}

/// file: a put, then a get of the same bytes (the framing and the
/// digest are checked in detail in serve_file.rs).
fn file(addr: SocketAddr) -> Result<(), String> {
    let frame = |json: &str, body: &[u8]| {
        let mut f = (json.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(json.as_bytes());
        f.extend_from_slice(body);
        f
    };
    // sha256("hello")
    let sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let mut send = frame(&format!(r#"{{"cmd":"put","name":"m.txt","sha256":"{sha}","data_size":5}}"#), b"hello");
    send.extend(frame(r#"{"cmd":"get","name":"m.txt","data_size":0}"#, b""));
    let put = format!(r#"{{"data_size":0,"name":"m.txt","sha256":"{sha}","size":5,"status":"ok"}}"#);
    let get = format!(r#"{{"data_size":5,"name":"m.txt","sha256":"{sha}","size":5,"status":"ok"}}"#);
    let mut want = frame(&put, b"");
    want.extend(frame(&get, b"hello"));
    expect_reply(addr, &send, &want)
}

/// `[4-byte big-endian length][JSON header][body]`, as the spec writes it.
fn json_frame(header: &str, body: &[u8]) -> Vec<u8> {
    [&(header.len() as u32).to_be_bytes()[..], header.as_bytes(), body].concat()
}

fn framed(addr: SocketAddr) -> Result<(), String> {
    let msg = json_frame("{\"data_size\":5}", b"hello");
    expect_reply(addr, &msg, &msg)
}

fn cmd(addr: SocketAddr) -> Result<(), String> {
    expect_reply(addr, b"echo hi\n", &json_frame("{\"data_size\":3,\"status\":\"ok\"}", b"hi\n"))
}

/// `(protocol, extra serve flags, script)`.
const PROTOCOLS: &[(&str, &[&str], Script)] = &[
    ("echo", &[], echo),
    ("upper", &[], upper),
    ("framed", &[], framed),
    ("cmd", &[], cmd),
    ("auth", &["--key", "k"], auth),
    ("file", &[], file),
];

#[test]
fn every_protocol_answers_under_every_model() {
    let mut failures = Vec::new();
    for (proto, flags, script) in PROTOCOLS {
        for model in MODELS {
            let mut args = vec![*proto, "--model", model];
            args.extend_from_slice(flags);
            let server = start(&args);
            // Two clients one after the other: the second proves the model
            // went back to accepting after the first closed.
            for round in 1..=2 {
                if let Err(e) = script(server.addr) {
                    failures.push(format!("{proto} × {model}, client {round}: {e}"));
                }
            }
            stop(server);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
