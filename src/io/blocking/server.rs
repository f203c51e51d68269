//! The blocking server: an accept loop on a `std::net::TcpListener` with the shared
//! [`Limits`](crate::server::Limits) behind a `Mutex`, and a thread per connection
//! up to the limit. A handler closure answers each query synchronously into the
//! response space, or defers it and answers later, from any thread, by
//! [`Deferred`] handle (out-of-order answers, S2; multi-message answers, X1).

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::boxed::Box;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::vec::Vec;

use crate::io::poll::{Action, Driver};
use crate::io::sys::{self, ListenOptions};
use crate::server::{self, CloseReason, Event, LimitsConfig, RespondError, Token};
use crate::time::Clock;
use crate::wire::Message;

/// Per-address entries of the shared admission table.
pub const LIMIT_ADDRS: usize = 4096;
/// Connection slots of the shared admission table (the hard cap on `max_conns`).
pub const LIMIT_CONNS: usize = 16_384;
/// The admission policy type the blocking server shares between threads.
pub type SharedLimits = server::Limits<LIMIT_ADDRS, LIMIT_CONNS>;
/// Pending-token capacity of each connection.
pub const PENDING: usize = 64;
type Machine = server::Connection<Box<[u8]>, PENDING>;

/// Settings of a [`Server`].
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Per-connection machine settings (timeouts, pending cap, EOF policy, keepalive).
    pub connection: server::Config,
    /// Server-wide admission policy (S3, S6, S7).
    pub limits: LimitsConfig,
    /// Receive buffer per connection (the largest query accepted is this minus 2).
    pub rx_size: usize,
    /// Transmit buffer per connection (bounds output per connection, S16).
    pub tx_size: usize,
    /// TCP Fast Open queue length on the listener (`None` = off).
    pub fast_open: Option<i32>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connection: server::Config::default(),
            limits: LimitsConfig::default(),
            rx_size: 4096,
            tx_size: 65_537,
            fast_open: None,
        }
    }
}

/// Counters of a [`Server`], summed over its connections.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused by the limits.
    pub refused_conns: AtomicU64,
    /// Queries handed to the handler.
    pub queries: AtomicU64,
    /// Responses queued.
    pub responses: AtomicU64,
    /// FORMERR answers written by the machine.
    pub formerr: AtomicU64,
    /// Connections closed by the idle or initial timeout.
    pub closed_idle: AtomicU64,
    /// Connections closed by the read (slowloris) timeout.
    pub closed_io: AtomicU64,
    /// Connections closed by the write timeout.
    pub closed_write: AtomicU64,
    /// Connections closed by max queries or max lifetime.
    pub closed_limit: AtomicU64,
    /// Connections reset by the client (or a failed write).
    pub resets: AtomicU64,
    /// Accept errors survived (e.g. ECONNABORTED, EMFILE).
    pub accept_errors: AtomicU64,
}

