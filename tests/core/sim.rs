//! Deterministic fault simulation (issue 8): a client machine and a server machine
//! joined by a simulated link (`common::sim`), everything driven by one seeded PRNG.
//!
//! Per seed: random buffer sizes, timeouts, retry policy and server EOF mode; a few
//! dozen queries arrive over time; the link splits, delays and coalesces bytes; the
//! server "app" answers each query after a random delay, in random order; timers are
//! fired late (time jumps past deadlines) and early (random `handle_timeout` calls);
//! per connection a fault may be scheduled: a reset (often mid-frame), the server
//! dropping the connection with queries outstanding (FIN), or a client abort. The
//! client may half-close early (C9), the server may close after `max_queries` or its
//! timers. The client side reconnects and re-sends failed queries through
//! [`Retry`] exactly like the blocking adapter: a new `client::Connection` per
//! connection, retryable failures re-queued under `max_attempts_per_query`, and a
//! connection that failed without answering anything asks `Retry::on_failure`.
//!
//! Invariants, checked after every step: no panic; every client handle ends exactly
//! once and `Closed` comes last (C8); a delivered response carries its query's ID,
//! question and the A records the server built for that name (C4); `poll_transmit`
//! never exceeds the transmit buffer, `read_buf` never the receive buffer; after a
//! reset the server transmits nothing (S5); every server token ends once (answered or
//! `Dropped`) before `Closed`; after a client half-close answered by a server in
//! `OnEof::AnswerPending`, no handle of that connection fails (S9); reconnects after
//! failures respect the token bucket (C13) and no query exceeds its attempts; at
//! most one client connection is open at a time (C5); every query ends in a response
//! or an explicit error (C8); the run terminates.
//!
//! `DNSTCP_SIM_SEEDS=N` runs N seeds (default 3000); `DNSTCP_SIM_SEED=S` replays
//! one. A failing seed prints `seed = S`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use dnstcp::client::{
    self, Event as CEvent, FailReason, Handle, QueryOptions, Retry, RetryDecision, RetryPolicy,
    SendError,
};
use dnstcp::server::{self, Event as SEvent, OnEof, RespondError, Token};
use dnstcp::time::Instant;
use dnstcp::wire::{Builder, Class, Message, NameBuf, RData, Rtype};

use crate::common::sim::{Pipe, Rng};

const SLOTS: usize = 8;
const PENDING: usize = 8;
type Client = client::Connection<Vec<u8>, SLOTS>;
type Server = server::Connection<Vec<u8>, PENDING>;

const MAX_STEPS: u64 = 200_000;
const DEFAULT_SEEDS: u64 = 3000;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ms(d: u64) -> Duration {
    Duration::from_millis(d)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// A reset reaches both ends (often mid-frame).
    Reset(u64),
    /// The server process drops the connection: its machine learns of the loss, the
    /// client sees what was in flight and then a FIN.
    ServerDrop(u64),
    /// The client aborts; the server gets a reset.
    ClientAbort(u64),
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Answered,
    TimedOut,
    Failed(FailReason),
    GaveUp,
}

struct Query {
    name: NameBuf,
    arrives: u64,
    attempts: u32,
    outcome: Option<Outcome>,
}

/// What the client side knows about a handle.
struct Sent {
    q: usize,
    id: u16,
}

/// Aggregate counters over all seeds (coverage of the fault paths).
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    queries: u64,
    answered: u64,
    timed_out: u64,
    failed: u64,
    gave_up: u64,
    connections: u64,
    retries: u64,
    failure_reconnects: u64,
    resets: u64,
    server_drops: u64,
    client_aborts: u64,
    half_close_checked: u64,
    half_close_with_pending: u64,
    server_closed_first: u64,
    max_virtual_ms: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.queries += o.queries;
        self.answered += o.answered;
        self.timed_out += o.timed_out;
        self.failed += o.failed;
        self.gave_up += o.gave_up;
        self.connections += o.connections;
        self.retries += o.retries;
        self.failure_reconnects += o.failure_reconnects;
        self.resets += o.resets;
        self.server_drops += o.server_drops;
        self.client_aborts += o.client_aborts;
        self.half_close_checked += o.half_close_checked;
        self.half_close_with_pending += o.half_close_with_pending;
        self.server_closed_first += o.server_closed_first;
        self.max_virtual_ms = self.max_virtual_ms.max(o.max_virtual_ms);
    }
}

