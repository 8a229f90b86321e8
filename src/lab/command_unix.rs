//! Parsing the unix-domain commands: `unix listen|connect|bind|unlink|chmod|files`
//! and `socketpair`.

use std::path::PathBuf;

use super::tokens::{self, Args};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixType {
    Stream,
    Dgram,
    SeqPacket,
}

impl UnixType {
    pub const NAMES: [&'static str; 3] = ["stream", "dgram", "seqpacket"];

    pub fn sock_type(self) -> socket2::Type {
        match self {
            UnixType::Stream => socket2::Type::STREAM,
            UnixType::Dgram => socket2::Type::DGRAM,
            UnixType::SeqPacket => socket2::Type::SEQPACKET,
        }
    }

    /// The C constant, for showing the socket() call.
    pub fn c_name(self) -> &'static str {
        match self {
            UnixType::Stream => "SOCK_STREAM",
            UnixType::Dgram => "SOCK_DGRAM",
            UnixType::SeqPacket => "SOCK_SEQPACKET",
        }
    }

    fn parse(word: &str) -> Option<UnixType> {
        let all = [UnixType::Stream, UnixType::Dgram, UnixType::SeqPacket];
        Self::NAMES.iter().position(|n| n.eq_ignore_ascii_case(word)).map(|i| all[i])
    }
}

/// A unix-domain address as the learner typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixSpec {
    /// `@name`: Linux's abstract namespace, no file. `@` alone asks the
    /// kernel to pick a free name (autobind).
    Abstract(String),
    /// A file name: absolute as typed, relative inside netlab's private directory.
    Path(PathBuf),
    /// A word that could be a socket name (its address) or a file name.
    Word(String),
}

impl UnixSpec {
    pub fn parse(word: &str) -> Result<UnixSpec, String> {
        if let Some(name) = word.strip_prefix('@') {
            if name.contains('\0') {
                return Err("an abstract name cannot contain a NUL byte".into());
            }
            return Ok(UnixSpec::Abstract(name.to_string()));
        }
        if tokens::check_name(word).is_ok() {
            return Ok(UnixSpec::Word(word.to_string()));
        }
        let path = PathBuf::from(word);
        let plain_file = path.components().count() == 1 && !matches!(word, "." | "..");
        if !path.is_absolute() && !plain_file {
            return Err(format!(
                "'{word}': relative names are single file names in netlab's private directory (e.g. srv.sock); write an absolute path for anywhere else"
            ));
        }
        // sun_path's 107-byte limit is checked on the full path, once a
        // relative name is placed in the private directory (Lab::bind_name).
        Ok(UnixSpec::Path(path))
    }
}

impl std::fmt::Display for UnixSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnixSpec::Abstract(n) => write!(f, "@{n}"),
            UnixSpec::Path(p) => write!(f, "{}", p.display()),
            UnixSpec::Word(w) => f.write_str(w),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnixCommand {
    Listen { path: Option<UnixSpec>, name: Option<String>, ty: UnixType },
    Connect { target: UnixSpec, name: Option<String>, ty: UnixType, unprivileged: bool },
    Bind { path: Option<UnixSpec>, name: Option<String> },
    Unlink { path: UnixSpec },
    Chmod { path: UnixSpec, mode: u32 },
    Files,
    Pair { ty: UnixType, names: Option<(String, String)> },
}

impl UnixCommand {
    /// The socket the command makes, if it was named.
    pub fn subject(&self) -> Option<&str> {
        match self {
            UnixCommand::Listen { name, .. } | UnixCommand::Connect { name, .. } | UnixCommand::Bind { name, .. } => {
                name.as_deref()
            }
            UnixCommand::Pair { names, .. } => names.as_ref().map(|(a, _)| a.as_str()),
            _ => None,
        }
    }
}

const UNIX_USAGE: &str = "unix what? use: unix listen|connect|bind|unlink|chmod|files (help unix listen)";

