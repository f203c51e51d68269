//! Answering queries from a [`Zone`] (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6891),
//! straight into the caller's buffer, without allocating.

use core::ops::Range;

use super::index::{NONE, QKey};
use super::{MAX_CNAME_CHAIN, Zone};
use crate::wire::{
    BuildError, Builder, Class, Message, Name, Opcode, RData, Rcode, Rtype, Section as WireSection,
};

/// The UDP payload size this server advertises in its OPT record (the DNS flag day
/// 2020 value; over TCP it only tells the client what a UDP answer could hold).
pub const SERVER_UDP_SIZE: u16 = 1232;

/// Per-answer choices the embedding server makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnswerOptions {
    /// edns-tcp-keepalive TIMEOUT (RFC 7828) in 100 ms units to put in the response's
    /// OPT record. Only added when the query carried an OPT record.
    pub keepalive: Option<u16>,
}

impl AnswerOptions {
    /// Options with an edns-tcp-keepalive TIMEOUT in 100 ms units.
    #[must_use]
    pub fn with_keepalive(timeout: Option<u16>) -> Self {
        AnswerOptions { keepalive: timeout }
    }
}

/// Why an answer could not be completed: the response must be truncated.
struct Full;

impl From<BuildError> for Full {
    fn from(_: BuildError) -> Self {
        Full
    }
}

/// Up to this many targets (MX exchanges, NS, SRV targets) get additional A/AAAA.
const MAX_ADDITIONAL_TARGETS: usize = 16;

/// What the early checks decided about a query.
pub(super) enum Preflight<'q> {
    /// Write nothing (the message is a response).
    Drop,
    /// Answer with this RCODE and nothing else; `question` says whether to echo it.
    Error { rcode: Rcode, question: bool },
    /// A well-formed standard query for this name and type; `has_opt`: it carries
    /// an OPT record.
    Query {
        qname: Name<'q>,
        qtype: Rtype,
        has_opt: bool,
    },
}

impl Zone {
    /// Answers `query` into `out` and returns the response length (0: send nothing).
    ///
    /// Equivalent to [`answer_with`](Self::answer_with) with default options.
    pub fn answer(&self, query: &Message<'_>, out: &mut [u8]) -> usize {
        self.answer_with(query, out, &AnswerOptions::default())
    }

    /// Answers `query` into `out` (at most 65535 octets are used) and returns the
    /// response length. Never allocates.
    ///
    /// Returns 0, and nothing should be sent, when the message is itself a response
    /// (QR=1, RFC 1035 §7.3 servers ignore those) or `out` is shorter than a header.
    ///
    /// Behaviour, in order:
    /// - malformed message ([`Message::check`] fails): FORMERR, no question;
    /// - opcode other than QUERY: NOTIMP;
    /// - EDNS version above 0: BADVERS (extended RCODE 16) with our OPT (RFC 6891 §6.1.3);
    /// - QDCOUNT other than 1: FORMERR;
    /// - class other than IN, or a name outside the zone: REFUSED;
    /// - AXFR/IXFR: REFUSED here; transfers are written by
    ///   [`axfr_messages`](Self::axfr_messages);
    /// - below a delegation: a referral (NS in authority, glue A/AAAA in additional,
    ///   AA clear);
    /// - otherwise an authoritative answer (AA set): the RRset, CNAME chains followed
    ///   inside the zone up to [`MAX_CNAME_CHAIN`] links, wildcards synthesised per
    ///   RFC 4592 (empty non-terminals block them), NXDOMAIN or NODATA with the SOA in
    ///   authority whose TTL is min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), and A/AAAA of
    ///   in-zone MX, NS and SRV targets in additional;
    /// - QTYPE ANY is answered with every RRset at the name (this zone is small and
    ///   authoritative, so RFC 8482's minimal answer is not needed).
    ///
    /// When the query had an OPT record the response carries ours (UDP size
    /// [`SERVER_UDP_SIZE`], and `options.keepalive` if set). When the answer does not
    /// fit `out`, the response holds the question (and OPT) with TC=1; additional
    /// addresses that do not fit are left out without TC, except referral glue.
    pub fn answer_with(
        &self,
        query: &Message<'_>,
        out: &mut [u8],
        options: &AnswerOptions,
    ) -> usize {
        if out.len() < crate::wire::HEADER_LEN {
            return 0;
        }
        let mut key = QKey::root();
        let (qname, qtype, has_opt) = match self.preflight(query, &mut key) {
            Preflight::Drop => return 0,
            Preflight::Error { rcode, question } => {
                let has_opt = matches!(query.opt(), Ok(Some(_)));
                return error_response(query, out, rcode, question, has_opt, options);
            }
            Preflight::Query {
                qname,
                qtype,
                has_opt,
            } => (qname, qtype, has_opt),
        };
        let limit = record_limit(out.len(), has_opt, options);
        // `Builder::response_to` without parsing the question again: preflight has
        // it, and it is the first question of the query, class IN.
        let mut b = Builder::new(out, query.id());
        let qh = query.header();
        b.header_mut().set_qr(true);
        b.header_mut().set_opcode(qh.opcode());
        b.header_mut().set_rd(qh.rd());
        b.header_mut().set_cd(qh.cd());
        let _ = b.push_question(&qname, qtype, Class::In);
        b.set_limit(limit);
        let rcode = match self.resolve(&mut b, qname, &mut key, qtype) {
            Ok(rcode) => rcode,
            Err(Full) => {
                b.clear_records();
                b.header_mut().set_tc(true);
                Rcode::NoError
            }
        };
        b.set_limit(usize::MAX);
        finish(b, rcode, has_opt, options)
    }

