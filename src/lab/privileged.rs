//! Privileged ports: binding a port below net.ipv4.ip_unprivileged_port_start
//! (1024 by default) needs CAP_NET_BIND_SERVICE — not "root" as such.
//!
//! netlab often runs as root (containers, CI), where such a bind would just
//! succeed, and the lab never binds a fixed port. So `tcp listen ADDR
//! --unprivileged` tries the bind on a short-lived thread that has dropped
//! CAP_NET_BIND_SERVICE from its *effective* set. Capabilities are per
//! thread on Linux, so the rest of netlab keeps its own; the thread gets
//! EACCES exactly as an ordinary user's program does. Two guards make sure
//! no fixed port is ever bound: the port must be below
//! ip_unprivileged_port_start, and capget must confirm the capability is
//! gone before bind() is called.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use nix::libc;
use socket2::{Domain, SockAddr, Socket, Type};

use super::addr::{self, AddrSpec};
use super::ports;
use super::{Lab, Outcome};
use crate::event::CallResult;

/// Bit number of CAP_NET_BIND_SERVICE (linux/capability.h).
pub const CAP_NET_BIND_SERVICE: u32 = 10;
/// _LINUX_CAPABILITY_VERSION_3: 64-bit sets, as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// struct __user_cap_header_struct.
#[repr(C)]
struct CapHeader {
    version: u32,
    /// 0: the calling thread.
    pid: i32,
}

/// struct __user_cap_data_struct; version 3 uses two (bits 0–31, 32–63).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// This thread's capability sets.
fn capget() -> std::io::Result<[CapData; 2]> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are live repr(C) values laid out as the
    // kernel's __user_cap_header_struct and, for version 3, an array of two
    // __user_cap_data_struct; the kernel writes at most those two entries.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    if rc == 0 { Ok(data) } else { Err(std::io::Error::last_os_error()) }
}

/// Set this thread's capability sets (it can only lower effective bits
/// that permitted holds, which is all this module does).
fn capset(data: &[CapData; 2]) -> std::io::Result<()> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: as in capget; the kernel only reads the two data entries.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Drop the capabilities in `bits` (bit numbers below 32) from the calling
/// thread's effective set, and confirm they are gone. For a fresh thread
/// that ends right after: the rest of the process keeps its own.
pub(super) fn drop_effective(bits: u32) -> std::io::Result<()> {
    let mut data = capget()?;
    data[0].effective &= !bits;
    capset(&data)?;
    if capget()?[0].effective & bits != 0 {
        return Err(std::io::Error::other("the capability is still in effect"));
    }
    Ok(())
}

fn has_bind_service(data: &[CapData; 2]) -> bool {
    data[0].effective & (1 << CAP_NET_BIND_SERVICE) != 0
}

/// The process's effective set, as /proc/self/status shows it (CapEff).
pub fn process_effective_caps() -> Result<u64, String> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).ok_or("no CapEff line in /proc/self/status")?;
    u64::from_str_radix(hex.trim(), 16).map_err(|_| format!("CapEff '{}' is not hex", hex.trim()))
}

/// On the calling thread (meant to be a fresh one that ends right after):
/// drop CAP_NET_BIND_SERVICE from the effective set, confirm it is gone,
/// then socket() + bind(). Returns each call and its result, in order.
fn bind_without_capability(addr: SocketAddr) -> Vec<(String, CallResult)> {
    let mut steps = Vec::new();
    let dropped = capget().and_then(|mut data| {
        data[0].effective &= !(1 << CAP_NET_BIND_SERVICE);
        capset(&data)?;
        capget()
    });
    let drop_call = "capset(): CAP_NET_BIND_SERVICE off in this thread's effective set".to_string();
    match dropped {
        Err(e) => {
            steps.push((drop_call, super::errno::call_error(&e)));
            return steps;
        }
        Ok(now) if has_bind_service(&now) => {
            let why = "the capability is still in effect: netlab does not try the bind".to_string();
            steps.push((drop_call, CallResult::Failed { why }));
            return steps;
        }
        Ok(_) => steps.push((drop_call, CallResult::ok("this thread now binds like an ordinary user's program"))),
    }
    let family = if addr.is_ipv4() { "AF_INET" } else { "AF_INET6" };
    let socket_call = format!("socket({family}, SOCK_STREAM)");
    let sock = match Socket::new(Domain::for_address(addr), Type::STREAM, None) {
        Ok(s) => s,
        Err(e) => {
            steps.push((socket_call, super::errno::call_error(&e)));
            return steps;
        }
    };
    steps.push((socket_call, CallResult::ok(format!("fd {}", sock.as_raw_fd()))));
    let result = match sock.bind(&SockAddr::from(addr)) {
        Err(e) => super::errno::call_error(&e),
        // Cannot happen with both guards; if it did, give the port back at once.
        Ok(()) => CallResult::Failed {
            why: "the kernel allowed it after all; the socket was closed at once (please report this)".into(),
        },
    };
    drop(sock);
    steps.push((format!("bind({addr})"), result));
    steps
}

