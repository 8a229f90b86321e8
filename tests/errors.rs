//! The errors lesson's facts, one playground session each: which call
//! reports a RST, and as which errno.

mod common;

use common::playground::{pair_named, run, why};
use netlab::lab::Lab;

fn lab() -> Lab {
    common::playground::lab().0
}

#[test]
fn a_connection_reset_leaves_the_kernel_table_and_wait_sees_it_closed() {
    let mut lab = lab();
    pair_named(&mut lab, "a", "b");
    assert!(!run(&mut lab, "wait b state CLOSED --timeout 100").is_ok(), "still ESTABLISHED");
    run(&mut lab, "opt a linger 0");
    run(&mut lab, "close a");
    assert!(run(&mut lab, "wait b state CLOSED").is_ok());
    let reset = run(&mut lab, "recv b");
    assert_eq!(reset.errno(), Some("ECONNRESET"));
    assert!(why(&reset).contains("close it, log it"), "says how to react");
    assert_eq!(run(&mut lab, "recv b").bytes.as_deref(), Some(&[][..]), "reported once, then EOF");
}

#[test]
fn after_a_normal_close_the_first_send_succeeds_and_the_second_gets_epipe() {
    let mut lab = lab();
    pair_named(&mut lab, "c", "d");
    run(&mut lab, "close d");
    assert!(run(&mut lab, "wait c state CLOSE_WAIT").is_ok());
    assert!(run(&mut lab, "send c \"one\"").is_ok(), "a FIN does not stop writes");
    assert!(run(&mut lab, "wait c state CLOSED").is_ok(), "the data provoked a RST");
    let pipe = run(&mut lab, "send c \"two\"");
    assert_eq!(pipe.errno(), Some("EPIPE"));
    assert!(why(&pipe).contains("MSG_NOSIGNAL"), "explains why the process is still alive");
    assert_eq!(run(&mut lab, "recv c").bytes.as_deref(), Some(&[][..]), "the FIN is still there to read");
}

#[test]
fn connect_to_a_closed_port_is_refused_at_once() {
    let mut lab = lab();
    run(&mut lab, "tcp listen as gone");
    run(&mut lab, "close gone");
    let refused = run(&mut lab, "tcp connect gone as cli --timeout 1000");
    assert_eq!(refused.errno(), Some("ECONNREFUSED"));
    assert!(why(&refused).contains("retry later"));
}

#[test]
fn a_receive_timeout_and_a_non_blocking_recv_both_fail_with_eagain() {
    let mut lab = lab();
    pair_named(&mut lab, "e", "f");
    run(&mut lab, "opt f rcvtimeo 50");
    assert_eq!(run(&mut lab, "recv f").errno(), Some("EAGAIN"));
    run(&mut lab, "opt f rcvtimeo off");
    run(&mut lab, "opt f nonblock on");
    let started = std::time::Instant::now();
    assert_eq!(run(&mut lab, "recv f").errno(), Some("EAGAIN"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "non-blocking: no wait");
}
