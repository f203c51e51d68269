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
//! - [`client`] and [`server`]: the RFC 7766 connection machines, plus
//!   [`server::Limits`], the server-wide admission policy.
//! - [`time`]: the caller-supplied [`time::Instant`]; [`intent`] and [`machine`]: what
//!   a machine asks of its socket, and the drive contract both machines share.
//! - `io` (feature `std`): blocking client and server, a poll-loop driver, TCP Fast
//!   Open; `zone` (feature `std`): an authoritative zone that answers queries.
//!
//! ## The drive contract
//!
//! Every machine is driven the same way (quinn's four kinds of method):
//!
//! - **getters** (`&self`): `intent`, `stats`, `poll_timeout`, `poll_transmit`;
//! - **inputs**: `read_buf` + `commit_read(now, n)` (or `handle_read(now, bytes)`),
//!   `handle_peer_closed(now)` (EOF), `handle_reset(now)` (reset or failed write),
//!   `handle_timeout(now)`;
//! - **commands**: the client's `send_question`/`send`/`finish_sending`, the server's
//!   `answer_next`/`respond`/`respond_part`/`finish`;
//! - **outputs**: `poll_event`, `poll_transmit` + `advance_transmit(now, n)`,
//!   `poll_timeout`, `intent`.
//!
//! After any input or command, the caller MUST drain the outputs — events until
//! `None`, transmit until written or the socket would block, the intent (shut down
//! the write side, close) — and then wait for the socket or for `poll_timeout`,
//! whichever comes first. Time never runs backwards inside a machine: it keeps the
//! latest `now` it was given. Events that carry a message borrow the receive buffer
//! until the next call on the machine.
//!
//! ## A complete blocking example
//!
//! ```no_run
//! # #[cfg(feature = "std")] {
//! use std::sync::Arc;
//! use dnstcp::io::blocking::{Client, ClientConfig, Server, ServerConfig, zone_handler};
//! use dnstcp::wire::Rtype;
//! use dnstcp::zone::Zone;
//!
//! // Serve a zone on an ephemeral port, in a background thread.
//! let zone = Arc::new(Zone::from_file("examples/zones/example.test.zone", None)?);
//! let server = Server::bind("127.0.0.1:0".parse()?, ServerConfig::default())?;
//! let addr = server.local_addr()?;
//! let stop = server.stopper();
//! let t = std::thread::spawn(move || server.run(zone_handler(zone)));
//!
//! // Ask three questions, pipelined on one connection.
//! let mut client = Client::new(addr, ClientConfig::default());
//! let qs = [("www.example.test", Rtype::A), ("www.example.test", Rtype::Aaaa), ("example.test", Rtype::Mx)];
//! let qs: Vec<_> = qs.iter().map(|(n, t)| (n.parse().unwrap(), *t)).collect();
//! for answer in client.query_many(&qs) {
//!     let answer = answer?;
//!     for rr in answer.message()?.answers()? {
//!         println!("{}", rr?);
//!     }
//! }
//! stop.stop();
//! t.join().unwrap()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
#[cfg(feature = "heapless")]
pub mod storage;
pub mod time;
pub mod timer;
pub mod wire;

#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "std")]
pub mod zone;

#[doc(hidden)]
pub mod _fuzz;
