//! The file server's handler, driven without sockets: requests in any
//! split, hostile names, lying headers, connections that end early.

use super::*;
use crate::proto::json_header::{DEFAULT_MAX_HEADER, Decoder, Frame, encode};
use crate::serve::handler::test_ctx;
use serde_json::{Value, json};

fn server(order: LengthOrder) -> (FileServer, Arc<FileRoot>) {
    let root = Arc::new(FileRoot::open(None).unwrap());
    (FileServer::new(root.clone(), order, test_ctx()), root)
}

fn request(fields: Value, body: &[u8], order: LengthOrder) -> Vec<u8> {
    let Value::Object(map) = fields else { panic!("not an object") };
    encode(&map, body, order).unwrap()
}

fn put(name: &str, body: &[u8]) -> Vec<u8> {
    request(json!({"cmd": "put", "name": name, "sha256": sha256_hex(body)}), body, LengthOrder::BigEndian)
}

fn get(name: &str) -> Vec<u8> {
    request(json!({"cmd": "get", "name": name}), b"", LengthOrder::BigEndian)
}

fn list() -> Vec<u8> {
    request(json!({"cmd": "list"}), b"", LengthOrder::BigEndian)
}

/// "Send" `out`, then ask for more while the handler has it, checking
/// that no piece is more than a chunk. Returns the last piece's flow.
fn send_more(handler: &mut FileServer, out: &mut Vec<u8>, sent: &mut Vec<u8>, mut flow: Flow) -> Flow {
    loop {
        assert!(out.len() < CHUNK + 4096, "one piece holds at most a chunk, not {}", out.len());
        sent.append(out);
        if !handler.has_more() {
            return flow;
        }
        if handler.on_room(out) == Flow::Close {
            flow = Flow::Close;
        }
    }
}

/// What a driver does: feed each chunk and send what the handler has,
/// then EOF. Returns the bytes sent and whether the handler closed before EOF.
fn drive(handler: &mut FileServer, input: &[u8], splits: &[usize]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut sent = Vec::new();
    let mut rest = input;
    let mut sizes = splits.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let flow = handler.on_bytes(chunk, &mut out);
        if send_more(handler, &mut out, &mut sent, flow) == Flow::Close {
            return (sent, true);
        }
    }
    handler.on_eof(&mut out);
    assert_eq!(send_more(handler, &mut out, &mut sent, Flow::Close), Flow::Close);
    assert!(!handler.has_more());
    (sent, false)
}

fn replies(bytes: &[u8], order: LengthOrder) -> Vec<Frame> {
    let mut dec = Decoder::with_limits(order, DEFAULT_MAX_HEADER, MAX_FILE as usize);
    dec.push(bytes);
    let mut frames = Vec::new();
    while let Some(f) = dec.next_frame().unwrap() {
        frames.push(f);
    }
    dec.finish().unwrap();
    frames
}

fn status(f: &Frame) -> &str {
    f.header["status"].as_str().unwrap()
}

