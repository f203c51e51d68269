//! DNS COOKIE (RFC 7873, option code 10): an 8-octet client cookie, optionally
//! followed by an 8 to 32 octet server cookie.

use core::fmt;

use super::{OPT_COOKIE, OptWriter};
use crate::wire::{BuildError, Error};

/// A COOKIE option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie<'a> {
    /// The client cookie.
    pub client: [u8; 8],
    /// The server cookie; empty when the client has none yet.
    pub server: &'a [u8],
}

impl<'a> Cookie<'a> {
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, Error> {
        // RFC 7873 §5.2.2: 8 octets, or 16 to 40 octets.
        if body.len() != 8 && !(16..=40).contains(&body.len()) {
            return Err(Error::BadOption("cookie length"));
        }
        let mut client = [0u8; 8];
        client.copy_from_slice(&body[..8]);
        Ok(Cookie {
            client,
            server: &body[8..],
        })
    }
}

impl fmt::Display for Cookie<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.client.iter().chain(self.server) {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl OptWriter<'_> {
    /// Appends a COOKIE option. The server cookie must be empty or 8 to 32 octets.
    pub fn cookie(&mut self, cookie: &Cookie<'_>) -> Result<(), BuildError> {
        if !cookie.server.is_empty() && !(8..=32).contains(&cookie.server.len()) {
            return Err(BuildError::LimitExceeded);
        }
        let mut data = [0u8; 40];
        data[..8].copy_from_slice(&cookie.client);
        data[8..8 + cookie.server.len()].copy_from_slice(cookie.server);
        self.option(OPT_COOKIE, &data[..8 + cookie.server.len()])
    }
}
