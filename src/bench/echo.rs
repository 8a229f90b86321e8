//! Echo load: N client threads, each on its own connection, doing
//! request/response round trips of a small message for a fixed time.
//!
//! Every blocking call has a timeout just past the time budget, so a
//! client stuck behind an iterative server gives up instead of hanging:
//! that is the measurement ("served 1 of 10 clients"), not a failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::child;
use super::report::EchoRow;
use super::stats;
use crate::lab::cancel;

/// Bytes per request: a small message, so this measures the server's
/// per-request cost, not bandwidth.
pub const MESSAGE: usize = 64;

/// How long one client count is measured for, and how long past it a
/// client waits for a reply before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub run: Duration,
    pub grace: Duration,
}

/// What one client thread did.
#[derive(Default)]
struct ClientRun {
    latencies_ns: Vec<u64>,
    error: Option<String>,
    /// When the last reply arrived.
    done: Option<Instant>,
}

/// Starts the clock once every client is connected (or failed to).
#[derive(Default)]
struct Gate {
    /// Clients ready, and whether to run (`Some(true)`) or give up.
    state: Mutex<(usize, Option<bool>)>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, Option<bool>)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A client is ready; returns whether to run.
    fn arrive(&self) -> bool {
        let mut s = self.lock();
        s.0 += 1;
        self.changed.notify_all();
        loop {
            if let Some(go) = s.1 {
                return go;
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Wait for `clients` to arrive, then let them run.
    fn open_when(&self, clients: usize) {
        let mut s = self.lock();
        while s.0 < clients {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.1 = Some(true);
        self.changed.notify_all();
    }

    fn abort(&self) {
        self.lock().1 = Some(false);
        self.changed.notify_all();
    }
}

fn client(addr: SocketAddr, id: usize, budget: Budget, gate: Arc<Gate>) -> ClientRun {
    let mut run = ClientRun::default();
    let limit = budget.run + budget.grace;
    let conn = TcpStream::connect_timeout(&addr, limit).and_then(|s| {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(limit))?;
        s.set_write_timeout(Some(limit))?;
        Ok(s)
    });
    // Every client arrives, connected or not (the connect timeout bounds
    // the wait), so the clock starts once for all of them.
    if !gate.arrive() {
        return run;
    }
    let mut s = match conn {
        Ok(s) => s,
        Err(e) => {
            run.error = Some(format!("connect: {e}"));
            return run;
        }
    };
    let mut msg = [0u8; MESSAGE];
    for (i, b) in msg.iter_mut().enumerate() {
        *b = b'a' + ((i + id) % 26) as u8;
    }
    let mut back = [0u8; MESSAGE];
    let deadline = Instant::now() + budget.run;
    while Instant::now() < deadline && !cancel::is_cancelled() {
        let t0 = Instant::now();
        if let Err(e) = s.write_all(&msg).and_then(|()| s.read_exact(&mut back)) {
            run.error = Some(e.to_string());
            break;
        }
        if back != msg {
            run.error = Some("the echo differs from what was sent".into());
            break;
        }
        let now = Instant::now();
        run.latencies_ns.push((now - t0).as_nanos() as u64);
        run.done = Some(now);
    }
    run
}

/// Measure `clients` clients against `addr` for `budget.run`.
pub fn measure(server: &str, addr: SocketAddr, clients: usize, budget: Budget) -> EchoRow {
    let gate = Arc::new(Gate::default());
    let mut threads = Vec::with_capacity(clients);
    for id in 0..clients {
        let g = Arc::clone(&gate);
        match std::thread::Builder::new().spawn(move || client(addr, id, budget, g)) {
            Ok(t) => threads.push(t),
            Err(e) => {
                gate.abort();
                for t in threads {
                    let _ = t.join();
                }
                return EchoRow::na(server, clients, format!("cannot start client thread {id}: {e}"));
            }
        }
    }
    gate.open_when(clients);
    let began = Instant::now();
    let runs: Vec<ClientRun> = threads.into_iter().map(|t| t.join().unwrap_or_default()).collect();
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
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn measures_an_in_process_echo_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut handles = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().unwrap();
                handles.push(std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => s.write_all(&buf[..n]).unwrap(),
                        }
                    }
                }));
            }
            handles.into_iter().for_each(|h| h.join().unwrap());
        });
        let budget = Budget { run: Duration::from_millis(100), grace: Duration::from_millis(500) };
        let row = measure("test", addr, 2, budget);
        server.join().unwrap();
        assert_eq!(row.na, None);
        assert_eq!(row.served, 2);
        assert!(row.requests > 0 && row.rps.unwrap() > 0.0);
        assert!(row.p50_us.unwrap() <= row.p99_us.unwrap());
    }

    #[test]
    fn nothing_listening_is_a_reason_not_a_number() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let budget = Budget { run: Duration::from_millis(50), grace: Duration::from_millis(50) };
        let row = measure("nobody", addr, 3, budget);
        assert!(row.na.as_deref().unwrap().contains("connect"), "{row:?}");
        assert_eq!(row.rps, None);
    }
}
