//! Padding (RFC 7830, option code 12).
//!
//! For encrypted transports layered on this framing only: RFC 7830 §6 says padding on
//! cleartext gains nothing, so nothing in this crate adds it by itself (CHECKLIST E3).

use super::{OPT_PADDING, OptWriter};
use crate::wire::BuildError;

/// Block size recommended for responses by RFC 8467 §4.1.
pub const RESPONSE_BLOCK: usize = 468;
/// Block size recommended for queries by RFC 8467 §4.1.
pub const QUERY_BLOCK: usize = 128;

impl OptWriter<'_> {
    /// Appends a padding option of `len` zero octets.
    pub fn padding(&mut self, len: u16) -> Result<(), BuildError> {
        const ZEROS: [u8; 64] = [0; 64];
        let start = self.len;
        let need = 4 + usize::from(len);
        let end = start + need;
        if end > self.limit || end > self.buf.len() {
            return Err(BuildError::NoSpace { required: end });
        }
        self.option(OPT_PADDING, &[])?;
        // Patch the length, then fill the body in chunks.
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        let mut at = start + 4;
        while at < end {
            let n = (end - at).min(ZEROS.len());
            self.buf[at..at + n].copy_from_slice(&ZEROS[..n]);
            at += n;
        }
        self.len = end;
        Ok(())
    }

    /// Appends padding so that the finished message (this option included, plus
    /// `trailing` bytes still to come) is a multiple of `block` octets.
    pub fn pad_to_block(&mut self, block: usize, trailing: usize) -> Result<(), BuildError> {
        if block == 0 {
            return Ok(());
        }
        let unpadded = self.len + 4 + trailing;
        let pad = (block - unpadded % block) % block;
        self.padding(u16::try_from(pad).map_err(|_| BuildError::LimitExceeded)?)
    }
}
