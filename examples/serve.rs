//! `serve`: an authoritative DNS-over-TCP server for one zone, a single-threaded
//! mio loop per thread over dnstcp's sans-IO server machine and poll driver.
//!
//! The command-line contract (flags, the `listening on` and `stats:` lines, exit
//! codes) is documented in the README under "The `serve` program"; scripts rely on it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dnstcp::io::blocking::ServerStats;
use dnstcp::io::poll::{Action, Driver};
use dnstcp::io::sys::{self, ListenOptions};
use dnstcp::server::{
    self, Event, Limits, LimitsConfig, OnEof, Refusal, RespondError, Ticket, Token,
};
use dnstcp::time::{Clock, Instant};
use dnstcp::wire::{Message, Rtype};
use dnstcp::zone::{AnswerCache, AxfrState, Zone};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};

const PENDING: usize = 64;
type Machine = server::Connection<LazyBuf, PENDING>;

/// Largest buffer `--rx-buffer` / `--tx-buffer` allow.
const MAX_BUFFER: usize = 1 << 20;
/// What an unallocated buffer reads as (in .bss: costs no memory until read).
static ZEROS: [u8; MAX_BUFFER] = [0; MAX_BUFFER];

/// Connection storage allocated on first write: a connection that never sends
/// anything costs no buffer memory (idle-connection floods stay cheap).
#[derive(Debug)]
struct LazyBuf {
    len: usize,
    data: Option<Box<[u8]>>,
}

impl LazyBuf {
    fn new(len: usize) -> LazyBuf {
        LazyBuf {
            len: len.min(MAX_BUFFER),
            data: None,
        }
    }

    /// Frees the memory (the next write allocates it again, zeroed); whether
    /// there was any.
    fn release(&mut self) -> bool {
        self.data.take().is_some()
    }
}

impl AsRef<[u8]> for LazyBuf {
    fn as_ref(&self) -> &[u8] {
        match &self.data {
            Some(d) => d,
            None => &ZEROS[..self.len],
        }
    }
}

impl AsMut<[u8]> for LazyBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.data
            .get_or_insert_with(|| vec![0u8; len].into_boxed_slice())
    }
}
type ServeLimits = Limits<4096, 32_768>;
/// Due connection timers are fired this often.
const TICK: Duration = Duration::from_millis(10);
/// A changed idle timeout (occupancy, S3) reaches every connection within this.
const IDLE_PUSH_EVERY: Duration = Duration::from_millis(100);
/// A connection silent this long, with nothing buffered, gives its buffers back
/// (`server::Connection::idle_storage`); checked this often.
const RELEASE_AFTER: Duration = Duration::from_secs(1);
/// Size of each AXFR message.
const AXFR_MESSAGE: usize = 16 * 1024;

/// Command-line settings of `serve` (the README's contract).
#[derive(Clone, Debug)]
struct Args {
    listen: Vec<SocketAddr>,
    zone: PathBuf,
    origin: Option<String>,
    initial_timeout: Duration,
    idle_timeout: Duration,
    io_timeout: Duration,
    write_timeout: Duration,
    max_conns: usize,
    max_conns_per_ip: usize,
    max_queries_per_conn: u32,
    max_lifetime: Option<Duration>,
    max_pending: usize,
    on_eof_answer: bool,
    keepalive: bool,
    tfo: bool,
    threads: usize,
    evict_idle: bool,
    rx_buffer: usize,
    tx_buffer: usize,
    high_water: Option<usize>,
    coalesce: Duration,
    coalesce_after: usize,
    cache_slots: usize,
}

