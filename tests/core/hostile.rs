//! Hostile inputs (issue 8): each test names one hostile peer or input and asserts
//! its expected typed outcome.
//!
//! Policy: **a panic is always our bug.** Whatever bytes, timing or call order a
//! peer or caller produces, the machines and the wire layer answer with a typed
//! outcome (an error, an event, a close reason), never a panic, an unbounded buffer
//! or an unbounded wait.
//!
//! Items of the list already proven elsewhere are not repeated here: the wire
//! list lives in `wire.rs` (pointer loops, labels, budgets, OPT, TXT, trailing data);
//! framing in `frame.rs` (lengths 0–11, 0xFFFF drip at the decoder, tiny frames,
//! HTTP); server S8 cap, S12 slowloris after a first query, S15 QR=1, F5 HTTP in
//! `server.rs`; client wrong question, duplicates, QR=0, byte-by-byte split, FIN
//! with outstanding queries, 65536 sends, clock backwards and far future in
//! `client.rs`. What follows are the remaining cases, driven through the machines.

use core::time::Duration;

use dnstcp::client::{
    self, CloseReason as CClose, Event as CEvent, FailReason, QueryOptions, SendError,
};
use dnstcp::server::{self, CloseReason, Config, Event, Token};
use dnstcp::time::Instant;
use dnstcp::wire::{BuildError, Builder, Class, Message, NameBuf, RData, Rcode, Rtype};

type Server = server::Connection<Vec<u8>>;
type Client = client::Connection<Vec<u8>>;

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn name(s: &str) -> NameBuf {
    s.parse().unwrap()
}

fn query(id: u16, qname: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut b = Builder::new(&mut buf, id);
    b.push_question(&name(qname).as_name(), Rtype::A, Class::In)
        .unwrap();
    let n = b.finish();
    buf.truncate(n);
    buf
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

fn split(mut s: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    while s.len() >= 2 {
        let n = u16::from_be_bytes([s[0], s[1]]) as usize;
        v.push(s[2..2 + n].to_vec());
        s = &s[2 + n..];
    }
    assert!(s.is_empty(), "partial frame in output");
    v
}

fn answer(q: &Message<'_>, out: &mut [u8]) -> usize {
    let mut b = Builder::response_to(out, q);
    if let Ok(Some(question)) = q.first_question() {
        let qn = question.name.to_buf();
        b.answer(&qn.as_name(), 60, &RData::A([192, 0, 2, 7].into()))
            .unwrap();
    }
    b.finish()
}

fn timers() -> Config {
    let mut c = Config::default();
    c.initial_timeout = Duration::from_secs(3);
    c.idle_timeout = Duration::from_secs(1);
    c.io_timeout = Duration::from_millis(500);
    c.write_timeout = Duration::from_secs(4);
    c
}

fn server(config: Config, rx: usize, tx: usize) -> Server {
    Server::new(config, vec![0; rx], vec![0; tx], ms(0))
}

#[derive(Debug, PartialEq)]
enum Ev {
    Query(Token, Vec<u8>),
    Dropped(Token),
    Closed(CloseReason),
}

fn events(c: &mut Server) -> Vec<Ev> {
    let mut v = Vec::new();
    while let Some(e) = c.poll_event() {
        v.push(match e {
            Event::Query { token, message } => Ev::Query(token, message.as_bytes().to_vec()),
            Event::Dropped { token } => Ev::Dropped(token),
            Event::Closed { reason } => Ev::Closed(reason),
            other => panic!("unexpected {other:?}"),
        });
        assert!(v.len() <= 100_000);
    }
    v
}

fn write_all(c: &mut Server, now: Instant) -> Vec<u8> {
    let out = c.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
    c.advance_transmit(now, out.len());
    out
}

/// Feeds `stream` as the socket would (only while the machine wants to read),
/// answering every query at once and writing everything; returns the answers.
fn serve_stream(c: &mut Server, now: Instant, stream: &[u8]) -> Vec<Vec<u8>> {
    let mut fed = 0;
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        if fed < stream.len() {
            fed += c.handle_read(now, &stream[fed..]);
        }
        let mut progress = false;
        while let Some(r) = c.answer_next(now, answer) {
            r.unwrap();
            progress = true;
        }
        let bytes = write_all(c, now);
        progress |= !bytes.is_empty();
        out.extend(split(&bytes));
        if fed == stream.len() && !progress {
            return out;
        }
    }
    panic!("serve_stream made no progress");
}

