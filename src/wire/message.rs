//! A zero-copy view of a DNS message (RFC 1035 §4.1).
//!
//! [`Message::new`] checks only that a header is present; sections are read lazily as
//! iterators of `Result<_, Error>` in wire order, fused after the first error.
//! [`Message::check`] walks everything once and enforces the whole-message rules:
//! OPT placement (E1) and trailing data (W6).

use core::cell::Cell;
use core::fmt;

use super::edns::Opt;
use super::header::Header;
use super::name::Name;
use super::reader::{u16_at, u32_at};
use super::record::RData;
use super::types::{Class, Opcode, Rcode, Rtype};
use super::{BUDGET_BASE, BUDGET_PER_BYTE, Error, HEADER_LEN};

/// The sections of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// The question section.
    Question,
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
}

/// A message view over borrowed bytes.
///
/// It carries the decompression budget (W7) in a `Cell`: every top-level walk
/// ([`questions`](Self::questions), [`records`](Self::records) and the accessors built
/// on them) starts with a full allowance proportional to the message length, and
/// every name read during that walk, in any section or RDATA, draws from it. One walk
/// therefore costs linear work however hostile the pointers; repeated walks of a
/// legitimate message never run dry. Every name
/// read through this view, in any section or RDATA, draws from one allowance.
pub struct Message<'a> {
    bytes: &'a [u8],
    header: Header,
    budget: Cell<u32>,
    full_budget: u32,
    /// Where the records start, once a walk has read every question (0 until then),
    /// and the budget that walk cost: [`records`](Self::records) then starts there,
    /// charging the same, instead of reading the questions again.
    records_at: Cell<u32>,
    question_steps: Cell<u32>,
}

impl Clone for Message<'_> {
    fn clone(&self) -> Self {
        Message {
            bytes: self.bytes,
            header: self.header,
            budget: Cell::new(self.budget.get()),
            records_at: Cell::new(self.records_at.get()),
            question_steps: Cell::new(self.question_steps.get()),
            full_budget: self.full_budget,
        }
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("len", &self.bytes.len())
            .field("header", &self.header)
            .finish()
    }
}

/// A question entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// QNAME.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: Rtype,
    /// QCLASS.
    pub qclass: Class,
}

impl Question<'_> {
    /// Same question: name case-insensitively, type and class exactly (RFC 7766 §7).
    #[must_use]
    pub fn matches(&self, other: &Question<'_>) -> bool {
        self.qtype == other.qtype
            && self.qclass == other.qclass
            && self.name.eq_ignore_case(&other.name)
    }
}

impl fmt::Display for Question<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{}", self.name, self.qclass, self.qtype)
    }
}

/// A resource record view. Its RDATA is decoded on demand by [`Record::data`].
#[derive(Clone, Copy)]
pub struct Record<'m> {
    msg: &'m [u8],
    budget: &'m Cell<u32>,
    section: Section,
    owner: Name<'m>,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata_start: usize,
    rdata_len: usize,
}

impl<'m> Record<'m> {
    /// The section this record was read from.
    #[must_use]
    pub fn section(&self) -> Section {
        self.section
    }
    /// Owner name.
    #[must_use]
    pub fn owner(&self) -> Name<'m> {
        self.owner
    }
    /// TYPE.
    #[must_use]
    pub fn rtype(&self) -> Rtype {
        Rtype::from_int(self.rtype)
    }
    /// The raw TYPE field.
    #[must_use]
    pub fn raw_type(&self) -> u16 {
        self.rtype
    }
    /// CLASS (for OPT, the UDP payload size).
    #[must_use]
    pub fn class(&self) -> Class {
        Class::from_int(self.class)
    }
    /// The raw CLASS field.
    #[must_use]
    pub fn raw_class(&self) -> u16 {
        self.class
    }
    /// TTL (for OPT, the extended RCODE, version and flags).
    #[must_use]
    pub fn ttl(&self) -> u32 {
        self.ttl
    }
    /// The raw RDATA bytes (names inside may be compressed).
    #[must_use]
    pub fn rdata(&self) -> &'m [u8] {
        self.msg
            .get(self.rdata_start..self.rdata_start + self.rdata_len)
            .unwrap_or(&[])
    }
    /// Offset of the RDATA in the message.
    #[must_use]
    pub fn rdata_offset(&self) -> usize {
        self.rdata_start
    }
    /// Decodes the RDATA, checking every length (W2, W5).
    #[inline]
    pub fn data(&self) -> Result<RData<'m>, Error> {
        RData::parse(
            self.msg,
            self.rtype,
            self.class,
            self.ttl,
            self.rdata_start,
            self.rdata_len,
            self.budget,
        )
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Record({} {} {} {}, {} bytes)",
            self.owner,
            self.ttl,
            self.class(),
            self.rtype(),
            self.rdata_len
        )
    }
}

