//! Building messages into a caller-owned `&mut [u8]` (CHECKLIST W4, W8).
//!
//! Sections are written in order — question, answer, authority, additional — and a
//! push into an earlier section after a later one is [`BuildError::SectionOrder`].
//! Every push either succeeds completely or leaves the message exactly as it was, so
//! after [`BuildError::NoSpace`] the caller can set TC and [`finish`](Builder::finish)
//! what fits. Names are compressed through a fixed table of 32 entries; pointers
//! never address offsets at or above 16384.
//!
//! ```
//! use dnstcp::wire::{Builder, Message, NameBuf, RData, Rtype, Class};
//! let mut buf = [0u8; 512];
//! let name: NameBuf = "www.example.test".parse().unwrap();
//! let mut b = Builder::new(&mut buf, 0x1234);
//! b.header_mut().set_qr(true);
//! b.push_question(&name.as_name(), Rtype::A, Class::In).unwrap();
//! b.answer(&name.as_name(), 300, &RData::A([192, 0, 2, 1].into())).unwrap();
//! let len = b.finish();
//! let msg = Message::new(&buf[..len]).unwrap();
//! assert_eq!(msg.answers().unwrap().count(), 1);
//! ```

use core::fmt;

use super::HEADER_LEN;
use super::compress::{Compressor, MAX_COMPRESSION_OFFSET};
use super::edns::{Opt, OptWriter};
use super::header::Header;
use super::message::{Message, Section};
use super::name::Name;
use super::record::RData;
use super::types::{Class, Rtype};

/// Why a push failed. The message is unchanged after any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The buffer (or the configured limit) is too small; `required` is the message
    /// length at which the push ran out of room, a lower bound of what it needs.
    NoSpace {
        /// Message length at which the push ran out of room (a lower bound).
        required: usize,
    },
    /// A section count would pass 65535.
    CountOverflow,
    /// A value is outside what the wire format allows (e.g. RDATA over 65535 octets).
    LimitExceeded,
    /// A push into a section before the current one.
    SectionOrder,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoSpace { required } => write!(f, "no space: {required} bytes needed"),
            BuildError::CountOverflow => f.write_str("section count overflow"),
            BuildError::LimitExceeded => f.write_str("value exceeds a wire-format limit"),
            BuildError::SectionOrder => f.write_str("sections must be written in order"),
        }
    }
}

impl core::error::Error for BuildError {}

#[cfg(feature = "std")]
impl From<BuildError> for std::io::Error {
    fn from(e: BuildError) -> Self {
        std::io::Error::other(e)
    }
}

/// A message under construction in a caller buffer.
pub struct Builder<'b> {
    buf: &'b mut [u8],
    len: usize,
    limit: usize,
    header: Header,
    counts: [u16; 4],
    section: Section,
    compress: Compressor,
    question_end: Option<Checkpoint>,
}

/// A position to return to with [`Builder::rollback`].
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint {
    len: usize,
    counts: [u16; 4],
    section: Section,
    compress_len: usize,
}

fn section_index(s: Section) -> usize {
    match s {
        Section::Question => 0,
        Section::Answer => 1,
        Section::Authority => 2,
        Section::Additional => 3,
    }
}

impl<'b> Builder<'b> {
    /// Starts a message with ID `id` and all flags clear. A buffer shorter than the
    /// 12-byte header yields a builder whose every push fails with `NoSpace`, and
    /// whose [`finish`](Self::finish) returns 0.
    pub fn new(buf: &'b mut [u8], id: u16) -> Self {
        let mut header = Header::new();
        header.set_id(id);
        let limit = buf.len().min(usize::from(u16::MAX));
        Builder {
            buf,
            len: HEADER_LEN,
            limit,
            header,
            counts: [0; 4],
            section: Section::Question,
            compress: Compressor::new(),
            question_end: None,
        }
    }

    /// Starts a response to `query`: same ID, opcode and RD, QR set, and the query's
    /// first question copied when it parses (an unparseable question is left out).
    pub fn response_to(buf: &'b mut [u8], query: &Message<'_>) -> Self {
        let mut b = Builder::new(buf, query.id());
        let qh = query.header();
        b.header.set_qr(true);
        b.header.set_opcode(qh.opcode());
        b.header.set_rd(qh.rd());
        b.header.set_cd(qh.cd());
        if let Ok(Some(q)) = query.first_question() {
            let _ = b.push_question(&q.name, q.qtype, q.qclass);
        }
        b
    }

