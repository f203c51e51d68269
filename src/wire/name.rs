//! Domain names: a validated, possibly compressed [`Name`] view and an owned,
//! uncompressed [`NameBuf`].
//!
//! A [`Name`] is validated once when it is read (RFC 1035 §3.1, §4.1.4; CHECKLIST W1):
//! labels of at most 63 octets, at most 255 octets in all, compression pointers that
//! point strictly before the start of the label run that holds them (so loops are
//! impossible by construction), never into the header, at most
//! [`MAX_POINTER_HOPS`] of them, and every step charged to the
//! message's decompression budget (W7). Afterwards, walking its labels cannot fail.

use core::cell::Cell;
use core::fmt;

use super::{Error, HEADER_LEN, MAX_POINTER_HOPS};

/// Longest name in wire form, root label included.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// Most steps (labels, pointers and the root) a name that parses can take.
const MAX_STEPS: u32 = 1 + 127 + MAX_POINTER_HOPS as u32 + 1;

/// A validated domain name inside some buffer, possibly using compression pointers.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    buf: &'a [u8],
    start: usize,
    wire_len: u8,
    labels: u8,
}

impl<'a> Name<'a> {
    /// Reads the name at `pos` in `msg`, charging `budget`. Returns the name and the
    /// offset just after it at its original place (after the first pointer, or the
    /// root label).
    #[inline(never)]
    pub(crate) fn parse(
        msg: &'a [u8],
        pos: usize,
        budget: &Cell<u32>,
    ) -> Result<(Name<'a>, usize), Error> {
        Self::parse_inline(msg, pos, budget)
    }

    /// [`parse`](Self::parse), inlined into the caller: for the record iterator,
    /// which reads one owner name per record.
    #[inline(always)]
    pub(crate) fn parse_inline(
        msg: &'a [u8],
        pos: usize,
        budget: &Cell<u32>,
    ) -> Result<(Name<'a>, usize), Error> {
        let left = budget.get();
        // No name that parses takes more than 1 + 127 labels + MAX_POINTER_HOPS + 1
        // steps, so with at least that much budget left the per-step charge can never
        // run out before the name ends: the fast walk counts the steps and they are
        // charged in one go. Below that, every step is charged before it is taken.
        if left >= MAX_STEPS {
            let (r, steps) = Self::parse_fast(msg, pos);
            budget.set(left - steps.min(left));
            r
        } else {
            Self::parse_charged(msg, pos, budget)
        }
    }