fn error_text(f: &Frame) -> &str {
    assert_eq!(status(f), "error", "{:?}", f.header);
    f.header["error"].as_str().unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn put_list_get_round_trip_whatever_the_split() {
    let body = data(3 * CHUNK + 123);
    let mut input = put("big.bin", &body);
    input.extend(list());
    input.extend(get("big.bin"));
    for splits in [&[7][..], &[1, 4096, 3], &[65536], &[input.len()]] {
        let (mut srv, root) = server(LengthOrder::BigEndian);
        let (out, closed) = drive(&mut srv, &input, splits);
        assert!(!closed);
        let r = replies(&out, LengthOrder::BigEndian);
        assert_eq!(r.len(), 3, "splits {splits:?}");
        assert_eq!(status(&r[0]), "ok");
        assert_eq!(r[0].header["sha256"], Value::from(sha256_hex(&body)));
        let listed: Value = serde_json::from_slice(&r[1].body).unwrap();
        assert_eq!(listed, json!([{"name": "big.bin", "size": body.len()}]));
        assert_eq!(status(&r[2]), "ok");
        assert_eq!(r[2].header["sha256"], Value::from(sha256_hex(&body)));
        assert_eq!(r[2].body, body, "splits {splits:?}");
        assert_eq!(std::fs::read(root.path().join("big.bin")).unwrap(), body);
    }
}

#[test]
fn every_two_chunk_split_of_a_small_session() {
    let mut input = put("a.txt", b"hello ## world");
    input.extend(get("a.txt"));
    input.extend(request(json!({"cmd": "quit"}), b"", LengthOrder::BigEndian));
    for cut in 1..input.len() {
        let (mut srv, _root) = server(LengthOrder::BigEndian);
        let (out, closed) = drive(&mut srv, &input, &[cut, input.len()]);
        assert!(closed, "quit closes (cut {cut})");
        let r = replies(&out, LengthOrder::BigEndian);
        assert_eq!(r.len(), 3, "cut {cut}");
        assert_eq!(r[1].body, b"hello ## world", "cut {cut}");
        assert_eq!(status(&r[2]), "ok");
    }
}

#[test]
fn little_endian_lengths_with_native_endian() {
    let le = LengthOrder::LittleEndian;
    let (mut srv, _root) = server(le);
    let mut input = request(json!({"cmd": "put", "name": "x", "sha256": sha256_hex(b"abc")}), b"abc", le);
    input.extend(request(json!({"cmd": "get", "name": "x"}), b"", le));
    let r = replies(&drive(&mut srv, &input, &[5]).0, le);
    assert_eq!(r[1].body, b"abc");
}

#[test]
fn traversal_names_are_refused_and_nothing_is_written() {
    let (mut srv, root) = server(LengthOrder::BigEndian);
    let bad = ["../x", "/etc/passwd", "a/../../x", "..", ".", "a\0b", ".hidden", ""];
    let mut input = Vec::new();
    for name in bad {
        input.extend(put(name, b"owned"));
        input.extend(get(name));
    }
    input.extend(list());
    let r = replies(&drive(&mut srv, &input, &[13]).0, LengthOrder::BigEndian);
    assert_eq!(r.len(), bad.len() * 2 + 1);
    for (i, f) in r[..bad.len() * 2].iter().enumerate() {
        let why = error_text(f);
        assert!(!why.is_empty(), "{}: {why}", bad[i / 2]);
    }
    assert!(error_text(&r[2]).contains("'/'"), "{}", error_text(&r[2]));
    assert_eq!(r.last().unwrap().body, b"[]");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "nothing written, no temp file left");
    let parent = root.path().parent().unwrap();
    assert!(!parent.join("x").exists());
}

#[test]
fn a_symlink_to_outside_is_not_followed() {
    let (mut srv, root) = server(LengthOrder::BigEndian);
    let outside = FileRoot::open(None).unwrap();
    std::fs::write(outside.path().join("secret"), b"top secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link")).unwrap();
    let mut input = get("link");
    input.extend(put("link", b"overwrite?"));
    let r = replies(&drive(&mut srv, &input, &[100]).0, LengthOrder::BigEndian);
    assert!(error_text(&r[0]).contains("symlink"), "{}", error_text(&r[0]));
    assert!(r[0].body.is_empty());
    assert!(error_text(&r[1]).contains("symlink"), "{}", error_text(&r[1]));
    assert_eq!(std::fs::read(outside.path().join("secret")).unwrap(), b"top secret");
}

#[test]
fn a_wrong_sha256_stores_nothing_and_the_stream_stays_in_step() {
    let (mut srv, root) = server(LengthOrder::BigEndian);
    let body = b"the real content";
    let mut input =
        request(json!({"cmd": "put", "name": "a.txt", "sha256": sha256_hex(b"other")}), body, LengthOrder::BigEndian);
    input.extend(request(json!({"cmd": "put", "name": "b.txt", "sha256": "xyz"}), body, LengthOrder::BigEndian));
    input.extend(request(json!({"cmd": "put", "name": "c.txt"}), body, LengthOrder::BigEndian));
    input.extend(list());
    let r = replies(&drive(&mut srv, &input, &[3]).0, LengthOrder::BigEndian);
    assert!(error_text(&r[0]).contains("sha256 mismatch"));
    assert!(error_text(&r[1]).contains("64 hex digits"));
    assert!(error_text(&r[2]).contains("needs \"sha256\""));
    assert_eq!(r[3].body, b"[]", "and the list request after them is answered");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn a_body_cut_short_by_eof_stores_nothing() {
    let (mut srv, root) = server(LengthOrder::BigEndian);
    let full = put("a.txt", &data(100_000));
    let (out, closed) = drive(&mut srv, &full[..full.len() - 10], &[4096]);
    assert!(!closed);
    let r = replies(&out, LengthOrder::BigEndian);
    assert!(error_text(&r[0]).contains("after 99990 of 100000 bytes"), "{}", error_text(&r[0]));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "the temp file is gone too");
}

