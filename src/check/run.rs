//! Running a suite: find or start the server, run each test on fresh
//! connections, restart a launched program that died, and report.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::program::{self, Program};
use super::report::{Failure, LogEntry, Outcome, Summary, TestReport};
use super::target::{self, Processes};
use super::{CheckArgs, Cx, Test, every_suite, suite_for, suite_label};
use crate::event::{CheckListRow, CheckTestInfo, Event, Sink};

/// Log entries a failure shows without --verbose: the start and the end.
const FAILURE_LOG_HEAD: usize = 12;
const FAILURE_LOG_TAIL: usize = 8;

/// How long a failed test waits for a launched program that may be dying.
const DYING: Duration = Duration::from_millis(300);

/// `netlab check --list [PROTO]`.
pub fn list(args: &CheckArgs, sink: &mut dyn Sink) {
    let rows = every_suite()
        .into_iter()
        .filter(|(label, _)| match args.proto {
            None => true,
            Some(p) => *label == suite_label(p, args.is_udp()),
        })
        .map(|(label, tests)| CheckListRow {
            proto: label,
            tests: tests.iter().map(|t| CheckTestInfo { name: t.name.into(), about: t.about.into() }).collect(),
        })
        .collect();
    sink.emit(&Event::CheckList { rows });
}

/// Where the tests go: an address someone else runs, or our own child.
enum Server {
    Address { addr: SocketAddr },
    Launched(Program),
}

impl Server {
    fn addr(&self) -> SocketAddr {
        match self {
            Server::Address { addr } => *addr,
            Server::Launched(p) => p.addr,
        }
    }

    fn processes(&self, udp: bool) -> Processes {
        match self {
            Server::Address { addr } => Processes::owning(*addr, udp),
            Server::Launched(p) => Processes::group(p.pgid()),
        }
    }

    fn describe(&self, args: &CheckArgs) -> String {
        match self {
            Server::Address { addr } => addr.to_string(),
            Server::Launched(p) => format!("{} (started as: {})", p.addr, args.command.join(" ")),
        }
    }

    /// Whether it is still there to test.
    fn listening(&self, udp: bool) -> bool {
        let addr = self.addr();
        let bound = if udp { target::udp_bound(addr.port()) } else { target::tcp_listeners(addr.port()) };
        bound.iter().any(|&l| target::answers_on(l, addr))
    }
}

fn selected(args: &CheckArgs, tests: Vec<Test>) -> Result<Vec<Test>, String> {
    for name in &args.only {
        if !tests.iter().any(|t| t.name == name) {
            let names: Vec<&str> = tests.iter().map(|t| t.name).collect();
            return Err(format!("--only {name}: no such test; the tests are: {}", names.join(", ")));
        }
    }
    Ok(tests.into_iter().filter(|t| args.only.is_empty() || args.only.iter().any(|n| n == t.name)).collect())
}

fn start(args: &CheckArgs) -> Result<Server, String> {
    let udp = args.is_udp();
    if !args.command.is_empty() {
        let patience = Duration::from_millis(args.start_timeout);
        return Program::start(&args.command, udp, patience).map(Server::Launched);
    }
    let text = args.addr.as_deref().unwrap_or_default();
    let addr = target::parse(text)?;
    let server = Server::Address { addr };
    if !server.listening(udp) {
        let proto = args.proto.map_or("PROTO", |p| p.name());
        let what = if udp { "no UDP socket is bound to" } else { "nothing listens on" };
        return Err(format!(
            "{what} {addr}: start your server first, or let netlab start it: netlab check {proto} -- python3 server.py {{port}}"
        ));
    }
    Ok(server)
}

/// A failure's log, cut to its start and end.
fn trimmed(mut log: Vec<LogEntry>, verbose: bool) -> Vec<LogEntry> {
    if verbose || log.len() <= FAILURE_LOG_HEAD + FAILURE_LOG_TAIL + 1 {
        return log;
    }
    let tail = log.split_off(log.len() - FAILURE_LOG_TAIL);
    let left = log.len() - FAILURE_LOG_HEAD;
    log.truncate(FAILURE_LOG_HEAD);
    let t_ms = log.last().map_or(0.0, |e| e.t_ms);
    let text = format!("… {left} entries not shown (--verbose shows them)");
    log.push(LogEntry { t_ms, conn: String::new(), what: super::report::Logged::Note { text } });
    log.extend(tail);
    log
}

/// What a launched program's death adds to a failure.
fn died(program: &mut Program, status: std::process::ExitStatus) -> String {
    let lines = program.last_lines();
    format!("your program {} during this test{}", program::describe_exit(status), program::quoted(&lines))
}

