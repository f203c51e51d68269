//! The 12-byte message header (RFC 1035 §4.1.1).
//!
//! ```text
//!                                 1  1  1  1  1  1
//!   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |                      ID                       |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
//! +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//! |    QDCOUNT    |    ANCOUNT    |    NSCOUNT    |    ARCOUNT   (16 bits each)
//! ```

use super::HEADER_LEN;
use super::types::Opcode;

mod field {
    use core::ops::Range;
    pub(super) const ID: Range<usize> = 0..2;
    pub(super) const FLAGS: Range<usize> = 2..4;
    pub(super) const QDCOUNT: usize = 4;
    pub(super) const ANCOUNT: usize = 6;
    pub(super) const NSCOUNT: usize = 8;
    pub(super) const ARCOUNT: usize = 10;
}

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;
const AD: u16 = 0x0020;
const CD: u16 = 0x0010;

/// A copy of a message header with getters and setters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header([u8; HEADER_LEN]);

macro_rules! flag {
    ($get:ident, $set:ident, $bit:ident, $doc:literal) => {
        #[doc = concat!("The ", $doc, " flag.")]
        #[must_use]
        pub fn $get(&self) -> bool {
            self.flags() & $bit != 0
        }
        #[doc = concat!("Sets the ", $doc, " flag.")]
        pub fn $set(&mut self, on: bool) {
            let f = if on {
                self.flags() | $bit
            } else {
                self.flags() & !$bit
            };
            self.set_flags(f);
        }
    };
}

impl Header {
    /// An all-zero header.
    #[must_use]
    pub const fn new() -> Self {
        Header([0; HEADER_LEN])
    }

    /// The header at the start of `bytes`, if at least 12 bytes are there.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let b: [u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header(b))
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        &self.0
    }

    /// Writes the header into the first 12 bytes of `out` (ignored when shorter).
    pub fn write_to(&self, out: &mut [u8]) {
        if let Some(dst) = out.get_mut(..HEADER_LEN) {
            dst.copy_from_slice(&self.0);
        }
    }

    fn u16_at(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.0[i], self.0[i + 1]])
    }

    fn set_u16_at(&mut self, i: usize, v: u16) {
        self.0[i..i + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// The raw flags word.
    #[must_use]
    pub fn flags(&self) -> u16 {
        self.u16_at(field::FLAGS.start)
    }

    /// Sets the raw flags word.
    pub fn set_flags(&mut self, f: u16) {
        self.set_u16_at(field::FLAGS.start, f);
    }

    /// The message ID.
    #[must_use]
    pub fn id(&self) -> u16 {
        self.u16_at(field::ID.start)
    }

    /// Sets the message ID.
    pub fn set_id(&mut self, id: u16) {
        self.set_u16_at(field::ID.start, id);
    }

    flag!(qr, set_qr, QR, "QR (response)");
    flag!(aa, set_aa, AA, "AA (authoritative answer)");
    flag!(tc, set_tc, TC, "TC (truncated)");
    flag!(rd, set_rd, RD, "RD (recursion desired)");
    flag!(ra, set_ra, RA, "RA (recursion available)");
    flag!(ad, set_ad, AD, "AD (authentic data)");
    flag!(cd, set_cd, CD, "CD (checking disabled)");

    /// The opcode.
    #[must_use]
    pub fn opcode(&self) -> Opcode {
        // The opcode is four bits, so the cast cannot lose information.
        Opcode::from_int(((self.flags() >> 11) & 0xF) as u8)
    }

    /// Sets the opcode.
    pub fn set_opcode(&mut self, op: Opcode) {
        let f = (self.flags() & !0x7800) | ((u16::from(op.to_int()) & 0xF) << 11);
        self.set_flags(f);
    }

    /// The low four bits of the response code (the full value may need OPT).
    #[must_use]
    pub fn rcode_low(&self) -> u8 {
        (self.flags() & 0xF) as u8
    }

    /// Sets the low four bits of the response code.
    pub fn set_rcode_low(&mut self, rcode: u8) {
        let f = (self.flags() & !0xF) | u16::from(rcode & 0xF);
        self.set_flags(f);
    }

    /// QDCOUNT.
    #[must_use]
    pub fn qdcount(&self) -> u16 {
        self.u16_at(field::QDCOUNT)
    }
    /// ANCOUNT.
    #[must_use]
    pub fn ancount(&self) -> u16 {
        self.u16_at(field::ANCOUNT)
    }
    /// NSCOUNT.
    #[must_use]
    pub fn nscount(&self) -> u16 {
        self.u16_at(field::NSCOUNT)
    }
    /// ARCOUNT.
    #[must_use]
    pub fn arcount(&self) -> u16 {
        self.u16_at(field::ARCOUNT)
    }
    /// Sets QDCOUNT.
    pub fn set_qdcount(&mut self, n: u16) {
        self.set_u16_at(field::QDCOUNT, n);
    }
    /// Sets ANCOUNT.
    pub fn set_ancount(&mut self, n: u16) {
        self.set_u16_at(field::ANCOUNT, n);
    }
    /// Sets NSCOUNT.
    pub fn set_nscount(&mut self, n: u16) {
        self.set_u16_at(field::NSCOUNT, n);
    }
    /// Sets ARCOUNT.
    pub fn set_arcount(&mut self, n: u16) {
        self.set_u16_at(field::ARCOUNT, n);
    }
}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Header")
            .field("id", &self.id())
            .field("flags", &format_args!("{:#06x}", self.flags()))
            .field("qd", &self.qdcount())
            .field("an", &self.ancount())
            .field("ns", &self.nscount())
            .field("ar", &self.arcount())
            .finish()
    }
}

/// Reads the message ID from the first two bytes of `msg`, if present.
#[must_use]
pub fn id_of(msg: &[u8]) -> Option<u16> {
    match msg.get(..2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// Overwrites the message ID in the first two bytes of `msg` (no-op when shorter).
pub fn set_id_in(msg: &mut [u8], id: u16) {
    if let Some(dst) = msg.get_mut(..2) {
        dst.copy_from_slice(&id.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_fields() {
        let mut h = Header::new();
        h.set_id(0xBEEF);
        h.set_qr(true);
        h.set_opcode(Opcode::Notify);
        h.set_aa(true);
        h.set_rd(true);
        h.set_cd(true);
        h.set_rcode_low(3);
        h.set_qdcount(1);
        h.set_arcount(2);
        assert_eq!(h.id(), 0xBEEF);
        assert!(h.qr() && h.aa() && h.rd() && h.cd());
        assert!(!h.tc() && !h.ra() && !h.ad());
        assert_eq!(h.opcode(), Opcode::Notify);
        assert_eq!(h.rcode_low(), 3);
        assert_eq!(
            (h.qdcount(), h.ancount(), h.nscount(), h.arcount()),
            (1, 0, 0, 2)
        );
        h.set_qr(false);
        assert!(!h.qr());
        assert_eq!(Header::from_slice(h.as_bytes()), Some(h));
        assert_eq!(Header::from_slice(&[0; 11]), None);
    }
}
