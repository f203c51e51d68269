//! Zone transfer (AXFR, RFC 5936) as a sequence of messages written one at a time
//! into caller buffers.

use super::Zone;
use super::lookup::{AnswerOptions, Preflight, error_response, finish, record_limit};
use crate::wire::{Builder, Message, Rcode, Rtype};

/// Progress of one zone transfer across calls to [`Zone::axfr_messages`].
///
/// Start each transfer with a fresh `AxfrState::default()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AxfrState {
    /// Next position in the sequence SOA, other records…, SOA.
    next: usize,
    /// Messages written so far.
    messages: usize,
    done: bool,
}

impl AxfrState {
    /// A state for a new transfer.
    #[must_use]
    pub fn new() -> Self {
        AxfrState::default()
    }

    /// Whether the last message has been written.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Messages written so far.
    #[must_use]
    pub fn messages(&self) -> usize {
        self.messages
    }
}

impl Zone {
    /// Writes the next message of the answer to `query` into `out` and returns its
    /// length, or `None` when the transfer is complete (or nothing is to be sent).
    /// Never allocates.
    ///
    /// For an AXFR query for the apex, the messages carry, in order, the SOA, every
    /// other record exactly once, and the SOA again (RFC 5936 §2.2). Each message holds
    /// as many records as fit in `max_len` octets (and `out`, and 65535); only the
    /// first carries the question; all have AA set and the query's ID; each carries
    /// our OPT record when the query had one. A record that fits no message alone
    /// ends the transfer with SERVFAIL.
    ///
    /// An AXFR for another name gets NOTAUTH; any other query gets the single message
    /// [`answer`](Self::answer) would write; so a server can route every query here.
    pub fn axfr_messages(
        &self,
        query: &Message<'_>,
        max_len: usize,
        out: &mut [u8],
        state: &mut AxfrState,
    ) -> Option<usize> {
        if state.done || out.len() < crate::wire::HEADER_LEN {
            state.done = true;
            return None;
        }
        let cap = out.len().min(max_len);
        let out = &mut out[..cap.max(crate::wire::HEADER_LEN)];
        let opts = AnswerOptions::default();
        let has_opt = matches!(query.opt(), Ok(Some(_)));
        match self.preflight(query, &mut super::index::QKey::root()) {
            Preflight::Drop => {
                state.done = true;
                return None;
            }
            Preflight::Query {
                qname,
                qtype: Rtype::Axfr,
                ..
            } => {
                if !qname.eq_ignore_case(&self.origin.as_name()) {
                    state.done = true;
                    state.messages += 1;
                    return Some(error_response(
                        query,
                        out,
                        Rcode::NotAuth,
                        true,
                        has_opt,
                        &opts,
                    ));
                }
            }
            _ => {
                state.done = true;
                state.messages += 1;
                return Some(self.answer_with(query, out, &opts));
            }
        }
        let limit = record_limit(out.len(), has_opt, &opts);
        let mut b = if state.messages == 0 {
            Builder::response_to(out, query)
        } else {
            let mut b = Builder::new(out, query.id());
            let h = query.header();
            b.header_mut().set_qr(true);
            b.header_mut().set_opcode(h.opcode());
            b.header_mut().set_rd(h.rd());
            b
        };
        b.header_mut().set_aa(true);
        b.set_limit(limit);
        let total = self.rrs.len() + 1;
        let mut pushed = 0;
        while state.next < total {
            let rr = self.axfr_rr(state.next);
            let node = self.nodes.partition_point(|n| n.rrs.end <= rr);
            let owner = self.nodes[node].name;
            if b.answer(&owner.as_name(), self.rrs[rr].ttl, &self.rdata(rr))
                .is_err()
            {
                break;
            }
            pushed += 1;
            state.next += 1;
        }
        state.messages += 1;
        let mut rcode = Rcode::NoError;
        if pushed == 0 {
            b.clear_records();
            b.header_mut().set_aa(false);
            rcode = Rcode::ServFail;
            state.done = true;
        }
        if state.next >= total {
            state.done = true;
        }
        b.set_limit(usize::MAX);
        Some(finish(b, rcode, has_opt, &opts))
    }

    /// The record at position `p` of the transfer: the SOA first and last, the others
    /// in between in zone order.
    fn axfr_rr(&self, p: usize) -> usize {
        let n = self.rrs.len();
        if p == 0 || p >= n {
            return self.soa;
        }
        if p - 1 < self.soa { p - 1 } else { p }
    }
}
