use super::*;
use crate::event::{Event, Recorder};
use crate::proto::decode_all;
use crate::proto::json_header::{DEFAULT_MAX_HEADER, Decoder};
use crate::serve::Log;
use crate::serve::cmd_builtins::{MAX_BIG, big};
use crate::serve::handler::{feed_split, test_ctx};

/// Every reply in `out`, as (status, body).
fn replies(out: &[u8], order: LengthOrder) -> Vec<(String, Vec<u8>)> {
    let frames = decode_all(Decoder::with_limits(order, DEFAULT_MAX_HEADER, MAX_BIG), [out]).unwrap();
    frames.into_iter().map(|f| (f.header["status"].as_str().unwrap_or("?").to_string(), f.body)).collect()
}

fn text(reply: &(String, Vec<u8>)) -> String {
    format!("{}: {}", reply.0, String::from_utf8_lossy(&reply.1))
}

fn recorded() -> (Cmd, Recorder) {
    let rec = Recorder::new();
    let ctx = Ctx { log: Log::new(Box::new(rec.clone())), ..test_ctx() };
    (Cmd::new(ctx, LengthOrder::BigEndian), rec)
}

/// The server's log lines about requests, as text.
fn log(rec: &Recorder) -> Vec<String> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Call { call, result: CallResult::Ok { detail }, .. } => Some(format!("{call} ok {detail}")),
            Event::Call { call, result: CallResult::Failed { why }, .. } => Some(format!("{call} failed {why}")),
            _ => None,
        })
        .collect()
}

const SCRIPT: &[u8] = b"echo hello\nls\r\nhelp\nbig 100\ncat /etc/passwd\necho bye\n";

fn check_script(got: &[(String, Vec<u8>)]) {
    let got: Vec<String> = got.iter().map(text).collect();
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[0], "ok: hello\n");
    assert_eq!(got[1], "ok: hello.txt\nnotes.md\nreport.csv\n");
    assert!(got[2].starts_with("ok: built-in commands"), "{got:?}");
    assert_eq!(got[3], format!("ok: {}", String::from_utf8_lossy(&big(100))));
    assert!(got[4].starts_with("error: unknown command 'cat'"), "{got:?}");
    assert_eq!(got[5], "ok: bye\n");
}

#[test]
fn newline_requests_whatever_the_split() {
    for order in [LengthOrder::BigEndian, LengthOrder::LittleEndian] {
        for splits in [&[1][..], &[2, 5, 1], &[7], &[4096]] {
            let out = feed_split(&mut Cmd::new(test_ctx(), order), SCRIPT, splits);
            check_script(&replies(&out, order));
        }
    }
}

#[test]
fn every_two_chunk_split() {
    for cut in 0..=SCRIPT.len() {
        let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
        let mut out = Vec::new();
        for part in [&SCRIPT[..cut], &SCRIPT[cut..]] {
            assert_eq!(h.on_bytes(part, &mut out), Flow::Continue, "cut {cut}");
        }
        assert_eq!(h.deadline(), None, "cut {cut}: nothing left waiting");
        check_script(&replies(&out, LengthOrder::BigEndian));
    }
}

#[test]
fn the_classic_bare_command_ends_after_100_ms_idle() {
    let (mut h, rec) = recorded();
    let mut out = Vec::new();
    assert_eq!(h.deadline(), None, "no data, no timer");
    let before = Instant::now();
    assert_eq!(h.on_bytes(b"echo hi", &mut out), Flow::Continue);
    assert!(out.is_empty(), "no newline: wait for more or for the idle rule");
    let due = h.deadline().expect("an idle deadline");
    assert!(due >= before + IDLE && due <= Instant::now() + IDLE);
    assert_eq!(h.on_deadline(&mut out), Flow::Continue);
    assert_eq!(replies(&out, LengthOrder::BigEndian), [("ok".to_string(), b"hi\n".to_vec())]);
    assert_eq!(h.deadline(), None);
    assert!(log(&rec)[0].contains("\"echo hi\" (ended by 100 ms idle, no newline) → ok"), "{:?}", log(&rec));
}

#[test]
fn two_commands_within_the_idle_window_are_one_request() {
    // The sticky-packet weakness of the timing rule: `date` and `ls` sent
    // back to back (or queued while the server was busy) are `datels`.
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let mut out = Vec::new();
    h.on_bytes(b"date", &mut out);
    let first = h.deadline().expect("timer");
    h.on_bytes(b"ls", &mut out);
    assert!(h.deadline().expect("timer") >= first, "new data restarts the idle timer");
    h.on_deadline(&mut out);
    let got = replies(&out, LengthOrder::BigEndian);
    assert_eq!(got.len(), 1);
    assert!(text(&got[0]).starts_with("error: unknown command 'datels'"), "{}", text(&got[0]));
}

#[test]
fn eof_ends_a_request_without_a_newline() {
    let mut out = Vec::new();
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    h.on_bytes(b"echo one\necho two", &mut out);
    assert_eq!(h.on_eof(&mut out), Flow::Close);
    let got: Vec<String> = replies(&out, LengthOrder::BigEndian).iter().map(text).collect();
    assert_eq!(got, ["ok: one\n", "ok: two\n"]);
}

