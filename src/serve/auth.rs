//! auth: challenge–response before anything else. On connect the server
//! sends 32 random bytes; the client must answer HMAC(key, challenge) —
//! 32 bytes for SHA-256, 16 for `--digest md5` — within `--auth-timeout`.
//! A right answer turns the connection into echo (or `--then upper`); a
//! wrong one, or none in time, closes it with nothing sent back.
//!
//! The answer is collected across reads (TCP may split it anywhere), and
//! bytes that came after it in the same read go to the echo/upper handler:
//! a client that sends its MAC and its first message in one write loses
//! nothing.

use std::time::{Duration, Instant};

use super::config::{AfterAuth, Config, Digest};
use super::handler::{Ctx, Flow, Handler};
use crate::event::CallResult;
use crate::proto::challenge::{self, CHALLENGE_LEN};

/// What every auth connection shares: read once from the config.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub key: Vec<u8>,
    pub digest: Digest,
    pub then: AfterAuth,
    pub timeout: Duration,
}

impl AuthSettings {
    /// The settings, or the one line that says how to give a missing key.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let key = match config.key.as_deref() {
            None => {
                return Err("auth needs a shared key: give --key SECRET or set NETLAB_KEY=SECRET".into());
            }
            Some("") => return Err("--key is empty: give a shared secret, e.g. --key hunter2".into()),
            Some(k) => k.as_bytes().to_vec(),
        };
        if !(1..=600_000).contains(&config.auth_timeout) {
            return Err(format!("--auth-timeout {}: give 1..600000 milliseconds", config.auth_timeout));
        }
        Ok(AuthSettings { key, digest: config.digest, then: config.then, timeout: config.auth_timeout() })
    }
}

enum State {
    /// Challenge sent; the MAC's bytes so far.
    Waiting { challenge: [u8; CHALLENGE_LEN], answer: Vec<u8>, deadline: Instant },
    /// Authenticated: everything goes to the echo or upper handler.
    Open(Box<dyn Handler>),
    /// Refused, or the challenge could not be made: close at once.
    Closing,
}

pub struct Auth {
    ctx: Ctx,
    settings: AuthSettings,
    state: State,
}

impl Auth {
    pub fn new(ctx: Ctx, settings: AuthSettings) -> Self {
        // The real challenge is made in greet, when the client is there.
        let waiting = State::Waiting { challenge: [0; CHALLENGE_LEN], answer: Vec::new(), deadline: Instant::now() };
        Auth { ctx, settings, state: waiting }
    }

    /// Log why, send nothing, close: a failed client learns nothing more.
    fn refuse(&mut self, why: String) -> Flow {
        self.ctx.note(&format!("auth failed: {why}"), CallResult::Failed { why: "closing the connection".into() });
        self.state = State::Closing;
        Flow::Close
    }

    fn after_auth(then: AfterAuth) -> Box<dyn Handler> {
        match then {
            AfterAuth::Echo => Box::new(super::echo::Echo),
            AfterAuth::Upper => Box::new(super::upper::Upper),
        }
    }

    fn then_name(&self) -> &'static str {
        match self.settings.then {
            AfterAuth::Echo => "echo",
            AfterAuth::Upper => "upper",
        }
    }
}