    /// The checks every query goes through before lookup (shared with AXFR).
    pub(super) fn preflight<'q>(&self, query: &'q Message<'_>, key: &mut QKey) -> Preflight<'q> {
        if query.qr() {
            return Preflight::Drop;
        }
        let summary = match query.check() {
            Ok(s) => s,
            Err(_) => {
                return Preflight::Error {
                    rcode: Rcode::FormErr,
                    question: false,
                };
            }
        };
        if query.opcode() != Opcode::Query {
            return Preflight::Error {
                rcode: Rcode::NotImp,
                question: true,
            };
        }
        if summary.opt.is_some_and(|o| o.version() > 0) {
            return Preflight::Error {
                rcode: Rcode::BadVers,
                question: true,
            };
        }
        let q = match (query.header().qdcount(), summary.question) {
            (1, Some(q)) => q,
            _ => {
                return Preflight::Error {
                    rcode: Rcode::FormErr,
                    question: false,
                };
            }
        };
        if q.qclass != Class::In {
            return Preflight::Error {
                rcode: Rcode::Refused,
                question: true,
            };
        }
        key.set(&q.name);
        if !self.in_zone(key) {
            return Preflight::Error {
                rcode: Rcode::Refused,
                question: true,
            };
        }
        Preflight::Query {
            qname: q.name,
            qtype: q.qtype,
            has_opt: summary.opt.is_some(),
        }
    }

    /// The lookup proper; returns the RCODE, or `Full` when a required record did
    /// not fit.
    fn resolve(
        &self,
        b: &mut Builder<'_>,
        qname: Name<'_>,
        q: &mut QKey,
        qtype: Rtype,
    ) -> Result<Rcode, Full> {
        if matches!(qtype, Rtype::Axfr | Rtype::Ixfr) {
            b.header_mut().set_aa(false);
            return Ok(Rcode::Refused);
        }
        if let Some(cut) = self.find_cut(q, qtype) {
            return self.referral(b, cut);
        }
        b.header_mut().set_aa(true);
        let mut targets = Targets::new();
        let mut name = qname;
        for link in 0..=MAX_CNAME_CHAIN {
            // A CNAME may lead out of the zone or below a cut: stop there, the client
            // resolves the rest.
            if link > 0 {
                q.set(&name);
                if !self.in_zone(q) || self.find_cut(q, qtype).is_some() {
                    break;
                }
            }
            let (node, owner) = match self.slot(q, q.labels()) {
                Some(s) if s.node != NONE => (s.node as usize, name),
                Some(_) => return self.negative(b, Rcode::NoError),
                None => match self.wildcard(q) {
                    Some(w) => (w, name),
                    None => return self.negative(b, Rcode::NxDomain),
                },
            };
            if qtype == Rtype::Any {
                let all = self.nodes[node].rrs.clone();
                self.push_answers(b, &owner, all, &mut targets)?;
                break;
            }
            let set = self.rrset(node, qtype);
            if !set.is_empty() {
                self.push_answers(b, &owner, set, &mut targets)?;
                break;
            }
            let cname = self.rrset(node, Rtype::Cname);
            if cname.is_empty() {
                return self.negative(b, Rcode::NoError);
            }
            self.push_answers(b, &owner, cname.clone(), &mut targets)?;
            match self.rdata(cname.start) {
                RData::Cname(target) => name = target,
                _ => break,
            }
        }
        self.push_additional(b, &targets, false)?;
        Ok(Rcode::NoError)
    }