const USAGE: &str = "usage: serve [--listen ADDR:PORT]... [--zone FILE] [--origin NAME] [--initial-timeout-ms N] [--idle-timeout-ms N] [--io-timeout-ms N] [--write-timeout-ms N] [--max-conns N] [--max-conns-per-ip N] [--max-queries-per-conn N] [--max-lifetime-ms N] [--max-pending N] [--on-eof answer|drop] [--keepalive] [--tfo] [--threads N] [--evict-idle] [--rx-buffer BYTES] [--tx-buffer BYTES] [--high-water N] [--coalesce-us N] [--coalesce-after N] [--cache-slots N]";

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        listen: Vec::new(),
        zone: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/zones/example.test.zone"
        )),
        origin: None,
        initial_timeout: Duration::from_millis(10_000),
        idle_timeout: Duration::from_millis(10_000),
        io_timeout: Duration::from_millis(1000),
        write_timeout: Duration::from_millis(5000),
        max_conns: 1024,
        max_conns_per_ip: 64,
        max_queries_per_conn: 0,
        max_lifetime: None,
        max_pending: 32,
        on_eof_answer: true,
        keepalive: false,
        tfo: false,
        threads: 1,
        evict_idle: false,
        rx_buffer: 4096,
        tx_buffer: 65_537,
        high_water: None,
        coalesce: Duration::from_micros(50),
        coalesce_after: 32,
        cache_slots: 1024,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        let ms = |v: String, name: &str, zero_ok: bool| -> Result<u64, String> {
            let n: u64 = v
                .parse()
                .map_err(|_| format!("{name}: not a number: {v:?}"))?;
            if n == 0 && !zero_ok {
                return Err(format!("{name} must be at least 1"));
            }
            Ok(n)
        };
        match flag.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                a.listen.push(
                    v.parse()
                        .map_err(|_| format!("--listen: bad address {v:?}"))?,
                );
            }
            "--zone" => a.zone = PathBuf::from(value("--zone")?),
            "--origin" => a.origin = Some(value("--origin")?),
            "--initial-timeout-ms" => {
                a.initial_timeout = Duration::from_millis(ms(value(flag)?, flag, false)?)
            }
            "--idle-timeout-ms" => {
                a.idle_timeout = Duration::from_millis(ms(value(flag)?, flag, true)?)
            }
            "--io-timeout-ms" => {
                a.io_timeout = Duration::from_millis(ms(value(flag)?, flag, false)?)
            }
            "--write-timeout-ms" => {
                a.write_timeout = Duration::from_millis(ms(value(flag)?, flag, false)?)
            }
            "--max-conns" => a.max_conns = ms(value(flag)?, flag, false)? as usize,
            "--max-conns-per-ip" => a.max_conns_per_ip = ms(value(flag)?, flag, false)? as usize,
            "--max-queries-per-conn" => {
                a.max_queries_per_conn = u32::try_from(ms(value(flag)?, flag, true)?)
                    .map_err(|_| format!("{flag}: too large"))?
            }
            "--max-lifetime-ms" => {
                let n = ms(value(flag)?, flag, true)?;
                a.max_lifetime = (n > 0).then(|| Duration::from_millis(n));
            }
            "--max-pending" => a.max_pending = ms(value(flag)?, flag, false)? as usize,
            "--on-eof" => {
                a.on_eof_answer = match value(flag)?.as_str() {
                    "answer" => true,
                    "drop" => false,
                    other => {
                        return Err(format!("--on-eof: expected answer or drop, got {other:?}"));
                    }
                }
            }
            "--keepalive" => a.keepalive = true,
            "--tfo" => a.tfo = true,
            "--threads" => a.threads = ms(value(flag)?, flag, false)? as usize,
            "--evict-idle" => a.evict_idle = true,
            "--rx-buffer" => {
                a.rx_buffer = (ms(value(flag)?, flag, false)? as usize).clamp(14, 65_537)
            }
            "--tx-buffer" => {
                a.tx_buffer = (ms(value(flag)?, flag, false)? as usize).clamp(512, MAX_BUFFER)
            }
            "--high-water" => a.high_water = Some(ms(value(flag)?, flag, false)? as usize),
            "--coalesce-us" => {
                a.coalesce = Duration::from_micros(ms(value(flag)?, flag, true)?.min(10_000))
            }
            "--coalesce-after" => a.coalesce_after = ms(value(flag)?, flag, false)? as usize,
            "--cache-slots" => {
                a.cache_slots = (ms(value(flag)?, flag, true)? as usize).min(1 << 20)
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    if a.listen.is_empty() {
        a.listen
            .push("127.0.0.1:5353".parse().map_err(|_| "default address")?);
    }
    Ok(a)
}

/// A zone transfer being written, resumed as the transmit buffer drains.
struct AxfrJob {
    token: Token,
    query: Vec<u8>,
    state: AxfrState,
}