impl Handler for Auth {
    fn greet(&mut self, out: &mut Vec<u8>) -> Flow {
        if matches!(self.state, State::Closing) {
            return Flow::Close;
        }
        let challenge = match challenge::random_challenge() {
            Ok(c) => c,
            Err(e) => {
                self.ctx.note("getrandom", CallResult::Failed { why: format!("{e}: closing the connection") });
                self.state = State::Closing;
                return Flow::Close;
            }
        };
        out.extend_from_slice(&challenge);
        let ms = self.settings.timeout.as_millis();
        let (label, len) = (self.settings.digest.label(), self.settings.digest.mac_len());
        self.ctx.note(
            "challenge sent",
            CallResult::ok(format!(
                "{CHALLENGE_LEN} random bytes {}; want {label}(key, challenge), {len} bytes, within {ms} ms",
                challenge::hex(&challenge)
            )),
        );
        let deadline = Instant::now() + self.settings.timeout;
        self.state = State::Waiting { challenge, answer: Vec::with_capacity(len), deadline };
        Flow::Continue
    }

    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        let want = self.settings.digest.mac_len();
        let rest = match &mut self.state {
            State::Open(inner) => return inner.on_bytes(input, out),
            State::Closing => return Flow::Close,
            State::Waiting { challenge, answer, .. } => {
                let take = (want - answer.len()).min(input.len());
                answer.extend_from_slice(&input[..take]);
                if answer.len() < want {
                    return Flow::Continue;
                }
                if !challenge::verify(&self.settings.key, self.settings.digest, challenge, answer) {
                    return self.refuse("wrong MAC".into());
                }
                &input[take..]
            }
        };
        let then = self.then_name();
        self.ctx.note("auth ok", CallResult::ok(format!("the MAC matches; the connection is now {then}")));
        let mut inner = Self::after_auth(self.settings.then);
        let flow = if rest.is_empty() { Flow::Continue } else { inner.on_bytes(rest, out) };
        self.state = State::Open(inner);
        flow
    }

    fn on_eof(&mut self, out: &mut Vec<u8>) -> Flow {
        match &mut self.state {
            State::Open(inner) => inner.on_eof(out),
            State::Closing => Flow::Close,
            State::Waiting { answer, .. } => {
                let got = answer.len();
                let want = self.settings.digest.mac_len();
                self.refuse(format!("the client closed after {got} of {want} MAC bytes"))
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Waiting { deadline, .. } => Some(*deadline),
            State::Open(inner) => inner.deadline(),
            // Refused: the Flow::Close that said so already ends the connection.
            State::Closing => None,
        }
    }

    fn on_deadline(&mut self, out: &mut Vec<u8>) -> Flow {
        match &mut self.state {
            State::Open(inner) => inner.on_deadline(out),
            State::Closing => Flow::Close,
            State::Waiting { answer, .. } => {
                let ms = self.settings.timeout.as_millis();
                let (got, want) = (answer.len(), self.settings.digest.mac_len());
                let partial = if got == 0 { String::new() } else { format!(" ({got} of {want} bytes)") };
                self.refuse(format!("no answer within {ms} ms{partial}"))
            }
        }
    }

    fn has_more(&self) -> bool {
        matches!(&self.state, State::Open(inner) if inner.has_more())
    }

    fn on_room(&mut self, out: &mut Vec<u8>) -> Flow {
        match &mut self.state {
            State::Open(inner) => inner.on_room(out),
            _ => Flow::Continue,
        }
    }

    fn wants_input(&self) -> bool {
        match &self.state {
            State::Open(inner) => inner.wants_input(),
            _ => true,
        }
    }

    fn mailbox(&self) -> Option<std::sync::Arc<super::mailbox::Mailbox>> {
        match &self.state {
            State::Open(inner) => inner.mailbox(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::event::{Event, Sink};
    use crate::serve::Log;
    use crate::serve::config::Proto;

    /// A log that keeps every line, to assert on what the server said.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<String>>>);

    impl Sink for Lines {
        fn emit(&mut self, e: &Event) {
            if let Event::Call { call, result, .. } = e {
                self.0.lock().unwrap().push(format!("{call} → {result:?}"));
            }
        }
    }

    impl Lines {
        fn all(&self) -> String {
            self.0.lock().unwrap().join("\n")
        }
    }

    fn auth(digest: Digest, then: AfterAuth) -> (Auth, Lines) {
        let lines = Lines::default();
        let ctx =
            Ctx { name: "conn#1".into(), peer: ([127, 0, 0, 1], 40000).into(), log: Log::new(Box::new(lines.clone())) };
        let settings = AuthSettings { key: b"k3y".to_vec(), digest, then, timeout: Duration::from_millis(5000) };
        (Auth::new(ctx, settings), lines)
    }

    /// Greet, then return the challenge it sent.
    fn challenge_of(a: &mut Auth) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(a.greet(&mut out), Flow::Continue);
        assert_eq!(out.len(), CHALLENGE_LEN);
        out
    }

    /// Feed `input` in chunks of `size`; the replies and the last flow.
    fn feed(a: &mut Auth, input: &[u8], size: usize) -> (Vec<u8>, Flow) {
        let mut out = Vec::new();
        let mut flow = Flow::Continue;
        for chunk in input.chunks(size.max(1)) {
            flow = a.on_bytes(chunk, &mut out);
            if flow == Flow::Close {
                break;
            }
        }
        (out, flow)
    }

    #[test]
    fn the_right_mac_opens_an_echo_connection_at_every_split() {
        let msg = b"hello after auth\n";
        for size in 1..=50 {
            let (mut a, lines) = auth(Digest::Sha256, AfterAuth::Echo);
            let c = challenge_of(&mut a);
            let mut input = challenge::mac(b"k3y", Digest::Sha256, &c);
            input.extend_from_slice(msg);
            let (out, flow) = feed(&mut a, &input, size);
            assert_eq!((out.as_slice(), flow), (&msg[..], Flow::Continue), "chunks of {size}");
            assert!(lines.all().contains("auth ok"), "{}", lines.all());
        }
    }

    #[test]
    fn bytes_after_the_mac_in_the_same_read_reach_upper() {
        let (mut a, _) = auth(Digest::Sha256, AfterAuth::Upper);
        let c = challenge_of(&mut a);
        let mut input = challenge::mac(b"k3y", Digest::Sha256, &c);
        input.extend_from_slice(b"shout");
        let mut out = Vec::new();
        assert_eq!(a.on_bytes(&input, &mut out), Flow::Continue);
        assert_eq!(out, b"SHOUT");
        assert_eq!(a.on_eof(&mut out), Flow::Close);
        assert_eq!(a.deadline(), None, "after auth, no timeout applies");
    }

    #[test]
    fn a_wrong_mac_closes_with_nothing_sent() {
        let (mut a, lines) = auth(Digest::Sha256, AfterAuth::Echo);
        let c = challenge_of(&mut a);
        let wrong = challenge::mac(b"not the key", Digest::Sha256, &c);
        let (out, flow) = feed(&mut a, &[&wrong[..], b"echo me"].concat(), 7);
        assert_eq!((out, flow), (Vec::new(), Flow::Close));
        assert!(lines.all().contains("auth failed: wrong MAC"), "{}", lines.all());
        assert!(!lines.all().contains("auth ok"));
    }

    #[test]
    fn md5_wants_16_bytes_as_old_python_sent() {
        let (mut a, lines) = auth(Digest::Md5, AfterAuth::Echo);
        let c = challenge_of(&mut a);
        let answer = challenge::mac(b"k3y", Digest::Md5, &c);
        assert_eq!(answer.len(), 16);
        let (out, flow) = feed(&mut a, &[&answer[..], b"x"].concat(), 3);
        assert_eq!((out.as_slice(), flow), (&b"x"[..], Flow::Continue));
        assert!(lines.all().contains("HMAC-MD5"), "{}", lines.all());
        // A SHA-256 answer to an md5 server: its first 16 bytes are wrong.
        let (mut b, _) = auth(Digest::Md5, AfterAuth::Echo);
        let c = challenge_of(&mut b);
        assert_eq!(feed(&mut b, &challenge::mac(b"k3y", Digest::Sha256, &c), 32).1, Flow::Close);
    }

    #[test]
    fn no_answer_in_time_closes_at_the_deadline() {
        let (mut a, lines) = auth(Digest::Sha256, AfterAuth::Echo);
        let before = Instant::now();
        let c = challenge_of(&mut a);
        let deadline = a.deadline().unwrap();
        assert!(
            deadline >= before + Duration::from_millis(5000)
                && deadline <= Instant::now() + Duration::from_millis(5000)
        );
        // Half an answer does not move the deadline.
        let half = &challenge::mac(b"k3y", Digest::Sha256, &c)[..10];
        assert_eq!(feed(&mut a, half, 10).1, Flow::Continue);
        assert_eq!(a.deadline(), Some(deadline));
        let mut out = Vec::new();
        assert_eq!(a.on_deadline(&mut out), Flow::Close);
        assert!(out.is_empty());
        assert!(lines.all().contains("auth failed: no answer within 5000 ms (10 of 32 bytes)"), "{}", lines.all());
    }

    #[test]
    fn eof_before_the_answer_is_logged() {
        let (mut a, lines) = auth(Digest::Sha256, AfterAuth::Echo);
        challenge_of(&mut a);
        assert_eq!(a.on_eof(&mut Vec::new()), Flow::Close);
        assert!(lines.all().contains("closed after 0 of 32"), "{}", lines.all());
    }

    #[test]
    fn each_connection_gets_a_new_challenge_so_a_replay_fails() {
        let (mut first, _) = auth(Digest::Sha256, AfterAuth::Echo);
        let c1 = challenge_of(&mut first);
        let captured = challenge::mac(b"k3y", Digest::Sha256, &c1);
        assert_eq!(feed(&mut first, &captured, 32).1, Flow::Continue);
        let (mut second, lines) = auth(Digest::Sha256, AfterAuth::Echo);
        let c2 = challenge_of(&mut second);
        assert_ne!(c1, c2);
        assert_eq!(feed(&mut second, &captured, 32).1, Flow::Close);
        assert!(lines.all().contains("wrong MAC"));
    }

    #[test]
    fn settings_need_a_key() {
        let mut config = Config::new(Proto::Auth, crate::serve::Model::Thread);
        let err = AuthSettings::from_config(&config).unwrap_err();
        assert!(err.contains("--key") && err.contains("NETLAB_KEY"), "{err}");
        config.key = Some(String::new());
        assert!(AuthSettings::from_config(&config).unwrap_err().contains("empty"));
        config.key = Some("s".into());
        config.auth_timeout = 0;
        assert!(AuthSettings::from_config(&config).unwrap_err().contains("1..600000"));
        config.auth_timeout = 250;
        let s = AuthSettings::from_config(&config).unwrap();
        assert_eq!((s.key.as_slice(), s.timeout), (&b"s"[..], Duration::from_millis(250)));
    }
}
