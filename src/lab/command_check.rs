//! Parsing `check PROTO SERVER|ADDR [options]` and `check PROTO --
//! COMMAND…`: the options are `netlab check`'s own, read by the same clap
//! definition, so the playground accepts exactly what the command line does.

use clap::Parser;

use super::command::Command;
use crate::check::CheckArgs;

pub const CHECK_USAGE: &str = "check PROTO SERVER|ADDR [--only NAME,…] [--timeout MS] [--verbose] [--udp] [--native-endian] [--key K] [--digest sha256|md5] [--then echo|upper] [--auth-timeout MS] | check PROTO -- COMMAND… | check --list [PROTO]";

/// The arguments for `netlab check`, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub args: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
pub struct CheckLine {
    #[command(flatten)]
    pub args: CheckArgs,
}

/// The typed arguments; the error is one line and the usage.
pub fn check_args(words: &[String]) -> Result<CheckArgs, String> {
    CheckLine::try_parse_from(words).map(|l| l.args).map_err(|e| {
        // clap explains in several lines; the first says what was wrong.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("bad check options").trim_start_matches("error: ").to_string();
        format!("{first}; usage: {CHECK_USAGE}")
    })
}

pub fn parse_check(rest: &[String]) -> Result<Command, String> {
    if rest.is_empty() {
        return Err(format!("check what? usage: {CHECK_USAGE}"));
    }
    if let Some(flag) = rest.iter().take_while(|a| *a != "--").find(|a| a.starts_with("--format")) {
        return Err(format!(
            "{flag}: the playground shows checks as text (netlab check --format json on the command line)"
        ));
    }
    check_args(rest)?;
    Ok(Command::Check(CheckSpec { args: rest.to_vec() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn a_server_name_an_address_or_a_command_is_a_target() {
        for line in ["echo srv", "upper 127.0.0.1:5000 --only coalesced", "echo -- python3 my_echo.py {port}", "--list"]
        {
            assert!(matches!(parse_check(&words(line)), Ok(Command::Check(_))), "{line}");
        }
    }

    #[test]
    fn bad_lines_say_what_was_wrong_with_the_usage() {
        for bad in ["", "telnet srv", "echo", "echo srv --timeout soon"] {
            let e = parse_check(&words(bad)).unwrap_err();
            assert!(e.contains("usage: check PROTO"), "{bad}: {e}");
        }
        let e = parse_check(&words("echo srv --format json")).unwrap_err();
        assert!(e.contains("--format") && e.contains("on the command line"), "{e}");
    }
}
