//! Receive and transmit byte storage shared by both connection machines.
//!
//! [`RxBuf`] holds bytes read from the socket until they form complete frames; the
//! caller reads straight into its free tail ([`RxBuf::read_buf`]) and commits what the
//! socket returned. Complete messages are handed out as offsets into the storage and
//! stay valid until the next `read_buf` call, which is the only place data moves
//! (compaction), so events can borrow them without copying.
//!
//! [`TxBuf`] holds framed output. Messages are built in place behind a reserved
//! prefix ([`TxBuf::frame_space`], then [`TxBuf::commit_frame`]) so the length and
//! the message sit in one contiguous run and one `write` carries many frames (F1).
//! Bytes leave only when the adapter reports them written ([`TxBuf::advance`]).
#![forbid(unsafe_code)]
// Some helpers serve only one of the two machines.
#![allow(dead_code)]

use core::ops::Range;

use crate::frame::{Decoder, FrameError, PREFIX_LEN, Status};

/// One step of [`RxBuf::next_frame`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RxFrame {
    /// A complete message at this range of the storage.
    Message(Range<usize>),
    /// An oversized frame began (F4); its bytes are being skipped.
    Oversized {
        /// The message ID.
        id: u16,
        /// The announced length.
        len: u16,
    },
}

/// Receive storage with a frame decoder.
#[derive(Debug)]
pub(crate) struct RxBuf<B> {
    storage: B,
    start: usize,
    end: usize,
    decoder: Decoder,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> RxBuf<B> {
    pub(crate) fn new(storage: B, decoder: Decoder) -> Self {
        RxBuf {
            storage,
            start: 0,
            end: 0,
            decoder,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// Bytes buffered that do not yet form a complete frame (or are unread frames).
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Whether a frame has started arriving but is incomplete.
    pub(crate) fn has_partial(&self) -> bool {
        self.buffered() > 0 || self.decoder.is_skipping()
    }

    /// The free tail to read into, after moving unread bytes to the front.
    pub(crate) fn read_buf(&mut self) -> &mut [u8] {
        if self.start > 0 {
            let (s, e) = (self.start, self.end);
            self.storage.as_mut().copy_within(s..e, 0);
            self.end = e - s;
            self.start = 0;
        }
        let end = self.end;
        self.storage.as_mut().get_mut(end..).unwrap_or(&mut [])
    }

    /// Records that `n` bytes were written into the slice from [`read_buf`](Self::read_buf).
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.capacity());
    }

    /// Copies as much of `data` as fits; returns the count consumed.
    pub(crate) fn fill(&mut self, data: &[u8]) -> usize {
        let dst = self.read_buf();
        let n = dst.len().min(data.len());
        dst[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    /// The next frame event, consuming its bytes. `Ok(None)` means more input is needed.
    pub(crate) fn next_frame(&mut self) -> Result<Option<RxFrame>, FrameError> {
        loop {
            let (start, end) = (self.start, self.end);
            let input = self.storage.as_ref().get(start..end).unwrap_or(&[]);
            match self.decoder.decode(input)? {
                Status::Complete { message, consumed } => {
                    let len = message.len();
                    self.start += consumed;
                    let at = start + PREFIX_LEN;
                    return Ok(Some(RxFrame::Message(at..at + len)));
                }
                Status::Partial { .. } => return Ok(None),
                Status::Oversized { len, id, consumed } => {
                    self.start += consumed;
                    return Ok(Some(RxFrame::Oversized { id, len }));
                }
                Status::Skipped { consumed } => {
                    self.start += consumed;
                    if self.start == self.end {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The bytes at `range` (a range from [`next_frame`](Self::next_frame)).
    pub(crate) fn get(&self, range: Range<usize>) -> &[u8] {
        self.storage.as_ref().get(range).unwrap_or(&[])
    }

    /// Drops every buffered byte.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// The storage, when it holds nothing still needed (no unread bytes, no frame
    /// being skipped): its content is never read again.
    pub(crate) fn storage_if_empty(&mut self) -> Option<&mut B> {
        if self.start != self.end || self.decoder.is_skipping() {
            return None;
        }
        self.start = 0;
        self.end = 0;
        Some(&mut self.storage)
    }
}

/// Transmit storage holding framed messages.
#[derive(Debug)]
pub(crate) struct TxBuf<B> {
    storage: B,
    start: usize,
    end: usize,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>> TxBuf<B> {
    pub(crate) fn new(storage: B) -> Self {
        TxBuf {
            storage,
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// Bytes waiting to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.storage
            .as_ref()
            .get(self.start..self.end)
            .unwrap_or(&[])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The storage, when no output is waiting in it.
    pub(crate) fn storage_if_empty(&mut self) -> Option<&mut B> {
        if self.start != self.end {
            return None;
        }
        self.start = 0;
        self.end = 0;
        Some(&mut self.storage)
    }

    /// Releases `n` written bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Largest message that could be framed now (after compaction).
    pub(crate) fn free_for_message(&self) -> usize {
        (self.capacity() - (self.end - self.start)).saturating_sub(PREFIX_LEN)
    }

    /// Largest message that could ever be framed in this storage.
    pub(crate) fn max_message(&self) -> usize {
        self.capacity()
            .saturating_sub(PREFIX_LEN)
            .min(crate::frame::MAX_MESSAGE_LEN)
    }

    /// Space for a message behind its reserved prefix (compacting first), or `None`
    /// when not even a header fits. Follow with [`commit_frame`](Self::commit_frame).
    pub(crate) fn frame_space(&mut self) -> &mut [u8] {
        if self.start > 0 {
            let (s, e) = (self.start, self.end);
            self.storage.as_mut().copy_within(s..e, 0);
            self.end = e - s;
            self.start = 0;
        }
        let at = self.end + PREFIX_LEN;
        let cap = self.capacity();
        let stop = cap.min(at + crate::frame::MAX_MESSAGE_LEN);
        self.storage.as_mut().get_mut(at..stop).unwrap_or(&mut [])
    }

    /// Commits a `len`-byte message written into [`frame_space`](Self::frame_space).
    pub(crate) fn commit_frame(&mut self, len: usize) -> Result<(), FrameError> {
        let end = self.end;
        let total = PREFIX_LEN + len;
        let dst = self
            .storage
            .as_mut()
            .get_mut(end..end + total)
            .ok_or(FrameError::NoSpace { required: total })?;
        crate::frame::write_prefix(dst, len)?;
        self.end += total;
        Ok(())
    }

    /// Frames a copy of `msg`.
    pub(crate) fn push_frame(&mut self, msg: &[u8]) -> Result<(), FrameError> {
        let space = self.frame_space();
        if space.len() < msg.len() {
            return Err(FrameError::NoSpace {
                required: msg.len() + PREFIX_LEN,
            });
        }
        space[..msg.len()].copy_from_slice(msg);
        self.commit_frame(msg.len())
    }

    /// Drops everything not yet written.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Oversize;

    #[test]
    fn rx_frames_across_reads_and_compaction() {
        let mut rx = RxBuf::new([0u8; 32], Decoder::new(32, Oversize::Discard));
        let mut stream = [0u8; 28];
        stream[..2].copy_from_slice(&12u16.to_be_bytes());
        stream[2] = 0xAA;
        stream[14..16].copy_from_slice(&12u16.to_be_bytes());
        stream[16] = 0xBB;
        assert_eq!(rx.fill(&stream[..20]), 20);
        let r = match rx.next_frame().unwrap() {
            Some(RxFrame::Message(r)) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(rx.get(r)[0], 0xAA);
        assert_eq!(rx.next_frame().unwrap(), None);
        assert!(rx.has_partial());
        assert_eq!(rx.fill(&stream[20..]), 8);
        let r = match rx.next_frame().unwrap() {
            Some(RxFrame::Message(r)) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(rx.get(r)[0], 0xBB);
        assert!(!rx.has_partial());
    }

    #[test]
    fn tx_frames_in_place_and_drains() {
        let mut tx = TxBuf::new([0u8; 40]);
        let s = tx.frame_space();
        assert_eq!(s.len(), 38);
        s[..12].fill(1);
        tx.commit_frame(12).unwrap();
        tx.push_frame(&[2; 12]).unwrap();
        assert_eq!(tx.pending().len(), 28);
        assert_eq!(&tx.pending()[..2], &[0, 12]);
        assert!(tx.push_frame(&[3; 12]).is_err());
        tx.advance(14);
        assert_eq!(tx.free_for_message(), 24);
        tx.push_frame(&[3; 12]).unwrap();
        assert_eq!(tx.pending().len(), 28);
        assert_eq!(tx.pending()[2], 2);
        tx.advance(28);
        assert!(tx.is_empty());
    }
}
