//! The server connection machine (RFC 7766) and the shared admission policy.
//!
//! One [`Connection`] per accepted TCP connection; one [`Limits`] per server. No
//! socket, no clock, no allocation: bytes and [`Instant`]s go in; framed responses,
//! [`Event`]s, the socket [`Intent`] and the next deadline come out.
//!
//! # API taxonomy (quinn's four kinds)
//!
//! | kind | methods |
//! |---|---|
//! | getters (`&self`) | [`intent`](Connection::intent), [`stats`](Connection::stats), [`pending`](Connection::pending), [`is_pending`](Connection::is_pending), [`keepalive_units`](Connection::keepalive_units), [`max_response_len`](Connection::max_response_len), [`idle_timeout`](Connection::idle_timeout), [`last_activity`](Connection::last_activity), [`is_closed`](Connection::is_closed) |
//! | input | [`read_buf`](Connection::read_buf) + [`commit_read`](Connection::commit_read), [`handle_read`](Connection::handle_read), [`handle_peer_closed`](Connection::handle_peer_closed), [`handle_reset`](Connection::handle_reset), [`handle_timeout`](Connection::handle_timeout), [`advance_transmit`](Connection::advance_transmit) |
//! | commands | [`respond`](Connection::respond), [`response_buf`](Connection::response_buf) + [`commit_response`](Connection::commit_response), [`respond_part`](Connection::respond_part) / [`commit_part`](Connection::commit_part) + [`finish`](Connection::finish), [`answer_next`](Connection::answer_next), [`set_idle_timeout`](Connection::set_idle_timeout) |
//! | output | [`poll_event`](Connection::poll_event), [`poll_transmit`](Connection::poll_transmit), [`poll_timeout`](Connection::poll_timeout) |
//!
//! **Drain contract.** After any input or command, call `poll_event` until it
//! returns `None` (or use `answer_next`, then `poll_event` for `Dropped`/`Closed`),
//! write `poll_transmit` and report it with `advance_transmit`, act on `intent`,
//! and only then wait for the socket or `poll_timeout`. Decoding happens in
//! `poll_event`/`answer_next`, with the time of the latest input.
//!
//! # States
//!
//! | state | reads | yields queries | answers accepted | leaves when |
//! |---|---|---|---|---|
//! | **Open** | yes, below the pending cap, with transmit room | yes | yes | EOF, reset, a timer, max queries, bad frame, QR=1 flood |
//! | **Draining**(reason) | no | only frames already buffered, and only after EOF (S9) | yes | nothing pending and all output written → Closed(reason) |
//! | **Flushing**(reason) | no | no (pending tokens were dropped) | no | queued output written → Closed(reason) |
//! | **Closed**(reason) | no | no | no | terminal; `Event::Closed` once |
//!
//! | event | Open → | Draining → | Flushing → |
//! |---|---|---|---|
//! | EOF, `OnEof::AnswerPending` (S9) | Draining(PeerClosed) | (noted) | (noted) |
//! | EOF, `OnEof::DropPending` (S14) | Flushing(PeerClosed) | Flushing(PeerClosed) | — |
//! | reset / failed write (S5) | Closed(Reset), pending dropped, output discarded | same | same |
//! | length < 12, or oversized under `Oversize::Close` (F3, S11) | Flushing(BadFrame) | — | — |
//! | QR=1 beyond `max_qr_messages` (S15) | Flushing(TooManyResponses) | — | — |
//! | max queries reached (S7) | Draining(MaxQueries) | — | — |
//! | lifetime timer (S7) | Draining(Lifetime) | — | — |
//! | read timer: frame started, not completed (S12) | Draining(ReadTimeout), partial bytes discarded | — | — |
//! | initial timer (S12) / idle timer (S4) | Closed(InitialTimeout / IdleTimeout) | — | — |
//! | write timer: output stuck (S16) | Closed(WriteTimeout), pending dropped | same | same |
//!
//! # Timers (S4, S12, S13, S16, S7), one `poll_timeout`
//!
//! - **initial**: from creation to the first complete message;
//! - **idle**: armed only while no token is pending and the transmit buffer is empty
//!   (RFC 7766 §3 idle); it counts from the later of the last complete message and
//!   the moment the connection became idle; partial bytes never restart it. Its
//!   length is the current value from [`set_idle_timeout`](Connection::set_idle_timeout);
//! - **read**: from the moment a frame's first bytes are seen until it completes,
//!   per message (slowloris); suspended while the machine itself is not reading;
//! - **write**: output pending and no write progress for `write_timeout`;
//! - **lifetime**: from creation.
//!
//! # Malformed input (S11, S15, F3, F4)
//!
//! The machine answers by itself, without a token or event: FORMERR for a message
//! that fails [`Message::check`] (two OPT records, trailing data, bad names…) or a
//! QUERY with more than one question, echoing the question only when it parses;
//! BADVERS for EDNS version > 0; NOTIMP for opcodes other than QUERY unless
//! `pass_other_opcodes`; FORMERR (header only, the frame's ID) for a frame over the
//! maximum under [`Oversize::Discard`](crate::frame::Oversize::Discard), whose body
//! is skipped so the stream stays in sync. QR=1 messages are never answered. A
//! length below 12 closes after flushing what was already queued.
#![forbid(unsafe_code)]

