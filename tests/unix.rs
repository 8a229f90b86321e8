//! The unix-domain commands on real AF_UNIX sockets: what each reports,
//! checked on events and outcomes, and that nothing is left on disk.

mod common;

use std::path::{Path, PathBuf};

use common::playground::{detail, lab, last_table, ok, results};
use netlab::event::Recorder;
use netlab::lab::Lab;

/// The file the first `bind` on `sock` made, from its event.
fn bound_file(rec: &Recorder, sock: &str) -> PathBuf {
    let made = detail(&results(rec, sock, "bind(")[0]);
    PathBuf::from(made.strip_prefix("made the socket file ").expect("a socket file"))
}

#[test]
fn stream_merges_and_seqpacket_keeps_boundaries() {
    let (mut lab, _) = lab();
    for line in ["unix listen as srv", "unix connect srv as cli", "accept srv as conn"] {
        ok(&mut lab, line);
    }
    ok(&mut lab, "send cli \"one\"");
    ok(&mut lab, "send cli \"two\"");
    ok(&mut lab, "wait conn readable 6");
    assert_eq!(ok(&mut lab, "recv conn").bytes.as_deref(), Some(b"onetwo".as_slice()));

    for line in ["unix listen as sq --seqpacket", "unix connect sq as qc --seqpacket", "accept sq as qs"] {
        ok(&mut lab, line);
    }
    ok(&mut lab, "send qc \"one\"");
    ok(&mut lab, "send qc \"hello world\"");
    // FIONREAD on SOCK_SEQPACKET counts every queued byte, not one message.
    assert_eq!(ok(&mut lab, "wait qs readable 14").value.as_deref(), Some("14"));
    assert_eq!(ok(&mut lab, "recv qs").bytes.as_deref(), Some(b"one".as_slice()));
    let short = ok(&mut lab, "recv qs 4");
    assert_eq!((short.bytes.as_deref(), short.real_len), (Some(b"hell".as_slice()), Some(11)));
}

#[test]
fn sockets_shows_type_name_and_kernel_state() {
    let (mut lab, rec) = lab();
    for line in ["unix listen as srv --seqpacket", "unix connect srv as cli --seqpacket", "unix bind @ as dg"] {
        ok(&mut lab, line);
    }
    ok(&mut lab, "sockets");
    let rows = last_table(&rec);
    let row = |n: &str| rows.iter().find(|r| r.name == n).cloned().expect("a row");
    assert_eq!(
        (row("srv").kind, row("srv").local, row("srv").state),
        ("unix seqpacket listener".into(), "srv.sock".into(), "LISTEN".into())
    );
    assert_eq!((row("cli").peer, row("cli").state), ("srv.sock".into(), "CONNECTED".into()));
    assert_eq!((row("dg").kind.as_str(), row("dg").state.as_str()), ("unix dgram", "UNCONN"));
    assert!(row("dg").local.starts_with('@'), "autobind gives an abstract name: {}", row("dg").local);
}

#[test]
fn the_file_outlives_close_and_blocks_bind_until_unlinked() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "unix listen srv.sock as srv");
    ok(&mut lab, "close srv");
    assert!(detail(&results(&rec, "srv", "close(")[0]).contains("stays"));
    assert_eq!(ok(&mut lab, "unix files").value.as_deref(), Some("srv.sock"));
    assert_eq!(lab.run_line("unix connect srv as late2").errno(), Some("ECONNREFUSED"));
    assert_eq!(lab.run_line("unix listen srv.sock as again").errno(), Some("EADDRINUSE"));
    ok(&mut lab, "unix unlink srv.sock");
    ok(&mut lab, "unix listen srv.sock as again");
    assert_eq!(lab.run_line("unix connect gone.sock").errno(), Some("ENOENT"));
}

#[test]
fn datagrams_keep_boundaries_and_name_their_sender() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "unix bind as a");
    ok(&mut lab, "unix bind @ as b");
    ok(&mut lab, "sendto a b \"one\"");
    ok(&mut lab, "sendto a b \"\"");
    assert_eq!(ok(&mut lab, "wait b readable 3").value.as_deref(), Some("3"));
    assert_eq!(ok(&mut lab, "recvfrom b").bytes.as_deref(), Some(b"one".as_slice()));
    assert!(detail(&results(&rec, "b", "recvfrom(")[0]).contains("(from a.sock)"));
    assert_eq!(ok(&mut lab, "recv b").bytes.as_deref(), Some(&[][..]), "an empty datagram");
    ok(&mut lab, "socketpair dgram as l r");
    ok(&mut lab, "send l \"ping\"");
    assert_eq!(ok(&mut lab, "recv r").bytes.as_deref(), Some(b"ping".as_slice()));
}

