//! The blocking client: one connection per server (C5), pipelining, reconnect and
//! bounded retry (C7, C13), idle close (C6), early half-close (C9), AXFR (X1).

use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use std::boxed::Box;
use std::collections::VecDeque;
use std::io;
use std::net::TcpStream;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use crate::client::retry::{Retry, RetryDecision, RetryPolicy};
use crate::client::{self, CloseReason, Event, FailReason, Handle, QueryOptions, SendError};
use crate::frame::FrameError;
use crate::io::poll::Driver;
use crate::io::sys;
use crate::time::{Clock, Instant};
use crate::wire::{self, Class, NameBuf, Rtype};

/// In-flight capacity of one connection.
const SLOTS: usize = 128;
/// While pipelining, queries are written to the socket in chunks of this many.
const FLUSH_EVERY: usize = 32;
/// While more questions wait, at most this many answers are taken from the
/// connection before their slots are refilled and the new queries written, so the
/// server gets work back while the rest of a large read is still being copied out.
const REFILL_EVERY: usize = 16;
type Machine = client::Connection<Box<[u8]>, SLOTS>;

/// Settings of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig {
    /// Time allowed for the TCP handshake.
    pub connect_timeout: Duration,
    /// Per-query timeout (C10).
    pub query_timeout: Duration,
    /// Close the connection after this long with nothing in flight (C6).
    pub idle_timeout: Duration,
    /// Connect with TCP Fast Open (Linux; falls back silently).
    pub fast_open: bool,
    /// Early half-close (C9): send FIN right after the last query of each
    /// [`Client::query_many`] call; that connection then serves only that batch.
    pub half_close: bool,
    /// Send EDNS(0) OPT records.
    pub edns: bool,
    /// Send edns-tcp-keepalive (RFC 7828) and honour the server's value.
    pub keepalive: bool,
    /// Reconnect and retry policy (C7, C13).
    pub retry: RetryPolicy,
    /// Queries in flight at once on the connection (at most 128).
    pub max_in_flight: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            fast_open: false,
            half_close: false,
            edns: true,
            keepalive: false,
            retry: RetryPolicy::default(),
            max_in_flight: SLOTS,
        }
    }
}

/// A response, copied out of the connection.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The response message.
    pub bytes: Vec<u8>,
    /// Time from sending the query to receiving this response.
    pub elapsed: Duration,
    /// The server that answered.
    pub server: SocketAddr,
}

impl Answer {
    /// A view of the response.
    pub fn message(&self) -> Result<wire::Message<'_>, wire::Error> {
        wire::Message::new(&self.bytes)
    }
}

/// Why a query got no answer. Each says what happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the connection.
    Refused(io::Error),
    /// The connection could not be made (other than refused).
    Connect(io::Error),
    /// No response within the per-query timeout.
    TimedOut,
    /// The connection was reset (or a write failed) before the answer arrived.
    Reset,
    /// The server closed the connection with this many of our queries unanswered,
    /// and retrying was not allowed (attempts or budget spent).
    ServerClosed {
        /// Queries the server left unanswered on its last close.
        unanswered: usize,
    },
    /// The response was larger than the receive buffer.
    TooLarge,
    /// The response did not parse.
    Malformed(wire::Error),
    /// The stream broke framing.
    Protocol(FrameError),
    /// The name or query could not be encoded.
    BadQuery(SendError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Refused(e) => write!(f, "connection refused: {e}"),
            Error::Connect(e) => write!(f, "cannot connect: {e}"),
            Error::TimedOut => f.write_str("timed out"),
            Error::Reset => f.write_str("connection reset before the response"),
            Error::ServerClosed { unanswered } => {
                write!(
                    f,
                    "server closed the connection with {unanswered} queries unanswered"
                )
            }
            Error::TooLarge => f.write_str("response larger than the receive buffer"),
            Error::Malformed(e) => write!(f, "malformed response: {e}"),
            Error::Protocol(e) => write!(f, "framing error: {e}"),
            Error::BadQuery(e) => write!(f, "cannot send query: {e:?}"),
        }
    }
}

impl core::error::Error for Error {}

/// Counters of a [`Client`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connections opened.
    pub connections: u64,
    /// Queries sent (retries included).
    pub queries: u64,
    /// Responses received.
    pub answered: u64,
    /// Queries re-sent on a new connection.
    pub retries: u64,
}

struct Conn {
    driver: Driver<TcpStream, Machine>,
    answered: usize,
    closed: bool,
}