#[test]
fn shell_syntax_is_refused_and_the_would_be_command_logged() {
    for line in ["ls; rm -rf /", "echo $(id)", "echo `id`", "date && cat /etc/passwd", "ls | sh", "echo x > /tmp/f"] {
        let (mut h, rec) = recorded();
        let mut out = Vec::new();
        assert_eq!(h.on_bytes(format!("{line}\n").as_bytes(), &mut out), Flow::Continue, "{line}");
        let got = replies(&out, LengthOrder::BigEndian);
        assert_eq!(got.len(), 1);
        assert!(text(&got[0]).contains("no shell is involved"), "{line}: {}", text(&got[0]));
        let log = log(&rec);
        let want = format!("would have run via /bin/sh: {}", quote_text(line.as_bytes()));
        assert!(log[0].starts_with("shell failed") && log[0].contains(&want), "{log:?}");
    }
}

#[test]
fn nul_bytes_invalid_utf8_and_empty_lines_get_error_replies_and_the_connection_goes_on() {
    let mut out = Vec::new();
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let input = b"ls\0/etc\n\xff\xfe date\n\n   \necho still here\n";
    assert_eq!(h.on_bytes(input, &mut out), Flow::Continue);
    let got: Vec<String> = replies(&out, LengthOrder::BigEndian).iter().map(text).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert!(got[0].starts_with("error: the request contains a NUL byte"));
    assert!(got[1].starts_with("error: the request is not UTF-8"));
    assert!(got[2].starts_with("error: an empty command") && got[3].starts_with("error: an empty command"));
    assert_eq!(got[4], "ok: still here\n");
}

#[test]
fn an_over_long_line_is_refused_and_closes() {
    for tail in [&b""[..], b"\n"] {
        let mut out = Vec::new();
        let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
        let mut input = vec![b'a'; MAX_LINE + 2];
        input.extend_from_slice(tail);
        assert_eq!(h.on_bytes(&input, &mut out), Flow::Close);
        let got = replies(&out, LengthOrder::BigEndian);
        assert!(text(&got[0]).contains("at most 4096 bytes"), "{}", text(&got[0]));
    }
    // A long line that dribbles in is refused as soon as it passes the cap.
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let mut out = Vec::new();
    assert_eq!(h.on_bytes(&[b'a'; MAX_LINE], &mut out), Flow::Continue);
    assert_eq!(h.on_bytes(b"a", &mut out), Flow::Close);
    // Exactly MAX_LINE with \r\n is fine.
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let mut line = b"echo ".to_vec();
    line.resize(MAX_LINE, b'x');
    line.extend_from_slice(b"\r\n");
    let mut out = Vec::new();
    assert_eq!(h.on_bytes(&line, &mut out), Flow::Continue);
    assert_eq!(replies(&out, LengthOrder::BigEndian)[0].1.len(), MAX_LINE - 5 + 1);
}

/// What a driver does once `out` is sent: ask for more while there is
/// more, checking that no piece is much over [`PIECE`]. Returns how many
/// pieces were asked for.
fn drain(h: &mut Cmd, out: &mut Vec<u8>, sent: &mut Vec<u8>) -> usize {
    let mut pieces = 0;
    loop {
        assert!(out.len() <= PIECE + 200, "a piece of {} bytes", out.len());
        sent.append(out);
        if !h.has_more() {
            return pieces;
        }
        h.on_room(out);
        pieces += 1;
    }
}

#[test]
fn pipelined_big_replies_go_out_a_piece_at_a_time() {
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let mut out = Vec::new();
    let n = 3 << 20;
    h.on_bytes(format!("big {n}\nbig {n}\necho done\n").as_bytes(), &mut out);
    assert_eq!(h.deadline(), None, "queued lines wait for room, not for a timer");
    let mut all = Vec::new();
    let pieces = drain(&mut h, &mut out, &mut all);
    assert!(pieces >= 2 * n / PIECE, "{pieces} pieces");
    let got = replies(&all, LengthOrder::BigEndian);
    assert_eq!(got.len(), 3);
    assert!(got[0].1 == big(n) && got[1].1 == big(n), "the same bytes as made whole");
    assert_eq!(got[2].1, b"done\n");
}

#[test]
fn eof_behind_a_big_reply_still_answers_everything_a_piece_at_a_time() {
    let (mut h, rec) = recorded();
    let mut out = Vec::new();
    h.on_bytes(b"big 1000000\necho after\necho last", &mut out);
    assert_eq!(h.on_eof(&mut out), Flow::Close);
    let mut all = Vec::new();
    drain(&mut h, &mut out, &mut all);
    let got: Vec<String> = replies(&all, LengthOrder::BigEndian).iter().map(text).collect();
    assert_eq!(got.len(), 3, "{:.80?}", got);
    assert_eq!(got[0], format!("ok: {}", String::from_utf8_lossy(&big(1_000_000))));
    assert_eq!(got[1..], ["ok: after\n", "ok: last\n"]);
    assert!(log(&rec)[2].contains("\"echo last\" (ended by EOF, no newline)"), "{:?}", log(&rec));
}

#[test]
fn a_client_that_queues_requests_without_reading_is_closed() {
    let mut h = Cmd::new(test_ctx(), LengthOrder::BigEndian);
    let mut out = Vec::new();
    h.on_bytes(b"big 2000000\n", &mut out);
    // `out` is never drained: this client does not read its replies.
    let mut flow = Flow::Continue;
    for _ in 0..(MAX_QUEUED / 10 + 1) {
        flow = h.on_bytes(b"big 1000\n\n", &mut out);
        if flow == Flow::Close {
            break;
        }
    }
    assert_eq!(flow, Flow::Close);
    assert!(!h.has_more(), "and the reply it was not reading is not made either");
    assert!(out.len() <= PIECE + 200, "{} bytes held", out.len());
}