impl fmt::Display for Record<'_> {
    /// Presentation format: owner, TTL, class, type, RDATA.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{}\t",
            self.owner,
            self.ttl,
            self.class(),
            self.rtype()
        )?;
        match self.data() {
            Ok(d) => write!(f, "{d}"),
            Err(e) => write!(f, "; malformed: {e}"),
        }
    }
}

/// What [`Message::check`] learned walking the whole message.
#[derive(Clone, Copy, Debug)]
pub struct Summary<'a> {
    /// The first question, if any.
    pub question: Option<Question<'a>>,
    /// The OPT record, if any.
    pub opt: Option<Opt<'a>>,
    /// Offset just past the last record.
    pub end: usize,
}

impl<'a> Message<'a> {
    /// A view of `bytes`. Fails only when fewer than 12 bytes are given.
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        let header = Header::from_slice(bytes).ok_or(Error::Truncated("header"))?;
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let full_budget = BUDGET_BASE.saturating_add(len.saturating_mul(BUDGET_PER_BYTE));
        let budget = Cell::new(full_budget);
        Ok(Message {
            bytes,
            header,
            budget,
            full_budget,
            records_at: Cell::new(0),
            question_steps: Cell::new(0),
        })
    }

    /// The message bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// A copy of the header.
    #[must_use]
    pub fn header(&self) -> Header {
        self.header
    }
    /// Message ID.
    #[must_use]
    pub fn id(&self) -> u16 {
        self.header.id()
    }
    /// QR: true for a response.
    #[must_use]
    pub fn qr(&self) -> bool {
        self.header.qr()
    }
    /// Opcode.
    #[must_use]
    pub fn opcode(&self) -> Opcode {
        self.header.opcode()
    }
    /// AA.
    #[must_use]
    pub fn aa(&self) -> bool {
        self.header.aa()
    }
    /// TC.
    #[must_use]
    pub fn tc(&self) -> bool {
        self.header.tc()
    }
    /// RD.
    #[must_use]
    pub fn rd(&self) -> bool {
        self.header.rd()
    }
    /// RA.
    #[must_use]
    pub fn ra(&self) -> bool {
        self.header.ra()
    }
    /// AD.
    #[must_use]
    pub fn ad(&self) -> bool {
        self.header.ad()
    }
    /// CD.
    #[must_use]
    pub fn cd(&self) -> bool {
        self.header.cd()
    }
    /// The full response code: the header's four bits, extended by the OPT record's
    /// upper eight bits when a valid OPT is present (RFC 6891 §6.1.3).
    #[must_use]
    pub fn rcode(&self) -> Rcode {
        let low = u16::from(self.header.rcode_low());
        match self.opt() {
            Ok(Some(opt)) => Rcode::from_int((u16::from(opt.ext_rcode()) << 4) | low),
            _ => Rcode::from_int(low),
        }
    }
    /// Remaining decompression budget.
    #[must_use]
    pub fn budget_left(&self) -> u32 {
        self.budget.get()
    }

    /// The questions. Starts a new walk with a full decompression budget.
    #[must_use]
    pub fn questions(&self) -> Questions<'_> {
        self.budget.set(self.full_budget);
        Questions {
            msg: self.bytes,
            budget: &self.budget,
            pos: HEADER_LEN,
            left: self.header.qdcount(),
            steps: 0,
            records_at: &self.records_at,
            question_steps: &self.question_steps,
        }
    }

    /// The first question, or `None` when QDCOUNT is 0.
    pub fn first_question(&self) -> Result<Option<Question<'_>>, Error> {
        self.questions().next().transpose()
    }

    /// Every record of the answer, authority and additional sections in wire order.
    pub fn records(&self) -> Result<Records<'_>, Error> {
        let at = self.records_at.get();
        let pos = if at != 0 {
            // The questions were all read before: charge what reading them cost.
            self.budget
                .set(self.full_budget.saturating_sub(self.question_steps.get()));
            at as usize
        } else {
            let mut q = self.questions();
            for r in q.by_ref() {
                r?;
            }
            q.pos
        };
        Ok(Records {
            msg: self.bytes,
            budget: &self.budget,
            pos,
            left: [
                self.header.ancount(),
                self.header.nscount(),
                self.header.arcount(),
            ],
            section: 0,
            only: None,
            last_ptr: 0,
            last_owner: Name::root(),
            last_steps: 0,
        })
    }

    fn section(&self, s: Section) -> Result<Records<'_>, Error> {
        let mut r = self.records()?;
        let idx = match s {
            Section::Question | Section::Answer => 0,
            Section::Authority => 1,
            Section::Additional => 2,
        };
        // Skip whole earlier sections only: `next` moves on to a later section by
        // itself, so stepping until `section == idx` would eat that section's first
        // record.
        loop {
            while r.section < 3 && r.left[r.section] == 0 {
                r.section += 1;
            }
            if r.section >= idx {
                break;
            }
            r.next().transpose()?;
        }
        r.only = Some(idx);
        Ok(r)
    }

    /// The answer section.
    pub fn answers(&self) -> Result<Records<'_>, Error> {
        self.section(Section::Answer)
    }
    /// The authority section.
    pub fn authority(&self) -> Result<Records<'_>, Error> {
        self.section(Section::Authority)
    }
    /// The additional section.
    pub fn additional(&self) -> Result<Records<'_>, Error> {
        self.section(Section::Additional)
    }

    /// The OPT record, with the placement rules of [`check`](Self::check) applied.
    pub fn opt(&self) -> Result<Option<Opt<'_>>, Error> {
        Ok(self.check_inner(false)?.opt)
    }

    /// Walks the whole message: every name, every RDATA of a known type, the OPT
    /// rules (one at most, root owner, additional section only; E1) and trailing
    /// bytes (W6). This is what a server runs before answering.
    pub fn check(&self) -> Result<Summary<'_>, Error> {
        self.check_inner(true)
    }

    fn check_inner(&self, full: bool) -> Result<Summary<'_>, Error> {
        let question = self.first_question()?;
        let mut opt = None;
        let mut records = self.records()?;
        for r in records.by_ref() {
            let r = r?;
            if r.rtype == Rtype::Opt.to_int() {
                if r.section != Section::Additional {
                    return Err(Error::OptNotInAdditional);
                }
                if !r.owner.is_root() {
                    return Err(Error::OptOwnerNotRoot);
                }
                if opt.is_some() {
                    return Err(Error::DuplicateOpt);
                }
                let o = Opt::from_parts(r.class, r.ttl, r.rdata());
                if full {
                    o.check()?;
                }
                opt = Some(o);
            } else if full {
                r.data()?;
            }
        }
        if full && records.pos != self.bytes.len() {
            return Err(Error::TrailingData);
        }
        Ok(Summary {
            question,
            opt,
            end: records.pos,
        })
    }
}

