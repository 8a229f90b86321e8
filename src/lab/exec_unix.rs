//! Unix-domain sockets: listen, connect, bind, accept, socketpair. The
//! socket files they leave behind are in exec_unix_files.rs.
//!
//! Same calls as TCP and UDP with AF_UNIX, but the address is a file name
//! (or an abstract `@name`), the peer is always this machine, and file
//! permissions decide who may connect.

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::command_unix::{UnixCommand, UnixSpec, UnixType};
use super::endpoint::{Endpoint, UnixName};
use super::unix_dir::UnixFiles;
use super::{Kind, Lab, LabSocket, Outcome, UnixKind, unprivileged};
use crate::event::{CallResult, SocketRow};
use crate::wire::{kernel, queues, unix as proc_unix};

/// sun_path's 108 bytes, less the final NUL (man 7 unix).
const MAX_SUN_PATH: usize = 107;

impl Lab {
    pub(super) fn unix(&mut self, cmd: &UnixCommand) -> Result<Outcome, String> {
        match cmd {
            UnixCommand::Listen { path, name, ty } => self.unix_listen(path.as_ref(), name.as_deref(), *ty),
            UnixCommand::Connect { target, name, ty, unprivileged } => {
                self.unix_connect(target, name.as_deref(), *ty, *unprivileged)
            }
            UnixCommand::Bind { path, name } => self.unix_bind(path.as_ref(), name.as_deref()),
            UnixCommand::Unlink { path } => self.unix_unlink(path),
            UnixCommand::Chmod { path, mode } => self.unix_chmod(path, *mode),
            UnixCommand::Files => Ok(self.unix_list_files()),
            UnixCommand::Pair { ty, names } => self.socketpair(*ty, names.as_ref()),
        }
    }

    fn unix_listen(&mut self, path: Option<&UnixSpec>, name: Option<&str>, ty: UnixType) -> Result<Outcome, String> {
        let name = self.claim_name(name, "srv")?;
        let addr = self.bind_name(path, &name)?;
        let sock = match self.unix_socket(&name, ty) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        if let Err(failed) = self.unix_bind_to(&name, &sock, &addr) {
            return Ok(*failed);
        }
        if let Err(e) = sock.listen(128) {
            return Ok(self.failed(&name, "listen(128)", &e));
        }
        let local = self.name_of(sock.local_addr());
        let detail = format!("listening on {}", self.shown(&local));
        Ok(self.created(
            &name,
            LabSocket::unix(UnixKind::Listener, sock, local, None),
            Some("listen(128)".into()),
            detail,
        ))
    }

    fn unix_bind(&mut self, path: Option<&UnixSpec>, name: Option<&str>) -> Result<Outcome, String> {
        let name = self.claim_name(name, "dg")?;
        let addr = self.bind_name(path, &name)?;
        let sock = match self.unix_socket(&name, UnixType::Dgram) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        if let Err(failed) = self.unix_bind_to(&name, &sock, &addr) {
            return Ok(*failed);
        }
        let local = self.name_of(sock.local_addr());
        let detail = format!("bound to {}", self.shown(&local));
        Ok(self.created(&name, LabSocket::unix(UnixKind::Dgram, sock, local, None), None, detail))
    }

