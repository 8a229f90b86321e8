//! `tcp connect TARGET --count N as c`: N clients at once, named c1…cN,
//! reported as one line — how a lesson puts a crowd in front of a server
//! (the multiplexing servers, select's FD_SETSIZE wall) without a screen
//! full of identical connect() calls.

use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit};
use socket2::{Domain, Protocol, Socket, Type};

use super::addr::{self, AddrSpec};
use super::cancel::Waited;
use super::exec_conn::{connect, local_addr};
use super::{DEFAULT_TIMEOUT, Kind, Lab, LabSocket, Outcome};
use crate::event::CallResult;

/// Enough to cross FD_SETSIZE with room to spare; bounded so a typo cannot
/// exhaust the machine's ports or descriptors.
pub const MAX_COUNT: usize = 2000;

impl Lab {
    pub(super) fn tcp_connect_many(
        &mut self,
        target: &AddrSpec,
        prefix: Option<&str>,
        timeout: Option<Duration>,
        count: usize,
    ) -> Result<Outcome, String> {
        let target = addr::loopback_for(self.resolve(target)?);
        if !addr::is_loopback(target) {
            return Err(format!(
                "{target} is not a loopback address: the playground only connects to 127.0.0.0/8 or ::1"
            ));
        }
        let prefix = prefix.unwrap_or("c");
        let names: Vec<String> = (1..=count).map(|i| format!("{prefix}{i}")).collect();
        for name in &names {
            self.claim_name(Some(name), prefix)?;
        }
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let call = format!("socket + connect({target}) ×{count}");
        let mut fds = Vec::with_capacity(count);
        for name in &names {
            let made = Socket::new(Domain::for_address(target), Type::STREAM, Some(Protocol::TCP))
                .and_then(|sock| match connect(&sock, target, timeout, || {})? {
                    Waited::Ready(_) => Ok(sock),
                    _ => Err(std::io::Error::from_raw_os_error(nix::libc::ETIMEDOUT)),
                })
                .and_then(|sock| local_addr(&sock).map(|local| (sock, local)));
            match made {
                Ok((sock, local)) => {
                    fds.push(sock.as_raw_fd());
                    self.created(name, LabSocket::new(Kind::Stream, sock, local, Some(target)), None, String::new());
                }
                Err(e) => {
                    let made = fds.len();
                    let mut result = super::errno::call_error(&e);
                    if let CallResult::Err { why, .. } = &mut result {
                        *why = Some(format!("{name} failed after {made} connected{}", emfile_hint(&e)));
                    }
                    self.call(prefix, call, result.clone());
                    return Ok(Outcome::of(prefix, result));
                }
            }
        }
        let (low, high) = (fds.iter().min().copied().unwrap_or(0), fds.iter().max().copied().unwrap_or(0));
        let last = names.last().map_or("", String::as_str);
        let detail = format!("{count} connected: {prefix}1…{last}, this process's fds {low}…{high}");
        self.call(prefix, call, CallResult::ok(detail));
        Ok(Outcome { value: Some(count.to_string()), ..Outcome::of(&names[0], CallResult::ok(format!("{count}"))) })
    }
}

/// EMFILE is the per-process descriptor limit, not a network problem.
fn emfile_hint(e: &std::io::Error) -> String {
    if e.raw_os_error() != Some(nix::libc::EMFILE) {
        return String::new();
    }
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => format!(
            " — this process may hold {soft} descriptors (RLIMIT_NOFILE, `ulimit -n`; the hard limit is {hard})"
        ),
        Err(_) => " — this process hit its descriptor limit (RLIMIT_NOFILE, `ulimit -n`)".into(),
    }
}