mod config;
mod event;
mod limits;
mod pipeline;
mod response;

use core::ops::Range;
use core::time::Duration;

use crate::buffer::{RxBuf, RxFrame, TxBuf};
use crate::frame::Decoder;
use crate::intent::Intent;
use crate::time::Instant;
use crate::timer::TimerTable;
use crate::wire::edns::keepalive::units_from_duration;
use crate::wire::{HEADER_LEN, Message, Opcode, Rcode};

pub use config::{Config, OnEof};
pub use event::{CloseReason, Event, RespondError, Stats, Token};
pub use limits::{ConnId, Limits, LimitsConfig, Refusal, Ticket};

use pipeline::Pipeline;
use response::{KEEPALIVE_ROOM, MACHINE_ANSWER_MAX};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Initial = 0,
    Idle = 1,
    Read = 2,
    Write = 3,
    Lifetime = 4,
}
const TIMERS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Draining(CloseReason),
    Flushing(CloseReason),
    Closed(CloseReason),
}

/// What `next_query` found.
enum Next {
    Query(Token, Range<usize>),
    None,
}

/// A server-side DNS-over-TCP connection: `B` is the byte storage of the receive
/// and transmit buffers (`[u8; N]`, `&mut [u8]`, `Box<[u8]>`…), `P` the capacity of
/// the pending-token table (`config.max_pending` is clamped to it).
///
/// See the [module docs](self) for the state table, timers and the drain contract.
#[derive(Debug)]
pub struct Connection<B: AsMut<[u8]> + AsRef<[u8]>, const P: usize = 32> {
    config: Config,
    rx: RxBuf<B>,
    tx: TxBuf<B>,
    pipe: Pipeline<P>,
    timers: TimerTable<TIMERS>,
    state: State,
    closed_reported: bool,
    now: Instant,
    created: Instant,
    /// Start of the current idle period / last complete message.
    last_activity: Instant,
    /// Last write progress (or when output appeared in an empty buffer).
    last_write: Instant,
    /// When the first bytes of the current incomplete frame were seen.
    frame_started: Option<Instant>,
    /// Bytes arrived that `poll_event` has not decoded yet.
    rx_ready: bool,
    /// Length of the slice last lent by `read_buf`.
    rx_lent: usize,
    got_first: bool,
    peer_eof: bool,
    messages: u64,
    qr_seen: u32,
    /// Bumped whenever the transmit buffer's layout may change.
    tx_epoch: u64,
    lent: Option<(Token, u64, usize)>,
    was_idle: bool,
    tx_was_empty: bool,
    stats: Stats,
}

impl<B: AsMut<[u8]> + AsRef<[u8]>, const P: usize> Connection<B, P> {
    /// A connection accepted at `now`, with caller-owned receive and transmit
    /// storage. The largest query is `min(config.max_message, rx.len() - 2)`; the
    /// largest response is `tx.len() - 2` (capped at 65535).
    pub fn new(config: Config, rx: B, tx: B, now: Instant) -> Self {
        let rx_cap = rx.as_ref().len();
        let max = config
            .max_message
            .min(u16::try_from(rx_cap.saturating_sub(2)).unwrap_or(u16::MAX));
        let mut config = config;
        config.max_pending = config.max_pending.clamp(1, P.max(1));
        let mut c = Connection {
            config,
            rx: RxBuf::new(rx, Decoder::new(max, config.oversize)),
            tx: TxBuf::new(tx),
            pipe: Pipeline::new(),
            timers: TimerTable::new(),
            state: State::Open,
            closed_reported: false,
            now,
            created: now,
            last_activity: now,
            last_write: now,
            frame_started: None,
            rx_ready: false,
            rx_lent: 0,
            got_first: false,
            peer_eof: false,
            messages: 0,
            qr_seen: 0,
            tx_epoch: 0,
            lent: None,
            was_idle: true,
            tx_was_empty: true,
            stats: Stats::default(),
        };
        c.update();
        c
    }

