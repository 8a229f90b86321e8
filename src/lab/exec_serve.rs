//! `serve`, `procs`, `wait SERVER log TEXT`: reference servers in the
//! playground. Each is a `netlab serve` child process (see `server_proc`);
//! here the lab names it, shows its log lines as they come, finds lines
//! for `wait`, lists its processes, and stops it on `close`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::command::ServeSpec;
use super::procs::{self, Proc};
use super::server_proc::{Line, ServerProc, strip_stamp};
use super::{Lab, Outcome, cancel};
use crate::event::{CallResult, Event, SocketRow};

/// Lines kept per server for `wait … log`: enough for any lesson, bounded
/// for a server left running under load.
const KEPT_LINES: usize = 20_000;

pub struct NamedServer {
    pub name: String,
    proc: ServerProc,
    /// Every line so far (stdout, stamps stripped), and where the next
    /// `wait … log` starts looking.
    log: Vec<String>,
    cursor: usize,
}

impl NamedServer {
    pub fn local(&self) -> SocketAddr {
        self.proc.local
    }

    fn keep(&mut self, line: &str) {
        if self.log.len() >= KEPT_LINES {
            let drop = KEPT_LINES / 2;
            self.log.drain(..drop);
            self.cursor = self.cursor.saturating_sub(drop);
        }
        self.log.push(line.to_string());
    }
}

fn log_event(server: &str, line: &Line) -> Event {
    match line {
        Line::Out(text) => Event::ServerLog { server: server.into(), line: strip_stamp(text).into(), error: false },
        Line::Err(text) => Event::ServerLog { server: server.into(), line: text.clone(), error: true },
    }
}

impl Lab {
    pub(super) fn serve(&mut self, spec: &ServeSpec) -> Result<Outcome, String> {
        let label = spec.args.first().cloned().unwrap_or_default();
        let name = self.claim_name(spec.name.as_deref(), &label)?;
        let (proc, lines) = ServerProc::start(&spec.args).map_err(|e| format!("serve {label}: {e}"))?;
        let (pid, local) = (proc.pid(), proc.local);
        let mut server = NamedServer { name: name.clone(), proc, log: Vec::new(), cursor: 0 };
        for line in &lines {
            if let Line::Out(text) = line {
                server.keep(strip_stamp(text));
            }
            self.emit(log_event(&name, line));
        }
        self.entries.retain(|e| e.name != name);
        self.servers.push(server);
        let detail = format!("pid {pid}, listening on {local}; tcp connect {name} talks to it, close {name} stops it");
        let result = CallResult::ok(detail);
        self.call(&name, format!("netlab serve {}", spec.args.join(" ")), result.clone());
        Ok(Outcome::of(&name, result))
    }

    pub(super) fn server(&self, name: &str) -> Option<&NamedServer> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// Show every line the servers printed since the last look.
    /// Keep the servers' new lines for `wait … log` without showing them;
    /// how many there were.
    pub(super) fn drain_servers_quietly(&mut self) -> usize {
        let mut n = 0;
        for s in &mut self.servers {
            for line in s.proc.new_lines() {
                if let Line::Out(text) = &line {
                    s.keep(strip_stamp(text));
                }
                n += 1;
            }
        }
        n
    }

    pub(super) fn drain_servers(&mut self) {
        let mut events = Vec::new();
        for s in &mut self.servers {
            for line in s.proc.new_lines() {
                if let Line::Out(text) = &line {
                    s.keep(strip_stamp(text));
                }
                events.push(log_event(&s.name, &line));
            }
        }
        for e in events {
            self.emit(e);
        }
    }

