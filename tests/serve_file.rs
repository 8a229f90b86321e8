//! `netlab serve file`: the real binary, framed requests from Rust and
//! from a Python 3 client written the way a classic tutorial writes one.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use common::server::{Server, TIMEOUT, connect, start, stop};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Every model the file server is tested under, as the flags after
/// `--model`: adding one is one line.
const MODELS: &[&[&str]] =
    &[&["iterative"], &["thread"], &["fork"], &["pool"], &["select"], &["poll"], &["epoll"], &["epoll", "--edge"]];

/// `netlab serve file --model VARIANT… EXTRA…`.
fn start_model(variant: &[&str], extra: &[&str]) -> Server {
    let mut args = vec!["file", "--model"];
    args.extend_from_slice(variant);
    args.extend_from_slice(extra);
    start(&args)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn send(s: &mut TcpStream, mut header: Value, body: &[u8]) {
    header["data_size"] = json!(body.len());
    let json = header.to_string();
    let mut frame = (json.len() as u32).to_be_bytes().to_vec();
    frame.extend(json.as_bytes());
    frame.extend(body);
    s.write_all(&frame).unwrap();
}

/// One framed reply; `what` names the request in a failure.
fn recv(s: &mut TcpStream, what: &str) -> (Value, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap_or_else(|e| panic!("{what}: no reply: {e}"));
    let mut json = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut json).unwrap_or_else(|e| panic!("{what}: a cut header: {e}"));
    let header: Value = serde_json::from_slice(&json).unwrap();
    let size = header["data_size"].as_u64().unwrap() as usize;
    let mut body = Vec::with_capacity(size);
    let got = s.take(size as u64).read_to_end(&mut body);
    assert!(got.is_ok() && body.len() == size, "{what}: {} of {size} body bytes, then {got:?}", body.len());
    (header, body)
}

fn ask(s: &mut TcpStream, what: &str, header: Value, body: &[u8]) -> (Value, Vec<u8>) {
    let what = format!("{what}: {}", header["cmd"]);
    send(s, header, body);
    recv(s, &what)
}

/// The directory the server announced it serves.
fn served_dir(server: &Server) -> PathBuf {
    let line = server.lines.recv_timeout(TIMEOUT).expect("the server names its directory");
    let rest = line.split("serving files in ").nth(1).unwrap_or_else(|| panic!("no directory in {line:?}"));
    PathBuf::from(rest.split(" (").next().unwrap())
}

/// `n` bytes that are not a repeating pattern, so a misplaced chunk shows.
fn data(n: u32) -> Vec<u8> {
    (0..n).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn one_mib() -> Vec<u8> {
    data(1 << 20)
}

#[test]
fn put_list_get_round_trips_a_mebibyte_in_every_model() {
    let body = one_mib();
    let sha = sha256_hex(&body);
    for variant in MODELS {
        let model = variant.join(" ");
        let server = start_model(variant, &[]);
        let dir = served_dir(&server);
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o700, "{model}: a private directory");
        let mut c = connect(server.addr);
        let (h, _) = ask(&mut c, &model, json!({"cmd": "put", "name": "big.bin", "sha256": sha}), &body);
        assert_eq!(h["status"], "ok", "{model}: {h}");
        let (h, listing) = ask(&mut c, &model, json!({"cmd": "list"}), b"");
        assert_eq!(h["status"], "ok");
        let listing: Value = serde_json::from_slice(&listing).unwrap();
        assert_eq!(listing, json!([{"name": "big.bin", "size": 1 << 20}]), "{model}");
        let (h, got) = ask(&mut c, &model, json!({"cmd": "get", "name": "big.bin"}), b"");
        assert_eq!(h["status"], "ok", "{model}: {h}");
        assert_eq!(h["sha256"], sha, "{model}");
        assert_eq!(sha256_hex(&got), sha, "{model}: the bytes hash to what the header says");
        assert!(got == body, "{model}: the file came back unchanged");
        let (h, _) = ask(&mut c, &model, json!({"cmd": "quit"}), b"");
        assert_eq!(h["status"], "ok");
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap(), 0, "{model}: quit closes");
        let log = stop(server);
        assert!(log.iter().any(|l| l.contains("put big.bin") && l.contains("sha256 ok")), "{log:?}");
        assert!(!dir.exists(), "{model}: the fresh directory is removed on exit");
    }
}

