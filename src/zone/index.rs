//! The exact-name index used when answering: a hash table over lookup keys, built at
//! load time, holding every owner name and every empty non-terminal (any ancestor of
//! an owner), each with what the lookup needs about it precomputed. A query name's
//! key is built once ([`QKey`]) and each ancestor's key is a prefix of it, so probing
//! the name and its ancestors costs a hash of a prefix and one or two slot compares.

use std::vec;
use std::vec::Vec;

use crate::wire::Name;
use crate::wire::name::MAX_NAME_LEN;

/// "No node": an empty non-terminal, or no wildcard child.
pub(super) const NONE: u32 = u32::MAX;

/// One name that exists in the zone.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    hash: u64,
    /// The key in [`Index::keys`].
    key_start: u32,
    key_len: u8,
    /// Whether the slot is used.
    used: bool,
    /// Whether the node owns NS records (a delegation point unless it is the apex).
    pub(super) has_ns: bool,
    /// The node owning this name, or [`NONE`] for an empty non-terminal.
    pub(super) node: u32,
    /// The node owning `*.` + this name, or [`NONE`].
    pub(super) wild: u32,
}

const EMPTY: Slot = Slot {
    hash: 0,
    key_start: 0,
    key_len: 0,
    used: false,
    has_ns: false,
    node: NONE,
    wild: NONE,
};

/// Open addressing with linear probing; at most half full.
#[derive(Clone, Debug)]
pub(super) struct Index {
    slots: Vec<Slot>,
    mask: usize,
    keys: Vec<u8>,
}

/// Hash of a lookup key, eight octets at a time.
#[inline]
pub(super) fn hash(key: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Byte by byte: a variable-length copy would be a `memcpy` call.
        let w = rest
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

impl Index {
    /// Builds the index over `names`: (key, node, has NS) per owner, in key order.
    pub(super) fn build<'k>(names: impl Iterator<Item = (&'k [u8], usize, bool)> + Clone) -> Index {
        // Every owner and every ancestor of one (down to the root key, which is empty).
        let mut all: Vec<(&[u8], u32, bool)> = Vec::new();
        for (key, node, has_ns) in names.clone() {
            all.push((key, u32::try_from(node).unwrap_or(NONE), has_ns));
            let mut p = 0;
            while p < key.len() {
                all.push((&key[..p], NONE, false));
                p += 1 + usize::from(key[p]);
            }
        }
        // Owners sort before empty non-terminals of the same key (node < NONE).
        all.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        all.dedup_by(|later, earlier| later.0 == earlier.0);
        let cap = (all.len() * 2).next_power_of_two().max(8);
        let mut index = Index {
            slots: vec![EMPTY; cap],
            mask: cap - 1,
            keys: Vec::new(),
        };
        for &(key, node, has_ns) in &all {
            let h = hash(key);
            let mut i = h as usize & index.mask;
            while index.slots[i].used {
                i = (i + 1) & index.mask;
            }
            let key_start = u32::try_from(index.keys.len()).unwrap_or(u32::MAX);
            index.keys.extend_from_slice(key);
            index.slots[i] = Slot {
                hash: h,
                key_start,
                key_len: u8::try_from(key.len()).unwrap_or(u8::MAX),
                used: true,
                has_ns,
                node,
                wild: NONE,
            };
        }
        // Wildcard children.
        let mut wk = [0u8; MAX_NAME_LEN + 2];
        for i in 0..index.slots.len() {
            if !index.slots[i].used {
                continue;
            }
            let key = index.slot_key(&index.slots[i]);
            let n = key.len();
            if n + 2 > MAX_NAME_LEN {
                continue;
            }
            wk[..n].copy_from_slice(key);
            wk[n] = 1;
            wk[n + 1] = b'*';
            if let Some(s) = index.get(&wk[..n + 2]) {
                index.slots[i].wild = s.node;
            }
        }
        index
    }

    fn slot_key(&self, s: &Slot) -> &[u8] {
        let start = s.key_start as usize;
        &self.keys[start..start + usize::from(s.key_len)]
    }

    /// The slot for exactly `key`, if that name exists.
    #[inline]
    pub(super) fn get(&self, key: &[u8]) -> Option<&Slot> {
        let h = hash(key);
        let mut i = h as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if !s.used {
                return None;
            }
            if s.hash == h && self.slot_key(s) == key {
                return Some(s);
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// A query name's lookup key (labels from the root down, lowercased), with where each
/// label ends so that every ancestor's key is a prefix.
pub(super) struct QKey {
    key: [u8; MAX_NAME_LEN],
    /// `ends[d]`: the key length of the ancestor with `d` labels.
    ends: [u8; 128],
    labels: usize,
}

impl QKey {
    /// The key of `name`.
    pub(super) fn new(name: &Name<'_>) -> QKey {
        let mut q = QKey::root();
        q.set(name);
        q
    }

    /// The key of the root name (empty).
    pub(super) fn root() -> QKey {
        QKey {
            key: [0; MAX_NAME_LEN],
            ends: [0; 128],
            labels: 0,
        }
    }

    /// Makes this the key of `name`.
    pub(super) fn set(&mut self, name: &Name<'_>) {
        let q = self;
        q.labels = name.label_count();
        // Written back to front: the leftmost label goes last.
        let mut pos = name.wire_len() - 1;
        for l in name.labels() {
            pos -= 1 + l.len();
            q.key[pos] = l.len() as u8;
            q.key[pos + 1..pos + 1 + l.len()].copy_from_slice(l);
        }
        // Length octets are at most 63, below b'A': lowercasing leaves them alone.
        q.key[..name.wire_len() - 1].make_ascii_lowercase();
        let mut p = 0;
        for d in 1..=q.labels {
            p += 1 + usize::from(q.key[p]);
            q.ends[d] = p as u8;
        }
    }

    /// Number of labels of the name.
    pub(super) fn labels(&self) -> usize {
        self.labels
    }

    /// The key of the ancestor with `depth` labels (`depth <= labels()`).
    pub(super) fn prefix(&self, depth: usize) -> &[u8] {
        &self.key[..usize::from(self.ends[depth])]
    }
}