/// A blocking DNS-over-TCP client for one server, keeping at most one connection
/// open to it (C5, T2) and pipelining every query over it (C1, C3).
pub struct Client {
    server: SocketAddr,
    config: ClientConfig,
    clock: Clock,
    conn: Option<Conn>,
    retry: Retry,
    stats: ClientStats,
    salt: u64,
}

/// Per-query bookkeeping inside one `query_many` call.
struct Job {
    attempts: u32,
    sent_at: Instant,
}

impl Client {
    /// A client for `server`; it connects on first use.
    #[must_use]
    pub fn new(server: SocketAddr, config: ClientConfig) -> Self {
        let clock = Clock::new();
        let now = clock.now();
        Client {
            server,
            config,
            clock,
            conn: None,
            retry: Retry::new(config.retry, now),
            stats: ClientStats::default(),
            salt: 0,
        }
    }

    /// The server address.
    #[must_use]
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// Whether a connection is open now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.closed)
    }

    /// Asks one question (class IN).
    pub fn query(&mut self, name: &str, qtype: Rtype) -> Result<Answer, Error> {
        let n = NameBuf::from_presentation(name)
            .map_err(|e| Error::BadQuery(SendError::Malformed(e)))?;
        self.query_many(&[(n, qtype)])
            .pop()
            .unwrap_or(Err(Error::TimedOut))
    }

    fn machine_config(&self) -> client::Config {
        client::Config {
            query_timeout: self.config.query_timeout,
            idle_timeout: self.config.idle_timeout,
            half_close: self.config.half_close,
            edns: self.config.edns,
            keepalive: self.config.keepalive,
            ..client::Config::default()
        }
    }

    /// Between calls, with nothing in flight: lets an idle or keepalive timer that
    /// passed close the connection, and notices a FIN or reset the server sent
    /// meanwhile (its idle timeout, say). Without this the next queries go onto a
    /// dead connection and fail, or spend a retry attempt, instead of simply opening
    /// a new one (C7).
    fn refresh(&mut self) {
        let now = self.clock.now();
        if let Some(c) = self.conn.as_mut().filter(|c| !c.closed) {
            c.driver.on_readable(now);
            c.driver.on_timeout(now);
            while c.driver.machine_mut().poll_event().is_some() {}
            drain_close(c);
            if c.driver.is_closed() {
                c.closed = true;
            }
        }
    }

    /// Opens the connection if there is none usable.
    fn ensure_conn(&mut self) -> Result<(), Error> {
        self.refresh();
        if self.conn.as_ref().is_some_and(|c| !c.closed) {
            return Ok(());
        }
        self.conn = None;
        let connected = sys::connect(
            self.server,
            self.config.fast_open,
            Some(self.config.connect_timeout),
        )
        .map_err(|e| {
            if e.kind() == io::ErrorKind::ConnectionRefused {
                Error::Refused(e)
            } else {
                Error::Connect(e)
            }
        })?;
        let stream = connected.stream;
        stream.set_nonblocking(true).map_err(Error::Connect)?;
        self.stats.connections += 1;
        self.salt += 1;
        let now = self.clock.now();
        let machine = Machine::new(
            self.machine_config(),
            vec![0u8; 65_537].into_boxed_slice(),
            vec![0u8; 65_537].into_boxed_slice(),
            super::os_seed(self.salt),
            now,
        );
        let mut driver = Driver::new(stream, machine);
        // poll(2) is level-triggered, so a short read can count as drained: the
        // next poll reports anything newer (EOF included).
        driver.set_edge_triggered(true);
        self.conn = Some(Conn {
            driver,
            answered: 0,
            closed: false,
        });
        Ok(())
    }

    /// Asks every question pipelined on one connection and returns the results in
    /// the order asked (responses may arrive in any order). Queries the server
    /// leaves unanswered when it closes are retried on a new connection under the
    /// retry policy.
    pub fn query_many(&mut self, questions: &[(NameBuf, Rtype)]) -> Vec<Result<Answer, Error>> {
        let n = questions.len();
        let mut results: Vec<Option<Result<Answer, Error>>> = (0..n).map(|_| None).collect();
        let mut jobs: Vec<Job> = (0..n)
            .map(|_| Job {
                attempts: 0,
                sent_at: Instant::ZERO,
            })
            .collect();
        let mut queue: VecDeque<usize> = (0..n).collect();
        let mut inflight = ByHandle::default();
        let mut done = 0usize;
        let opts = QueryOptions::default();
        let cap = self.config.max_in_flight.clamp(1, SLOTS);
        self.refresh();

        while done < n {
            // 1. A usable connection, respecting the retry policy's backoff.
            if self.conn.as_ref().is_none_or(|c| c.closed) {
                if let Err(e) = self.ensure_conn() {
                    let decision = self.retry.on_failure(self.clock.now());
                    match decision {
                        RetryDecision::RetryAt(t) if !queue.is_empty() => {
                            std::thread::sleep(t.saturating_duration_since(self.clock.now()));
                            continue;
                        }
                        _ => {
                            let kind = |e: &Error| match e {
                                Error::Refused(x) => {
                                    Error::Refused(io::Error::new(x.kind(), x.to_string()))
                                }
                                Error::Connect(x) => {
                                    Error::Connect(io::Error::new(x.kind(), x.to_string()))
                                }
                                _ => Error::TimedOut,
                            };
                            for i in queue.drain(..) {
                                results[i] = Some(Err(kind(&e)));
                                done += 1;
                            }
                            continue;
                        }
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            let now = self.clock.now();

            // 2. Send what fits, handing each chunk to the socket as soon as it is
            // built so the server starts on it while the next chunk is encoded.
            let mut sent_unflushed = 0usize;
            while inflight.len() < cap {
                if sent_unflushed >= FLUSH_EVERY {
                    conn.driver.on_writable(now);
                    sent_unflushed = 0;
                }
                let machine = conn.driver.machine_mut();
                let Some(&i) = queue.front() else { break };
                let (name, qtype) = &questions[i];
                match machine.send_question(now, &name.as_name(), *qtype, Class::In, opts) {
                    Ok(h) => {
                        queue.pop_front();
                        inflight.insert(h, i);
                        sent_unflushed += 1;
                        if jobs[i].attempts > 0 {
                            self.stats.retries += 1;
                        }
                        jobs[i].attempts += 1;
                        jobs[i].sent_at = now;
                        self.stats.queries += 1;
                    }
                    Err(SendError::Full | SendError::NoSpace) => break,
                    Err(SendError::Retired | SendError::Closing | SendError::Closed) => break,
                    Err(e) => {
                        queue.pop_front();
                        results[i] = Some(Err(Error::BadQuery(e)));
                        done += 1;
                    }
                }
            }
            if queue.is_empty() && self.config.half_close {
                conn.driver.machine_mut().finish_sending(now);
            }

            // 3. Write, then act on the intent.
            conn.driver.on_writable(now);
            let _ = conn.driver.apply_action(now);

            // 4. Events.
            let server = self.server;
            let mut lost_on_close = 0usize;
            let mut retry_first: Vec<usize> = Vec::new();
            let mut taken = 0usize;
            let mut more = false;
            while let Some(ev) = conn.driver.machine_mut().poll_event() {
                taken += 1;
                match ev {
                    Event::Response { handle, message } => {
                        if let Some(i) = inflight.remove(handle) {
                            let elapsed = now.saturating_duration_since(jobs[i].sent_at);
                            results[i] = Some(Ok(Answer {
                                bytes: message.as_bytes().to_vec(),
                                elapsed,
                                server,
                            }));
                            done += 1;
                            conn.answered += 1;
                            self.stats.answered += 1;
                        }
                    }
                    Event::TimedOut { handle } => {
                        if let Some(i) = inflight.remove(handle) {
                            results[i] = Some(Err(Error::TimedOut));
                            done += 1;
                        }
                    }
                    Event::Failed { handle, reason } => {
                        if let Some(i) = inflight.remove(handle) {
                            let retryable = matches!(
                                reason,
                                FailReason::PeerClosed | FailReason::Reset | FailReason::Closed
                            );
                            if retryable && self.config.retry.may_retry(jobs[i].attempts) {
                                // Re-sent first on the next connection, so a server that
                                // closes after N answers cannot starve the same queries.
                                retry_first.push(i);
                                lost_on_close += 1;
                            } else {
                                results[i] = Some(Err(fail_error(reason, 1)));
                                done += 1;
                            }
                        }
                    }
                    Event::Closed { .. } => conn.closed = true,
                    Event::Retired | Event::Finished { .. } => {}
                }
                // Only on an open connection: closing events (retries, `Closed`)
                // are always drained in one go below.
                if taken >= REFILL_EVERY
                    && !queue.is_empty()
                    && !conn.closed
                    && conn.driver.machine().close_reason().is_none()
                {
                    more = true;
                    break;
                }
            }
            if more {
                // Events remain buffered: refill and come back without waiting.
                continue;
            }
            retry_first.sort_unstable();
            for &i in retry_first.iter().rev() {
                queue.push_front(i);
            }
            drain_close(conn);
            if conn.driver.is_closed() {
                conn.closed = true;
            }
            if conn.closed {
                // Handles still in flight on a closed connection were reported as
                // Failed above; a connection that answered something is progress.
                if conn.answered > 0 {
                    self.retry.on_success();
                }
                let progressed = conn.answered > 0;
                self.conn = None;
                if !queue.is_empty() && !progressed {
                    match self.retry.on_failure(self.clock.now()) {
                        RetryDecision::RetryAt(t) => {
                            std::thread::sleep(t.saturating_duration_since(self.clock.now()));
                        }
                        _ => {
                            let unanswered = queue.len().max(lost_on_close);
                            for i in queue.drain(..) {
                                results[i] = Some(Err(Error::ServerClosed { unanswered }));
                                done += 1;
                            }
                        }
                    }
                }
                continue;
            }
            if done >= n {
                break;
            }
            if !queue.is_empty() && inflight.len() < cap && conn.driver.machine().can_send() {
                // Answers freed slots: send more before waiting.
                continue;
            }

            // 5. Wait for the socket or the next deadline.
            wait_conn(conn, &self.clock);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(Error::TimedOut)))
            .collect()
    }

    /// Starts a zone transfer (AXFR, RFC 5936) of `zone`: an iterator over the
    /// response messages, ending after the closing SOA.
    pub fn axfr(&mut self, zone: &NameBuf) -> Result<Axfr<'_>, Error> {
        self.ensure_conn()?;
        let now = self.clock.now();
        let conn = self.conn.as_mut().ok_or(Error::Reset)?;
        let handle = conn
            .driver
            .machine_mut()
            .send_axfr(now, &zone.as_name())
            .map_err(Error::BadQuery)?;
        self.stats.queries += 1;
        Ok(Axfr {
            client: self,
            handle,
            started: now,
            done: false,
        })
    }

    /// Starts an incremental zone transfer (IXFR, RFC 1995) of `zone` from the
    /// client's `serial`: an iterator over the response messages (the same
    /// [`Axfr`] iterator), ending when the answer is complete — one SOA when
    /// `serial` is current, else after the closing SOA of the differences or of a
    /// full zone sent instead.
    pub fn ixfr(&mut self, zone: &NameBuf, serial: u32) -> Result<Axfr<'_>, Error> {
        self.ensure_conn()?;
        let now = self.clock.now();
        let conn = self.conn.as_mut().ok_or(Error::Reset)?;
        let handle = conn
            .driver
            .machine_mut()
            .send_ixfr(now, &zone.as_name(), serial)
            .map_err(Error::BadQuery)?;
        self.stats.queries += 1;
        Ok(Axfr {
            client: self,
            handle,
            started: now,
            done: false,
        })
    }

    /// Closes the connection now (queries in flight were already answered or failed).
    pub fn close(&mut self) {
        self.conn = None;
    }

    /// Runs the connection's timers without sending anything: an idle connection
    /// whose idle timeout (or the server's edns-tcp-keepalive value) has passed is
    /// closed now (C6). A blocking client has no thread of its own, so call this
    /// from time to time, or rely on the next query doing it. Returns whether a
    /// connection is still open.
    pub fn poll_idle(&mut self) -> bool {
        let now = self.clock.now();
        if let Some(c) = self.conn.as_mut() {
            c.driver.on_readable(now);
            c.driver.on_timeout(now);
            while c.driver.machine_mut().poll_event().is_some() {}
            drain_close(c);
            if c.closed || c.driver.is_closed() {
                self.conn = None;
            }
        }
        self.conn.is_some()
    }
}

