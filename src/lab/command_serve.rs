//! Parsing `serve PROTO [options] [as NAME]` and `procs NAME`: the options
//! are `netlab serve`'s own, checked by the same clap definition, so the
//! playground accepts exactly what the command line does.

use clap::Parser;

use super::command::Command;
use super::tokens::{self, Args};
use crate::serve::Config;

pub const SERVE_USAGE: &str = "serve PROTO [--model M] [--workers N] [--max-conns N] [--native-endian] [--key K] [--digest sha256|md5] [--then echo|upper] [--auth-timeout MS] [--root DIR] [--no-reap] [--edge] [--udp] [as NAME]";

/// What to start: the arguments for `netlab serve`, and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSpec {
    pub args: Vec<String>,
    pub name: Option<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct ServeLine {
    #[command(flatten)]
    config: Config,
}

pub fn parse_serve(rest: &[String]) -> Result<Command, String> {
    // `as NAME` is the playground's; everything else goes to `netlab serve`.
    let mut args = Vec::new();
    let mut name = None;
    let mut words = rest.iter();
    while let Some(w) = words.next() {
        if w == "as" {
            let n = words.next().ok_or("`as` needs a name after it, e.g. `as srv`")?;
            tokens::check_name(n)?;
            name = Some(n.clone());
        } else {
            args.push(w.clone());
        }
    }
    if args.is_empty() {
        return Err(format!("serve what? usage: {SERVE_USAGE}"));
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with("--addr") || a.starts_with("--format")) {
        return Err(format!("{flag}: the playground's servers always listen on 127.0.0.1:0 and log as text"));
    }
    if let Err(e) = ServeLine::try_parse_from(&args) {
        // clap explains in several lines; the first says what was wrong.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("bad serve options").trim_start_matches("error: ");
        return Err(format!("{first}; usage: {SERVE_USAGE}"));
    }
    Ok(Command::Serve(ServeSpec { args, name }))
}

pub fn parse_procs(rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, &[], &[])?;
    match a.positional.as_slice() {
        [server] if a.name.is_none() => tokens::check_name(server).map(|()| Command::Procs { server: server.clone() }),
        _ => Err("usage: procs SERVER (a server started with serve)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_pass_through_and_the_name_stays() {
        let Ok(Command::Serve(spec)) = parse_serve(&words("echo --model fork --no-reap as srv")) else { panic!() };
        assert_eq!(spec.args, words("echo --model fork --no-reap"));
        assert_eq!(spec.name.as_deref(), Some("srv"));
    }

    #[test]
    fn bad_options_get_one_line() {
        for bad in ["", "gopher", "echo --model threads", "echo --addr 0.0.0.0:80", "echo --workers x", "echo as"] {
            let e = parse_serve(&words(bad)).unwrap_err();
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
        assert!(parse_serve(&words("echo --model threads")).unwrap_err().contains("threads"));
    }
}
