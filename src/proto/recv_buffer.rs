//! The bytes a decoder has received but not yet returned as frames. Every
//! codec keeps one: push what `recv()` gave, look at what is unread, and
//! consume a frame's bytes once it is complete (mini-redis's `BytesMut`
//! plays this part there).

use super::FrameError;

#[derive(Debug, Default)]
pub struct RecvBuffer {
    /// Always initialised up to its length; the live bytes are
    /// `start..end`, the rest is room for the next reads.
    buf: Vec<u8>,
    /// Bytes before `start` belong to frames already returned. Consuming by
    /// moving an index, not shifting the bytes, keeps a frame O(its size).
    start: usize,
    end: usize,
}

/// The buffer grows to at least this, so the occasional move of a partial
/// frame to the front is rare next to the reads into the room behind it.
const MIN_CAPACITY: usize = 1 << 20;

impl RecvBuffer {
    /// Room for `n` more bytes after the live ones. The live bytes move to
    /// the front only when the room is short — at most one partial frame,
    /// once per buffer's worth of reads — and the buffer grows by doubling.
    fn room_for(&mut self, n: usize) {
        if self.buf.len() - self.end >= n {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < n {
            let want = (self.end + n).max(self.buf.len() * 2);
            self.buf.resize(want, 0);
        }
    }

    /// Appends bytes just received.
    pub fn push(&mut self, bytes: &[u8]) {
        self.room_for(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// One `read()` of up to `max` bytes straight into the buffer, with no
    /// copy through a buffer of the caller's: what `recv()` returned is
    /// then parsed where it lies. `Ok(0)` is end of stream.
    pub fn read_from(&mut self, r: &mut impl std::io::Read, max: usize) -> std::io::Result<usize> {
        if self.buf.len() < MIN_CAPACITY {
            self.room_for(MIN_CAPACITY - (self.end - self.start));
        }
        self.room_for(max);
        let n = r.read(&mut self.buf[self.end..self.end + max])?;
        self.end += n;
        Ok(n)
    }

    /// The bytes not yet returned as frames.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the first `n` unread bytes as returned. When nothing is left —
    /// the common case, a buffer ending on a frame boundary — resetting is
    /// free and the allocation is reused. The consumed bytes stay where
    /// they are until the next push or read, so a frame just consumed can
    /// still be lent out (see [`RecvBuffer::consumed`]).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// `len` bytes starting `back` bytes before the unread ones — a frame
    /// [`RecvBuffer::consume`] just passed. Only valid until the next push
    /// or read, which the borrow guarantees.
    pub fn consumed(&self, from: usize, len: usize) -> &[u8] {
        &self.buf[from..from + len]
    }

    /// Where the unread bytes start in the buffer, for [`RecvBuffer::consumed`].
    pub fn position(&self) -> usize {
        self.start
    }

    /// Room for `total` unread bytes: a frame whose size is known grows
    /// the buffer once rather than on every push.
    pub fn reserve_for(&mut self, total: usize) {
        self.room_for(total.saturating_sub(self.len()));
    }

    pub fn len(&self) -> usize {
        self.end - self.start
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

    #[test]
    fn reads_land_in_the_buffer_and_a_consumed_frame_can_be_lent() {
        let mut b = RecvBuffer::default();
        let mut input: &[u8] = b"abcdef";
        assert_eq!(b.read_from(&mut input, 4).unwrap(), 4);
        assert_eq!(b.unread(), b"abcd");
        let at = b.position();
        b.consume(2);
        assert_eq!(b.consumed(at, 2), b"ab");
        assert_eq!(b.read_from(&mut input, 4).unwrap(), 2);
        assert_eq!(b.unread(), b"cdef");
        assert_eq!(b.read_from(&mut input, 4).unwrap(), 0, "end of stream");
    }

    #[test]
    fn the_live_bytes_survive_moves_and_growth() {
        let mut b = RecvBuffer::default();
        let data: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        let mut out = Vec::new();
        for chunk in data.chunks(70_001) {
            b.push(chunk);
            let n = b.len() / 2;
            out.extend_from_slice(&b.unread()[..n]);
            b.consume(n);
        }
        out.extend_from_slice(b.unread());
        assert_eq!(out, data);
    }
}