struct Conn {
    driver: Driver<TcpStream, Machine>,
    ticket: Option<Ticket>,
    /// The idle timeout last pushed into the machine.
    idle_pushed: Duration,
    /// Tells this connection from an earlier one in the same slot (timer entries).
    generation: u64,
    /// The earliest deadline this connection has in the timer heap.
    scheduled: Option<Instant>,
    /// Zone transfers in progress, the first being written.
    axfr: VecDeque<AxfrJob>,
    reason: Option<server::CloseReason>,
    /// Driven since its buffers were last released, so it is on `Loop::in_use`.
    in_use: bool,
}

struct Loop {
    poll: Poll,
    listeners: Vec<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Limits slot (ticket id) -> connection slot, for eviction without a scan.
    by_ticket: Vec<usize>,
    /// Connection deadlines, earliest first: (deadline, slot, generation). Entries
    /// go stale when a connection's deadline moves; popping re-checks them.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    generations: u64,
    /// The idle timeout last pushed into every connection, and when.
    idle_pushed: Duration,
    idle_pushed_at: Instant,
    limits: Box<ServeLimits>,
    zone: Arc<Zone>,
    args: Arc<Args>,
    stats: Arc<ServerStats>,
    clock: Clock,
    accept_paused_until: Option<Instant>,
    /// When idle buffers were last released, and the connections (slot,
    /// generation) driven since theirs were: the only ones that can hold any.
    released_at: Instant,
    in_use: Vec<(usize, u64)>,
    scratch: Vec<u8>,
    /// Queries answered since the last poll, and by how many connections (see
    /// [`COALESCE_PER_CONN`]).
    answered: usize,
    served: usize,
    /// Answers by query bytes (`--cache-slots`; `None` when 0).
    cache: Option<AnswerCache>,
}

/// After a poll round that answered at least `--coalesce-after` queries (32), but
/// fewer than [`COALESCE_PER_CONN`] per connection on average, the loop pauses for
/// `--coalesce-us` (50 µs) before polling again, so that the next round finds more queries
/// per connection: one read and one write then carry more of them, and the
/// kernel's per-segment cost is shared. Other rounds poll again at once: light load
/// (one query at a time) keeps its latency, and a connection that already brings
/// many queries per round gains nothing from waiting.
const COALESCE_PER_CONN: usize = 16;

fn conn_config(args: &Args) -> server::Config {
    let mut c = server::Config::default();
    c.max_pending = args.max_pending.clamp(1, PENDING);
    c.on_eof = if args.on_eof_answer {
        OnEof::AnswerPending
    } else {
        OnEof::DropPending
    };
    c.initial_timeout = args.initial_timeout;
    c.idle_timeout = args.idle_timeout;
    c.io_timeout = args.io_timeout;
    c.write_timeout = args.write_timeout;
    c.max_lifetime = args.max_lifetime;
    c.max_queries = (args.max_queries_per_conn > 0).then_some(args.max_queries_per_conn);
    c.advertise_keepalive = args.keepalive;
    c
}

fn limits_config(args: &Args, threads: usize) -> LimitsConfig {
    let mut l = LimitsConfig::default();
    // Each thread owns its own table; the total is shared out between them.
    l.max_conns = args.max_conns.div_ceil(threads).min(32_768);
    l.max_conns_per_addr = args.max_conns_per_ip;
    l.idle_timeout = args.idle_timeout;
    l.high_water = match args.high_water {
        Some(hw) => hw.div_ceil(threads),
        None => l.max_conns * 3 / 4,
    };
    l.max_queries_per_conn = (args.max_queries_per_conn > 0).then_some(args.max_queries_per_conn);
    l.max_lifetime = args.max_lifetime;
    l.evict_idlest = args.evict_idle;
    l
}

