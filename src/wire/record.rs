//! Typed RDATA views (CHECKLIST W5). Every length is checked against RDLENGTH
//! (W2); names inside RDATA must end exactly where the type says. Unknown types stay
//! raw and are never decompressed (RFC 3597 §4).

use core::cell::Cell;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::Error;
use super::edns::Opt;
use super::name::Name;
use super::reader::{u16_at, u32_at};
use super::types::Rtype;

/// Record data, typed where this crate knows the type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RData<'a> {
    /// IPv4 address (RFC 1035 §3.4.1).
    A(Ipv4Addr),
    /// IPv6 address (RFC 3596).
    Aaaa(Ipv6Addr),
    /// Name server.
    Ns(Name<'a>),
    /// Canonical name.
    Cname(Name<'a>),
    /// Pointer.
    Ptr(Name<'a>),
    /// Mail exchange.
    Mx {
        /// Preference, lower first.
        preference: u16,
        /// Exchange host.
        exchange: Name<'a>,
    },
    /// Start of authority (RFC 1035 §3.3.13).
    Soa {
        /// Primary server.
        mname: Name<'a>,
        /// Responsible mailbox.
        rname: Name<'a>,
        /// Serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expiry.
        expire: u32,
        /// Negative-caching TTL (RFC 2308).
        minimum: u32,
    },
    /// Text strings.
    Txt(Txt<'a>),
    /// Service location (RFC 2782).
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host (never compressed on the wire, but accepted compressed).
        target: Name<'a>,
    },
    /// The EDNS(0) pseudo-record.
    Opt(Opt<'a>),
    /// Anything else, raw (RFC 3597).
    Unknown {
        /// The type.
        rtype: Rtype,
        /// The RDATA.
        data: &'a [u8],
    },
}

/// One or more character-strings (RFC 1035 §3.3.14), validated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Txt<'a>(&'a [u8]);

impl<'a> Txt<'a> {
    /// Validates wire-format character-strings (each a length octet and that many octets).
    pub fn new(raw: &'a [u8]) -> Result<Self, Error> {
        if raw.is_empty() {
            return Err(Error::BadRdata("TXT without strings"));
        }
        let mut p = 0;
        while p < raw.len() {
            p += 1 + usize::from(raw[p]);
        }
        if p != raw.len() {
            return Err(Error::BadRdata("TXT string length past RDATA"));
        }
        Ok(Txt(raw))
    }

    /// The wire bytes.
    #[must_use]
    pub fn as_wire(&self) -> &'a [u8] {
        self.0
    }

    /// The strings, without their length octets.
    #[must_use]
    pub fn strings(&self) -> TxtStrings<'a> {
        TxtStrings(self.0)
    }
}

impl fmt::Debug for Txt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Txt({self})")
    }
}

impl fmt::Display for Txt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.strings().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str("\"")?;
            for &c in s {
                match c {
                    b'"' | b'\\' => write!(f, "\\{}", c as char)?,
                    0x20..=0x7E => write!(f, "{}", c as char)?,
                    _ => write!(f, "\\{c:03}")?,
                }
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// Iterator over the strings of a [`Txt`].
#[derive(Clone, Debug)]
pub struct TxtStrings<'a>(&'a [u8]);

impl<'a> Iterator for TxtStrings<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.0.split_first()?;
        let s = rest.get(..usize::from(len))?;
        self.0 = &rest[s.len()..];
        Some(s)
    }
}

