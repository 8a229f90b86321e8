//! Payload syntax: how a learner writes bytes on a command line.
//!
//! `"text"`, `hex:0a0b`, `u32be:1000`, `repeat:N:"x"`, `count:N`, `file:PATH`, and any
//! sequence of them, concatenated. Integers come in explicit byte orders
//! because that is the point: the same number is different bytes.

use std::path::PathBuf;

/// Big enough for any lesson (1 MiB sends), small enough to never exhaust memory.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Bytes(Vec<u8>),
    /// Read when the command runs, so lint never touches the file system.
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    parts: Vec<Part>,
}

impl Payload {
    pub fn parse(words: &[String]) -> Result<Payload, String> {
        if words.is_empty() {
            return Err("missing payload: give bytes to send, e.g. \"hello\" or u32be:5".into());
        }
        let parts = words.iter().map(|w| parse_part(w)).collect::<Result<_, _>>()?;
        Ok(Payload { parts })
    }

    /// Bytes already built (a frame), sent as they are.
    pub fn from_bytes(bytes: Vec<u8>) -> Payload {
        Payload { parts: vec![Part::Bytes(bytes)] }
    }

    /// The bytes, reading any `file:` parts now.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Bytes(b) => out.extend_from_slice(b),
                Part::File(p) => read_file(p, MAX_PAYLOAD - out.len(), &mut out)?,
            }
            if out.len() > MAX_PAYLOAD {
                return Err(format!("payload over {} MiB: send less", MAX_PAYLOAD >> 20));
            }
        }
        Ok(out)
    }
}

/// Append at most `room` bytes of a regular file: never /dev/zero or a
/// pipe, which would fill memory or wait forever.
fn read_file(path: &std::path::Path, room: usize, out: &mut Vec<u8>) -> Result<(), String> {
    use std::io::Read;
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(fail)?;
    if !file.metadata().map_err(fail)?.is_file() {
        return Err(format!("{} is not a regular file: file: sends the contents of a file", path.display()));
    }
    let limit = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
    let read = file.take(limit).read_to_end(out).map_err(fail)?;
    if read > room {
        return Err(format!("{} is over {} MiB: send less", path.display(), MAX_PAYLOAD >> 20));
    }
    Ok(())
}

fn parse_part(word: &str) -> Result<Part, String> {
    if word.starts_with('"') || word.starts_with('\'') {
        return unquote(word).map(Part::Bytes);
    }
    let Some((kind, rest)) = word.split_once(':') else {
        return Err(format!(
            "'{word}' is not a payload: quote text (\"{word}\") or use hex:, u32be:, repeat:N:\"x\", file:"
        ));
    };
    if let Some(fmt) = IntFormat::parse(kind) {
        return fmt.encode(rest).map(Part::Bytes);
    }
    match kind {
        "hex" => parse_hex(rest).map(Part::Bytes),
        "file" if !rest.is_empty() => Ok(Part::File(PathBuf::from(rest))),
        "repeat" => parse_repeat(rest).map(Part::Bytes),
        "count" => parse_count(rest).map(Part::Bytes),
        _ => Err(format!(
            "unknown payload kind '{kind}:': use \"text\", hex:, repeat:, count:, file: or an integer kind ({}:)",
            IntFormat::NAMES.join(": ")
        )),
    }
}

fn parse_repeat(rest: &str) -> Result<Vec<u8>, String> {
    let usage = "repeat wants a count and quoted text, e.g. repeat:1048576:\"x\"";
    let (count, text) = rest.split_once(':').ok_or(usage)?;
    let count: usize = count.parse().map_err(|_| usage.to_string())?;
    if !(text.starts_with('"') || text.starts_with('\'')) {
        return Err(usage.into());
    }
    let unit = unquote(text)?;
    if unit.len().saturating_mul(count) > MAX_PAYLOAD {
        return Err(format!("repeat makes over {} MiB: use a smaller count", MAX_PAYLOAD >> 20));
    }
    Ok(unit.repeat(count))
}

