//! EDNS(0) (RFC 6891): the OPT pseudo-record view, its option iterator, and the
//! option writer used by [`Builder::push_opt`](crate::wire::Builder::push_opt).
//!
//! ```text
//! OPT RR:  NAME = root | TYPE = 41 | CLASS = requestor's UDP payload size
//!          TTL = EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15)
//!          RDATA = { OPTION-CODE (16) | OPTION-LENGTH (16) | OPTION-DATA }*
//! ```
//!
//! One file per option beside this one: [`keepalive`] (RFC 7828), [`padding`]
//! (RFC 7830), [`cookie`] (RFC 7873). Unknown options are kept as raw bytes.

use core::fmt;

use super::Error;
use super::reader::{slice_at, u16_at};

pub mod cookie;
pub mod keepalive;
pub mod padding;

pub use cookie::Cookie;

/// Option code of edns-tcp-keepalive (RFC 7828).
pub const OPT_KEEPALIVE: u16 = 11;
/// Option code of padding (RFC 7830).
pub const OPT_PADDING: u16 = 12;
/// Option code of COOKIE (RFC 7873).
pub const OPT_COOKIE: u16 = 10;

/// A view of an OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    udp_size: u16,
    ttl: u32,
    options: &'a [u8],
}

impl<'a> Opt<'a> {
    /// Builds the view from the record's CLASS, TTL and RDATA fields.
    #[must_use]
    pub fn from_parts(class: u16, ttl: u32, rdata: &'a [u8]) -> Self {
        Opt {
            udp_size: class,
            ttl,
            options: rdata,
        }
    }

    /// Requestor's UDP payload size (the CLASS field).
    #[must_use]
    pub fn udp_size(&self) -> u16 {
        self.udp_size
    }

    /// The upper eight bits of the 12-bit extended RCODE.
    #[must_use]
    pub fn ext_rcode(&self) -> u8 {
        (self.ttl >> 24) as u8
    }

    /// The EDNS version; a server answers BADVERS to anything above 0.
    #[must_use]
    pub fn version(&self) -> u8 {
        (self.ttl >> 16) as u8
    }

    /// The DO (DNSSEC OK) bit.
    #[must_use]
    pub fn dnssec_ok(&self) -> bool {
        self.ttl & 0x8000 != 0
    }

    /// The whole TTL field: extended RCODE, version, DO and the Z bits.
    pub(crate) fn raw_ttl(&self) -> u32 {
        self.ttl
    }

    /// The raw option bytes (RDATA).
    #[must_use]
    pub fn raw_options(&self) -> &'a [u8] {
        self.options
    }

    /// The options in wire order; fused after the first error.
    #[must_use]
    pub fn options(&self) -> Options<'a> {
        Options {
            data: self.options,
            pos: 0,
        }
    }

    /// Walks every option, returning the first defect.
    pub fn check(&self) -> Result<(), Error> {
        self.options().try_for_each(|o| o.map(|_| ()))
    }

    /// The edns-tcp-keepalive option: `None` when absent, `Some(None)` when present
    /// without a timeout (a client's), `Some(Some(t))` with a timeout in 100 ms units.
    #[must_use]
    pub fn keepalive(&self) -> Option<Option<u16>> {
        self.options().find_map(|o| match o {
            Ok(EdnsOption::Keepalive(t)) => Some(t),
            _ => None,
        })
    }
}

/// One EDNS option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EdnsOption<'a> {
    /// edns-tcp-keepalive (RFC 7828): idle timeout in units of 100 ms, absent in queries.
    Keepalive(Option<u16>),
    /// Padding (RFC 7830): the padding bytes (normally zero).
    Padding(&'a [u8]),
    /// COOKIE (RFC 7873).
    Cookie(Cookie<'a>),
    /// Any other option, raw.
    Unknown {
        /// OPTION-CODE.
        code: u16,
        /// OPTION-DATA.
        data: &'a [u8],
    },
}

impl EdnsOption<'_> {
    /// The option code.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            EdnsOption::Keepalive(_) => OPT_KEEPALIVE,
            EdnsOption::Padding(_) => OPT_PADDING,
            EdnsOption::Cookie(_) => OPT_COOKIE,
            EdnsOption::Unknown { code, .. } => *code,
        }
    }
}

impl fmt::Display for EdnsOption<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdnsOption::Keepalive(None) => f.write_str("TCP-KEEPALIVE"),
            EdnsOption::Keepalive(Some(t)) => {
                write!(f, "TCP-KEEPALIVE: {}.{} secs", t / 10, t % 10)
            }
            EdnsOption::Padding(p) => write!(f, "PADDING: {} bytes", p.len()),
            EdnsOption::Cookie(c) => write!(f, "COOKIE: {c}"),
            EdnsOption::Unknown { code, data } => write!(f, "OPT{code}: {} bytes", data.len()),
        }
    }
}

/// Iterator over OPT options.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<EdnsOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let r = self.read();
        if r.is_err() {
            self.pos = self.data.len();
        }
        Some(r)
    }
}

impl<'a> Options<'a> {
    fn read(&mut self) -> Result<EdnsOption<'a>, Error> {
        let code = u16_at(self.data, self.pos, "option code")
            .map_err(|_| Error::BadOption("truncated option header"))?;
        let len = u16_at(self.data, self.pos + 2, "option length")
            .map_err(|_| Error::BadOption("truncated option header"))?;
        let body = slice_at(self.data, self.pos + 4, usize::from(len), "option data")
            .map_err(|_| Error::BadOption("length past RDATA"))?;
        self.pos += 4 + usize::from(len);
        Ok(match code {
            OPT_KEEPALIVE => EdnsOption::Keepalive(keepalive::parse(body)?),
            OPT_PADDING => EdnsOption::Padding(body),
            OPT_COOKIE => EdnsOption::Cookie(Cookie::parse(body)?),
            _ => EdnsOption::Unknown { code, data: body },
        })
    }
}

/// Writes options into the RDATA of an OPT record being built.
///
/// Obtained from [`Builder::push_opt`](crate::wire::Builder::push_opt); each call
/// either writes the whole option or nothing, returning
/// [`BuildError::NoSpace`](crate::wire::BuildError::NoSpace).
pub struct OptWriter<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) len: usize,
    pub(crate) limit: usize,
}

impl OptWriter<'_> {
    /// Appends a raw option.
    pub fn option(&mut self, code: u16, data: &[u8]) -> Result<(), crate::wire::BuildError> {
        let need = 4 + data.len();
        let dlen = u16::try_from(data.len()).map_err(|_| crate::wire::BuildError::LimitExceeded)?;
        let end = self.len + need;
        if end > self.limit {
            return Err(crate::wire::BuildError::NoSpace { required: end });
        }
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(crate::wire::BuildError::NoSpace { required: end })?;
        dst[..2].copy_from_slice(&code.to_be_bytes());
        dst[2..4].copy_from_slice(&dlen.to_be_bytes());
        dst[4..].copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    /// Bytes written so far in the whole message, counting this OPT's options.
    #[must_use]
    pub fn message_len(&self) -> usize {
        self.len
    }
}
