//! Challenge–response authentication, the math half: the server sends
//! [`CHALLENGE_LEN`] random bytes, the client proves it knows the shared
//! key by answering HMAC(key, challenge), and the server checks the answer
//! in constant time. The key itself never crosses the wire, and a captured
//! answer is useless against the next connection, whose challenge differs.
//!
//! The auth server (`serve::auth`), the playground's `hmac` command and
//! the `auth` demo all compute MACs here, so they cannot disagree.

use hmac::{Hmac, Mac};

use crate::serve::config::Digest;

/// Bytes in a challenge: 256 bits, so a repeat is never going to happen.
pub const CHALLENGE_LEN: usize = 32;

impl Digest {
    /// Bytes in an HMAC made with this digest: what the server waits for.
    pub fn mac_len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Md5 => 16,
        }
    }

    /// `HMAC-SHA256`, as log lines and the REPL show it.
    pub fn label(self) -> &'static str {
        match self {
            Digest::Sha256 => "HMAC-SHA256",
            Digest::Md5 => "HMAC-MD5",
        }
    }

    pub fn parse(name: &str) -> Result<Digest, String> {
        match name {
            "sha256" => Ok(Digest::Sha256),
            "md5" => Ok(Digest::Md5),
            _ => Err(format!("--digest {name}? use sha256 (the default) or md5 (old Python's hmac.new(key, msg))")),
        }
    }
}

/// HMAC(key, message): the answer a client sends.
pub fn mac(key: &[u8], digest: Digest, message: &[u8]) -> Vec<u8> {
    match digest {
        Digest::Sha256 => compute::<Hmac<sha2::Sha256>>(key, message),
        Digest::Md5 => compute::<Hmac<md5::Md5>>(key, message),
    }
}

fn compute<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length (RFC 2104 hashes long ones), so this
    // never fails; if it did, an empty MAC matches nothing.
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else { return Vec::new() };
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// Whether `answer` is HMAC(key, challenge), compared in constant time.
///
/// `expected == answer` would stop at the first differing byte, so the
/// time it takes tells an attacker how many leading bytes were right; with
/// enough tries they learn the MAC a byte at a time. `verify_slice` looks
/// at every byte whatever they hold.
pub fn verify(key: &[u8], digest: Digest, challenge: &[u8], answer: &[u8]) -> bool {
    match digest {
        Digest::Sha256 => check::<Hmac<sha2::Sha256>>(key, challenge, answer),
        Digest::Md5 => check::<Hmac<md5::Md5>>(key, challenge, answer),
    }
}

fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], challenge: &[u8], answer: &[u8]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else { return false };
    m.update(challenge);
    m.verify_slice(answer).is_ok()
}

/// A fresh challenge from the kernel's random number generator.
pub fn random_challenge() -> std::io::Result<[u8; CHALLENGE_LEN]> {
    let mut buf = [0u8; CHALLENGE_LEN];
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is valid and writable for `rest.len()` bytes, and
        // getrandom writes at most that many.
        let n = unsafe { nix::libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            Err(_) => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(buf)
}

/// Challenges and MACs are shown in hex.
pub use super::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_and_rfc_2202_vectors() {
        // RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-MD5).
        let sha = mac(b"Jefe", Digest::Sha256, b"what do ya want for nothing?");
        assert_eq!(hex(&sha), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let md5 = mac(b"Jefe", Digest::Md5, b"what do ya want for nothing?");
        assert_eq!(hex(&md5), "750c783e6ab0b503eaa86e310a5db738");
        assert_eq!((sha.len(), md5.len()), (Digest::Sha256.mac_len(), Digest::Md5.mac_len()));
    }

    #[test]
    fn verify_accepts_only_the_right_answer() {
        let challenge = [7u8; CHALLENGE_LEN];
        for digest in [Digest::Sha256, Digest::Md5] {
            let good = mac(b"k", digest, &challenge);
            assert!(verify(b"k", digest, &challenge, &good));
            assert!(!verify(b"other", digest, &challenge, &good), "wrong key");
            assert!(!verify(b"k", digest, &[8u8; CHALLENGE_LEN], &good), "another challenge");
            let mut flipped = good.clone();
            flipped[good.len() - 1] ^= 1;
            assert!(!verify(b"k", digest, &challenge, &flipped), "last byte wrong");
            assert!(!verify(b"k", digest, &challenge, &good[..good.len() - 1]), "too short");
        }
    }

    #[test]
    fn the_comparison_is_constant_time() {
        // The check must go through hmac's verify_slice (subtle's
        // constant-time equality), never a byte-by-byte `==`.
        let src = include_str!("challenge.rs");
        let body = src.split("fn check<").nth(1).and_then(|b| b.split("\n}\n").next()).unwrap_or_default();
        assert!(body.contains(".verify_slice(answer)"), "{body}");
        assert!(!body.contains("=="), "{body}");
    }

    #[test]
    fn challenges_are_random() {
        let a = random_challenge().unwrap();
        let b = random_challenge().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; CHALLENGE_LEN]);
    }

    #[test]
    fn digest_names_parse() {
        assert_eq!(Digest::parse("md5"), Ok(Digest::Md5));
        assert!(Digest::parse("sha1").unwrap_err().contains("sha256"));
    }
}
