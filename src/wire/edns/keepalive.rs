//! edns-tcp-keepalive (RFC 7828, option code 11).
//!
//! A client sends it with OPTION-LENGTH 0; a server answers with a 2-byte TIMEOUT in
//! units of 100 ms. Any other length is malformed (§3.1: FORMERR).

use super::{OPT_KEEPALIVE, OptWriter};
use crate::wire::{BuildError, Error};
use core::time::Duration;

pub(super) fn parse(body: &[u8]) -> Result<Option<u16>, Error> {
    match body {
        [] => Ok(None),
        [a, b] => Ok(Some(u16::from_be_bytes([*a, *b]))),
        _ => Err(Error::BadOption("keepalive length is neither 0 nor 2")),
    }
}

/// The keepalive TIMEOUT for an idle timeout: milliseconds / 100, rounded down and
/// capped at 65535 (RFC 7828 §3.1).
#[must_use]
pub fn units_from_duration(d: Duration) -> u16 {
    u16::try_from(d.as_millis() / 100).unwrap_or(u16::MAX)
}

/// The idle timeout a keepalive TIMEOUT stands for.
#[must_use]
pub fn duration_from_units(units: u16) -> Duration {
    Duration::from_millis(u64::from(units) * 100)
}

impl OptWriter<'_> {
    /// Appends edns-tcp-keepalive: `None` (length 0, as a client sends it) or a
    /// timeout in 100 ms units (as a server sends it).
    pub fn keepalive(&mut self, timeout: Option<u16>) -> Result<(), BuildError> {
        match timeout {
            None => self.option(OPT_KEEPALIVE, &[]),
            Some(t) => self.option(OPT_KEEPALIVE, &t.to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e2_units() {
        assert_eq!(units_from_duration(Duration::from_millis(10_050)), 100);
        assert_eq!(units_from_duration(Duration::from_secs(100_000)), u16::MAX);
        assert_eq!(duration_from_units(25), Duration::from_millis(2500));
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&[0, 50]).unwrap(), Some(50));
        assert!(parse(&[1]).is_err());
    }
}