impl Loop {
    fn new(
        listeners: Vec<std::net::TcpListener>,
        zone: Arc<Zone>,
        args: Arc<Args>,
        stats: Arc<ServerStats>,
    ) -> std::io::Result<Loop> {
        let poll = Poll::new()?;
        let mut ls = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            l.set_nonblocking(true)?;
            let mut ml = TcpListener::from_std(l);
            poll.registry()
                .register(&mut ml, mio::Token(i), Interest::READABLE)?;
            ls.push(ml);
        }
        let threads = args.threads.max(1);
        let cache =
            (args.cache_slots > 0).then(|| AnswerCache::new(Arc::clone(&zone), args.cache_slots));
        Ok(Loop {
            poll,
            listeners: ls,
            conns: Vec::new(),
            free: Vec::new(),
            by_ticket: Vec::new(),
            timers: BinaryHeap::new(),
            generations: 0,
            idle_pushed: Duration::ZERO,
            idle_pushed_at: Instant::ZERO,
            limits: Box::new(ServeLimits::new(limits_config(&args, threads))),
            zone,
            args,
            stats,
            clock: Clock::new(),
            accept_paused_until: None,
            released_at: Instant::ZERO,
            in_use: Vec::new(),
            scratch: vec![0u8; AXFR_MESSAGE],
            answered: 0,
            served: 0,
            cache,
        })
    }

    fn conn_token(&self, slot: usize) -> mio::Token {
        mio::Token(self.listeners.len() + slot)
    }

    fn accept_all(&mut self, li: usize) {
        let now = self.clock.now();
        if self.accept_paused_until.is_some_and(|t| now < t) {
            return;
        }
        self.accept_paused_until = None;
        loop {
            let (stream, peer) = match self.listeners[li].accept() {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    // EMFILE / ENFILE / ENOBUFS: back off, retry on a later tick.
                    if matches!(e.raw_os_error(), Some(23 | 24 | 105)) {
                        self.accept_paused_until = Some(now + Duration::from_millis(100));
                        return;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let mut ticket = self.limits.accept(peer.ip(), now);
            if let Err(Refusal::TotalLimit {
                evict: Some(victim),
            }) = ticket
            {
                let slot = self.by_ticket.get(victim.slot()).copied().filter(|&s| {
                    self.conns
                        .get(s)
                        .and_then(Option::as_ref)
                        .and_then(|c| c.ticket.as_ref())
                        .is_some_and(|t| t.id() == victim)
                });
                if let Some(slot) = slot {
                    self.close_slot(slot, None);
                    ticket = self.limits.accept(peer.ip(), now);
                }
            }
            let ticket = match ticket {
                Ok(t) => t,
                Err(_) => {
                    self.stats.refused_conns.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
            };
            self.stats.connections.fetch_add(1, Ordering::Relaxed);
            let mut cfg = conn_config(&self.args);
            self.limits.apply(&mut cfg);
            let machine = Machine::new(
                cfg,
                LazyBuf::new(self.args.rx_buffer),
                LazyBuf::new(self.args.tx_buffer),
                now,
            );
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let mut stream = stream;
            let token = self.conn_token(slot);
            if self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                self.limits.release(ticket);
                self.free.push(slot);
                continue;
            }
            let mut driver = Driver::new(stream, machine);
            driver.set_edge_triggered(true);
            if self.by_ticket.len() <= ticket.id().slot() {
                self.by_ticket.resize(ticket.id().slot() + 1, usize::MAX);
            }
            self.by_ticket[ticket.id().slot()] = slot;
            self.generations += 1;
            self.conns[slot] = Some(Conn {
                driver,
                idle_pushed: self.limits.idle_timeout(),
                generation: self.generations,
                scheduled: None,
                ticket: Some(ticket),
                axfr: VecDeque::new(),
                reason: None,
                in_use: false,
            });
            // Data already waiting (TFO, or a fast client) is reported by the
            // registration itself (edge-triggered epoll raises an edge for it), so
            // nothing is read, and no buffer allocated, before the client sends.
            self.schedule(slot);
        }
    }

    fn close_slot(&mut self, slot: usize, _why: Option<&str>) {
        if let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(c.driver.stream_mut());
            while let Some(ev) = c.driver.machine_mut().poll_event() {
                if let Event::Closed { reason } = ev {
                    c.reason = Some(reason);
                }
            }
            self.stats
                .record_close(c.reason, &c.driver.machine().stats());
            if let Some(t) = c.ticket.take() {
                self.limits.release(t);
            }
            self.free.push(slot);
        }
    }

    /// Reads, answers, writes and acts until the connection makes no more progress.
    fn drive(&mut self, slot: usize, readable: bool, writable: bool) {
        self.drive_hint(slot, readable, writable, false);
    }

    /// [`drive`](Self::drive), told whether the peer's FIN was signalled.
    fn drive_hint(&mut self, slot: usize, readable: bool, writable: bool, read_closed: bool) {
        let zone = Arc::clone(&self.zone);
        let now = self.clock.now();
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        c.driver.set_ready(readable, writable);
        if read_closed {
            c.driver.set_read_closed();
        }
        let before = self.answered;
        for _ in 0..64 {
            let mut progress = 0usize;
            if c.driver.read_ready() {
                progress += c.driver.on_readable(now);
            }
            let answered = answer_all(c, &zone, now, &mut self.scratch, self.cache.as_mut());
            self.answered += answered;
            progress += answered;
            if c.driver.write_ready() {
                progress += c.driver.on_writable(now);
            }
            while let Some(ev) = c.driver.machine_mut().poll_event() {
                match ev {
                    // A query decoded outside `answer_next` (e.g. after a transfer
                    // freed a slot): answer it by token.
                    Event::Query { token, message } => {
                        let query = message.as_bytes().to_vec();
                        progress += answer_by_token(c, &zone, now, token, query, &mut self.scratch);
                    }
                    Event::Closed { reason } => c.reason = Some(reason),
                    Event::Dropped { token } => c.axfr.retain(|j| j.token != token),
                    _ => {}
                }
            }
            if let Some(Action::Close) = c.driver.poll_action() {
                self.close_slot(slot, None);
                return;
            }
            if progress == 0 {
                break;
            }
        }
        if self.answered > before {
            self.served += 1;
        }
        if !c.in_use {
            c.in_use = true;
            self.in_use.push((slot, c.generation));
        }
        if let Some(t) = c.ticket.as_ref() {
            self.limits.touch(t, c.driver.machine().last_activity());
        }
        self.schedule(slot);
    }

    /// Puts the connection's deadline in the timer heap when it is earlier than
    /// the one already there (a later one is found when the earlier entry pops).
    fn schedule(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(d) = c.driver.deadline() else {
            return;
        };
        if c.scheduled.is_none_or(|s| d < s) {
            c.scheduled = Some(d);
            self.timers.push(Reverse((d, slot, c.generation)));
        }
    }

    /// Fires due timers (from the heap: no scan of idle connections) and pushes
    /// the current idle timeout into every connection when it changed, at most
    /// every 100 ms.
    /// Frees the buffers of every connection silent for [`RELEASE_AFTER`] with
    /// nothing in them: an idle connection then costs its socket and its state,
    /// not its 4 KiB + 64 KiB of buffers.
    fn release_idle_buffers(&mut self, now: Instant) {
        let mut freed = false;
        // Only connections driven since their last release can hold buffers, so
        // thousands of connections idle for long cost nothing here.
        let mut list = std::mem::take(&mut self.in_use);
        list.retain(|&(slot, generation)| {
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return false;
            };
            if c.generation != generation {
                return false;
            }
            let m = c.driver.machine_mut();
            if now.saturating_duration_since(m.last_activity()) < RELEASE_AFTER {
                return true;
            }
            match m.idle_storage() {
                Some((rx, tx)) => {
                    freed |= rx.release() | tx.release();
                    c.in_use = false;
                    false
                }
                None => true,
            }
        });
        self.in_use = list;
        // glibc keeps freed blocks resident; hand the pages back.
        if freed {
            sys::trim_heap();
        }
    }

    fn tick(&mut self) {
        let now = self.clock.now();
        if now.saturating_duration_since(self.released_at) >= RELEASE_AFTER {
            self.released_at = now;
            self.release_idle_buffers(now);
        }
        let idle = self.limits.idle_timeout();
        if idle != self.idle_pushed
            && now.saturating_duration_since(self.idle_pushed_at) >= IDLE_PUSH_EVERY
        {
            self.idle_pushed = idle;
            self.idle_pushed_at = now;
            for slot in 0..self.conns.len() {
                if let Some(c) = self.conns[slot].as_mut() {
                    if c.idle_pushed != idle {
                        c.idle_pushed = idle;
                        c.driver.machine_mut().set_idle_timeout(idle);
                    }
                }
                self.schedule(slot);
            }
        }
        let mut due = Vec::new();
        while let Some(&Reverse((d, slot, generation))) = self.timers.peek() {
            if d > now {
                break;
            }
            self.timers.pop();
            if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                if c.generation == generation && c.scheduled == Some(d) {
                    c.scheduled = None;
                    due.push(slot);
                }
            }
        }
        for slot in due {
            let fire = match self.conns[slot].as_mut() {
                Some(c) if c.driver.deadline().is_some_and(|d| d <= now) => {
                    c.driver.on_timeout(now);
                    true
                }
                _ => false,
            };
            if fire {
                // Drives and reschedules (a deadline still due waits for the next tick).
                self.drive(slot, false, false);
            } else {
                self.schedule(slot);
            }
        }
        if self.accept_paused_until.is_some_and(|t| now >= t) {
            for li in 0..self.listeners.len() {
                self.accept_all(li);
            }
        }
    }

    fn live(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }

    fn run(&mut self, stop: &AtomicBool) -> std::io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = self.clock.now() + TICK;
        let mut stopping_since: Option<Instant> = None;
        loop {
            let now = self.clock.now();
            if stopping_since.is_none() && stop.load(Ordering::SeqCst) {
                stopping_since = Some(now);
                for l in &mut self.listeners {
                    let _ = self.poll.registry().deregister(l);
                }
                for slot in 0..self.conns.len() {
                    if let Some(c) = self.conns[slot].as_mut() {
                        // Stop reading; answer what is owed (per --on-eof), then close.
                        c.driver.machine_mut().handle_peer_closed(now);
                    }
                    self.drive(slot, false, false);
                }
            }
            if let Some(t) = stopping_since {
                if self.live() == 0
                    || now.saturating_duration_since(t) >= Duration::from_millis(900)
                {
                    for slot in 0..self.conns.len() {
                        self.close_slot(slot, None);
                    }
                    return Ok(());
                }
            }
            let timeout = next_tick
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.answered = 0;
            self.served = 0;
            for ev in events.iter() {
                let t = ev.token().0;
                if t < self.listeners.len() {
                    if stopping_since.is_none() {
                        self.accept_all(t);
                    }
                } else {
                    let slot = t - self.listeners.len();
                    let (r, w) = (
                        ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                        ev.is_writable() || ev.is_error(),
                    );
                    let closed = ev.is_read_closed() || ev.is_error();
                    self.drive_hint(slot, r, w, closed);
                }
            }
            if self.answered >= self.args.coalesce_after
                && self.answered < self.served * COALESCE_PER_CONN
                && !self.args.coalesce.is_zero()
            {
                std::thread::sleep(self.args.coalesce);
            }
            let now = self.clock.now();
            if now >= next_tick {
                self.tick();
                next_tick = now + TICK;
            }
        }
    }
}