// ---- server -----------------------------------------------------------------------

#[test]
fn hostile_server_duplicate_ids_each_answered() {
    // Fifty pipelined queries all with ID 7: IDs are the client's business (S1);
    // the server answers every one, each with the ID it carried.
    let mut c = server(Config::default(), 4096, 65536);
    let stream: Vec<u8> = (0..50).flat_map(|_| frame(&query(7, "dup.test"))).collect();
    let answers = serve_stream(&mut c, ms(0), &stream);
    assert_eq!(answers.len(), 50);
    for a in &answers {
        let m = Message::new(a).unwrap();
        assert_eq!((m.id(), m.qr(), m.rcode()), (7, true, Rcode::NoError));
    }
    assert_eq!(c.stats().queries, 50);
}

#[test]
fn hostile_server_pipelining_flood_beyond_pending_cap() {
    // 2000 queries in one write against a cap of 4 pending tokens: the machine never
    // hands out a fifth (S8), reads only what it can hold, and answers all of them
    // in order as the caller finishes tokens.
    let mut cfg = Config::default();
    cfg.max_pending = 4;
    let mut c = server(cfg, 1024, 8192);
    let stream: Vec<u8> = (0..2000u16)
        .flat_map(|i| frame(&query(i, "flood.test")))
        .collect();
    let first = c.handle_read(ms(0), &stream);
    assert!(first < stream.len() && first <= 1024, "reads are bounded");
    let evs = events(&mut c);
    assert_eq!(evs.len(), 4, "exactly the cap is handed out");
    assert!(!c.intent().read && c.read_buf().is_empty(), "back-pressure");
    assert_eq!(c.handle_read(ms(0), &stream[first..]), 0);
    // Answer the four, then serve the rest.
    for e in evs {
        let Ev::Query(t, q) = e else { panic!() };
        let mut out = vec![0u8; 512];
        let n = answer(&Message::new(&q).unwrap(), &mut out);
        c.respond(ms(1), t, &out[..n]).unwrap();
    }
    let mut answers = split(&write_all(&mut c, ms(1)));
    answers.extend(serve_stream(&mut c, ms(2), &stream[first..]));
    assert_eq!(answers.len(), 2000);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(Message::new(a).unwrap().id(), i as u16, "answers in order");
    }
}

#[test]
fn hostile_server_never_reading_client_sending_10k_queries_stays_bounded() {
    // S8 + S16: a client that floods queries and never reads. Output stops at the
    // transmit buffer, reading stops (TCP back-pressure), memory stays at the
    // configured buffers whatever is offered, and the write deadline closes it.
    let mut c = server(timers(), 2048, 4096);
    let stream: Vec<u8> = (0..10_000u16)
        .flat_map(|i| frame(&query(i, "never.reads.test")))
        .collect();
    let mut fed = 0;
    let mut answered = 0;
    for round in 0..200u64 {
        fed += c.handle_read(ms(round), &stream[fed..]);
        while let Some(r) = c.answer_next(ms(round), answer) {
            r.unwrap();
            answered += 1;
        }
        assert!(c.poll_transmit().map_or(0, <[u8]>::len) <= 4096);
    }
    assert!(
        fed < 6 * 1024,
        "only about rx + tx worth was ever read: {fed}"
    );
    assert!(
        answered < 200,
        "answers bounded by the transmit buffer: {answered}"
    );
    assert!(!c.intent().read);
    let deadline = c.poll_timeout().unwrap();
    assert!(deadline <= ms(4000), "write deadline armed: {deadline:?}");
    c.handle_timeout(deadline);
    let evs = events(&mut c);
    assert_eq!(evs.last(), Some(&Ev::Closed(CloseReason::WriteTimeout)));
    assert!(c.poll_transmit().is_none());
    assert!(c.intent().close);
}

