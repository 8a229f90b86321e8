//! One big `send()` in a second thread while this one reads: how the
//! sticky demo shows a single send arriving in several recv()s.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{self as nixsock, MsgFlags};

use super::cancel::{self, Waited};
use super::exec_io::SEND_FLAGS;
use super::{DEFAULT_TIMEOUT, Kind, Lab};
use crate::event::{CallResult, Event};

impl Lab {
    /// One `send()` of `data` on `sender`, made in a second thread, while
    /// this thread `recv()`s `bufsize` at a time on `reader` until all of it
    /// arrived. Returns the size of every recv — for the sticky demo, where
    /// one send must be seen arriving in pieces.
    pub fn send_while_reading(
        &mut self,
        sender: &str,
        reader: &str,
        data: &[u8],
        bufsize: usize,
    ) -> Result<Vec<usize>, String> {
        let (s, r) = (self.open(sender)?, self.open(reader)?);
        if s.kind != Kind::Stream || r.kind != Kind::Stream {
            return Err("send_while_reading needs two connected TCP sockets".into());
        }
        s.sock.set_write_timeout(Some(DEFAULT_TIMEOUT)).map_err(|e| e.to_string())?;
        let call = format!("send({})", data.len());
        let started = CallResult::ok("blocking in a second thread until every byte is queued…");
        self.sink.emit(&Event::Call { sock: sender.into(), call: call.clone(), result: started });
        // Borrow the sockets and the sink as separate fields, so the reader
        // loop can report each recv() as it happens.
        let (Some(s), Some(r)) = (super::find_open(&self.entries, sender), super::find_open(&self.entries, reader))
        else {
            return Err("the sockets vanished".into());
        };
        let sink = &mut self.sink;
        let (sizes, sent) = std::thread::scope(|scope| {
            let sending = scope.spawn(|| s.sock.send_with_flags(data, SEND_FLAGS));
            let mut sizes = Vec::new();
            let mut buf = vec![0u8; bufsize];
            let mut total = 0;
            while total < data.len() {
                match cancel::wait_fd(r.sock.as_fd(), PollFlags::POLLIN, DEFAULT_TIMEOUT) {
                    Ok(Waited::Ready(_)) => {}
                    _ => break,
                }
                match nixsock::recv(r.sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                    Err(Errno::EAGAIN) => continue,
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let result = CallResult::ok(format!("{n} bytes"));
                        sink.emit(&Event::Call { sock: reader.into(), call: format!("recv({bufsize})"), result });
                        sizes.push(n);
                        total += n;
                    }
                }
            }
            (sizes, sending.join())
        });
        let sent = match sent {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(format!("send failed: {e}")),
            Err(_) => return Err("the sending thread panicked".into()),
        };
        let detail = if sent == data.len() {
            format!("returned {sent}: all queued, in one call")
        } else {
            format!("returned {sent} of {}: the send timed out before the reader took the rest", data.len())
        };
        self.call(sender, call, CallResult::ok(detail));
        Ok(sizes)
    }
}
