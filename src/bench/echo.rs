//! Echo load: N clients, each on its own connection, doing
//! request/response round trips of a small message for a fixed time,
//! driven by load threads ([`echo_load`], one by default) that start
//! together, so every client runs the same interval.
//!
//! Every wait is bounded by the time budget, so a client stuck behind an
//! iterative server gives up instead of hanging: that is the measurement
//! ("served 1 of 10 clients"), not a failure.

use std::net::SocketAddr;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::child;
use super::echo_load::{self, ClientRun};
use super::report::EchoRow;
use super::stats;
use crate::lab::cancel;

/// Bytes per request: a small message, so this measures the server's
/// per-request cost, not bandwidth.
pub const MESSAGE: usize = 64;

/// Load threads, each driving its share of the clients with epoll. One
/// thread takes one core and leaves the other of a 2-core machine to the
/// server; measured against two, it gave the same requests/s with a
/// steadier p99, since a second thread only takes turns with the server
/// on the cores there are.
pub const LOAD_THREADS: usize = 1;

/// How long one client count is measured for, and how long past it a
/// client waits for a reply before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub run: Duration,
    pub grace: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Go {
    Wait,
    Run(Instant),
    Abort,
}

/// Starts the clock once every load thread has connected its clients
/// (or failed to), so all clients run the same interval.
pub struct Gate {
    /// Threads arrived, and whether (and from when) to run.
    state: Mutex<(usize, Go)>,
    changed: Condvar,
}

impl Default for Gate {
    fn default() -> Self {
        Gate { state: Mutex::new((0, Go::Wait)), changed: Condvar::new() }
    }
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Go)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A load thread is ready; returns when to start, or `None` to give up.
    pub fn arrive(&self) -> Option<Instant> {
        let mut s = self.lock();
        s.0 += 1;
        self.changed.notify_all();
        loop {
            match s.1 {
                Go::Run(start) => return Some(start),
                Go::Abort => return None,
                Go::Wait => s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Wait for `threads` to arrive, then let them run; returns the start.
    pub fn open_when(&self, threads: usize) -> Instant {
        let mut s = self.lock();
        while s.0 < threads {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        let start = Instant::now();
        s.1 = Go::Run(start);
        self.changed.notify_all();
        start
    }

    pub fn abort(&self) {
        self.lock().1 = Go::Abort;
        self.changed.notify_all();
    }
}

/// Measure `clients` clients against `addr` for `budget.run`.
pub fn measure(server: &str, addr: SocketAddr, clients: usize, budget: Budget) -> EchoRow {
    measure_with(server, addr, clients, budget, LOAD_THREADS)
}

/// [`measure`] with `threads` load threads, the clients split evenly.
pub fn measure_with(server: &str, addr: SocketAddr, clients: usize, budget: Budget, threads: usize) -> EchoRow {
    let threads = threads.min(clients).max(1);
    let gate = Gate::default();
    let runs: Result<(Instant, Vec<ClientRun>), String> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let ids = clients * t / threads..clients * (t + 1) / threads;
            let gate = &gate;
            let share = ids.len();
            match std::thread::Builder::new().spawn_scoped(scope, move || echo_load::drive(addr, ids, budget, gate)) {
                Ok(h) => handles.push((h, share)),
                Err(e) => {
                    // The scope joins the threads started so far.
                    gate.abort();
                    return Err(format!("cannot start load thread {t}: {e}"));
                }
            }
        }
        let began = gate.open_when(threads);
        let mut runs = Vec::with_capacity(clients);
        for (h, share) in handles {
            match h.join() {
                Ok(r) => runs.extend(r),
                Err(_) => runs.extend(
                    (0..share)
                        .map(|_| ClientRun { error: Some("the load thread panicked".into()), ..Default::default() }),
                ),
            }
        }
        Ok((began, runs))
    });
    match runs {
        Ok((began, runs)) => row(server, clients, budget, began, runs),
        Err(why) => EchoRow::na(server, clients, why),
    }
}

/// The row the clients' runs amount to.
fn row(server: &str, clients: usize, budget: Budget, began: Instant, runs: Vec<ClientRun>) -> EchoRow {
    // From the start to the last reply: a client that waited past the
    // budget (the iterative server's queue) stretches the time it took.
    let last = runs.iter().filter_map(|r| r.done).max();
    let elapsed = last.map_or(Duration::ZERO, |t| t.saturating_duration_since(began));
    let first_wait = runs.iter().filter_map(|r| r.latencies_ns.first()).max().copied().unwrap_or(0);
    let served = runs.iter().filter(|r| !r.latencies_ns.is_empty()).count();
    let first_error = runs.iter().find_map(|r| r.error.clone());
    let failed = runs.iter().filter(|r| r.error.is_some()).count();
    let latencies: Vec<u64> = runs.into_iter().flat_map(|r| r.latencies_ns).collect();
    let Some(summary) = stats::summarize(latencies, elapsed) else {
        let why = first_error.unwrap_or_else(|| "no reply within the time budget".into());
        return EchoRow::na(server, clients, format!("no round trip completed: {why}"));
    };
    let note = if served < clients {
        Some(format!("served {served} of {clients} clients in {} ms; the rest waited", budget.run.as_millis()))
    } else if failed > 0 {
        first_error.map(|e| format!("{failed} client(s) stopped early: {e}"))
    } else if Duration::from_nanos(first_wait) > budget.run / 2 {
        Some(format!("a client waited {} for its first reply", stats::latency(first_wait as f64 / 1000.0)))
    } else {
        None
    };
    EchoRow::measured(server, clients, summary, served, note)
}

/// Every client count against one `netlab serve echo --model M`; a model
/// that does not serve gives a row per client count saying why.
pub fn model_rows(model: &str, counts: &[usize], budget: Budget) -> Vec<EchoRow> {
    let max = counts.iter().copied().max().unwrap_or(1);
    let started = child::serve_echo(model, max + 16).and_then(|(guard, addr)| match child::probe(addr) {
        Ok(()) => Ok((guard, addr)),
        Err(probe) => {
            let mut guard = guard;
            Err(guard.errors(Duration::from_millis(500)).unwrap_or(probe))
        }
    });
    match started {
        Ok((_guard, addr)) => counts
            .iter()
            .map(|&n| {
                if cancel::is_cancelled() {
                    EchoRow::na(model, n, "cancelled")
                } else {
                    measure(model, addr, n, budget)
                }
            })
            .collect(),
        Err(why) => counts.iter().map(|&n| EchoRow::na(model, n, why.clone())).collect(),
    }
}

#[cfg(test)]
#[path = "echo_tests.rs"]
mod tests;