    /// Whether the name of `q` is the apex or below it.
    fn in_zone(&self, q: &QKey) -> bool {
        let apex_labels = self.origin.as_name().label_count();
        q.labels() >= apex_labels
            && q.prefix(apex_labels) == &self.keys[self.nodes[self.apex].key.clone()]
    }

    /// The topmost delegation point strictly below the apex at or above `name`
    /// (a DS query at the cut itself belongs to the parent side).
    fn find_cut(&self, q: &QKey, qtype: Rtype) -> Option<usize> {
        let apex_labels = self.origin.as_name().label_count();
        let labels = q.labels();
        for k in apex_labels + 1..=labels {
            if k == labels && qtype == Rtype::Unknown(43) {
                break;
            }
            match self.slot(q, k) {
                Some(s) if s.has_ns && s.node != NONE => return Some(s.node as usize),
                Some(_) => {}
                // Nothing exists at or below this ancestor: no cut further down.
                None => return None,
            }
        }
        None
    }

    /// The wildcard node that synthesises `name` (RFC 4592 §3.3.1): `*.` under the
    /// closest encloser, which is the deepest existing ancestor.
    fn wildcard(&self, q: &QKey) -> Option<usize> {
        let labels = q.labels();
        let apex_labels = self.origin.as_name().label_count();
        for i in 1..=labels.saturating_sub(apex_labels) {
            if let Some(s) = self.slot(q, labels - i) {
                return (s.wild != NONE).then_some(s.wild as usize);
            }
        }
        None
    }

    fn referral(&self, b: &mut Builder<'_>, cut: usize) -> Result<Rcode, Full> {
        b.header_mut().set_aa(false);
        let owner = self.nodes[cut].name;
        let mut targets = Targets::new();
        self.push_set(
            b,
            Section::Authority,
            &owner.as_name(),
            self.rrset(cut, Rtype::Ns),
            &mut targets,
        )?;
        self.push_additional(b, &targets, true)?;
        Ok(Rcode::NoError)
    }

    /// NXDOMAIN or NODATA: the SOA in authority with the negative TTL.
    fn negative(&self, b: &mut Builder<'_>, rcode: Rcode) -> Result<Rcode, Full> {
        let soa = self.rdata(self.soa);
        let ttl = match soa {
            RData::Soa { minimum, .. } => minimum.min(self.rrs[self.soa].ttl),
            _ => self.rrs[self.soa].ttl,
        };
        b.authority(&self.origin.as_name(), ttl, &soa)?;
        Ok(rcode)
    }

    fn push_answers(
        &self,
        b: &mut Builder<'_>,
        owner: &Name<'_>,
        set: Range<usize>,
        targets: &mut Targets,
    ) -> Result<(), Full> {
        self.push_set(b, Section::Answer, owner, set, targets)
    }

    fn push_set(
        &self,
        b: &mut Builder<'_>,
        section: Section,
        owner: &Name<'_>,
        set: Range<usize>,
        targets: &mut Targets,
    ) -> Result<(), Full> {
        // After the first record, the owner is a known compression entry: later
        // records point to it without the builder searching its table again.
        let mut entry = None;
        for i in set {
            let data = self.rdata(i);
            let ttl = self.rrs[i].ttl;
            let sec = match section {
                Section::Answer => WireSection::Answer,
                Section::Authority => WireSection::Authority,
            };
            match entry {
                Some(e) => b.push_at_entry(sec, e, ttl, &data)?,
                None => {
                    let start = b.len();
                    b.push(sec, owner, Class::In, ttl, &data)?;
                    entry = b.owner_entry(start, owner);
                }
            }
            let node = self.rrs[i].target;
            if node != NONE {
                targets.add(node as usize);
            }
        }
        Ok(())
    }

