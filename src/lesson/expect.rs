//! Checking a step's `expect` against what the command actually did.

use super::model::Expect;
use crate::event::CallResult;
use crate::lab::{Lab, Outcome};
use crate::render::hexdump::quote_text;
use crate::wire::kernel::TcpState;

/// `"00 00 03 e8"` or `"000003e8"` → bytes.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()).collect()
}

/// One `(held, explanation)` per key in `expect`.
pub fn check(expect: &Expect, outcome: &Outcome, lab: &Lab) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let bytes = outcome.bytes.as_deref();
    let shown =
        |b: Option<&[u8]>| b.map_or("nothing".to_string(), |b| format!("{} ({})", quote_text(b), plural(b.len())));
    if let Some(ok) = expect.ok {
        let held = outcome.is_ok() == ok;
        let got = match (outcome.errno(), &outcome.result) {
            (Some(e), _) => format!("failed with {e}"),
            _ if outcome.usage_error.is_some() => "was not a valid command".to_string(),
            (None, Some(CallResult::TimedOut { .. })) => "timed out".to_string(),
            _ if !outcome.is_ok() => "failed".to_string(),
            _ => "succeeded".to_string(),
        };
        out.push((
            held,
            if held {
                format!("the call {got}, as expected")
            } else {
                format!("expected the call to {} — it {got}", if ok { "succeed" } else { "fail" })
            },
        ));
    }
    if let Some(want) = &expect.error {
        let got = outcome.errno().unwrap_or("no error");
        out.push((got == want, format!("fails with {want} — got {got}")));
    }
    if let Some(want) = &expect.bytes {
        let held = bytes == Some(want.as_bytes());
        out.push((held, format!("bytes are {} — got {}", quote_text(want.as_bytes()), shown(bytes))));
    }
    if let Some(want) = &expect.hex {
        let want = parse_hex(want).unwrap_or_default();
        let held = bytes == Some(want.as_slice());
        let hex = |b: &[u8]| crate::render::hexdump::hex_compact(b);
        out.push((held, format!("bytes are {} — got {}", hex(&want), bytes.map_or("nothing".into(), hex))));
    }
    let len = bytes.map(<[u8]>::len);
    if let Some(want) = expect.len {
        out.push((len == Some(want), format!("{want} bytes — got {}", count(len))));
    }
    if let Some(min) = expect.min_len {
        out.push((len.is_some_and(|n| n >= min), format!("at least {min} bytes — got {}", count(len))));
    }
    if let Some(max) = expect.max_len {
        out.push((len.is_some_and(|n| n <= max), format!("at most {max} bytes — got {}", count(len))));
    }
    if let Some(want) = expect.truncated {
        let got = outcome.real_len.is_some();
        let what = if want { "is truncated" } else { "is whole" };
        out.push((got == want, format!("the datagram {what} — it was {}", if got { "truncated" } else { "whole" })));
    }
    if let Some(want) = expect.real_len {
        let got = outcome.real_len.or(len);
        out.push((got == Some(want), format!("the datagram was really {want} bytes — {}", count(got))));
    }
    if let Some(want) = &expect.state {
        let sock = expect.sock.as_deref().or(outcome.sock.as_deref()).unwrap_or("?");
        let want = TcpState::parse(want);
        let got = lab.kernel_entry(sock).and_then(|k| k.tcp_state());
        let name = |s: Option<TcpState>| s.map_or("no kernel entry".to_string(), |s| s.name().to_string());
        out.push((got.is_some() && got == want, format!("{sock} is {} — the kernel says {}", name(want), name(got))));
    }
    if let Some(want) = &expect.value {
        let got = outcome.value.as_deref();
        out.push((got == Some(want.as_str()), format!("value is {want} — got {}", got.unwrap_or("none"))));
    }
    out
}

fn plural(n: usize) -> String {
    if n == 1 { "1 byte".into() } else { format!("{n} bytes") }
}

fn count(n: Option<usize>) -> String {
    n.map_or("no bytes".into(), |n| format!("{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_without_errno_is_not_reported_as_success() {
        use crate::event::{CallResult, Recorder};
        let lab = Lab::new(Box::new(Recorder::new()));
        let refused = Outcome::of("conn", CallResult::Failed { why: "invalid frame".into() });
        let expect = Expect { ok: Some(false), ..Expect::default() };
        assert_eq!(check(&expect, &refused, &lab), vec![(true, "the call failed, as expected".to_string())]);
    }

    #[test]
    fn hex_forms() {
        assert_eq!(parse_hex("00 00 03 e8"), Some(vec![0, 0, 3, 0xe8]));
        assert_eq!(parse_hex("000003E8"), Some(vec![0, 0, 3, 0xe8]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("zz"), None);
    }
}
