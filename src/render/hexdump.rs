//! Showing raw bytes to a human.
//!
//! Sockets move bytes, not text: a `recv()` can stop mid UTF-8 character, a
//! "text" protocol can carry a stray `\r` or NUL, and a length prefix prints
//! as garbage. These helpers show exactly what crossed the wire, in the
//! formats of real tools (`xxd`, `hexdump -C`, Wireshark's byte pane).

const BYTES_PER_LINE: usize = 16;

/// Formats `data` like `hexdump -C`: an offset (so "the body starts at byte 4"
/// can be checked by eye), 16 bytes in hex, then the same bytes as ASCII.
///
/// ```text
/// 00000000  68 65 6c 6c 6f 0a                                 |hello.|
/// ```
pub fn hexdump(data: &[u8]) -> Vec<String> {
    dump_lines(data, 0).collect()
}

/// Like [`hexdump`], for a piece of a longer stream that starts at byte
/// `base` (a multiple of 16): offsets count from the stream's start.
pub fn hexdump_at(data: &[u8], base: usize) -> Vec<String> {
    dump_lines(data, base).collect()
}

/// The column of byte `i % 16` in a hexdump line: after the 10-character
/// offset, three per byte, plus the gap after the eighth.
pub fn hex_column(i: usize) -> usize {
    let col = i % BYTES_PER_LINE;
    10 + 3 * col + usize::from(col >= 8)
}

/// Like [`hexdump`], but at most `max_lines` lines (treated as at least 1).
/// Demos send megabytes: the first lines show the pattern, and a last line
/// `… N more bytes` with the exact count shows that nothing was lost.
/// `data` may be just the start of a `total`-byte transfer.
pub fn hexdump_limited(data: &[u8], total: usize, max_lines: usize) -> Vec<String> {
    let shown = max_lines.max(1) - 1;
    if data.len() == total && total.div_ceil(BYTES_PER_LINE) <= shown + 1 {
        return hexdump(data);
    }
    let shown = shown.min(data.len() / BYTES_PER_LINE);
    let rest = total.saturating_sub(shown * BYTES_PER_LINE);
    let mut lines: Vec<String> = dump_lines(data, 0).take(shown).collect();
    lines.push(format!("… {rest} more bytes"));
    lines
}

fn dump_lines(data: &[u8], base: usize) -> impl Iterator<Item = String> {
    data.chunks(BYTES_PER_LINE).enumerate().map(move |(i, chunk)| {
        // The wider gap after 8 bytes makes offsets countable by eye.
        let (left, right) = chunk.split_at(chunk.len().min(8));
        let hex = format!("{}  {}", hex_compact(left), hex_compact(right));
        let ascii: String = chunk.iter().map(|&b| ascii_or_dot(b)).collect();
        // Padding keeps a short last line's ASCII column aligned.
        format!("{:08x}  {hex:<48}  |{ascii}|", base + i * BYTES_PER_LINE)
    })
}

fn ascii_or_dot(byte: u8) -> char {
    match byte {
        b' '..=b'~' => byte as char,
        _ => '.',
    }
}

/// Space-separated hex, e.g. `68 65 6c`: compact enough for short binary
/// payloads such as a 4-byte length header, inline in a sentence.
pub fn hex_compact(data: &[u8]) -> String {
    let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

/// True if `data` is valid UTF-8 with no control characters but `\n \r \t`;
/// a terminal would hide or act on anything else (NULs, escape sequences).
pub fn is_printable_text(data: &[u8]) -> bool {
    std::str::from_utf8(data).is_ok_and(|text| text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')))
}

/// A double-quoted literal using the escapes of netlab's payload syntax
/// (`\n \r \t \\ \" \xNN`), so it can be pasted into `send` to reproduce the
/// exact bytes. Printable characters, non-ASCII included, stay as they are;
/// control characters and invalid UTF-8 become one `\xNN` (a raw byte) each.
pub fn quote_text(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() + 2);
    out.push('"');
    for chunk in data.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c if c.is_control() => escape_bytes(&mut out, c.encode_utf8(&mut [0; 4])),
                c => out.push(c),
            }
        }
        escape_bytes(&mut out, chunk.invalid());
    }
    out.push('"');
    out
}