impl ServerStats {
    /// Counts a finished connection's close reason and machine counters.
    pub fn record_close(&self, reason: Option<CloseReason>, s: &server::Stats) {
        self.queries.fetch_add(s.queries, Ordering::Relaxed);
        self.responses.fetch_add(s.responses, Ordering::Relaxed);
        self.formerr
            .fetch_add(s.formerr + s.badvers + s.notimp, Ordering::Relaxed);
        let counter = match reason {
            Some(CloseReason::IdleTimeout | CloseReason::InitialTimeout) => &self.closed_idle,
            Some(CloseReason::ReadTimeout) => &self.closed_io,
            Some(CloseReason::WriteTimeout) => &self.closed_write,
            Some(CloseReason::MaxQueries | CloseReason::Lifetime) => &self.closed_limit,
            Some(CloseReason::Reset) => &self.resets,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The `stats:` line of the `serve` program.
    #[must_use]
    pub fn line(&self) -> std::string::String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        std::format!(
            "stats: connections={} queries={} responses={} formerr={} refused_conns={} closed_idle={} closed_io={} closed_write={} closed_limit={} resets={}",
            g(&self.connections),
            g(&self.queries),
            g(&self.responses),
            g(&self.formerr),
            g(&self.refused_conns),
            g(&self.closed_idle),
            g(&self.closed_io),
            g(&self.closed_write),
            g(&self.closed_limit),
            g(&self.resets)
        )
    }
}

enum Deferral {
    Part(u64, Vec<u8>),
    Last(u64, Vec<u8>),
    Finish(u64),
    /// An answer to a query that came as an event, by token.
    Direct(Token, Vec<u8>),
    /// A query that came as an event and was not answered.
    DirectFinish(Token),
}

/// Hands queued answers to the machine in order, as transmit room allows.
fn flush_backlog(
    driver: &mut Driver<TcpStream, Machine>,
    backlog: &mut VecDeque<Deferral>,
    tokens: &mut HashMap<u64, Token>,
    now: crate::time::Instant,
) {
    while let Some(d) = backlog.front() {
        let m = driver.machine_mut();
        let r = match d {
            Deferral::Part(seq, b) => tokens.get(seq).map(|t| m.respond_part(now, *t, b)),
            Deferral::Last(seq, b) => tokens.get(seq).map(|t| m.respond(now, *t, b)),
            Deferral::Finish(seq) => tokens.get(seq).map(|t| m.finish(now, *t)),
            Deferral::Direct(t, b) => Some(m.respond(now, *t, b)),
            Deferral::DirectFinish(t) => Some(m.finish(now, *t)),
        };
        if let Some(Err(RespondError::WouldBlock)) = r {
            break;
        }
        if let Some(Deferral::Last(seq, _) | Deferral::Finish(seq)) = backlog.pop_front() {
            tokens.remove(&seq);
        }
    }
}

/// Lets a handler defer the query it is looking at.
pub struct Deferrer {
    next: core::cell::Cell<Option<u64>>,
    seq: u64,
    tx: Sender<Deferral>,
}

impl Deferrer {
    /// Defers the current query: return 0 from the handler and answer later through
    /// the returned handle (from any thread).
    pub fn defer(&self) -> Deferred {
        self.next.set(Some(self.seq));
        Deferred {
            seq: self.seq,
            tx: self.tx.clone(),
        }
    }
}

/// A deferred answer: send one response, or several parts then [`finish`](Self::finish).
/// Dropping it without answering finishes the query unanswered (the machine
/// records it as dropped) so nothing waits forever.
pub struct Deferred {
    seq: u64,
    tx: Sender<Deferral>,
}

impl Deferred {
    /// Sends the response and ends the query.
    pub fn respond(self, response: Vec<u8>) {
        let _ = self.tx.send(Deferral::Last(self.seq, response));
        core::mem::forget(self);
    }

    /// Sends one message of a multi-message answer (X1); more may follow.
    pub fn respond_part(&self, response: Vec<u8>) {
        let _ = self.tx.send(Deferral::Part(self.seq, response));
    }