    /// A/AAAA for the collected targets. Glue (`required`) that does not fit means
    /// truncation (RFC 9471); other addresses are simply left out.
    fn push_additional(
        &self,
        b: &mut Builder<'_>,
        targets: &Targets,
        required: bool,
    ) -> Result<(), Full> {
        for &node in &targets.nodes[..targets.len] {
            let name = self.nodes[node].name;
            let name = name.as_name();
            let mut entry = None;
            for t in [Rtype::A, Rtype::Aaaa] {
                for i in self.rrset(node, t) {
                    let (ttl, data) = (self.rrs[i].ttl, self.rdata(i));
                    let start = b.len();
                    let pushed = match entry {
                        Some(e) => b.push_at_entry(WireSection::Additional, e, ttl, &data),
                        None => b.additional(&name, ttl, &data),
                    };
                    match pushed {
                        Ok(()) => {
                            if entry.is_none() {
                                entry = b.owner_entry(start, &name);
                            }
                        }
                        Err(_) if !required => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Section {
    Answer,
    Authority,
}

/// Distinct nodes whose addresses go to the additional section.
struct Targets {
    nodes: [usize; MAX_ADDITIONAL_TARGETS],
    len: usize,
}

impl Targets {
    fn new() -> Self {
        Targets {
            nodes: [0; MAX_ADDITIONAL_TARGETS],
            len: 0,
        }
    }

    fn add(&mut self, node: usize) {
        if self.nodes[..self.len].contains(&node) || self.len == self.nodes.len() {
            return;
        }
        self.nodes[self.len] = node;
        self.len += 1;
    }
}

/// Octets of our OPT record: root, type, class, TTL, RDLENGTH, and the keepalive
/// option when one is sent.
fn opt_len(options: &AnswerOptions) -> usize {
    11 + if options.keepalive.is_some() { 6 } else { 0 }
}

/// The message length records may use in a buffer of `cap` octets, keeping room for
/// our OPT record.
pub(super) fn record_limit(cap: usize, has_opt: bool, options: &AnswerOptions) -> usize {
    let reserve = if has_opt { opt_len(options) } else { 0 };
    cap.min(usize::from(u16::MAX)).saturating_sub(reserve)
}

/// Sets the RCODE, appends our OPT when the query had one, and writes the header.
pub(super) fn finish(
    mut b: Builder<'_>,
    rcode: Rcode,
    has_opt: bool,
    options: &AnswerOptions,
) -> usize {
    let ext = b.set_rcode(rcode);
    if has_opt {
        let ka = options.keepalive;
        let pushed = b.push_opt(SERVER_UDP_SIZE, ext, 0, false, |w| match ka {
            Some(t) => w.keepalive(Some(t)),
            None => Ok(()),
        });
        if pushed.is_err() {
            // Only possible when `out` could not even hold question + OPT.
            b.clear_records();
            b.header_mut().set_tc(true);
            let _ = b.push_opt(SERVER_UDP_SIZE, ext, 0, false, |_| Ok(()));
        }
    }
    b.finish()
}

/// A response carrying only an RCODE (plus the question when `question`, and our OPT
/// when the query had one).
pub(super) fn error_response(
    query: &Message<'_>,
    out: &mut [u8],
    rcode: Rcode,
    question: bool,
    has_opt: bool,
    options: &AnswerOptions,
) -> usize {
    let b = if question {
        Builder::response_to(out, query)
    } else {
        let mut b = Builder::new(out, query.id());
        let h = query.header();
        b.header_mut().set_qr(true);
        b.header_mut().set_opcode(h.opcode());
        b.header_mut().set_rd(h.rd());
        b.header_mut().set_cd(h.cd());
        b
    };
    finish(b, rcode, has_opt, options)
}
