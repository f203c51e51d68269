//! Type codes as integer enums with an `Unknown` fallback, so an unknown value never
//! fails parsing (RFC 3597).
//!
//! Tables complete for the types this crate interprets as of 2026-11; the full
//! registries are IANA's "Domain Name System (DNS) Parameters"
//! (<https://www.iana.org/assignments/dns-parameters>). Any other value round-trips
//! through `Unknown`/`Other`.

use core::fmt;

macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty), fallback $fb:ident {
            $( $(#[$vmeta:meta])* $var:ident = $val:expr, $mn:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
            /// A value this crate does not interpret.
            $fb($int),
        }

        impl $name {
            /// The wire value.
            #[must_use]
            pub const fn to_int(self) -> $int {
                match self {
                    $( $name::$var => $val, )*
                    $name::$fb(v) => v,
                }
            }

            /// The variant for a wire value.
            #[must_use]
            pub const fn from_int(v: $int) -> Self {
                match v {
                    $( $val => $name::$var, )*
                    other => $name::$fb(other),
                }
            }

            /// The mnemonic, when the value has one here.
            #[must_use]
            pub const fn mnemonic(self) -> Option<&'static str> {
                match self {
                    $( $name::$var => Some($mn), )*
                    $name::$fb(_) => None,
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self::from_int(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.to_int()
            }
        }
    };
}

int_enum! {
    /// Resource record types (RFC 1035 §3.2.2 and later).
    Rtype(u16), fallback Unknown {
        /// IPv4 address.
        A = 1, "A";
        /// Authoritative name server.
        Ns = 2, "NS";
        /// Canonical name.
        Cname = 5, "CNAME";
        /// Start of authority.
        Soa = 6, "SOA";
        /// Domain name pointer.
        Ptr = 12, "PTR";
        /// Mail exchange.
        Mx = 15, "MX";
        /// Text strings.
        Txt = 16, "TXT";
        /// IPv6 address (RFC 3596).
        Aaaa = 28, "AAAA";
        /// Service location (RFC 2782).
        Srv = 33, "SRV";
        /// EDNS(0) pseudo-record (RFC 6891).
        Opt = 41, "OPT";
        /// Incremental zone transfer (RFC 1995).
        Ixfr = 251, "IXFR";
        /// Full zone transfer (RFC 5936).
        Axfr = 252, "AXFR";
        /// Any type (RFC 8482).
        Any = 255, "ANY";
    }
}

int_enum! {
    /// Classes (RFC 1035 §3.2.4).
    Class(u16), fallback Unknown {
        /// The Internet.
        In = 1, "IN";
        /// Chaos.
        Ch = 3, "CH";
        /// Hesiod.
        Hs = 4, "HS";
        /// No class (RFC 2136).
        None = 254, "NONE";
        /// Any class.
        Any = 255, "ANY";
    }
}

int_enum! {
    /// Header opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
    Opcode(u8), fallback Unknown {
        /// Standard query.
        Query = 0, "QUERY";
        /// Inverse query (obsolete).
        IQuery = 1, "IQUERY";
        /// Server status request.
        Status = 2, "STATUS";
        /// Zone change notification.
        Notify = 4, "NOTIFY";
        /// Dynamic update.
        Update = 5, "UPDATE";
    }
}

int_enum! {
    /// Response codes, including extended ones carried by OPT (RFC 6891 §6.1.3).
    Rcode(u16), fallback Unknown {
        /// No error.
        NoError = 0, "NOERROR";
        /// Format error.
        FormErr = 1, "FORMERR";
        /// Server failure.
        ServFail = 2, "SERVFAIL";
        /// Name does not exist.
        NxDomain = 3, "NXDOMAIN";
        /// Not implemented.
        NotImp = 4, "NOTIMP";
        /// Refused.
        Refused = 5, "REFUSED";
        /// Name exists when it should not.
        YxDomain = 6, "YXDOMAIN";
        /// RR set exists when it should not.
        YxRrset = 7, "YXRRSET";
        /// RR set that should exist does not.
        NxRrset = 8, "NXRRSET";
        /// Server not authoritative.
        NotAuth = 9, "NOTAUTH";
        /// Name not contained in zone.
        NotZone = 10, "NOTZONE";
        /// Bad OPT version (RFC 6891).
        BadVers = 16, "BADVERS";
        /// Bad or missing server cookie (RFC 7873).
        BadCookie = 23, "BADCOOKIE";
    }
}

impl fmt::Display for Rtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "TYPE{}", self.to_int()),
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "CLASS{}", self.to_int()),
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "OPCODE{}", self.to_int()),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "RCODE{}", self.to_int()),
        }
    }
}

impl Rtype {
    /// Parses a mnemonic (case-insensitive) or the RFC 3597 `TYPEnnn` form.
    #[must_use]
    pub fn from_mnemonic(s: &str) -> Option<Rtype> {
        const KNOWN: [Rtype; 13] = [
            Rtype::A,
            Rtype::Ns,
            Rtype::Cname,
            Rtype::Soa,
            Rtype::Ptr,
            Rtype::Mx,
            Rtype::Txt,
            Rtype::Aaaa,
            Rtype::Srv,
            Rtype::Opt,
            Rtype::Ixfr,
            Rtype::Axfr,
            Rtype::Any,
        ];
        for t in KNOWN {
            if t.mnemonic().is_some_and(|m| m.eq_ignore_ascii_case(s)) {
                return Some(t);
            }
        }
        let digits = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("TYPE"))
            .and(s.get(4..))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u16>().ok().map(Rtype::from_int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        assert_eq!(Rtype::from_int(65280), Rtype::Unknown(65280));
        assert_eq!(Rtype::Unknown(65280).to_int(), 65280);
        assert_eq!(Rtype::from_int(28), Rtype::Aaaa);
        assert_eq!(Rcode::from_int(16), Rcode::BadVers);
        assert_eq!(Class::from_int(1), Class::In);
    }

    #[test]
    fn mnemonics_parse() {
        assert_eq!(Rtype::from_mnemonic("aaaa"), Some(Rtype::Aaaa));
        assert_eq!(Rtype::from_mnemonic("TYPE99"), Some(Rtype::Unknown(99)));
        assert_eq!(Rtype::from_mnemonic("type1"), Some(Rtype::A));
        assert_eq!(Rtype::from_mnemonic("TYPE"), None);
        assert_eq!(Rtype::from_mnemonic("TYPE70000"), None);
        assert_eq!(Rtype::from_mnemonic("www"), None);
    }
}