impl Lab {
    pub(super) fn bind_unprivileged(&mut self, spec: &AddrSpec, name: Option<&str>) -> Result<Outcome, String> {
        let addr = self.resolve(spec)?;
        // The bind must fail; if some policy let it through after all, the
        // port taken for that instant is on loopback, never every interface.
        if !addr::is_loopback(addr) {
            return Err(format!("{} is not loopback: --unprivileged tries 127.0.0.1 or ::1 only", addr.ip()));
        }
        let name = self.claim_name(name, "srv")?;
        let start = ports::unprivileged_port_start()?;
        let meaning = match start {
            0 => "no port needs CAP_NET_BIND_SERVICE on this machine".to_string(),
            1 => "every port is free to bind (port 0 never was privileged)".to_string(),
            _ => format!("binding ports 1–{} needs CAP_NET_BIND_SERVICE", start - 1),
        };
        self.call(&name, "sysctl net.ipv4.ip_unprivileged_port_start", CallResult::ok(format!("{start}: {meaning}")));
        let port = addr.port();
        if port == 0 || u32::from(port) >= start {
            let why = if port == 0 {
                "port 0 asks the kernel for an ephemeral port, which is never privileged: not tried".to_string()
            } else {
                format!(
                    "not tried: port {port} is not privileged on this machine (ip_unprivileged_port_start is {start}), so any user may bind it — and netlab never binds a fixed port"
                )
            };
            let result = CallResult::Failed { why };
            self.call(&name, format!("bind({addr})"), result.clone());
            return Ok(Outcome::of(&name, result));
        }
        let caps = process_effective_caps()?;
        let held = caps & (1 << CAP_NET_BIND_SERVICE) != 0;
        let detail = if held {
            format!("{caps:016x}: bit 10, CAP_NET_BIND_SERVICE, is set — netlab itself could bind port {port}")
        } else {
            format!("{caps:016x}: bit 10, CAP_NET_BIND_SERVICE, is not set — like any ordinary user's process")
        };
        self.call(&name, "CapEff in /proc/self/status", CallResult::ok(detail));
        // A scoped thread: joined before this returns, so it never outlives the call.
        let steps = std::thread::scope(|s| s.spawn(|| bind_without_capability(addr)).join())
            .map_err(|_| "the unprivileged bind thread panicked".to_string())?;
        let mut last = CallResult::Failed { why: "nothing was tried".into() };
        for (call, result) in steps {
            self.call(&name, call, result.clone());
            last = result;
        }
        Ok(Outcome::of(&name, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_capability_on_a_thread_leaves_this_thread_alone() {
        // Never call it on a port this machine does not treat as privileged.
        if !ports::unprivileged_port_start().is_ok_and(|s| s > 1) {
            return;
        }
        let before = capget().expect("capget works");
        let steps = std::thread::scope(|s| s.spawn(|| bind_without_capability("127.0.0.1:1".parse().unwrap())).join())
            .expect("no panic");
        let after = capget().expect("capget works");
        assert_eq!(has_bind_service(&before), has_bind_service(&after), "only the helper thread changed");
        let (call, result) = steps.last().expect("steps");
        assert_eq!(call, "bind(127.0.0.1:1)");
        assert!(matches!(result, CallResult::Err { errno, .. } if errno == "EACCES"), "{result:?}");
    }
}