/// `count:N`: N bytes of numbered lines, `000000\n000001\n…`, cut at N.
/// Every 7-byte line differs, so a lost, doubled or swapped piece of a
/// big transfer shows, as it would not in `repeat:N:"x"`.
fn parse_count(rest: &str) -> Result<Vec<u8>, String> {
    let n: usize = rest.parse().map_err(|_| format!("count:{rest}? count wants a byte count, e.g. count:200000"))?;
    if n > MAX_PAYLOAD {
        return Err(format!("count:{n} is over {} MiB: use a smaller count", MAX_PAYLOAD >> 20));
    }
    let mut out = Vec::with_capacity(n + 7);
    let mut line = 0u64;
    while out.len() < n {
        out.extend_from_slice(format!("{:06}\n", line % 1_000_000).as_bytes());
        line += 1;
    }
    out.truncate(n);
    Ok(out)
}

fn parse_hex(rest: &str) -> Result<Vec<u8>, String> {
    let digits: String = rest.chars().filter(|&c| c != '_').collect();
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("hex:{rest} has a non-hex digit: use 0-9 and a-f"));
    }
    if digits.len() % 2 != 0 {
        return Err(format!("hex:{rest} has an odd number of digits: two digits per byte"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("hex:{rest} has a non-hex digit: use 0-9 and a-f"))
        })
        .collect()
}

/// `"a\tb"` → bytes. The quote character must close the word.
pub fn unquote(word: &str) -> Result<Vec<u8>, String> {
    let q = word.chars().next().ok_or("empty text")?;
    let inner = word
        .strip_prefix(q)
        .and_then(|w| w.strip_suffix(q))
        .filter(|_| word.len() >= 2)
        .ok_or_else(|| format!("{word} has text after its closing quote: put a space before it"))?;
    let mut out = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c as u8),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let byte = u8::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 2)
                    .ok_or_else(|| format!("\\x{hex} is not a byte: write two hex digits, e.g. \\x0a"))?;
                out.push(byte);
            }
            other => {
                let shown = other.map_or(String::new(), String::from);
                return Err(format!("unknown escape \\{shown}: use \\n \\r \\t \\0 \\\\ \\\" \\' or \\xNN"));
            }
        }
    }
    Ok(out)
}

/// Fixed-size integers in an explicit byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntFormat {
    U16Be,
    U16Le,
    U32Be,
    U32Le,
    U64Be,
    U64Le,
    I32Be,
    I32Le,
}

