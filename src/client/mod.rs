//! The client connection machine (RFC 7766 §6.2, §7): one [`Connection`] per TCP
//! connection to a server, pipelining many queries and matching answers that arrive
//! in any order.
//!
//! # API taxonomy (quinn's four kinds)
//!
//! | kind | methods |
//! |---|---|
//! | getters (`&self`) | [`intent`](Connection::intent), [`stats`](Connection::stats), [`in_flight`](Connection::in_flight), [`can_send`](Connection::can_send), [`query_id`](Connection::query_id), [`close_reason`](Connection::close_reason) |
//! | input | [`read_buf`](Connection::read_buf) + [`commit_read`](Connection::commit_read), [`handle_read`](Connection::handle_read), [`handle_peer_closed`](Connection::handle_peer_closed), [`handle_reset`](Connection::handle_reset), [`handle_timeout`](Connection::handle_timeout) |
//! | commands | [`send`](Connection::send), [`send_question`](Connection::send_question), [`send_axfr`](Connection::send_axfr), [`resend_tc`](Connection::resend_tc), [`finish_sending`](Connection::finish_sending), [`cancel`](Connection::cancel), [`abort`](Connection::abort) |
//! | output | [`poll_transmit`](Connection::poll_transmit) + [`advance_transmit`](Connection::advance_transmit), [`poll_event`](Connection::poll_event), [`poll_timeout`](Connection::poll_timeout) |
//!
//! **Drain contract.** After any input or command the caller MUST write
//! `poll_transmit` (reporting progress with `advance_transmit`), drain `poll_event`
//! until it returns `None`, act on [`intent`](Connection::intent), and then wait for
//! the socket or for `poll_timeout`, whichever comes first. Received frames are
//! decoded lazily by `poll_event`, so undrained events also hold receive space.
//!
//! # Handles
//!
//! Every accepted query gets a [`Handle`] and ends exactly once (C8): with
//! [`Event::Response`] (or [`Event::Finished`] after the responses of a
//! multi-message handle), [`Event::TimedOut`], [`Event::Failed`], or silently when
//! the caller [`cancel`](Connection::cancel)s it. [`Event::Closed`] comes last, once.
//!
//! # Matching (C4, C11, C12)
//!
//! A message completes a handle only when its ID is that of a query waiting for an
//! answer and, when it carries a question, that question is the query's (name
//! case-insensitively, type and class exactly; exactly one question). A message without
//! a question matches only with a non-zero RCODE (e.g. FORMERR), or as a later
//! message of a multi-message handle (RFC 5936 §2.2.1). QR=0 messages, unknown IDs,
//! quarantined IDs (late answers to timed-out or cancelled queries) and wrong
//! questions are discarded and counted in [`Stats`]. IDs come from a seeded PRNG and
//! never equal an ID in flight or quarantined.
//!
//! # State table
//!
//! | state | entered by | `intent` | `send` | leaves by |
//! |---|---|---|---|---|
//! | Open | `new` | read, write if output | accepted (or `Full`/`NoSpace`) | below |
//! | Idle (Open, nothing in flight) | last handle ends | read | accepted | `send` → Open; idle timer → Closed(Idle) |
//! | Finishing | `finish_sending`, or keepalive 0 from the server (E2) | read, write; `shutdown_write` once tx is empty and `half_close` is on (C9) | `Closing` | every handle ended → Closed(Finished/KeepaliveZero) |
//! | Retired | quarantine full (C11), reported by [`Event::Retired`] | as Open | `Retired` | every handle ended → Closed(Retired) |
//! | Closed | the above, server FIN, reset, abort, framing error (F3) | close | `Closed` | — (remaining responses already received are still delivered, then each waiting handle gets `Failed`, then `Closed`) |
//!
//! # Time
//!
//! Time never runs backwards inside: each input stores `max(last, now)`. A jump to
//! the far future just fires every due timer. `poll_event` uses the time of the last
//! input.
#![forbid(unsafe_code)]

mod config;
mod event;
mod inflight;
pub mod retry;
mod rng;
mod xfr;

use core::ops::Range;
use core::time::Duration;

