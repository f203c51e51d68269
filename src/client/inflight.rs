//! The in-flight table: fixed slots, ID allocation, the quarantine of timed-out IDs,
//! and question matching (C2, C4, C11).
//!
//! Questions are stored exactly — a [`NameBuf`] plus type and class — rather than as a
//! keyed digest: 260 bytes per slot buys exact comparison and no secret to manage.
#![forbid(unsafe_code)]

use crate::time::Instant;
use crate::wire::{Class, NameBuf, Question, Rtype};

use super::config::QUARANTINE_CAPACITY;
use super::event::Handle;
use super::rng::SplitMix64;

/// Where a slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Sent (or queued), waiting for its answer.
    Waiting,
    /// Ended; the outcome is still to be reported by `poll_event`.
    Ended(Outcome),
}

/// A terminal outcome waiting to be reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    TimedOut,
    Finished,
}

/// One query in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) handle: Handle,
    pub(crate) id: u16,
    pub(crate) qname: NameBuf,
    pub(crate) qtype: Rtype,
    pub(crate) qclass: Class,
    pub(crate) deadline: Instant,
    pub(crate) multi: bool,
    /// Messages delivered so far (multi-message handles).
    pub(crate) messages: u32,
    /// Answer records seen so far (AXFR end detection).
    pub(crate) records: u32,
    pub(crate) state: SlotState,
}

impl Slot {
    /// Same question: name case-insensitively, type and class exactly (C4).
    pub(crate) fn matches(&self, q: &Question<'_>) -> bool {
        self.qtype == q.qtype
            && self.qclass == q.qclass
            && self.qname.as_name().eq_ignore_case(&q.name)
    }

    pub(crate) fn is_waiting(&self) -> bool {
        self.state == SlotState::Waiting
    }
}

/// Fixed slot table plus quarantine.
#[derive(Debug)]
pub(crate) struct InFlight<const N: usize> {
    slots: [Option<Slot>; N],
    quarantine: [u16; QUARANTINE_CAPACITY],
    quarantined: usize,
    limit: usize,
}

impl<const N: usize> InFlight<N> {
    pub(crate) fn new(quarantine_limit: usize) -> Self {
        InFlight {
            slots: [None; N],
            quarantine: [0; QUARANTINE_CAPACITY],
            quarantined: 0,
            limit: quarantine_limit.clamp(1, QUARANTINE_CAPACITY),
        }
    }

    pub(crate) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().flatten()
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Slot> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    pub(crate) fn free(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = None;
        }
    }

    pub(crate) fn free_index(&self) -> Option<usize> {
        self.slots.iter().position(Option::is_none)
    }

    pub(crate) fn insert(&mut self, i: usize, slot: Slot) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some(slot);
        }
    }

    /// Slots occupied (waiting or with an outcome to report).
    pub(crate) fn occupied(&self) -> usize {
        self.slots().count()
    }

    /// Slots waiting for an answer.
    pub(crate) fn waiting(&self) -> usize {
        self.slots().filter(|s| s.is_waiting()).count()
    }

    pub(crate) fn by_handle(&self, h: Handle) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.handle == h))
    }

    /// The waiting slot holding `id`.
    pub(crate) fn waiting_by_id(&self, id: u16) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id && s.is_waiting()))
    }

    /// First slot with an outcome to report.
    pub(crate) fn first_ended(&self) -> Option<(usize, Handle, Outcome)> {
        self.slots.iter().enumerate().find_map(|(i, s)| match s {
            Some(Slot {
                handle,
                state: SlotState::Ended(o),
                ..
            }) => Some((i, *handle, *o)),
            _ => None,
        })
    }

    /// First waiting slot.
    pub(crate) fn first_waiting(&self) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(Slot::is_waiting))
    }

    /// Earliest deadline of a waiting slot.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.slots()
            .filter(|s| s.is_waiting())
            .map(|s| s.deadline)
            .min()
    }

    pub(crate) fn is_quarantined(&self, id: u16) -> bool {
        self.quarantine
            .get(..self.quarantined)
            .is_some_and(|q| q.contains(&id))
    }

    /// Quarantines `id`. Returns `true` when the quarantine is now full (retire).
    pub(crate) fn quarantine(&mut self, id: u16) -> bool {
        if !self.is_quarantined(id) && self.quarantined < self.limit {
            if let Some(q) = self.quarantine.get_mut(self.quarantined) {
                *q = id;
                self.quarantined += 1;
            }
        }
        self.quarantined >= self.limit
    }

    pub(crate) fn quarantined(&self) -> usize {
        self.quarantined
    }

    fn id_in_use(&self, id: u16) -> bool {
        self.is_quarantined(id) || self.slots().any(|s| s.id == id)
    }

    /// An ID used by no slot and not quarantined (C2, C11), drawn from `rng`. At most
    /// `N + QUARANTINE_CAPACITY` of 65536 IDs are ever taken, so random draws almost
    /// always succeed at once; a bounded linear probe from a random start guarantees
    /// termination regardless.
    pub(crate) fn allocate_id(&self, rng: &mut SplitMix64) -> u16 {
        for _ in 0..8 {
            let id = rng.next_u16();
            if !self.id_in_use(id) {
                return id;
            }
        }
        let start = rng.next_u16();
        let mut id = start;
        loop {
            id = id.wrapping_add(1);
            if !self.id_in_use(id) || id == start {
                return id;
            }
        }
    }
}
