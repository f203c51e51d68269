//! The DNS wire format (RFC 1035 §4.1): a zero-copy [`Message`] view, compressed
//! [`Name`]s, typed record data, EDNS(0) and a [`Builder`] into caller buffers.
//!
//! # Guarantees
//!
//! - **Nothing here allocates and nothing panics on any input.** Every length, count and
//!   RDLENGTH is checked against the message before it is used (CHECKLIST W2, W3); the
//!   code is written for `panic = "abort"`. No accessor panics after [`Message::new`]
//!   returned `Ok`: fallible walks return [`Error`] and iterators are fused after the
//!   first error.
//! - **Names are decompressed safely** (W1, W7): labels of at most 63 octets, names of at
//!   most 255 octets, compression pointers only to offsets strictly before the label
//!   that holds them and never into the 12-byte header, at most [`MAX_POINTER_HOPS`]
//!   pointers per name, and a per-message decompression budget of
//!   [`BUDGET_PER_BYTE`] label steps per message octet (plus [`BUDGET_BASE`]), so a
//!   message full of long pointer chains costs linear work. Label types `0b01` and
//!   `0b10` are rejected.
//! - **EDNS(0)** (RFC 6891, E1): at most one OPT record, owned by the root, in the
//!   additional section; anything else is an [`Error`] a server turns into FORMERR.
//!   An OPT with version > 0 parses, so a server can answer BADVERS.
//! - **Trailing data** after the last counted record is reported by
//!   [`Message::check`] (W6), never read as records.
//! - **Unknown types** keep their RDATA as raw bytes and are never decompressed
//!   (RFC 3597).
#![forbid(unsafe_code)]

use core::fmt;

pub mod builder;
mod compress;
pub mod edns;
pub mod header;
pub mod message;
pub mod name;
mod reader;
pub mod record;
pub mod types;

pub use builder::{BuildError, Builder};
pub use compress::{COMPRESSION_CAPACITY, MAX_COMPRESSION_OFFSET};
pub use edns::{EdnsOption, Opt};
pub use header::Header;
pub use message::{Message, Question, Record, Section, Summary};
pub use name::{Name, NameBuf};
pub use record::{RData, Txt};
pub use types::{Class, Opcode, Rcode, Rtype};

/// Maximum compression pointers followed while reading one name.
pub const MAX_POINTER_HOPS: usize = 64;
/// Decompression budget: label steps allowed per octet of the message.
pub const BUDGET_PER_BYTE: u32 = 8;
/// Decompression budget: label steps every message gets on top of the per-octet share.
pub const BUDGET_BASE: u32 = 2048;
/// Size of the fixed DNS header.
pub const HEADER_LEN: usize = 12;

/// A defect in a DNS message. Small, `Copy`, and specific about what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The data ended before the named field was complete.
    Truncated(&'static str),
    /// A label longer than 63 octets.
    LabelTooLong,
    /// A name longer than 255 octets once decompressed.
    NameTooLong,
    /// A compression pointer that does not point strictly backwards.
    PointerForward,
    /// A compression pointer into the 12-byte header.
    PointerIntoHeader,
    /// More than [`MAX_POINTER_HOPS`] pointers in one name.
    TooManyHops,
    /// The per-message decompression budget is spent (W7).
    BudgetExceeded,
    /// A label type reserved by RFC 6891 §5 (`0b01`) or unused (`0b10`).
    ReservedLabelType,
    /// RDLENGTH does not match what the record type needs.
    BadRdata(&'static str),
    /// Bytes after the last record the header counts (W6).
    TrailingData,
    /// More than one OPT record (RFC 6891 §6.1.1).
    DuplicateOpt,
    /// An OPT record outside the additional section.
    OptNotInAdditional,
    /// An OPT record whose owner is not the root.
    OptOwnerNotRoot,
    /// An EDNS option whose length runs past the OPT RDATA.
    BadOption(&'static str),
    /// A presentation-format name that cannot be encoded.
    BadPresentation(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(what) => write!(f, "message truncated in {what}"),
            Error::LabelTooLong => f.write_str("label longer than 63 octets"),
            Error::NameTooLong => f.write_str("name longer than 255 octets"),
            Error::PointerForward => f.write_str("compression pointer not strictly backwards"),
            Error::PointerIntoHeader => f.write_str("compression pointer into the header"),
            Error::TooManyHops => f.write_str("too many compression pointers in one name"),
            Error::BudgetExceeded => f.write_str("decompression budget exceeded"),
            Error::ReservedLabelType => f.write_str("reserved label type"),
            Error::BadRdata(what) => write!(f, "bad RDATA: {what}"),
            Error::TrailingData => f.write_str("trailing data after the last record"),
            Error::DuplicateOpt => f.write_str("more than one OPT record"),
            Error::OptNotInAdditional => f.write_str("OPT record outside the additional section"),
            Error::OptOwnerNotRoot => f.write_str("OPT record owner is not the root"),
            Error::BadOption(what) => write!(f, "bad EDNS option: {what}"),
            Error::BadPresentation(what) => write!(f, "bad name: {what}"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}
