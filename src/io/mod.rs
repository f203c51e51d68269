//! std adapters (feature `std`): thin drivers that plug the sans-IO machines into
//! real sockets. Nothing here implements protocol; every decision is the core's.
//!
//! - [`sys`]: TCP Fast Open and `SO_REUSEPORT` socket options (the crate's only
//!   `unsafe`, Linux, with clean fallback).
//! - [`poll`]: a readiness-driven [`poll::Driver`] for any non-blocking
//!   `Read + Write` stream (mio, or a hand-written loop).

pub mod blocking;
pub mod poll;
pub mod sys;
