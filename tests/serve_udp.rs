//! `netlab serve upper --udp` and `netlab serve time`: one socket, one
//! datagram in, one datagram out — the real binary, Rust and Python 3
//! clients on loopback.

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::server::{TIMEOUT, start, stop};

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    c
}

fn ask(c: &UdpSocket, server: SocketAddr, request: &[u8]) -> Vec<u8> {
    c.send_to(request, server).unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, from) = c.recv_from(&mut buf).expect("a reply datagram");
    assert_eq!(from, server, "the reply comes from the address we sent to");
    buf.truncate(n);
    buf
}

#[test]
fn upper_over_udp_answers_each_datagram_whole() {
    let server = start(&["upper", "--udp"]);
    let (a, b) = (client(), client());
    // Boundaries are kept: three datagrams, three replies, never merged.
    for msg in [&b"hello"[..], b"", b"Mixed Case 123", &[b'z'; 65000]] {
        assert_eq!(ask(&a, server.addr, msg), msg.to_ascii_uppercase());
    }
    // Two clients, one socket: each reply goes to its own sender.
    a.send_to(b"from a", server.addr).unwrap();
    b.send_to(b"from b", server.addr).unwrap();
    let mut buf = [0u8; 64];
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"FROM B");
    let n = a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"FROM A");
    let log = stop(server);
    assert!(log.iter().any(|l| l.contains("recvfrom → 5 bytes from") && l.contains("\"hello\"")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("shut down: 6 datagrams answered")), "{log:?}");
}

#[test]
fn time_formats_the_local_time_and_answers_errors() {
    let server = start(&["time"]);
    let c = client();
    let year = String::from_utf8(ask(&c, server.addr, b"%Y")).unwrap();
    assert!(year.len() == 4 && year.parse::<u32>().is_ok_and(|y| y >= 2024), "{year}");
    let default = String::from_utf8(ask(&c, server.addr, b"")).unwrap();
    assert_eq!(default.len(), "2026-11-23 16:40:01".len(), "{default}");
    let tagged = String::from_utf8(ask(&c, server.addr, b"#7 %Y")).unwrap();
    assert_eq!(tagged, format!("#7 {year}"));
    let err = String::from_utf8(ask(&c, server.addr, b"%Q")).unwrap();
    assert!(err.starts_with("error: unknown conversion '%Q'"), "{err}");
    stop(server);
}

#[test]
fn the_address_line_says_udp_and_a_model_is_noted_as_not_applying() {
    let server = start(&["time", "--model", "iterative"]);
    let first = server.lines.recv_timeout(TIMEOUT).unwrap();
    assert!(first.contains("--model iterative does not apply to UDP"), "{first}");
    stop(server);
    // And an echo over UDP is refused in one line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "echo", "--udp"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--udp works with upper and time") && err.trim().lines().count() == 1, "{err}");
}

#[test]
fn the_listening_line_names_the_protocol_and_udp() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["serve", "upper", "--udp"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on 127.0.0.1:") && line.trim_end().ends_with("(upper, udp)"), "{line}");
}

/// The classic UDP client: sendto, then recvfrom(1024).
const PYTHON_UPPER: &str = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b'hello udp', ('127.0.0.1', port))
data, addr = s.recvfrom(1024)
print(data.decode())
"#;

const PYTHON_TIME: &str = r#"
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto('%Y'.encode('utf-8'), ('127.0.0.1', port))
data, addr = s.recvfrom(1024)
print(data.decode('utf-8'), time.strftime('%Y'))
s.sendto(b'', ('127.0.0.1', port))
data, addr = s.recvfrom(1024)
print(data.decode('utf-8'))
"#;

#[test]
fn classic_python_udp_clients_for_upper_and_time() {
    let upper = start(&["upper", "--udp"]);
    let Some(out) = common::python_client::run(PYTHON_UPPER, &[upper.addr.port().to_string()]) else { return };
    assert_eq!(out.trim(), "HELLO UDP");
    stop(upper);

    let time = start(&["time"]);
    let out = common::python_client::run(PYTHON_TIME, &[time.addr.port().to_string()]).unwrap_or_default();
    let lines: Vec<&str> = out.lines().collect();
    let [years, default] = lines.as_slice() else { panic!("{out}") };
    let (server_year, local_year) = years.split_once(' ').unwrap_or_default();
    assert_eq!(server_year, local_year, "{out}");
    assert_eq!(default.len(), "2026-11-23 16:40:01".len(), "{out}");
    stop(time);
}