    fn unix_connect(
        &mut self,
        target: &UnixSpec,
        name: Option<&str>,
        ty: UnixType,
        unprivileged: bool,
    ) -> Result<Outcome, String> {
        let target = self.unix_target(target)?;
        let name = self.claim_name(name, "cli")?;
        let sockaddr =
            target.to_sockaddr().ok_or("an unnamed socket cannot be connected to")?.map_err(|e| e.to_string())?;
        let call = format!("connect({})", self.shown(&target));
        // Made here, on netlab's own thread: an fd keeps its opener's
        // credentials for life, so only connect() runs without the
        // capabilities. Non-blocking, so a full accept queue shows as
        // EAGAIN instead of a hang.
        let sock = match self.unix_socket(&name, ty) {
            Ok(s) => s,
            Err(failed) => return Ok(*failed),
        };
        if let Err(e) = sock.set_nonblocking(true) {
            return Ok(self.failed(&name, "fcntl(O_NONBLOCK)", &e));
        }
        let connect = || sock.connect(&sockaddr);
        let connected = if unprivileged {
            let drop = "capset(drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)";
            match unprivileged::without_file_capabilities(connect) {
                Ok(connected) => {
                    let why = "on a short-lived thread: file permissions now apply to its connect(), as to any user";
                    self.call(&name, drop, CallResult::ok(why));
                    connected
                }
                Err(e) => {
                    let mut result = super::errno::call_error(&e);
                    if let CallResult::Err { why, .. } = &mut result {
                        *why = Some("could not drop the capabilities, so connect() was not tried: run it without --unprivileged".into());
                    }
                    self.call(&name, drop, result.clone());
                    return Ok(Outcome::of(&name, result));
                }
            }
        } else {
            connect()
        };
        if let Err(e) = connected {
            let mut result = super::errno::call_error(&e);
            if let CallResult::Err { why, .. } = &mut result {
                *why = connect_why(&e, unprivileged, &target).map(str::to_string).or(why.take());
            }
            self.call(&name, call, result.clone());
            return Ok(Outcome::of(&name, result));
        }
        if let Err(e) = sock.set_nonblocking(false) {
            return Ok(self.failed(&name, "fcntl(~O_NONBLOCK)", &e));
        }
        let local = self.name_of(sock.local_addr());
        let peer = self.name_of(sock.peer_addr());
        let detail = format!("connected to {}; this end is {}", self.shown(&peer), self.shown(&local));
        Ok(self.created(&name, LabSocket::unix(UnixKind::Conn, sock, local, Some(peer)), Some(call), detail))
    }

