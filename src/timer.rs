//! A fixed table of deadlines shared by both connection machines.
//!
//! Each machine names its timers with a small `enum` converted to an index; the table
//! answers "what is the earliest deadline" for `poll_timeout` and "which timers have
//! expired" for `handle_timeout`. Nothing allocates; the size is a const generic.
#![forbid(unsafe_code)]

use crate::time::Instant;

/// Deadlines indexed `0..N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerTable<const N: usize> {
    slots: [Option<Instant>; N],
}

impl<const N: usize> Default for TimerTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TimerTable<N> {
    /// A table with every timer stopped.
    #[must_use]
    pub const fn new() -> Self {
        TimerTable { slots: [None; N] }
    }

    /// Arms timer `i` at `at` (replacing any earlier setting). Out-of-range indexes are ignored.
    pub fn set(&mut self, i: usize, at: Instant) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some(at);
        }
    }

    /// Arms timer `i` at `at` only if it is stopped.
    pub fn set_if_stopped(&mut self, i: usize, at: Instant) {
        if let Some(s) = self.slots.get_mut(i) {
            if s.is_none() {
                *s = Some(at);
            }
        }
    }

    /// Stops timer `i`.
    pub fn stop(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = None;
        }
    }

    /// Stops every timer.
    pub fn stop_all(&mut self) {
        self.slots = [None; N];
    }

    /// The deadline of timer `i`.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Instant> {
        self.slots.get(i).copied().flatten()
    }

    /// Whether timer `i` is armed and due at `now`.
    #[must_use]
    pub fn is_expired(&self, i: usize, now: Instant) -> bool {
        self.get(i).is_some_and(|t| t <= now)
    }

    /// The earliest armed deadline.
    #[must_use]
    pub fn next(&self) -> Option<Instant> {
        self.slots.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_wins() {
        let mut t = TimerTable::<3>::new();
        assert_eq!(t.next(), None);
        t.set(0, Instant::from_millis(50));
        t.set(2, Instant::from_millis(20));
        t.set(7, Instant::from_millis(1));
        assert_eq!(t.next(), Some(Instant::from_millis(20)));
        t.stop(2);
        assert_eq!(t.next(), Some(Instant::from_millis(50)));
        assert!(t.is_expired(0, Instant::from_millis(50)));
        assert!(!t.is_expired(0, Instant::from_millis(49)));
        t.set_if_stopped(0, Instant::from_millis(5));
        assert_eq!(t.get(0), Some(Instant::from_millis(50)));
    }
}