impl<'a> RData<'a> {
    /// Parses RDATA at `msg[start..start + len]`, resolving names against `msg`.
    #[inline(always)]
    pub(crate) fn parse(
        msg: &'a [u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        start: usize,
        len: usize,
        budget: &Cell<u32>,
    ) -> Result<RData<'a>, Error> {
        let end = start + len;
        // Names inside RDATA are resolved against the message cut at the RDATA end,
        // so a name can never run past RDLENGTH.
        let scope = msg.get(..end).ok_or(Error::Truncated("RDATA"))?;
        let data = scope.get(start..).ok_or(Error::Truncated("RDATA"))?;
        let name_at = |pos: usize| -> Result<(Name<'a>, usize), Error> {
            Name::parse(scope, pos, budget).map_err(|e| match e {
                Error::Truncated(_) => Error::BadRdata("name runs past RDLENGTH"),
                other => other,
            })
        };
        let exact = |used: usize, what: &'static str| -> Result<(), Error> {
            if used == end {
                Ok(())
            } else {
                Err(Error::BadRdata(what))
            }
        };
        // Matching the raw value spares converting it first.
        const A: u16 = Rtype::A.to_int();
        const AAAA: u16 = Rtype::Aaaa.to_int();
        const NS: u16 = Rtype::Ns.to_int();
        const CNAME: u16 = Rtype::Cname.to_int();
        const PTR: u16 = Rtype::Ptr.to_int();
        const MX: u16 = Rtype::Mx.to_int();
        const SOA: u16 = Rtype::Soa.to_int();
        const TXT: u16 = Rtype::Txt.to_int();
        const SRV: u16 = Rtype::Srv.to_int();
        const OPT: u16 = Rtype::Opt.to_int();
        Ok(match rtype {
            A => match data {
                &[a, b, c, d] => RData::A(Ipv4Addr::new(a, b, c, d)),
                _ => return Err(Error::BadRdata("A RDLENGTH is not 4")),
            },
            AAAA => {
                let b: [u8; 16] = data
                    .try_into()
                    .map_err(|_| Error::BadRdata("AAAA RDLENGTH is not 16"))?;
                RData::Aaaa(Ipv6Addr::from(b))
            }
            NS | CNAME | PTR => {
                let (n, used) = name_at(start)?;
                exact(used, "bytes after the name")?;
                match rtype {
                    NS => RData::Ns(n),
                    CNAME => RData::Cname(n),
                    _ => RData::Ptr(n),
                }
            }
            MX => {
                let preference =
                    u16_at(scope, start, "").map_err(|_| Error::BadRdata("MX too short"))?;
                let (exchange, used) = name_at(start + 2)?;
                exact(used, "bytes after the MX exchange")?;
                RData::Mx {
                    preference,
                    exchange,
                }
            }
            SOA => {
                let (mname, p) = name_at(start)?;
                let (rname, p) = name_at(p)?;
                exact(p + 20, "SOA RDLENGTH does not fit its fields")?;
                let f = |i: usize| u32_at(scope, p + 4 * i, "SOA");
                RData::Soa {
                    mname,
                    rname,
                    serial: f(0)?,
                    refresh: f(1)?,
                    retry: f(2)?,
                    expire: f(3)?,
                    minimum: f(4)?,
                }
            }
            TXT => RData::Txt(Txt::new(data)?),
            SRV => {
                let f = |i: usize| {
                    u16_at(scope, start + 2 * i, "").map_err(|_| Error::BadRdata("SRV too short"))
                };
                let (priority, weight, port) = (f(0)?, f(1)?, f(2)?);
                let (target, used) = name_at(start + 6)?;
                exact(used, "bytes after the SRV target")?;
                RData::Srv {
                    priority,
                    weight,
                    port,
                    target,
                }
            }
            OPT => RData::Opt(Opt::from_parts(class, ttl, data)),
            other => RData::Unknown {
                rtype: Rtype::from_int(other),
                data,
            },
        })
    }

    /// The record type of this data.
    #[must_use]
    pub fn rtype(&self) -> Rtype {
        match self {
            RData::A(_) => Rtype::A,
            RData::Aaaa(_) => Rtype::Aaaa,
            RData::Ns(_) => Rtype::Ns,
            RData::Cname(_) => Rtype::Cname,
            RData::Ptr(_) => Rtype::Ptr,
            RData::Mx { .. } => Rtype::Mx,
            RData::Soa { .. } => Rtype::Soa,
            RData::Txt(_) => Rtype::Txt,
            RData::Srv { .. } => Rtype::Srv,
            RData::Opt(_) => Rtype::Opt,
            RData::Unknown { rtype, .. } => *rtype,
        }
    }
}

impl fmt::Display for RData<'_> {
    /// Presentation format (RFC 1035 §5.1; RFC 3597 §5 for unknown types).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => write!(f, "{n}"),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                write!(
                    f,
                    "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
                )
            }
            RData::Txt(t) => write!(f, "{t}"),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                write!(f, "{priority} {weight} {port} {target}")
            }
            RData::Opt(o) => {
                write!(f, "; EDNS: version {}, udp {}", o.version(), o.udp_size())?;
                for opt in o.options().flatten() {
                    write!(f, "; {opt}")?;
                }
                Ok(())
            }
            RData::Unknown { data, .. } => {
                write!(f, "\\# {}", data.len())?;
                if !data.is_empty() {
                    f.write_str(" ")?;
                }
                for b in *data {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}
