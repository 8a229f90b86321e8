//! echo: every byte received is sent back unchanged.

use super::handler::{Flow, Handler};

pub struct Echo;

impl Handler for Echo {
    fn on_bytes(&mut self, input: &[u8], out: &mut Vec<u8>) -> Flow {
        out.extend_from_slice(input);
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::handler::feed_split;

    #[test]
    fn echoes_every_byte_whatever_the_split() {
        let input: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        for splits in [&[1][..], &[3, 1, 7], &[4096], &[5000]] {
            assert_eq!(feed_split(&mut Echo, &input, splits), input, "splits {splits:?}");
        }
    }

    #[test]
    fn eof_closes_with_nothing_more_to_send() {
        let mut out = Vec::new();
        assert_eq!(Echo.on_eof(&mut out), Flow::Close);
        assert!(out.is_empty());
    }
}
