//! JSON-header framing (报头): a 4-byte length, a JSON header of that many
//! bytes, then a body whose size the header gives.
//!
//! ```text
//! 00 00 00 0f {"data_size":5} 68 65 6c 6c 6f
//! [ L = 15  ] [ 15 bytes JSON] [  5 bytes   ]
//! ```
//!
//! This is the format of the classic Python tutorials' file and command
//! servers: `header = json.dumps({"data_size": len(body)}).encode()`, then
//! `struct.pack("i", len(header)) + header + body`. The header can carry
//! more than the size — a file name, a sha256, a status — and the body can
//! be any bytes. It needs two length checks: the 4-byte length bounds the
//! header, `data_size` bounds the body.
//!
//! **Byte order.** `struct.pack("i", n)` uses the machine's native order,
//! little-endian on x86 and ARM, so that is what those programs put on the
//! wire. netlab's default is big-endian (network order, `"!I"`);
//! [`LengthOrder::LittleEndian`] speaks the classic form. Both ends must
//! agree: a little-endian 15 read as big-endian is 251,658,240, which the
//! header limit refuses.

use serde_json::{Map, Value};

use super::FrameError;
use super::recv_buffer::RecvBuffer;

/// The header key that holds the body's length.
pub const DATA_SIZE: &str = "data_size";

/// Headers are a few fields; 64 KiB is generous and bounds what a peer
/// can make us buffer before we have even seen `data_size`.
pub const DEFAULT_MAX_HEADER: usize = 64 * 1024;

/// Bodies up to 16 MiB unless the caller allows more (a file server may).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

const LEN_BYTES: usize = 4;

/// The byte order of the 4-byte header length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LengthOrder {
    /// Network byte order: Python `struct.pack("!I", n)`, C `htonl(n)`.
    #[default]
    BigEndian,
    /// The classic `struct.pack("i", n)` on a little-endian machine.
    LittleEndian,
}

impl LengthOrder {
    fn read(self, bytes: [u8; LEN_BYTES]) -> u32 {
        match self {
            LengthOrder::BigEndian => u32::from_be_bytes(bytes),
            LengthOrder::LittleEndian => u32::from_le_bytes(bytes),
        }
    }

    fn write(self, n: u32) -> [u8; LEN_BYTES] {
        match self {
            LengthOrder::BigEndian => n.to_be_bytes(),
            LengthOrder::LittleEndian => n.to_le_bytes(),
        }
    }
}

/// One message: its header fields (always including `data_size`) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub header: Map<String, Value>,
    pub body: Vec<u8>,
}

/// Frames `body` with `header`, setting `data_size` to the body's length
/// (any `data_size` already in `header` is replaced: the real length wins).
///
/// The header length is kept under 2^31 so a peer reading it as the signed
/// `"i"` format still sees a positive number.
pub fn encode(header: &Map<String, Value>, body: &[u8], order: LengthOrder) -> Result<Vec<u8>, FrameError> {
    let mut out = encode_head(header, body.len(), order)?;
    out.extend_from_slice(body);
    Ok(out)
}

/// The length prefix and header of a frame whose `body_len`-byte body the
/// caller sends after it: for a body made as it is sent, never held whole.
pub fn encode_head(header: &Map<String, Value>, body_len: usize, order: LengthOrder) -> Result<Vec<u8>, FrameError> {
    let mut header = header.clone();
    header.insert(DATA_SIZE.into(), Value::from(body_len));
    let json = serde_json::to_vec(&header)
        .map_err(|e| FrameError::Unframeable { reason: format!("the header is not serialisable: {e}") })?;
    let max = i32::MAX as usize;
    let len = u32::try_from(json.len()).ok().filter(|&n| n as usize <= max);
    let len = len.ok_or(FrameError::TooLarge { len: json.len(), max })?;
    let mut out = Vec::with_capacity(LEN_BYTES + json.len() + body_len.min(64 * 1024));
    out.extend_from_slice(&order.write(len));
    out.extend_from_slice(&json);
    Ok(out)
}

/// Frames `body` with a header holding only `data_size`.
pub fn encode_body(body: &[u8], order: LengthOrder) -> Result<Vec<u8>, FrameError> {
    encode(&Map::new(), body, order)
}

/// A header already parsed while its body is still arriving, so a large
/// body dribbling in is not re-parsed on every push.
#[derive(Debug)]
pub struct Pending {
    pub header: Map<String, Value>,
    /// Length prefix + JSON, in bytes from the first unread one.
    pub header_len: usize,
    pub body_len: usize,
}