/// `netlab check PROTO ADDR | -- COMMAND`: every selected test, then the
/// summary. `Err` is a usage problem (bad address, nothing listening).
pub fn run(args: &CheckArgs, sink: &mut dyn Sink) -> Result<Summary, String> {
    let Some(proto) = args.proto else {
        return Err("give the protocol to check, e.g. netlab check echo 127.0.0.1:5000".into());
    };
    if args.udp && proto != crate::serve::config::Proto::Upper && proto != crate::serve::config::Proto::Time {
        return Err(format!("--udp applies to upper only; {} is a TCP protocol", proto.name()));
    }
    let udp = args.is_udp();
    if proto == crate::serve::config::Proto::Auth && args.key.as_deref().is_none_or(str::is_empty) {
        return Err("auth needs the key your server uses: give --key SECRET or set NETLAB_KEY=SECRET".into());
    }
    let tests = selected(args, suite_for(args))?;
    if tests.is_empty() {
        return Err(format!("no tests for {} yet", proto.name()));
    }
    let mut server = start(args)?;
    let began = Instant::now();
    // Found once (a scan of every process's descriptors), and again after a restart.
    let mut procs = server.processes(udp);
    sink.emit(&Event::CheckStart {
        proto: if udp && proto != crate::serve::config::Proto::Time {
            format!("{} --udp", proto.name())
        } else {
            proto.name().into()
        },
        target: server.describe(args),
        server: procs.describe(),
        tests: tests.len(),
    });
    let mut summary = Summary { passed: 0, failed: 0, not_run: 0, elapsed_ms: 0.0, failed_tests: Vec::new() };
    let mut gone: Option<String> = None;
    let mut restarts = Vec::new();
    for (i, test) in tests.iter().enumerate() {
        let more_to_run = i + 1 < tests.len();
        if crate::lab::cancel::is_cancelled() && gone.is_none() {
            gone = Some("cancelled with Ctrl-C".into());
        }
        if let Some(why) = &gone {
            summary.not_run += 1;
            summary.failed_tests.push(test.name.into());
            let outcome = Outcome::NotRun { why: why.clone() };
            let report = TestReport {
                name: test.name.into(),
                about: test.about.into(),
                outcome,
                elapsed_ms: 0.0,
                log: Vec::new(),
            };
            sink.emit(&Event::CheckTest { report: Box::new(report) });
            continue;
        }
        let cx = Cx::new(server.addr(), args, procs.clone());
        let t0 = Instant::now();
        let result = (test.run)(&cx);
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let mut outcome = match result {
            Ok(summary) => Outcome::Passed { summary },
            Err(failure) => Outcome::Failed { failure: Box::new(failure) },
        };
        // A program that is dying when a test fails (printing its
        // traceback) gets a moment, so the failure can say it died.
        let grace = if matches!(outcome, Outcome::Failed { .. }) { DYING } else { Duration::ZERO };
        if let Server::Launched(program) = &mut server
            && let Some(status) = program.exited_within(grace)
        {
            let note = died(program, status);
            outcome = match outcome {
                Outcome::Failed { failure } => Outcome::Failed { failure: Box::new(failure.fact(note)) },
                _ => Outcome::Failed { failure: Box::new(Failure::new(note)) },
            };
        }
        let failed = matches!(outcome, Outcome::Failed { .. });
        // A launched program is restarted after a failure — dead, stuck
        // with a client, or spinning — so one bug fails one test, not
        // every test after it.
        if let Server::Launched(program) = &mut server
            && failed
            && more_to_run
            && !crate::lab::cancel::is_cancelled()
        {
            match program.restart(Duration::from_millis(args.start_timeout)) {
                Ok(()) => {
                    restarts.push(program.addr);
                    procs = Processes::group(program.pgid());
                }
                Err(why) => gone = Some(format!("your program could not be restarted: {why}")),
            }
        } else if matches!(server, Server::Address { .. }) && !server.listening(udp) {
            gone = Some(format!("the server at {} stopped listening during `{}`", server.addr(), test.name));
        }
        let log = if failed || args.verbose { trimmed(cx.log.entries(), args.verbose) } else { Vec::new() };
        if failed {
            summary.failed += 1;
            summary.failed_tests.push(test.name.into());
        } else {
            summary.passed += 1;
        }
        let report = TestReport { name: test.name.into(), about: test.about.into(), outcome, elapsed_ms, log };
        sink.emit(&Event::CheckTest { report: Box::new(report) });
        if let Some(addr) = restarts.pop() {
            sink.emit(&Event::notice(format!(
                "    (netlab restarted your program, now on {addr}, for the next tests)"
            )));
        }
    }
    if let Server::Launched(program) = &mut server
        && let Some(status) = program.stop()
    {
        sink.emit(&Event::notice(format!("your program {} before netlab stopped it", program::describe_exit(status))));
    }
    summary.elapsed_ms = began.elapsed().as_secs_f64() * 1000.0;
    sink.emit(&Event::CheckSummary { summary: summary.clone() });
    Ok(summary)
}
