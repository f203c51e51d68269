//! # dnstcp
//!
//! A sans-IO DNS-over-TCP stack (RFC 7766) for firmware, appliances and custom event
//! loops. The core never touches a socket or a clock and never allocates: bytes and
//! time go in, bytes, events and the next deadline come out.
//!
//! Layers, each knowing only the one below:
//!
//! - [`wire`]: zero-copy [`wire::Message`] view, compressed names, typed RDATA,
//!   EDNS(0) options and a [`wire::Builder`] into caller buffers.
//! - [`frame`]: the RFC 7766 §8 two-byte length prefix.
//! - [`time`]: the caller-supplied [`time::Instant`].
//!
//! ## Parsing a message
//!
//! ```
//! use dnstcp::wire::{Message, RData};
//! # let mut buf = [0u8; 128];
//! # let len = {
//! #   use dnstcp::wire::{Builder, NameBuf, Rtype, Class};
//! #   let n: NameBuf = "www.example.test".parse().unwrap();
//! #   let mut b = Builder::new(&mut buf, 7);
//! #   b.header_mut().set_qr(true);
//! #   b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
//! #   b.answer(&n.as_name(), 60, &RData::A([192, 0, 2, 7].into())).unwrap();
//! #   b.finish()
//! # };
//! let msg = Message::new(&buf[..len])?;
//! for rr in msg.answers()? {
//!     let rr = rr?;
//!     if let RData::A(addr) = rr.data()? {
//!         assert_eq!(addr.octets(), [192, 0, 2, 7]);
//!     }
//! }
//! # Ok::<(), dnstcp::wire::Error>(())
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![deny(clippy::std_instead_of_core)]

#[cfg(feature = "std")]
extern crate std;

mod buffer;
pub mod client;
pub mod frame;
pub mod intent;
pub mod machine;
pub mod server;
pub mod time;
pub mod timer;
pub mod wire;

#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "std")]
pub mod zone;

#[doc(hidden)]
pub mod _fuzz;