use crate::buffer::{RxBuf, RxFrame, TxBuf};
use crate::frame::{Decoder, Oversize, PREFIX_LEN};
use crate::intent::Intent;
use crate::time::Instant;
use crate::timer::TimerTable;
use crate::wire::edns::keepalive::duration_from_units;
use crate::wire::header::set_id_in;
use crate::wire::{BuildError, Builder, Class, Message, Name, RData, Rcode, Rtype};

pub use config::{Config, QUARANTINE_CAPACITY, QueryOptions};
pub use event::{CloseReason, Event, FailReason, Handle, SendError, Stats};
pub use retry::{Retry, RetryDecision, RetryPolicy};

use inflight::{InFlight, NewSlot, Outcome};
use rng::SplitMix64;
use xfr::{Phase, Xfr};

/// Timers of the client machine, indexes into its [`TimerTable`].
#[derive(Clone, Copy)]
enum Timer {
    /// Nothing in flight: close at this deadline (C6).
    Idle = 0,
    /// The earliest per-query deadline (C10).
    Query = 1,
}

const TIMERS: usize = 2;

/// One-in-how-many EDNS queries carry edns-tcp-keepalive (E2: at least every 5th).
const KEEPALIVE_EVERY: u64 = 5;

/// What `poll_event` found in the receive buffer.
enum Found {
    Response(Handle, Range<usize>),
    Failed(Handle, FailReason),
}

