//! Where a zone transfer answer ends (X1): record by record over every message of
//! a multi-message handle.
//!
//! - AXFR (RFC 5936 §2.2): the zone's SOA, the zone, the SOA again. The answer ends
//!   at the second SOA.
//! - IXFR (RFC 1995 §4) starts with the server's current SOA (serial `new`), then:
//!   - nothing else, when the client is up to date (`new` is not newer than the
//!     serial it asked with): ends after that first SOA;
//!   - the whole zone, AXFR-style (the second record is not an SOA): ends at the
//!     next SOA;
//!   - difference sequences: an old SOA, the records it deletes, a newer SOA, the
//!     records it adds, repeated; the last sequence's newer SOA has serial `new`,
//!     and the answer ends with the SOA of serial `new` that follows its additions.
//!
//! The tracker is small and `Copy`; it lives in the in-flight slot.

/// RFC 1982 serial number arithmetic: whether `a` is newer than `b`.
pub(crate) fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// Progress of one transfer answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Xfr {
    /// Not a transfer.
    None,
    /// AXFR: answer records seen so far.
    Axfr { records: u32 },
    /// IXFR asked with the client's serial `asked` (when it sent one).
    Ixfr { asked: Option<u32>, phase: Phase },
}

/// Where an IXFR answer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing seen yet.
    Start,
    /// The first SOA (serial `new`) only.
    First { new: u32 },
    /// A whole zone follows (AXFR-style): ends at the next SOA.
    Full,
    /// In a difference sequence's deletions (after its old SOA).
    Deleting { new: u32 },
    /// In a difference sequence's additions (after its newer SOA, serial `to`).
    Adding { new: u32, to: u32 },
    /// The closing SOA arrived.
    Done,
}

impl Xfr {
    /// Feeds one answer record: its type is SOA with `serial`, or not (`None`).
    /// Returns whether the answer is complete.
    pub(crate) fn record(&mut self, soa_serial: Option<u32>) -> bool {
        match self {
            Xfr::None => false,
            Xfr::Axfr { records } => {
                let end = soa_serial.is_some() && *records > 0;
                *records = records.saturating_add(1);
                end
            }
            Xfr::Ixfr { phase, .. } => {
                *phase = match (*phase, soa_serial) {
                    // A first record that is not an SOA: not an IXFR answer we can
                    // follow; it ends at the next SOA, like a full zone.
                    (Phase::Start, None) => Phase::Full,
                    (Phase::Start, Some(new)) => Phase::First { new },
                    (Phase::First { .. }, None) => Phase::Full,
                    // The zone holds only its SOA: the same SOA closes it.
                    (Phase::First { new }, Some(s)) if s == new => Phase::Done,
                    (Phase::First { new }, Some(_)) => Phase::Deleting { new },
                    (Phase::Full, None) => Phase::Full,
                    (Phase::Full, Some(_)) => Phase::Done,
                    (Phase::Deleting { new }, None) => Phase::Deleting { new },
                    (Phase::Deleting { new }, Some(to)) => Phase::Adding { new, to },
                    (Phase::Adding { new, to }, None) => Phase::Adding { new, to },
                    (Phase::Adding { new, to }, Some(s)) if to == new && s == new => Phase::Done,
                    // The old SOA of the next difference sequence.
                    (Phase::Adding { new, .. }, Some(_)) => Phase::Deleting { new },
                    (Phase::Done, _) => Phase::Done,
                };
                *phase == Phase::Done
            }
        }
    }

