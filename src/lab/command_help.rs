//! The playground's `help` table and the words that start commands: what
//! `help`, tab completion and "did you mean" suggestions are built from.

/// One line of `help`: the command word(s), usage, and what it does.
pub struct CommandHelp {
    pub name: &'static str,
    pub usage: &'static str,
    pub about: &'static str,
}

pub const COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        name: "tcp listen",
        usage: "tcp listen [ADDR] [as NAME] [--no-reuseaddr] [--backlog N] [--unprivileged]",
        about: "socket + SO_REUSEADDR + bind + listen (ADDR defaults to 127.0.0.1:0); --unprivileged tries bind() as an ordinary user",
    },
    CommandHelp {
        name: "tcp connect",
        usage: "tcp connect ADDR|NAME [as NAME] [--timeout MS] [--count N]",
        about: "socket + connect to a listener; --count N: N clients at once, named NAME1…NAMEn, shown as one line",
    },
    CommandHelp {
        name: "accept",
        usage: "accept LISTENER [as NAME] [--timeout MS]",
        about: "take one connection off the listener's accept queue",
    },
    CommandHelp { name: "udp bind", usage: "udp bind [ADDR] [as NAME]", about: "a UDP socket bound to ADDR" },
    CommandHelp {
        name: "udp serve",
        usage: "udp serve time [ADDR] [as NAME]",
        about: "a UDP time server in a background thread: strftime format in, local time out",
    },
    CommandHelp {
        name: "serve",
        usage: super::command_serve::SERVE_USAGE,
        about: "start a reference server (netlab serve) as a child process on 127.0.0.1:0; its log shows as it goes; close NAME stops it",
    },
    CommandHelp {
        name: "hmac",
        usage: "hmac SOCK KEY [--digest sha256|md5] [--timeout MS] | hmac SOCK --replay",
        about: "answer an auth server: recv its 32-byte challenge, send HMAC(KEY, challenge); --replay resends the last answer",
    },
    CommandHelp {
        name: "check",
        usage: super::command_check::CHECK_USAGE,
        about: "netlab check's hostile clients against a server (a `serve` name, an address, or -- COMMAND netlab starts): where it breaks, and why",
    },
    CommandHelp {
        name: "procs",
        usage: "procs SERVER",
        about: "the server's process and its children from /proc: state (Z = zombie) and threads",
    },
    CommandHelp {
        name: "relay",
        usage: "relay udp [FROM] TO [--loss P] [--dup P] [--reorder P] [--seed N] [as NAME]",
        about: "a relay at FROM forwarding to TO that drops/duplicates/reorders datagrams (P in %)",
    },
    CommandHelp {
        name: "send",
        usage: "send SOCK PAYLOAD… [--timeout MS]",
        about: "one send() call; shows how many bytes the kernel took",
    },
    CommandHelp {
        name: "sendall",
        usage: "sendall SOCK PAYLOAD… [--timeout MS] [--reader PEER]",
        about: "send() in a loop until all is queued, waiting for POLLOUT on EAGAIN; --reader: PEER starts reading once it blocks",
    },
    CommandHelp {
        name: "sendframe",
        usage: "sendframe SOCK HEADER [PAYLOAD…] [--sha256] [--le] [--timeout MS]",
        about: "one [4-byte length][JSON header][body] message, sent whole; data_size (and with --sha256 the body's sha256) added to HEADER",
    },
    CommandHelp {
        name: "sendto",
        usage: "sendto SOCK ADDR|NAME PAYLOAD…",
        about: "one sendto(): exactly one datagram",
    },
    CommandHelp {
        name: "recv",
        usage: "recv SOCK [N] [--peek] [--timeout MS] [--as u32be|u32le|…]",
        about: "one recv(N), N defaults to 1024; --as decodes an integer",
    },
    CommandHelp {
        name: "recv --frame",
        usage: "recv SOCK --frame line|u32|json|json-le|fixed:N [--timeout MS]",
        about: "exactly one message by that framing; the bytes after it stay queued",
    },
    CommandHelp {
        name: "recvfrom",
        usage: "recvfrom SOCK [N] [--peek] [--timeout MS]",
        about: "one recvfrom(N); reports truncated datagrams (MSG_TRUNC)",
    },
    CommandHelp {
        name: "recvloop",
        usage: "recvloop SOCK [N] [--ignore-eof] [--max K] [--timeout MS]",
        about: "a communication loop: recv(N) again and again until EOF (0 bytes), K calls or the timeout",
    },
    CommandHelp {
        name: "poll",
        usage: "poll SOCK… [in] [out] [rdhup] [--timeout MS]",
        about: "one poll(): wait until a socket is readable (in, the default) or writable; shows revents",
    },
    CommandHelp {
        name: "epoll",
        usage: "epoll SOCK [--edge] [--waits N] [--timeout MS]",
        about: "register SOCK with a new epoll (level, or --edge: EPOLLET), epoll_wait N times without reading; shows each wait's events",
    },
    CommandHelp {
        name: "wait",
        usage: "wait SOCK readable N | wait SOCK state STATE | wait LISTENER queued N | wait SERVER log TEXT | wait SOCK heard TEXT [--timeout MS]",
        about: "wait until N bytes are queued, the kernel shows a TCP state, N connections wait for accept(), a server logs TEXT, or a followed socket's thread reads TEXT",
    },
    CommandHelp {
        name: "follow",
        usage: "follow SOCK",
        about: "a receive thread reads SOCK whenever it is readable (like a chat client's); what it reads shows after each command",
    },
    CommandHelp {
        name: "unfollow",
        usage: "unfollow SOCK",
        about: "stop and join SOCK's receive thread; recv works again",
    },
    CommandHelp {
        name: "close",
        usage: "close SOCK",
        about: "close(); `sockets` keeps showing what the kernel still holds",
    },
    CommandHelp {
        name: "shutdown",
        usage: "shutdown SOCK read|write|both",
        about: "half-close: stop reading and/or writing",
    },
    CommandHelp {
        name: "opt",
        usage: "opt SOCK reuseaddr|nodelay|linger|rcvbuf|sndbuf|nonblock|rcvtimeo|sndtimeo [VALUE]",
        about: "read or set a socket option (nonblock: O_NONBLOCK; rcvtimeo/sndtimeo in ms, off = none)",
    },
    CommandHelp { name: "sockets", usage: "sockets", about: "every socket with its kernel TCP state and queued bytes" },
    CommandHelp {
        name: "sysctl",
        usage: "sysctl NAME",
        about: "read a kernel network setting, e.g. sysctl net.core.somaxconn",
    },
    CommandHelp {
        name: "addr",
        usage: "addr SOCK",
        about: "getsockname + getpeername: this end's address and the other end's",
    },
    CommandHelp {
        name: "resolve",
        usage: "resolve HOST [--family 4|6]",
        about: "getaddrinfo: every address a numeric or /etc/hosts name gives (never DNS)",
    },
    CommandHelp {
        name: "unix listen",
        usage: "unix listen [PATH|@NAME] [as NAME] [--seqpacket]",
        about: "AF_UNIX socket + bind + listen (PATH defaults to NAME.sock in netlab's private dir; @NAME: abstract, no file)",
    },
    CommandHelp {
        name: "unix connect",
        usage: "unix connect PATH|@NAME|SOCK [as NAME] [--seqpacket] [--unprivileged]",
        about: "AF_UNIX socket + connect; --unprivileged drops root's CAP_DAC_OVERRIDE for it, so file permissions apply",
    },
    CommandHelp {
        name: "unix bind",
        usage: "unix bind [PATH|@NAME] [as NAME]",
        about: "an AF_UNIX SOCK_DGRAM socket bound to PATH (use sendto / recvfrom)",
    },
    CommandHelp {
        name: "unix unlink",
        usage: "unix unlink PATH|SOCK",
        about: "unlink() a socket file, so its path can be bound again",
    },
    CommandHelp {
        name: "unix chmod",
        usage: "unix chmod PATH|SOCK MODE",
        about: "chmod() a socket file, e.g. 600; connect() needs write permission on it",
    },
    CommandHelp { name: "unix files", usage: "unix files", about: "the socket files netlab made that still exist" },
    CommandHelp {
        name: "socketpair",
        usage: "socketpair [stream|dgram|seqpacket] [as A B]",
        about: "two connected AF_UNIX sockets, no names, no listen/accept",
    },
];

/// Payload syntax reminder shown by `help send`.
pub const PAYLOAD_HELP: &str = "payload: \"text\" 'text' hex:48656c6c6f repeat:N:\"x\" count:N (numbered lines) file:PATH, or an integer in a byte order: u16be: u16le: u32be: u32le: u64be: u64le: i32be: i32le: (e.g. u32be:1000) — several are concatenated";

/// Words that start playground commands, for completion and suggestions.
pub fn command_words() -> Vec<&'static str> {
    let mut words: Vec<&str> = COMMANDS.iter().map(|c| c.name.split(' ').next().unwrap_or(c.name)).collect();
    words.dedup();
    words
}

/// "unknown command" with the nearest of `candidates` suggested.
pub fn unknown_command(word: &str, candidates: &[&str]) -> String {
    match crate::suggest::closest(word, candidates) {
        Some(s) => format!("unknown command '{word}' — did you mean '{s}'? (type help)"),
        None => format!("unknown command '{word}' (type help for the list)"),
    }
}