    // ---- getters -----------------------------------------------------------

    /// What the adapter should do with the socket now. `shutdown_write` is never
    /// set: the server closes only when done (and the client closes first on EOF).
    pub fn intent(&self) -> Intent {
        match self.state {
            State::Closed(_) => Intent::CLOSE,
            _ => Intent {
                read: self.wants_read(),
                write: !self.tx.is_empty(),
                shutdown_write: false,
                close: false,
            },
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Tokens handed out and not yet finished.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pipe.live()
    }

    /// The receive and transmit storage, when neither holds anything the connection
    /// still needs: no query pending, no unread or partial input, no unsent output,
    /// no response buffer lent out. Their content is never read again, so a caller
    /// may hand their memory back while the connection sits idle, with storage
    /// that frees itself here and allocates again on its next write (as
    /// `examples/serve` does after a second of silence). The length must stay the
    /// same. `None` while anything is in flight.
    pub fn idle_storage(&mut self) -> Option<(&mut B, &mut B)> {
        if self.pipe.live() > 0 || self.lent.is_some() || !self.tx.is_empty() {
            return None;
        }
        let rx = self.rx.storage_if_empty()?;
        // A slice lent by `read_buf` before this call is void now.
        self.rx_lent = 0;
        let tx = self.tx.storage_if_empty()?;
        Some((rx, tx))
    }

    /// Whether `token` is still waiting for (more of) its answer.
    #[must_use]
    pub fn is_pending(&self, token: Token) -> bool {
        self.pipe.get(token).is_some()
    }

    /// Whether the connection has closed (the `Closed` event may still be unread).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// The idle timeout in force.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        self.config.idle_timeout
    }

    /// The edns-tcp-keepalive TIMEOUT this connection advertises (E2): the current
    /// idle timeout in 100 ms units, or 0 once the connection is winding down
    /// (RFC 7828 §3.3.2: the client should close). For callers building their own
    /// OPT; the machine adds it by itself when `advertise_keepalive` is on.
    #[must_use]
    pub fn keepalive_units(&self) -> u16 {
        match self.state {
            State::Open => units_from_duration(self.config.idle_timeout),
            _ => 0,
        }
    }

    /// The largest response message the transmit buffer can ever hold; a larger
    /// one is replaced by a TC=1 answer.
    #[must_use]
    pub fn max_response_len(&self) -> usize {
        self.tx.max_message()
    }

    /// The last complete message, or the start of the current idle period (for
    /// [`Limits::touch`] and eviction).
    #[must_use]
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    // ---- input -------------------------------------------------------------

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn tx_reserve_ok(&self) -> bool {
        self.tx.is_empty()
            || self.tx.free_for_message() >= MACHINE_ANSWER_MAX.min(self.tx.max_message())
    }

    fn queries_exhausted(&self) -> bool {
        self.config
            .max_queries
            .is_some_and(|m| self.messages >= u64::from(m))
    }

    fn wants_read(&self) -> bool {
        self.state == State::Open
            && !self.peer_eof
            && self.pipe.live() < self.config.max_pending
            && self.tx_reserve_ok()
            && !self.queries_exhausted()
            && self.rx.buffered() < self.rx.capacity()
    }

    /// Whether `poll_event` may decode another frame now.
    fn may_decode(&self) -> bool {
        let state_ok = matches!(
            self.state,
            State::Open | State::Draining(CloseReason::PeerClosed)
        );
        state_ok
            && self.rx_ready
            && self.pipe.live() < self.config.max_pending
            && self.tx_reserve_ok()
            && !self.queries_exhausted()
    }

    /// The free tail of the receive buffer to read socket bytes into; empty when the
    /// machine does not want to read (pending cap, transmit buffer nearly full,
    /// after EOF, max queries, closing). Follow with [`commit_read`](Self::commit_read).
    pub fn read_buf(&mut self) -> &mut [u8] {
        if !self.wants_read() {
            self.rx_lent = 0;
            return &mut [];
        }
        let buf = self.rx.read_buf();
        self.rx_lent = buf.len();
        buf
    }

