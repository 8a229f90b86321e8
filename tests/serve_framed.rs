//! `netlab serve framed`: the real binary, real clients, every model in
//! MODELS, and a classic Python client for wire compatibility.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::server::{connect, round_trip, start, stop, wait_log};
use netlab::proto::decode_all;
use netlab::proto::json_header::{self, Decoder, LengthOrder};

/// The models that serve framed; a new model is one more name here.
const MODELS: &[&str] = &["iterative", "thread"];

fn bodies() -> Vec<Vec<u8>> {
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    vec![b"hello".to_vec(), Vec::new(), "中文\0\n".as_bytes().to_vec(), big]
}

fn stream(bodies: &[Vec<u8>], order: LengthOrder) -> Vec<u8> {
    bodies.iter().flat_map(|b| json_header::encode_body(b, order).unwrap()).collect()
}

/// A 4-byte big-endian length and the header it announces.
fn be(json: &[u8]) -> Vec<u8> {
    [&(json.len() as u32).to_be_bytes()[..], json].concat()
}

fn reply_bodies(bytes: &[u8], order: LengthOrder) -> Vec<Vec<u8>> {
    let frames = decode_all(Decoder::new(order), [bytes]).expect("the replies are well framed");
    frames.into_iter().map(|f| f.body).collect()
}

/// The connection was closed by the server: read gives EOF, or a reset
/// when the server closed with our bytes unread (not a timeout).
fn closed_by_server(mut s: TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn every_model_echoes_framed_messages_whatever_the_split() {
    for model in MODELS {
        for (flag, order) in [(None, LengthOrder::BigEndian), (Some("--native-endian"), LengthOrder::LittleEndian)] {
            let mut args = vec!["framed", "--model", model];
            args.extend(flag);
            let server = start(&args);
            for chunk in [1, 7, 65536] {
                // One byte per write for the small messages only: 1 MiB
                // that way would take minutes.
                let want = if chunk == 1 { bodies()[..3].to_vec() } else { bodies() };
                let got = reply_bodies(&round_trip(server.addr, stream(&want, order), chunk), order);
                assert_eq!(got, want, "{model} {flag:?} chunk {chunk}");
            }
            stop(server);
        }
    }
}

#[test]
fn garbage_and_wrong_lengths_close_that_connection_only() {
    for model in MODELS {
        let server = start(&["framed", "--model", model]);
        let hostile: Vec<Vec<u8>> = vec![
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            json_header::encode_body(b"hello", LengthOrder::LittleEndian).unwrap(),
            be(b"not json!"),
            be(b"{\"size\":1}"),
            be(b"{\"data_size\":999999999999}"),
            vec![0xff; 4],
        ];
        for bytes in &hostile {
            let mut c = connect(server.addr);
            c.write_all(bytes).unwrap();
            assert!(closed_by_server(c), "{model}: {bytes:?} should close the connection");
        }
        // Still serving, and a client that dies mid-frame changes nothing.
        let mut half = connect(server.addr);
        half.write_all(&json_header::encode_body(b"unfinished", LengthOrder::BigEndian).unwrap()[..20]).unwrap();
        drop(half);
        // Its handler may run after the next client's (threads): read the
        // log up to it, or the stop below could come first.
        let mut log = wait_log(&server, "closed mid-frame", 1);
        let ok = round_trip(server.addr, json_header::encode_body(b"ok", LengthOrder::BigEndian).unwrap(), 3);
        assert_eq!(reply_bodies(&ok, LengthOrder::BigEndian), [b"ok"]);
        log.extend(stop(server));
        let closing = log.iter().filter(|l| l.contains("closing this connection")).count();
        assert_eq!(closing, hostile.len(), "{model}: one line per hostile client: {log:?}");
        assert!(log.iter().any(|l| l.contains("little-endian length?")), "{log:?}");
        assert!(log.iter().any(|l| l.contains("closed mid-frame")), "{log:?}");
    }
}

#[test]
fn a_classic_python_client_talks_to_it_in_both_byte_orders() {
    for (flag, fmt) in [(None, ">i"), (Some("--native-endian"), "i")] {
        let mut args = vec!["framed"];
        args.extend(flag);
        let server = start(&args);
        let argv = [server.addr.ip().to_string(), server.addr.port().to_string(), fmt.to_string()];
        if let Some(out) = common::python_client::run(include_str!("py/framed_client.py"), &argv) {
            assert_eq!(out, "same 5\nsame 0\nsame 13\nsame 1000000\n", "{fmt}");
        }
        stop(server);
    }
}
