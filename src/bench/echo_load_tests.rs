use super::*;
use crate::bench::test_server::{Serve, TestServer, echo};
use std::net::TcpListener;

const BUDGET: Budget = Budget { run: Duration::from_millis(60), grace: Duration::from_millis(200) };

fn drive_alone(addr: SocketAddr, ids: Range<usize>) -> Vec<ClientRun> {
    let gate = Gate::default();
    std::thread::scope(|s| {
        let t = s.spawn(|| drive(addr, ids, BUDGET, &gate));
        gate.open_when(1);
        t.join().unwrap()
    })
}

#[test]
fn one_result_per_client_every_one_timed() {
    let server = TestServer::start(Serve::Each(echo));
    let runs = drive_alone(server.addr, 10..14);
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert_eq!(r.error, None);
        assert!(!r.latencies_ns.is_empty() && r.done.is_some());
    }
}

#[test]
fn each_client_sends_its_own_bytes() {
    let a = Client::new(0, Instant::now());
    let b = Client::new(1, Instant::now());
    assert_ne!(a.msg, b.msg);
    assert!(a.msg.iter().all(u8::is_ascii_lowercase));
}

#[test]
fn a_refused_connect_is_that_client_s_error() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let runs = drive_alone(addr, 0..3);
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert!(r.error.as_deref().unwrap().starts_with("connect: "), "{r:?}");
        assert!(r.latencies_ns.is_empty());
    }
}

#[test]
fn an_aborted_gate_runs_nothing() {
    let server = TestServer::start(Serve::Each(echo));
    let gate = Gate::default();
    let runs = std::thread::scope(|s| {
        let t = s.spawn(|| drive(server.addr, 0..2, BUDGET, &gate));
        gate.abort();
        t.join().unwrap()
    });
    assert!(runs.iter().all(|r| r.latencies_ns.is_empty() && r.error.is_none()), "{runs:?}");
}