/// Iterator over the question section; fused after an error.
pub struct Questions<'m> {
    msg: &'m [u8],
    budget: &'m Cell<u32>,
    pos: usize,
    left: u16,
    /// Budget charged so far; stored with the end of the section once every
    /// question has been read.
    steps: u32,
    records_at: &'m Cell<u32>,
    question_steps: &'m Cell<u32>,
}

impl<'m> Iterator for Questions<'m> {
    type Item = Result<Question<'m>, Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let before = self.budget.get();
        let r = (|| {
            let (name, p) = Name::parse(self.msg, self.pos, self.budget)?;
            let (qtype, qclass) = match self.msg.get(p..p + 4) {
                Some(&[t0, t1, c0, c1]) => {
                    (u16::from_be_bytes([t0, t1]), u16::from_be_bytes([c0, c1]))
                }
                // Slow path, only to name the field that is cut off.
                _ => (
                    u16_at(self.msg, p, "QTYPE")?,
                    u16_at(self.msg, p + 2, "QCLASS")?,
                ),
            };
            self.pos = p + 4;
            Ok(Question {
                name,
                qtype: Rtype::from_int(qtype),
                qclass: Class::from_int(qclass),
            })
        })();
        if r.is_ok() {
            self.left -= 1;
            self.steps += before - self.budget.get();
            if self.left == 0 {
                // A message is at most 65535 bytes, and its records start after
                // the header.
                self.records_at.set(u32::try_from(self.pos).unwrap_or(0));
                self.question_steps.set(self.steps);
            }
        } else {
            self.left = 0;
        }
        Some(r)
    }
}

/// Iterator over resource records; fused after an error.
pub struct Records<'m> {
    msg: &'m [u8],
    budget: &'m Cell<u32>,
    pos: usize,
    left: [u16; 3],
    section: usize,
    only: Option<usize>,
    /// The last owner that was a lone compression pointer: its two bytes (0 for none;
    /// a pointer is at least 0xC000), the name it led to and the steps it cost.
    /// Records of one RRset usually share that pointer, and the same bytes read the
    /// same way again, so a repeat is charged the same steps without the walk.
    last_ptr: u16,
    last_owner: Name<'m>,
    last_steps: u32,
}

