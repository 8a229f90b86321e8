//! What one command did, as data: the result lessons' `expect` steps and
//! tests check, beside the events that showed it.

use super::errno;
use crate::event::CallResult;

/// What one command did, for `expect` checks and for tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The socket the command used or created.
    pub sock: Option<String>,
    /// The decisive system call's result (bind for `tcp listen`…).
    pub result: Option<CallResult>,
    /// Bytes received, or sent.
    pub bytes: Option<Vec<u8>>,
    /// A datagram's real size when a small buffer truncated it.
    pub real_len: Option<usize>,
    /// An option's value, or an integer decoded with `recv --as`.
    pub value: Option<String>,
    /// The command itself was wrong: nothing reached the kernel.
    pub usage_error: Option<String>,
}

impl Outcome {
    /// A call on `sock` that ended with `result`.
    pub fn of(sock: &str, result: CallResult) -> Outcome {
        Outcome { sock: Some(sock.to_string()), result: Some(result), ..Outcome::default() }
    }

    pub fn is_ok(&self) -> bool {
        self.usage_error.is_none() && self.result.as_ref().is_none_or(CallResult::is_ok)
    }

    pub fn errno(&self) -> Option<&str> {
        self.result.as_ref().and_then(errno::name)
    }
}
