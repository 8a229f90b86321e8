//! The UDP time protocol: one datagram in, one datagram out.
//!
//! The request is a strftime-style format string in UTF-8 (`%H:%M:%S`); the
//! reply is the server's local time in that format. An empty request means
//! [`DEFAULT_FORMAT`]. A request the server cannot honour — not UTF-8, too
//! long, a NUL byte, an unknown `%` conversion, a reply that would be too
//! big — gets a reply starting with `error: `, never silence and never a
//! crash: UDP has no connection to close, so an error must be a datagram.
//!
//! Text outside `%` conversions is copied as it is, so a client can put a
//! request id in the format (`#7 %T` → `#7 16:40:01`) and match replies to
//! requests — the trick a retrying client needs (see the `udp-loss` demo).
//!
//! The codec never touches a socket: `reply(request)` is the whole server.

use std::ffi::CString;

/// What an empty datagram asks for: `2026-11-23 16:40:01`.
pub const DEFAULT_FORMAT: &str = "%Y-%m-%d %X";

/// Longest format accepted, in bytes.
pub const MAX_REQUEST: usize = 256;

/// Longest reply sent, in bytes; a format that would produce more is refused.
pub const MAX_REPLY: usize = 512;

/// What every error reply starts with.
pub const ERROR_PREFIX: &str = "error: ";

/// The conversions accepted after `%` (glibc's set, as in man 3 strftime).
const CONVERSIONS: &str = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%";

/// Why a request got an error reply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    #[error("the format is not UTF-8 text")]
    NotUtf8,
    #[error("the format is {len} bytes; at most {MAX_REQUEST} are accepted")]
    TooLong { len: usize },
    #[error("the format contains a NUL byte")]
    Nul,
    #[error("unknown conversion '{spec}' at byte {at} (man 3 strftime)")]
    BadConversion { at: usize, spec: String },
    #[error("the formatted time would be longer than {MAX_REPLY} bytes")]
    ReplyTooLong,
    #[error("the system could not convert the time to local time")]
    NoLocalTime,
}

/// The server's whole job: a request datagram in, the reply datagram out,
/// for the current time.
pub fn reply(request: &[u8]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    reply_at(request, now)
}

/// [`reply`] for a given time, in seconds since the Unix epoch.
pub fn reply_at(request: &[u8], unix_secs: i64) -> Vec<u8> {
    let formatted = std::str::from_utf8(request)
        .map_err(|_| TimeError::NotUtf8)
        .and_then(|f| format_local(if f.is_empty() { DEFAULT_FORMAT } else { f }, unix_secs));
    match formatted {
        Ok(text) => text.into_bytes(),
        Err(e) => format!("{ERROR_PREFIX}{e}").into_bytes(),
    }
}

/// Whether a reply is an error reply.
pub fn is_error(reply: &[u8]) -> bool {
    reply.starts_with(ERROR_PREFIX.as_bytes())
}

/// Format `unix_secs` as local time with a strftime format.
pub fn format_local(format: &str, unix_secs: i64) -> Result<String, TimeError> {
    check_format(format)?;
    let c_format = CString::new(format).map_err(|_| TimeError::Nul)?;
    let t: nix::libc::time_t = unix_secs;
    // SAFETY: `tm` is plain old data (integers and one pointer); all-zero is
    // a valid value, and localtime_r overwrites it before it is read.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // re-entrant form, writing only into our `tm` (tm_zone then points at
    // libc's static time zone names, which live for the whole process).
    if unsafe { nix::libc::localtime_r(&t, &mut tm) }.is_null() {
        return Err(TimeError::NoLocalTime);
    }
    // One spare byte for the terminating NUL strftime always writes.
    let mut buf = vec![0u8; MAX_REPLY + 1];
    // SAFETY: `buf` is writable for `buf.len()` bytes and strftime writes at
    // most that many, NUL included; `c_format` is NUL-terminated and `tm` was
    // filled in by localtime_r above.
    let n = unsafe { nix::libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c_format.as_ptr(), &tm) };
    // strftime returns 0 when the result (with its NUL) did not fit. Every
    // accepted conversion prints something in the C locale (netlab never calls
    // setlocale), so 0 means "too long", not "empty".
    if n == 0 {
        return Err(TimeError::ReplyTooLong);
    }
    buf.truncate(n);
    // The format was UTF-8 and the C locale's names are ASCII; a lossy
    // conversion only matters if a libc broke that promise.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// glibc copies an unknown conversion such as `%Q` through unchanged, so a