#[test]
fn an_oversize_header_or_body_closes_this_connection() {
    let (mut srv, _root) = server(LengthOrder::BigEndian);
    let (out, closed) = drive(&mut srv, &[0xff, 0xff, 0xff, 0xff, b'{'], &[5]);
    assert!(closed);
    assert!(error_text(&replies(&out, LengthOrder::BigEndian)[0]).contains("exceeds"));

    let (mut srv, _root) = server(LengthOrder::BigEndian);
    let huge = format!("{{\"cmd\":\"put\",\"name\":\"a\",\"data_size\":{}}}", MAX_FILE + 1);
    let mut input = (huge.len() as u32).to_be_bytes().to_vec();
    input.extend(huge.as_bytes());
    let (out, closed) = drive(&mut srv, &input, &[1000]);
    assert!(closed);
    assert!(error_text(&replies(&out, LengthOrder::BigEndian)[0]).contains("over the"));
}

#[test]
fn garbage_gets_an_error_then_close() {
    for junk in [&b"\x00\x00\x00\x05hello"[..], b"\x00\x00\x00\x02{}", b"\x00\x00\x00\x02[]"] {
        let (mut srv, _root) = server(LengthOrder::BigEndian);
        let (out, closed) = drive(&mut srv, junk, &[3]);
        assert!(closed, "{junk:?}");
        assert_eq!(status(&replies(&out, LengthOrder::BigEndian)[0]), "error");
    }
}

#[test]
fn requests_without_a_known_cmd_or_with_a_stray_body_are_errors() {
    let (mut srv, _root) = server(LengthOrder::BigEndian);
    let mut input = request(json!({"cmd": "delete", "name": "a"}), b"", LengthOrder::BigEndian);
    input.extend(request(json!({"name": "a"}), b"", LengthOrder::BigEndian));
    input.extend(request(json!({"cmd": "list"}), b"stray", LengthOrder::BigEndian));
    input.extend(get("missing.txt"));
    let r = replies(&drive(&mut srv, &input, &[9]).0, LengthOrder::BigEndian);
    assert!(error_text(&r[0]).contains("unknown cmd"));
    assert!(error_text(&r[1]).contains("no \"cmd\""));
    assert!(error_text(&r[2]).contains("takes no body"));
    assert!(error_text(&r[3]).contains("no such file"));
}

#[test]
fn a_get_goes_out_a_chunk_per_turn() {
    let (mut srv, root) = server(LengthOrder::BigEndian);
    std::fs::write(root.path().join("big"), data(4 * CHUNK)).unwrap();
    let mut out = Vec::new();
    assert_eq!(srv.on_bytes(&get("big"), &mut out), Flow::Continue);
    assert!(out.len() <= CHUNK + 200, "{} bytes in one turn", out.len());
    assert!(srv.has_more(), "the handler has more once this is sent");
    assert_eq!(srv.deadline(), None, "more output is not a timer");
    let mut turns = 1;
    while srv.has_more() {
        out.clear();
        srv.on_room(&mut out);
        turns += 1;
    }
    assert_eq!(turns, 5);
}

#[test]
fn eof_with_downloads_still_to_send_hands_them_out_a_chunk_at_a_time() {
    // The polite client: two gets, then shutdown(SHUT_WR), then it reads.
    let (mut srv, root) = server(LengthOrder::BigEndian);
    let (a, b) = (data(600_000), data(2 * CHUNK + 1));
    std::fs::write(root.path().join("a"), &a).unwrap();
    std::fs::write(root.path().join("b"), &b).unwrap();
    let mut input = get("a");
    input.extend(get("b"));
    input.extend(&put("cut", b"whole body")[..20]);
    let mut out = Vec::new();
    assert_eq!(srv.on_bytes(&input, &mut out), Flow::Continue);
    // EOF returns at once with at most a chunk more; nothing is dropped.
    srv.on_eof(&mut out);
    assert!(out.len() < CHUNK + 4096, "{} bytes at EOF", out.len());
    let mut sent = Vec::new();
    assert_eq!(send_more(&mut srv, &mut out, &mut sent, Flow::Close), Flow::Close);
    let r = replies(&sent, LengthOrder::BigEndian);
    assert_eq!(r.len(), 3);
    assert!(r[0].body == a && r[1].body == b, "both files whole, in order");
    assert!(error_text(&r[2]).contains("inside a request header"), "then what was cut short");
}

#[test]
fn an_empty_file_round_trips() {
    let (mut srv, _root) = server(LengthOrder::BigEndian);
    let mut input = put("empty", b"");
    input.extend(get("empty"));
    let r = replies(&drive(&mut srv, &input, &[4]).0, LengthOrder::BigEndian);
    assert_eq!(status(&r[0]), "ok");
    assert_eq!(r[1].header["sha256"], Value::from(sha256_hex(b"")));
    assert!(r[1].body.is_empty());
}
