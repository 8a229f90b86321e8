//! Payloads that say where they are: every 16-byte block of a large test
//! payload is its own block number in 15 letters, then `\n`. When bytes go
//! missing in the middle of a 9 MiB echo, the block after the gap tells
//! exactly how many — "2,424,832 bytes missing after byte 4,259,840" —
//! instead of "the streams differ somewhere".
//!
//! The letters are `a`–`p` (one per hex digit), so the text is plain
//! ASCII that an upper server turns into `A`–`P` and a line-based server
//! sees as ordinary lines.

const BLOCK: usize = 16;
const DIGITS: usize = BLOCK - 1;

/// `len` bytes of the pattern, starting at stream offset 0.
pub fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + BLOCK);
    let mut block = 0u64;
    while out.len() < len {
        for i in (0..DIGITS).rev() {
            out.push(b'a' + ((block >> (4 * i)) & 0xf) as u8);
        }
        out.push(b'\n');
        block += 1;
    }
    out.truncate(len);
    out
}

/// Where the stream picks up again after a difference at `from` in
/// `received`: `(position in received, offset in the sent stream)` of the
/// first whole block after `from`. Letters may be upper-cased.
pub fn resync(received: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while at < received.len() {
        let nl = at + received.get(at..)?.iter().position(|&b| b == b'\n')?;
        let start = nl + 1;
        if let Some(block) = received.get(start..start + BLOCK).and_then(decode_block) {
            return Some((start, block * BLOCK));
        }
        at = start;
    }
    None
}

fn decode_block(bytes: &[u8]) -> Option<usize> {
    if bytes.len() != BLOCK || bytes[DIGITS] != b'\n' {
        return None;
    }
    bytes[..DIGITS].iter().try_fold(0usize, |n, &b| {
        let d = b.to_ascii_lowercase().checked_sub(b'a').filter(|&d| d < 16)?;
        Some((n << 4) | d as usize)
    })
}

/// What a received stream lost, for a sentence: bytes missing after the
/// first difference, when the pattern lets us tell.
pub fn missing(received: &[u8], first_diff: usize) -> Option<(usize, usize)> {
    let (pos, offset) = resync(received, first_diff.saturating_sub(BLOCK))?;
    (offset > pos).then_some((first_diff, offset - pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_count_up_in_letters() {
        let t = text(48);
        assert_eq!(&t[..16], b"aaaaaaaaaaaaaaa\n");
        assert_eq!(&t[16..32], b"aaaaaaaaaaaaaab\n");
        assert_eq!(&t[32..48], b"aaaaaaaaaaaaaac\n");
        assert_eq!(text(5).len(), 5);
    }

    #[test]
    fn a_gap_in_the_middle_is_measured() {
        let sent = text(1 << 20);
        // A partial send: 100,000 bytes dropped after byte 65,536 + 1,000.
        let cut = 66_536;
        let mut received = sent[..cut].to_vec();
        received.extend_from_slice(&sent[cut + 100_000..]);
        let (at, lost) = missing(&received, cut).expect("measurable");
        assert_eq!(at, cut);
        // Measured to the next whole block: within one block of the truth.
        assert!((100_000..100_016).contains(&lost), "{lost}");
    }

    #[test]
    fn upper_cased_blocks_still_decode() {
        let sent = text(64).to_ascii_uppercase();
        assert_eq!(resync(&sent, 3), Some((16, 16)));
    }

    #[test]
    fn nothing_missing_is_none() {
        let sent = text(64);
        assert_eq!(missing(&sent, 20), None);
        assert_eq!(resync(b"garbage without blocks", 0), None);
    }
}