    /// Records that `n` bytes were read into the slice from [`read_buf`](Self::read_buf)
    /// (at most its length). Call `poll_event` next.
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        self.tick(now);
        let n = n.min(self.rx_lent);
        self.rx_lent = 0;
        self.rx.commit(n);
        self.note_input(n);
    }

    /// Copies as much of `data` as the machine wants; returns the bytes consumed
    /// (0 when it does not want to read: keep the rest and retry after
    /// `poll_event`/answers). Call `poll_event` next.
    pub fn handle_read(&mut self, now: Instant, data: &[u8]) -> usize {
        self.tick(now);
        self.rx_lent = 0;
        if !self.wants_read() {
            return 0;
        }
        let n = self.rx.fill(data);
        self.note_input(n);
        n
    }

    fn note_input(&mut self, n: usize) {
        if n > 0 {
            self.rx_ready = true;
            self.stats.bytes_in += n as u64;
        }
        self.update();
    }

    /// The client sent EOF (read returned 0): a half-close (S9) or, under
    /// [`OnEof::DropPending`], the end (S14). See the state table.
    pub fn handle_peer_closed(&mut self, now: Instant) {
        self.tick(now);
        if self.peer_eof || self.is_closed() {
            self.peer_eof = true;
            return;
        }
        self.peer_eof = true;
        self.frame_started = None;
        match self.config.on_eof {
            OnEof::DropPending => self.flush_then_close(CloseReason::PeerClosed),
            _ => {
                if self.state == State::Open {
                    self.state = State::Draining(CloseReason::PeerClosed);
                }
            }
        }
        self.update();
    }

    /// The connection was reset or a write failed (S5): every pending token is
    /// dropped (reported as `Event::Dropped`), output is discarded and nothing is
    /// ever sent again.
    pub fn handle_reset(&mut self, now: Instant) {
        self.tick(now);
        if !self.is_closed() {
            self.close_now(CloseReason::Reset);
        }
        self.update();
    }

    /// Fires every expired timer. Idempotent and safe to call early.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let now = self.now;
        let due = |t: Timer, c: &Self| c.timers.is_expired(t as usize, now);
        if self.is_closed() {
            return;
        }
        if due(Timer::Write, self) {
            self.close_now(CloseReason::WriteTimeout);
        } else if due(Timer::Initial, self) {
            self.close_now(CloseReason::InitialTimeout);
        } else if due(Timer::Idle, self) && !self.rx_ready {
            self.close_now(CloseReason::IdleTimeout);
        } else {
            if due(Timer::Read, self) && !self.rx_ready {
                self.rx.clear();
                self.rx_ready = false;
                self.frame_started = None;
                self.drain(CloseReason::ReadTimeout);
            }
            if due(Timer::Lifetime, self) {
                self.drain(CloseReason::Lifetime);
            }
        }
        self.update();
    }

    /// Reports `n` bytes of [`poll_transmit`](Self::poll_transmit) written.
    pub fn advance_transmit(&mut self, now: Instant, n: usize) {
        self.tick(now);
        if self.is_closed() {
            return;
        }
        let n = n.min(self.tx.pending().len());
        if n > 0 {
            self.tx.advance(n);
            self.tx_epoch += 1;
            self.last_write = self.now;
            self.stats.bytes_out += n as u64;
        }
        self.update();
    }

    // ---- output ------------------------------------------------------------

    /// Everything ready to write, many frames coalesced (F1, S2). `None` when there
    /// is nothing, and always after a reset (S5).
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        if self.is_closed() || self.tx.is_empty() {
            None
        } else {
            Some(self.tx.pending())
        }
    }

    /// The earliest deadline; call [`handle_timeout`](Self::handle_timeout) then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next event: `Dropped` tokens first, then queries in arrival order, then
    /// `Closed` once. A `Query` borrows the receive buffer until the next call.
    ///
    /// Call after every input (`commit_read`, `handle_read`, `handle_peer_closed`,
    /// `handle_reset`, `handle_timeout`) and after answering, until it returns `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if let Some(token) = self.pipe.take_dropped() {
            return Some(Event::Dropped { token });
        }
        if let Next::Query(token, range) = self.next_query() {
            if let Ok(message) = Message::new(self.rx.get(range)) {
                return Some(Event::Query { token, message });
            }
        }
        if let Some(token) = self.pipe.take_dropped() {
            return Some(Event::Dropped { token });
        }
        match self.state {
            State::Closed(reason) if !self.closed_reported => {
                self.closed_reported = true;
                Some(Event::Closed { reason })
            }
            _ => None,
        }
    }

    /// Decodes frames until one is a query for the caller, answering malformed ones.
    fn next_query(&mut self) -> Next {
        let mut found = Next::None;
        // Each pass consumes input or stops; the bound is belt and braces.
        for _ in 0..=self.rx.capacity() {
            if !self.may_decode() {
                break;
            }
            match self.rx.next_frame() {
                Ok(Some(RxFrame::Message(range))) => {
                    if let Some(token) = self.on_message(range.clone()) {
                        found = Next::Query(token, range);
                        break;
                    }
                }
                Ok(Some(RxFrame::Oversized { id, .. })) => {
                    self.on_complete();
                    self.stats.oversized += 1;
                    self.machine_answer(None, id, Rcode::FormErr, false);
                    self.stats.formerr += 1;
                    if self.rx.has_partial() {
                        // The skipped body is this frame's; it is still arriving.
                        self.frame_started = Some(self.now);
                    }
                }
                Ok(None) => {
                    self.rx_ready = false;
                    if self.rx.has_partial() {
                        self.frame_started.get_or_insert(self.now);
                    }
                }
                Err(e) => {
                    self.rx_ready = false;
                    self.flush_then_close(CloseReason::BadFrame(e));
                }
            }
        }
        self.update();
        found
    }

    fn on_complete(&mut self) {
        self.frame_started = None;
        self.got_first = true;
        self.last_activity = self.now;
        self.messages += 1;
    }

    /// Classifies a complete message; `Some(token)` when it goes to the caller.
    fn on_message(&mut self, range: Range<usize>) -> Option<Token> {
        self.on_complete();
        let Ok(msg) = Message::new(self.rx.get(range.clone())) else {
            return None;
        };
        if msg.qr() {
            // S15: never answer a response (packet loops); a flood closes.
            self.stats.qr_ignored += 1;
            self.qr_seen += 1;
            self.messages -= 1;
            if self.qr_seen > self.config.max_qr_messages {
                self.flush_then_close(CloseReason::TooManyResponses);
            }
            return None;
        }
        let id = msg.id();
        let verdict = match msg.check() {
            Err(_) => Err((Rcode::FormErr, false)),
            Ok(s) => {
                let edns = s.opt.is_some();
                if s.opt.is_some_and(|o| o.version() > 0) {
                    Err((Rcode::BadVers, true))
                } else if msg.opcode() != Opcode::Query && !self.config.pass_other_opcodes {
                    Err((Rcode::NotImp, edns))
                } else if msg.opcode() == Opcode::Query && msg.header().qdcount() > 1 {
                    Err((Rcode::FormErr, edns))
                } else {
                    Ok(edns)
                }
            }
        };
        let out = match verdict {
            Ok(edns) => self.pipe.insert(id, edns),
            Err((rcode, edns)) => {
                match rcode {
                    Rcode::BadVers => self.stats.badvers += 1,
                    Rcode::NotImp => self.stats.notimp += 1,
                    _ => self.stats.formerr += 1,
                }
                self.machine_answer(Some(range), id, rcode, edns);
                None
            }
        };
        if out.is_some() {
            self.stats.queries += 1;
        }
        if self.queries_exhausted() {
            self.drain(CloseReason::MaxQueries);
        }
        out
    }

    fn keepalive_for(&self, edns: bool) -> Option<u16> {
        (edns && self.config.advertise_keepalive).then(|| self.keepalive_units())
    }

    fn machine_answer(&mut self, query: Option<Range<usize>>, id: u16, rcode: Rcode, edns: bool) {
        let keepalive = self.keepalive_for(edns);
        let udp = self.config.edns_udp_size;
        let msg = query.and_then(|r| Message::new(self.rx.get(r)).ok());
        let space = self.tx.frame_space();
        let n = response::error_answer(space, msg.as_ref(), id, rcode, edns, keepalive, udp);
        if n >= HEADER_LEN && self.tx.commit_frame(n).is_ok() {
            self.tx_epoch += 1;
            if keepalive.is_some() {
                self.stats.keepalive += 1;
            }
        }
    }

    // ---- commands ----------------------------------------------------------

    fn answerable(&self, token: Token) -> Result<pipeline::Pending, RespondError> {
        match self.state {
            State::Open | State::Draining(_) => {}
            _ => return Err(RespondError::Closed),
        }
        self.pipe.get(token).ok_or(RespondError::UnknownToken)
    }

    /// Sets the idle timeout (e.g. [`Limits::idle_timeout`] at each deadline
    /// computation). Takes effect at once, measured from the start of the idle
    /// period: a smaller value can make the connection due immediately.
    pub fn set_idle_timeout(&mut self, timeout: Duration) {
        self.config.idle_timeout = timeout;
        self.update();
    }

    /// Answers `token` with one complete message and finishes it. The machine writes
    /// the query's ID and keepalive (E2) into the copy. A message longer than
    /// [`max_response_len`](Self::max_response_len) is replaced by a TC=1 answer
    /// built from its header and question.
    ///
    /// # Errors
    ///
    /// `WouldBlock` (retry after the socket drains), `UnknownToken`, `Closed`,
    /// `Invalid` (shorter than a header). The connection is unchanged on error.
    pub fn respond(
        &mut self,
        now: Instant,
        token: Token,
        bytes: &[u8],
    ) -> Result<(), RespondError> {
        self.tick(now);
        self.write_copy(token, bytes)?;
        self.after_message(token, true);
        Ok(())
    }

    /// Like [`respond`](Self::respond) but keeps the token open for more messages
    /// (zone transfer, X1); end with [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// As for [`respond`](Self::respond).
    pub fn respond_part(
        &mut self,
        now: Instant,
        token: Token,
        bytes: &[u8],
    ) -> Result<(), RespondError> {
        self.tick(now);
        self.write_copy(token, bytes)?;
        self.after_message(token, false);
        Ok(())
    }

    /// Finishes a token. After parts (X1) this ends the answer; on a token with no
    /// message yet it declines to answer (nothing is sent).
    ///
    /// # Errors
    ///
    /// `UnknownToken`, `Closed`.
    pub fn finish(&mut self, now: Instant, token: Token) -> Result<(), RespondError> {
        self.tick(now);
        self.answerable(token)?;
        self.pipe.finish(token);
        self.update();
        Ok(())
    }

    fn write_copy(&mut self, token: Token, bytes: &[u8]) -> Result<(), RespondError> {
        let p = self.answerable(token)?;
        if bytes.len() < HEADER_LEN {
            return Err(RespondError::Invalid);
        }
        let keepalive = self.keepalive_for(p.edns);
        let udp = self.config.edns_udp_size;
        let n = if bytes.len() > self.tx.max_message() {
            // Could never fit: a TC=1 answer instead (nothing dropped silently).
            if !self.tx_reserve_ok() {
                return Err(RespondError::WouldBlock);
            }
            let space = self.tx.frame_space();
            let n = response::truncated(space, bytes, p.id, p.edns, keepalive, udp);
            if n < HEADER_LEN {
                return Err(RespondError::Invalid);
            }
            self.stats.truncated += 1;
            if keepalive.is_some() {
                self.stats.keepalive += 1;
            }
            n
        } else {
            let hold = if keepalive.is_some() {
                KEEPALIVE_ROOM
            } else {
                0
            };
            let tx_empty = self.tx.is_empty();
            let space = self.tx.frame_space();
            if space.len() < bytes.len() + hold && !tx_empty {
                // Wait for room for the keepalive too, unless it can never fit.
                return Err(RespondError::WouldBlock);
            }
            let Some(dst) = space.get_mut(..bytes.len()) else {
                return Err(RespondError::WouldBlock);
            };
            dst.copy_from_slice(bytes);
            let (n, added) = response::finish_in_place(space, bytes.len(), p.id, keepalive, udp);
            if added {
                self.stats.keepalive += 1;
            }
            n
        };
        self.commit_tx(n)
    }

    fn commit_tx(&mut self, n: usize) -> Result<(), RespondError> {
        self.tx
            .commit_frame(n)
            .map_err(|_| RespondError::WouldBlock)?;
        self.tx_epoch += 1;
        self.lent = None;
        self.stats.responses += 1;
        Ok(())
    }

    fn room_for_keepalive(&self, edns: bool) -> usize {
        if self.keepalive_for(edns).is_some() {
            KEEPALIVE_ROOM
        } else {
            0
        }
    }

    /// Lends transmit space to build `token`'s response in place (zero-copy), e.g.
    /// with [`Builder`](crate::wire::Builder). Space is lent only when the transmit
    /// buffer is empty or has at least 288 bytes free (a header, a 255-octet
    /// question and an OPT); less is `WouldBlock`. Room for the keepalive option is
    /// held back from the slice. If the builder runs out of space and the slice was
    /// shorter than
    /// [`max_response_len`](Self::max_response_len), retry after the socket drains;
    /// otherwise set TC and commit what fits. Follow with
    /// [`commit_response`](Self::commit_response) or [`commit_part`](Self::commit_part)
    /// before any other call that reports a write.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, `UnknownToken`, `Closed`.
    pub fn response_buf(&mut self, token: Token) -> Result<&mut [u8], RespondError> {
        let p = self.answerable(token)?;
        if !self.tx_reserve_ok() {
            return Err(RespondError::WouldBlock);
        }
        let hold = self.room_for_keepalive(p.edns);
        let epoch = self.tx_epoch;
        let space = self.tx.frame_space();
        let len = space.len().saturating_sub(hold);
        if len < HEADER_LEN {
            return Err(RespondError::WouldBlock);
        }
        self.lent = Some((token, epoch, len));
        Ok(space.get_mut(..len).unwrap_or(&mut []))
    }

    fn commit_lent(&mut self, token: Token, len: usize) -> Result<(), RespondError> {
        let p = self.answerable(token)?;
        match self.lent {
            Some((t, e, max)) if t == token && e == self.tx_epoch => {
                if !(HEADER_LEN..=max).contains(&len) {
                    return Err(RespondError::Invalid);
                }
            }
            _ => return Err(RespondError::NotLent),
        }
        let keepalive = self.keepalive_for(p.edns);
        let udp = self.config.edns_udp_size;
        let space = self.tx.frame_space();
        let (n, added) = response::finish_in_place(space, len, p.id, keepalive, udp);
        if added {
            self.stats.keepalive += 1;
        }
        self.commit_tx(n)
    }

    /// Commits `len` bytes built in [`response_buf`](Self::response_buf) and finishes
    /// the token.
    ///
    /// # Errors
    ///
    /// `NotLent` (no matching `response_buf`, or a write was reported since),
    /// `Invalid` (`len` below 12 or beyond the lent slice), `UnknownToken`, `Closed`.
    pub fn commit_response(
        &mut self,
        now: Instant,
        token: Token,
        len: usize,
    ) -> Result<(), RespondError> {
        self.tick(now);
        self.commit_lent(token, len)?;
        self.after_message(token, true);
        Ok(())
    }

    /// Commits one message of a multi-message answer (X1) built in
    /// [`response_buf`](Self::response_buf); the token stays open until
    /// [`finish`](Self::finish).
    ///
    /// # Errors
    ///
    /// As for [`commit_response`](Self::commit_response).
    pub fn commit_part(
        &mut self,
        now: Instant,
        token: Token,
        len: usize,
    ) -> Result<(), RespondError> {
        self.tick(now);
        self.commit_lent(token, len)?;
        self.after_message(token, false);
        Ok(())
    }

    /// After a message for `token` was queued: finish the token (`last`) or keep it
    /// open for more parts (X1), then recompute state and timers.
    fn after_message(&mut self, token: Token, last: bool) {
        if last {
            self.pipe.finish(token);
        } else {
            self.pipe.mark_streaming(token);
        }
        self.update();
    }

    /// The synchronous path in one call: decodes the next query and lends it (from
    /// the receive buffer) together with response space (in the transmit buffer) to
    /// `f`, which builds the answer and returns its length. No copy.
    ///
    /// - a length of 12 or more (within the slice) is committed with ID and
    ///   keepalive, and the token finished;
    /// - 0 defers: the token stays pending, to be answered later by token (copy what
    ///   you need from the query inside `f`);
    /// - anything else is `Err(Invalid)` and the token stays pending.
    ///
    /// Returns `None` when no query is ready. Malformed messages are answered by the
    /// machine on the way. `Dropped` and `Closed` still come from
    /// [`poll_event`](Self::poll_event).
    #[must_use = "an Err leaves the token pending; Ok may be a deferral (check is_pending)"]
    pub fn answer_next(
        &mut self,
        now: Instant,
        f: impl FnOnce(&Message<'_>, &mut [u8]) -> usize,
    ) -> Option<Result<Token, RespondError>> {
        self.tick(now);
        let Next::Query(token, range) = self.next_query() else {
            return None;
        };
        let p = self.pipe.get(token)?;
        let hold = self.room_for_keepalive(p.edns);
        let msg = Message::new(self.rx.get(range)).ok()?;
        let space = self.tx.frame_space();
        let lend = space.len().saturating_sub(hold);
        let n = f(&msg, space.get_mut(..lend).unwrap_or(&mut []));
        if n == 0 {
            return Some(Ok(token));
        }
        if !(HEADER_LEN..=lend).contains(&n) {
            return Some(Err(RespondError::Invalid));
        }
        let keepalive = self.keepalive_for(p.edns);
        let udp = self.config.edns_udp_size;
        let space = self.tx.frame_space();
        let (n, added) = response::finish_in_place(space, n, p.id, keepalive, udp);
        if added {
            self.stats.keepalive += 1;
        }
        let r = self.commit_tx(n).map(|()| {
            self.pipe.finish(token);
            token
        });
        self.update();
        Some(r)
    }

    // ---- transitions and timers ----------------------------------------------

    fn drop_pending(&mut self) {
        let n = self.pipe.drop_all();
        self.stats.dropped += n as u64;
    }

    /// Hard close: pending dropped, output discarded.
    fn close_now(&mut self, reason: CloseReason) {
        self.drop_pending();
        self.rx.clear();
        self.tx.clear();
        self.rx_ready = false;
        self.lent = None;
        self.state = State::Closed(reason);
    }

    /// Stop reading and answering; write what is queued, then close.
    fn flush_then_close(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        self.drop_pending();
        self.rx.clear();
        self.rx_ready = false;
        self.state = State::Flushing(reason);
    }

    /// Stop reading; answer what is pending, then close.
    fn drain(&mut self, reason: CloseReason) {
        if self.state == State::Open {
            self.state = State::Draining(reason);
        }
    }

    fn idle(&self) -> bool {
        self.pipe.live() == 0 && self.tx.is_empty()
    }

    /// Re-derives the state's consequences and every timer from the state.
    fn update(&mut self) {
        let now = self.now;
        match self.state {
            State::Draining(reason) => {
                let buffered = reason == CloseReason::PeerClosed && self.rx_ready;
                if self.idle() && !buffered {
                    self.state = State::Closed(reason);
                }
            }
            State::Flushing(reason) if self.tx.is_empty() => self.state = State::Closed(reason),
            _ => {}
        }
        let idle = self.idle();
        if idle && !self.was_idle {
            self.last_activity = self.last_activity.max(now);
        }
        self.was_idle = idle;
        let tx_empty = self.tx.is_empty();
        if !tx_empty && self.tx_was_empty {
            // Output appeared: the write deadline counts from now.
            self.last_write = now;
        }
        self.tx_was_empty = tx_empty;

        if self.is_closed() {
            self.timers.stop_all();
            return;
        }
        let open = self.state == State::Open;
        let reading = self.wants_read();
        if !reading {
            // Not reading is the machine's choice (back-pressure): the client cannot
            // progress, so the per-message deadline slides until reading resumes.
            if let Some(s) = self.frame_started.as_mut() {
                *s = now;
            }
        }
        let c = &self.config;
        let deadlines = [
            (
                Timer::Initial,
                (open && !self.got_first).then(|| self.created + c.initial_timeout),
            ),
            (
                Timer::Idle,
                (open && self.got_first && idle).then(|| self.last_activity + c.idle_timeout),
            ),
            (
                Timer::Read,
                self.frame_started
                    .filter(|_| reading)
                    .map(|s| s + c.io_timeout),
            ),
            (
                Timer::Write,
                (!self.tx.is_empty()).then(|| self.last_write + c.write_timeout),
            ),
            (
                Timer::Lifetime,
                c.max_lifetime.filter(|_| open).map(|l| self.created + l),
            ),
        ];
        for (which, at) in deadlines {
            match at {
                Some(at) => self.timers.set(which as usize, at),
                None => self.timers.stop(which as usize),
            }
        }
    }
}
