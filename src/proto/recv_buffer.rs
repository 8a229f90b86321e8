//! The bytes a decoder has received but not yet returned as frames. Every
//! codec keeps one: push what `recv()` gave, look at what is unread, and
//! consume a frame's bytes once it is complete (mini-redis's `BytesMut`
//! plays this part there).

use super::FrameError;

#[derive(Debug, Default)]
pub struct RecvBuffer {
    buf: Vec<u8>,
    /// Bytes before `start` belong to frames already returned. Consuming by
    /// moving an index, not shifting the bytes, keeps a frame O(its size).
    start: usize,
}

impl RecvBuffer {
    /// Appends bytes just received. The consumed front is dropped first
    /// once it is at least as big as what is left, so memory stays bounded
    /// by the unread bytes and each byte moves O(1) times on average.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes not yet returned as frames.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Marks the first `n` unread bytes as returned. When nothing is left —
    /// the common case, a buffer ending on a frame boundary — resetting is
    /// free and the allocation is reused.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Room for `total` unread bytes: a frame whose size is known grows
    /// the buffer once rather than on every push.
    pub fn reserve_for(&mut self, total: usize) {
        self.buf.reserve(total.saturating_sub(self.len()));
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// At end of stream: `Ok(())` if it ended between frames, else the peer
    /// closed (or died) inside one.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.len() {
            0 => Ok(()),
            buffered => Err(FrameError::ClosedMidFrame { buffered }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_bytes_are_dropped_and_the_rest_kept_in_order() {
        let mut b = RecvBuffer::default();
        b.push(b"hello world");
        b.consume(6);
        assert_eq!(b.unread(), b"world");
        b.push(b"!");
        assert_eq!(b.unread(), b"world!");
        assert_eq!(b.finish(), Err(FrameError::ClosedMidFrame { buffered: 6 }));
        b.consume(6);
        assert!(b.is_empty() && b.finish().is_ok());
    }
}