    pub(super) fn unix_accept(
        &mut self,
        listener: &str,
        name: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Outcome, String> {
        let (name, sock, peer) = match self.accept_next(listener, name, timeout)? {
            Ok(accepted) => accepted,
            Err(stopped) => return Ok(stopped),
        };
        let peer = UnixName::from_sockaddr(&peer).unwrap_or(UnixName::Unnamed);
        let local = self.name_of(sock.local_addr());
        let detail = format!("new socket {name}; its peer is {}", self.shown(&peer));
        self.call(listener, "accept()", CallResult::ok(detail.clone()));
        Ok(self.created(&name, LabSocket::unix(UnixKind::Conn, sock, local, Some(peer)), None, detail))
    }

    fn socketpair(&mut self, ty: UnixType, names: Option<&(String, String)>) -> Result<Outcome, String> {
        let a = self.claim_name(names.map(|n| n.0.as_str()), "a")?;
        let b = self.claim_name(names.map(|n| n.1.as_str()), "b")?;
        let call = format!("socketpair(AF_UNIX, {})", ty.c_name());
        let (sa, sb) = match Socket::pair(Domain::UNIX, ty.sock_type(), None) {
            Ok(pair) => pair,
            Err(e) => return Ok(self.failed(&a, call, &e)),
        };
        let detail = format!(
            "{a} = fd {}, {b} = fd {}: connected to each other — no names, no file, no listen or accept",
            sa.as_raw_fd(),
            sb.as_raw_fd()
        );
        let peer = Some(UnixName::Unnamed);
        self.created(&b, LabSocket::unix(UnixKind::Conn, sb, UnixName::Unnamed, peer.clone()), None, String::new());
        Ok(self.created(&a, LabSocket::unix(UnixKind::Conn, sa, UnixName::Unnamed, peer), Some(call), detail))
    }

    /// Where a new socket binds: the spec, or NAME.sock in the private dir.
    fn bind_name(&mut self, spec: Option<&UnixSpec>, name: &str) -> Result<UnixName, String> {
        let typed: std::path::PathBuf = match spec {
            None => format!("{name}.sock").into(),
            Some(UnixSpec::Abstract(n)) => return Ok(UnixName::Abstract(n.as_bytes().to_vec())),
            Some(UnixSpec::Path(p)) => p.clone(),
            Some(UnixSpec::Word(w)) => w.into(),
        };
        let full = self.unix_files.place(&typed)?;
        // sun_path holds 108 bytes with the final NUL (man 7 unix); a
        // relative name gets the private directory's path in front.
        let len = full.as_os_str().len();
        if len > MAX_SUN_PATH {
            return Err(format!(
                "'{}' would be the path {} ({len} bytes), and a unix socket path holds at most {MAX_SUN_PATH}: use a shorter name",
                typed.display(),
                full.display()
            ));
        }
        Ok(UnixName::Path(full))
    }

    /// Where connect/sendto go: a socket's own name means its address.
    pub(super) fn unix_target(&mut self, spec: &UnixSpec) -> Result<UnixName, String> {
        if let UnixSpec::Word(w) = spec {
            match self.local_endpoint(w) {
                Some(Endpoint::Unix(UnixName::Unnamed)) => {
                    return Err(format!("'{w}' has no name (never bound): nothing can connect or send to it"));
                }
                Some(Endpoint::Unix(u)) => return Ok(u.clone()),
                Some(Endpoint::Inet(a)) => return Err(format!("'{w}' is an internet socket ({a}): use tcp connect")),
                None => {}
            }
        }
        self.bind_name(Some(spec), "")
    }

    /// socket(AF_UNIX, …); on failure the event is emitted and the outcome returned.
    fn unix_socket(&mut self, name: &str, ty: UnixType) -> Result<Socket, Box<Outcome>> {
        let call = format!("socket(AF_UNIX, {})", ty.c_name());
        match Socket::new(Domain::UNIX, ty.sock_type(), None) {
            Ok(s) => {
                self.call(name, call, CallResult::ok(format!("fd {}", s.as_raw_fd())));
                Ok(s)
            }
            Err(e) => Err(Box::new(self.failed(name, call, &e))),
        }
    }

    fn unix_bind_to(&mut self, name: &str, sock: &Socket, addr: &UnixName) -> Result<(), Box<Outcome>> {
        let call = format!("bind({})", self.shown(addr));
        let sockaddr = match addr.to_sockaddr() {
            Some(Ok(a)) => a,
            Some(Err(e)) => return Err(Box::new(self.failed(name, call, &e))),
            None => return Ok(()),
        };
        if let Err(e) = sock.bind(&sockaddr) {
            let mut result = super::errno::call_error(&e);
            if let (CallResult::Err { why, .. }, Some(nix::libc::EADDRINUSE)) = (&mut result, e.raw_os_error()) {
                *why = Some(match addr {
                    UnixName::Path(_) => "a file already exists at that path — often the socket file a closed server left behind: unlink it first (servers do), then bind".into(),
                    _ => "another socket holds this abstract name".into(),
                });
            }
            self.call(name, call, result.clone());
            return Err(Box::new(Outcome::of(name, result)));
        }
        let detail = match addr {
            UnixName::Path(p) => {
                self.unix_files.remember(p);
                format!("made the socket file {}", p.display())
            }
            UnixName::Abstract(n) if n.is_empty() => {
                let chosen = self.name_of(sock.local_addr());
                format!("autobind: the kernel chose the unused abstract name {chosen}; no file is made")
            }
            _ => "an abstract name: no file is made, and it vanishes when the socket closes".into(),
        };
        self.call(name, call, CallResult::ok(detail));
        Ok(())
    }

    /// getsockname/getpeername as a unix name; unnamed if the kernel says nothing useful.
    fn name_of(&self, addr: std::io::Result<socket2::SockAddr>) -> UnixName {
        addr.ok().and_then(|a| UnixName::from_sockaddr(&a)).unwrap_or(UnixName::Unnamed)
    }

    /// A name as the learner typed it: private-dir paths shortened.
    pub(super) fn shown(&self, name: &UnixName) -> String {
        match name {
            UnixName::Path(p) => self.unix_files.short(p).display().to_string(),
            other => other.to_string(),
        }
    }
}

/// SOCK_SEQPACKET or SOCK_DGRAM (from SO_TYPE) when `s` keeps message
/// boundaries; `None` for a byte stream. A socketpair's role says nothing
/// about its type, so commands that need a byte stream ask the socket.
pub(super) fn message_type(s: &LabSocket) -> Result<Option<&'static str>, String> {
    match s.sock.r#type().map_err(|e| format!("getsockopt(SO_TYPE) failed: {e}"))? {
        t if t == Type::STREAM => Ok(None),
        t if t == Type::SEQPACKET => Ok(Some("SOCK_SEQPACKET")),
        t if t == Type::DGRAM => Ok(Some("SOCK_DGRAM")),
        _ => Ok(Some("message-based")),
    }
}

