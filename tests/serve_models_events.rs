//! The event-loop models (select, poll, epoll) at their limits: handler
//! deadlines with no input, more output than a connection may buffer,
//! and select's FD_SETSIZE wall.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::server::{connect, round_trip, start, stop, wait_log};

const EVENT_LOOPS: [&[&str]; 4] = [&["select"], &["poll"], &["epoll"], &["epoll", "--edge"]];

fn start_with(proto: &str, variant: &[&str], extra: &[&str]) -> common::server::Server {
    let mut args = vec![proto, "--model"];
    args.extend_from_slice(variant);
    args.extend_from_slice(extra);
    start(&args)
}

fn exchange(s: &mut TcpStream, send: &[u8], want: &[u8], what: &str) {
    s.write_all(send).unwrap_or_else(|e| panic!("{what}: send: {e}"));
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap_or_else(|e| panic!("{what}: reply: {e}"));
    assert_eq!(got, want, "{what}");
}

fn reads_eof(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 16];
    s.read(&mut b).map_or(true, |n| n == 0)
}

#[test]
fn a_handler_deadline_fires_with_no_input() {
    for variant in EVENT_LOOPS {
        let what = variant.join(" ");
        let server = start_with("auth", variant, &["--key", "k", "--auth-timeout", "100"]);
        // Connects, takes the challenge, never answers: only the
        // handler's deadline can end it, since no byte will arrive.
        let mut silent = connect(server.addr);
        let mut challenge = [0u8; 32];
        silent.read_exact(&mut challenge).unwrap();
        wait_log(&server, "no answer within 100 ms", 1);
        assert!(reads_eof(&mut silent), "{what}: closed at its deadline");
        stop(server);
    }
}

/// Raise this process's descriptor limit to its hard limit (the server
/// child inherits it); false if even that is too low for `need`.
fn raise_nofile(need: u64) -> bool {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return false };
    if hard < need {
        return false;
    }
    soft >= need || setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok()
}

#[test]
fn select_cannot_watch_descriptor_1024_and_keeps_serving_the_others() {
    const CLIENTS: usize = 1100;
    if !raise_nofile(CLIENTS as u64 + 200) {
        eprintln!("notice: RLIMIT_NOFILE's hard limit is below {}: select's FD_SETSIZE wall not tested", CLIENTS + 200);
        return;
    }
    let server = start(&["echo", "--model", "select", "--max-conns", "2000"]);
    // Each client is one descriptor in the server, numbered from the
    // lowest free one: well before 1100 clients, one is numbered 1024.
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    let log = wait_log(&server, "≥ FD_SETSIZE (1024): select() cannot watch it", 1);
    assert!(log.iter().any(|l| l.contains("fd 1024 ≥ FD_SETSIZE")), "{log:?}");
    // Descriptors below 1024 stay taken by the earlier clients, so the
    // last one gets a number select cannot hold: accepted and closed.
    let last = clients.len() - 1;
    assert!(reads_eof(&mut clients[last]), "the client past the wall is closed");
    exchange(&mut clients[0], b"first", b"first", "the first client still works");
    exchange(&mut clients[900], b"900th", b"900th", "a client below the wall still works");
    drop(clients);
    stop(server);
}

#[test]
fn event_loops_echo_8_mib_past_their_output_cap() {
    // More than the 1 MiB a connection may have unsent: reading pauses
    // and resumes as the client catches up — with --edge, without a new
    // "readable" edge to wake it.
    let big: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
    for variant in EVENT_LOOPS {
        let server = start_with("echo", variant, &[]);
        assert!(round_trip(server.addr, big.clone(), 1 << 20) == big, "{variant:?}");
        stop(server);
    }
}

/// A `get` request frame for the file server, big-endian.
fn get_frame(name: &str) -> Vec<u8> {
    let header = format!(r#"{{"cmd":"get","name":"{name}","data_size":0}}"#);
    let mut f = (header.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f
}

#[test]
fn a_client_that_asks_for_downloads_and_never_reads_is_cut_off_not_buffered() {
    let root = std::env::temp_dir().join(format!("netlab-ev-file-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("big.bin"), vec![7u8; 4 << 20]).unwrap();
    let root_arg = root.display().to_string();
    for variant in EVENT_LOOPS {
        let what = variant.join(" ");
        let server = start_with("file", variant, &["--root", &root_arg]);
        let mut greedy = connect(server.addr);
        // 4 MiB answers per request; 3 MiB of requests, none of the answers read.
        let requests: Vec<u8> = get_frame("big.bin").repeat((3 << 20) / get_frame("big.bin").len());
        // The server may close mid-send (EPIPE / ECONNRESET): that is the point.
        let _ = greedy.write_all(&requests);
        wait_log(&server, "too many requests queued without reading the replies", 1);
        // A polite client is still served by the same single thread.
        let mut polite = connect(server.addr);
        polite.write_all(&get_frame("nosuch")).unwrap();
        let mut len = [0u8; 4];
        polite.read_exact(&mut len).unwrap_or_else(|e| panic!("{what}: the polite client waits: {e}"));
        drop((greedy, polite));
        stop(server);
    }
    std::fs::remove_dir_all(&root).unwrap();
}