/// The header at the front of `bytes`, without its body: for a reader
/// that streams a large body somewhere else (a file server writing an
/// upload to disk) instead of buffering it. Same rules and errors as
/// [`Decoder::next_frame`]; `Ok(None)` means the header is incomplete.
pub fn parse_header(
    bytes: &[u8],
    order: LengthOrder,
    max_header: usize,
    max_body: usize,
) -> Result<Option<Pending>, FrameError> {
    let Some((len, rest)) = bytes.split_first_chunk::<LEN_BYTES>() else {
        return Ok(None);
    };
    let json_len = usize::try_from(order.read(*len)).unwrap_or(usize::MAX);
    if json_len > max_header {
        return Err(FrameError::TooLarge { len: json_len, max: max_header });
    }
    let Some(json) = rest.get(..json_len) else { return Ok(None) };
    let invalid = |reason: String| FrameError::Invalid { reason };
    let header: Map<String, Value> = match serde_json::from_slice(json) {
        Ok(Value::Object(map)) => map,
        Ok(other) => return Err(invalid(format!("the header is JSON but not an object: {other}"))),
        Err(e) => return Err(invalid(format!("the {json_len}-byte header is not JSON ({e})"))),
    };
    let body_len = match header.get(DATA_SIZE) {
        Some(v) => v.as_u64().ok_or_else(|| invalid(format!("\"{DATA_SIZE}\" is {v}, not a byte count")))?,
        None => return Err(invalid(format!("the header has no \"{DATA_SIZE}\""))),
    };
    let body_len = usize::try_from(body_len).unwrap_or(usize::MAX);
    if body_len > max_body {
        return Err(FrameError::TooLarge { len: body_len, max: max_body });
    }
    Ok(Some(Pending { header, header_len: LEN_BYTES + json_len, body_len }))
}

/// A frame's header, and its body lent from the decoder's buffer.
pub type FrameRef<'a> = (Map<String, Value>, &'a [u8]);

/// Incremental decoder: push bytes in any chunking, pull out [`Frame`]s.
#[derive(Debug)]
pub struct Decoder {
    buf: RecvBuffer,
    order: LengthOrder,
    max_header: usize,
    max_body: usize,
    pending: Option<Pending>,
}

impl Decoder {
    /// A decoder with the default limits ([`DEFAULT_MAX_HEADER`],
    /// [`DEFAULT_MAX_BODY`]).
    pub fn new(order: LengthOrder) -> Self {
        Decoder::with_limits(order, DEFAULT_MAX_HEADER, DEFAULT_MAX_BODY)
    }

    pub fn with_limits(order: LengthOrder, max_header: usize, max_body: usize) -> Self {
        Decoder { buf: RecvBuffer::default(), order, max_header, max_body, pending: None }
    }