#[test]
fn hostile_server_connection_that_sends_nothing_times_out() {
    // Opens and sends nothing: the initial timeout (S12), whatever early timer calls
    // and writable events happen before.
    let mut c = server(timers(), 512, 1024);
    for t in [0, 1, 500, 2999] {
        c.handle_timeout(ms(t));
        assert!(write_all(&mut c, ms(t)).is_empty());
        assert!(!c.is_closed());
    }
    c.handle_timeout(ms(3000));
    assert_eq!(
        events(&mut c),
        vec![Ev::Closed(CloseReason::InitialTimeout)]
    );
    assert!(c.poll_transmit().is_none());
}

#[test]
fn hostile_server_slowloris_one_byte_per_250ms_from_accept() {
    // The very first frame dripped at one byte per 250 ms: the read deadline (500 ms
    // from the first byte) ends it long before the 3 s initial timeout, and later
    // bytes never push it back (S12).
    let mut c = server(timers(), 512, 1024);
    let f = frame(&query(1, "slow.test"));
    let mut t = 100;
    let mut i = 0;
    while !c.is_closed() {
        if c.poll_timeout().is_some_and(|d| d <= ms(t)) {
            c.handle_timeout(ms(t));
        } else {
            assert_eq!(c.handle_read(ms(t), &f[i..=i]), 1);
            i += 1;
        }
        let _ = events(&mut c);
        t += 250;
        assert!(t < 2000, "slowloris not cut off");
    }
    assert!(i <= 3, "{i} bytes accepted");
    assert_eq!(c.stats().queries, 0);
    // Closed(ReadTimeout) was reported by the loop's drain; nothing answered.
    assert!(c.poll_transmit().is_none());
}

#[test]
fn hostile_server_thousands_of_tiny_frames_in_one_read() {
    // 3000 minimal queries (root name, 17 bytes) in one 57 KB read: every one
    // answered, in order, the receive buffer refilled as it drains.
    let mut c = server(Config::default(), 65537, 65536);
    let stream: Vec<u8> = (0..3000u16).flat_map(|i| frame(&query(i, "."))).collect();
    assert!(stream.len() > 50_000);
    let answers = serve_stream(&mut c, ms(0), &stream);
    assert_eq!(answers.len(), 3000);
    assert!(
        answers
            .iter()
            .enumerate()
            .all(|(i, a)| Message::new(a).unwrap().id() == i as u16)
    );
}

#[test]
fn hostile_server_ffff_length_then_one_byte_drip() {
    // 0xFFFF announced, then the body one byte at a time: over the 4 KB buffer, so
    // FORMERR for the ID in its first two bytes (F4), and the read deadline ends the
    // drip (F6, S12) instead of waiting for 65535 bytes.
    let mut c = server(timers(), 4096, 4096);
    c.handle_read(ms(0), &[0xFF, 0xFF]);
    let _ = events(&mut c);
    assert!(!c.is_closed(), "a partial first read never closes (F6)");
    let mut t = 0;
    for b in [0x12u8, 0x34, 0, 0, 0, 1] {
        t += 50;
        c.handle_read(ms(t), &[b]);
        let _ = events(&mut c);
    }
    let out = split(&write_all(&mut c, ms(t)));
    assert_eq!(out.len(), 1);
    let m = Message::new(&out[0]).unwrap();
    assert_eq!((m.id(), m.rcode()), (0x1234, Rcode::FormErr));
    // The deadline counts from when the oversized frame was recognised (its ID
    // complete at 100 ms); further drip bytes never extend it.
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, ms(600));
    for t in [350, 400, 450, 500, 550] {
        c.handle_read(ms(t), &[0]);
        let _ = events(&mut c);
        assert_eq!(c.poll_timeout(), Some(deadline));
    }
    c.handle_timeout(ms(599));
    assert!(!c.is_closed());
    c.handle_timeout(deadline);
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::ReadTimeout)]);
}