    /// The walk behind [`parse`](Self::parse) when the budget cannot run out: the
    /// length of a run of labels is summed once, when the run ends (at a pointer or
    /// the root), not label by label. Reports the same error as the step-by-step walk
    /// for every input, and the number of steps taken.
    #[inline(always)]
    fn parse_fast(msg: &'a [u8], pos: usize) -> (Result<(Name<'a>, usize), Error>, u32) {
        let mut p = pos;
        // Start of the current run of labels, and the uncompressed length of the runs
        // before it (root label included).
        let mut run = pos;
        let mut len = 1usize;
        let mut labels = 0u32;
        let mut hops = 0u32;
        // Offset after the first pointer; 0 means "no pointer yet".
        let mut after = 0usize;
        let mut limit = pos;
        // Where the first label (or the root) is, after any leading pointers.
        let mut first = pos;
        // The run is read through a window that ends where the name would pass 255
        // octets: a read beyond it fails like one past the message, and the error
        // is sorted out below. Runs stay short however long the labels go on, at
        // no cost per label (the bounds check is needed anyway).
        let window = |run: usize, len: usize| &msg[..msg.len().min(run + 1 + MAX_NAME_LEN - len)];
        let mut w = window(run, len);
        loop {
            let Some(&b) = w.get(p) else {
                // Only the last label of the run can have run past the end.
                let err = if len + (p - run) > MAX_NAME_LEN {
                    Error::NameTooLong
                } else if p > msg.len() {
                    Error::Truncated("label")
                } else {
                    Error::Truncated("name")
                };
                return (Err(err), labels + hops + 1);
            };
            if b < 0x40 {
                if b != 0 {
                    p += 1 + usize::from(b);
                    labels += 1;
                    continue;
                }
                let steps = labels + hops + 1;
                len += p - run;
                if len > MAX_NAME_LEN {
                    return (Err(Error::NameTooLong), steps);
                }
                // len <= 255, so labels <= 127.
                let name = Name {
                    buf: msg,
                    start: first,
                    wire_len: len as u8,
                    labels: labels as u8,
                };
                return (Ok((name, if after == 0 { p + 1 } else { after })), steps);
            }
            let steps = labels + hops + 1;
            len += p - run;
            if len > MAX_NAME_LEN {
                return (Err(Error::NameTooLong), steps);
            }
            if b < 0xC0 {
                return (Err(Error::ReservedLabelType), steps);
            }
            let Some(&lo) = msg.get(p + 1) else {
                return (Err(Error::Truncated("compression pointer")), steps);
            };
            let target = (usize::from(b & 0x3F) << 8) | usize::from(lo);
            if after == 0 {
                after = p + 2;
            }
            hops += 1;
            if hops as usize > MAX_POINTER_HOPS {
                return (Err(Error::TooManyHops), steps);
            }
            if target < HEADER_LEN {
                return (Err(Error::PointerIntoHeader), steps);
            }
            if target >= limit {
                return (Err(Error::PointerForward), steps);
            }
            limit = target;
            p = target;
            run = target;
            w = window(run, len);
            if labels == 0 {
                first = target;
            }
        }
    }

    /// The step-by-step walk behind [`parse`](Self::parse), used when the budget is
    /// nearly spent: each step is charged before it is taken, and a step with no
    /// budget left fails.
    #[cold]
    #[inline(never)]
    fn parse_charged(
        msg: &'a [u8],
        pos: usize,
        budget: &Cell<u32>,
    ) -> Result<(Name<'a>, usize), Error> {
        // The budget lives in a register for the walk and is written back once, on
        // every exit, so the `Cell` ends exactly where charging it step by step would.
        let mut left = budget.get();
        let r = Self::parse_steps(msg, pos, &mut left);
        budget.set(left);
        r
    }

    /// One step per label or pointer, each charged to `budget` before it is read.
    fn parse_steps(
        msg: &'a [u8],
        pos: usize,
        budget: &mut u32,
    ) -> Result<(Name<'a>, usize), Error> {
        let mut p = pos;
        // Offset after the first pointer; 0 means "no pointer yet" (a pointer at
        // offset p ends at p + 2 >= 2).
        let mut after = 0usize;
        let mut len: usize = 1;
        let mut labels: u8 = 0;
        let mut hops = 0usize;
        let mut limit = pos;
        // Where the first label (or the root) is, after any leading pointers, so that
        // walking the labels later need not follow those again.
        let mut first = pos;
        loop {
            if *budget == 0 {
                return Err(Error::BudgetExceeded);
            }
            *budget -= 1;
            let Some(&b) = msg.get(p) else {
                return Err(Error::Truncated("name"));
            };
            if b == 0 {
                // len <= MAX_NAME_LEN (255) and labels <= 127 by the checks below.
                let name = Name {
                    buf: msg,
                    start: first,
                    wire_len: len as u8,
                    labels,
                };
                return Ok((name, if after == 0 { p + 1 } else { after }));
            }
            if b < 0x40 {
                let l = usize::from(b);
                len += l + 1;
                if len > MAX_NAME_LEN {
                    return Err(Error::NameTooLong);
                }
                p += 1 + l;
                if p > msg.len() {
                    return Err(Error::Truncated("label"));
                }
                labels += 1;
            } else if b >= 0xC0 {
                let Some(&lo) = msg.get(p + 1) else {
                    return Err(Error::Truncated("compression pointer"));
                };
                let target = (usize::from(b & 0x3F) << 8) | usize::from(lo);
                if after == 0 {
                    after = p + 2;
                }
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(Error::TooManyHops);
                }
                if target < HEADER_LEN {
                    return Err(Error::PointerIntoHeader);
                }
                if target >= limit {
                    return Err(Error::PointerForward);
                }
                limit = target;
                p = target;
                if labels == 0 {
                    first = target;
                }
            } else {
                return Err(Error::ReservedLabelType);
            }
        }
    }

    /// Validates an uncompressed name at the start of `bytes` (no pointers allowed).
    /// Returns the name and its length in `bytes`.
    pub fn from_wire(bytes: &'a [u8]) -> Result<(Name<'a>, usize), Error> {
        // 256 steps cover any legal uncompressed name.
        let budget = Cell::new(MAX_NAME_LEN as u32 + 1);
        let (name, end) = Self::parse(bytes, 0, &budget)?;
        Ok((name, end))
    }

    /// A name the builder wrote at `start` in `buf` with this shape (taken from a
    /// validated name), viewed without validating it again. Walking the labels of a
    /// malformed one stops early (the label iterator checks every access), so a
    /// wrong shape can only make a comparison fail, never panic.
    #[inline]
    pub(crate) fn written(buf: &'a [u8], start: usize, wire_len: u8, labels: u8) -> Name<'a> {
        Name {
            buf,
            start,
            wire_len,
            labels,
        }
    }

    /// The root name.
    #[must_use]
    pub const fn root() -> Name<'static> {
        Name {
            buf: &[0],
            start: 0,
            wire_len: 1,
            labels: 0,
        }
    }

    /// Length of the name in uncompressed wire form, root label included (1..=255).
    #[must_use]
    pub fn wire_len(&self) -> usize {
        usize::from(self.wire_len)
    }

    /// Number of labels, not counting the root.
    #[must_use]
    pub fn label_count(&self) -> usize {
        usize::from(self.labels)
    }

    /// Whether this is the root name.
    #[must_use]
    pub fn is_root(&self) -> bool {
        self.labels == 0
    }

    /// The labels from the leftmost, without the root.
    #[must_use]
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            buf: self.buf,
            pos: self.start,
            left: self.labels,
        }
    }

    /// This name without its first `n` labels (the root for `n >= label_count`).
    #[must_use]
    pub fn suffix(&self, n: usize) -> Name<'a> {
        let mut it = self.labels();
        let mut len = self.wire_len();
        for _ in 0..n {
            match it.next() {
                Some(l) => len -= l.len() + 1,
                None => return Name::root(),
            }
        }
        match it.position() {
            Some(pos) => Name {
                buf: self.buf,
                start: pos,
                wire_len: u8::try_from(len).unwrap_or(1),
                labels: it.left,
            },
            None => Name::root(),
        }
    }

    /// The name without its leftmost label, as `suffix(1)` but without setting up a
    /// label iterator (the builder calls this once per label it writes).
    #[inline]
    pub(crate) fn parent(&self) -> Name<'a> {
        if self.labels == 0 {
            return Name::root();
        }
        let next = resolve(self.buf, self.start).and_then(|p| {
            let l = *self.buf.get(p)?;
            Some((l, resolve(self.buf, p + 1 + usize::from(l))?))
        });
        match next {
            Some((l, start)) => Name {
                buf: self.buf,
                start,
                wire_len: self.wire_len - (l + 1),
                labels: self.labels - 1,
            },
            None => Name::root(),
        }
    }

    /// The wire form of the first `n` labels (length octets included, no root),
    /// when they lie contiguous in the buffer: no compression pointer before the
    /// `n`-th label ends. `None` when one is met, or `n` exceeds the label count.
    #[inline]
    pub(crate) fn contiguous_prefix(&self, n: usize) -> Option<&'a [u8]> {
        if n > usize::from(self.labels) {
            return None;
        }
        let mut p = self.start;
        for _ in 0..n {
            let b = *self.buf.get(p)?;
            if b >= 0xC0 {
                return None;
            }
            p += 1 + usize::from(b);
        }
        self.buf.get(self.start..p)
    }

    /// ASCII case-insensitive equality (RFC 4343).
    #[must_use]
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        if self.wire_len != other.wire_len || self.labels != other.labels {
            return false;
        }
        self.labels()
            .zip(other.labels())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// Whether `self` equals `zone` or lies below it (case-insensitive).
    #[must_use]
    pub fn ends_with(&self, zone: &Name<'_>) -> bool {
        if zone.labels > self.labels {
            return false;
        }
        self.suffix(usize::from(self.labels - zone.labels))
            .eq_ignore_case(zone)
    }

    /// Writes the uncompressed wire form into `out`; returns the length, or `None`
    /// when `out` is too small.
    pub fn write_uncompressed(&self, out: &mut [u8]) -> Option<usize> {
        let n = self.wire_len();
        let dst = out.get_mut(..n)?;
        let mut i = 0;
        for l in self.labels() {
            *dst.get_mut(i)? = l.len() as u8;
            dst.get_mut(i + 1..i + 1 + l.len())?.copy_from_slice(l);
            i += 1 + l.len();
        }
        *dst.get_mut(i)? = 0;
        Some(n)
    }

    /// An owned, uncompressed copy.
    #[must_use]
    pub fn to_buf(&self) -> NameBuf {
        let mut b = NameBuf::root();
        if let Some(n) = self.write_uncompressed(&mut b.bytes) {
            b.len = n as u8;
            b.labels = self.labels;
        }
        b
    }
}

