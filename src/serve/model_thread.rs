//! The thread-per-connection model: each accepted client gets its own
//! thread, so a slow client delays no one else. A cap keeps a flood of
//! connections from becoming a flood of threads; every thread is joined
//! before the server exits.

use std::net::TcpListener;
use std::thread::JoinHandle;

use super::{Log, Proto, conn, handler, next_client};
use crate::event::{CallResult, Event};

/// At most this many clients are served at once; more are told no (closed).
pub const MAX_CONNECTIONS: usize = 64;

/// Serve until shutdown; returns how many connections were accepted.
pub fn serve(listener: &TcpListener, proto: Proto, log: &Log) -> usize {
    let mut served = 0;
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some((stream, peer)) = next_client(listener, log) {
        reap(&mut threads, false);
        served += 1;
        let name = format!("conn#{served}");
        if threads.len() >= MAX_CONNECTIONS {
            log.emit(&Event::notice(format!(
                "{name} from {peer} refused: {MAX_CONNECTIONS} clients already connected"
            )));
            continue;
        }
        let log_for_thread = log.clone();
        let thread_name = name.clone();
        let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
            let mut handler = handler::for_proto(proto);
            conn::serve_client(stream, peer, &thread_name, handler.as_mut(), &log_for_thread);
        });
        match spawned {
            Ok(t) => threads.push(t),
            // The stream moved into the closure that failed to start, and was dropped with it.
            Err(e) => log.call(&name, "spawn thread", CallResult::Failed { why: e.to_string() }),
        }
    }
    reap(&mut threads, true);
    served
}

/// Join finished threads (all of them if `all`: shutdown waits for each,
/// and each notices the shutdown within one tick).
fn reap(threads: &mut Vec<JoinHandle<()>>, all: bool) {
    let (done, running): (Vec<_>, Vec<_>) = threads.drain(..).partition(|t| all || t.is_finished());
    *threads = running;
    for t in done {
        // A panicking client thread has already been reported by the panic hook.
        let _ = t.join();
    }
}