#[test]
fn hostile_server_length_byte_then_eof() {
    // One byte of a length field, then FIN: a clean close, nothing sent, no token.
    let mut c = server(timers(), 512, 1024);
    assert_eq!(c.handle_read(ms(0), &[0x00]), 1);
    assert!(events(&mut c).is_empty());
    c.handle_peer_closed(ms(10));
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::PeerClosed)]);
    assert!(c.poll_transmit().is_none());
    assert!(c.intent().close);
}

#[test]
fn hostile_server_eof_mid_message_answers_complete_queries_only() {
    // Two complete queries, half a third, then FIN: the two are answered (S9), the
    // partial one is discarded, then the connection closes.
    let mut c = server(timers(), 4096, 4096);
    let third = frame(&query(3, "c.test"));
    let mut stream = [frame(&query(1, "a.test")), frame(&query(2, "b.test"))].concat();
    stream.extend_from_slice(&third[..third.len() / 2]);
    c.handle_read(ms(0), &stream);
    c.handle_peer_closed(ms(1));
    let mut answered = 0;
    while let Some(r) = c.answer_next(ms(2), answer) {
        r.unwrap();
        answered += 1;
    }
    assert_eq!(answered, 2);
    let out = split(&write_all(&mut c, ms(3)));
    let ids: Vec<u16> = out.iter().map(|a| Message::new(a).unwrap().id()).collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::PeerClosed)]);
}

#[test]
fn hostile_server_clock_jumps_to_the_far_future() {
    // Deadlines saturate instead of overflowing; a jump to the end of time fires
    // what is due, once.
    let mut c = server(timers(), 512, 1024);
    c.handle_read(Instant::MAX, &frame(&query(1, "late.test")));
    let evs = events(&mut c);
    assert!(matches!(evs.as_slice(), [Ev::Query(..)]), "{evs:?}");
    let Ev::Query(t, q) = &evs[0] else { panic!() };
    let mut out = vec![0u8; 512];
    let n = answer(&Message::new(q).unwrap(), &mut out);
    c.respond(Instant::MAX, *t, &out[..n]).unwrap();
    assert_eq!(split(&write_all(&mut c, Instant::MAX)).len(), 1);
    c.handle_timeout(Instant::MAX);
    c.handle_timeout(Instant::MAX);
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::IdleTimeout)]);
    // And from a normal clock straight to the end of time, with a token pending.
    let mut c = server(timers(), 512, 1024);
    c.handle_read(ms(5), &frame(&query(2, "pending.test")));
    assert_eq!(events(&mut c).len(), 1);
    c.handle_timeout(Instant::MAX);
    c.handle_timeout(ms(0));
    assert!(
        !c.is_closed(),
        "a pending token holds no deadline but the write one"
    );
}

// ---- client -----------------------------------------------------------------------

fn client(config: client::Config) -> Client {
    Client::new(config, vec![0; 4096], vec![0; 4096], 0xbad, ms(0))
}

fn ask(c: &mut Client, now: u64, qname: &str) -> client::Handle {
    c.send_question(
        ms(now),
        &name(qname).as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    )
    .unwrap()
}

fn sent_queries(c: &mut Client, now: u64) -> Vec<Vec<u8>> {
    let out = c.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
    c.advance_transmit(ms(now), out.len());
    split(&out)
}

fn framed_answer(q: &[u8], id: u16) -> Vec<u8> {
    let m = Message::new(q).unwrap();
    let mut out = vec![0u8; 1024];
    let n = answer(&m, &mut out);
    out[..2].copy_from_slice(&id.to_be_bytes());
    frame(&out[..n])
}