impl PartialEq for Name<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.eq_ignore_case(other)
    }
}
impl Eq for Name<'_> {}

/// Follows compression pointers from `p` to the next label or root byte.
#[inline]
fn resolve(buf: &[u8], mut p: usize) -> Option<usize> {
    for _ in 0..=MAX_POINTER_HOPS {
        let b = *buf.get(p)?;
        if b < 0xC0 {
            return Some(p);
        }
        p = (usize::from(b & 0x3F) << 8) | usize::from(*buf.get(p + 1)?);
    }
    None
}

/// Iterator over the labels of a [`Name`], leftmost first.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u8,
}

impl<'a> Labels<'a> {
    /// Offset of the next label's length byte, after following pointers.
    #[inline]
    fn position(&mut self) -> Option<usize> {
        for _ in 0..=MAX_POINTER_HOPS {
            let b = *self.buf.get(self.pos)?;
            if b < 0xC0 {
                return Some(self.pos);
            }
            let lo = *self.buf.get(self.pos + 1)?;
            self.pos = (usize::from(b & 0x3F) << 8) | usize::from(lo);
        }
        None
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // Fast path: the next label is right here (no pointer to follow).
        let p = match self.buf.get(self.pos) {
            Some(&b) if b < 0xC0 => self.pos,
            _ => self.position()?,
        };
        let (&l, rest) = self.buf.get(p..)?.split_first()?;
        let label = rest.get(..usize::from(l))?;
        self.pos = p + 1 + label.len();
        self.left -= 1;
        Some(label)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// Writes one label in presentation format, escaping as RFC 1035 §5.1 allows.
pub(crate) fn fmt_label(label: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for &c in label {
        match c {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", c as char)?,
            0x21..=0x7E => write!(f, "{}", c as char)?,
            _ => write!(f, "\\{c:03}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for l in self.labels() {
            fmt_label(l, f)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// An owned, uncompressed name in a fixed 255-byte array (no allocation).
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
    labels: u8,
}

impl NameBuf {
    /// The root name.
    #[must_use]
    pub const fn root() -> Self {
        NameBuf {
            bytes: [0; MAX_NAME_LEN],
            len: 1,
            labels: 0,
        }
    }

    /// Parses a name in presentation format (`www.example.test`, with or without the
    /// trailing dot; `\.` and `\DDD` escapes). Every name is taken as absolute.
    pub fn from_presentation(s: &str) -> Result<Self, Error> {
        let mut out = NameBuf::root();
        if s == "." || s.is_empty() {
            return Ok(out);
        }
        let src = s.as_bytes();
        let mut i = 0;
        let mut w = 0usize; // position of the current label's length byte
        let mut label_len = 0usize;
        let mut labels = 0u8;
        let put = |out: &mut NameBuf, at: usize, b: u8| -> Result<(), Error> {
            *out.bytes.get_mut(at).ok_or(Error::NameTooLong)? = b;
            Ok(())
        };
        while i < src.len() {
            let c = src[i];
            if c == b'.' {
                if label_len == 0 {
                    return Err(Error::BadPresentation("empty label"));
                }
                put(&mut out, w, label_len as u8)?;
                w += 1 + label_len;
                label_len = 0;
                labels = labels.saturating_add(1);
                i += 1;
                continue;
            }
            let byte = if c == b'\\' {
                let d = src.get(i + 1..i + 4);
                match d {
                    Some(d) if d.iter().all(u8::is_ascii_digit) => {
                        let v = u16::from(d[0] - b'0') * 100
                            + u16::from(d[1] - b'0') * 10
                            + u16::from(d[2] - b'0');
                        i += 4;
                        u8::try_from(v).map_err(|_| Error::BadPresentation("escape above 255"))?
                    }
                    _ => {
                        let e = *src
                            .get(i + 1)
                            .ok_or(Error::BadPresentation("dangling escape"))?;
                        if e.is_ascii_digit() {
                            return Err(Error::BadPresentation("short \\DDD escape"));
                        }
                        i += 2;
                        e
                    }
                }
            } else {
                i += 1;
                c
            };
            label_len += 1;
            if label_len > MAX_LABEL_LEN {
                return Err(Error::LabelTooLong);
            }
            put(&mut out, w + label_len, byte)?;
        }
        if label_len > 0 {
            put(&mut out, w, label_len as u8)?;
            w += 1 + label_len;
            labels = labels.saturating_add(1);
        }
        put(&mut out, w, 0)?;
        out.len = u8::try_from(w + 1).map_err(|_| Error::NameTooLong)?;
        out.labels = labels;
        Ok(out)
    }

    /// The uncompressed wire form.
    #[must_use]
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Overwrites this buffer with an uncompressed copy of `name` (as
    /// [`Name::to_buf`], without building a fresh 255-byte buffer). Bytes past the
    /// new length are left as they were; nothing reads them.
    pub(crate) fn set_from(&mut self, name: &Name<'_>) {
        match name.write_uncompressed(&mut self.bytes) {
            Some(n) => {
                self.len = n as u8;
                self.labels = name.labels;
            }
            None => {
                self.bytes[0] = 0;
                self.len = 1;
                self.labels = 0;
            }
        }
    }

    /// `self.as_name().eq_ignore_case(other)`, with a fast path: when `other` is
    /// stored uncompressed, one case-insensitive comparison of the used bytes. A
    /// raw match is exact: every label boundary of `self` holds a length byte
    /// (at most 63) that only an equal length byte of `other` matches, so a
    /// compression pointer in `other` never matches.
    #[must_use]
    pub(crate) fn eq_name_ignore_case(&self, other: &Name<'_>) -> bool {
        if self.len != other.wire_len || self.labels != other.labels {
            return false;
        }
        let mine = self.as_wire();
        let theirs = other
            .start
            .checked_add(mine.len())
            .and_then(|end| other.buf.get(other.start..end));
        if theirs.is_some_and(|t| mine.eq_ignore_ascii_case(t)) {
            return true;
        }
        self.as_name().eq_ignore_case(other)
    }

    /// A [`Name`] view of this buffer.
    #[must_use]
    pub fn as_name(&self) -> Name<'_> {
        Name {
            buf: self.as_wire(),
            start: 0,
            wire_len: self.len,
            labels: self.labels,
        }
    }
}

impl PartialEq for NameBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_name().eq_ignore_case(&other.as_name())
    }
}
impl Eq for NameBuf {}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_name(), f)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({})", self.as_name())
    }
}

