//! The only things the cmd server can do: a fixed allowlist of built-ins,
//! each a few lines of Rust. No shell parses the request and no program is
//! started, so there is nothing to inject into: `ls; rm -rf /` is not "ls,
//! then something else", it is a request this list does not contain.
//!
//! The classic tutorial server does `subprocess.Popen(cmd, shell=True)` on
//! whatever arrived: anyone who can connect runs any program as the
//! server's user. [`shell_syntax`] spots requests that only make sense to
//! a shell, so the server can say so — and log what such a server would
//! have run.

use crate::proto::json_header::DEFAULT_MAX_BODY;

/// `big N` stops here: the default body cap of a JSON-header reader (16
/// MiB), so every reply fits the framing a client reads it with.
pub const MAX_BIG: usize = DEFAULT_MAX_BODY;

/// What `big N` sends, 64 bytes at a time: visible text, one line each.
pub const BIG_PATTERN: &[u8; 64] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";

/// The names `ls` shows. A fixed list, not a real directory: listing one
/// would show the server's files to anyone who connects, and taking a path
/// argument is how "list this directory" becomes "list /etc".
pub const SANDBOX: [&str; 3] = ["hello.txt", "notes.md", "report.csv"];

/// Every built-in, with its one-line usage, as `help` prints them.
pub const BUILTINS: [(&str, &str); 5] = [
    ("date", "the server's local date and time"),
    ("echo TEXT…", "TEXT back, its words joined by single spaces"),
    ("big N", "N bytes of text (at most 16 MiB): a reply that arrives in many recv()s"),
    ("ls [NAME]", "the sandbox's names (a fixed list; no path ever leaves it)"),
    ("help", "this list"),
];

/// Characters and sequences that mean something to `/bin/sh` and nothing
/// to this server, with what a shell would do with them.
const SHELL_SYNTAX: [(&str, &str); 9] = [
    ("$(", "command substitution"),
    ("`", "command substitution"),
    ("&&", "run the next command if this one succeeds"),
    ("||", "run the next command if this one fails"),
    (";", "a command separator"),
    ("|", "a pipe into another program"),
    ("&", "run in the background"),
    (">", "a redirection to a file"),
    ("<", "a redirection from a file"),
];

/// The first piece of shell syntax in `line`, and what a shell makes of it.
pub fn shell_syntax(line: &str) -> Option<(&'static str, &'static str)> {
    SHELL_SYNTAX.iter().copied().find(|(token, _)| line.contains(token))
}

/// What a built-in answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Bytes(Vec<u8>),
    /// `big N`: N bytes of [`BIG_PATTERN`], made as they are sent
    /// ([`big_into`]) — 13 bytes of request must not cost 16 MiB of memory.
    Big(usize),
}

