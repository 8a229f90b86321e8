//! `hmac SOCK KEY [--digest sha256|md5]`: the client's half of the auth
//! server's challenge–response, one visible step at a time — read the
//! 32-byte challenge, compute HMAC(KEY, challenge), send it — so a learner
//! sees the challenge and the MAC, not just "it worked".
//!
//! `hmac SOCK --replay` plays the eavesdropper: it reads the new challenge
//! and sends the answer the previous `hmac` sent, unchanged, as someone
//! who recorded the traffic but has no key would.

use std::time::Duration;

use super::command::{Command, WaitFor};
use super::payload::Payload;
use super::tokens::{self, Args};
use super::{Lab, Outcome};
use crate::event::CallResult;
use crate::proto::challenge::{self, CHALLENGE_LEN};
use crate::serve::config::Digest;

pub const HMAC_USAGE: &str = "hmac SOCK KEY [--digest sha256|md5] [--timeout MS]  or  hmac SOCK --replay";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HmacAnswer {
    /// Compute HMAC(key, challenge) with this digest.
    Key { key: Vec<u8>, digest: Digest },
    /// Send the previous answer again, whatever the challenge.
    Replay,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacSpec {
    pub sock: String,
    pub answer: HmacAnswer,
    pub timeout: Option<Duration>,
}

/// The last answer sent, and the challenge it answered: what an
/// eavesdropper could have recorded.
#[derive(Debug, Clone)]
pub struct Captured {
    challenge: Vec<u8>,
    mac: Vec<u8>,
}

pub fn parse(rest: &[String]) -> Result<Command, String> {
    let a = Args::parse(rest, &["digest", "timeout"], &["replay"])?;
    if a.name.is_some() {
        return Err("hmac makes no socket, so it takes no `as NAME`".into());
    }
    let timeout = super::command::timeout(&a)?;
    let answer = match (a.positional.as_slice(), a.has("replay")) {
        ([_], true) if a.value("digest").is_none() => HmacAnswer::Replay,
        ([_], true) => return Err("--replay resends the previous answer as it was: it takes no --digest".into()),
        ([_, key], false) => {
            let key =
                if key.starts_with(['"', '\'']) { super::payload::unquote(key)? } else { key.as_bytes().to_vec() };
            if key.is_empty() {
                return Err("the key is empty: give the server's key, e.g. hmac cli k3y".into());
            }
            let digest = a.value("digest").map_or(Ok(Digest::Sha256), Digest::parse)?;
            HmacAnswer::Key { key, digest }
        }
        _ => return Err(format!("usage: {HMAC_USAGE}")),
    };
    let sock = a.positional[0].clone();
    tokens::check_name(&sock)?;
    Ok(Command::Hmac(HmacSpec { sock, answer, timeout }))
}

impl Lab {
    pub(super) fn hmac(&mut self, spec: &HmacSpec) -> Result<Outcome, String> {
        let sock = spec.sock.as_str();
        // A replay with nothing recorded is a usage error: check before reading.
        let replayed = match (&spec.answer, &self.hmac_sent) {
            (HmacAnswer::Replay, None) => {
                return Err("nothing to replay yet: answer a challenge with hmac SOCK KEY first".into());
            }
            (HmacAnswer::Replay, Some(c)) => Some(c.clone()),
            (HmacAnswer::Key { .. }, _) => None,
        };
        let waited = self.wait(sock, &WaitFor::Readable(CHALLENGE_LEN), spec.timeout)?;
        if !waited.is_ok() {
            return Ok(waited);
        }
        let got = self.recv(sock, CHALLENGE_LEN, false, spec.timeout, None)?;
        let challenge = match got.bytes {
            Some(b) if got.is_ok() && b.len() == CHALLENGE_LEN => b,
            _ => return Ok(got),
        };
        let mac = match (&spec.answer, replayed) {
            (HmacAnswer::Key { key, digest }, _) => {
                let mac = challenge::mac(key, *digest, &challenge);
                let shown_key = crate::render::hexdump::quote_text(key);
                let python = match digest {
                    Digest::Sha256 => "hashlib.sha256",
                    Digest::Md5 => "hashlib.md5",
                };
                let detail = format!(
                    "{} bytes {}  (Python: hmac.new(key, challenge, {python}).digest())",
                    mac.len(),
                    challenge::hex(&mac)
                );
                self.call(sock, format!("{}(key {shown_key}, challenge)", digest.label()), CallResult::ok(detail));
                mac
            }
            (HmacAnswer::Replay, Some(old)) => {
                let detail = format!(
                    "the recorded answer {} — made for challenge {}, not this one {}; without the key nothing better can be sent",
                    challenge::hex(&old.mac),
                    short(&old.challenge),
                    short(&challenge)
                );
                self.call(sock, "replay the captured answer", CallResult::ok(detail));
                old.mac
            }
            (HmacAnswer::Replay, None) => return Err("nothing to replay".into()),
        };
        self.hmac_sent = Some(Captured { challenge: challenge.clone(), mac: mac.clone() });
        let payload = Payload::parse(&[format!("hex:{}", challenge::hex(&mac))])?;
        let mut sent = self.send(sock, &payload, spec.timeout)?;
        // For `expect`: the MAC's hex is the value; the bytes are the MAC.
        sent.value = Some(challenge::hex(&mac));
        Ok(sent)
    }
}

/// The first bytes of a challenge, enough to tell two apart by eye.
fn short(bytes: &[u8]) -> String {
    format!("{}…", challenge::hex(&bytes[..bytes.len().min(6)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<HmacSpec, String> {
        let words = tokens::split(line)?;
        match parse(&words)? {
            Command::Hmac(spec) => Ok(spec),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn key_digest_and_replay_parse() {
        let s = parsed("cli k3y").unwrap();
        assert_eq!(s.answer, HmacAnswer::Key { key: b"k3y".to_vec(), digest: Digest::Sha256 });
        let s = parsed("cli \"two words\" --digest md5 --timeout 500").unwrap();
        assert_eq!(s.answer, HmacAnswer::Key { key: b"two words".to_vec(), digest: Digest::Md5 });
        assert_eq!(s.timeout, Some(Duration::from_millis(500)));
        assert_eq!(parsed("cli --replay").unwrap().answer, HmacAnswer::Replay);
    }

    #[test]
    fn mistakes_get_one_line_saying_what_to_do() {
        for (line, says) in [
            ("cli", "usage: hmac SOCK KEY"),
            ("cli k3y extra", "usage"),
            ("cli k3y --digest sha1", "sha256"),
            ("cli --replay --digest md5", "takes no --digest"),
            ("cli k3y --replay", "usage"),
            ("cli ''", "the key is empty"),
            ("cli k3y as x", "no `as NAME`"),
        ] {
            let e = parsed(line).unwrap_err();
            assert!(e.contains(says) && !e.contains('\n'), "{line}: {e}");
        }
    }
}
