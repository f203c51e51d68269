//! Bounds-checked big-endian reads. Every read names the field it was reading so a
//! truncation error says where the data ran out.

use super::Error;

pub(crate) fn u16_at(b: &[u8], pos: usize, what: &'static str) -> Result<u16, Error> {
    match b.get(pos..pos.wrapping_add(2)) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(Error::Truncated(what)),
    }
}

pub(crate) fn u32_at(b: &[u8], pos: usize, what: &'static str) -> Result<u32, Error> {
    match b.get(pos..pos.wrapping_add(4)) {
        Some(&[a, c, d, e]) => Ok(u32::from_be_bytes([a, c, d, e])),
        _ => Err(Error::Truncated(what)),
    }
}

pub(crate) fn slice_at<'a>(
    b: &'a [u8],
    pos: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    let end = pos.checked_add(len).ok_or(Error::Truncated(what))?;
    b.get(pos..end).ok_or(Error::Truncated(what))
}
