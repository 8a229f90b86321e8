//! The pool model: a fixed set of worker threads (--workers) takes
//! accepted clients from one queue. Threads are made once, not per
//! client; with every worker busy, the next client waits in the queue —
//! accepted, but unanswered until a worker is free.

use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::conn::{self, Totals};
use super::handler::{Ctx, Handler};
use super::{Server, Stop, TICK};
use crate::event::{CallResult, Event};

/// More workers than this is a typo, not a pool.
pub const MAX_WORKERS: usize = 1024;

/// A client waiting for a worker.
struct Job {
    stream: TcpStream,
    ctx: Ctx,
    handler: Box<dyn Handler>,
}

/// Clients accepted and not yet closed, and how many workers are busy.
#[derive(Default)]
struct Counts {
    in_flight: AtomicUsize,
    busy: AtomicUsize,
}

/// The pool's settings, checked before the server binds.
pub fn check(workers: usize) -> Result<(), String> {
    if (1..=MAX_WORKERS).contains(&workers) {
        Ok(())
    } else {
        Err(format!("--workers {workers}: a pool needs 1 to {MAX_WORKERS} worker threads (try --workers 4)"))
    }
}

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let counts = Arc::new(Counts::default());
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for i in 1..=server.config.workers.clamp(1, MAX_WORKERS) {
        let (rx, counts, stop) = (rx.clone(), counts.clone(), server.stop.clone());
        let name = format!("worker#{i}");
        match std::thread::Builder::new().name(name.clone()).spawn(move || work(&rx, &counts, &stop)) {
            Ok(t) => workers.push(t),
            Err(e) => server.log.call(&name, "spawn thread", CallResult::Failed { why: e.to_string() }),
        }
    }
    let mut served = 0;
    if workers.is_empty() {
        server.log.emit(&Event::error("no worker thread could be started"));
    } else {
        let n = workers.len();
        server.log.emit(&Event::notice(format!("{n} worker threads ready")));
        served = accept_loop(server, &tx, &counts, n);
    }
    // Workers finish their clients (each notices the stop within a tick),
    // close what is still queued, and see the queue disconnect.
    drop(tx);
    for t in workers {
        // A panicking worker has already been reported by the panic hook.
        let _ = t.join();
    }
    served
}

fn accept_loop(server: &Server, tx: &mpsc::Sender<Job>, counts: &Counts, workers: usize) -> usize {
    let mut served = 0;
    let cap = server.config.max_conns;
    while let Some((stream, peer)) = server.next_client() {
        served += 1;
        let ctx = server.ctx(served, peer);
        if counts.in_flight.load(Ordering::SeqCst) >= cap {
            server.refuse(stream, &ctx.name, peer, &server.full());
            continue;
        }
        counts.in_flight.fetch_add(1, Ordering::SeqCst);
        if counts.busy.load(Ordering::SeqCst) >= workers {
            server.log.emit(&Event::notice(format!("{} from {peer} queued: all {workers} workers are busy", ctx.name)));
        }
        let handler = server.protocol.handler(ctx.clone());
        if let Err(mpsc::SendError(job)) = tx.send(Job { stream, ctx, handler }) {
            // Every worker is gone (they only leave when the queue closes): close this client.
            counts.in_flight.fetch_sub(1, Ordering::SeqCst);
            conn::closed(&job.ctx, Totals::default(), ", no worker left");
        }
    }
    served
}

fn work(rx: &Mutex<Receiver<Job>>, counts: &Counts, stop: &Stop) {
    loop {
        // One idle worker waits on the queue at a time; the others wait for the lock.
        let next = match rx.lock() {
            Ok(q) => q.recv_timeout(TICK),
            Err(poisoned) => poisoned.into_inner().recv_timeout(TICK),
        };
        match next {
            Ok(Job { stream, ctx, mut handler }) => {
                if stop.is_set() {
                    drop(stream);
                    conn::closed(&ctx, Totals::default(), ", server shut down before a worker was free");
                } else {
                    counts.busy.fetch_add(1, Ordering::SeqCst);
                    conn::serve_client(stream, &ctx, handler.as_mut(), stop);
                    counts.busy.fetch_sub(1, Ordering::SeqCst);
                }
                counts.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_are_checked() {
        assert!(check(1).is_ok() && check(4).is_ok() && check(MAX_WORKERS).is_ok());
        let zero = check(0).unwrap_err();
        assert!(zero.contains("--workers 0") && zero.contains("try --workers 4"), "{zero}");
        assert!(check(MAX_WORKERS + 1).is_err());
    }
}