/// Question index by handle. Handles are serials counted from 0 on each connection,
/// so a vector indexed by serial replaces a hash map.
#[derive(Default)]
struct ByHandle {
    index: Vec<usize>,
    len: usize,
}

impl ByHandle {
    const NONE: usize = usize::MAX;

    fn len(&self) -> usize {
        self.len
    }

    fn insert(&mut self, h: Handle, i: usize) {
        let Ok(k) = usize::try_from(h.0) else { return };
        if k >= self.index.len() {
            self.index.resize(k + 1, Self::NONE);
        }
        if self.index[k] == Self::NONE {
            self.len += 1;
        }
        self.index[k] = i;
    }

    fn remove(&mut self, h: Handle) -> Option<usize> {
        let k = usize::try_from(h.0).ok()?;
        let slot = self.index.get_mut(k)?;
        if *slot == Self::NONE {
            return None;
        }
        self.len -= 1;
        Some(core::mem::replace(slot, Self::NONE))
    }
}

/// Performs a pending close or shutdown intent.
fn drain_close(conn: &mut Conn) {
    let now_unused = Instant::ZERO;
    if let Some(crate::io::poll::Action::Close) = conn.driver.apply_action(now_unused) {
        conn.closed = true;
    }
}

/// How long [`wait_conn`] keeps retrying a read before sleeping in poll(2) while
/// answers are due. Pipelined answers usually follow within microseconds; a
/// sleep costs a scheduler wakeup, which on a busy host is far longer.
const SPIN: Duration = Duration::from_micros(50);

