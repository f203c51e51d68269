//! The pending-token table: queries handed out and not yet finished (S2, S8).
//!
//! A fixed array of `P` slots, scanned linearly (P is small: 32 by default). Tokens
//! are sequence numbers, so answers may come in any order and a finished token can
//! never be confused with a later one. Each slot keeps only what answering needs
//! without the query: its ID and whether it carried an OPT record (E2).
#![forbid(unsafe_code)]

use super::event::Token;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Handed out; no message written yet.
    Pending,
    /// At least one part written (X1); still open.
    Streaming,
    /// Discarded; waiting to be reported as `Event::Dropped`.
    Dropped,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    token: u64,
    state: State,
    id: u16,
    edns: bool,
}

const FREE: Slot = Slot {
    token: 0,
    state: State::Free,
    id: 0,
    edns: false,
};

/// What the machine remembers about a pending query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The query's message ID, written into every response.
    pub(crate) id: u16,
    /// The query carried an OPT record.
    pub(crate) edns: bool,
    /// A part was already written (X1).
    pub(crate) streaming: bool,
}

/// Fixed table of pending tokens.
#[derive(Debug)]
pub(crate) struct Pipeline<const P: usize> {
    slots: [Slot; P],
    next: u64,
    live: usize,
}

impl<const P: usize> Pipeline<P> {
    pub(crate) fn new() -> Self {
        Pipeline {
            slots: [FREE; P],
            next: 0,
            live: 0,
        }
    }

    /// Tokens handed out and not finished or dropped.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Takes a slot for a new query; `None` when the table is full.
    pub(crate) fn insert(&mut self, id: u16, edns: bool) -> Option<Token> {
        let token = self.next;
        let slot = self.slots.iter_mut().find(|s| s.state == State::Free)?;
        *slot = Slot {
            token,
            state: State::Pending,
            id,
            edns,
        };
        self.next += 1;
        self.live += 1;
        Some(Token(token))
    }

    fn live_slot(&mut self, t: Token) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|s| s.token == t.0 && matches!(s.state, State::Pending | State::Streaming))
    }

    /// The pending query behind `t`.
    pub(crate) fn get(&self, t: Token) -> Option<Pending> {
        self.slots
            .iter()
            .find(|s| s.token == t.0 && matches!(s.state, State::Pending | State::Streaming))
            .map(|s| Pending {
                id: s.id,
                edns: s.edns,
                streaming: s.state == State::Streaming,
            })
    }

    /// Marks that a part was written for `t` (X1).
    pub(crate) fn mark_streaming(&mut self, t: Token) {
        if let Some(s) = self.live_slot(t) {
            s.state = State::Streaming;
        }
    }

    /// Finishes `t`; false when it was not pending.
    pub(crate) fn finish(&mut self, t: Token) -> bool {
        match self.live_slot(t) {
            Some(s) => {
                *s = FREE;
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    /// Discards every live token; they are reported by [`take_dropped`](Self::take_dropped).
    /// Returns how many were dropped.
    pub(crate) fn drop_all(&mut self) -> usize {
        let mut n = 0;
        for s in &mut self.slots {
            if matches!(s.state, State::Pending | State::Streaming) {
                s.state = State::Dropped;
                n += 1;
            }
        }
        self.live = 0;
        n
    }

    /// The oldest dropped token not yet reported, freeing its slot.
    pub(crate) fn take_dropped(&mut self) -> Option<Token> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|s| s.state == State::Dropped)
            .min_by_key(|s| s.token)?;
        let t = Token(slot.token);
        *slot = FREE;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_finish_once_in_any_order() {
        let mut p = Pipeline::<3>::new();
        let a = p.insert(1, false).unwrap();
        let b = p.insert(2, true).unwrap();
        let c = p.insert(3, false).unwrap();
        assert!(p.insert(4, false).is_none());
        assert!(p.finish(c));
        assert!(!p.finish(c));
        assert_eq!(p.get(b).map(|x| (x.id, x.edns)), Some((2, true)));
        let d = p.insert(5, false).unwrap();
        assert!(d > c);
        assert!(p.finish(a));
        assert_eq!(p.drop_all(), 2);
        assert_eq!(p.live(), 0);
        assert_eq!(p.take_dropped(), Some(b));
        assert_eq!(p.take_dropped(), Some(d));
        assert_eq!(p.take_dropped(), None);
        assert!(!p.finish(b));
    }
}