#[test]
fn gets_well_over_a_chunk_then_shutdown_wr_get_every_byte_in_every_model() {
    // 256 KiB goes out per turn: these take several turns each, and the
    // FIN arrives while the first is still going out. A polite client
    // (request, shutdown(SHUT_WR), read to EOF) must get both replies whole,
    // and the server must still stop on SIGTERM.
    let (a, b) = (data(600_000), data(3 << 20));
    let root = TempDir::new("shutwr");
    std::fs::write(root.0.join("a.bin"), &a).unwrap();
    std::fs::write(root.0.join("b.bin"), &b).unwrap();
    for variant in MODELS {
        let model = variant.join(" ");
        let server = start_model(variant, &["--root", root.0.to_str().unwrap()]);
        let mut c = connect(server.addr);
        send(&mut c, json!({"cmd": "get", "name": "a.bin"}), b"");
        send(&mut c, json!({"cmd": "get", "name": "b.bin"}), b"");
        c.shutdown(std::net::Shutdown::Write).unwrap();
        for (name, want) in [("a.bin", &a), ("b.bin", &b)] {
            let (h, got) = recv(&mut c, &format!("{model}: get {name}"));
            assert_eq!(h["status"], "ok", "{model}: get {name}: {h}");
            assert!(got == *want, "{model}: {name}: {} of {} bytes, or different ones", got.len(), want.len());
        }
        let mut rest = Vec::new();
        assert_eq!(c.read_to_end(&mut rest).unwrap(), 0, "{model}: then a clean EOF");
        stop(server);
    }
}

#[test]
fn traversal_symlinks_and_bad_digests_are_refused() {
    let outside = TempDir::new("outside");
    let root = TempDir::new("root");
    std::fs::write(outside.0.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.0.join("secret"), root.0.join("link")).unwrap();
    for variant in MODELS {
        let model = variant.join(" ");
        let server = start_model(variant, &["--root", root.0.to_str().unwrap()]);
        assert_eq!(served_dir(&server), root.0.canonicalize().unwrap());
        let mut c = connect(server.addr);
        for name in ["../x", "/etc/passwd", "a/../../x", "..", "a\0b", "link"] {
            let (h, body) = ask(&mut c, &model, json!({"cmd": "get", "name": name}), b"");
            assert_eq!(h["status"], "error", "{model}: get {name:?}: {h}");
            assert!(body.is_empty());
            let (h, _) = ask(&mut c, &model, json!({"cmd": "put", "name": name, "sha256": sha256_hex(b"x")}), b"x");
            assert_eq!(h["status"], "error", "{model}: put {name:?}: {h}");
        }
        let (h, _) =
            ask(&mut c, &model, json!({"cmd": "put", "name": "a.txt", "sha256": sha256_hex(b"other")}), b"data");
        assert!(h["error"].as_str().unwrap().contains("sha256 mismatch"), "{h}");
        let (_, listing) = ask(&mut c, &model, json!({"cmd": "list"}), b"");
        assert_eq!(listing, b"[]", "{model}: nothing stored, the symlink not listed");
        drop(c);
        stop(server);
    }
    assert_eq!(std::fs::read(outside.0.join("secret")).unwrap(), b"secret");
    assert!(!root.0.parent().unwrap().join("x").exists());
    let mut left: Vec<_> = std::fs::read_dir(&root.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["link"], "no temp file left behind, --root kept");
}