/// Ends a client handle, exactly once (C8).
fn end_handle(live: &mut HashMap<Handle, Sent>, ended: &mut HashSet<Handle>, h: Handle) -> Sent {
    assert!(ended.insert(h), "C8: handle {h:?} ended twice");
    live.remove(&h)
        .unwrap_or_else(|| panic!("C8: unknown handle {h:?} ended"))
}

/// One simulated TCP connection: both machines, both directions, the server app.
struct Link {
    client: Client,
    client_rx_cap: usize,
    client_tx_cap: usize,
    server: Server,
    server_rx_cap: usize,
    server_tx_cap: usize,
    on_eof: OnEof,
    c2s: Pipe,
    s2c: Pipe,
    fault: Fault,
    fault_applied: bool,
    /// The fault took effect (the connection was still open for it).
    fault_hit: bool,
    // client side
    handles: HashMap<Handle, Sent>,
    ended_handles: HashSet<Handle>,
    client_closed_event: bool,
    client_sock_closed: bool,
    client_eof_seen: bool,
    client_finishing: bool,
    client_half_closed: bool,
    retired: bool,
    answered: u64,
    failed_retryable: u64,
    failed_any: u64,
    // server side
    tokens: HashSet<Token>,
    last_token: Option<Token>,
    app: Vec<(u64, Token, Vec<u8>)>,
    server_closed_event: Option<server::CloseReason>,
    server_sock_closed: bool,
    server_eof_seen: bool,
    server_reset: bool,
    eof_while_open: bool,
    /// Tokens pending when the EOF arrived.
    pending_at_eof: usize,
    dropped: u64,
}

/// The A records the server app puts in the answer for `name`.
fn addr_for(name: &NameBuf, i: u8) -> [u8; 4] {
    let s = name.to_string().to_ascii_lowercase();
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    [10, (h >> 8) as u8, (h >> 16) as u8, i]
}

/// The server app's answer: `Builder::response_to` plus 1..=6 A records.
fn build_answer(query: &Message<'_>, rng: &mut Rng) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let mut b = Builder::response_to(&mut buf, query);
    let q = query
        .first_question()
        .expect("server passed a bad question")
        .expect("server passed a query without a question");
    let name = q.name.to_buf();
    for i in 0..rng.range(1, 6) as u8 {
        b.answer(&name.as_name(), 300, &RData::A(addr_for(&name, i).into()))
            .unwrap();
    }
    let n = b.finish();
    buf.truncate(n);
    buf
}