/// A client connection: caller-owned receive and transmit storage, `N` in-flight
/// slots (the pipelining cap), a bounded ID quarantine, and timers.
///
/// See the [module docs](self) for the drain contract and the state table.
#[derive(Debug)]
pub struct Connection<B: AsMut<[u8]> + AsRef<[u8]>, const N: usize = 16> {
    config: Config,
    rx: RxBuf<B>,
    tx: TxBuf<B>,
    inflight: InFlight<N>,
    rng: SplitMix64,
    timers: TimerTable<TIMERS>,
    now: Instant,
    next_serial: u64,
    edns_sent: u64,
    idle_timeout: Duration,
    finishing: bool,
    keepalive_zero: bool,
    retired: bool,
    retired_reported: bool,
    close: Option<CloseReason>,
    closed_reported: bool,
    stats: Stats,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>, const N: usize> Connection<B, N> {
    /// A connection that has just been established, at time `now`.
    ///
    /// `rx` receives responses: a response larger than `rx.len() - 2` fails its
    /// handle with [`FailReason::TooLarge`] (F4); 65537 bytes hold any message. `tx`
    /// holds queued queries. `seed` drives the ID generator (not cryptographic; the
    /// std adapter seeds it from the OS).
    pub fn new(config: Config, rx: B, tx: B, seed: u64, now: Instant) -> Self {
        let max = u16::try_from(rx.as_ref().len().saturating_sub(PREFIX_LEN)).unwrap_or(u16::MAX);
        let mut c = Connection {
            config,
            rx: RxBuf::new(rx, Decoder::new(max, Oversize::Discard)),
            tx: TxBuf::new(tx),
            inflight: InFlight::new(config.quarantine_limit),
            rng: SplitMix64::new(seed),
            timers: TimerTable::new(),
            now,
            next_serial: 0,
            edns_sent: 0,
            idle_timeout: config.idle_timeout,
            finishing: false,
            keepalive_zero: false,
            retired: false,
            retired_reported: false,
            close: None,
            closed_reported: false,
            stats: Stats::default(),
        };
        c.refresh_timers();
        c
    }

    // ---- getters ------------------------------------------------------------

    /// What the adapter should do with the socket now.
    pub fn intent(&self) -> Intent {
        if self.close.is_some() {
            return Intent::CLOSE;
        }
        Intent {
            read: self.rx.buffered() < self.rx.capacity(),
            write: !self.tx.is_empty(),
            shutdown_write: self.config.half_close && self.finishing && self.tx.is_empty(),
            close: false,
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Queries waiting for an answer.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.inflight.waiting()
    }

    /// Whether [`send`](Self::send) would find a free slot and an open connection
    /// (transmit space is checked by `send` itself).
    #[must_use]
    pub fn can_send(&self) -> bool {
        self.accepting().is_ok()
    }

    /// The message ID assigned to a live handle.
    #[must_use]
    pub fn query_id(&self, handle: Handle) -> Option<u16> {
        let i = self.inflight.by_handle(handle)?;
        self.inflight.id(i)
    }

    /// Why the connection closed, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.close
    }

    /// The idle timeout in force: the configured one, or the server's
    /// edns-tcp-keepalive value once one arrived (E2).
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// IDs quarantined so far (C11).
    #[must_use]
    pub fn quarantined(&self) -> usize {
        self.inflight.quarantined()
    }

    // ---- commands -----------------------------------------------------------

    /// Queues `query` (a complete DNS message with exactly one question) and returns
    /// its handle. The machine assigns the ID, overwriting the first two bytes in its
    /// copy (C2); the caller's bytes are not modified. AXFR and IXFR queries open
    /// multi-message handles (X1); an IXFR query's authority SOA gives the serial
    /// the answer is measured against. EDNS options are sent as the caller wrote
    /// them.
    pub fn send(&mut self, now: Instant, query: &[u8]) -> Result<Handle, SendError> {
        self.tick(now);
        self.accepting()?;
        let msg = Message::new(query).map_err(SendError::Malformed)?;
        if msg.qr() || msg.header().qdcount() != 1 {
            return Err(SendError::NotAQuery);
        }
        let summary = msg.check().map_err(SendError::Malformed)?;
        let q = summary.question.ok_or(SendError::NotAQuery)?;
        let (name, qtype, qclass) = (q.name, q.qtype, q.qclass);
        let multi = matches!(qtype, Rtype::Axfr | Rtype::Ixfr);
        // An IXFR query carries the client's SOA in its authority section.
        let asked = msg.authority().ok().and_then(|mut a| {
            a.find_map(|r| match r.ok()?.data().ok()? {
                RData::Soa { serial, .. } => Some(serial),
                _ => None,
            })
        });
        let len = query.len();
        let queued = self.enqueue(len, |space, id| {
            let dst = space.get_mut(..len).ok_or(SendError::NoSpace)?;
            dst.copy_from_slice(query);
            set_id_in(dst, id);
            Ok(len)
        })?;
        Ok(self.store(queued, &name, qtype, qclass, multi, asked))
    }

    /// Builds and queues a query for `name`/`qtype`/`qclass` (C1, C3). With EDNS the
    /// first query and every 5th after it carry edns-tcp-keepalive with length 0
    /// (E2), unless [`Config::keepalive`] is off.
    pub fn send_question(
        &mut self,
        now: Instant,
        name: &Name<'_>,
        qtype: Rtype,
        qclass: Class,
        options: QueryOptions,
    ) -> Result<Handle, SendError> {
        self.tick(now);
        self.accepting()?;
        let edns = options.edns.unwrap_or(self.config.edns);
        let keepalive =
            edns && self.config.keepalive && self.edns_sent.is_multiple_of(KEEPALIVE_EVERY);
        let udp_size = self.config.edns_udp_size;
        let estimate = crate::wire::HEADER_LEN + name.wire_len() + 4 + if edns { 15 } else { 0 };
        let queued = self.enqueue(estimate, |space, id| {
            let mut b = Builder::new(space, id);
            b.header_mut().set_rd(options.rd);
            // Nothing after the question has a name that could point at it (the OPT
            // owner is the root), so the compression table is not filled.
            b.push_question_uncompressed(name, qtype, qclass)
                .map_err(build_err)?;
            if edns {
                b.push_opt(udp_size, 0, 0, options.dnssec_ok, |w| {
                    if keepalive { w.keepalive(None) } else { Ok(()) }
                })
                .map_err(build_err)?;
            }
            Ok(b.finish())
        })?;
        if edns {
            self.edns_sent += 1;
        }
        let multi = options.multi || matches!(qtype, Rtype::Axfr | Rtype::Ixfr);
        Ok(self.store(queued, name, qtype, qclass, multi, None))
    }

    /// Queues an AXFR (RFC 5936) for `zone`, class IN, RD clear: a multi-message
    /// handle (X1) that delivers each message until the closing SOA
    /// ([`Event::Finished`]) or the caller cancels it.
    pub fn send_axfr(&mut self, now: Instant, zone: &Name<'_>) -> Result<Handle, SendError> {
        let options = QueryOptions {
            rd: false,
            multi: true,
            ..QueryOptions::default()
        };
        self.send_question(now, zone, Rtype::Axfr, Class::In, options)
    }

    /// Queues an IXFR (RFC 1995) for `zone`, class IN, RD clear, with the client's
    /// `serial` in an SOA in the authority section: a multi-message handle (X1)
    /// that delivers each message until the answer is complete
    /// ([`Event::Finished`]): a single SOA not newer than `serial` (up to date),
    /// the closing SOA of the difference sequences, or the end of a full zone sent
    /// instead. EDNS as for [`send_question`](Self::send_question).
    pub fn send_ixfr(
        &mut self,
        now: Instant,
        zone: &Name<'_>,
        serial: u32,
    ) -> Result<Handle, SendError> {
        self.tick(now);
        self.accepting()?;
        let edns = self.config.edns;
        let udp_size = self.config.edns_udp_size;
        let estimate = crate::wire::HEADER_LEN + 2 * zone.wire_len() + 40 + 15;
        let queued = self.enqueue(estimate, |space, id| {
            let mut b = Builder::new(space, id);
            b.push_question(zone, Rtype::Ixfr, Class::In)
                .map_err(build_err)?;
            let soa = RData::Soa {
                mname: Name::root(),
                rname: Name::root(),
                serial,
                refresh: 0,
                retry: 0,
                expire: 0,
                minimum: 0,
            };
            b.authority(zone, 0, &soa).map_err(build_err)?;
            if edns {
                b.push_opt(udp_size, 0, 0, false, |_| Ok(()))
                    .map_err(build_err)?;
            }
            Ok(b.finish())
        })?;
        Ok(self.store(queued, zone, Rtype::Ixfr, Class::In, true, Some(serial)))
    }

    /// Re-issues over TCP a query whose UDP response had TC=1 (T3): one call, the
    /// same bytes with a fresh ID. The TCP response is final even if TC is set.
    pub fn resend_tc(&mut self, now: Instant, udp_query: &[u8]) -> Result<Handle, SendError> {
        self.send(now, udp_query)
    }

    /// The caller will send no more queries (C9). Responses are still read until
    /// every handle has ended; then the connection closes with
    /// [`CloseReason::Finished`]. With [`Config::half_close`] the intent asks for
    /// `shutdown_write` as soon as every queued frame is written.
    pub fn finish_sending(&mut self, now: Instant) {
        self.tick(now);
        self.finishing = true;
        self.after_change();
    }

    /// Ends a live handle with no event (the caller's own terminal outcome). A query
    /// still waiting for its answer has its ID quarantined (C11), so a late answer
    /// is recognised; this may retire the connection. Returns whether the handle was
    /// live.
    pub fn cancel(&mut self, handle: Handle) -> bool {
        let Some(i) = self.inflight.by_handle(handle) else {
            return false;
        };
        let waiting_id = self.inflight.id(i).filter(|_| self.inflight.is_waiting(i));
        self.inflight.free(i);
        self.stats.cancelled += 1;
        if let Some(id) = waiting_id {
            if self.inflight.quarantine(id) {
                self.retired = true;
            }
        }
        self.after_change();
        true
    }

    /// Closes at once: queued output is dropped, every waiting handle fails with
    /// [`FailReason::Aborted`].
    pub fn abort(&mut self, now: Instant) {
        self.tick(now);
        self.rx.clear();
        self.set_close(CloseReason::Aborted);
    }

    // ---- input --------------------------------------------------------------

    /// The free tail of the receive buffer: read from the socket into it, then call
    /// [`commit_read`](Self::commit_read). Empty once closed or while the buffer is
    /// full of undrained events. Calling it releases the message of the last
    /// [`Event::Response`].
    pub fn read_buf(&mut self) -> &mut [u8] {
        if self.close.is_some() {
            return &mut [];
        }
        self.rx.read_buf()
    }

    /// Records `n` bytes read into [`read_buf`](Self::read_buf). Drain
    /// [`poll_event`](Self::poll_event) afterwards.
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        self.tick(now);
        if self.close.is_some() {
            return;
        }
        let before = self.rx.buffered();
        self.rx.commit(n);
        self.stats.bytes_read += (self.rx.buffered() - before) as u64;
    }

