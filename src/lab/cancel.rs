//! Bounded, cancellable waiting: every blocking call in netlab has a
//! timeout, and Ctrl-C in the REPL cancels the wait instead of the program.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Poll in slices this long so a Ctrl-C is noticed quickly.
const SLICE: Duration = Duration::from_millis(50);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    // Only an atomic store: the one thing a signal handler may safely do here.
    CANCELLED.store(true, Ordering::SeqCst);
}

/// Make Ctrl-C set a flag instead of killing the process: the REPL cancels
/// the current wait; a one-shot `netlab demo` stops at its next step and
/// still cleans up.
pub fn install_sigint_handler() -> nix::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    // No SA_RESTART: a blocking send() interrupted by Ctrl-C returns (with
    // EINTR, or the bytes it managed) instead of carrying on.
    let action = SigAction::new(SigHandler::Handler(on_sigint), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only performs an atomic store, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGINT, &action) }.map(|_| ())
}

/// For servers (`netlab serve`): SIGTERM, like Ctrl-C, sets the flag, so
/// `kill PID` also stops accepting, closes every socket, joins every
/// thread and exits 0.
pub fn install_shutdown_handlers() -> nix::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    install_sigint_handler()?;
    let action = SigAction::new(SigHandler::Handler(on_sigint), SaFlags::empty(), SigSet::empty());
    // SAFETY: the same handler as for SIGINT: one atomic store.
    unsafe { sigaction(Signal::SIGTERM, &action) }.map(|_| ())
}

pub fn reset() {
    CANCELLED.store(false, Ordering::SeqCst);
}

pub fn is_cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Ready(PollFlags),
    TimedOut,
    Cancelled,
}

/// Wait until `fd` reports one of `events`, the timeout passes, or Ctrl-C.
pub fn wait_fd(fd: BorrowedFd<'_>, events: PollFlags, timeout: Duration) -> std::io::Result<Waited> {
    let deadline = Instant::now() + timeout;
    loop {
        if is_cancelled() {
            return Ok(Waited::Cancelled);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let slice = PollTimeout::try_from(left.min(SLICE)).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, slice) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => {}
            Ok(_) => return Ok(Waited::Ready(fds[0].revents().unwrap_or(PollFlags::empty()))),
            Err(e) => return Err(e.into()),
        }
        if left.is_zero() {
            return Ok(Waited::TimedOut);
        }
    }
}

/// Like [`wait_fd`], but calls `announce` first if the wait will block,
/// so the learner knows what netlab is waiting for (and that Ctrl-C works).
pub fn wait_fd_announced(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    timeout: Duration,
    announce: impl FnOnce(),
) -> std::io::Result<Waited> {
    let now = wait_fd(fd, events, Duration::ZERO)?;
    if matches!(now, Waited::Ready(_)) || timeout.is_zero() {
        return Ok(now);
    }
    announce();
    wait_fd(fd, events, timeout)
}

/// Re-check `ready` every few milliseconds until it holds, for state with
/// no file descriptor to poll (kernel TCP states in /proc/net/tcp).
pub fn wait_until<T>(timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Result<T, Waited> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = ready() {
            return Ok(v);
        }
        if is_cancelled() {
            return Err(Waited::Cancelled);
        }
        if Instant::now() >= deadline {
            return Err(Waited::TimedOut);
        }
        // The kernel offers no notification for a state change seen in
        // /proc, so this is the one place that re-reads on a short period.
        std::thread::sleep(Duration::from_millis(2));
    }
}