#[test]
fn shutdown_on_a_socketpair_tells_the_peer() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "socketpair as p q");
    ok(&mut lab, "shutdown p read");
    assert_eq!(lab.run_line("send q \"x\"").errno(), Some("EPIPE"));
    ok(&mut lab, "shutdown q write");
    assert_eq!(ok(&mut lab, "recv p").bytes.as_deref(), Some(&[][..]));
    assert!(!detail(&results(&rec, "q", "shutdown(")[0]).contains("FIN"), "no FIN on AF_UNIX");
}

#[test]
fn unprivileged_connect_meets_the_file_mode() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "unix listen as srv");
    ok(&mut lab, "unix chmod srv 000");
    assert_eq!(lab.run_line("unix connect srv as user --unprivileged").errno(), Some("EACCES"));
    assert!(detail(&results(&rec, "user", "connect(")[0]).contains("write permission"));
    ok(&mut lab, "unix chmod srv 600");
    ok(&mut lab, "unix connect srv as owner --unprivileged");
    // The capability drop was the helper thread's alone: this thread still passes.
    ok(&mut lab, "unix chmod srv 000");
    let me = lab.run_line("unix connect srv as me");
    let root = effective_uid() == 0;
    assert_eq!(me.is_ok(), root, "root ignores the mode; a user does not: {me:?}");
}

#[test]
fn nothing_is_left_on_disk_after_the_lab_ends() {
    let outside = std::env::temp_dir().join(format!("netlab-unix-test-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let abs = outside.join("abs.sock");
    let (mut lab, rec) = lab();
    ok(&mut lab, "unix listen as srv");
    ok(&mut lab, &format!("unix listen {} as abs", abs.display()));
    ok(&mut lab, "close srv");
    let private = bound_file(&rec, "srv");
    assert!(private.exists() && abs.exists());
    drop(lab);
    let dir = private.parent().map(Path::to_path_buf).unwrap_or_default();
    assert!(!dir.exists(), "{} was left behind", dir.display());
    assert!(!abs.exists(), "{} was left behind", abs.display());
    std::fs::remove_dir(&outside).unwrap();
}

#[test]
fn bad_commands_say_what_to_type() {
    let (mut lab, _) = lab();
    let usage = |lab: &mut Lab, line: &str| lab.run_line(line).usage_error.unwrap_or_else(|| panic!("{line} ran"));
    assert!(usage(&mut lab, "unix frob").contains("unix listen"));
    assert!(usage(&mut lab, "unix listen a/b.sock").contains("private directory"));
    assert!(usage(&mut lab, "unix chmod srv 9").contains("octal"));
    assert!(usage(&mut lab, "socketpair raw").contains("stream|dgram|seqpacket"));
    assert!(usage(&mut lab, "unix connect").contains("usage"));
    ok(&mut lab, "unix listen as srv");
    ok(&mut lab, "tcp listen as t");
    assert!(usage(&mut lab, "tcp connect srv").contains("unix-domain"));
    assert!(usage(&mut lab, "unix connect t").contains("tcp connect"));
    assert!(usage(&mut lab, "unix chmod @x 600").contains("no file"));
    assert!(usage(&mut lab, "recv srv").contains("listening"));
}

/// The effective uid, from /proc/self/status.
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap_or_default();
    uids.split_whitespace().nth(1).and_then(|u| u.parse().ok()).unwrap_or(u32::MAX)
}

#[test]
fn an_empty_seqpacket_record_is_not_eof_until_the_peer_closes() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "socketpair seqpacket as a b");
    ok(&mut lab, "send a \"\"");
    assert_eq!(ok(&mut lab, "recv b").bytes.as_deref(), Some(&[][..]));
    assert!(detail(&results(&rec, "b", "recv(")[0]).contains("an empty record"));
    ok(&mut lab, "close a");
    ok(&mut lab, "recv b");
    assert!(detail(&results(&rec, "b", "recv(")[1]).contains("EOF"));
}

#[test]
fn recv_frame_refuses_message_sockets() {
    let (mut lab, _) = lab();
    let refused = |lab: &mut Lab, line: &str| lab.run_line(line).usage_error.unwrap_or_else(|| panic!("{line} ran"));
    ok(&mut lab, "socketpair seqpacket as a b");
    ok(&mut lab, "send a u32be:5");
    ok(&mut lab, "send a \"hello\"");
    // Before: FIONREAD (9) > a peek (4), so this spun forever at 100% CPU.
    let why = refused(&mut lab, "recv b --frame u32 --timeout 500");
    assert!(why.contains("SOCK_SEQPACKET") && why.contains("use recv b"), "{why}");
    ok(&mut lab, "socketpair dgram as c d");
    assert!(refused(&mut lab, "recv d --frame line").contains("use recv d"));
    ok(&mut lab, "socketpair as e f");
    ok(&mut lab, "send e \"hi\\n\"");
    assert_eq!(ok(&mut lab, "recv f --frame line").bytes.as_deref(), Some(b"hi".as_slice()));
}

