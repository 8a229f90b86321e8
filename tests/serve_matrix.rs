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

/// `(protocol, extra serve flags, script)`.
const PROTOCOLS: &[(&str, &[&str], Script)] = &[("echo", &[], echo), ("upper", &[], upper)];

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