fn wait_conn(conn: &mut Conn, clock: &Clock) {
    let interest = conn.driver.interest();
    let now = clock.now();
    if interest.readable && conn.driver.machine().in_flight() > 0 && !interest.writable {
        let start = std::time::Instant::now();
        loop {
            if conn.driver.on_readable(now) > 0 {
                conn.driver.on_timeout(clock.now());
                return;
            }
            if start.elapsed() >= SPIN {
                break;
            }
            core::hint::spin_loop();
        }
    }
    if interest.readable && conn.driver.on_readable(now) > 0 {
        // Answers were already waiting: no need to sleep in poll(2).
        if interest.writable {
            conn.driver.on_writable(now);
        }
        conn.driver.on_timeout(now);
        return;
    }
    let timeout = conn.driver.deadline().map(|d| {
        Duration::from_millis(d.as_millis().saturating_sub(now.as_millis()))
            .max(Duration::from_millis(1))
    });
    let ready = sys::wait(
        conn.driver.stream(),
        interest.readable,
        interest.writable,
        timeout,
    )
    .unwrap_or_default();
    let now = clock.now();
    if ready.readable {
        conn.driver.on_readable(now);
    }
    if ready.writable {
        conn.driver.on_writable(now);
    }
    conn.driver.on_timeout(now);
}