    /// Wait until the server logs a line containing `text`, after the line
    /// the previous wait found — so two waits for "accept" wait for two.
    pub(super) fn wait_log(&mut self, name: &str, text: &str, timeout: Duration) -> Result<Outcome, String> {
        self.drain_servers();
        let i = self.servers.iter().position(|s| s.name == name).ok_or_else(|| {
            format!("'{name}' is not a server: wait … log works on servers started with serve (see sockets)")
        })?;
        let call = format!("wait for log line containing {text:?}");
        let deadline = Instant::now() + timeout;
        let mut announced = false;
        let mut gone = false;
        loop {
            let s = &mut self.servers[i];
            if let Some(found) = s.log[s.cursor..].iter().position(|l| l.contains(text)) {
                let line = s.log[s.cursor + found].clone();
                s.cursor += found + 1;
                let result = CallResult::ok(format!("logged: {line}"));
                self.call(name, call, result.clone());
                return Ok(Outcome::of(name, result));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || cancel::is_cancelled() || gone {
                let why = if gone {
                    "the server exited without logging such a line".to_string()
                } else if left.is_zero() {
                    format!("no such line within {} ms", timeout.as_millis())
                } else {
                    "cancelled (Ctrl-C)".to_string()
                };
                let result = CallResult::Failed { why };
                self.call(name, call, result.clone());
                return Ok(Outcome::of(name, result));
            }
            if !announced {
                announced = true;
                self.emit(super::waiting_notice(name, &format!("a log line containing {text:?}"), timeout));
            }
            // Block on the server's pipe, in slices so Ctrl-C is noticed.
            let next = self.servers[i].proc.next_line(left.min(Duration::from_millis(50)));
            gone = next.is_err();
            if let Ok(Some(line)) = next {
                let s = &mut self.servers[i];
                if let Line::Out(t) = &line {
                    s.keep(strip_stamp(t));
                }
                let event = log_event(&s.name, &line);
                self.emit(event);
                self.drain_servers();
            }
        }
    }

    pub(super) fn procs(&mut self, name: &str) -> Result<Outcome, String> {
        let pid = self
            .server(name)
            .map(|s| s.proc.pid())
            .ok_or_else(|| format!("'{name}' is not a server: procs shows servers started with serve"))?;
        let main = Proc::read(pid).ok_or_else(|| format!("{name}: process {pid} is gone"))?;
        let kids = procs::children(pid);
        let zombies = kids.iter().filter(|p| p.state == 'Z').count();
        let line = |p: &Proc, who: &str| {
            format!("{who} pid {} {} state {} — {}, {} thread(s)", p.pid, p.comm, p.state, p.state_meaning(), p.threads)
        };
        self.emit(Event::notice(line(&main, "server")));
        for k in &kids {
            self.emit(Event::notice(line(k, "  child")));
        }
        let detail = format!(
            "1 server process ({} thread(s)), {} child process(es), {zombies} zombie(s)",
            main.threads,
            kids.len()
        );
        let result = CallResult::ok(detail);
        self.call(name, "read /proc", result.clone());
        Ok(Outcome { value: Some(zombies.to_string()), ..Outcome::of(name, result) })
    }

    /// Stop the server `name` (SIGTERM, wait for it); `None` if no such server.
    pub(super) fn close_server(&mut self, name: &str) -> Option<Outcome> {
        let i = self.servers.iter().position(|s| s.name == name)?;
        self.drain_servers();
        let server = self.servers.remove(i);
        let (lines, status) = server.proc.stop();
        for line in &lines {
            self.emit(log_event(name, line));
        }
        let result = CallResult::ok(format!("SIGTERM sent; the server exited ({status})"));
        self.call(name, "kill(SIGTERM) + waitpid()", result.clone());
        Some(Outcome::of(name, result))
    }

    pub(super) fn stop_servers(&mut self) {
        let names: Vec<String> = self.servers.iter().map(|s| s.name.clone()).collect();
        for name in names {
            self.close_server(&name);
        }
    }

    pub(super) fn server_rows(&self) -> impl Iterator<Item = SocketRow> + '_ {
        self.servers.iter().map(|s| SocketRow {
            name: s.name.clone(),
            kind: format!("server (pid {})", s.proc.pid()),
            local: s.local().to_string(),
            peer: "*".into(),
            state: "LISTEN".into(),
            recv_q: None,
            send_q: None,
        })
    }
}
