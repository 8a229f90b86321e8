//! Every demo of the lessons about reading, writing and messages shows its
//! effect on every run (20 runs each, no descriptor leaked).

mod common;

use common::demo_runs::*;
use netlab::event::{CallResult, Direction, Event, RelayAction};

#[test]
fn framing_naive_reader_is_wrong_decoders_right_and_acks_cost_round_trips_every_run() {
    for events in run_many("framing") {
        // Coalesced: the naive reader's one recv() held all three messages.
        assert!(received(&events, "conn").contains(&b"hellohow are you?bye".as_slice()));
        // Trickled: every recv() of every pass returned exactly one byte.
        let trickles = calls(&events, "conn", "recv(1024) × ");
        assert_eq!(trickles.len(), 5, "the naive pass and one per framing");
        assert!(trickles.iter().all(|r| detail(r).contains("every one returned 1 byte")));
        // Each framing decoded both splits back into the three messages.
        let decoded = "the decoder → \"hello\", \"how are you?\", \"bye\"";
        let verdicts: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Verdict { ok: true, text } if text.ends_with(decoded) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(verdicts.len(), 8, "4 framings × (coalesced, trickled): {verdicts:?}");
        // Sleeping between sends did not keep a late reader from merging them.
        assert!(received(&events, "conn").contains(&b"helloworld".as_slice()));
        // The ack protocol waited once per message; the length prefix never.
        let ack = calls(&events, "cli", "send(length), recv(ack), send(body) × 200");
        assert!(ack.len() == 1 && detail(ack[0]).contains("waited for the peer 200 times"));
        let prefix = calls(&events, "cli", "send([length][body]) × 200");
        assert!(prefix.len() == 1 && detail(prefix[0]).contains("waited for the peer 0 times"));
    }
}

#[test]
fn eof_ends_loops_spins_when_ignored_and_half_closes_every_run() {
    for events in run_many("eof") {
        assert_eq!(received(&events, "alice"), vec![&b"HELLO"[..], b"HOW ARE YOU"]);
        assert_eq!(received(&events, "bob"), vec![&b"BYE"[..]]);
        let eofs =
            calls(&events, "conn", "recv(1024)").iter().filter(|r| detail(r).starts_with("0 bytes: EOF")).count();
        assert!(eofs >= 2, "both communication loops ended on EOF");

        let spin = after_command(&events, "recvloop conn --ignore-eof --max 1000");
        let recvs: Vec<(&str, &CallResult)> = spin
            .iter()
            .filter_map(|e| match e {
                Event::Call { sock, call, result } if sock == "conn" && call.starts_with("recv(") => {
                    Some((call.as_str(), result))
                }
                _ => None,
            })
            .collect();
        assert_eq!(detail(recvs[0].1), "10 bytes", "the last words come first");
        let mut spun = 0;
        for (call, result) in &recvs[1..] {
            assert!(detail(result).starts_with("0 bytes"), "every later recv returned 0: {call} → {result:?}");
            spun +=
                call.split('×').nth(1).map_or(1, |n| n.trim_end_matches(" more").parse::<usize>().expect("a count"));
        }
        assert_eq!(spun, 999, "999 spins after the data");
        assert!(
            calls(&events, "conn", "loop: recv(1024), EOF ignored").iter().any(|r| detail(r).starts_with("1000 calls"))
        );

        let dave = received(&events, "dave").concat();
        assert_eq!(dave, b"report line 1\nreport line 2\nreport line 3\n");
        assert!(received(&events, "dave").len() >= 3, "the reply took several recvs");
        let last = calls(&events, "dave", "recv(16)");
        assert!(last.last().is_some_and(|r| detail(r).starts_with("0 bytes: EOF")), "dave read to EOF");
        let half = events
            .iter()
            .any(|e| matches!(e, Event::Kernel { sock, state, .. } if sock == "dave" && state == "FIN_WAIT_2"));
        assert!(half, "dave is half-closed");
    }
}