/// What a failed unix connect() means, where the generic text would mislead.
fn connect_why(e: &std::io::Error, unprivileged: bool, target: &UnixName) -> Option<&'static str> {
    Some(match e.raw_os_error()? {
        nix::libc::EACCES if unprivileged => {
            "connect() needs write permission on the socket file (man 7 unix), and this thread no longer has root's CAP_DAC_OVERRIDE to skip the check"
        }
        nix::libc::EACCES => {
            "connect() needs write permission on the socket file and search permission on its directories (man 7 unix)"
        }
        nix::libc::ENOENT => "no file at that path: nothing was bound there, or it was unlinked",
        nix::libc::ECONNREFUSED if matches!(target, UnixName::Abstract(_)) => {
            "no socket holds that abstract name: it vanished when its last socket closed (or never existed)"
        }
        nix::libc::ECONNREFUSED => {
            "the file exists but no socket listens on it: a closed server leaves its file behind"
        }
        nix::libc::EPROTOTYPE => {
            "the other socket has a different type: stream and seqpacket do not connect to each other"
        }
        nix::libc::EAGAIN => "the listener's accept queue is full: a blocking connect() would wait for room",
        _ => return None,
    })
}

/// A `sockets` row for a unix socket: its type and state from /proc/net/unix
/// (matched by inode), bytes readable from FIONREAD.
pub(super) fn unix_row(name: &str, s: &LabSocket, files: &UnixFiles) -> SocketRow {
    let inode = kernel::socket_inode(s.sock.as_fd()).ok();
    let table = proc_unix::read_table().ok();
    let k = table.as_deref().zip(inode).and_then(|(t, i)| t.iter().find(|e| e.inode == i));
    let ty = match s.sock.r#type() {
        Ok(t) if t == Type::SEQPACKET => "seqpacket",
        Ok(t) if t == Type::DGRAM => "dgram",
        _ => "stream",
    };
    let kind =
        if s.kind == Kind::Unix(UnixKind::Listener) { format!("unix {ty} listener") } else { format!("unix {ty}") };
    let shown = |e: &Endpoint| match e {
        Endpoint::Unix(UnixName::Path(p)) => files.short(p).display().to_string(),
        other => other.to_string(),
    };
    let listening = s.kind == Kind::Unix(UnixKind::Listener);
    SocketRow {
        name: name.into(),
        kind,
        local: shown(&s.local),
        peer: s.peer.as_ref().map_or("-".into(), shown),
        state: k.map_or("?", proc_unix::UnixEntry::state_name).to_string(),
        recv_q: (!listening).then(|| queues::bytes_readable(s.sock.as_fd()).ok().map(|n| n as u64)).flatten(),
        send_q: None,
    }
}