impl Records<'_> {
    /// Offset just after the last record read.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'m> Records<'m> {
    /// Reads the owner name at `self.pos`, reusing the last one when it is the same
    /// compression pointer.
    #[inline(always)]
    fn owner(&mut self) -> Result<(Name<'m>, usize), Error> {
        let pos = self.pos;
        let ptr = match self.msg.get(pos..pos + 2) {
            Some(&[hi, lo]) if hi >= 0xC0 => u16::from_be_bytes([hi, lo]),
            _ => 0,
        };
        let left = self.budget.get();
        if ptr != 0 && ptr == self.last_ptr && left >= self.last_steps {
            // The pointer was checked when it was first read at an earlier offset;
            // pointing back from further on is as legal, and the walk behind it is
            // the same.
            self.budget.set(left - self.last_steps);
            return Ok((self.last_owner, pos + 2));
        }
        let (owner, p) = Name::parse_inline(self.msg, pos, self.budget)?;
        if ptr != 0 {
            self.last_ptr = ptr;
            self.last_owner = owner;
            self.last_steps = left - self.budget.get();
        }
        Ok((owner, p))
    }

    /// Reads the record at `self.pos` and moves past it.
    #[inline(always)]
    fn read(&mut self, section: Section) -> Result<Record<'m>, Error> {
        let msg = self.msg;
        let (owner, p) = self.owner()?;
        // TYPE, CLASS, TTL and RDLENGTH in one bounds check.
        let (rtype, class, ttl, rdlen) = match msg.get(p..p + 10) {
            Some(&[t0, t1, c0, c1, l0, l1, l2, l3, r0, r1]) => (
                u16::from_be_bytes([t0, t1]),
                u16::from_be_bytes([c0, c1]),
                u32::from_be_bytes([l0, l1, l2, l3]),
                u16::from_be_bytes([r0, r1]),
            ),
            // Slow path, only to name the field that is cut off.
            _ => (
                u16_at(msg, p, "TYPE")?,
                u16_at(msg, p + 2, "CLASS")?,
                u32_at(msg, p + 4, "TTL")?,
                u16_at(msg, p + 8, "RDLENGTH")?,
            ),
        };
        let rdata_start = p + 10;
        let rdata_len = usize::from(rdlen);
        if rdata_start + rdata_len > msg.len() {
            return Err(Error::Truncated("RDATA"));
        }
        self.pos = rdata_start + rdata_len;
        Ok(Record {
            msg,
            budget: self.budget,
            section,
            owner,
            rtype,
            class,
            ttl,
            rdata_start,
            rdata_len,
        })
    }
}

impl<'m> Iterator for Records<'m> {
    type Item = Result<Record<'m>, Error>;

    // Inlined into every loop over records with `std` (a third less work per record
    // in `benches/wire.rs`); a hint only without, where code size matters more.
    #[cfg_attr(feature = "std", inline(always))]
    #[cfg_attr(not(feature = "std"), inline)]
    fn next(&mut self) -> Option<Self::Item> {
        while self.section < 3 && self.left[self.section] == 0 {
            self.section += 1;
        }
        let idx = self.section;
        if idx >= 3 || self.only.is_some_and(|o| o != idx) {
            return None;
        }
        let section = match idx {
            0 => Section::Answer,
            1 => Section::Authority,
            _ => Section::Additional,
        };
        let r = self.read(section);
        match r {
            Ok(_) => self.left[idx] -= 1,
            Err(_) => {
                self.left = [0; 3];
                self.section = 3;
            }
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Builder, NameBuf, RData};

    /// Each section accessor yields every record of its section, whether or not
    /// the sections before it are empty.
    #[test]
    fn section_accessors_keep_first_record() {
        let n: NameBuf = "a.test".parse().unwrap();
        let a = RData::A([192, 0, 2, 1].into());
        for answers in [0, 2] {
            let mut buf = [0u8; 512];
            let mut b = Builder::new(&mut buf, 1);
            b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
            for _ in 0..answers {
                b.answer(&n.as_name(), 1, &a).unwrap();
            }
            b.authority(&n.as_name(), 2, &a).unwrap();
            b.additional(&n.as_name(), 3, &a).unwrap();
            b.additional(&n.as_name(), 3, &a).unwrap();
            let len = b.finish();
            let m = Message::new(&buf[..len]).unwrap();
            assert_eq!(m.answers().unwrap().count(), answers);
            assert_eq!(m.authority().unwrap().count(), 1);
            assert_eq!(m.additional().unwrap().count(), 2);
            assert!(m.additional().unwrap().all(|r| r.unwrap().ttl() == 3));
        }
    }
}
