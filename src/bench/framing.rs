//! What framing costs: the same bytes over loopback as a raw stream, as
//! u32-length-prefixed messages, and as JSON-header messages, sender
//! thread to receiver thread, the receiver decoding with netlab's own
//! codecs (src/proto).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::report::FramingRow;
use crate::lab::cancel;
use crate::proto::json_header::{self, LengthOrder};
use crate::proto::length_prefix;

/// Body bytes per message: a typical file-transfer chunk.
pub const MESSAGE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Raw,
    Length,
    Json,
}

impl Framing {
    pub const ALL: [Framing; 3] = [Framing::Raw, Framing::Length, Framing::Json];

    pub fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Length => "u32-length",
            Framing::Json => "json-header",
        }
    }

    /// What goes on the wire for one message of `body`.
    fn encode(self, body: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Framing::Raw => Ok(body.to_vec()),
            Framing::Length => length_prefix::encode(body).map_err(|e| e.to_string()),
            Framing::Json => json_header::encode_body(body, LengthOrder::BigEndian).map_err(|e| e.to_string()),
        }
    }
}

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Read to EOF, decoding; returns the body bytes delivered.
/// The framed receivers read straight into their decoder's buffer and
/// take each body where it lies, as a server that cares would (and as
/// mini-redis does with its BytesMut): the only copy is recv()'s own.
fn receive(mut s: TcpStream, framing: Framing) -> Result<u64, String> {
    let mut buf = vec![0u8; MESSAGE];
    let mut total = 0u64;
    let mut length = length_prefix::Decoder::new(MESSAGE);
    let mut json = json_header::Decoder::new(LengthOrder::BigEndian);
    let recv = |e: std::io::Error| format!("recv: {e}");
    loop {
        let n = match framing {
            Framing::Raw => s.read(&mut buf).map_err(recv)?,
            Framing::Length => length.read_from(&mut s, MESSAGE).map_err(recv)?,
            Framing::Json => json.read_from(&mut s, MESSAGE).map_err(recv)?,
        };
        if n == 0 {
            break;
        }
        match framing {
            Framing::Raw => total += n as u64,
            Framing::Length => {
                while let Some(body) = length.next_frame_ref().map_err(|e| e.to_string())? {
                    total += body.len() as u64;
                }
            }
            Framing::Json => {
                while let Some((_, body)) = json.next_frame_ref().map_err(|e| e.to_string())? {
                    total += body.len() as u64;
                }
            }
        }
    }
    let finished = match framing {
        Framing::Raw => Ok(()),
        Framing::Length => length.finish(),
        Framing::Json => json.finish(),
    };
    finished.map_err(|e| e.to_string())?;
    Ok(total)
}

/// Send `budget` body bytes framed as `framing`, each message encoded as
/// a real sender would; the time runs until the receiver has decoded all.
pub fn run_once(framing: Framing, budget: u64) -> Result<(u64, Duration), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut tx = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    let (rx, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    for s in [&tx, &rx] {
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    }
    let body: Vec<u8> = (0..MESSAGE).map(|i| (i % 251) as u8).collect();
    let start = Instant::now();
    let receiver = std::thread::spawn(move || receive(rx, framing));
    let mut sent = 0u64;
    let mut result = Ok(());
    while sent < budget && !cancel::is_cancelled() {
        let wire = match framing.encode(&body) {
            Ok(w) => w,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        if let Err(e) = tx.write_all(&wire) {
            result = Err(format!("send: {e}"));
            break;
        }
        sent += MESSAGE as u64;
    }
    // EOF tells the receiver it has everything.
    drop(tx);
    let received = receiver.join().map_err(|_| "the receiver thread panicked".to_string())?;
    let elapsed = start.elapsed();
    result?;
    let received = received?;
    if received != sent {
        return Err(format!("sent {sent} body bytes, decoded {received}"));
    }
    Ok((received, elapsed))
}

/// Each framing `rounds` times, interleaved so a burst of load on a
/// shared machine hits all three; the best round of each counts.
pub fn rows(budget: u64, rounds: usize) -> Vec<FramingRow> {
    let mut best: [Result<(u64, Duration), String>; 3] = std::array::from_fn(|_| Err("not run".into()));
    for _ in 0..rounds {
        for (i, f) in Framing::ALL.into_iter().enumerate() {
            if cancel::is_cancelled() {
                break;
            }
            let run = run_once(f, budget);
            best[i] = match (&best[i], run) {
                (Ok(b), Ok(r)) if b.0 as f64 / b.1.as_secs_f64() >= r.0 as f64 / r.1.as_secs_f64() => Ok(*b),
                (Ok(b), Err(_)) => Ok(*b),
                (_, run) => run,
            };
        }
    }
    let rate = |r: &Result<(u64, Duration), String>| r.as_ref().ok().map(|(b, t)| *b as f64 / t.as_secs_f64() / 1e6);
    let raw = rate(&best[0]);
    Framing::ALL
        .into_iter()
        .zip(&best)
        .map(|(f, r)| {
            let mb = rate(r);
            FramingRow {
                framing: f.name().into(),
                bytes: r.as_ref().map_or(0, |(b, _)| *b),
                message_bytes: MESSAGE,
                mb_per_s: mb,
                percent_of_raw: mb.zip(raw).map(|(m, raw)| m / raw * 100.0),
                na: r.as_ref().err().cloned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framing_delivers_every_byte() {
        for f in Framing::ALL {
            let (bytes, _) = run_once(f, 4 * MESSAGE as u64).unwrap();
            assert_eq!(bytes, 4 * MESSAGE as u64, "{f:?}");
        }
    }

    #[test]
    fn rows_are_relative_to_raw() {
        let rows = rows(2 * MESSAGE as u64, 1);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].framing, "raw");
        assert!((rows[0].percent_of_raw.unwrap() - 100.0).abs() < 1e-9);
        assert!(rows.iter().all(|r| r.na.is_none() && r.mb_per_s.unwrap() > 0.0));
    }
}
