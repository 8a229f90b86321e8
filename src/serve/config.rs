//! `netlab serve`'s options, in one place: the CLI parses them, demos and
//! the bench build them in code, every model and protocol reads them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::render::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// TCP: every byte back, unchanged.
    Echo,
    /// TCP or --udp: every chunk / datagram back, ASCII upper-cased.
    Upper,
    /// UDP: the datagram is a strftime format; the reply is the local time.
    Time,
    /// TCP: framed echo, [4-byte length][JSON header {"data_size": N}][body].
    Framed,
    /// TCP: one allowlisted built-in command per line, framed replies. Never a shell.
    Cmd,
    /// TCP: 32-byte challenge, HMAC answer, then echo (or --then upper).
    Auth,
    /// TCP, framed: list, get NAME, put NAME (size + sha256), rooted in --root.
    File,
    /// TCP, lines: nickname first, then every line goes to everyone else.
    Chat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Model {
    /// One client at a time: the next waits in the listen queue.
    Iterative,
    /// A thread per connection.
    #[default]
    Thread,
    /// A child process per connection, reaped when it exits (--no-reap: left as zombies). Not for chat.
    Fork,
    /// A fixed set of worker threads (--workers) taking turns at clients.
    Pool,
    /// One thread, select(2): a client on descriptor 1024 (FD_SETSIZE) or above is closed.
    Select,
    /// One thread, poll(2).
    Poll,
    /// One thread, epoll(7), level-triggered (or --edge).
    Epoll,
}

/// The MAC the auth server expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Digest {
    #[default]
    Sha256,
    /// What Python's `hmac.new(key, msg)` meant before 3.8: for classic programs only.
    Md5,
}

/// What an authenticated auth connection turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AfterAuth {
    #[default]
    Echo,
    Upper,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Echo => "echo",
            Proto::Upper => "upper",
            Proto::Time => "time",
            Proto::Framed => "framed",
            Proto::Cmd => "cmd",
            Proto::Auth => "auth",
            Proto::File => "file",
            Proto::Chat => "chat",
        }
    }

    pub const ALL: [Proto; 8] =
        [Proto::Echo, Proto::Upper, Proto::Time, Proto::Framed, Proto::Cmd, Proto::Auth, Proto::File, Proto::Chat];
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Iterative => "iterative",
            Model::Thread => "thread",
            Model::Fork => "fork",
            Model::Pool => "pool",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Epoll => "epoll",
        }
    }

    pub const ALL: [Model; 7] =
        [Model::Iterative, Model::Thread, Model::Fork, Model::Pool, Model::Select, Model::Poll, Model::Epoll];
}

/// Default cap on clients served at once, whatever the model.
pub const DEFAULT_MAX_CONNS: usize = 1000;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[arg(value_enum)]
    pub proto: Proto,
    /// Concurrency model (TCP only).
    #[arg(long, value_enum, default_value = "thread")]
    pub model: Model,
    /// Loopback address to listen on; port 0 lets the kernel pick one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Serve over UDP (upper; time is always UDP).
    #[arg(long)]
    pub udp: bool,
    /// Worker threads for --model pool.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub workers: usize,
    /// Clients served at once; more are accepted and closed at once.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNS, value_name = "N")]
    pub max_conns: usize,
    /// framed/cmd/file: little-endian lengths, as Python's struct.pack('i') on x86.
    #[arg(long)]
    pub native_endian: bool,
    /// auth: the shared secret (or NETLAB_KEY).
    #[arg(long, env = "NETLAB_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// auth: the HMAC digest.
    #[arg(long, value_enum, default_value = "sha256")]
    pub digest: Digest,
    /// auth: what the connection becomes once the client proved the key.
    #[arg(long, value_enum, default_value = "echo")]
    pub then: AfterAuth,
    /// auth: milliseconds the client has to answer the challenge.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub auth_timeout: u64,
    /// file: the directory served (default: a fresh private directory, removed on exit).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// fork: do not reap children, so exited ones linger as zombies (to see them in ps).
    #[arg(long)]
    pub no_reap: bool,
    /// epoll: edge-triggered (EPOLLET): each wake-up reports a change, so read and write until EAGAIN.
    #[arg(long)]
    pub edge: bool,
    /// Output format of the server's log.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

impl Config {
    /// The defaults `netlab serve PROTO` would use, for demos and the bench.
    pub fn new(proto: Proto, model: Model) -> Self {
        Config {
            proto,
            model,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            udp: proto == Proto::Time,
            workers: 4,
            max_conns: DEFAULT_MAX_CONNS,
            native_endian: false,
            key: None,
            digest: Digest::Sha256,
            then: AfterAuth::Echo,
            auth_timeout: 5000,
            root: None,
            no_reap: false,
            edge: false,
            format: Format::Text,
        }
    }

    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout)
    }

    /// The transport actually used: time is UDP whatever the flag says.
    pub fn is_udp(&self) -> bool {
        self.udp || self.proto == Proto::Time
    }
}