impl Output {
    pub fn len(&self) -> usize {
        match self {
            Output::Bytes(b) => b.len(),
            Output::Big(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All of it, in memory: for tests and short outputs.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Output::Bytes(b) => b,
            Output::Big(n) => big(n),
        }
    }
}

/// Runs one request (already checked to be UTF-8 text with no shell
/// syntax). `Ok`: the output; `Err`: a message for an error reply.
pub fn run(line: &str, unix_secs: i64) -> Result<Output, String> {
    let mut words = line.split_ascii_whitespace();
    let Some(name) = words.next() else {
        return Err("an empty command: send a command line, e.g. `date` (try `help`)".into());
    };
    let args: Vec<&str> = words.collect();
    let bytes = match name {
        "date" => date(&args, unix_secs),
        "echo" => Ok(format!("{}\n", args.join(" ")).into_bytes()),
        "big" => return big_command(&args).map(Output::Big),
        "ls" => ls(&args),
        "help" => Ok(help().into_bytes()),
        other => Err(unknown(other)),
    };
    bytes.map(Output::Bytes)
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = BUILTINS.iter().map(|(usage, _)| usage.split(' ').next().unwrap_or(usage)).collect();
    let what = if name.contains('/') { "a path" } else { "not a built-in" };
    format!(
        "unknown command '{name}' ({what}): this server runs only its own built-ins ({}), never a program — try help",
        names.join(", ")
    )
}

fn no_args(name: &str, args: &[&str]) -> Result<(), String> {
    match args.first() {
        None => Ok(()),
        Some(_) => Err(format!("{name} takes no arguments here (try help)")),
    }
}

fn date(args: &[&str], unix_secs: i64) -> Result<Vec<u8>, String> {
    no_args("date", args)?;
    // The layout of date(1) in the C locale: `Mon Nov 23 16:40:01 CET 2026`.
    let text = crate::proto::time::format_local("%a %b %e %H:%M:%S %Z %Y", unix_secs).map_err(|e| e.to_string())?;
    Ok(format!("{text}\n").into_bytes())
}

fn big_command(args: &[&str]) -> Result<usize, String> {
    let usage = "usage: big N, N a byte count, e.g. big 1000000";
    let [n] = args else { return Err(usage.into()) };
    let n: usize = n.parse().map_err(|_| format!("big: '{n}' is not a byte count; {usage}"))?;
    if n > MAX_BIG {
        return Err(format!("big: {n} bytes is over the {MAX_BIG}-byte limit"));
    }
    Ok(n)
}

/// `n` bytes of [`BIG_PATTERN`], repeated.
pub fn big(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    big_into(&mut out, 0, n);
    out
}

/// Append bytes `from .. from + n` of `big`'s endless [`BIG_PATTERN`]:
/// a `big` reply made a piece at a time is the same bytes as [`big`].
pub fn big_into(out: &mut Vec<u8>, from: usize, n: usize) {
    let p = BIG_PATTERN.len();
    let mut at = from % p;
    let mut left = n;
    while left > 0 {
        let take = (p - at).min(left);
        out.extend_from_slice(&BIG_PATTERN[at..at + take]);
        left -= take;
        at = 0;
    }
}

fn ls(args: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    if args.is_empty() {
        for name in SANDBOX {
            out.push_str(name);
            out.push('\n');
        }
        return Ok(out.into_bytes());
    }
    for arg in args {
        if arg.contains('/') || arg.starts_with('.') || arg.starts_with('~') {
            return Err(format!(
                "ls: '{arg}' is a path; the sandbox is one flat list of names and no path leaves it (try ls)"
            ));
        }
        if !SANDBOX.contains(arg) {
            return Err(format!("ls: no '{arg}' in the sandbox (try ls)"));
        }
        out.push_str(arg);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

fn help() -> String {
    let mut out = String::from("built-in commands (no shell, no programs):\n");
    for (usage, what) in BUILTINS {
        out.push_str(&format!("  {usage:<12} {what}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> String {
        String::from_utf8(run(line, 1_000_000_000).unwrap_or_else(|e| panic!("{line}: {e}")).into_bytes()).unwrap()
    }

    fn err(line: &str) -> String {
        run(line, 1_000_000_000).expect_err(line)
    }

    #[test]
    fn each_builtin_answers() {
        assert!(ok("date").ends_with("2001\n"), "{}", ok("date"));
        assert_eq!(ok("echo  hello   world "), "hello world\n");
        assert_eq!(ok("echo"), "\n");
        assert_eq!(ok("ls"), "hello.txt\nnotes.md\nreport.csv\n");
        assert_eq!(ok("ls notes.md"), "notes.md\n");
        assert!(ok("help").contains("big N"));
        assert_eq!(ok("big 0"), "");
        assert_eq!(ok("big 70").as_bytes(), [&BIG_PATTERN[..], &BIG_PATTERN[..6]].concat());
        assert_eq!(run(&format!("big {MAX_BIG}"), 0).unwrap(), Output::Big(MAX_BIG), "made as it is sent");
    }

    #[test]
    fn big_made_in_pieces_is_big_made_whole() {
        let whole = big(1000);
        for piece in [1, 7, 63, 64, 65, 999] {
            let mut out = Vec::new();
            let mut from = 0;
            while from < whole.len() {
                let n = piece.min(whole.len() - from);
                big_into(&mut out, from, n);
                from += n;
            }
            assert_eq!(out, whole, "pieces of {piece}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert!(err("cat /etc/passwd").contains("unknown command 'cat'"));
        assert!(err("/bin/ls").contains("(a path)"));
        assert!(err("rm -rf /").contains("never a program"));
        assert!(err("DATE").contains("unknown command"));
        assert!(err("   ").contains("empty command"));
        assert!(err("date -u").contains("no arguments"));
        assert!(err(&format!("big {}", MAX_BIG + 1)).contains("limit"));
        assert!(err("big lots").contains("not a byte count"));
        assert!(err("big -1").contains("not a byte count"));
        assert!(err("big").contains("usage"));
        for path in ["/etc", "../..", "..", ".", "~", "a/b", "./notes.md", "/"] {
            assert!(err(&format!("ls {path}")).contains("is a path"), "{path}");
        }
        assert!(err("ls passwd").contains("no 'passwd'"));
    }

    #[test]
    fn shell_syntax_is_recognised() {
        for line in ["ls; rm -rf /", "echo $(id)", "echo `id`", "date && reboot", "ls | nc x 1", "ls > f", "sleep 9 &"]
        {
            assert!(shell_syntax(line).is_some(), "{line}");
        }
        assert_eq!(shell_syntax("echo $(id)").map(|s| s.1), Some("command substitution"));
        for line in ["date", "echo hello, world!", "big 1000000", "ls notes.md"] {
            assert_eq!(shell_syntax(line), None, "{line}");
        }
    }
}