    /// Copies bytes read from the socket; returns how many were taken. When fewer
    /// than `data.len()`, drain [`poll_event`](Self::poll_event) and call again with
    /// the rest. After close every byte is taken and ignored.
    pub fn handle_read(&mut self, now: Instant, data: &[u8]) -> usize {
        self.tick(now);
        if self.close.is_some() {
            return data.len();
        }
        let n = self.rx.fill(data);
        self.stats.bytes_read += n as u64;
        n
    }

    /// The server closed its side (read returned 0). Responses already received are
    /// still delivered; every handle still waiting then fails with
    /// [`FailReason::PeerClosed`] (C7, C12).
    pub fn handle_peer_closed(&mut self, now: Instant) {
        self.tick(now);
        self.set_close(CloseReason::PeerClosed);
    }

    /// The connection was reset or a write failed: queued output is dropped, and
    /// every handle still waiting fails with [`FailReason::Reset`].
    pub fn handle_reset(&mut self, now: Instant) {
        self.tick(now);
        self.set_close(CloseReason::Reset);
    }

    /// Fires every timer due at `now`: per-query timeouts (C10) and the idle timeout
    /// (C6). Idempotent; safe to call early.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.close.is_some() {
            return;
        }
        let now = self.now;
        let (stats, retired) = (&mut self.stats, &mut self.retired);
        self.inflight.expire(now, |inflight, id| {
            stats.timed_out += 1;
            if inflight.quarantine(id) {
                *retired = true;
            }
        });
        if self.timers.is_expired(Timer::Idle as usize, now) && self.inflight.waiting() == 0 {
            self.set_close(CloseReason::Idle);
        }
        self.after_change();
    }

    // ---- output -------------------------------------------------------------

    /// Queued output: every frame not yet written, coalesced (F1). Write it and
    /// report the count with [`advance_transmit`](Self::advance_transmit).
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        if self.close.is_some() {
            return None;
        }
        let p = self.tx.pending();
        (!p.is_empty()).then_some(p)
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, now: Instant, n: usize) {
        self.tick(now);
        let n = n.min(self.tx.pending().len());
        self.tx.advance(n);
        self.stats.bytes_written += n as u64;
    }

    /// The next deadline: call [`handle_timeout`](Self::handle_timeout) then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.close.is_some() {
            return None;
        }
        self.timers.next()
    }

    /// The next event. A [`Event::Response`] borrows the receive buffer until the
    /// next call on the connection.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if let Some((i, handle, outcome)) = self.inflight.first_ended() {
            self.inflight.free(i);
            self.after_change();
            return Some(match outcome {
                Outcome::TimedOut => Event::TimedOut { handle },
                Outcome::Finished => Event::Finished { handle },
            });
        }
        if self.retired && !self.retired_reported {
            self.retired_reported = true;
            return Some(Event::Retired);
        }
        if matches!(
            self.close,
            None | Some(CloseReason::PeerClosed | CloseReason::Reset)
        ) {
            match self.next_found() {
                Some(Found::Response(handle, range)) => {
                    if let Ok(message) = Message::new(self.rx.get(range)) {
                        return Some(Event::Response { handle, message });
                    }
                }
                Some(Found::Failed(handle, reason)) => {
                    return Some(Event::Failed { handle, reason });
                }
                None => {}
            }
        }
        if let Some(close) = self.close {
            if let Some(i) = self.inflight.first_waiting() {
                let handle = self.inflight.get(i).map(|s| s.handle)?;
                self.inflight.free(i);
                self.stats.failed += 1;
                return Some(Event::Failed {
                    handle,
                    reason: fail_reason(close),
                });
            }
            if !self.closed_reported && self.inflight.occupied() == 0 {
                self.closed_reported = true;
                return Some(Event::Closed { reason: close });
            }
        }
        None
    }

    // ---- internals ----------------------------------------------------------

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn accepting(&self) -> Result<(), SendError> {
        if self.close.is_some() {
            Err(SendError::Closed)
        } else if self.retired {
            Err(SendError::Retired)
        } else if self.finishing || self.keepalive_zero {
            Err(SendError::Closing)
        } else if self.inflight.is_full() {
            Err(SendError::Full)
        } else {
            Ok(())
        }
    }

    /// Allocates an ID and frames the message `write` produces into tx. `min_len`
    /// classifies a failure: `TooLarge` if it could never fit, else `NoSpace`.
    fn enqueue(
        &mut self,
        min_len: usize,
        write: impl FnOnce(&mut [u8], u16) -> Result<usize, SendError>,
    ) -> Result<(Handle, u16), SendError> {
        if min_len > self.tx.max_message() {
            return Err(SendError::TooLarge);
        }
        let id = self.inflight.allocate_id(&mut self.rng);
        let space = self.tx.frame_space();
        let len = write(space, id)?;
        self.tx.commit_frame(len).map_err(|_| SendError::NoSpace)?;
        let handle = Handle(self.next_serial);
        self.next_serial += 1;
        Ok((handle, id))
    }

    /// Records a query just framed by [`enqueue`](Self::enqueue).
    fn store(
        &mut self,
        (handle, id): (Handle, u16),
        qname: &Name<'_>,
        qtype: Rtype,
        qclass: Class,
        multi: bool,
        asked: Option<u32>,
    ) -> Handle {
        let xfr = match qtype {
            Rtype::Axfr => Xfr::Axfr { records: 0 },
            Rtype::Ixfr => Xfr::Ixfr {
                asked,
                phase: Phase::Start,
            },
            _ => Xfr::None,
        };
        if let Some(i) = self.inflight.free_index() {
            self.inflight.insert(
                i,
                &NewSlot {
                    handle,
                    id,
                    qname,
                    qtype,
                    qclass,
                    deadline: self.now.saturating_add(self.config.query_timeout),
                    multi,
                    xfr,
                },
            );
        }
        self.stats.queries += 1;
        self.after_change();
        handle
    }

    /// Re-evaluates closure and timers after any change of state.
    fn after_change(&mut self) {
        if self.close.is_none() && self.inflight.waiting() == 0 {
            let reason = if self.finishing {
                Some(CloseReason::Finished)
            } else if self.keepalive_zero {
                Some(CloseReason::KeepaliveZero)
            } else if self.retired {
                Some(CloseReason::Retired)
            } else {
                None
            };
            if let Some(r) = reason {
                self.set_close(r);
            }
        }
        self.refresh_timers();
    }

    fn refresh_timers(&mut self) {
        if self.close.is_some() {
            self.timers.stop_all();
            return;
        }
        match self.inflight.next_deadline() {
            Some(t) => self.timers.set(Timer::Query as usize, t),
            None => self.timers.stop(Timer::Query as usize),
        }
        if self.inflight.waiting() == 0 {
            let at = self.now.saturating_add(self.idle_timeout);
            self.timers.set_if_stopped(Timer::Idle as usize, at);
        } else {
            self.timers.stop(Timer::Idle as usize);
        }
    }

    fn set_close(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            self.close = Some(reason);
            self.tx.clear();
            self.timers.stop_all();
        }
    }

    fn apply_keepalive(&mut self, units: u16) {
        self.stats.keepalive_seen += 1;
        if units == 0 {
            self.keepalive_zero = true;
        } else {
            // Honour the server's limit without idling longer than we were told to:
            // the connection closes at whichever comes first (RFC 7828 §3.2.2).
            self.idle_timeout = duration_from_units(units).min(self.config.idle_timeout);
            self.timers.stop(Timer::Idle as usize);
        }
    }

    /// Decodes frames until one ends or feeds a handle; discards the rest (counted).
    fn next_found(&mut self) -> Option<Found> {
        loop {
            let frame = match self.rx.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return None,
                Err(e) => {
                    // F3: the stream cannot be DNS; nothing after this is trusted.
                    self.rx.clear();
                    self.set_close(CloseReason::Protocol(e));
                    return None;
                }
            };
            match frame {
                RxFrame::Oversized { id, len } => {
                    self.stats.oversized += 1;
                    match self.inflight.waiting_by_id(id) {
                        Some(i) => {
                            let handle = self.inflight.get(i).map(|s| s.handle)?;
                            self.inflight.free(i);
                            self.stats.failed += 1;
                            self.after_change();
                            return Some(Found::Failed(handle, FailReason::TooLarge { len }));
                        }
                        None => self.count_stray(id),
                    }
                }
                RxFrame::Message(range) => {
                    if let Some(found) = self.classify(range) {
                        return Some(found);
                    }
                }
            }
        }
    }

    fn count_stray(&mut self, id: u16) {
        if self.inflight.is_quarantined(id) {
            self.stats.late += 1;
        } else {
            self.stats.unmatched += 1;
        }
    }

    /// Matches one received message against the in-flight table (C4, C11, C12).
    fn classify(&mut self, range: Range<usize>) -> Option<Found> {
        let verdict = {
            let Ok(msg) = Message::new(self.rx.get(range.clone())) else {
                self.stats.malformed += 1;
                return None;
            };
            if !msg.qr() {
                self.stats.not_response += 1;
                return None;
            }
            let id = msg.id();
            let Some(i) = self.inflight.waiting_by_id(id) else {
                self.count_stray(id);
                return None;
            };
            let slot = self.inflight.get(i)?;
            let rcode = Rcode::from_int(u16::from(msg.header().rcode_low()));
            let matched = match msg.first_question() {
                Err(_) => {
                    self.stats.malformed += 1;
                    return None;
                }
                Ok(Some(q)) => msg.header().qdcount() == 1 && slot.matches(&q),
                Ok(None) => rcode != Rcode::NoError || (slot.multi && slot.messages > 0),
            };
            if !matched {
                self.stats.wrong_question += 1;
                return None;
            }
            match msg.check() {
                Err(e) => Err((i, e)),
                Ok(summary) => {
                    let keepalive = summary.opt.and_then(|o| o.keepalive()).flatten();
                    let mut soa_end = false;
                    let mut xfr = slot.xfr;
                    if slot.multi && xfr != Xfr::None {
                        if let Ok(answers) = msg.answers() {
                            for rr in answers.flatten() {
                                // `check` has decoded every RDATA already.
                                let serial = match rr.data() {
                                    Ok(RData::Soa { serial, .. }) => Some(serial),
                                    _ => None,
                                };
                                soa_end |= xfr.record(serial);
                            }
                        }
                        soa_end |= xfr.message_end();
                    }
                    // `Message::rcode` would walk the message again for the OPT
                    // record that `check` just found.
                    let low = u16::from(msg.header().rcode_low());
                    let rcode = match summary.opt {
                        Some(o) => Rcode::from_int((u16::from(o.ext_rcode()) << 4) | low),
                        None => Rcode::from_int(low),
                    };
                    let end = soa_end || rcode != Rcode::NoError;
                    Ok((i, keepalive, xfr, end))
                }
            }
        };
        match verdict {
            Err((i, e)) => {
                let handle = self.inflight.get(i)?.handle;
                self.inflight.free(i);
                self.stats.failed += 1;
                self.after_change();
                Some(Found::Failed(handle, FailReason::Malformed(e)))
            }
            Ok((i, keepalive, xfr, end)) => {
                if let Some(units) = keepalive {
                    self.apply_keepalive(units);
                }
                self.stats.responses += 1;
                let deadline = self.now.saturating_add(self.config.query_timeout);
                let slot = self.inflight.get_mut(i)?;
                let handle = slot.handle;
                if slot.multi {
                    slot.messages = slot.messages.saturating_add(1);
                    slot.xfr = xfr;
                    self.inflight.set_deadline(i, deadline);
                    if end {
                        self.inflight.end(i, Outcome::Finished);
                    }
                } else {
                    self.inflight.free(i);
                }
                self.after_change();
                Some(Found::Response(handle, range))
            }
        }
    }
}

fn build_err(e: BuildError) -> SendError {
    match e {
        BuildError::NoSpace { .. } => SendError::NoSpace,
        e => SendError::Build(e),
    }
}

fn fail_reason(close: CloseReason) -> FailReason {
    match close {
        CloseReason::PeerClosed => FailReason::PeerClosed,
        CloseReason::Reset => FailReason::Reset,
        CloseReason::Aborted => FailReason::Aborted,
        CloseReason::Protocol(e) => FailReason::Protocol(e),
        _ => FailReason::Closed,
    }
}