/// Answers every ready query: ordinary ones in place (zero copy), AXFR as a
/// resumable multi-message job. Returns the number of messages written.
fn answer_all(
    c: &mut Conn,
    zone: &Zone,
    now: Instant,
    scratch: &mut [u8],
    mut cache: Option<&mut AnswerCache>,
) -> usize {
    let mut written = pump_axfr(c, zone, now, scratch);
    loop {
        let mut xfr: Option<Vec<u8>> = None;
        let r = c
            .driver
            .machine_mut()
            .answer_next(now, |q: &Message<'_>, out: &mut [u8]| {
                if is_transfer(q) {
                    xfr = Some(q.as_bytes().to_vec());
                    return 0;
                }
                match cache.as_deref_mut() {
                    Some(cache) => cache.answer(q, out),
                    None => zone.answer(q, out),
                }
            });
        match r {
            Some(Ok(token)) => match xfr {
                Some(query) => {
                    c.axfr.push_back(AxfrJob {
                        token,
                        query,
                        state: AxfrState::new(),
                    });
                    written += pump_axfr(c, zone, now, scratch);
                }
                None => written += 1,
            },
            Some(Err(_)) | None => return written,
        }
    }
}

fn is_transfer(q: &Message<'_>) -> bool {
    matches!(q.first_question(), Ok(Some(qq)) if matches!(qq.qtype, Rtype::Axfr | Rtype::Ixfr))
}