    /// Caps the message length below the buffer size (e.g. 512 for a UDP answer).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.buf.len()).min(usize::from(u16::MAX));
    }

    /// The header; section counts are filled in by [`finish`](Self::finish).
    pub fn header_mut(&mut self) -> &mut Header {
        &mut self.header
    }

    /// The header as it stands.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Bytes written so far (header included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing but the header is there.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER_LEN
    }

    /// The record counts per section (question, answer, authority, additional).
    #[must_use]
    pub fn counts(&self) -> [u16; 4] {
        self.counts
    }

    /// Remembers the current state for [`rollback`](Self::rollback).
    #[must_use]
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.len,
            counts: self.counts,
            section: self.section,
            compress_len: self.compress.len(),
        }
    }

    /// Returns to a checkpoint, dropping everything pushed since.
    pub fn rollback(&mut self, cp: Checkpoint) {
        self.len = cp.len.min(self.len);
        self.counts = cp.counts;
        self.section = cp.section;
        self.compress.truncate(cp.compress_len);
        if cp.section == Section::Question {
            // The question section is open again: where it ends is not known yet.
            self.question_end = None;
        }
    }

    /// Drops every record after the question section (for a truncated answer).
    pub fn clear_records(&mut self) {
        // Questions end where the first record starts; re-derive by rebuilding counts.
        if let Some(end) = self.question_end.take() {
            self.len = end.len;
            self.counts = end.counts;
            self.section = Section::Question;
            self.compress.truncate(end.compress_len);
        }
    }

    /// Writes the header with its counts and returns the message length.
    pub fn finish(mut self) -> usize {
        self.write_header()
    }

    /// Like [`finish`](Self::finish) but keeps the builder usable.
    pub fn write_header(&mut self) -> usize {
        if self.buf.len() < HEADER_LEN {
            return 0;
        }
        self.header.set_qdcount(self.counts[0]);
        self.header.set_ancount(self.counts[1]);
        self.header.set_nscount(self.counts[2]);
        self.header.set_arcount(self.counts[3]);
        self.header.write_to(self.buf);
        self.len
    }

    /// The bytes written so far; the header there is current only after
    /// [`write_header`](Self::write_header).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    // ---- low-level writing -------------------------------------------------

    fn put(&mut self, bytes: &[u8]) -> Result<(), BuildError> {
        let end = self.len + bytes.len();
        if end > self.limit {
            return Err(BuildError::NoSpace { required: end });
        }
        self.buf
            .get_mut(self.len..end)
            .ok_or(BuildError::NoSpace { required: end })?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn put_u16(&mut self, v: u16) -> Result<(), BuildError> {
        self.put(&v.to_be_bytes())
    }

    fn put_u32(&mut self, v: u32) -> Result<(), BuildError> {
        self.put(&v.to_be_bytes())
    }

    /// Writes `name`, compressed against earlier names when `compress` is set, and
    /// remembers its suffixes for later names.
    fn put_name(&mut self, name: &Name<'_>, compress: bool) -> Result<(), BuildError> {
        let labels = name.label_count();
        let mut pointer = None;
        let mut written = labels;
        // `suffix` steps one label at a time (`parent`, the same as `suffix(1)`):
        // `name.suffix(i)` would walk i labels from the start for every i.
        // An empty table (the question) has nothing to find.
        if compress && self.compress.len() > 0 {
            // A buffer shorter than the header has `len > buf.len()`: nothing to
            // search (the first `put` below reports `NoSpace`).
            let written_so_far = self.buf.get(..self.len).unwrap_or(&[]);
            let mut suffix = *name;
            for i in 0..labels {
                if let Some(off) = self.compress.find(written_so_far, &suffix) {
                    pointer = Some(off);
                    written = i;
                    break;
                }
                suffix = suffix.parent();
            }
        }
        if !self.put_run(name, written, compress) {
            // Each suffix written here is remembered by its shape: its length and
            // label count go down by one label at a time.
            let mut wire_len = name.wire_len();
            let mut left = labels;
            for label in name.labels().take(written) {
                let at = self.len;
                let end = at + 1 + label.len();
                // The same errors as `put` of the length octet, then of the label.
                if at + 1 > self.limit {
                    return Err(BuildError::NoSpace { required: at + 1 });
                }
                let Some(dst) = self.buf.get_mut(at..end).filter(|_| end <= self.limit) else {
                    return Err(BuildError::NoSpace { required: end });
                };
                dst[0] = label.len() as u8;
                dst[1..].copy_from_slice(label);
                self.len = end;
                if compress {
                    self.compress.remember_shape(at, wire_len, left);
                    wire_len -= 1 + label.len();
                    left -= 1;
                }
            }
        }
        match pointer {
            Some(off) if usize::from(off) < MAX_COMPRESSION_OFFSET => self.put_u16(0xC000 | off),
            _ => self.put(&[0]),
        }
    }

    /// Writes the first `written` labels of `name` with one copy when they lie
    /// contiguous in the source (no pointer among them, as in any uncompressed
    /// name) and fit, then remembers their shapes from what was written. Returns
    /// false, having written nothing, otherwise: the caller goes label by label,
    /// which also reports running out of space exactly.
    #[inline(always)]
    fn put_run(&mut self, name: &Name<'_>, written: usize, compress: bool) -> bool {
        let Some(src) = (written > 1)
            .then(|| name.contiguous_prefix(written))
            .flatten()
        else {
            return false;
        };
        let at = self.len;
        let end = at + src.len();
        let Some(dst) = self.buf.get_mut(at..end).filter(|_| end <= self.limit) else {
            return false;
        };
        dst.copy_from_slice(src);
        self.len = end;
        if compress {
            let (mut wire_len, mut left, mut p) = (name.wire_len(), name.label_count(), at);
            for _ in 0..written {
                let l = usize::from(src[p - at]);
                self.compress.remember_shape(p, wire_len, left);
                wire_len -= 1 + l;
                left -= 1;
                p += 1 + l;
            }
        }
        true
    }

    fn enter(&mut self, s: Section) -> Result<(), BuildError> {
        if section_index(s) < section_index(self.section) {
            return Err(BuildError::SectionOrder);
        }
        if self.section == Section::Question
            && s != Section::Question
            && self.question_end.is_none()
        {
            self.question_end = Some(self.checkpoint());
        }
        self.section = s;
        if self.counts[section_index(s)] == u16::MAX {
            return Err(BuildError::CountOverflow);
        }
        Ok(())
    }

    fn transaction(
        &mut self,
        s: Section,
        f: impl FnOnce(&mut Self) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let cp = self.checkpoint();
        let qe = self.question_end;
        let r = self.enter(s).and_then(|()| f(self));
        match r {
            Ok(()) => {
                self.counts[section_index(s)] += 1;
                Ok(())
            }
            Err(e) => {
                self.rollback(cp);
                self.question_end = qe;
                Err(e)
            }
        }
    }

    // ---- questions and records ---------------------------------------------

    /// Appends a question.
    pub fn push_question(
        &mut self,
        name: &Name<'_>,
        qtype: Rtype,
        qclass: Class,
    ) -> Result<(), BuildError> {
        self.question_with(name, qtype, qclass, true)
    }

    /// [`push_question`](Self::push_question) without remembering the name for
    /// compression: the same bytes, for messages (queries) in which no later name
    /// could point at it.
    pub(crate) fn push_question_uncompressed(
        &mut self,
        name: &Name<'_>,
        qtype: Rtype,
        qclass: Class,
    ) -> Result<(), BuildError> {
        self.question_with(name, qtype, qclass, false)
    }

    fn question_with(
        &mut self,
        name: &Name<'_>,
        qtype: Rtype,
        qclass: Class,
        compress: bool,
    ) -> Result<(), BuildError> {
        self.transaction(Section::Question, |b| {
            b.put_name(name, compress)?;
            b.put_u16(qtype.to_int())?;
            b.put_u16(qclass.to_int())
        })
    }

    /// Appends a class-IN record to the answer section.
    pub fn answer(
        &mut self,
        owner: &Name<'_>,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.push(Section::Answer, owner, Class::In, ttl, data)
    }

    /// Appends a class-IN record to the authority section.
    pub fn authority(
        &mut self,
        owner: &Name<'_>,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.push(Section::Authority, owner, Class::In, ttl, data)
    }

    /// Appends a class-IN record to the additional section.
    pub fn additional(
        &mut self,
        owner: &Name<'_>,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.push(Section::Additional, owner, Class::In, ttl, data)
    }

    /// Appends a record to `section` (not [`Section::Question`]).
    pub fn push(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        class: Class,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.push_owned(section, Owner::Name(owner), class, ttl, data)
    }

    /// Where the owner of the record that starts at `record_start` is, as a
    /// compression entry: what [`push`](Self::push) would point to for a later record
    /// with an owner byte-equal to that one (`owner`), as long as nothing was rolled
    /// back since. `None` when the owner did not become an entry (table full, or past
    /// the 16 KiB pointers reach).
    // Used by the std-only zone module.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn owner_entry(&self, record_start: usize, owner: &Name<'_>) -> Option<u16> {
        let out = self.buf.get(..self.len)?;
        let b = *out.get(record_start)?;
        let at = if b >= 0xC0 {
            // Compressed whole: the first entry equal to the owner.
            (usize::from(b & 0x3F) << 8) | usize::from(*out.get(record_start + 1)?)
        } else {
            record_start
        };
        self.compress.has_entry(at, owner).then_some(at as u16)
    }

    /// [`push`](Self::push) of a record whose owner is the name at compression entry
    /// `entry` (from [`owner_entry`](Self::owner_entry)): the same octets `push`
    /// would write for that owner, without searching the table.
    // Used by the std-only zone module.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn push_at_entry(
        &mut self,
        section: Section,
        entry: u16,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        self.push_owned(section, Owner::Entry(entry), Class::In, ttl, data)
    }

    fn push_owned(
        &mut self,
        section: Section,
        owner: Owner<'_, '_>,
        class: Class,
        ttl: u32,
        data: &RData<'_>,
    ) -> Result<(), BuildError> {
        if section == Section::Question {
            return Err(BuildError::SectionOrder);
        }
        // OPT carries the UDP size in CLASS and flags in TTL (RFC 6891 §6.1.2).
        let (class, ttl) = match data {
            RData::Opt(o) => (o.udp_size(), opt_ttl(o)),
            _ => (class.to_int(), ttl),
        };
        self.transaction(section, |b| {
            match owner {
                Owner::Name(n) => b.put_name(n, true)?,
                Owner::Entry(off) => b.put_u16(0xC000 | off)?,
            }
            b.put_u16(data.rtype().to_int())?;
            b.put_u16(class)?;
            b.put_u32(ttl)?;
            let len_at = b.len;
            b.put_u16(0)?;
            b.put_rdata(data)?;
            let rdlen = u16::try_from(b.len - len_at - 2).map_err(|_| BuildError::LimitExceeded)?;
            b.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
            Ok(())
        })
    }

    /// Appends a record whose RDATA is given raw (never compressed, RFC 3597).
    pub fn push_raw(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        rtype: Rtype,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), BuildError> {
        self.push(
            section,
            owner,
            class,
            ttl,
            &RData::Unknown { rtype, data: rdata },
        )
    }

    fn put_rdata(&mut self, data: &RData<'_>) -> Result<(), BuildError> {
        match data {
            RData::A(a) => self.put(&a.octets()),
            RData::Aaaa(a) => self.put(&a.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => self.put_name(n, true),
            RData::Mx {
                preference,
                exchange,
            } => {
                self.put_u16(*preference)?;
                self.put_name(exchange, true)
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                self.put_name(mname, true)?;
                self.put_name(rname, true)?;
                for v in [serial, refresh, retry, expire, minimum] {
                    self.put_u32(*v)?;
                }
                Ok(())
            }
            RData::Txt(t) => self.put(t.as_wire()),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                self.put_u16(*priority)?;
                self.put_u16(*weight)?;
                self.put_u16(*port)?;
                // RFC 2782: the target is not compressed.
                self.put_name(target, false)
            }
            RData::Opt(o) => self.put(o.raw_options()),
            RData::Unknown { data, .. } => self.put(data),
        }
    }

    /// Appends an OPT record (RFC 6891) to the additional section; `options` writes
    /// its options. `ext_rcode` is the upper eight bits of a 12-bit RCODE (use
    /// [`set_rcode`](Self::set_rcode) to set both halves).
    pub fn push_opt(
        &mut self,
        udp_size: u16,
        ext_rcode: u8,
        version: u8,
        dnssec_ok: bool,
        options: impl FnOnce(&mut OptWriter<'_>) -> Result<(), BuildError>,
    ) -> Result<(), BuildError> {
        let ttl = (u32::from(ext_rcode) << 24)
            | (u32::from(version) << 16)
            | if dnssec_ok { 0x8000 } else { 0 };
        self.transaction(Section::Additional, |b| {
            b.put(&[0])?;
            b.put_u16(Rtype::Opt.to_int())?;
            b.put_u16(udp_size)?;
            b.put_u32(ttl)?;
            let len_at = b.len;
            b.put_u16(0)?;
            let mut w = OptWriter {
                buf: &mut *b.buf,
                len: b.len,
                limit: b.limit,
            };
            options(&mut w)?;
            b.len = w.len;
            let rdlen = u16::try_from(b.len - len_at - 2).map_err(|_| BuildError::LimitExceeded)?;
            b.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
            Ok(())
        })
    }

    /// Sets a full 12-bit RCODE: the low four bits in the header and, when `opt_ttl_at`
    /// is known, the upper eight bits are the caller's to put in the OPT record
    /// (see [`push_opt`](Self::push_opt)). Returns the upper eight bits.
    pub fn set_rcode(&mut self, rcode: super::types::Rcode) -> u8 {
        let v = rcode.to_int();
        self.header.set_rcode_low((v & 0xF) as u8);
        (v >> 4) as u8
    }
}

/// The OPT TTL field as the view holds it, Z bits included, so a pushed OPT reads
/// back identically.
/// A record's owner: a name, or a pointer to a compression entry known to hold it.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "std"), allow(dead_code))]
enum Owner<'n, 'a> {
    Name(&'n Name<'a>),
    Entry(u16),
}

fn opt_ttl(o: &Opt<'_>) -> u32 {
    o.raw_ttl()
}