#[test]
fn nonblocking_waits_times_out_fails_at_once_and_polls_every_run() {
    for events in run_many("nonblocking") {
        let bounded = after_command(&events, "recv conn --timeout 150");
        assert!(bounded.iter().any(|e| matches!(e, Event::Call { result, .. } if is_eagain(result))));
        assert!(number_after(&events, "the blocking recv waited ") >= 150);

        let timed = after_command(&events, "opt conn rcvtimeo 100");
        assert!(timed.iter().any(|e| matches!(e, Event::Call { call, .. } if call.contains("SO_RCVTIMEO"))));
        assert!(number_after(&events, "recv failed with EAGAIN after ") >= 100, "SO_RCVTIMEO waited");

        let nonblock = after_command(&events, "opt conn nonblock on");
        assert!(nonblock.iter().any(|e| matches!(e, Event::Call { call, .. } if call.contains("O_NONBLOCK"))));
        let recvs = calls(&events, "conn", "recv(1024)");
        let at_once = recvs.iter().any(|r| is_eagain(r) && detail_why(r).contains("non-blocking"));
        assert!(at_once, "the non-blocking recv failed with EAGAIN at once");

        let spin = after_command(&events, "recvloop conn --max 1000 --timeout 10000");
        let mut spun = 0;
        for e in spin {
            if let Event::Call { call, result, .. } = e
                && call.starts_with("recv(")
            {
                assert!(is_eagain(result), "every spun recv was EAGAIN: {call} → {result:?}");
                spun += call
                    .split('×')
                    .nth(1)
                    .map_or(1, |n| n.trim_end_matches(" more").parse::<usize>().expect("a count"));
            }
        }
        assert_eq!(spun, 1000, "the spin loop made {spun} calls, all EAGAIN");

        let idle = after_command(&events, "poll conn in --timeout 20");
        assert!(idle.iter().any(|e| matches!(e, Event::Call { result, .. } if detail(result).starts_with("0 ready"))));
        let ready = after_command(&events, "poll conn in --timeout 1000");
        assert!(
            ready.iter().any(|e| matches!(e, Event::Call { result, .. } if detail(result).contains("conn POLLIN (")))
        );
        let poll_at =
            events.iter().position(|e| matches!(e, Event::Command { line } if line == "poll conn in --timeout 1000"));
        let then = after_command(&events[poll_at.expect("the poll")..], "recv conn");
        assert_eq!(received(then, "conn"), vec![&b"ping"[..]], "after poll said readable, recv returned the data");
        let eof = after_command(&events, "poll conn in rdhup --timeout 1000");
        assert!(
            eof.iter().any(|e| matches!(e, Event::Call { result, .. } if detail(result).contains("POLLIN|POLLRDHUP")))
        );
    }
}

/// The relay's decision about each datagram on its way to the server.
fn relay_decisions(events: &[Event]) -> Vec<(u64, RelayAction)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Relay { n: Some(n), action, .. }
                if !matches!(action, RelayAction::Released | RelayAction::ReleasedOnClose) =>
            {
                Some((*n, *action))
            }
            _ => None,
        })
        .collect()
}

