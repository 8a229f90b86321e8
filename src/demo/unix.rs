//! Unix-domain sockets: the same calls on one machine, with a file (or an
//! abstract name, or nothing at all) as the address — and the file's
//! permission bits deciding who may connect.

use std::sync::atomic::{AtomicU32, Ordering};

use super::must;
use crate::lab::Lab;

/// Abstract names are shared by every process in the network namespace:
/// each run gets its own, so parallel runs never meet.
static RUN: AtomicU32 = AtomicU32::new(0);

pub fn run(lab: &mut Lab) -> Result<(), String> {
    boundaries(lab)?;
    socket_files(lab)?;
    abstract_names(lab)?;
    permissions(lab)
}

fn boundaries(lab: &mut Lab) -> Result<(), String> {
    lab.heading("socketpair: two connected sockets, no names at all");
    let pair = must(lab, "socketpair stream as s1 s2")?;
    must(lab, "send s1 \"one\"")?;
    must(lab, "send s1 \"two\"")?;
    lab.say("The reader is late: both sends are queued before it reads (FIONREAD counts 6 bytes).");
    must(lab, "wait s2 readable 6")?;
    let merged = must(lab, "recv s2")?;
    lab.verdict(pair.is_ok(), "socketpair() made a connected pair with no path, no listen and no accept");
    lab.verdict(
        merged.bytes.as_deref() == Some(b"onetwo".as_slice()),
        "SOCK_STREAM merges: two sends, one recv of \"onetwo\" — a unix stream is a byte stream, like TCP",
    );

    lab.heading("SOCK_SEQPACKET: connected, and it keeps message boundaries");
    must(lab, "socketpair seqpacket as q1 q2")?;
    must(lab, "send q1 \"one\"")?;
    must(lab, "send q1 \"two\"")?;
    lab.say("FIONREAD on a SOCK_SEQPACKET socket counts every queued byte (6), not just the next message:");
    must(lab, "wait q2 readable 6")?;
    let first = must(lab, "recv q2")?;
    let second = must(lab, "recv q2")?;
    lab.verdict(
        first.bytes.as_deref() == Some(b"one".as_slice()) && second.bytes.as_deref() == Some(b"two".as_slice()),
        "SOCK_SEQPACKET keeps boundaries: the same late reader gets \"one\", then \"two\"",
    );
    must(lab, "send q1 \"hello world\"")?;
    let short = must(lab, "recv q2 4")?;
    lab.verdict(
        short.bytes.as_deref() == Some(b"hell".as_slice()) && short.real_len == Some(11),
        "a 4-byte buffer truncates an 11-byte message (MSG_TRUNC), as with UDP: the rest is gone",
    );
    Ok(())
}

fn socket_files(lab: &mut Lab) -> Result<(), String> {
    lab.heading("a named server: the address is a file");
    must(lab, "unix listen srv.sock as srv")?;
    must(lab, "unix connect srv as cli")?;
    must(lab, "accept srv as conn")?;
    must(lab, "close srv")?;
    let files = must(lab, "unix files")?;
    let listed = files.value.as_deref().is_some_and(|v| v.split(' ').any(|f| f == "srv.sock"));
    lab.verdict(listed, "after close(srv) the socket file srv.sock is still there: close() does not unlink it");
    let again = lab.run_shown("unix listen srv.sock as srv2");
    lab.verdict(
        again.errno() == Some("EADDRINUSE"),
        "bind() on that path fails with EADDRINUSE while the file exists — no SO_REUSEADDR for files",
    );
    lab.say("So a unix server unlinks its path before bind:");
    must(lab, "unix unlink srv.sock")?;
    let fresh = must(lab, "unix listen srv.sock as srv2")?;
    lab.verdict(fresh.is_ok(), "after unlink(\"srv.sock\") the same bind() succeeds");

    lab.heading("SOCK_DGRAM: datagrams between two bound files");
    must(lab, "unix bind d1.sock as d1")?;
    must(lab, "unix bind d2.sock as d2")?;
    must(lab, "sendto d1 d2 \"one\"")?;
    must(lab, "sendto d1 d2 \"two\"")?;
    let (a, b) = (must(lab, "recvfrom d2")?, must(lab, "recvfrom d2")?);
    lab.verdict(
        a.bytes.as_deref() == Some(b"one".as_slice()) && b.bytes.as_deref() == Some(b"two".as_slice()),
        "SOCK_DGRAM keeps boundaries: two sendto(), two recvfrom(), each one whole message",
    );
    lab.say("man 7 unix: unix datagram sockets are reliable and keep order — a full receiver makes sendto wait, nothing is dropped.");
    Ok(())
}

fn abstract_names(lab: &mut Lab) -> Result<(), String> {
    lab.heading("abstract names: @name, no file at all (Linux)");
    let name = format!("@netlab-demo-{}-{}", std::process::id(), RUN.fetch_add(1, Ordering::Relaxed));
    let before = must(lab, "unix files")?.value.unwrap_or_default();
    must(lab, &format!("unix listen {name} as ab"))?;
    must(lab, &format!("unix connect {name} as abcli"))?;
    let after = must(lab, "unix files")?.value.unwrap_or_default();
    lab.verdict(before == after, format!("listening on {name} made no file: the name lives in the kernel only"));
    must(lab, "close ab")?;
    let gone = lab.run_shown(&format!("unix connect {name} as late"));
    lab.verdict(
        gone.errno() == Some("ECONNREFUSED"),
        "once its socket closed, the abstract name was gone: nothing to unlink, nothing left behind",
    );
    Ok(())
}

fn permissions(lab: &mut Lab) -> Result<(), String> {
    lab.heading("file permissions decide who may connect");
    // Bit 1 of the effective set: what actually skips the check, not the uid.
    let dac_override = crate::lab::privileged::process_effective_caps().is_ok_and(|caps| caps & (1 << 1) != 0);
    let who = if dac_override {
        "netlab holds CAP_DAC_OVERRIDE here (as root does), which skips that check — so --unprivileged connects \
         from a thread that dropped it."
    } else {
        "netlab runs without CAP_DAC_OVERRIDE here, so the check applies to it as to any user; --unprivileged \
         drops nothing more."
    };
    lab.say(format!("connect() needs write permission on the socket file (man 7 unix). {who}"));
    must(lab, "unix chmod srv2 000")?;
    let root = lab.run_shown("unix connect srv2 as rootcli");
    if root.is_ok() {
        lab.say("Mode 0000, and root connected anyway: it ignores file permissions.");
    }
    let denied = lab.run_shown("unix connect srv2 as usercli --unprivileged");
    lab.verdict(
        denied.errno() == Some("EACCES"),
        "without CAP_DAC_OVERRIDE, mode 0000 refuses connect() with EACCES — even for the file's owner",
    );
    must(lab, "unix chmod srv2 600")?;
    let owner = lab.run_shown("unix connect srv2 as owner --unprivileged");
    lab.verdict(owner.is_ok(), "mode 0600 gives the owner write permission: the same connect() succeeds");
    lab.say("Every socket file this demo made is removed when it ends: netlab cleans up, the kernel would not.");
    Ok(())
}