/// Answers a query handed out as an event (copied), by token.
fn answer_by_token(
    c: &mut Conn,
    zone: &Zone,
    now: Instant,
    token: Token,
    query: Vec<u8>,
    scratch: &mut [u8],
) -> usize {
    let Ok(q) = Message::new(&query) else {
        let _ = c.driver.machine_mut().finish(now, token);
        return 0;
    };
    if is_transfer(&q) {
        c.axfr.push_back(AxfrJob {
            token,
            query,
            state: AxfrState::new(),
        });
        return pump_axfr(c, zone, now, scratch);
    }
    let n = zone.answer(&q, scratch);
    let m = c.driver.machine_mut();
    let r = if n >= 12 {
        m.respond(now, token, &scratch[..n])
    } else {
        m.finish(now, token)
    };
    match r {
        Ok(()) => 1,
        // No room now: serve it like a one-message transfer once the socket drains.
        Err(RespondError::WouldBlock) => {
            c.axfr.push_back(AxfrJob {
                token,
                query,
                state: AxfrState::new(),
            });
            0
        }
        Err(_) => 0,
    }
}

/// Writes as many messages of the front transfer as fit; finishes it at the end.
fn pump_axfr(c: &mut Conn, zone: &Zone, now: Instant, scratch: &mut [u8]) -> usize {
    let mut written = 0;
    while let Some(job) = c.axfr.front_mut() {
        let machine = c.driver.machine_mut();
        let Ok(query) = Message::new(&job.query) else {
            let _ = machine.finish(now, job.token);
            c.axfr.pop_front();
            continue;
        };
        let room = machine
            .max_response_len()
            .min(AXFR_MESSAGE)
            .min(scratch.len());
        // Work on a copy of the state; keep it only once the message is queued.
        let mut next = job.state;
        match zone.axfr_messages(&query, room, scratch, &mut next) {
            Some(n) => match machine.respond_part(now, job.token, &scratch[..n]) {
                Ok(()) => {
                    job.state = next;
                    written += 1;
                }
                Err(RespondError::WouldBlock) => return written,
                Err(_) => {
                    c.axfr.pop_front();
                }
            },
            None => {
                let _ = machine.finish(now, job.token);
                c.axfr.pop_front();
            }
        }
    }
    written
}

