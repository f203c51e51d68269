//! std adapters (feature `std`): thin drivers that plug the sans-IO machines into
//! real sockets. Nothing here implements protocol; every decision is the core's.
//!
//! - [`sys`]: TCP Fast Open and `SO_REUSEPORT` socket options (the crate's only
//!   `unsafe`, Linux, with clean fallback).

pub mod sys;
