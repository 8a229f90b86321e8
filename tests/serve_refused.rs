//! A client past `--max-conns` is refused in every model that caps its
//! clients: told why where the protocol has a way to say it (a chat line,
//! a framed error reply), and closed with a FIN, never a reset.

mod common;

use std::io::{Read, Write};

use common::server::{Server, connect, start, stop, wait_log};
use netlab::proto::json_header::{Decoder, LengthOrder};

/// Every model but iterative (which holds one client and queues the rest
/// in the kernel), as the flags after `--model`.
const MODELS: &[&[&str]] =
    &[&["thread"], &["fork"], &["pool"], &["select"], &["poll"], &["epoll"], &["epoll", "--edge"]];

fn start_capped(proto: &str, variant: &[&str]) -> Server {
    let mut args = vec![proto, "--model"];
    args.extend_from_slice(variant);
    args.extend_from_slice(&["--max-conns", "1", "--workers", "2"]);
    start(&args)
}

/// A request each protocol answers at once, so a client that got an
/// answer is certainly the one connection the server holds.
fn probe(proto: &str) -> Vec<u8> {
    match proto {
        "file" => {
            let json = br#"{"cmd":"list","data_size":0}"#;
            [&(json.len() as u32).to_be_bytes()[..], json].concat()
        }
        "cmd" => b"echo x\n".to_vec(),
        // chat greets on connect; echo echoes.
        _ => b"x".to_vec(),
    }
}

/// Everything the refused client receives, up to a clean EOF.
fn refused_bytes(server: &Server, what: &str) -> Vec<u8> {
    let mut extra = connect(server.addr);
    let mut got = Vec::new();
    extra.read_to_end(&mut got).unwrap_or_else(|e| panic!("{what}: not a clean close: {e}"));
    got
}

/// The one framed reply in `bytes`.
fn frame(bytes: &[u8], what: &str) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let mut dec = Decoder::new(LengthOrder::BigEndian);
    dec.push(bytes);
    let f = dec.next_frame().unwrap_or_else(|e| panic!("{what}: {e}")).unwrap_or_else(|| panic!("{what}: no frame"));
    assert!(dec.next_frame().unwrap().is_none(), "{what}: one reply only");
    (f.header, f.body)
}

#[test]
fn a_refused_client_is_told_why_where_the_protocol_allows_and_gets_a_fin() {
    for proto in ["chat", "cmd", "file", "echo"] {
        for variant in MODELS.iter().filter(|v| !(proto == "chat" && v[0] == "fork")) {
            let what = format!("{proto} --model {}", variant.join(" "));
            let server = start_capped(proto, variant);
            let mut held = connect(server.addr);
            held.write_all(&probe(proto)).unwrap();
            let mut first = [0u8; 1];
            held.read_exact(&mut first).unwrap_or_else(|e| panic!("{what}: the first client is served: {e}"));
            let got = refused_bytes(&server, &what);
            let why = "1 client already connected (--max-conns)";
            match proto {
                "chat" => {
                    let text = String::from_utf8(got).unwrap();
                    assert_eq!(text, format!("* the server is full: {why}; try again later\n"), "{what}");
                }
                "cmd" => {
                    let (header, body) = frame(&got, &what);
                    assert_eq!(header["status"], "error", "{what}");
                    let body = String::from_utf8(body).unwrap();
                    assert!(body.contains(why), "{what}: {body}");
                }
                "file" => {
                    let (header, body) = frame(&got, &what);
                    assert_eq!(header["status"], "error", "{what}");
                    assert!(header["error"].as_str().unwrap().contains(why), "{what}: {header:?}");
                    assert!(body.is_empty());
                }
                // An echo client would take any byte for an echo: nothing but the FIN.
                _ => assert!(got.is_empty(), "{what}: {got:?}"),
            }
            wait_log(&server, "refused: 1 client already connected", 1);
            drop(held);
            stop(server);
        }
    }
}
