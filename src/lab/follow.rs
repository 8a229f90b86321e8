//! `follow SOCK`: a receive thread, like the one every chat client needs.
//!
//! A client that blocks in `input()` cannot also block in `recv()`: lines
//! from the others pile up unread until the user presses Enter. The fix
//! every tutorial ends with is a second thread that does nothing but
//! `recv()` and print. A [`Follower`] is that thread, owned by the lab:
//! it reads a duplicate of the socket's descriptor as soon as it is
//! readable, keeps what it heard (for `wait SOCK heard TEXT`), and reports
//! each chunk on a channel that the lab drains around every command.
//!
//! Dropping a follower stops and joins its thread and closes its duplicate
//! descriptor: nothing outlives `unfollow` or `close`.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self as nixsock, MsgFlags};
use socket2::Socket;

/// How often the thread looks at its stop flag while nothing arrives.
const STOP_POLL: Duration = Duration::from_millis(20);

/// One `recv()` reads at most this much, like the classic `recv(1024)`… times four.
pub const CHUNK: usize = 4096;

/// What heard-but-not-yet-matched bytes may grow to; older bytes go first.
const HEARD_CAP: usize = 1 << 20;

/// What a follower thread tells the lab.
#[derive(Debug)]
pub enum FollowReport {
    Chunk {
        sock: String,
        data: Vec<u8>,
    },
    /// recv() returned 0 (`why` = None) or failed: the thread has stopped.
    Ended {
        sock: String,
        why: Option<String>,
    },
}

/// Bytes heard and not yet matched by a `wait … heard`.
#[derive(Default)]
struct Heard {
    bytes: Vec<u8>,
    ended: bool,
}

pub struct Follower {
    pub sock: String,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    heard: Arc<Mutex<Heard>>,
}

fn lock(heard: &Mutex<Heard>) -> MutexGuard<'_, Heard> {
    heard.lock().unwrap_or_else(|p| p.into_inner())
}

impl Follower {
    /// Start a thread reading `sock` (a duplicate of the lab's descriptor).
    pub fn start(name: &str, sock: Socket, reports: Sender<FollowReport>) -> std::io::Result<Follower> {
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(Heard::default()));
        let (t_stop, t_heard, t_name) = (Arc::clone(&stop), Arc::clone(&heard), name.to_string());
        let handle = std::thread::Builder::new()
            .name("nl-follow".into())
            .spawn(move || run(&t_name, &sock, &t_stop, &t_heard, &reports))?;
        Ok(Follower { sock: name.to_string(), stop, handle: Some(handle), heard })
    }

    /// If `text` has been heard since the last match, consume up to its
    /// end and return those bytes.
    pub fn take_heard(&self, text: &[u8]) -> Option<Vec<u8>> {
        let mut heard = lock(&self.heard);
        let at = find(&heard.bytes, text)?;
        Some(heard.bytes.drain(..at + text.len()).collect())
    }

    /// The thread saw EOF or an error: nothing more will be heard.
    pub fn ended(&self) -> bool {
        lock(&self.heard).ended
    }

    /// Heard and not yet matched (for a timeout's message).
    pub fn pending(&self) -> Vec<u8> {
        lock(&self.heard).bytes.clone()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            // A panicking follower has already been reported by the panic hook.
            let _ = handle.join();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn run(name: &str, sock: &Socket, stop: &AtomicBool, heard: &Mutex<Heard>, reports: &Sender<FollowReport>) {
    let mut buf = vec![0u8; CHUNK];
    let ended = |why: Option<String>| {
        lock(heard).ended = true;
        // The lab's receiver outlives every follower; a failed send means
        // the lab is being torn down and nobody is left to tell.
        let _ = reports.send(FollowReport::Ended { sock: name.to_string(), why });
    };
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(STOP_POLL).unwrap_or(PollTimeout::ZERO)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return ended(Some(format!("poll: {e}"))),
        }
        // MSG_DONTWAIT: the lab's socket may be blocking; this thread never
        // blocks anywhere but in poll, so a stop is noticed.
        match nixsock::recv(sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return ended(None),
            Ok(n) => {
                {
                    let mut h = lock(heard);
                    h.bytes.extend_from_slice(&buf[..n]);
                    let over = h.bytes.len().saturating_sub(HEARD_CAP);
                    h.bytes.drain(..over);
                }
                if reports.send(FollowReport::Chunk { sock: name.to_string(), data: buf[..n].to_vec() }).is_err() {
                    return;
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return ended(Some(format!("recv: {}", e.desc()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (TcpStream, Socket) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, Socket::from(s))
    }

    #[test]
    fn reports_chunks_matches_heard_text_and_ends_at_eof() {
        let (mut peer, sock) = pair();
        let (tx, rx) = std::sync::mpsc::channel();
        let f = Follower::start("bob", sock, tx).unwrap();
        peer.write_all(b"ann: hi\nann: again\n").unwrap();
        let mut got = Vec::new();
        while got.len() < 19 {
            match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
                FollowReport::Chunk { sock, data } => {
                    assert_eq!(sock, "bob");
                    got.extend(data);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(f.take_heard(b"ann: hi\n").unwrap(), b"ann: hi\n");
        assert_eq!(f.take_heard(b"ann: hi\n"), None, "each match consumes");
        assert_eq!(f.take_heard(b"again").unwrap(), b"ann: again");
        drop(peer);
        assert!(matches!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), FollowReport::Ended { why: None, .. }));
        assert!(f.ended());
    }

    #[test]
    fn drop_joins_the_thread_promptly() {
        let (_peer, sock) = pair();
        let (tx, _rx) = std::sync::mpsc::channel();
        let f = Follower::start("bob", sock, tx).unwrap();
        let t = std::time::Instant::now();
        drop(f);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
