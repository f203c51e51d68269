//! Blocking adapters over `std::net`: a pipelining [`Client`] and a thread-per-
//! connection [`Server`]. Both drive the core machines through
//! [`poll::Driver`](crate::io::poll::Driver) on non-blocking sockets, waiting with
//! `poll(2)` ([`sys::wait`](crate::io::sys::wait)), so reading and writing never
//! block each other however large a pipelined batch is.

mod client;
mod server;

pub use client::{Answer, Axfr, Client, ClientConfig, ClientStats, Error};
pub use server::{
    Deferred, Deferrer, LIMIT_ADDRS, LIMIT_CONNS, PENDING, Server, ServerConfig, ServerStats,
    SharedLimits, Stopper, zone_handler,
};

use core::hash::BuildHasher;
use std::hash::RandomState;

/// A seed for a machine's ID generator from the OS-seeded `RandomState` (C2).
pub(crate) fn os_seed(salt: u64) -> u64 {
    RandomState::new().hash_one(salt)
}