/// typo would come back looking like an answer. Check the format first:
/// `%`, optional flag (`_ - 0 ^ #`), optional width of at most two digits
/// (a bound on the reply's size), optional `E`/`O` modifier, a conversion.
fn check_format(format: &str) -> Result<(), TimeError> {
    if format.len() > MAX_REQUEST {
        return Err(TimeError::TooLong { len: format.len() });
    }
    if format.contains('\0') {
        return Err(TimeError::Nul);
    }
    let bytes = format.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if i < bytes.len() && b"_-0^#".contains(&bytes[i]) {
            i += 1;
        }
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += digits;
        // glibc copies an unsupported modifier pair (%Ez) through as text,
        // so only the pairs POSIX defines are accepted.
        let modifier = bytes.get(i).copied().filter(|b| b"EO".contains(b));
        if modifier.is_some() {
            i += 1;
        }
        let allowed: &[u8] = match modifier {
            Some(b'E') => b"cCxXyY",
            Some(_) => b"deHImMSuUVwWy",
            None => CONVERSIONS.as_bytes(),
        };
        let ok = digits <= 2 && i < bytes.len() && allowed.contains(&bytes[i]);
        if !ok {
            // Show the spec up to and including the offending character.
            let end = format[i..].chars().next().map_or(format.len(), |c| i + c.len_utf8());
            return Err(TimeError::BadConversion { at: start, spec: format[start..end].to_string() });
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2001-09-09 01:46:40 UTC: the same year, whatever the local time zone.
    const T: i64 = 1_000_000_000;

    fn text(request: &[u8]) -> String {
        String::from_utf8(reply_at(request, T)).unwrap()
    }

    #[test]
    fn formats_and_copies_literal_text() {
        assert_eq!(text(b"%s"), "1000000000");
        assert_eq!(text(b"#7 %Y"), "#7 2001");
        assert_eq!(text(b"100%%"), "100%");
        assert_eq!(text(b"%-d|%_5Y|%Ey"), format_local("%-d|%_5Y|%Ey", T).unwrap());
    }

    #[test]
    fn empty_request_means_the_default_format() {
        let got = text(b"");
        assert_eq!(got, format_local(DEFAULT_FORMAT, T).unwrap());
        assert!(got.starts_with("2001-09-0") && got.len() == "2001-09-09 01:46:40".len(), "{got}");
    }

    #[test]
    fn bad_requests_get_error_replies() {
        let cases: [(&[u8], &str); 8] = [
            (b"%Q", "unknown conversion '%Q' at byte 0"),
            (b"%Ez", "unknown conversion '%Ez'"),
            (b"%OY", "unknown conversion '%OY'"),
            (b"time: %", "unknown conversion '%' at byte 6"),
            (b"%999Y", "unknown conversion '%999Y'"),
            (b"\xff\xfe", "not UTF-8"),
            (b"a\0b", "NUL byte"),
            (b"%\xc3\xa9", "unknown conversion '%\u{e9}'"),
        ];
        for (request, says) in cases {
            let got = text(request);
            assert!(got.starts_with(ERROR_PREFIX) && got.contains(says), "{request:?} → {got}");
            assert!(is_error(got.as_bytes()));
        }
    }

    #[test]
    fn size_limits_hold() {
        let long = "x".repeat(MAX_REQUEST + 1);
        assert!(text(long.as_bytes()).contains("at most 256"));
        let big = "%99Y".repeat(6);
        assert_eq!(text(big.as_bytes()), format!("{ERROR_PREFIX}{}", TimeError::ReplyTooLong));
        let fits = "%c".repeat(10);
        let got = reply_at(fits.as_bytes(), T);
        assert!(!is_error(&got) && got.len() <= MAX_REPLY);
    }
}
