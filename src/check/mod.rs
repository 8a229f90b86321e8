//! `netlab check`: an adversarial tester for servers learners write, in
//! any language.
//!
//! Friendly traffic proves little: a server that assumes one `recv()` is
//! one message passes every test that sends one small message and waits.
//! So each test here is built to break one assumption *by construction* —
//! bytes sent one per `send()` and each taken by the server's `recv()`
//! before the next (the kernel's tables show it), messages glued into one
//! segment, 9 MiB replies read only once every buffer between the two ends
//! is full, FIN and RST at the worst moment, 50 clients at once, a client
//! that never reads — and a failure names the assumption in one sentence,
//! with the bytes that show it.
//!
//! * [`target`]: the address (loopback only) and the server's processes.
//! * [`program`]: `-- COMMAND`: start the learner's server, stop it after.
//! * [`conn`], [`log`]: a logged client connection; the test's byte log.
//! * [`dialect`], [`stream`]: the tests every stream protocol shares.
//! * one module per protocol: its dialect and its own tests.

pub mod conn;
pub mod dialect;
pub mod log;
pub mod pattern;
pub mod program;
pub mod report;
pub mod stream;
pub mod stream_pressure;
pub mod target;

mod auth;
mod broken_frames;
mod chat;
mod chat_member;
mod cmd;
mod echo;
mod file;
mod file_large;
mod file_refusals;
mod framed;
mod framing;
mod run;
mod udp;
pub mod udp_client;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use conn::{Conn, Opts};
use log::ByteLog;
use report::Failure;

use crate::proto::json_header::LengthOrder;
use crate::render::Format;
use crate::serve::config::{AfterAuth, Digest, Proto};

pub use run::{list, run};

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The protocol your server speaks (see netlab serve --help).
    #[arg(value_enum, required_unless_present = "list")]
    pub proto: Option<Proto>,
    /// Where your server listens: 127.0.0.1:PORT, [::1]:PORT, localhost:PORT or PORT.
    #[arg(value_name = "ADDR", required_unless_present_any = ["list", "command"], conflicts_with = "command")]
    pub addr: Option<String>,
    /// After --: the command that runs your server; netlab starts it with its
    /// port in $PORT and in place of {port}, and stops it at the end.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// List the tests (of PROTO, or of every protocol).
    #[arg(long)]
    pub list: bool,
    /// Run only these tests (comma-separated names from --list).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub only: Vec<String>,
    /// Show every test's byte log, not just the failures'.
    #[arg(long, short)]
    pub verbose: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Milliseconds to wait for a reply before calling it missing.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub timeout: u64,
    /// With -- COMMAND: milliseconds your program may take to start listening.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub start_timeout: u64,
    /// upper: test a UDP server (time is always UDP).
    #[arg(long)]
    pub udp: bool,
    /// framed, cmd, file: expect little-endian lengths (Python's struct.pack('i')).
    #[arg(long)]
    pub native_endian: bool,
    /// auth: the shared key your server uses (or NETLAB_KEY).
    #[arg(long, env = "NETLAB_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// auth: the HMAC digest your server expects.
    #[arg(long, value_enum, default_value = "sha256")]
    pub digest: Digest,
    /// auth: what your server becomes after a right answer.
    #[arg(long, value_enum, default_value = "echo")]
    pub then: AfterAuth,
    /// auth: milliseconds your server gives a client to answer its challenge.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub auth_timeout: u64,
}

impl CheckArgs {
    /// Defaults for `proto`, as the CLI would parse them: for tests and benches.
    pub fn new(proto: Proto) -> Self {
        CheckArgs {
            proto: Some(proto),
            addr: None,
            command: Vec::new(),
            list: false,
            only: Vec::new(),
            verbose: false,
            format: Format::Text,
            timeout: 2000,
            start_timeout: 10_000,
            udp: proto == Proto::Time,
            native_endian: false,
            key: None,
            digest: Digest::Sha256,
            then: AfterAuth::Echo,
            auth_timeout: 5000,
        }
    }

    pub fn order(&self) -> LengthOrder {
        if self.native_endian { LengthOrder::LittleEndian } else { LengthOrder::BigEndian }
    }

    pub fn is_udp(&self) -> bool {
        self.udp || self.proto == Some(Proto::Time)
    }
}

