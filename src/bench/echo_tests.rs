use super::*;
use crate::bench::test_server::{Serve, TestServer, echo, swallow};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

const BUDGET: Budget = Budget { run: Duration::from_millis(100), grace: Duration::from_millis(300) };

/// What the bench may take at most: the budget, plus slack for a busy machine.
fn bounded(began: Instant) {
    let took = began.elapsed();
    assert!(took < BUDGET.run + BUDGET.grace + Duration::from_millis(400), "took {took:?}");
}

#[test]
fn measures_an_in_process_echo_server() {
    let server = TestServer::start(Serve::Each(echo));
    for threads in [1, 2] {
        let row = measure_with("test", server.addr, 5, BUDGET, threads);
        assert_eq!(row.na, None, "{threads} threads");
        assert_eq!(row.served, 5);
        assert!(row.requests > 0 && row.rps.unwrap() > 0.0);
        assert!(row.p50_us.unwrap() <= row.p99_us.unwrap());
    }
}

#[test]
fn an_echo_in_pieces_is_put_back_together() {
    fn dribble(mut s: TcpStream, _n: usize) {
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            // Uneven pieces, each its own segment (the server sets TCP_NODELAY).
            let mut rest = &buf[..n];
            for size in [1, 7, 20].into_iter().cycle() {
                let (piece, tail) = rest.split_at(size.min(rest.len()));
                if s.write_all(piece).is_err() {
                    return;
                }
                rest = tail;
                if rest.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(300));
            }
        }
    }
    let server = TestServer::start(Serve::Each(dribble));
    let row = measure("pieces", server.addr, 2, BUDGET);
    assert_eq!(row.na, None, "{row:?}");
    assert!(!row.note.as_deref().is_some_and(|n| n.contains("stopped early")), "{row:?}");
    assert_eq!(row.served, 2);
    assert!(row.requests >= 2, "{row:?}");
}

#[test]
fn a_wrong_echo_is_an_error_not_a_round_trip() {
    fn garble(mut s: TcpStream, _n: usize) {
        let mut buf = [0u8; 512];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            buf[n - 1] ^= 0x20;
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }
    let server = TestServer::start(Serve::Each(garble));
    let row = measure("garble", server.addr, 3, BUDGET);
    assert!(row.na.as_deref().unwrap().contains("the echo differs"), "{row:?}");
    assert_eq!(row.requests, 0);
}

#[test]
fn a_server_that_never_replies_is_waited_for_within_the_budget() {
    let server = TestServer::start(Serve::Each(swallow));
    let began = Instant::now();
    let row = measure("silent", server.addr, 3, BUDGET);
    bounded(began);
    assert_eq!(row.na.as_deref(), Some("no round trip completed: no reply within the time budget"), "{row:?}");
}

#[test]
fn clients_a_server_never_answers_are_reported_as_waiting() {
    fn first_only(s: TcpStream, n: usize) {
        if n == 0 { echo(s, n) } else { swallow(s, n) }
    }
    let server = TestServer::start(Serve::Each(first_only));
    let began = Instant::now();
    let row = measure("first", server.addr, 3, BUDGET);
    bounded(began);
    assert_eq!(row.served, 1, "{row:?}");
    assert_eq!(row.note.as_deref(), Some("served 1 of 3 clients in 100 ms; the rest waited"));
}

#[test]
fn an_iterative_server_serves_its_queue_after_the_run() {
    // Connects complete in the listen queue; only the replies wait.
    let server = TestServer::start(Serve::InTurn(echo));
    let began = Instant::now();
    let row = measure("in turn", server.addr, 4, BUDGET);
    bounded(began);
    assert_eq!(row.served, 4, "{row:?}");
    assert!(row.note.as_deref().unwrap().starts_with("a client waited"), "{row:?}");
}

#[test]
fn a_server_closing_mid_run_stops_those_clients_with_a_reason() {
    fn close_second(mut s: TcpStream, n: usize) {
        let mut buf = [0u8; 64];
        if n == 1 {
            // One echo, then EOF (a FIN: closing with the next request
            // unread would send a reset instead).
            let _ = s.read_exact(&mut buf).and_then(|()| s.write_all(&buf));
            let _ = s.shutdown(std::net::Shutdown::Write);
            return swallow(s, n);
        }
        echo(s, n)
    }
    let server = TestServer::start(Serve::Each(close_second));
    let row = measure("closer", server.addr, 2, BUDGET);
    assert_eq!(row.served, 2, "{row:?}");
    assert_eq!(row.note.as_deref(), Some("1 client(s) stopped early: the server closed the connection"));
}

#[test]
fn nothing_listening_is_a_reason_not_a_number() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let budget = Budget { run: Duration::from_millis(50), grace: Duration::from_millis(50) };
    let row = measure("nobody", addr, 3, budget);
    assert!(row.na.as_deref().unwrap().contains("connect"), "{row:?}");
    assert_eq!(row.rps, None);
}