pub fn parse_unix(rest: &[String]) -> Result<UnixCommand, String> {
    let args = rest.get(1..).unwrap_or_default();
    match rest.first().map(String::as_str) {
        Some("listen") => {
            let a = Args::parse(args, &[], &["seqpacket"])?;
            let path = optional_path(&a.positional, "unix listen [PATH|@NAME] [as NAME] [--seqpacket]")?;
            Ok(UnixCommand::Listen { path, name: a.name.clone(), ty: stream_or_seqpacket(&a) })
        }
        Some("connect") => {
            let a = Args::parse(args, &[], &["seqpacket", "unprivileged"])?;
            let [target] = a.positional.as_slice() else {
                return Err("usage: unix connect PATH|@NAME|SOCK [as NAME] [--seqpacket] [--unprivileged]".into());
            };
            let target = UnixSpec::parse(target)?;
            let (name, ty, unprivileged) = (a.name.clone(), stream_or_seqpacket(&a), a.has("unprivileged"));
            Ok(UnixCommand::Connect { target, name, ty, unprivileged })
        }
        Some("bind") => {
            let a = Args::parse(args, &[], &[])?;
            let path = optional_path(&a.positional, "unix bind [PATH|@NAME] [as NAME]")?;
            Ok(UnixCommand::Bind { path, name: a.name })
        }
        Some("unlink") => match args {
            [path] => Ok(UnixCommand::Unlink { path: UnixSpec::parse(path)? }),
            _ => Err("usage: unix unlink PATH|SOCK".into()),
        },
        Some("chmod") => {
            let [path, mode] = args else {
                return Err("usage: unix chmod PATH|SOCK MODE, e.g. unix chmod srv 600".into());
            };
            let mode = u32::from_str_radix(mode, 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| format!("'{mode}' is not a mode: write octal permission bits, e.g. 600 or 0666"))?;
            Ok(UnixCommand::Chmod { path: UnixSpec::parse(path)?, mode })
        }
        Some("files") if args.is_empty() => Ok(UnixCommand::Files),
        Some("files") => Err("unix files takes no arguments".into()),
        _ => Err(UNIX_USAGE.into()),
    }
}

/// `socketpair [stream|dgram|seqpacket] [as A B]`
pub fn parse_socketpair(rest: &[String]) -> Result<UnixCommand, String> {
    let usage = "usage: socketpair [stream|dgram|seqpacket] [as A B], e.g. socketpair seqpacket as a b";
    let (ty, rest) = match rest.split_first() {
        Some((w, more)) if w != "as" => (UnixType::parse(w).ok_or_else(|| format!("socketpair {w}? {usage}"))?, more),
        _ => (UnixType::Stream, rest),
    };
    let names = match rest {
        [] => None,
        [as_, a, b] if as_ == "as" => {
            tokens::check_name(a)?;
            tokens::check_name(b)?;
            if a == b {
                return Err("the two ends need different names, e.g. as a b".into());
            }
            Some((a.clone(), b.clone()))
        }
        _ => return Err(usage.into()),
    };
    Ok(UnixCommand::Pair { ty, names })
}

fn stream_or_seqpacket(a: &Args) -> UnixType {
    if a.has("seqpacket") { UnixType::SeqPacket } else { UnixType::Stream }
}

fn optional_path(positional: &[String], usage: &str) -> Result<Option<UnixSpec>, String> {
    match positional {
        [] => Ok(None),
        [p] => UnixSpec::parse(p).map(Some),
        _ => Err(format!("usage: {usage}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<UnixCommand, String> {
        let words = tokens::split(line).unwrap();
        match words[0].as_str() {
            "socketpair" => parse_socketpair(&words[1..]),
            _ => parse_unix(&words[1..]),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse("unix listen @chat as srv --seqpacket").unwrap(),
            UnixCommand::Listen {
                path: Some(UnixSpec::Abstract("chat".into())),
                name: Some("srv".into()),
                ty: UnixType::SeqPacket
            }
        );
        assert_eq!(UnixSpec::parse("srv.sock").unwrap(), UnixSpec::Path("srv.sock".into()));
        assert_eq!(UnixSpec::parse("/run/x.sock").unwrap(), UnixSpec::Path("/run/x.sock".into()));
        assert_eq!(UnixSpec::parse("srv").unwrap(), UnixSpec::Word("srv".into()));
        assert!(UnixSpec::parse("a/b.sock").unwrap_err().contains("private directory"));
        assert_eq!(UnixSpec::parse("@").unwrap(), UnixSpec::Abstract(String::new()));
        assert_eq!(
            parse("unix chmod srv 0600").unwrap(),
            UnixCommand::Chmod { path: UnixSpec::Word("srv".into()), mode: 0o600 }
        );
        assert!(parse("unix chmod srv 999").unwrap_err().contains("octal"));
        assert_eq!(
            parse("socketpair dgram as a b").unwrap(),
            UnixCommand::Pair { ty: UnixType::Dgram, names: Some(("a".into(), "b".into())) }
        );
        assert_eq!(parse("socketpair").unwrap(), UnixCommand::Pair { ty: UnixType::Stream, names: None });
        assert!(parse("socketpair as a a").is_err());
        assert!(parse("socketpair raw").unwrap_err().contains("usage"));
        assert!(parse("unix frob").unwrap_err().contains("unix listen"));
    }
}