struct World {
    rng: Rng,
    now: u64,
    queries: Vec<Query>,
    queue: VecDeque<usize>,
    next_arrival: usize,
    links: Vec<Link>,
    current: Option<usize>,
    reconnect_at: Option<u64>,
    policy: RetryPolicy,
    retry: Retry,
    failure_reconnects: Vec<u64>,
    // per-seed parameters
    client_config: client::Config,
    half_close: bool,
    tally: Tally,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let policy = RetryPolicy {
            max_attempts_per_query: rng.range(1, 4) as u32,
            backoff_initial: ms(rng.range(5, 200)),
            backoff_max: ms(rng.range(200, 2000)),
            budget: rng.range(1, 5) as u32,
            budget_refill: ms(rng.range(500, 5000)),
        };
        let half_close = rng.chance(500);
        let client_config = client::Config {
            query_timeout: ms(rng.range(300, 8000)),
            idle_timeout: ms(rng.range(100, 3000)),
            half_close,
            edns: rng.chance(800),
            quarantine_limit: rng.urange(1, 64),
            ..client::Config::default()
        };
        let n = rng.urange(1, 40);
        let spread = rng.range(0, 3000);
        let mut arrivals: Vec<u64> = (0..n).map(|_| rng.range(0, spread)).collect();
        arrivals.sort_unstable();
        let queries = arrivals
            .into_iter()
            .enumerate()
            .map(|(i, arrives)| Query {
                name: format!("q{i}.Sim.Test.").parse().unwrap(),
                arrives,
                attempts: 0,
                outcome: None,
            })
            .collect();
        World {
            rng,
            now: 0,
            queries,
            queue: VecDeque::new(),
            next_arrival: 0,
            links: Vec::new(),
            current: None,
            reconnect_at: None,
            policy,
            retry: Retry::new(policy, at(0)),
            failure_reconnects: Vec::new(),
            client_config,
            half_close,
            tally: Tally {
                queries: n as u64,
                ..Tally::default()
            },
        }
    }

    fn finish_query(&mut self, q: usize, outcome: Outcome) {
        let query = &mut self.queries[q];
        assert!(
            query.outcome.is_none(),
            "query {q} ended twice: {:?} then {outcome:?}",
            query.outcome
        );
        match outcome {
            Outcome::Answered => self.tally.answered += 1,
            Outcome::TimedOut => self.tally.timed_out += 1,
            Outcome::Failed(_) => self.tally.failed += 1,
            Outcome::GaveUp => self.tally.gave_up += 1,
        }
        query.outcome = Some(outcome);
    }

    fn connect(&mut self) {
        let rng = &mut self.rng;
        let now = self.now;
        let mut sc = server::Config::default();
        sc.max_pending = rng.urange(1, PENDING);
        sc.on_eof = if rng.chance(250) {
            OnEof::DropPending
        } else {
            OnEof::AnswerPending
        };
        sc.initial_timeout = ms(rng.range(200, 10_000));
        sc.idle_timeout = ms(rng.range(50, 5000));
        sc.io_timeout = ms(rng.range(100, 2000));
        sc.write_timeout = ms(rng.range(300, 10_000));
        if rng.chance(100) {
            sc.max_queries = Some(rng.range(1, 10) as u32);
        }
        if rng.chance(50) {
            sc.max_lifetime = Some(ms(rng.range(100, 5000)));
        }
        let server_rx_cap = rng.urange(64, 2048);
        let server_tx_cap = rng.urange(600, 4096);
        let client_rx_cap = rng.urange(300, 4096);
        let client_tx_cap = rng.urange(64, 2048);
        let when = now + rng.range(0, 3000);
        let fault = match rng.below(20) {
            0 | 1 => Fault::Reset(when),
            2 | 3 => Fault::ServerDrop(when),
            4 => Fault::ClientAbort(when),
            _ => Fault::None,
        };
        let seed = rng.next_u64();
        let link = Link {
            client: Client::new(
                self.client_config,
                vec![0; client_rx_cap],
                vec![0; client_tx_cap],
                seed,
                at(now),
            ),
            client_rx_cap,
            client_tx_cap,
            server: Server::new(sc, vec![0; server_rx_cap], vec![0; server_tx_cap], at(now)),
            server_rx_cap,
            server_tx_cap,
            on_eof: sc.on_eof,
            c2s: Pipe::new(rng.range(0, 60), rng.urange(16, 4096)),
            s2c: Pipe::new(rng.range(0, 60), rng.urange(16, 4096)),
            fault,
            fault_applied: false,
            fault_hit: false,
            handles: HashMap::new(),
            ended_handles: HashSet::new(),
            client_closed_event: false,
            client_sock_closed: false,
            client_eof_seen: false,
            client_finishing: false,
            client_half_closed: false,
            retired: false,
            answered: 0,
            failed_retryable: 0,
            failed_any: 0,
            tokens: HashSet::new(),
            last_token: None,
            app: Vec::new(),
            server_closed_event: None,
            server_sock_closed: false,
            server_eof_seen: false,
            server_reset: false,
            eof_while_open: false,
            pending_at_eof: 0,
            dropped: 0,
        };
        self.links.push(link);
        self.current = Some(self.links.len() - 1);
        self.tally.connections += 1;
    }

    /// C5: at most one client connection open at a time.
    fn check_one_open(&self) {
        let open = self.links.iter().filter(|l| !l.client_closed_event).count();
        assert!(open <= 1, "C5: {open} client connections open");
    }

    /// The adapter's send loop: queue → current connection while it accepts.
    fn send_queued(&mut self) {
        let Some(li) = self.current else { return };
        let now = self.now;
        let link = &mut self.links[li];
        if link.client_finishing || link.retired || link.client_closed_event {
            return;
        }
        while let Some(&q) = self.queue.front() {
            let name = self.queries[q].name;
            match link.client.send_question(
                at(now),
                &name.as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            ) {
                Ok(h) => {
                    self.queue.pop_front();
                    let id = link.client.query_id(h).expect("fresh handle has an ID");
                    assert!(
                        link.handles.insert(h, Sent { q, id }).is_none(),
                        "handle reused"
                    );
                    let query = &mut self.queries[q];
                    if query.attempts > 0 {
                        self.tally.retries += 1;
                    }
                    query.attempts += 1;
                    assert!(
                        query.attempts <= self.policy.max_attempts_per_query,
                        "C13: query {q} made {} attempts",
                        query.attempts
                    );
                }
                Err(SendError::Full | SendError::NoSpace) => break,
                Err(SendError::Retired | SendError::Closing | SendError::Closed) => break,
                Err(e) => panic!("unexpected send error {e:?}"),
            }
        }
        if self.half_close && self.queue.is_empty() && self.rng.chance(300) {
            link.client.finish_sending(at(now));
            link.client_finishing = true;
        }
    }

    fn apply_fault(&mut self, li: usize) {
        let now = self.now;
        let link = &mut self.links[li];
        if link.fault_applied {
            return;
        }
        let t = match link.fault {
            Fault::None => return,
            Fault::Reset(t) | Fault::ServerDrop(t) | Fault::ClientAbort(t) => t,
        };
        if now < t {
            return;
        }
        link.fault_applied = true;
        match link.fault {
            Fault::Reset(_) => {
                if link.client_sock_closed || link.server_sock_closed {
                    return;
                }
                self.tally.resets += 1;
                link.fault_hit = true;
                link.c2s.reset();
                link.s2c.reset();
                link.client.handle_reset(at(now));
                link.server.handle_reset(at(now));
                link.server_reset = true;
            }
            Fault::ServerDrop(_) => {
                if link.server_sock_closed {
                    return;
                }
                self.tally.server_drops += 1;
                link.fault_hit = true;
                link.server.handle_reset(at(now));
                link.server_reset = true;
                link.c2s.reset();
                link.s2c.shutdown(&mut self.rng, now);
            }
            Fault::ClientAbort(_) => {
                if link.client_sock_closed {
                    return;
                }
                self.tally.client_aborts += 1;
                link.fault_hit = true;
                link.client.abort(at(now));
                link.c2s.reset();
                link.s2c.reset();
                if !link.server_sock_closed {
                    link.server.handle_reset(at(now));
                    link.server_reset = true;
                }
            }
            Fault::None => {}
        }
    }

    fn step_client(&mut self, li: usize) {
        let now = self.now;
        if self.links[li].client_sock_closed {
            return;
        }
        // Input.
        for _ in 0..self.rng.range(0, 3) {
            let link = &mut self.links[li];
            let due = link.s2c.readable(now);
            if due > 0 {
                let cap = self.rng.urange(1, due);
                let buf = link.client.read_buf();
                assert!(
                    buf.len() <= link.client_rx_cap,
                    "client read_buf over capacity"
                );
                if buf.is_empty() {
                    break;
                }
                let take = cap.min(buf.len());
                let n = link.s2c.read(now, &mut buf[..take]);
                link.client.commit_read(at(now), n);
            } else if link.s2c.at_eof(now) && !link.client_eof_seen {
                link.client_eof_seen = true;
                link.client.handle_peer_closed(at(now));
            }
            self.client_events(li);
        }
        // Timers: late (the deadline passed a while ago) and early (random calls).
        let link = &mut self.links[li];
        let due = link.client.poll_timeout().is_some_and(|t| t <= at(now));
        if due || self.rng.chance(50) {
            link.client.handle_timeout(at(now));
        }
        self.client_events(li);
        self.send_queued();
        self.client_events(li);
        // Output.
        let link = &mut self.links[li];
        if let Some(p) = link.client.poll_transmit() {
            assert!(
                p.len() <= link.client_tx_cap,
                "client transmit over capacity"
            );
            assert!(
                !link.c2s.is_shut() || link.c2s.is_dead(),
                "client wrote after FIN"
            );
            let room = if link.server_sock_closed {
                p.len()
            } else {
                link.c2s.room().min(p.len())
            };
            let n = if room == 0 {
                0
            } else if self.rng.chance(600) {
                room
            } else {
                self.rng.urange(0, room)
            };
            if n > 0 {
                if !link.server_sock_closed {
                    link.c2s.write(&mut self.rng, now, &p[..n]);
                }
                link.client.advance_transmit(at(now), n);
            }
        }
        self.client_events(li);
        // Intent.
        let link = &mut self.links[li];
        let intent = link.client.intent();
        if intent.shutdown_write && !link.c2s.is_shut() && !link.c2s.is_dead() {
            assert!(
                link.client.poll_transmit().is_none(),
                "shutdown with output queued"
            );
            link.c2s.shutdown(&mut self.rng, now);
            link.client_half_closed = true;
        }
        if intent.close {
            assert!(
                link.client_closed_event,
                "client asks to close before Closed"
            );
            assert!(link.client.poll_event().is_none(), "event after Closed");
            link.client_sock_closed = true;
            link.c2s.shutdown(&mut self.rng, now);
            if link.s2c.queued() > 0 && !link.server_sock_closed && !link.server_reset {
                // Closing with unread data sends a reset (Linux).
                link.s2c.reset();
                link.server.handle_reset(at(now));
                link.server_reset = true;
            }
        }
    }

    fn client_events(&mut self, li: usize) {
        let now = self.now;
        loop {
            let link = &mut self.links[li];
            let Some(ev) = link.client.poll_event() else {
                break;
            };
            assert!(!link.client_closed_event, "client event after Closed");
            match ev {
                CEvent::Response { handle, message } => {
                    let sent = end_handle(&mut link.handles, &mut link.ended_handles, handle);
                    let name = &self.queries[sent.q].name;
                    assert_eq!(message.id(), sent.id, "C4: response ID");
                    assert!(message.qr());
                    let q = message.first_question().unwrap().expect("question echoed");
                    assert!(
                        q.name.eq_ignore_case(&name.as_name()) && q.qtype == Rtype::A,
                        "C4: response to {} delivered for {name}",
                        q.name
                    );
                    let mut i = 0u8;
                    for rr in message.answers().unwrap() {
                        let rr = rr.unwrap();
                        assert_eq!(rr.rdata(), addr_for(name, i), "C4: answer for another name");
                        i += 1;
                    }
                    assert!(i > 0, "answer records lost");
                    link.answered += 1;
                    self.finish_query(sent.q, Outcome::Answered);
                }
                CEvent::TimedOut { handle } => {
                    let sent = end_handle(&mut link.handles, &mut link.ended_handles, handle);
                    self.finish_query(sent.q, Outcome::TimedOut);
                }
                CEvent::Failed { handle, reason } => {
                    let sent = end_handle(&mut link.handles, &mut link.ended_handles, handle);
                    link.failed_any += 1;
                    let retryable = matches!(
                        reason,
                        FailReason::PeerClosed | FailReason::Reset | FailReason::Closed
                    );
                    if retryable && self.policy.may_retry(self.queries[sent.q].attempts) {
                        link.failed_retryable += 1;
                        self.queue.push_back(sent.q);
                    } else {
                        self.finish_query(sent.q, Outcome::Failed(reason));
                    }
                }
                CEvent::Retired => link.retired = true,
                CEvent::Closed { .. } => {
                    assert!(
                        link.handles.is_empty(),
                        "C8: Closed with {} handles live",
                        link.handles.len()
                    );
                    link.client_closed_event = true;
                    if self.current == Some(li) {
                        self.current = None;
                        self.after_close(li, now);
                    }
                }
                other => panic!("unexpected client event {other:?}"),
            }
        }
    }

    /// The adapter's reconnect decision when its connection closed.
    fn after_close(&mut self, li: usize, now: u64) {
        let link = &self.links[li];
        let progressed = link.answered > 0;
        let failed = link.failed_retryable > 0;
        if progressed {
            self.retry.on_success();
        }
        if self.queue.is_empty() || !failed || progressed {
            // Nothing lost, or progress made: a new connection when needed.
            self.reconnect_at = None;
            return;
        }
        match self.retry.on_failure(at(now)) {
            RetryDecision::RetryAt(t) => {
                assert!(t >= at(now));
                self.reconnect_at = Some(t.as_millis());
            }
            RetryDecision::GiveUp => {
                for q in std::mem::take(&mut self.queue) {
                    self.finish_query(q, Outcome::GaveUp);
                }
                self.reconnect_at = None;
            }
            _ => unreachable!(),
        }
    }

    fn step_server(&mut self, li: usize) {
        let now = self.now;
        if self.links[li].server_sock_closed {
            return;
        }
        for _ in 0..self.rng.range(0, 3) {
            let link = &mut self.links[li];
            let due = link.c2s.readable(now);
            if due > 0 {
                let cap = self.rng.urange(1, due);
                let buf = link.server.read_buf();
                assert!(
                    buf.len() <= link.server_rx_cap,
                    "server read_buf over capacity"
                );
                if buf.is_empty() {
                    break;
                }
                let take = cap.min(buf.len());
                let n = link.c2s.read(now, &mut buf[..take]);
                link.server.commit_read(at(now), n);
            } else if link.c2s.at_eof(now) && !link.server_eof_seen && link.server.intent().read {
                link.server_eof_seen = true;
                if !link.server.is_closed() && link.on_eof == OnEof::AnswerPending {
                    link.eof_while_open = true;
                    link.pending_at_eof = link.server.pending();
                }
                link.server.handle_peer_closed(at(now));
            }
            self.server_events(li);
        }
        let link = &mut self.links[li];
        let due = link.server.poll_timeout().is_some_and(|t| t <= at(now));
        if due || self.rng.chance(50) {
            link.server.handle_timeout(at(now));
        }
        self.server_events(li);
        // The app answers what is due, in random order.
        let link = &mut self.links[li];
        let mut ready: Vec<usize> = (0..link.app.len())
            .filter(|&i| link.app[i].0 <= now)
            .collect();
        self.rng.shuffle(&mut ready);
        let mut done = Vec::new();
        for i in ready {
            let (_, token, ref bytes) = link.app[i];
            match link.server.respond(at(now), token, bytes) {
                Ok(()) => {
                    assert!(link.tokens.remove(&token), "token answered twice");
                    done.push(i);
                }
                Err(RespondError::WouldBlock) => {}
                Err(e) => panic!("respond({token:?}) failed: {e:?}"),
            }
        }
        done.sort_unstable();
        for i in done.into_iter().rev() {
            link.app.swap_remove(i);
        }
        // Output.
        if let Some(p) = link.server.poll_transmit() {
            assert!(!link.server_reset, "S5: server transmits after reset");
            assert!(
                p.len() <= link.server_tx_cap,
                "server transmit over capacity"
            );
            if link.client_sock_closed || link.s2c.is_dead() {
                // The write fails: the client is gone.
                link.server.handle_reset(at(now));
                link.server_reset = true;
                assert!(link.server.poll_transmit().is_none(), "S5");
            } else {
                let room = link.s2c.room().min(p.len());
                let n = if room == 0 {
                    0
                } else if self.rng.chance(600) {
                    room
                } else {
                    self.rng.urange(0, room)
                };
                if n > 0 {
                    link.s2c.write(&mut self.rng, now, &p[..n]);
                    link.server.advance_transmit(at(now), n);
                }
            }
        }
        if link.server_reset {
            assert!(link.server.poll_transmit().is_none(), "S5");
        }
        self.server_events(li);
        let link = &mut self.links[li];
        if link.server.intent().close {
            assert!(
                link.server_closed_event.is_some(),
                "server asks to close before Closed"
            );
            link.server_sock_closed = true;
            link.s2c.shutdown(&mut self.rng, now);
            if !link.client_sock_closed {
                self.tally.server_closed_first += 1;
            }
        }
    }

    fn server_events(&mut self, li: usize) {
        let now = self.now;
        let link = &mut self.links[li];
        while let Some(ev) = link.server.poll_event() {
            assert!(
                link.server_closed_event.is_none(),
                "server event after Closed"
            );
            match ev {
                SEvent::Query { token, message } => {
                    assert!(link.last_token.is_none_or(|t| t < token), "token order");
                    link.last_token = Some(token);
                    assert!(link.tokens.insert(token));
                    assert!(link.tokens.len() <= PENDING);
                    let answer = build_answer(&message, &mut self.rng);
                    let delay = if self.rng.chance(300) {
                        0
                    } else {
                        self.rng.range(0, 300)
                    };
                    link.app.push((now + delay, token, answer));
                }
                SEvent::Dropped { token } => {
                    assert!(link.tokens.remove(&token), "dropped unknown token");
                    link.app.retain(|(_, t, _)| *t != token);
                    link.dropped += 1;
                }
                SEvent::Closed { reason } => {
                    assert!(
                        link.tokens.is_empty(),
                        "server Closed with {} tokens live",
                        link.tokens.len()
                    );
                    link.server_closed_event = Some(reason);
                }
                other => panic!("unexpected server event {other:?}"),
            }
        }
    }

    /// Checks on a connection both ends have closed.
    fn retire_link(&mut self, li: usize) {
        let link = &self.links[li];
        assert!(link.handles.is_empty());
        assert!(link.tokens.is_empty());
        // S9: the client half-closed, the server (answer-pending mode) saw the EOF
        // while open and closed because of it: nothing was lost.
        if link.client_half_closed
            && link.eof_while_open
            && !link.fault_hit
            && link.server_closed_event == Some(server::CloseReason::PeerClosed)
        {
            self.tally.half_close_checked += 1;
            if link.pending_at_eof > 0 {
                self.tally.half_close_with_pending += 1;
            }
            assert_eq!(
                link.dropped, 0,
                "S9: server dropped tokens after half-close"
            );
            assert_eq!(
                link.failed_any, 0,
                "S9: a query failed although the server answered the half-close"
            );
        }
        self.links.swap_remove(li);
        if self.current == Some(self.links.len()) {
            self.current = Some(li);
        }
    }

    /// C13: reconnects after failed connections stay inside the token bucket.
    fn check_budget(&self) {
        let p = &self.policy;
        let refill = p.budget_refill.as_millis() as u64;
        let r = &self.failure_reconnects;
        for i in 0..r.len() {
            for j in i..r.len() {
                let allowed = u64::from(p.budget) + (r[j] - r[i]) / refill + 1;
                assert!(
                    (j - i + 1) as u64 <= allowed,
                    "C13: {} reconnects in {} ms (budget {}, refill {refill} ms)",
                    j - i + 1,
                    r[j] - r[i],
                    p.budget
                );
            }
        }
    }

    fn next_time(&self) -> Option<u64> {
        let now = self.now;
        let later = |t: u64| (t > now).then_some(t);
        let mut ts: Vec<u64> = Vec::new();
        if let Some(q) = self.queries.get(self.next_arrival) {
            ts.extend(later(q.arrives));
        }
        ts.extend(self.reconnect_at.and_then(later));
        for l in &self.links {
            ts.extend(l.c2s.next_due(now));
            ts.extend(l.s2c.next_due(now));
            if !l.client_sock_closed {
                ts.extend(l.client.poll_timeout().and_then(|t| later(t.as_millis())));
            }
            if !l.server_sock_closed {
                ts.extend(l.server.poll_timeout().and_then(|t| later(t.as_millis())));
            }
            ts.extend(l.app.iter().filter_map(|a| later(a.0)));
            if !l.fault_applied {
                if let Fault::Reset(t) | Fault::ServerDrop(t) | Fault::ClientAbort(t) = l.fault {
                    ts.extend(later(t));
                }
            }
        }
        ts.into_iter().min()
    }

    fn done(&self) -> bool {
        self.next_arrival == self.queries.len()
            && self.queue.is_empty()
            && self.links.is_empty()
            && self.queries.iter().all(|q| q.outcome.is_some())
    }

    fn run(mut self) -> Tally {
        let mut steps = 0u64;
        while !self.done() {
            steps += 1;
            assert!(steps < MAX_STEPS, "no progress after {MAX_STEPS} steps");
            while let Some(q) = self.queries.get(self.next_arrival) {
                if q.arrives > self.now {
                    break;
                }
                self.queue.push_back(self.next_arrival);
                self.next_arrival += 1;
            }
            if self.current.is_none()
                && !self.queue.is_empty()
                && self.reconnect_at.is_none_or(|t| t <= self.now)
            {
                if let Some(t) = self.reconnect_at.take() {
                    assert!(self.now >= t, "C13: reconnect before the backoff");
                    self.failure_reconnects.push(self.now);
                    self.tally.failure_reconnects += 1;
                    self.check_budget();
                }
                self.connect();
            }
            self.check_one_open();
            self.send_queued();
            let mut order: Vec<(usize, bool)> = (0..self.links.len())
                .flat_map(|i| [(i, false), (i, true)])
                .collect();
            self.rng.shuffle(&mut order);
            for (li, server_side) in order {
                self.apply_fault(li);
                if server_side {
                    self.step_server(li);
                } else {
                    self.step_client(li);
                }
            }
            let mut li = 0;
            while li < self.links.len() {
                let l = &self.links[li];
                if l.client_sock_closed && l.server_sock_closed {
                    self.retire_link(li);
                } else {
                    li += 1;
                }
            }
            // Time: jump to (or past) the next event, creep, or stay.
            let r = self.rng.below(10);
            match self.next_time() {
                Some(t) if r < 5 => self.now = t + self.rng.range(0, 5) * u64::from(r == 0),
                _ if r < 9 => self.now += self.rng.range(1, 5),
                Some(_) => {}
                None => self.now += 1,
            }
        }
        self.tally.max_virtual_ms = self.now;
        for q in &self.queries {
            assert!(q.outcome.is_some(), "C8: query without an outcome");
        }
        self.tally
    }
}