/// What a test runs with: where the server is, the options, and the byte
/// log its connections write to.
pub struct Cx<'a> {
    pub addr: SocketAddr,
    pub args: &'a CheckArgs,
    pub timeout: Duration,
    pub log: ByteLog,
    pub procs: target::Processes,
    conns: AtomicUsize,
}

impl<'a> Cx<'a> {
    pub fn new(addr: SocketAddr, args: &'a CheckArgs, procs: target::Processes) -> Self {
        Cx {
            addr,
            args,
            timeout: Duration::from_millis(args.timeout),
            log: ByteLog::new(),
            procs,
            conns: AtomicUsize::new(0),
        }
    }

    /// A new client connection, named c1, c2… in the log.
    pub fn connect(&self) -> Result<Conn, Failure> {
        self.connect_with(Opts::default())
    }

    pub fn connect_with(&self, opts: Opts) -> Result<Conn, Failure> {
        let name = format!("c{}", self.conns.fetch_add(1, Ordering::SeqCst) + 1);
        Conn::open(self.addr, name.clone(), self.log.clone(), self.timeout, opts)
            .map_err(|e| connect_failure(self, &name, &e))
    }

    /// A fresh name for a client of another kind (`u1` for UDP…).
    pub fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.conns.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Connections opened so far.
    pub fn opened(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

fn connect_failure(cx: &Cx, name: &str, e: &std::io::Error) -> Failure {
    cx.log.note(name, format!("connect() failed: {e}"));
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::new(format!(
            "nothing accepts connections on {} any more: your server is not running (did an earlier step kill it?)",
            cx.addr
        )),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Failure::new(format!(
            "connect() to {} timed out: your server's listen queue is full because it is not calling accept() — \
             it is busy with other clients",
            cx.addr
        )),
        _ => Failure::new(format!("cannot connect to {}: {e}", cx.addr)),
    }
}

/// A test's code: `Ok(summary)` when the server held up.
pub type TestFn = Box<dyn Fn(&Cx) -> Result<String, Failure> + Send + Sync>;

/// One test: a name for `--only`, a line for `--list`, and the code.
pub struct Test {
    pub name: &'static str,
    pub about: &'static str,
    pub run: TestFn,
}

impl Test {
    pub fn new(
        name: &'static str,
        about: &'static str,
        run: impl Fn(&Cx) -> Result<String, Failure> + Send + Sync + 'static,
    ) -> Self {
        Test { name, about, run: Box::new(run) }
    }
}

/// The tests for a protocol (`udp`: upper over UDP).
pub fn suite(proto: Proto, udp: bool) -> Vec<Test> {
    match (proto, udp) {
        (Proto::Echo, _) => echo::echo_suite(),
        (Proto::Upper, false) => echo::upper_suite(),
        (Proto::Auth, _) => auth::suite(false),
        (Proto::Upper, true) => udp::upper_suite(),
        (Proto::Time, _) => udp::time_suite(),
        (Proto::Chat, _) => chat::suite(),
        (Proto::Framed, _) => framed::suite(),
        (Proto::Cmd, _) => cmd::suite(),
        (Proto::File, _) => file::suite(),
    }
}

/// The tests `args` asks for: auth's depend on what it becomes (`--then`).
pub fn suite_for(args: &CheckArgs) -> Vec<Test> {
    match args.proto {
        Some(Proto::Auth) => auth::suite(auth::upper(args.then)),
        Some(proto) => suite(proto, args.is_udp()),
        None => Vec::new(),
    }
}

/// How `--list` names a suite: the protocol, and `--udp` where the same
/// protocol has a TCP suite too.
pub fn suite_label(proto: Proto, udp: bool) -> String {
    if proto == Proto::Upper && udp { "upper --udp".into() } else { proto.name().to_string() }
}

/// What `--list` shows for every protocol: (label, its tests).
pub fn every_suite() -> Vec<(String, Vec<Test>)> {
    let mut all = Vec::new();
    for proto in Proto::ALL {
        let udp = proto == Proto::Time;
        all.push((suite_label(proto, udp), suite(proto, udp)));
        if proto == Proto::Upper {
            all.push((suite_label(proto, true), suite(proto, true)));
        }
    }
    all
}
