//! upper: each received chunk is sent back with ASCII letters upper-cased.
//! Bytes that are not ASCII letters (UTF-8 included) pass through
//! unchanged, so a split in the middle of a multi-byte character is harmless.

use super::handler::{Flow, Handler};

pub struct Upper;

impl Handler for Upper {
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        out.extend(input.iter().map(u8::to_ascii_uppercase));
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::handler::feed_split;

    #[test]
    fn upper_cases_ascii_whatever_the_split() {
        let input = "hello, World! 123 héllo\n".repeat(50).into_bytes();
        let want = "HELLO, WORLD! 123 HéLLO\n".repeat(50).into_bytes();
        for splits in [&[1][..], &[2, 5, 1], &[17], &[10_000]] {
            assert_eq!(feed_split(&mut Upper, &input, splits), want, "splits {splits:?}");
        }
    }

    #[test]
    fn binary_bytes_pass_through() {
        let input: Vec<u8> = (0..=255u8).collect();
        let out = feed_split(&mut Upper, &input, &[3]);
        let want: Vec<u8> = input.iter().map(u8::to_ascii_uppercase).collect();
        assert_eq!(out, want);
    }
}