    /// Ends a multi-message answer.
    pub fn finish(self) {
        drop(self);
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        let _ = self.tx.send(Deferral::Finish(self.seq));
    }
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<AtomicBool>);

impl Stopper {
    /// Stops accepting; live connections answer what they owe and close within about
    /// a second.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A blocking DNS-over-TCP server.
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    limits: Arc<Mutex<Box<SharedLimits>>>,
    stop: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
}

impl Server {
    /// Binds `addr` (TCP_NODELAY is set on every accepted socket).
    pub fn bind(addr: SocketAddr, config: ServerConfig) -> io::Result<Server> {
        let l = sys::listen(
            addr,
            ListenOptions {
                fast_open: config.fast_open,
                ..ListenOptions::default()
            },
        )?;
        l.listener.set_nonblocking(true)?;
        let mut limits = config.limits;
        limits.max_conns = limits.max_conns.min(LIMIT_CONNS);
        Ok(Server {
            listener: l.listener,
            config,
            limits: Arc::new(Mutex::new(Box::new(SharedLimits::new(limits)))),
            stop: Arc::new(AtomicBool::new(false)),
            stats: Arc::new(ServerStats::default()),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that stops [`run`](Self::run).
    #[must_use]
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.stop))
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Arc<ServerStats> {
        Arc::clone(&self.stats)
    }

    /// Whether the admission counts balance (every ticket released).
    #[must_use]
    pub fn limits_balanced(&self) -> bool {
        self.limits
            .lock()
            .map(|l| l.is_balanced() && l.live() == 0)
            .unwrap_or(false)
    }

    /// Serves until stopped. `handler(query, out, deferrer)` writes a response into
    /// `out` and returns its length, or returns 0 after `deferrer.defer()` to answer
    /// later. Accept errors (ECONNABORTED, EMFILE, …) never stop the loop; on EMFILE
    /// it backs off briefly.
    pub fn run<H>(&self, handler: H) -> io::Result<()>
    where
        H: Fn(&Message<'_>, &mut [u8], &Deferrer) -> usize + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let clock = Clock::new();
        let mut threads: Vec<JoinHandle<()>> = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            threads.retain(|t| !t.is_finished());
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let now = clock.now();
                    let ticket = match self.limits.lock() {
                        Ok(mut l) => l.accept(peer.ip(), now),
                        Err(_) => break,
                    };
                    match ticket {
                        Ok(ticket) => {
                            self.stats.connections.fetch_add(1, Ordering::Relaxed);
                            let ctx = ConnCtx {
                                config: self.config,
                                limits: Arc::clone(&self.limits),
                                stop: Arc::clone(&self.stop),
                                stats: Arc::clone(&self.stats),
                                clock,
                            };
                            let h = Arc::clone(&handler);
                            // The guard releases the ticket on every exit path, including
                            // a failed spawn (the closure and its guard are dropped).
                            let guard = TicketGuard {
                                ticket: Some(ticket),
                                limits: Arc::clone(&self.limits),
                            };
                            let spawned = thread::Builder::new()
                                .name("dnstcp-conn".into())
                                .spawn(move || serve_conn(stream, guard, ctx, &*h));
                            match spawned {
                                Ok(t) => threads.push(t),
                                Err(_) => {
                                    self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        Err(_) => {
                            self.stats.refused_conns.fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = sys::wait_listener(&self.listener, Some(Duration::from_millis(50)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    // EMFILE/ENFILE/ENOBUFS: back off so the loop does not spin.
                    let backoff = if e
                        .raw_os_error()
                        .is_some_and(|c| c == 24 || c == 23 || c == 105)
                    {
                        100
                    } else {
                        1
                    };
                    thread::sleep(Duration::from_millis(backoff));
                }
            }
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }
}

struct ConnCtx {
    config: ServerConfig,
    limits: Arc<Mutex<Box<SharedLimits>>>,
    stop: Arc<AtomicBool>,
    stats: Arc<ServerStats>,
    clock: Clock,
}

/// Releases the ticket on every exit path, panics included.
struct TicketGuard {
    ticket: Option<server::Ticket>,
    limits: Arc<Mutex<Box<SharedLimits>>>,
}

impl Drop for TicketGuard {
    fn drop(&mut self) {
        if let (Some(t), Ok(mut l)) = (self.ticket.take(), self.limits.lock()) {
            l.release(t);
        }
    }
}

fn serve_conn<H>(stream: TcpStream, guard: TicketGuard, ctx: ConnCtx, handler: &H)
where
    H: Fn(&Message<'_>, &mut [u8], &Deferrer) -> usize,
{
    if stream.set_nodelay(true).is_err() || stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut cfg = ctx.config.connection;
    if let Ok(l) = ctx.limits.lock() {
        l.apply(&mut cfg);
    }
    let now = ctx.clock.now();
    let machine = Machine::new(
        cfg,
        std::vec![0u8; ctx.config.rx_size.max(14)].into_boxed_slice(),
        std::vec![0u8; ctx.config.tx_size.max(14)].into_boxed_slice(),
        now,
    );
    let mut driver = Driver::new(stream, machine);
    let (tx, rx): (Sender<Deferral>, Receiver<Deferral>) = mpsc::channel();
    let mut deferrer = Deferrer {
        next: core::cell::Cell::new(None),
        seq: 0,
        tx,
    };
    let mut tokens: HashMap<u64, Token> = HashMap::new();
    let mut backlog: VecDeque<Deferral> = VecDeque::new();
    let mut close_reason = None;
    let mut stopping = false;
    let mut scratch = std::vec![0u8; ctx.config.tx_size.clamp(512, 65_535)];
    loop {
        let now = ctx.clock.now();
        // Shutdown: stop reading new queries by ending the connection gracefully.
        if !stopping && ctx.stop.load(Ordering::SeqCst) {
            stopping = true;
            driver.machine_mut().handle_peer_closed(now);
        }
        // Synchronous answers, straight from rx into tx.
        loop {
            let m = driver.machine_mut();
            let r = m.answer_next(now, |q, out| handler(q, out, &deferrer));
            match r {
                Some(Ok(token)) => {
                    if let Some(seq) = deferrer.next.take() {
                        tokens.insert(seq, token);
                    }
                    deferrer.seq += 1;
                }
                Some(Err(RespondError::WouldBlock)) | None => break,
                Some(Err(_)) => {
                    deferrer.seq += 1;
                }
            }
        }
        // Deferred answers, as room allows.
        backlog.extend(rx.try_iter());
        flush_backlog(&mut driver, &mut backlog, &mut tokens, now);
        while let Some(ev) = driver.machine_mut().poll_event() {
            match ev {
                Event::Query { token, message } => {
                    // A query decoded outside `answer_next`: answer it by token.
                    let query = message.as_bytes().to_vec();
                    let n =
                        Message::new(&query).map_or(0, |q| handler(&q, &mut scratch, &deferrer));
                    if let Some(seq) = deferrer.next.take() {
                        tokens.insert(seq, token);
                    } else if n >= 12 && n <= scratch.len() {
                        backlog.push_back(Deferral::Direct(token, scratch[..n].to_vec()));
                    } else {
                        backlog.push_back(Deferral::DirectFinish(token));
                    }
                    deferrer.seq += 1;
                }
                Event::Closed { reason } => close_reason = Some(reason),
                Event::Dropped { token } => tokens.retain(|_, t| *t != token),
            }
        }
        flush_backlog(&mut driver, &mut backlog, &mut tokens, now);
        driver.on_writable(now);
        if let Some(Action::Close) = driver.apply_action(now) {
            break;
        }
        if let Ok(mut l) = ctx.limits.lock() {
            if let Some(t) = guard.ticket.as_ref() {
                l.touch(t, driver.machine().last_activity());
            }
            let idle = l.idle_timeout();
            driver.machine_mut().set_idle_timeout(idle);
        }
        let interest = driver.interest();
        let now = ctx.clock.now();
        let mut timeout = driver
            .deadline()
            .map(|d| {
                Duration::from_millis(d.as_millis().saturating_sub(now.as_millis()))
                    .max(Duration::from_millis(1))
            })
            .unwrap_or(Duration::from_millis(200));
        if !tokens.is_empty() || !backlog.is_empty() {
            // Deferred answers arrive by channel, which poll(2) cannot see.
            timeout = timeout.min(Duration::from_millis(2));
        }
        timeout = timeout.min(Duration::from_millis(200));
        let ready = match sys::wait(
            driver.stream(),
            interest.readable,
            interest.writable,
            Some(timeout),
        ) {
            Ok(r) => r,
            Err(_) => {
                driver.machine_mut().handle_reset(now);
                continue;
            }
        };
        let now = ctx.clock.now();
        if ready.readable {
            driver.on_readable(now);
        }
        if ready.writable {
            driver.on_writable(now);
        }
        driver.on_timeout(now);
    }
    while let Some(ev) = driver.machine_mut().poll_event() {
        if let Event::Closed { reason } = ev {
            close_reason = Some(reason);
        }
    }
    ctx.stats
        .record_close(close_reason, &driver.machine().stats());
    drop(guard);
}

/// A handler serving `zone` authoritatively: ordinary queries are answered
/// synchronously in place; AXFR is answered as a multi-message deferred answer
/// (X1) of messages up to 16 KiB.
pub fn zone_handler(
    zone: Arc<crate::zone::Zone>,
) -> impl Fn(&Message<'_>, &mut [u8], &Deferrer) -> usize + Send + Sync + 'static {
    move |query, out, deferrer| {
        let is_xfr = matches!(
            query.first_question(),
            Ok(Some(q)) if matches!(q.qtype, crate::wire::Rtype::Axfr | crate::wire::Rtype::Ixfr)
        );
        if !is_xfr {
            return zone.answer(query, out);
        }
        let d = deferrer.defer();
        let mut state = crate::zone::AxfrState::new();
        let mut buf = std::vec![0u8; 16 * 1024];
        while let Some(n) = zone.axfr_messages(query, buf.len(), &mut buf, &mut state) {
            d.respond_part(buf[..n].to_vec());
        }
        d.finish();
        0
    }
}
