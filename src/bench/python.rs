//! The reference row: the echo server a Python tutorial would write,
//! `socketserver.ThreadingTCPServer`, measured the same way as netlab's.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::child::{self, Guard};
use super::echo::{self, Budget};
use super::report::EchoRow;

pub const SERVER: &str = "python";

/// A thread per connection, as the socketserver docs show it. Two changes
/// from the docs' example, both for fairness: a listen backlog of 128
/// (the default, 5, drops SYNs when 100 clients connect at once, which
/// would measure TCP's 1 s retransmit timer rather than Python), and
/// daemon threads so SIGTERM ends it at once.
const SCRIPT: &str = r#"
import socketserver

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                break
            self.request.sendall(data)

class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

with Server(("127.0.0.1", 0), Echo) as srv:
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
"#;

fn start() -> Result<(Guard, SocketAddr), String> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", SCRIPT]).stdin(Stdio::null());
    let mut guard = Guard::spawn(cmd, "python3 socketserver").map_err(|_| "python3 not found on PATH".to_string())?;
    let port =
        guard.wait_for(Duration::from_secs(10), |l| if l.stderr { None } else { l.text.trim().parse::<u16>().ok() })?;
    Ok((guard, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// The reference row at `clients` clients, or why there is none.
pub fn row(clients: usize, budget: Budget) -> EchoRow {
    match start() {
        Ok((_guard, addr)) => match child::probe(addr) {
            Ok(()) => echo::measure(SERVER, addr, clients, budget),
            Err(e) => EchoRow::na(SERVER, clients, format!("the Python server does not echo: {e}")),
        },
        Err(why) => EchoRow::na(SERVER, clients, why),
    }
}