fn escape_bytes(out: &mut String, bytes: impl AsRef<[u8]>) {
    out.extend(bytes.as_ref().iter().map(|b| format!("\\x{b:02x}")));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTENCE: &[u8] = b"hello world, this is more than sixteen";
    const SENTENCE_DUMP: [&str; 3] = [
        "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 2c 20 74 68 69  |hello world, thi|",
        "00000010  73 20 69 73 20 6d 6f 72  65 20 74 68 61 6e 20 73  |s is more than s|",
        "00000020  69 78 74 65 65 6e                                 |ixteen|",
    ];

    #[test]
    fn hexdump_matches_hexdump_c() {
        let line = "00000000  68 65 6c 6c 6f 0a                                 |hello.|";
        assert_eq!(hexdump(b"hello\n"), [line]);
        assert_eq!(hexdump(SENTENCE), SENTENCE_DUMP);
        assert!(hexdump(b"").is_empty());
        let binary = hexdump(&[0x00, 0x7f, 0x80, 0xff, b'A', b' ']);
        assert!(binary[0].ends_with("  |....A |"), "{binary:?}");
    }

    #[test]
    fn a_dump_from_an_offset_counts_from_the_stream_start() {
        let lines = hexdump_at(b"hello", 0x100);
        assert!(lines[0].starts_with("00000100  68 65"), "{lines:?}");
        let line = &hexdump(SENTENCE)[0];
        assert_eq!(&line[hex_column(0)..hex_column(0) + 2], "68");
        assert_eq!(&line[hex_column(8)..hex_column(8) + 2], "72");
        assert_eq!(&line[hex_column(15)..hex_column(15) + 2], "69");
    }

    #[test]
    fn limited_dump_counts_the_rest_exactly() {
        let data = [0xabu8; 100]; // 7 lines: 6 full and one of 4 bytes
        assert_eq!(hexdump_limited(&data, 100, 7), hexdump(&data));
        let short = hexdump_limited(&data, 100, 3);
        assert_eq!(short[..2], hexdump(&data)[..2]);
        assert_eq!(short[2..], ["… 68 more bytes"]);
        let preview = hexdump_limited(&data[..32], 100_000, 8);
        assert_eq!(preview[2..], ["… 99968 more bytes"], "counts from the whole transfer");
        assert_eq!(hexdump_limited(&data, 100, 0), ["… 100 more bytes"]);
        let sentence = [SENTENCE_DUMP[0], "… 22 more bytes"];
        assert_eq!(hexdump_limited(SENTENCE, SENTENCE.len(), 2), sentence);
    }

    #[test]
    fn printable_text() {
        assert!(is_printable_text(b"GET / HTTP/1.1\r\n\tx"));
        assert!(is_printable_text("héllo ✓".as_bytes()));
        assert!(!is_printable_text(b"a\0b"));
        assert!(!is_printable_text(b"\x1b[31mred"));
        assert!(!is_printable_text(&"café".as_bytes()[..4])); // cut mid-char
    }

    #[test]
    fn compact_hex_and_quoting() {
        assert_eq!(hex_compact(&[0, 0, 0, 5, 0x68]), "00 00 00 05 68");
        assert_eq!(quote_text(b"hi\n"), r#""hi\n""#);
        assert_eq!(quote_text(b"a\"b\\c\r\t"), r#""a\"b\\c\r\t""#);
        assert_eq!(quote_text(b"\x00\x7f\xffA"), r#""\x00\x7f\xffA""#);
        assert_eq!(quote_text("héllo".as_bytes()), "\"héllo\"");
        assert_eq!(quote_text("\u{85}".as_bytes()), r#""\xc2\x85""#);
    }
}
