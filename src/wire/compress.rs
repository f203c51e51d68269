//! Name compression for the builder with a fixed, caller-visible table (W8).
//!
//! Each entry remembers where a name (or name suffix) starts in the output, with
//! its uncompressed length and label count for a cheap first check. Lookup is linear
//! in the table size; the table never grows past [`CAPACITY`] entries, and no offset
//! at or above [`MAX_COMPRESSION_OFFSET`] is ever remembered, because a pointer has
//! 14 bits. Matching is byte-exact, so the case the caller wrote is preserved.

use super::name::Name;

/// Entries in the compression table.
pub const COMPRESSION_CAPACITY: usize = 32;
/// Pointers address the first 16 KiB of a message only.
pub const MAX_COMPRESSION_OFFSET: usize = 0x4000;

#[derive(Clone, Copy, Default, Debug)]
struct Entry {
    offset: u16,
    wire_len: u8,
    labels: u8,
}

/// The compression table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Compressor {
    entries: [Entry; COMPRESSION_CAPACITY],
    len: usize,
}

impl Compressor {
    pub(crate) const fn new() -> Self {
        Compressor {
            entries: [Entry {
                offset: 0,
                wire_len: 0,
                labels: 0,
            }; COMPRESSION_CAPACITY],
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Offset of a name already in `out` equal (byte-exact) to `name`.
    pub(crate) fn find(&self, out: &[u8], name: &Name<'_>) -> Option<u16> {
        let wl = u8::try_from(name.wire_len()).ok()?;
        let lc = u8::try_from(name.label_count()).ok()?;
        self.entries[..self.len].iter().find_map(|e| {
            if e.wire_len != wl || e.labels != lc {
                return None;
            }
            // The builder wrote this name itself, from a validated name, with
            // pointers only to earlier entries: walk it without validating again.
            let there = Name::written(out, usize::from(e.offset), e.wire_len, e.labels);
            // Same label count (checked above); labels are short, so a plain loop
            // beats a `memcmp` call per label.
            there
                .labels()
                .zip(name.labels())
                .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p == q))
                .then_some(e.offset)
        })
    }

    /// Whether an entry starts at `offset` with the shape of `name`.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn has_entry(&self, offset: usize, name: &Name<'_>) -> bool {
        self.entries[..self.len].iter().any(|e| {
            usize::from(e.offset) == offset
                && usize::from(e.wire_len) == name.wire_len()
                && usize::from(e.labels) == name.label_count()
        })
    }

    /// Remembers that a name of `wire_len` octets and `labels` labels (the root
    /// excluded) starts at `offset`.
    #[inline]
    pub(crate) fn remember_shape(&mut self, offset: usize, wire_len: usize, labels: usize) {
        if self.len >= COMPRESSION_CAPACITY || offset >= MAX_COMPRESSION_OFFSET || labels == 0 {
            return;
        }
        let (Ok(wire_len), Ok(labels), Ok(offset)) = (
            u8::try_from(wire_len),
            u8::try_from(labels),
            u16::try_from(offset),
        ) else {
            return;
        };
        self.entries[self.len] = Entry {
            offset,
            wire_len,
            labels,
        };
        self.len += 1;
    }
}