#[test]
fn unlink_and_chmod_touch_only_socket_files() {
    let outside = std::env::temp_dir().join(format!("netlab-unix-notsock-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let plain = outside.join("plain");
    std::fs::write(&plain, b"keep me").unwrap();
    let link = outside.join("link.sock");
    let (mut lab, _) = lab();
    ok(&mut lab, "unix listen as srv");
    std::os::unix::fs::symlink(&plain, &link).unwrap();
    let refused = |lab: &mut Lab, line: &str| lab.run_line(line).usage_error.unwrap_or_else(|| panic!("{line} ran"));
    for line in [
        format!("unix unlink {}", plain.display()),
        format!("unix chmod {} 000", plain.display()),
        format!("unix chmod {} 000", link.display()),
        format!("unix unlink {}", link.display()),
    ] {
        assert!(refused(&mut lab, &line).contains("not a socket file"), "{line}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
    let (kept, linked) = (plain.exists(), link.symlink_metadata().is_ok());
    std::fs::remove_dir_all(&outside).unwrap();
    assert!(kept && linked && mode != 0, "mode {mode:o}");
    ok(&mut lab, "unix chmod srv 600");
    ok(&mut lab, "unix unlink srv");
}

#[test]
fn recvloop_refuses_message_sockets_where_an_empty_read_is_not_eof() {
    let (mut lab, _) = lab();
    ok(&mut lab, "socketpair seqpacket as a b");
    ok(&mut lab, "send a \"\"");
    // Before: the empty record was reported as "EOF — the peer closed".
    let why = lab.run_line("recvloop b").usage_error.expect("refused");
    assert!(why.contains("SOCK_SEQPACKET") && why.contains("use recv b"), "{why}");
    ok(&mut lab, "socketpair dgram as c d");
    assert!(lab.run_line("recvloop d").usage_error.expect("refused").contains("SOCK_DGRAM"));
}

#[test]
fn shutdown_on_a_datagram_pair_does_not_promise_eof() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "socketpair dgram as a b");
    ok(&mut lab, "shutdown a write");
    let said = detail(&results(&rec, "a", "shutdown(")[0]);
    assert!(!said.contains("will read EOF") && said.contains("no EOF"), "{said}");
    assert_eq!(lab.run_line("send a \"x\"").errno(), Some("EPIPE"));
    // The peer is really not told: it waits, and reads no EOF.
    assert_eq!(lab.run_line("recv b --timeout 50").errno(), Some("EAGAIN"));
}

#[test]
fn recv_after_shutdown_read_on_a_datagram_pair_ends_at_its_timeout() {
    let (mut lab, _) = lab();
    ok(&mut lab, "socketpair dgram as a b");
    ok(&mut lab, "shutdown b read");
    assert_eq!(lab.run_line("send a \"x\"").errno(), Some("EPIPE"));
    // poll says readable, a non-blocking recv says EAGAIN: this spun forever.
    let started = std::time::Instant::now();
    assert_eq!(lab.run_line("recv b --timeout 100").errno(), Some("EAGAIN"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn unprivileged_connect_makes_its_socket_before_dropping_capabilities() {
    let (mut lab, rec) = lab();
    ok(&mut lab, "unix listen as srv");
    ok(&mut lab, "unix connect srv as user --unprivileged");
    // socket() on netlab's own thread (an fd keeps its opener's
    // credentials), then only connect() on the thread without them.
    let order: Vec<String> = common::playground::calls_on(&rec, "user")
        .into_iter()
        .map(|(call, _)| call.split('(').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(order, ["socket", "capset", "connect"]);
}

#[test]
fn errors_say_what_to_do_instead() {
    let (mut lab, _) = lab();
    ok(&mut lab, "socketpair as u v");
    let why = lab.run_line("recv u --as u32be").usage_error.expect("refused");
    assert!(why.contains("use recv u"), "{why}");
    // Short enough as typed, too long once inside the private directory.
    let name = format!("{}.sock", "n".repeat(100));
    let why = lab.run_line(&format!("unix listen {name}")).usage_error.expect("refused");
    assert!(why.contains("use a shorter name") && why.contains("107"), "{why}");
}
