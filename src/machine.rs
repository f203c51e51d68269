//! The drive contract both connection machines share, as a trait so the adapters
//! (blocking, poll loop, simulation) are written once.
//!
//! # The loop
//!
//! After any input or command, drain the outputs in this order until only a deadline
//! is left, then wait for the socket or the deadline:
//!
//! 1. `poll_event` until `None` (machine-specific: queries or responses);
//! 2. `poll_transmit` → write → `advance_transmit(now, written)`;
//! 3. [`intent`](Machine::intent) → shut down the write side / close;
//! 4. `poll_timeout` → the next deadline; when it passes, `handle_timeout(now)`.
//!
//! Inputs are `commit_read` (after reading into `read_buf`), `handle_peer_closed`
//! (EOF), `handle_reset` (reset or failed write) and `handle_timeout`.
#![forbid(unsafe_code)]

use crate::intent::Intent;
use crate::time::Instant;

/// A sans-IO connection machine as the adapters see it.
pub trait Machine {
    /// The free space to read socket bytes into; empty when the machine does not want
    /// input now (back-pressure).
    fn read_buf(&mut self) -> &mut [u8];
    /// Call after reading `n` bytes into [`read_buf`](Self::read_buf).
    fn commit_read(&mut self, now: Instant, n: usize);
    /// Call when the peer's FIN arrives (a read returned 0).
    fn handle_peer_closed(&mut self, now: Instant);
    /// Call when the connection is reset or a write failed.
    fn handle_reset(&mut self, now: Instant);
    /// Everything ready to write, many frames coalesced.
    fn poll_transmit(&self) -> Option<&[u8]>;
    /// Call after `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    fn advance_transmit(&mut self, now: Instant, n: usize);
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Call when the deadline passed (early calls are harmless).
    fn handle_timeout(&mut self, now: Instant);
    /// What to do with the socket now.
    fn intent(&self) -> Intent;
}

macro_rules! impl_machine {
    ($ty:ty, $($gen:tt)*) => {
        impl<B: AsMut<[u8]> + AsRef<[u8]>, $($gen)*> Machine for $ty {
            fn read_buf(&mut self) -> &mut [u8] {
                <$ty>::read_buf(self)
            }
            fn commit_read(&mut self, now: Instant, n: usize) {
                <$ty>::commit_read(self, now, n)
            }
            fn handle_peer_closed(&mut self, now: Instant) {
                <$ty>::handle_peer_closed(self, now)
            }
            fn handle_reset(&mut self, now: Instant) {
                <$ty>::handle_reset(self, now)
            }
            fn poll_transmit(&self) -> Option<&[u8]> {
                <$ty>::poll_transmit(self)
            }
            fn advance_transmit(&mut self, now: Instant, n: usize) {
                <$ty>::advance_transmit(self, now, n)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn intent(&self) -> Intent {
                <$ty>::intent(self)
            }
        }
    };
}

impl_machine!(crate::client::Connection<B, N>, const N: usize);
impl_machine!(crate::server::Connection<B, P>, const P: usize);