#[derive(Debug, PartialEq)]
enum CEv {
    Resp(client::Handle),
    Failed(client::Handle, FailReason),
    TimedOut(client::Handle),
    Retired,
    Closed(CClose),
}

fn cevents(c: &mut Client) -> Vec<CEv> {
    let mut v = Vec::new();
    while let Some(e) = c.poll_event() {
        v.push(match e {
            CEvent::Response { handle, .. } => CEv::Resp(handle),
            CEvent::Failed { handle, reason } => CEv::Failed(handle, reason),
            CEvent::TimedOut { handle } => CEv::TimedOut(handle),
            CEvent::Retired => CEv::Retired,
            CEvent::Closed { reason } => CEv::Closed(reason),
            other => panic!("unexpected {other:?}"),
        });
        assert!(v.len() < 100_000);
    }
    v
}

fn feed(c: &mut Client, now: u64, mut bytes: &[u8]) -> Vec<CEv> {
    let mut evs = Vec::new();
    while !bytes.is_empty() {
        let n = c.handle_read(ms(now), bytes);
        bytes = &bytes[n..];
        evs.extend(cevents(c));
    }
    evs.extend(cevents(c));
    evs
}

#[test]
fn hostile_client_flood_of_unknown_ids_never_delivered() {
    // 5000 well-formed responses with IDs nobody asked for (ours excluded), then the
    // real answer: none of the strays is delivered, each is counted, the real one
    // still matches (C4).
    let mut c = client(client::Config::default());
    let h = ask(&mut c, 0, "real.test");
    let q = sent_queries(&mut c, 0).remove(0);
    let ours = c.query_id(h).unwrap();
    let strays: Vec<u8> = (0..5000u16)
        .map(|i| ours.wrapping_add(1 + i % 60_000))
        .flat_map(|id| framed_answer(&q, id))
        .collect();
    assert!(feed(&mut c, 1, &strays).is_empty());
    assert_eq!(c.stats().unmatched, 5000);
    assert_eq!(
        feed(&mut c, 2, &framed_answer(&q, ours)),
        vec![CEv::Resp(h)]
    );
}

#[test]
fn hostile_client_server_reset_mid_response() {
    // One complete answer, then half of the next, then a reset: the complete one is
    // delivered, every other handle fails once with Reset, then Closed(Reset).
    let mut c = client(client::Config::default());
    let hs: Vec<_> = (0..3)
        .map(|i| ask(&mut c, 0, &format!("r{i}.test")))
        .collect();
    let qs = sent_queries(&mut c, 0);
    let a0 = framed_answer(&qs[0], c.query_id(hs[0]).unwrap());
    let a1 = framed_answer(&qs[1], c.query_id(hs[1]).unwrap());
    let mut stream = a0.clone();
    stream.extend_from_slice(&a1[..a1.len() / 2]);
    assert_eq!(c.handle_read(ms(1), &stream), stream.len());
    c.handle_reset(ms(2));
    let evs = cevents(&mut c);
    assert_eq!(
        evs,
        vec![
            CEv::Resp(hs[0]),
            CEv::Failed(hs[1], FailReason::Reset),
            CEv::Failed(hs[2], FailReason::Reset),
            CEv::Closed(CClose::Reset),
        ]
    );
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.send(ms(3), &qs[0]), Err(SendError::Closed));
}

#[test]
fn hostile_client_server_fin_right_after_one_answer() {
    // The server answers the first of five then closes: one response, four
    // PeerClosed failures (retryable, C7), in that order, then Closed.
    let mut c = client(client::Config::default());
    let hs: Vec<_> = (0..5)
        .map(|i| ask(&mut c, 0, &format!("f{i}.test")))
        .collect();
    let qs = sent_queries(&mut c, 0);
    let a = framed_answer(&qs[0], c.query_id(hs[0]).unwrap());
    c.handle_read(ms(1), &a);
    c.handle_peer_closed(ms(1));
    let evs = cevents(&mut c);
    assert_eq!(evs[0], CEv::Resp(hs[0]));
    for (i, h) in hs.iter().enumerate().skip(1) {
        assert_eq!(evs[i], CEv::Failed(*h, FailReason::PeerClosed));
    }
    assert_eq!(evs[5], CEv::Closed(CClose::PeerClosed));
    assert_eq!(evs.len(), 6);
}