impl IntFormat {
    pub const NAMES: [&'static str; 8] = ["u16be", "u16le", "u32be", "u32le", "u64be", "u64le", "i32be", "i32le"];

    pub fn parse(name: &str) -> Option<IntFormat> {
        use IntFormat::*;
        let all = [U16Be, U16Le, U32Be, U32Le, U64Be, U64Le, I32Be, I32Le];
        Self::NAMES.iter().position(|n| *n == name).map(|i| all[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn size(self) -> usize {
        match self {
            IntFormat::U16Be | IntFormat::U16Le => 2,
            IntFormat::U32Be | IntFormat::U32Le | IntFormat::I32Be | IntFormat::I32Le => 4,
            IntFormat::U64Be | IntFormat::U64Le => 8,
        }
    }

    fn encode(self, text: &str) -> Result<Vec<u8>, String> {
        let bad = || format!("{}:{text} is not a number that fits in {} bytes", self.name(), self.size());
        let value: i128 = match text.strip_prefix("0x") {
            Some(hex) => i128::from_str_radix(hex, 16).map_err(|_| bad())?,
            None => text.parse().map_err(|_| bad())?,
        };
        use IntFormat::*;
        Ok(match self {
            U16Be => u16::try_from(value).map_err(|_| bad())?.to_be_bytes().to_vec(),
            U16Le => u16::try_from(value).map_err(|_| bad())?.to_le_bytes().to_vec(),
            U32Be => u32::try_from(value).map_err(|_| bad())?.to_be_bytes().to_vec(),
            U32Le => u32::try_from(value).map_err(|_| bad())?.to_le_bytes().to_vec(),
            U64Be => u64::try_from(value).map_err(|_| bad())?.to_be_bytes().to_vec(),
            U64Le => u64::try_from(value).map_err(|_| bad())?.to_le_bytes().to_vec(),
            I32Be => i32::try_from(value).map_err(|_| bad())?.to_be_bytes().to_vec(),
            I32Le => i32::try_from(value).map_err(|_| bad())?.to_le_bytes().to_vec(),
        })
    }

    /// Read the first `size()` bytes as this integer; `None` if too few.
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        let b = bytes.get(..self.size())?;
        use IntFormat::*;
        Some(match self {
            U16Be => u16::from_be_bytes(b.try_into().ok()?).to_string(),
            U16Le => u16::from_le_bytes(b.try_into().ok()?).to_string(),
            U32Be => u32::from_be_bytes(b.try_into().ok()?).to_string(),
            U32Le => u32::from_le_bytes(b.try_into().ok()?).to_string(),
            U64Be => u64::from_be_bytes(b.try_into().ok()?).to_string(),
            U64Le => u64::from_le_bytes(b.try_into().ok()?).to_string(),
            I32Be => i32::from_be_bytes(b.try_into().ok()?).to_string(),
            I32Le => i32::from_le_bytes(b.try_into().ok()?).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(words: &[&str]) -> Result<Vec<u8>, String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        Payload::parse(&words)?.bytes()
    }

    #[test]
    fn parts_concatenate() {
        assert_eq!(bytes(&["u32be:5", "\"hello\""]).unwrap(), b"\x00\x00\x00\x05hello");
    }

    #[test]
    fn byte_orders_differ() {
        assert_eq!(bytes(&["u32be:1000"]).unwrap(), [0, 0, 3, 0xe8]);
        assert_eq!(bytes(&["u32le:1000"]).unwrap(), [0xe8, 3, 0, 0]);
        assert_eq!(bytes(&["u16be:0x0102"]).unwrap(), [1, 2]);
        assert_eq!(bytes(&["i32le:-1"]).unwrap(), [0xff; 4]);
    }

    #[test]
    fn escapes_and_hex() {
        assert_eq!(bytes(&[r#""a\n\x00\"""#]).unwrap(), b"a\n\x00\"");
        assert_eq!(bytes(&["hex:de_ad"]).unwrap(), [0xde, 0xad]);
        assert_eq!(bytes(&["''"]).unwrap(), b"");
    }

    #[test]
    fn count_numbers_its_lines_and_cuts_at_n() {
        assert_eq!(bytes(&["count:16"]).unwrap(), b"000000\n000001\n00");
        assert_eq!(bytes(&["count:0"]).unwrap(), b"");
        assert!(bytes(&["count:x"]).is_err());
    }

    #[test]
    fn repeat_builds_large_payloads() {
        assert_eq!(bytes(&["repeat:3:\"ab\""]).unwrap(), b"ababab");
        assert_eq!(bytes(&["repeat:1048576:\"x\""]).unwrap().len(), 1 << 20);
    }

    #[test]
    fn errors_say_what_to_do() {
        assert!(bytes(&["hello"]).unwrap_err().contains("quote text"));
        assert!(bytes(&["u16be:70000"]).unwrap_err().contains("fits in 2 bytes"));
        assert!(bytes(&["hex:abc"]).unwrap_err().contains("odd number"));
        assert!(bytes(&["hex:aé0"]).unwrap_err().contains("non-hex digit"), "non-ASCII never panics");
        assert!(bytes(&["\"\\q\""]).unwrap_err().contains("unknown escape"));
        assert!(bytes(&["repeat:99999999999:\"x\""]).unwrap_err().contains("MiB"));
        assert!(bytes(&["file:/nonexistent/x"]).unwrap_err().contains("cannot read"));
        assert!(bytes(&["file:/dev/zero"]).unwrap_err().contains("not a regular file"));
        assert!(bytes(&["file:/tmp"]).unwrap_err().contains("not a regular file"));
        assert!(bytes(&[]).unwrap_err().contains("missing payload"));
    }

    #[test]
    fn decode_reads_the_chosen_order() {
        assert_eq!(IntFormat::U32Be.decode(&[0xe8, 3, 0, 0]).as_deref(), Some("3892510720"));
        assert_eq!(IntFormat::U32Le.decode(&[0xe8, 3, 0, 0]).as_deref(), Some("1000"));
        assert_eq!(IntFormat::U32Be.decode(&[1, 2]), None);
    }
}