impl core::str::FromStr for NameBuf {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_presentation(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    fn budget() -> Cell<u32> {
        Cell::new(10_000)
    }

    fn msg_with(tail: &[u8]) -> [u8; 64] {
        let mut m = [0u8; 64];
        m[12..12 + tail.len()].copy_from_slice(tail);
        m
    }

    #[test]
    fn w1_plain_and_compressed() {
        // 12: 3www7example4test0   then at 30: 4mail + ptr->16 (example.test)
        let mut m = msg_with(b"\x03www\x07example\x04test\x00\x04mail\xC0\x10");
        m[0] = 0;
        let b = budget();
        let (n, end) = Name::parse(&m, 12, &b).unwrap();
        assert_eq!(end, 30);
        assert_eq!(n.to_string(), "www.example.test.");
        let (n2, end2) = Name::parse(&m, 30, &b).unwrap();
        assert_eq!(end2, 37);
        assert_eq!(n2.to_string(), "mail.example.test.");
        assert_eq!(n2.label_count(), 3);
        assert_eq!(n2.wire_len(), 19);
        assert!(n2.ends_with(&n.suffix(1)));
        assert!(!n2.ends_with(&n));
        let nb = NameBuf::from_presentation("MAIL.Example.TEST").unwrap();
        assert!(nb.as_name().eq_ignore_case(&n2));
        assert_eq!(n2.to_buf(), nb);
    }

    #[test]
    fn parent_is_suffix_1() {
        let m = msg_with(b"\x03www\x07example\x04test\x00\x04mail\xC0\x10\xC0\x1E");
        let b = budget();
        for pos in [12, 30, 37] {
            let (mut n, _) = Name::parse(&m, pos, &b).unwrap();
            loop {
                let (p, s) = (n.parent(), n.suffix(1));
                assert_eq!(
                    (p.start, p.wire_len, p.labels, p.buf.as_ptr()),
                    (s.start, s.wire_len, s.labels, s.buf.as_ptr())
                );
                if n.is_root() {
                    break;
                }
                n = p;
            }
        }
    }

    #[test]
    fn w1_pointer_loops_rejected() {
        // self pointer at 12
        let m = msg_with(b"\xC0\x0C");
        assert_eq!(
            Name::parse(&m, 12, &budget()).unwrap_err(),
            Error::PointerForward
        );
        // two-cycle: 12 -> 14, 14 -> 12
        let m = msg_with(b"\xC0\x0E\xC0\x0C");
        assert_eq!(
            Name::parse(&m, 12, &budget()).unwrap_err(),
            Error::PointerForward
        );
        assert_eq!(
            Name::parse(&m, 14, &budget()).unwrap_err(),
            Error::PointerForward
        );
        // forward pointer
        let m = msg_with(b"\xC0\x20");
        assert_eq!(
            Name::parse(&m, 12, &budget()).unwrap_err(),
            Error::PointerForward
        );
        // label then pointer back to its own label start
        let m = msg_with(b"\x01a\xC0\x0C");
        assert_eq!(
            Name::parse(&m, 12, &budget()).unwrap_err(),
            Error::PointerForward
        );
        // into the header
        let m = msg_with(b"\x01a\xC0\x02");
        assert_eq!(
            Name::parse(&m, 12, &budget()).unwrap_err(),
            Error::PointerIntoHeader
        );
        // past the end
        let m = [0u8; 13];
        assert_eq!(
            Name::parse(&m, 13, &budget()).unwrap_err(),
            Error::Truncated("name")
        );
    }

    #[test]
    fn w1_limits() {
        let mut long = [0u8; 80];
        long[12] = 64;
        assert_eq!(
            Name::parse(&long, 12, &budget()).unwrap_err(),
            Error::ReservedLabelType
        );
        long[12] = 0x40;
        assert_eq!(
            Name::parse(&long, 12, &budget()).unwrap_err(),
            Error::ReservedLabelType
        );
        long[12] = 0x80;
        assert_eq!(
            Name::parse(&long, 12, &budget()).unwrap_err(),
            Error::ReservedLabelType
        );
        // 63 is fine
        let mut ok = [b'a'; 80];
        ok[12] = 63;
        ok[76] = 0;
        assert_eq!(Name::parse(&ok, 12, &budget()).unwrap().0.wire_len(), 65);
        assert_eq!(
            NameBuf::from_presentation(&"a".repeat(64)).unwrap_err(),
            Error::LabelTooLong
        );
        // 4 * 63-byte labels = 256 > 255
        let s = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert_eq!(
            NameBuf::from_presentation(&s).unwrap_err(),
            Error::NameTooLong
        );
        let s = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(NameBuf::from_presentation(&s).unwrap().as_wire().len(), 255);
    }

    #[test]
    fn w1_256_octets_via_pointers() {
        // Four names each adding a 63-byte label before a pointer to the previous one.
        let mut m = [0u8; 400];
        let mut pos = 12;
        m[pos] = 0;
        let mut prev = pos;
        pos += 1;
        for i in 0..4 {
            let start = pos;
            m[pos] = 63;
            m[pos + 1..pos + 64].fill(b'a' + i);
            m[pos + 64] = 0xC0 | (prev >> 8) as u8;
            m[pos + 65] = prev as u8;
            prev = start;
            pos += 66;
        }
        let b = budget();
        // three labels: 3*64 + 1 = 193 fine; four: 257 too long
        assert!(Name::parse(&m, 13 + 2 * 66, &b).is_ok());
        assert_eq!(Name::parse(&m, prev, &b).unwrap_err(), Error::NameTooLong);
    }

    #[test]
    fn w7_budget_and_hops() {
        // a chain of 100 pointers each to the previous one
        let mut m = [0u8; 256];
        m[12] = 0;
        for i in 0..100 {
            let at = 13 + 2 * i;
            let target = if i == 0 { 12 } else { at - 2 };
            m[at] = 0xC0;
            m[at + 1] = target as u8;
        }
        assert_eq!(
            Name::parse(&m, 13 + 2 * 99, &budget()).unwrap_err(),
            Error::TooManyHops
        );
        assert!(Name::parse(&m, 13 + 2 * 40, &budget()).is_ok());
        let b = Cell::new(10);
        assert_eq!(
            Name::parse(&m, 13 + 2 * 40, &b).unwrap_err(),
            Error::BudgetExceeded
        );
    }

    #[test]
    fn display_escapes() {
        let n = NameBuf::from_presentation("a\\.b.c\\\\d.\\000x").unwrap();
        assert_eq!(n.as_name().label_count(), 3);
        assert_eq!(n.to_string(), "a\\.b.c\\\\d.\\000x.");
        assert_eq!(NameBuf::root().to_string(), ".");
        assert_eq!(
            NameBuf::from_presentation("a..b").unwrap_err(),
            Error::BadPresentation("empty label")
        );
        assert!(NameBuf::from_presentation("\\256").is_err());
        assert_eq!(Name::root().to_string(), ".");
    }

    /// W1/W7: the fast walk (run lengths summed at pointers and the root, steps
    /// counted, not charged) and the step-by-step charged walk agree on the result,
    /// the error and, for names that parse, the steps, over half a million
    /// generated names: valid and broken labels, pointers back, forward, into the
    /// header and past the end, reserved label types, long runs (up to 1200 octets of
    /// one-octet labels) and truncation anywhere. No walk takes more than
    /// `MAX_STEPS` steps.
    #[test]
    fn w1_w7_fast_and_charged_walks_agree() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut outcomes = [0usize; 3];
        for _ in 0..500_000 {
            let mut m = [0u8; 1200];
            let mut i = 12;
            // One message in four holds only labels, so long runs get past 255;
            // half of those are runs of very short labels up to 1200 octets long.
            let only_labels = rand(4) == 0;
            let tiny = only_labels && rand(2) == 0;
            let len = 12 + rand(if only_labels { 1188 } else { 288 }) as usize;
            while i < len {
                // Mostly plausible labels, sometimes anything.
                let b = match if only_labels { 6 + rand(10) } else { rand(16) } {
                    0 => 0,
                    1..=3 => 0xC0 | rand(2) as u8,
                    4 => rand(256) as u8,
                    5 => 0x3F,
                    _ if tiny => 1 + rand(3) as u8,
                    _ if only_labels => 1 + rand(63) as u8,
                    _ => 1 + rand(8) as u8,
                };
                m[i] = b;
                i += 1;
                if b < 0x40 {
                    for _ in 0..b {
                        if i < len {
                            m[i] = b'a' + rand(26) as u8;
                            i += 1;
                        }
                    }
                } else if i < len {
                    m[i] = rand(len as u64) as u8;
                    i += 1;
                }
            }
            let msg = &m[..len];
            let pos = if only_labels {
                12
            } else {
                12 + rand((len - 11) as u64) as usize
            };
            let (fast, steps) = Name::parse_fast(msg, pos);
            // However long the labels go on, one walk stays within the bound that
            // lets `parse` skip charging step by step.
            assert!(steps <= MAX_STEPS, "{steps} steps: {msg:02x?} at {pos}");
            let mut left = u32::MAX;
            let charged = Name::parse_steps(msg, pos, &mut left);
            match (&fast, &charged) {
                (Ok((a, ea)), Ok((b, eb))) => {
                    assert_eq!(
                        (a.start, a.wire_len, a.labels, ea),
                        (b.start, b.wire_len, b.labels, eb),
                        "{msg:02x?} at {pos}"
                    );
                    assert_eq!(steps, u32::MAX - left, "{msg:02x?} at {pos}");
                    outcomes[0] += 1;
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "{msg:02x?} at {pos}");
                    outcomes[1 + usize::from(*a == Error::NameTooLong)] += 1;
                }
                _ => panic!("{msg:02x?} at {pos}: {fast:?} vs {charged:?}"),
            }
        }
        // The generator reaches names that parse, errors and over-long names.
        assert!(outcomes.iter().all(|&n| n > 1000), "{outcomes:?}");
    }

    #[test]
    fn contiguous_prefix_stops_at_pointers() {
        let m = msg_with(b"\x03www\x07example\x04test\x00\x04mail\xC0\x10");
        let b = budget();
        let (n, _) = Name::parse(&m, 12, &b).unwrap();
        assert_eq!(n.contiguous_prefix(0), Some(&b""[..]));
        assert_eq!(n.contiguous_prefix(2), Some(&b"\x03www\x07example"[..]));
        assert_eq!(
            n.contiguous_prefix(3),
            Some(&b"\x03www\x07example\x04test"[..])
        );
        assert_eq!(n.contiguous_prefix(4), None);
        let (n, _) = Name::parse(&m, 30, &b).unwrap();
        assert_eq!(n.contiguous_prefix(1), Some(&b"\x04mail"[..]));
        assert_eq!(n.contiguous_prefix(2), None);
    }
}