fn run_seed(seed: u64) -> Tally {
    match catch_unwind(AssertUnwindSafe(|| World::new(seed).run())) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("simulation failed: seed = {seed} (replay with DNSTCP_SIM_SEED={seed})");
            resume_unwind(e)
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[test]
fn sim_client_server_under_faults() {
    let started = std::time::Instant::now();
    let seeds: Vec<u64> = match env_u64("DNSTCP_SIM_SEED") {
        Some(s) => vec![s],
        None => (0..env_u64("DNSTCP_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)).collect(),
    };
    let mut total = Tally::default();
    for &seed in &seeds {
        total.add(&run_seed(seed));
    }
    eprintln!(
        "sim: {} seeds in {:.1?}: {total:?}",
        seeds.len(),
        started.elapsed()
    );
    // Every query ended (checked per seed); the run must also exercise the paths.
    assert_eq!(
        total.queries,
        total.answered + total.timed_out + total.failed + total.gave_up
    );
    if seeds.len() >= 500 {
        assert!(total.answered > total.queries / 2, "{total:?}");
        assert!(total.resets > 0 && total.server_drops > 0 && total.client_aborts > 0);
        assert!(total.retries > 0 && total.failure_reconnects > 0 && total.gave_up > 0);
        assert!(total.half_close_with_pending > 0 && total.timed_out > 0);
        assert!(total.server_closed_first > 0);
    }
}
