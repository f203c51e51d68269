//! The in-flight table: fixed slots, ID allocation, the quarantine of timed-out IDs,
//! and question matching (C2, C4, C11).
//!
//! Questions are stored exactly — a [`NameBuf`] plus type and class — rather than as a
//! keyed digest: 260 bytes per slot buys exact comparison and no secret to manage.
//!
//! The bookkeeping read after every send and every answer is kept incrementally:
//! occupied / waiting / ended counts, and the earliest waiting deadline with the
//! number of waiting slots that share it (recomputed only when the last of those
//! leaves). Slot state, IDs and deadlines live in small parallel arrays, so the scans
//! that remain (free slot, ID lookup, ID collision) touch a few bytes per slot rather
//! than whole slots.
#![forbid(unsafe_code)]

use crate::time::Instant;
use crate::wire::{Class, Name, NameBuf, Question, Rtype};

use super::config::QUARANTINE_CAPACITY;
use super::event::Handle;
use super::rng::SplitMix64;
use super::xfr::Xfr;

/// A terminal outcome waiting to be reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    TimedOut,
    Finished,
}

/// Where a slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Sent (or queued), waiting for its answer.
    Waiting,
    /// Ended; the outcome is still to be reported by `poll_event`.
    Ended(Outcome),
}

/// The cold part of one query in flight (the hot part — state, ID, deadline — is in
/// [`InFlight`]'s parallel arrays).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub(crate) handle: Handle,
    pub(crate) qname: NameBuf,
    pub(crate) qtype: Rtype,
    pub(crate) qclass: Class,
    pub(crate) multi: bool,
    /// Messages delivered so far (multi-message handles).
    pub(crate) messages: u32,
    /// Where a transfer answer stands (AXFR/IXFR end detection, X1).
    pub(crate) xfr: Xfr,
}

impl Slot {
    const EMPTY: Slot = Slot {
        handle: Handle(0),
        qname: NameBuf::root(),
        qtype: Rtype::A,
        qclass: Class::In,
        multi: false,
        messages: 0,
        xfr: Xfr::None,
    };

    /// Same question: name case-insensitively, type and class exactly (C4).
    pub(crate) fn matches(&self, q: &Question<'_>) -> bool {
        self.qtype == q.qtype && self.qclass == q.qclass && self.qname.eq_name_ignore_case(&q.name)
    }
}

/// Fixed slot table plus quarantine.
#[derive(Debug)]
pub(crate) struct InFlight<const N: usize> {
    slots: [Slot; N],
    state: [State; N],
    ids: [u16; N],
    deadlines: [Instant; N],
    occupied: usize,
    waiting: usize,
    ended: usize,
    /// Earliest deadline of a waiting slot, when `min_count > 0`.
    min_deadline: Instant,
    /// Waiting slots whose deadline is `min_deadline`; 0 means unknown (recompute)
    /// or nothing waiting.
    min_count: usize,
    quarantine: [u16; QUARANTINE_CAPACITY],
    quarantined: usize,
    limit: usize,
}

/// What a new slot holds.
pub(crate) struct NewSlot<'n, 'a> {
    pub(crate) handle: Handle,
    pub(crate) id: u16,
    pub(crate) qname: &'n Name<'a>,
    pub(crate) qtype: Rtype,
    pub(crate) qclass: Class,
    pub(crate) deadline: Instant,
    pub(crate) multi: bool,
    pub(crate) xfr: Xfr,
}

impl<const N: usize> InFlight<N> {
    pub(crate) fn new(quarantine_limit: usize) -> Self {
        InFlight {
            slots: [Slot::EMPTY; N],
            state: [State::Free; N],
            ids: [0; N],
            deadlines: [Instant::ZERO; N],
            occupied: 0,
            waiting: 0,
            ended: 0,
            min_deadline: Instant::ZERO,
            min_count: 0,
            quarantine: [0; QUARANTINE_CAPACITY],
            quarantined: 0,
            limit: quarantine_limit.clamp(1, QUARANTINE_CAPACITY),
        }
    }