/// Ids of the time replies `cli` received, in order (`#3 16:40:01` → 3).
fn reply_ids(events: &[Event]) -> Vec<u64> {
    received(events, "cli")
        .iter()
        .filter_map(|r| std::str::from_utf8(r).ok()?.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn udp_loss_drops_duplicates_reorders_and_the_retrying_client_copes_every_run() {
    let runs = run_many("udp-loss");
    let first = relay_decisions(&runs[0]);
    for events in &runs {
        let decisions = relay_decisions(events);
        // The naive client's eight requests meet the same fates every run.
        assert_eq!(decisions[..8], first[..8], "same seed, same decision log");
        let naive: Vec<RelayAction> = decisions[..8].iter().map(|d| d.1).collect();
        for fate in [RelayAction::Dropped, RelayAction::Duplicated, RelayAction::HeldBack] {
            assert!(naive.contains(&fate), "{fate:?} among the naive client's requests: {naive:?}");
        }
        let ids = reply_ids(events);
        let (naive_ids, rest) = ids.split_at(8);
        assert_eq!(naive_ids, [2, 4, 3, 5, 6, 6, 7, 8], "one lost, one twice, one overtaken");
        // The retrying client ends with every id, in order, strays aside.
        let mut wanted = 1;
        for id in rest {
            if *id == wanted {
                wanted += 1;
            }
        }
        assert_eq!(wanted, 9, "the retrying client got #1..#8: {rest:?}");
        let timeouts = calls(events, "cli", "recvfrom(").iter().filter(|r| detail(r) == "EAGAIN").count();
        assert!(timeouts >= 2, "the retrying client timed out and retried: {timeouts}");
    }
}

#[test]
fn errors_triggers_each_errno_live_every_run() {
    for events in run_many("errors") {
        let connect = calls(&events, "cli", "connect(");
        assert_eq!(connect.iter().map(|r| errno(r)).collect::<Vec<_>>(), [Some(("ECONNREFUSED", 111))]);
        let reset = calls(&events, "b", "recv(");
        assert_eq!(errno(reset[0]), Some(("ECONNRESET", 104)), "the RST is reported by recv");
        assert!(detail(reset[1]).starts_with("0 bytes"), "then EOF: the error is reported once");
        assert_eq!(errno(calls(&events, "b", "send(")[0]), Some(("EPIPE", 32)));
        let sends = calls(&events, "c", "send(3)");
        assert!(sends[0].is_ok(), "the first send after the peer's close succeeds");
        assert_eq!(errno(sends[1]), Some(("EPIPE", 32)), "the second one gets EPIPE");
        let waits = calls(&events, "f", "recv(");
        assert!(waits.len() == 2 && waits.iter().all(|r| errno(r) == Some(("EAGAIN", 11))), "{waits:?}");
    }
}

#[test]
fn partial_writes_queue_what_fits_then_the_loop_delivers_every_byte_every_run() {
    for events in run_many("partial") {
        let single = calls(&events, "cli", "send(200000)");
        let took = single.first().and_then(|r| count(r)).expect("a byte count");
        assert!(took > 0 && took < 200_000, "one non-blocking send took {took}");
        let queued = events.iter().find_map(|e| match e {
            Event::Table { rows } => rows.iter().find(|r| r.name == "cli").and_then(|r| r.send_q),
            _ => None,
        });
        assert!(queued.is_some_and(|q| q > 0), "SIOCOUTQ shows queued bytes: {queued:?}");

        let sends = calls(&events, "cli2", "send(");
        assert!(count(sends[0]).is_some_and(|n| n < 200_000), "the loop's first send is partial");
        let blocked = sends.iter().find_map(|r| match r {
            CallResult::Err { errno, why: Some(why), .. } if errno == "EAGAIN" => Some(why.as_str()),
            _ => None,
        });
        let blocked = blocked.expect("an EAGAIN while the peer did not read");
        let outq: usize = blocked
            .split("full: ")
            .nth(1)
            .and_then(|w| w.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("SIOCOUTQ in the EAGAIN note");
        assert!(outq > 0, "bytes wait in the send queue while blocked");
        let done = calls(&events, "cli2", "sendall(200000)");
        assert!(detail(done[0]).starts_with("all 200000 bytes queued"), "{done:?}");
        let read = calls(&events, "conn2", "recv(");
        assert!(detail(read[0]).starts_with("200000 bytes: exactly the bytes"), "{read:?}");
        let arrived = events.iter().find_map(|e| match e {
            Event::Bytes { sock, dir: Direction::Received, len, data } if sock == "conn2" => Some((*len, data)),
            _ => None,
        });
        let (len, head) = arrived.expect("conn2 received bytes");
        assert_eq!(len, 200_000);
        assert!(head.starts_with(b"000000\n000001\n000002\n"), "the numbered lines, in order");
    }
}

#[test]
fn unix_shows_boundaries_socket_files_abstract_names_and_permissions_every_run() {
    let errno = |r: &CallResult| match r {
        CallResult::Err { errno, .. } => errno.clone(),
        _ => "ok".into(),
    };
    for events in run_many("unix") {
        assert_eq!(received(&events, "s2"), vec![&b"onetwo"[..]], "stream merges");
        assert_eq!(received(&events, "q2"), vec![&b"one"[..], b"two", b"hell"], "seqpacket keeps boundaries");
        assert!(calls(&events, "q2", "recv(4)").iter().any(|r| detail(r).contains("the message was 11 bytes")));
        assert_eq!(received(&events, "d2"), vec![&b"one"[..], b"two"], "dgram keeps boundaries");
        let binds: Vec<String> = calls(&events, "srv2", "bind(").into_iter().map(errno).collect();
        assert_eq!(binds, ["EADDRINUSE", "ok"], "rebind fails until unlinked");
        assert_eq!(errno(calls(&events, "late", "connect(")[0]), "ECONNREFUSED", "the abstract name is gone");
        assert_eq!(errno(calls(&events, "usercli", "connect(")[0]), "EACCES", "mode 0000 without the capability");
        assert!(calls(&events, "owner", "connect(")[0].is_ok(), "mode 0600 as the owner");
        let claims_override =
            events.iter().any(|e| matches!(e, Event::Say { text } if text.contains("holds CAP_DAC_OVERRIDE")));
        assert_eq!(claims_override, holds_dac_override(), "the demo says what this process really holds");
        // The private directory, named in the first bind, went with the lab.
        let made = calls(&events, "srv", "bind(");
        let file = detail(made[0]).strip_prefix("made the socket file ").expect("a socket file");
        let dir = std::path::Path::new(file).parent().expect("a directory");
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

/// CAP_DAC_OVERRIDE (bit 1) in this process's effective set, from /proc.
fn holds_dac_override() -> bool {
    let _serial = serial();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap_or_default();
    u64::from_str_radix(hex.trim(), 16).is_ok_and(|caps| caps & (1 << 1) != 0)
}
