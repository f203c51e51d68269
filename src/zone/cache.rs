//! A packet cache in front of [`Zone::answer`]: the answer to a query is a pure
//! function of the query's bytes after its ID (the zone never changes under an
//! `Arc`), so a repeat of the same question, flags and OPT record gets a copy of
//! the earlier answer with the new ID patched in, without a lookup.
//!
//! The cache is direct-mapped: a fixed number of slots chosen at construction, a
//! query's hash picks one, and a new entry replaces whatever held that slot. Memory
//! is bounded by `slots × (MAX_KEY + MAX_ENTRY)` octets, allocated as slots fill.
//! Keys are compared byte for byte, so case variants of a name are separate entries
//! and every answer echoes the question exactly as it was asked.

use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::Zone;
use crate::wire::{HEADER_LEN, Message};

/// Longest query (after its ID) the cache keeps: anything longer is answered by
/// the zone directly.
pub const MAX_KEY: usize = 512;
/// Longest answer the cache keeps.
pub const MAX_ENTRY: usize = 4096;

/// A packet cache in front of [`Zone::answer`]: a repeat of a query (the same bytes
/// after the ID) gets a copy of the earlier answer with the new ID patched in.
/// Direct-mapped: `slots` entries, a query's hash picks one, a new entry replaces
/// what held it; at most `slots × (MAX_KEY + MAX_ENTRY)` octets, allocated as
/// slots fill. Case variants of a name are separate entries, so every answer echoes
/// the question exactly as it was asked. Answers are built in full (up to
/// [`CACHE_MAX_ENTRY`](super::CACHE_MAX_ENTRY) octets) before they are kept, so
/// what a buffer too small for them receives is the zone's own truncated answer.
/// A hit allocates nothing; a miss allocates only while its slot grows.
///
/// ```
/// use std::sync::Arc;
/// use dnstcp::wire::{Builder, Class, Message, NameBuf, Rtype};
/// use dnstcp::zone::{AnswerCache, Zone};
///
/// let zone = Zone::parse(
///     "$ORIGIN example.test.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n",
///     "inline",
///     None,
/// )
/// .unwrap();
/// let mut cache = AnswerCache::new(Arc::new(zone), 256);
/// let name: NameBuf = "ns.example.test".parse().unwrap();
/// let mut query = [0u8; 512];
/// let mut b = Builder::new(&mut query, 7);
/// b.push_question(&name.as_name(), Rtype::A, Class::In).unwrap();
/// let n = b.finish();
/// let mut out = [0u8; 512];
/// let len = cache.answer(&Message::new(&query[..n]).unwrap(), &mut out);
/// assert_eq!(Message::new(&out[..len]).unwrap().answers().unwrap().count(), 1);
/// assert_eq!(cache.stats(), (0, 1)); // (hits, misses)
/// ```
pub struct AnswerCache {
    zone: Arc<Zone>,
    slots: Vec<Slot>,
    /// The full answer is built here first, so that what is cached never depends
    /// on the caller's buffer size.
    scratch: Vec<u8>,
    hits: u64,
    misses: u64,
}

#[derive(Default)]
struct Slot {
    /// The query after its ID; empty when the slot is free.
    key: Vec<u8>,
    answer: Vec<u8>,
}

impl AnswerCache {
    /// A cache of `slots` entries (at least 1) for `zone`.
    #[must_use]
    pub fn new(zone: Arc<Zone>, slots: usize) -> AnswerCache {
        let mut v = Vec::new();
        v.resize_with(slots.max(1), Slot::default);
        AnswerCache {
            zone,
            slots: v,
            scratch: vec![0u8; MAX_ENTRY],
            hits: 0,
            misses: 0,
        }
    }

    /// The zone answered from.
    #[must_use]
    pub fn zone(&self) -> &Arc<Zone> {
        &self.zone
    }

    /// Answers `query` into `out` exactly as [`Zone::answer`] would, from the cache
    /// when an earlier query had the same bytes after its ID. Returns the length.
    pub fn answer(&mut self, query: &Message<'_>, out: &mut [u8]) -> usize {
        let bytes = query.as_bytes();
        let key = match bytes.get(2..) {
            Some(k) if bytes.len() >= HEADER_LEN && k.len() <= MAX_KEY => k,
            _ => return self.zone.answer(query, out),
        };
        let i = (hash(key) % self.slots.len() as u64) as usize;
        let slot = &mut self.slots[i];
        if slot.key == key {
            if let Some(dst) = out.get_mut(..slot.answer.len()) {
                self.hits += 1;
                dst.copy_from_slice(&slot.answer);
                dst[..2].copy_from_slice(&bytes[..2]);
                return dst.len();
            }
            // Too long for `out`: the zone truncates it for this buffer.
            return self.zone.answer(query, out);
        }
        self.misses += 1;
        let n = self.zone.answer(query, &mut self.scratch);
        // 0 (nothing to send) and answers that may have been cut to fit the
        // scratch buffer are not kept.
        if !(HEADER_LEN..MAX_ENTRY).contains(&n) {
            return self.zone.answer(query, out);
        }
        let answer = &self.scratch[..n];
        slot.key.clear();
        slot.key.extend_from_slice(key);
        slot.answer.clear();
        slot.answer.extend_from_slice(answer);
        match out.get_mut(..n) {
            Some(dst) => {
                dst.copy_from_slice(answer);
                n
            }
            None => self.zone.answer(query, out),
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        for s in &mut self.slots {
            s.key.clear();
            s.answer.clear();
        }
    }

    /// Answers served from the cache and answers looked up, since creation.
    #[must_use]
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

/// FNV-1a, 64 bits: short keys, no allocation, no dependency.
fn hash(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
