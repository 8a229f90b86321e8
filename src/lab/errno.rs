//! OS errors in the learner's terms: the errno name, its number, the
//! kernel's message, and for the errors lessons provoke, what it means.

use nix::errno::Errno;

use crate::event::CallResult;

pub fn call_error(err: &std::io::Error) -> CallResult {
    let code = match (err.raw_os_error(), err.kind()) {
        (Some(code), _) => code,
        (None, std::io::ErrorKind::TimedOut) => Errno::ETIMEDOUT as i32,
        (None, std::io::ErrorKind::WouldBlock) => Errno::EAGAIN as i32,
        (None, _) => {
            return CallResult::Err { errno: "error".into(), code: 0, message: err.to_string(), why: None };
        }
    };
    from_code(code)
}

pub fn from_code(code: i32) -> CallResult {
    let errno = Errno::from_raw(code);
    CallResult::Err {
        errno: format!("{errno:?}"),
        code,
        message: strerror(code),
        why: explain(errno).map(str::to_string),
    }
}

/// The errno name (`EADDRINUSE`) of an error result, if it has one.
pub fn name(result: &CallResult) -> Option<&str> {
    match result {
        CallResult::Err { errno, .. } => Some(errno),
        _ => None,
    }
}

/// Is `name` an errno Linux knows, e.g. `ECONNREFUSED`? (for `netlab lint`)
pub fn is_known(name: &str) -> bool {
    (1..=133).any(|code| format!("{:?}", Errno::from_raw(code)) == name)
}

fn explain(errno: Errno) -> Option<&'static str> {
    Some(match errno {
        Errno::EADDRINUSE => {
            "another socket holds this address and port: a listener (nothing helps), or a connection in TIME_WAIT (SO_REUSEADDR on both sockets lets a new listener share it)"
        }
        Errno::ECONNREFUSED => {
            "nothing listens on that port: the kernel answered the SYN with a RST — retry later (with a growing delay) or report that the server is down"
        }
        Errno::ECONNRESET => {
            "the peer's kernel sent a RST (it closed with unread data, with SO_LINGER 0, or crashed): the connection is gone — close it, log it, reconnect if you need to"
        }
        Errno::EPIPE => {
            "the connection is closed for writing (the peer reset it, or you shut down writing); netlab sends with MSG_NOSIGNAL (and Rust and Python ignore SIGPIPE), so you get EPIPE instead of a dead process — stop writing and close"
        }
        Errno::EAGAIN => {
            "the call would have blocked (EWOULDBLOCK): at once on a non-blocking socket, or when SO_RCVTIMEO / SO_SNDTIMEO ran out — not a failure: wait for readiness (poll) and call again"
        }
        Errno::ENOTCONN => "the socket is not connected: connect (TCP) or use sendto with an address (UDP)",
        Errno::EINVAL => "the kernel refused the arguments for this socket's current state",
        Errno::EINTR => "interrupted (Ctrl-C) before anything happened",
        Errno::EACCES => "ports below 1024 need CAP_NET_BIND_SERVICE (or a lower net.ipv4.ip_unprivileged_port_start)",
        Errno::EADDRNOTAVAIL => "that address is not one of this machine's",
        Errno::ETIMEDOUT => {
            "retransmissions (of a SYN, data or keepalive probes) went unanswered; a full accept queue is one cause"
        }
        _ => return None,
    })
}

/// The C library's message ("Resource temporarily unavailable"), which is
/// also what Python prints, rather than the kernel header's comment.
fn strerror(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
