//! The thread-per-connection model: each accepted client gets its own
//! thread, so a slow client delays no one else. A cap keeps a flood of
//! connections from becoming a flood of threads; every thread is joined
//! before the server exits.

use std::thread::JoinHandle;

use super::{Server, conn};
use crate::event::CallResult;

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    let mut served = 0;
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let cap = server.config.max_conns;
    while let Some((stream, peer)) = server.next_client() {
        reap(&mut threads, false);
        served += 1;
        let ctx = server.ctx(served, peer);
        if threads.len() >= cap {
            server.refuse(stream, &ctx.name, peer, &server.full());
            continue;
        }
        let handler = server.protocol.handler(ctx.clone());
        let stop = server.stop.clone();
        let name = ctx.name.clone();
        let spawned = std::thread::Builder::new().name(name.clone()).spawn(move || {
            let mut handler = handler;
            conn::serve_client(stream, &ctx, handler.as_mut(), &stop);
        });
        match spawned {
            Ok(t) => threads.push(t),
            // The stream moved into the closure that failed to start, and was dropped with it.
            Err(e) => server.log.call(&name, "spawn thread", CallResult::Failed { why: e.to_string() }),
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
