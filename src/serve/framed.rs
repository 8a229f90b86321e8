//! framed: an echo server that speaks messages, not bytes.
//!
//! Every message, both ways, is `[4-byte length L][L bytes of JSON
//! header][body]`, the header holding at least `{"data_size": N}`. The
//! server answers each message with the same body, framed again with a
//! header of its own. However TCP splits or glues the bytes, one message in
//! is one message out — the decoder in [`crate::proto::json_header`] does
//! the reassembling.
//!
//! The length is big-endian (network order, Python `struct.pack("!I")`)
//! unless the server runs with `--native-endian`: then it is little-endian,
//! what `struct.pack("i")` writes on x86 and ARM.
//!
//! A peer that breaks the framing — a header length over the cap, a header
//! that is not a JSON object, no `data_size`, a body over the cap — gets its
//! connection closed with one log line. Nothing after a broken frame can be
//! trusted to start a new one, and nothing a client sends makes the server
//! buffer more than one capped frame.

use super::handler::{Ctx, Flow, Handler};
use crate::event::CallResult;
use crate::proto::json_header::{self, Decoder, LengthOrder};

pub struct Framed {
    decoder: Decoder,
    order: LengthOrder,
    ctx: Ctx,
}

impl Framed {
    pub fn new(ctx: Ctx, order: LengthOrder) -> Self {
        Framed { decoder: Decoder::new(order), order, ctx }
    }

    /// Why this connection is being closed, in the server's log.
    fn give_up(&self, why: String) -> Flow {
        self.ctx.note("frame", CallResult::Failed { why: format!("{why}; closing this connection") });
        Flow::Close
    }
}

impl Handler for Framed {
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        self.decoder.push(input);
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => match json_header::encode_body(&frame.body, self.order) {
                    Ok(reply) => out.extend_from_slice(&reply),
                    Err(e) => return self.give_up(e.to_string()),
                },
                Ok(None) => return Flow::Continue,
                Err(e) => {
                    let hint = match self.order {
                        LengthOrder::BigEndian => " (a little-endian length? the server expects big-endian, \"!I\")",
                        LengthOrder::LittleEndian => " (a big-endian length? this server runs --native-endian, \"<i\")",
                    };
                    let hint = if matches!(e, crate::proto::FrameError::TooLarge { .. }) { hint } else { "" };
                    return self.give_up(format!("{e}{hint}"));
                }
            }
        }
    }

    fn on_eof(&mut self, _out: &mut Vec<u8>) -> Flow {
        if let Err(e) = self.decoder.finish() {
            self.ctx.note("frame", CallResult::Failed { why: e.to_string() });
        }
        Flow::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Recorder};
    use crate::proto::decode_all;
    use crate::serve::Log;
    use crate::serve::handler::{feed_split, test_ctx};

    fn bodies() -> Vec<Vec<u8>> {
        vec![b"hello".to_vec(), Vec::new(), b"binary\0\n\xff".to_vec(), vec![b'x'; 70_000]]
    }

    fn stream(order: LengthOrder) -> Vec<u8> {
        bodies().iter().flat_map(|b| json_header::encode_body(b, order).unwrap()).collect()
    }

    fn replies(out: &[u8], order: LengthOrder) -> Vec<Vec<u8>> {
        let frames = decode_all(Decoder::new(order), [out]).unwrap();
        frames.into_iter().map(|f| f.body).collect()
    }

    /// A handler whose log lines can be read back.
    fn recorded(order: LengthOrder) -> (Framed, Recorder) {
        let rec = Recorder::new();
        let ctx = Ctx { log: Log::new(Box::new(rec.clone())), ..test_ctx() };
        (Framed::new(ctx, order), rec)
    }

    fn failures(rec: &Recorder) -> Vec<String> {
        rec.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Call { result: CallResult::Failed { why }, .. } => Some(why),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_message_comes_back_framed_whatever_the_split() {
        for order in [LengthOrder::BigEndian, LengthOrder::LittleEndian] {
            for splits in [&[1][..], &[3, 1, 7], &[4096], &[1 << 20]] {
                let out = feed_split(&mut Framed::new(test_ctx(), order), &stream(order), splits);
                assert_eq!(replies(&out, order), bodies(), "{order:?} {splits:?}");
            }
        }
    }

    #[test]
    fn every_two_chunk_split_of_small_messages() {
        let order = LengthOrder::BigEndian;
        let s: Vec<u8> =
            [&b"hi"[..], b"", b"there"].iter().flat_map(|b| json_header::encode_body(b, order).unwrap()).collect();
        for cut in 0..=s.len() {
            let mut h = Framed::new(test_ctx(), order);
            let mut out = Vec::new();
            for part in [&s[..cut], &s[cut..]] {
                assert_eq!(h.on_bytes(part, &mut out), Flow::Continue, "cut {cut}");
            }
            assert_eq!(replies(&out, order), [&b"hi"[..], b"", b"there"], "cut {cut}");
        }
    }

    #[test]
    fn the_reply_is_byte_for_byte_the_classic_layout() {
        let mut out = Vec::new();
        let mut h = Framed::new(test_ctx(), LengthOrder::LittleEndian);
        let mut msg = 16u32.to_le_bytes().to_vec();
        msg.extend_from_slice(b"{\"data_size\": 5}hello");
        assert_eq!(h.on_bytes(&msg, &mut out), Flow::Continue);
        assert_eq!(out, b"\x0f\x00\x00\x00{\"data_size\":5}hello");
    }

    #[test]
    fn broken_frames_close_the_connection_with_one_log_line() {
        let be = |json: &[u8]| {
            let mut v = (json.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(json);
            v
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "exceeds"),
            (json_header::encode_body(b"hello", LengthOrder::LittleEndian).unwrap(), "little-endian length?"),
            (be(b"not json"), "not JSON"),
            (be(b"[1]"), "not an object"),
            (be(b"{\"size\":5}"), "no \"data_size\""),
            (be(b"{\"data_size\":99999999999}"), "exceeds"),
        ];
        for (bytes, why) in cases {
            let (mut h, rec) = recorded(LengthOrder::BigEndian);
            let mut out = Vec::new();
            assert_eq!(h.on_bytes(&bytes, &mut out), Flow::Close, "{why}");
            assert!(out.is_empty());
            let notes = failures(&rec);
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(notes[0].contains(why) && notes[0].ends_with("closing this connection"), "{notes:?}");
        }
    }

    #[test]
    fn a_good_message_before_a_bad_one_is_still_answered() {
        let mut bytes = json_header::encode_body(b"ok", LengthOrder::BigEndian).unwrap();
        bytes.extend_from_slice(&[0xff; 8]);
        let (mut h, _) = recorded(LengthOrder::BigEndian);
        let mut out = Vec::new();
        assert_eq!(h.on_bytes(&bytes, &mut out), Flow::Close);
        assert_eq!(replies(&out, LengthOrder::BigEndian), [b"ok"]);
    }

    #[test]
    fn eof_inside_a_frame_is_logged() {
        let bytes = json_header::encode_body(b"hello", LengthOrder::BigEndian).unwrap();
        let (mut h, rec) = recorded(LengthOrder::BigEndian);
        let mut out = Vec::new();
        assert_eq!(h.on_bytes(&bytes[..10], &mut out), Flow::Continue);
        assert_eq!(h.on_eof(&mut out), Flow::Close);
        assert!(failures(&rec)[0].contains("closed mid-frame"));
        let (mut clean, rec) = recorded(LengthOrder::BigEndian);
        assert_eq!(clean.on_eof(&mut out), Flow::Close);
        assert!(failures(&rec).is_empty());
    }
}
