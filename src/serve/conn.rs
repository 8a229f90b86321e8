//! The blocking driver shared by the iterative and thread models: read,
//! feed the handler, write everything back, until EOF or the handler says
//! close. Timeouts on both directions let it notice shutdown.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::handler::{Flow, Handler};
use super::{Log, TICK};
use crate::event::CallResult;
use crate::lab::cancel;

/// Bytes in and out of one connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub received: usize,
    pub sent: usize,
}

/// Serve one client from accept to close, and log it. Any error closes this
/// client only.
pub fn serve_client(mut stream: TcpStream, peer: SocketAddr, name: &str, handler: &mut dyn Handler, log: &Log) {
    log.call(name, "accept", CallResult::ok(format!("client {peer}")));
    let mut totals = Totals::default();
    let ended = drive(&mut stream, handler, &mut totals);
    let how = match ended {
        Ok(Ended::Done) => "",
        Ok(Ended::Shutdown) => ", server shutting down",
        Err(e) => {
            // Reset, broken pipe…: this client is done; the server carries on.
            log.call(name, "recv/send", CallResult::Failed { why: e.to_string() });
            ""
        }
    };
    drop(stream);
    let detail = format!("{} bytes received, {} sent{how}", totals.received, totals.sent);
    log.call(name, "close", CallResult::ok(detail));
}

#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// EOF from the client, or the handler closed.
    Done,
    /// Ctrl-C or SIGTERM.
    Shutdown,
}

fn is_tick(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

pub fn drive(stream: &mut TcpStream, handler: &mut dyn Handler, totals: &mut Totals) -> std::io::Result<Ended> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(TICK))?;
    let mut out = handler.greet();
    if send_all(stream, &mut out, totals)? == Ended::Shutdown {
        return Ok(Ended::Shutdown);
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cancel::is_cancelled() {
            return Ok(Ended::Shutdown);
        }
        let flow = match stream.read(&mut buf) {
            Ok(0) => {
                // After EOF there is nothing more to read, whatever the
                // handler answers: send its last words and close.
                handler.on_eof(&mut out);
                return send_all(stream, &mut out, totals);
            }
            Ok(n) => {
                totals.received += n;
                handler.on_bytes(&buf[..n], &mut out)
            }
            Err(e) if is_tick(&e) => continue,
            Err(e) => return Err(e),
        };
        if send_all(stream, &mut out, totals)? == Ended::Shutdown {
            return Ok(Ended::Shutdown);
        }
        if flow == Flow::Close {
            return Ok(Ended::Done);
        }
    }
}

/// Write all of `out` (send may take only part of it), then clear it.
fn send_all(stream: &mut TcpStream, out: &mut Vec<u8>, totals: &mut Totals) -> std::io::Result<Ended> {
    let mut done = 0;
    while done < out.len() {
        match stream.write(&out[done..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                totals.sent += n;
            }
            // A client that does not read fills its window; keep trying,
            // but give up if the server is shutting down.
            Err(e) if is_tick(&e) => {
                if cancel::is_cancelled() {
                    return Ok(Ended::Shutdown);
                }
            }
            Err(e) => return Err(e),
        }
    }
    out.clear();
    Ok(Ended::Done)
}