fn fail_error(reason: FailReason, unanswered: usize) -> Error {
    match reason {
        FailReason::PeerClosed => Error::ServerClosed { unanswered },
        FailReason::Reset => Error::Reset,
        FailReason::TooLarge { .. } => Error::TooLarge,
        FailReason::Malformed(e) => Error::Malformed(e),
        FailReason::Protocol(e) => Error::Protocol(e),
        _ => Error::Reset,
    }
}

/// A zone transfer in progress ([`Client::axfr`] or [`Client::ixfr`]): yields each
/// response message until the transfer's answer is complete (or an error).
pub struct Axfr<'c> {
    client: &'c mut Client,
    handle: Handle,
    started: Instant,
    done: bool,
}

impl Iterator for Axfr<'_> {
    type Item = Result<Answer, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let server = self.client.server;
        loop {
            let clock = self.client.clock;
            let Some(conn) = self.client.conn.as_mut() else {
                self.done = true;
                return Some(Err(Error::Reset));
            };
            let now = clock.now();
            conn.driver.on_writable(now);
            while let Some(ev) = conn.driver.machine_mut().poll_event() {
                match ev {
                    Event::Response { handle, message } if handle == self.handle => {
                        let elapsed = now.saturating_duration_since(self.started);
                        self.client.stats.answered += 1;
                        return Some(Ok(Answer {
                            bytes: message.as_bytes().to_vec(),
                            elapsed,
                            server,
                        }));
                    }
                    Event::Finished { handle } if handle == self.handle => {
                        self.done = true;
                        return None;
                    }
                    Event::TimedOut { handle } if handle == self.handle => {
                        self.done = true;
                        return Some(Err(Error::TimedOut));
                    }
                    Event::Failed { handle, reason } if handle == self.handle => {
                        self.done = true;
                        return Some(Err(fail_error(reason, 1)));
                    }
                    Event::Closed { reason } => {
                        conn.closed = true;
                        self.done = true;
                        return match reason {
                            CloseReason::Reset => Some(Err(Error::Reset)),
                            _ => Some(Err(Error::ServerClosed { unanswered: 1 })),
                        };
                    }
                    _ => {}
                }
            }
            drain_close(conn);
            if conn.closed {
                self.done = true;
                return Some(Err(Error::ServerClosed { unanswered: 1 }));
            }
            wait_conn(conn, &clock);
        }
    }
}