    /// Called at the end of each message: whether the answer is complete there (an
    /// IXFR answer that is the first SOA alone, not newer than what was asked).
    pub(crate) fn message_end(&mut self) -> bool {
        match self {
            Xfr::Ixfr {
                asked: Some(asked),
                phase,
            } => match *phase {
                Phase::First { new } if !serial_newer(new, *asked) => {
                    *phase = Phase::Done;
                    true
                }
                p => p == Phase::Done,
            },
            Xfr::Ixfr { phase, .. } => *phase == Phase::Done,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Feeds `soas` (Some(serial) for an SOA, None for another record), one message
    /// per inner slice; returns after which record (message, index) it ended.
    fn run(mut x: Xfr, messages: &[&[Option<u32>]]) -> Option<(usize, usize)> {
        for (m, recs) in messages.iter().enumerate() {
            for (i, r) in recs.iter().enumerate() {
                if x.record(*r) {
                    return Some((m, i));
                }
            }
            if x.message_end() {
                return Some((m, recs.len().saturating_sub(1)));
            }
        }
        None
    }

    const N: Option<u32> = None;

    fn ixfr(asked: u32) -> Xfr {
        Xfr::Ixfr {
            asked: Some(asked),
            phase: Phase::Start,
        }
    }

    #[test]
    fn x1_axfr_ends_at_the_second_soa() {
        let x = Xfr::Axfr { records: 0 };
        assert_eq!(run(x, &[&[Some(5), N, N], &[N, Some(5)]]), Some((1, 1)));
        assert_eq!(run(x, &[&[Some(5), N, N], &[N]]), None);
    }

    /// RFC 1995 §7's example: serial 1 to 3 through 2, in two messages.
    #[test]
    fn x1_ixfr_difference_sequences_end_at_the_closing_soa() {
        let msgs: [&[Option<u32>]; 2] = [
            &[Some(3), Some(1), N, Some(2)],
            &[N, Some(2), N, Some(3), N, Some(3)],
        ];
        assert_eq!(run(ixfr(1), &msgs), Some((1, 5)));
        // The same records in one message, and one record per message.
        let flat: Vec<Option<u32>> = msgs.iter().flat_map(|m| m.iter().copied()).collect();
        assert_eq!(run(ixfr(1), &[&flat]), Some((0, 9)));
        let single: Vec<&[Option<u32>]> = flat.chunks(1).collect();
        assert_eq!(run(ixfr(1), &single), Some((9, 0)));
        // A difference that deletes or adds nothing.
        assert_eq!(
            run(ixfr(1), &[&[Some(2), Some(1), Some(2), Some(2)]]),
            Some((0, 3))
        );
        // Cut short: not complete.
        assert_eq!(run(ixfr(1), &[&flat[..9]]), None);
    }

    #[test]
    fn x1_ixfr_up_to_date_is_one_soa() {
        assert_eq!(run(ixfr(7), &[&[Some(7)]]), Some((0, 0)));
        // Older than asked (RFC 1982 wrap-around included).
        assert_eq!(run(ixfr(7), &[&[Some(6)]]), Some((0, 0)));
        assert_eq!(run(ixfr(2), &[&[Some(u32::MAX)]]), Some((0, 0)));
        // Newer, but the rest is still to come in the next message.
        assert_eq!(run(ixfr(7), &[&[Some(8)]]), None);
        assert_eq!(
            run(ixfr(7), &[&[Some(8)], &[Some(7), N, Some(8), N, Some(8)]]),
            Some((1, 4))
        );
    }

    #[test]
    fn x1_ixfr_full_zone_fallback_ends_at_the_next_soa() {
        assert_eq!(
            run(ixfr(1), &[&[Some(9), N, N], &[N, Some(9)]]),
            Some((1, 1))
        );
        // A zone that is only its SOA.
        assert_eq!(run(ixfr(1), &[&[Some(9), Some(9)]]), Some((0, 1)));
        // No serial asked: the same, and no early end on a lone SOA.
        let x = Xfr::Ixfr {
            asked: None,
            phase: Phase::Start,
        };
        assert_eq!(run(x, &[&[Some(9)], &[N, Some(9)]]), Some((1, 1)));
    }

    #[test]
    fn serial_arithmetic() {
        assert!(serial_newer(2, 1));
        assert!(!serial_newer(1, 2));
        assert!(!serial_newer(1, 1));
        assert!(serial_newer(0, u32::MAX));
        assert!(!serial_newer(u32::MAX, 0));
    }
}