    /// Appends bytes just received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.push(bytes);
    }

    /// The next complete frame, if one is fully buffered.
    ///
    /// `Ok(None)`: incomplete, read more. Errors come as early as the bytes
    /// allow: an oversized header length as soon as its 4 bytes arrive, a
    /// bad or oversized header as soon as the header is complete, before
    /// any of the body is buffered. After an error the decoder keeps
    /// reporting it; close the connection.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        Ok(self.next_frame_ref()?.map(|(header, body)| Frame { header, body: body.to_vec() }))
    }

    /// One `read()` from `r` straight into the decoder's buffer (no copy
    /// through the caller's): `Ok(0)` is end of stream.
    pub fn read_from(&mut self, r: &mut impl std::io::Read, max: usize) -> std::io::Result<usize> {
        self.buf.read_from(r, max)
    }

    /// Like [`Decoder::next_frame`], but the body is lent where it lies
    /// in the buffer instead of copied out: valid until the next read.
    pub fn next_frame_ref(&mut self) -> Result<Option<FrameRef<'_>>, FrameError> {
        if self.pending.is_none() {
            self.pending = self.parse_header()?;
        }
        let Some(p) = &self.pending else { return Ok(None) };
        let (frame_len, header_len, body_len) = (p.header_len + p.body_len, p.header_len, p.body_len);
        if self.buf.len() < frame_len {
            self.buf.reserve_for(frame_len);
            return Ok(None);
        }
        let header = self.pending.take().map(|p| p.header).unwrap_or_default();
        let at = self.buf.position() + header_len;
        self.buf.consume(frame_len);
        Ok(Some((header, self.buf.consumed(at, body_len))))
    }

    fn parse_header(&self) -> Result<Option<Pending>, FrameError> {
        parse_header(self.buf.unread(), self.order, self.max_header, self.max_body)
    }

    /// Call when `recv()` returns 0. `Ok(())`: the peer closed between
    /// frames; otherwise it died inside one.
    pub fn finish(&self) -> Result<(), FrameError> {
        self.buf.finish()
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(LengthOrder::BigEndian)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testing::{every_split, in_chunks};

    fn frames() -> Vec<(Map<String, Value>, Vec<u8>)> {
        let mut named = Map::new();
        named.insert("file_name".into(), Value::from("a.txt"));
        vec![(Map::new(), b"hello".to_vec()), (Map::new(), Vec::new()), (named, b"binary\0\n\xff body".to_vec())]
    }

    fn stream(order: LengthOrder) -> Vec<u8> {
        frames().iter().flat_map(|(h, b)| encode(h, b, order).unwrap()).collect()
    }

    fn check(got: &[Frame]) {
        let want = frames();
        assert_eq!(got.len(), want.len());
        for (f, (h, b)) in got.iter().zip(want) {
            assert_eq!(f.body, b);
            assert_eq!(f.header[DATA_SIZE], Value::from(b.len()));
            for (k, v) in h {
                assert_eq!(f.header[&k], v);
            }
        }
    }

    #[test]
    fn encode_writes_the_classic_layout() {
        let be = encode_body(b"hello", LengthOrder::BigEndian).unwrap();
        assert_eq!(be, b"\x00\x00\x00\x0f{\"data_size\":5}hello");
        let le = encode_body(b"hello", LengthOrder::LittleEndian).unwrap();
        assert_eq!(le, b"\x0f\x00\x00\x00{\"data_size\":5}hello");
        // A stale data_size in the caller's header is replaced by the truth.
        let mut h = Map::new();
        h.insert(DATA_SIZE.into(), Value::from(99));
        assert_eq!(encode(&h, b"hello", LengthOrder::BigEndian).unwrap(), be);
    }

    #[test]
    fn one_byte_at_a_time_in_both_orders() {
        for order in [LengthOrder::BigEndian, LengthOrder::LittleEndian] {
            check(&in_chunks(Decoder::new(order), &stream(order), 1));
        }
    }

    #[test]
    fn every_two_chunk_split() {
        let order = LengthOrder::BigEndian;
        every_split(|| Decoder::new(order), &stream(order), |frames, _| check(&frames));
    }

    #[test]
    fn the_wrong_byte_order_is_refused_by_the_header_limit() {
        let mut dec = Decoder::new(LengthOrder::BigEndian);
        dec.push(&encode_body(b"hello", LengthOrder::LittleEndian).unwrap());
        let err = FrameError::TooLarge { len: 0x0f00_0000, max: DEFAULT_MAX_HEADER };
        assert_eq!(dec.next_frame().unwrap_err(), err);
    }

    #[test]
    fn invalid_headers_are_errors_not_waits() {
        let cases: [&[u8]; 5] =
            [b"not json", b"[1,2]", b"{\"size\":5}", b"{\"data_size\":-1}", b"{\"data_size\":\"5\"}"];
        for json in cases {
            let mut bytes = (json.len() as u32).to_be_bytes().to_vec();
            bytes.extend_from_slice(json);
            let mut dec = Decoder::default();
            dec.push(&bytes);
            let err = dec.next_frame().unwrap_err();
            assert!(matches!(err, FrameError::Invalid { .. }), "{json:?}: {err}");
            assert_eq!(dec.next_frame().unwrap_err(), err, "the error sticks");
        }
    }

    #[test]
    fn limits_are_checked_before_buffering() {
        let mut dec = Decoder::with_limits(LengthOrder::BigEndian, 10, 100);
        dec.push(&[0, 0, 0, 11]);
        assert_eq!(dec.next_frame().unwrap_err(), FrameError::TooLarge { len: 11, max: 10 });
        let mut dec = Decoder::with_limits(LengthOrder::BigEndian, 64, 4);
        dec.push(&encode_body(b"hello", LengthOrder::BigEndian).unwrap()[..19]);
        assert_eq!(dec.next_frame().unwrap_err(), FrameError::TooLarge { len: 5, max: 4 });
    }

    #[test]
    fn closed_mid_body() {
        let bytes = encode_body(b"hello", LengthOrder::BigEndian).unwrap();
        let mut dec = Decoder::default();
        dec.push(&bytes[..bytes.len() - 1]);
        assert_eq!(dec.next_frame(), Ok(None));
        assert_eq!(dec.finish(), Err(FrameError::ClosedMidFrame { buffered: bytes.len() - 1 }));
    }
}
