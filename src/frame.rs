//! The RFC 7766 §8 / RFC 1035 §4.2.2 length prefix: every message on a TCP stream is
//! preceded by its length as a 16-bit big-endian integer.
//!
//! The [`Decoder`] has httparse's three-way result: a complete frame, a partial one
//! (with how many bytes are still needed), or a typed [`FrameError`]. It reads the
//! prefix once per attempt and never rescans a message body, takes the stream in any
//! split (F2), rejects lengths below 12 (F3), and handles frames larger than the
//! configured maximum by policy (F4): report and skip them in-stream, or fail.
//!
//! The encoder puts the prefix and the message in one contiguous buffer so one
//! `write` carries both (F1).
#![forbid(unsafe_code)]

use core::fmt;

use crate::wire::HEADER_LEN;

/// Length of the prefix.
pub const PREFIX_LEN: usize = 2;
/// Largest message a prefix can describe.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// Framing defects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A length below 12 (zero included): no DNS header fits (F3). The connection
    /// cannot be trusted to be DNS; close it.
    TooShort {
        /// The length read.
        len: u16,
    },
    /// A frame longer than the configured maximum under [`Oversize::Close`] (F4).
    TooLong {
        /// The length read.
        len: u16,
        /// The message ID, when its first two bytes had arrived.
        id: Option<u16>,
    },
    /// The output buffer cannot hold the framed message.
    NoSpace {
        /// Bytes needed.
        required: usize,
    },
    /// A message longer than 65535 bytes cannot be framed.
    MessageTooLong,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooShort { len } => {
                write!(f, "frame length {len} is below the 12-byte DNS header")
            }
            FrameError::TooLong { len, id: Some(id) } => {
                write!(f, "frame of {len} bytes (id {id}) exceeds the buffer")
            }
            FrameError::TooLong { len, id: None } => {
                write!(f, "frame of {len} bytes exceeds the buffer")
            }
            FrameError::NoSpace { required } => write!(f, "output needs {required} bytes"),
            FrameError::MessageTooLong => f.write_str("message longer than 65535 bytes"),
        }
    }
}

impl core::error::Error for FrameError {}

#[cfg(feature = "std")]
impl From<FrameError> for std::io::Error {
    fn from(e: FrameError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// What to do with a frame larger than the maximum (F4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Report it ([`Status::Oversized`]) and skip its bytes; the stream stays in sync.
    #[default]
    Discard,
    /// Fail with [`FrameError::TooLong`]; the caller closes the connection.
    Close,
}

/// Result of one decoding step. Every variant except `Partial` says how many input
/// bytes were consumed; the caller drops them before the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Status<'a> {
    /// A whole message (without its prefix).
    Complete {
        /// The message.
        message: &'a [u8],
        /// Input bytes consumed: prefix plus message.
        consumed: usize,
    },
    /// More input is needed.
    Partial {
        /// Total bytes (from the start of the input given) needed to make progress.
        need: usize,
    },
    /// A frame over the maximum began; its bytes will be skipped by following calls.
    Oversized {
        /// The announced length.
        len: u16,
        /// The message ID (the first two bytes of the message).
        id: u16,
        /// Input bytes consumed (the prefix and whatever of the body was given).
        consumed: usize,
    },
    /// Bytes of an oversized frame were skipped.
    Skipped {
        /// Input bytes consumed.
        consumed: usize,
    },
}

/// Incremental length-prefix decoder. Holds only the skip state of an oversized frame;
/// the bytes live in the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoder {
    max: u16,
    oversize: Oversize,
    skip: usize,
}

impl Decoder {
    /// A decoder accepting messages of up to `max` bytes (at least 12).
    #[must_use]
    pub fn new(max: u16, oversize: Oversize) -> Self {
        Decoder {
            max: max.max(HEADER_LEN as u16),
            oversize,
            skip: 0,
        }
    }

    /// The configured maximum message length.
    #[must_use]
    pub fn max(&self) -> u16 {
        self.max
    }

    /// Whether the decoder is skipping an oversized frame.
    #[must_use]
    pub fn is_skipping(&self) -> bool {
        self.skip > 0
    }