#[test]
fn hostile_client_65536_sends_over_time_with_timeouts_and_late_answers() {
    // 65536 queries over a minute of virtual time, up to 16 in flight; every 7th is
    // never answered in time (it times out; its answer arrives late), others are
    // answered out of order. Late answers never complete a newer query (C11); the
    // connection retires when its quarantine fills and the caller moves on to a new
    // one; every handle ends exactly once.
    let cfg = client::Config {
        query_timeout: Duration::from_millis(50),
        idle_timeout: Duration::from_secs(3600),
        quarantine_limit: 8,
        ..client::Config::default()
    };
    let mut c = client(cfg);
    let mut live: Vec<(client::Handle, u16, Vec<u8>, bool)> = Vec::new();
    let mut late: Vec<Vec<u8>> = Vec::new();
    let mut now = 0u64;
    let (mut sent, mut answered, mut timed_out, mut connections) = (0u32, 0u32, 0u32, 1u32);
    let mut ended = std::collections::HashSet::new();
    while sent < 65_536 || !live.is_empty() {
        while sent < 65_536 && live.len() < 16 {
            match c.send_question(
                ms(now),
                &name("t.test").as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            ) {
                Ok(h) => {
                    let id = c.query_id(h).unwrap();
                    let q = sent_queries(&mut c, now).remove(0);
                    live.push((h, id, framed_answer(&q, id), sent % 7 == 0));
                    sent += 1;
                }
                Err(SendError::Retired | SendError::Closed) if live.is_empty() => {
                    let evs = cevents(&mut c);
                    assert!(
                        evs.iter()
                            .all(|e| matches!(e, CEv::Retired | CEv::Closed(_)))
                    );
                    // Late answers belong to the old connection's socket.
                    late.clear();
                    c = Client::new(cfg, vec![0; 4096], vec![0; 4096], u64::from(sent), ms(now));
                    connections += 1;
                }
                Err(SendError::Retired) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        now += 1;
        // Feed a few late answers for earlier timed-out queries first.
        for a in late.drain(..) {
            let evs = feed(&mut c, now, &a);
            assert!(evs.is_empty(), "late answer delivered: {evs:?}");
        }
        if let Some(i) = live.iter().position(|l| !l.3) {
            let (h, _, a, _) = live.swap_remove(i);
            let evs = feed(&mut c, now, &a);
            assert_eq!(evs, vec![CEv::Resp(h)]);
            assert!(ended.insert((connections, h)));
            answered += 1;
        } else {
            now += 50;
            c.handle_timeout(ms(now));
            for e in cevents(&mut c) {
                match e {
                    CEv::TimedOut(h) => {
                        let i = live.iter().position(|l| l.0 == h).unwrap();
                        let (h, _, a, _) = live.swap_remove(i);
                        assert!(ended.insert((connections, h)));
                        late.push(a);
                        timed_out += 1;
                    }
                    CEv::Retired | CEv::Closed(CClose::Retired) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    assert_eq!(answered + timed_out, 65_536);
    assert!(timed_out > 9000, "{timed_out}");
    assert!(connections > 500, "retired and replaced: {connections}");
}

// ---- regressions found by the simulation ------------------------------------------

#[test]
fn hostile_builder_buffer_shorter_than_the_header_is_no_space() {
    // Found by `sim`: a question pushed into a buffer shorter than 12 bytes indexed
    // past its end (Builder::put_name searched `buf[..12]`).
    for len in 0..12 {
        let mut buf = vec![0u8; len];
        let mut b = Builder::new(&mut buf, 1);
        let err = b
            .push_question(&name("a.test").as_name(), Rtype::A, Class::In)
            .unwrap_err();
        assert!(matches!(err, BuildError::NoSpace { .. }), "{len}: {err:?}");
        assert_eq!(b.finish(), 0);
    }
}

#[test]
fn hostile_client_send_with_transmit_buffer_nearly_full_is_no_space() {
    // The same bug through the client: whatever room is left in the transmit buffer
    // (every size from 0 to a header and more), a send is accepted or `NoSpace`.
    for tx in 20..160 {
        let mut c = Client::new(
            client::Config::default(),
            vec![0; 512],
            vec![0; tx],
            1,
            ms(0),
        );
        for _ in 0..8 {
            match c.send_question(
                ms(0),
                &name("x.test").as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            ) {
                Ok(_) => {}
                Err(SendError::NoSpace | SendError::TooLarge) => {}
                Err(e) => panic!("tx {tx}: {e:?}"),
            }
            assert!(c.poll_transmit().is_none_or(|p| p.len() <= tx));
        }
    }
}

// ---- degenerate buffers --------------------------------------------------------------

#[test]
fn hostile_tiny_buffers_every_size_typed_outcomes() {
    // Every receive/transmit size from 0 to 64 bytes, on both machines, through a
    // query, an answer, an oversized answer, EOF and timers: typed outcomes only.
    let q = frame(&query(9, "tiny.test"));
    for rx in (0..64).step_by(3) {
        for tx in (0..64).step_by(3) {
            let mut s = server(timers(), rx, tx);
            let mut fed = 0;
            for round in 0..8u64 {
                fed += s.handle_read(ms(round), &q[fed.min(q.len())..]);
                let mut calls = 0;
                let fit = |q: &Message<'_>, out: &mut [u8]| {
                    let mut b = Builder::response_to(out, q);
                    let owner = name("tiny.test");
                    let ok = b.answer(&owner.as_name(), 1, &RData::A([192, 0, 2, 1].into()));
                    if ok.is_ok() { b.finish() } else { 0 }
                };
                while let Some(r) = s.answer_next(ms(round), fit) {
                    calls += 1;
                    assert!(calls < 100, "rx {rx} tx {tx}: answer_next loops: {r:?}");
                    // Returning 0 deferred the token: decline it.
                    if let Ok(t) = r {
                        if s.is_pending(t) {
                            s.finish(ms(round), t).unwrap();
                        }
                    }
                }
                let out = write_all(&mut s, ms(round));
                assert!(out.len() <= tx);
                if fed >= q.len() {
                    s.handle_peer_closed(ms(round));
                }
                let _ = events(&mut s);
            }
            s.handle_timeout(Instant::MAX);
            let _ = events(&mut s);
            assert!(
                s.is_closed(),
                "rx {rx} tx {tx}: still open at the end of time"
            );

            let mut c = Client::new(
                client::Config::default(),
                vec![0; rx],
                vec![0; tx],
                3,
                ms(0),
            );
            let sent = c.send_question(
                ms(0),
                &name("tiny.test").as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            );
            if let Ok(h) = sent {
                let out = c.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
                assert!(out.len() <= tx);
                c.advance_transmit(ms(1), out.len());
                let id = c.query_id(h).unwrap();
                let a = framed_answer(&split(&out)[0], id);
                let mut rest = &a[..];
                for _ in 0..100 {
                    let n = c.handle_read(ms(2), rest);
                    rest = &rest[n..];
                    let _ = cevents(&mut c);
                }
                assert!(
                    rest.is_empty() || rx < 4,
                    "rx {rx} tx {tx}: client stopped reading"
                );
            } else {
                assert!(matches!(
                    sent,
                    Err(SendError::TooLarge | SendError::NoSpace)
                ));
            }
            c.handle_peer_closed(ms(3));
            let evs = cevents(&mut c);
            assert!(
                matches!(evs.last(), Some(CEv::Closed(_))),
                "rx {rx} tx {tx}: {evs:?}"
            );
        }
    }
}