#[test]
fn a_connection_that_dies_mid_upload_stores_nothing_and_the_server_goes_on() {
    let server = start(&["file"]);
    let dir = served_dir(&server);
    let body = one_mib();
    let mut c = connect(server.addr);
    let json = json!({"cmd": "put", "name": "cut.bin", "sha256": sha256_hex(&body), "data_size": body.len()});
    let json = json.to_string();
    c.write_all(&(json.len() as u32).to_be_bytes()).unwrap();
    c.write_all(json.as_bytes()).unwrap();
    c.write_all(&body[..1000]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let (h, _) = recv(&mut c, "a cut upload");
    assert!(h["error"].as_str().unwrap().contains("after 1000 of 1048576 bytes"), "{h}");
    let mut c = connect(server.addr);
    let (_, listing) = ask(&mut c, "after the cut", json!({"cmd": "list"}), b"");
    assert_eq!(listing, b"[]");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the temp file is gone");
    drop(c);
    stop(server);
}

#[test]
fn native_endian_speaks_struct_pack_i() {
    let server = start(&["file", "--native-endian"]);
    let mut c = connect(server.addr);
    let json = br#"{"cmd":"list","data_size":0}"#;
    c.write_all(&(json.len() as u32).to_le_bytes()).unwrap();
    c.write_all(json).unwrap();
    let mut len = [0u8; 4];
    c.read_exact(&mut len).unwrap();
    let mut header = vec![0u8; u32::from_le_bytes(len) as usize];
    c.read_exact(&mut header).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["status"], "ok");
    drop(c);
    stop(server);
}

/// A Python 3 client as a classic tutorial writes it: struct.pack('>I'),
/// json.dumps, sendall, a recv-exactly loop, hashlib.sha256.
const PYTHON_CLIENT: &str = r#"
import hashlib, json, socket, struct, sys

def recv_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('server closed mid-frame')
        buf += chunk
    return buf

def request(sock, header, body=b''):
    header['data_size'] = len(body)
    h = json.dumps(header).encode()
    sock.sendall(struct.pack('>I', len(h)) + h + body)
    (hlen,) = struct.unpack('>I', recv_exact(sock, 4))
    reply = json.loads(recv_exact(sock, hlen))
    return reply, recv_exact(sock, reply['data_size'])

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, 'rb').read()
sock = socket.create_connection((host, port), timeout=10)
reply, _ = request(sock, {'cmd': 'put', 'name': 'from-python.bin', 'sha256': hashlib.sha256(data).hexdigest()}, data)
assert reply['status'] == 'ok', reply
reply, body = request(sock, {'cmd': 'get', 'name': 'from-python.bin'})
assert reply['status'] == 'ok', reply
assert hashlib.sha256(body).hexdigest() == reply['sha256'], 'sha256 does not match'
assert body == data, 'the file changed on the way'
reply, body = request(sock, {'cmd': 'get', 'name': '../../etc/passwd'})
assert reply['status'] == 'error', reply
reply, body = request(sock, {'cmd': 'list'})
print(json.loads(body))
request(sock, {'cmd': 'quit'})
sock.close()
print('python client ok')
"#;

#[test]
fn a_python_tutorial_client_puts_and_gets_a_file_unchanged() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 not found: skipping the Python wire-compatibility test");
        return;
    }
    let tmp = TempDir::new("py");
    let script = tmp.0.join("client.py");
    std::fs::write(&script, PYTHON_CLIENT).unwrap();
    let data_path = tmp.0.join("data.bin");
    std::fs::write(&data_path, one_mib()).unwrap();
    let server = start(&["file"]);
    let dir = served_dir(&server);
    let out = Command::new("python3")
        .arg(&script)
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .arg(&data_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("python client ok"), "{stdout}");
    assert!(stdout.contains("'name': 'from-python.bin', 'size': 1048576"), "{stdout}");
    assert!(std::fs::read(dir.join("from-python.bin")).unwrap() == one_mib());
    stop(server);
}

/// A directory of the test's own, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!("netlab-test-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
