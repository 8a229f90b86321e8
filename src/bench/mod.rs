//! `netlab bench`: the reference servers side by side, with numbers.
//!
//! Echo requests/s and latency for every concurrency model at 1, 10 and
//! 100 clients (each server a `netlab serve` child process), a Python
//! `socketserver` reference row, the cost of framing on bulk transfer,
//! and how many connections one epoll server holds in how much memory.
//! Every section is bounded in time; the result is one [`report::Report`].

pub mod child;
pub mod conns;
pub mod echo;
pub mod echo_load;
pub mod framing;
pub mod load;
pub mod python;
pub mod report;
pub mod stats;
#[cfg(test)]
mod test_server;

use std::time::{Duration, Instant};

use crate::event::{Event, Sink};
use crate::lab::cancel;
use crate::serve::Model;
use echo::Budget;
use report::{EchoRow, Report};

/// Client counts every model is measured at.
pub const CLIENTS: [usize; 3] = [1, 10, report::PYTHON_CLIENTS];

/// Connections the epoll server is asked to hold by default (the target).
pub const DEFAULT_CONNS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub models: Vec<Model>,
    /// Connections for the epoll section (default: 10,000; --quick 1,000).
    pub conns: Option<usize>,
}

/// How long and how big each section is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub echo: Budget,
    pub framing_bytes: u64,
    pub framing_rounds: usize,
    pub conns: usize,
    pub conns_timeout: Duration,
}

impl Plan {
    /// Default: about 40 s on a 2-core machine; `--quick`: under 10 s.
    pub fn new(opts: &Options) -> Plan {
        if opts.quick {
            Plan {
                echo: Budget { run: Duration::from_millis(120), grace: Duration::from_millis(150) },
                framing_bytes: 8 << 20,
                framing_rounds: 3,
                conns: opts.conns.unwrap_or(1_000),
                conns_timeout: Duration::from_secs(5),
            }
        } else {
            Plan {
                echo: Budget { run: Duration::from_secs(1), grace: Duration::from_millis(500) },
                framing_bytes: 64 << 20,
                framing_rounds: 5,
                conns: opts.conns.unwrap_or(DEFAULT_CONNS),
                conns_timeout: Duration::from_secs(30),
            }
        }
    }
}

/// Run every section, telling `progress` what is being measured.
pub fn run(opts: &Options, progress: &mut dyn Sink) -> Report {
    let plan = Plan::new(opts);
    let began = Instant::now();
    let mut echo = Vec::new();
    for model in &opts.models {
        if cancel::is_cancelled() {
            break;
        }
        progress.emit(&Event::notice(format!("echo, model {}: 1, 10, 100 clients…", model.name())));
        echo.extend(echo::model_rows(model.name(), &CLIENTS, plan.echo));
    }
    let python = if cancel::is_cancelled() {
        EchoRow::na(python::SERVER, report::PYTHON_CLIENTS, "cancelled")
    } else {
        progress.emit(&Event::notice("echo, Python socketserver.ThreadingTCPServer: 100 clients…"));
        python::row(report::PYTHON_CLIENTS, plan.echo)
    };
    let framing = if cancel::is_cancelled() {
        Vec::new()
    } else {
        let mib = plan.framing_bytes >> 20;
        progress.emit(&Event::notice(format!("framing: {mib} MiB raw, u32-length, json-header…")));
        framing::rows(plan.framing_bytes, plan.framing_rounds)
    };
    let conns = if cancel::is_cancelled() {
        report::ConnsRow { wanted: plan.conns, na: Some("cancelled".into()), ..Default::default() }
    } else {
        progress.emit(&Event::notice(format!("connections: {} to one epoll server…", plan.conns)));
        conns::row(plan.conns, plan.conns_timeout)
    };
    let mut report = Report {
        quick: opts.quick,
        seconds: began.elapsed().as_secs_f64(),
        cancelled: cancel::is_cancelled(),
        message_bytes: echo::MESSAGE,
        echo,
        python,
        framing,
        conns,
        targets: Vec::new(),
    };
    report.judge();
    report
}
