//! The fork model: a child process per connection, as in the classic
//! tutorials. The parent only accepts, forks and reaps; the child serves
//! one client and exits. A child that exits stays a zombie — a process
//! table entry holding its exit status — until the parent collects it with
//! waitpid. This parent does so every tick, unless `--no-reap` asks it not
//! to, so the zombies can be seen in `ps` (they are still reaped at
//! shutdown: none outlives the server).

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::handler::{Ctx, Handler};
use super::{Next, Server, Stop, conn};
use crate::event::{CallResult, Event};
use crate::lab::cancel;

/// How long children get to finish after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

struct Child {
    pid: Pid,
    /// `conn#N`, for the log lines about it.
    name: String,
    /// Exited but deliberately left a zombie (--no-reap).
    zombie: bool,
}

/// This process's thread count, from /proc.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// Serve until stopped; returns how many connections were accepted.
pub fn serve(server: &Server) -> usize {
    // fork copies only the calling thread: a lock another thread held at
    // that moment (the log's, stdout's) stays locked forever in the child.
    let n = threads();
    if n > 1 {
        server.log.emit(&Event::error(format!(
            "--model fork needs a single-threaded process, this one has {n} threads: run it as its own `netlab serve`"
        )));
        return 0;
    }
    if server.config.no_reap {
        server.log.emit(&Event::notice(
            "--no-reap: exited children are deliberately not reaped; they stay zombies (state Z) until the server exits",
        ));
    }
    let mut children: Vec<Child> = Vec::new();
    let mut served = 0;
    let cap = server.config.max_conns;
    loop {
        reap(server, &mut children);
        let (stream, peer) = match server.next_or_tick() {
            Next::Client(stream, peer) => (stream, peer),
            Next::Tick => continue,
            Next::Stop => break,
        };
        served += 1;
        let ctx = server.ctx(served, peer);
        let live = children.iter().filter(|c| !c.zombie).count();
        if live >= cap {
            server.refuse(stream, &ctx.name, peer, &server.full());
            continue;
        }
        let handler = server.protocol.handler(ctx.clone());
        // SAFETY: the process is single-threaded (checked above, and this
        // loop starts no thread), so no lock is held across the fork; the
        // child never returns from `child`.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => child(server, stream, &ctx, handler),
            Ok(ForkResult::Parent { child: pid }) => {
                // The child has its own copy; keeping ours open would keep
                // the connection alive after the child closes it.
                drop(stream);
                ctx.note("fork", CallResult::ok(format!("child {pid} serves {peer}")));
                children.push(Child { pid, name: ctx.name, zombie: false });
            }
            Err(e) => ctx.note("fork", CallResult::Failed { why: e.to_string() }),
        }
    }
    shut_down(server, children);
    served
}

/// The child: serve one client, then exit without returning into the
/// parent's accept loop (not even by a panic).
fn child(server: &Server, stream: TcpStream, ctx: &Ctx, mut handler: Box<dyn Handler>) -> ! {
    // SAFETY: the listener is the parent's; the child never uses it and
    // exits with _exit, so no destructor closes it a second time.
    unsafe { nix::libc::close(server.listener.as_raw_fd()) };
    // The parent stops its children with SIGTERM, whatever stops the parent.
    let _ = cancel::install_shutdown_handlers();
    let stop = Stop::on_signals();
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conn::serve_client(stream, ctx, handler.as_mut(), &stop);
        // _exit runs no destructors: the handler's cleanup (a half-written
        // upload's temporary file) happens here or never.
        drop(handler);
    }));
    let _ = std::io::stdout().flush();
    let code = if served.is_ok() { 0 } else { 101 };
    // SAFETY: _exit ends the process at once: nothing of the parent's runs here.
    unsafe { nix::libc::_exit(code) }
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, 0) => "exited".into(),
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}

/// Collect the children that exited (or, with --no-reap, only notice them).
fn reap(server: &Server, children: &mut Vec<Child>) {
    if server.config.no_reap {
        for c in children.iter_mut().filter(|c| !c.zombie) {
            // WNOWAIT: look at the exit without collecting it.
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            match waitid(Id::Pid(c.pid), flags) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => {
                    c.zombie = true;
                    let what = format!("child {} {}, left a zombie (--no-reap)", c.pid, describe(status));
                    server.log.call(&c.name, "waitid", CallResult::ok(what));
                }
                Err(e) => server.log.call(&c.name, "waitid", CallResult::Failed { why: e.to_string() }),
            }
        }
        return;
    }
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(status) => collected(server, children, status, ""),
            Err(Errno::EINTR) => {}
            Err(e) => {
                server.log.call("listener", "waitpid", CallResult::Failed { why: e.to_string() });
                return;
            }
        }
    }
}

/// Log a collected child and forget it.
fn collected(server: &Server, children: &mut Vec<Child>, status: WaitStatus, when: &str) {
    let Some(pid) = status.pid() else { return };
    let name = match children.iter().position(|c| c.pid == pid) {
        Some(i) => children.swap_remove(i).name,
        None => format!("pid {pid}"),
    };
    server.log.call(&name, "waitpid", CallResult::ok(format!("child {pid} {}, reaped{when}", describe(status))));
}

/// SIGTERM every live child, wait for each (SIGKILL after a grace period),
/// and reap the zombies --no-reap kept: no child outlives the server.
fn shut_down(server: &Server, mut children: Vec<Child>) {
    for c in children.iter().filter(|c| !c.zombie) {
        let _ = kill(c.pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    let pids: Vec<Pid> = children.iter().map(|c| c.pid).collect();
    for pid in pids {
        loop {
            if Instant::now() >= deadline {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let flags = if Instant::now() < deadline { Some(WaitPidFlag::WNOHANG) } else { None };
            match waitpid(pid, flags) {
                // Children notice SIGTERM within a tick; look again shortly.
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
                Ok(status) => {
                    collected(server, &mut children, status, " at shutdown");
                    break;
                }
                Err(Errno::EINTR) => {}
                // Already collected (ECHILD): nothing left to wait for.
                Err(_) => break,
            }
        }
    }
}