    /// Decodes the next frame from the start of `input`.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Status<'a>, FrameError> {
        if self.skip > 0 {
            if input.is_empty() {
                return Ok(Status::Partial { need: 1 });
            }
            let n = self.skip.min(input.len());
            self.skip -= n;
            return Ok(Status::Skipped { consumed: n });
        }
        let len = match input {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => return Ok(Status::Partial { need: PREFIX_LEN }),
        };
        if usize::from(len) < HEADER_LEN {
            return Err(FrameError::TooShort { len });
        }
        if len > self.max {
            let id = match input.get(PREFIX_LEN..PREFIX_LEN + 2) {
                Some(&[a, b]) => u16::from_be_bytes([a, b]),
                _ => {
                    return Ok(Status::Partial {
                        need: PREFIX_LEN + 2,
                    });
                }
            };
            return match self.oversize {
                Oversize::Close => Err(FrameError::TooLong { len, id: Some(id) }),
                Oversize::Discard => {
                    let body = usize::from(len);
                    let have = (input.len() - PREFIX_LEN).min(body);
                    self.skip = body - have;
                    Ok(Status::Oversized {
                        len,
                        id,
                        consumed: PREFIX_LEN + have,
                    })
                }
            };
        }
        let end = PREFIX_LEN + usize::from(len);
        match input.get(PREFIX_LEN..end) {
            Some(message) => Ok(Status::Complete {
                message,
                consumed: end,
            }),
            None => Ok(Status::Partial { need: end }),
        }
    }
}

/// Writes the prefix for a `len`-byte message into `out[..2]`.
pub fn write_prefix(out: &mut [u8], len: usize) -> Result<(), FrameError> {
    let l = u16::try_from(len).map_err(|_| FrameError::MessageTooLong)?;
    out.get_mut(..PREFIX_LEN)
        .ok_or(FrameError::NoSpace {
            required: PREFIX_LEN,
        })?
        .copy_from_slice(&l.to_be_bytes());
    Ok(())
}

/// Copies `msg` into `out` behind its prefix; returns the framed length.
pub fn encode(msg: &[u8], out: &mut [u8]) -> Result<usize, FrameError> {
    let total = PREFIX_LEN + msg.len();
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(FrameError::MessageTooLong);
    }
    let dst = out
        .get_mut(..total)
        .ok_or(FrameError::NoSpace { required: total })?;
    write_prefix(dst, msg.len())?;
    dst[PREFIX_LEN..].copy_from_slice(msg);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: u16, len: usize) -> [u8; 64] {
        let mut f = [0u8; 64];
        f[..2].copy_from_slice(&(len as u16).to_be_bytes());
        f[2..4].copy_from_slice(&id.to_be_bytes());
        f
    }

    #[test]
    fn f1_encode_is_contiguous() {
        let msg = [7u8; 20];
        let mut out = [0u8; 22];
        assert_eq!(encode(&msg, &mut out), Ok(22));
        assert_eq!(&out[..2], &[0, 20]);
        assert_eq!(&out[2..], &msg);
        assert_eq!(
            encode(&msg, &mut [0u8; 21]),
            Err(FrameError::NoSpace { required: 22 })
        );
    }

    #[test]
    fn f2_any_split() {
        let f = frame(9, 12);
        let mut d = Decoder::new(512, Oversize::Close);
        assert_eq!(d.decode(&f[..0]), Ok(Status::Partial { need: 2 }));
        assert_eq!(d.decode(&f[..1]), Ok(Status::Partial { need: 2 }));
        assert_eq!(d.decode(&f[..5]), Ok(Status::Partial { need: 14 }));
        match d.decode(&f[..20]).unwrap() {
            Status::Complete { message, consumed } => {
                assert_eq!(consumed, 14);
                assert_eq!(message.len(), 12);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn f3_short_lengths_are_errors() {
        let mut d = Decoder::new(512, Oversize::Discard);
        for len in 0..12u16 {
            let b = len.to_be_bytes();
            assert_eq!(d.decode(&b), Err(FrameError::TooShort { len }));
        }
    }

    #[test]
    fn f4_oversize_discard_and_close() {
        let mut big = [0u8; 120];
        big[..2].copy_from_slice(&100u16.to_be_bytes());
        big[2..4].copy_from_slice(&0xABCDu16.to_be_bytes());
        // next frame right after
        big[102..104].copy_from_slice(&12u16.to_be_bytes());
        let mut d = Decoder::new(50, Oversize::Discard);
        assert_eq!(d.decode(&big[..3]), Ok(Status::Partial { need: 4 }));
        assert_eq!(
            d.decode(&big[..40]),
            Ok(Status::Oversized {
                len: 100,
                id: 0xABCD,
                consumed: 40
            })
        );
        assert!(d.is_skipping());
        assert_eq!(d.decode(&big[40..60]), Ok(Status::Skipped { consumed: 20 }));
        assert_eq!(d.decode(&big[60..]), Ok(Status::Skipped { consumed: 42 }));
        assert!(!d.is_skipping());
        assert!(matches!(
            d.decode(&big[102..]),
            Ok(Status::Complete { consumed: 14, .. })
        ));
        let mut c = Decoder::new(50, Oversize::Close);
        assert_eq!(
            c.decode(&big),
            Err(FrameError::TooLong {
                len: 100,
                id: Some(0xABCD)
            })
        );
    }
}