    fn state(&self, i: usize) -> State {
        self.state.get(i).copied().unwrap_or(State::Free)
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        if self.state(i) == State::Free {
            return None;
        }
        self.slots.get_mut(i)
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Slot> {
        if self.state(i) == State::Free {
            return None;
        }
        self.slots.get(i)
    }

    /// The ID of an occupied slot.
    pub(crate) fn id(&self, i: usize) -> Option<u16> {
        if self.state(i) == State::Free {
            return None;
        }
        self.ids.get(i).copied()
    }

    pub(crate) fn is_waiting(&self, i: usize) -> bool {
        self.state(i) == State::Waiting
    }

    /// A waiting deadline leaves the set (slot freed, ended, or deadline moved).
    fn drop_deadline(&mut self, d: Instant) {
        if self.min_count > 0 && d == self.min_deadline {
            self.min_count -= 1;
        }
    }

    /// A waiting deadline joins the set; `self.waiting` already counts it.
    fn add_deadline(&mut self, d: Instant) {
        if self.waiting == 1 {
            self.min_deadline = d;
            self.min_count = 1;
        } else if self.min_count > 0 {
            if d < self.min_deadline {
                self.min_deadline = d;
                self.min_count = 1;
            } else if d == self.min_deadline {
                self.min_count += 1;
            }
        }
    }

    pub(crate) fn free(&mut self, i: usize) {
        match self.state(i) {
            State::Free => return,
            State::Waiting => {
                self.waiting -= 1;
                let d = self.deadlines.get(i).copied().unwrap_or_default();
                self.drop_deadline(d);
            }
            State::Ended(_) => self.ended -= 1,
        }
        self.occupied -= 1;
        if let Some(s) = self.state.get_mut(i) {
            *s = State::Free;
        }
    }

    /// A waiting slot ends with `outcome` (reported later by `first_ended`).
    pub(crate) fn end(&mut self, i: usize, outcome: Outcome) {
        if self.state(i) != State::Waiting {
            return;
        }
        self.waiting -= 1;
        self.ended += 1;
        let d = self.deadlines.get(i).copied().unwrap_or_default();
        self.drop_deadline(d);
        if let Some(s) = self.state.get_mut(i) {
            *s = State::Ended(outcome);
        }
    }

    /// Moves the deadline of a waiting slot.
    pub(crate) fn set_deadline(&mut self, i: usize, deadline: Instant) {
        if self.state(i) != State::Waiting {
            return;
        }
        let old = self.deadlines.get(i).copied().unwrap_or_default();
        self.drop_deadline(old);
        if let Some(d) = self.deadlines.get_mut(i) {
            *d = deadline;
        }
        self.add_deadline(deadline);
    }

    pub(crate) fn free_index(&self) -> Option<usize> {
        if self.occupied >= N {
            return None;
        }
        self.state.iter().position(|s| *s == State::Free)
    }

    /// Whether every slot is taken.
    pub(crate) fn is_full(&self) -> bool {
        self.occupied >= N
    }

    /// Fills free slot `i` with a waiting query.
    pub(crate) fn insert(&mut self, i: usize, new: &NewSlot<'_, '_>) {
        if self.state(i) != State::Free || i >= N {
            return;
        }
        if let Some(s) = self.slots.get_mut(i) {
            s.handle = new.handle;
            s.qname.set_from(new.qname);
            s.qtype = new.qtype;
            s.qclass = new.qclass;
            s.multi = new.multi;
            s.messages = 0;
            s.xfr = new.xfr;
        }
        if let Some(id) = self.ids.get_mut(i) {
            *id = new.id;
        }
        if let Some(d) = self.deadlines.get_mut(i) {
            *d = new.deadline;
        }
        if let Some(s) = self.state.get_mut(i) {
            *s = State::Waiting;
        }
        self.occupied += 1;
        self.waiting += 1;
        self.add_deadline(new.deadline);
    }

    /// Slots occupied (waiting or with an outcome to report).
    pub(crate) fn occupied(&self) -> usize {
        self.occupied
    }

    /// Slots waiting for an answer.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    pub(crate) fn by_handle(&self, h: Handle) -> Option<usize> {
        self.slots
            .iter()
            .zip(&self.state)
            .position(|(s, st)| *st != State::Free && s.handle == h)
    }

    /// The waiting slot holding `id`.
    pub(crate) fn waiting_by_id(&self, id: u16) -> Option<usize> {
        if self.waiting == 0 {
            return None;
        }
        self.ids
            .iter()
            .zip(&self.state)
            .position(|(i, s)| *i == id && *s == State::Waiting)
    }

    /// First slot with an outcome to report.
    pub(crate) fn first_ended(&self) -> Option<(usize, Handle, Outcome)> {
        if self.ended == 0 {
            return None;
        }
        self.state.iter().enumerate().find_map(|(i, s)| match s {
            State::Ended(o) => Some((i, self.slots.get(i)?.handle, *o)),
            _ => None,
        })
    }

    /// First waiting slot.
    pub(crate) fn first_waiting(&self) -> Option<usize> {
        if self.waiting == 0 {
            return None;
        }
        self.state.iter().position(|s| *s == State::Waiting)
    }

    /// Earliest deadline of a waiting slot.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.waiting == 0 {
            return None;
        }
        if self.min_count == 0 {
            let mut min = None::<Instant>;
            let mut count = 0;
            for (d, s) in self.deadlines.iter().zip(&self.state) {
                if *s != State::Waiting {
                    continue;
                }
                match min {
                    Some(m) if *d > m => {}
                    Some(m) if *d == m => count += 1,
                    _ => {
                        min = Some(*d);
                        count = 1;
                    }
                }
            }
            self.min_deadline = min?;
            self.min_count = count;
        }
        Some(self.min_deadline)
    }

    /// Waiting slots whose deadline is at or before `now`, ended as timed out;
    /// calls `f` with each one's ID.
    pub(crate) fn expire(&mut self, now: Instant, mut f: impl FnMut(&mut Self, u16)) {
        if self.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        for i in 0..N {
            let due =
                self.state(i) == State::Waiting && self.deadlines.get(i).is_some_and(|d| *d <= now);
            if due {
                self.end(i, Outcome::TimedOut);
                let id = self.ids.get(i).copied().unwrap_or_default();
                f(self, id);
            }
        }
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
        self.is_quarantined(id)
            || self
                .ids
                .iter()
                .zip(&self.state)
                .any(|(i, s)| *i == id && *s != State::Free)
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