fn bind_all(args: &Args, reuse_port: bool) -> Result<Vec<std::net::TcpListener>, String> {
    let mut out = Vec::new();
    for addr in &args.listen {
        let opts = ListenOptions {
            fast_open: args.tfo.then_some(256),
            reuse_port,
            ..ListenOptions::default()
        };
        let l = sys::listen(*addr, opts).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        out.push(l.listener);
    }
    Ok(out)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("serve: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let zone = match Zone::from_file(&args.zone, args.origin.as_deref()) {
        Ok(z) => Arc::new(z),
        Err(e) => {
            eprintln!("serve: zone error: {e}");
            return ExitCode::from(1);
        }
    };
    let threads = args.threads.max(1);
    let first = match bind_all(&args, threads > 1) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::from(1);
        }
    };
    // Port 0 resolved: the other threads bind the real ports.
    let mut real = Vec::new();
    for l in &first {
        match l.local_addr() {
            Ok(a) => real.push(a),
            Err(e) => {
                eprintln!("serve: {e}");
                return ExitCode::from(1);
            }
        }
    }
    args.listen = real.clone();
    let mut groups = vec![first];
    for _ in 1..threads {
        match bind_all(&args, true) {
            Ok(l) => groups.push(l),
            Err(e) => {
                eprintln!("serve: {e}");
                return ExitCode::from(1);
            }
        }
    }
    {
        let mut out = std::io::stdout().lock();
        for a in &real {
            let _ = writeln!(out, "listening on {a}");
        }
        let _ = out.flush();
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("serve: cannot install signal handler: {e}");
            return ExitCode::from(1);
        }
    }
    let args = Arc::new(args);
    let stats = Arc::new(ServerStats::default());
    let mut handles = Vec::new();
    for group in groups {
        let (zone, args, stats, stop) = (
            Arc::clone(&zone),
            Arc::clone(&args),
            Arc::clone(&stats),
            Arc::clone(&stop),
        );
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut l = Loop::new(group, zone, args, stats).map_err(|e| e.to_string())?;
            l.run(&stop).map_err(|e| e.to_string())
        }));
    }
    let mut failed = false;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("serve: event loop failed: {e}");
                failed = true;
            }
            Err(_) => failed = true,
        }
    }
    eprintln!("{}", stats.line());
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
