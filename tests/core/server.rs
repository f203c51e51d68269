//! Tests: the server connection machine and the admission policy, named after the
//! CHECKLIST IDs they prove.

use core::net::IpAddr;
use core::time::Duration;

use dnstcp::frame::Oversize;
use dnstcp::server::{
    CloseReason, Config, Connection, Event, Limits, LimitsConfig, OnEof, Refusal, RespondError,
    Token,
};
use dnstcp::time::Instant;
use dnstcp::wire::{Builder, Class, Message, NameBuf, Opcode, RData, Rcode, Rtype};

use crate::common::alloc::assert_no_alloc;

// ---- helpers ---------------------------------------------------------------------

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn name(s: &str) -> NameBuf {
    s.parse().unwrap()
}

/// A QUERY for `qname`/`qtype`, with an OPT (carrying an empty keepalive) when `edns`.
fn query_t(id: u16, qname: &str, qtype: Rtype, edns: bool) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let n = name(qname);
    let mut b = Builder::new(&mut buf, id);
    b.header_mut().set_rd(true);
    b.push_question(&n.as_name(), qtype, Class::In).unwrap();
    if edns {
        b.push_opt(1232, 0, 0, false, |w| w.keepalive(None))
            .unwrap();
    }
    let len = b.finish();
    buf.truncate(len);
    buf
}

fn query(id: u16, edns: bool) -> Vec<u8> {
    query_t(id, "www.example.test", Rtype::A, edns)
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

fn frames(msgs: &[Vec<u8>]) -> Vec<u8> {
    msgs.iter().flat_map(|m| frame(m)).collect()
}

/// A response to `q` with one A record; `opt` adds an OPT echoing an empty keepalive.
fn answer_into(q: &Message<'_>, out: &mut [u8], opt: bool) -> usize {
    let mut b = Builder::response_to(out, q);
    if let Ok(Some(question)) = q.first_question() {
        let qn = question.name.to_buf();
        b.answer(&qn.as_name(), 300, &RData::A([192, 0, 2, 1].into()))
            .unwrap();
    }
    if opt {
        b.push_opt(1232, 0, 0, false, |w| w.keepalive(None))
            .unwrap();
    }
    b.finish()
}

fn answer_bytes(q: &[u8], opt: bool) -> Vec<u8> {
    let m = Message::new(q).unwrap();
    let mut out = vec![0u8; 1024];
    let n = answer_into(&m, &mut out, opt);
    out.truncate(n);
    out
}

/// An owned copy of an event.
#[derive(Debug, PartialEq)]
enum Ev {
    Query(Token, Vec<u8>),
    Dropped(Token),
    Closed(CloseReason),
}

type Conn = Connection<Vec<u8>>;

fn conn_with(config: Config, rx: usize, tx: usize) -> Conn {
    Connection::new(config, vec![0; rx], vec![0; tx], ms(0))
}

fn conn(config: Config) -> Conn {
    conn_with(config, 4096, 65536)
}

fn events(c: &mut Conn) -> Vec<Ev> {
    let mut v = Vec::new();
    while let Some(e) = c.poll_event() {
        v.push(match e {
            Event::Query { token, message } => Ev::Query(token, message.as_bytes().to_vec()),
            Event::Dropped { token } => Ev::Dropped(token),
            Event::Closed { reason } => Ev::Closed(reason),
            other => panic!("unexpected {other:?}"),
        });
        assert!(v.len() < 10_000);
    }
    v
}

fn queries(evs: &[Ev]) -> Vec<(Token, Vec<u8>)> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Query(t, b) => Some((*t, b.clone())),
            _ => None,
        })
        .collect()
}

/// Writes everything pending; returns the bytes.
fn drain(c: &mut Conn, now: Instant) -> Vec<u8> {
    let out = c.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
    c.advance_transmit(now, out.len());
    out
}

/// Splits a framed stream into messages.
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

fn msg(b: &[u8]) -> Message<'_> {
    Message::new(b).unwrap()
}

fn closed_reason(evs: &[Ev]) -> Option<CloseReason> {
    evs.iter().find_map(|e| match e {
        Ev::Closed(r) => Some(*r),
        _ => None,
    })
}

fn small(max_pending: usize) -> Config {
    let mut c = Config::default();
    c.max_pending = max_pending;
    c
}

// ---- pipelining, order, framing ----------------------------------------------------

#[test]
fn s1_burst_of_100_pipelined_queries_in_one_read() {
    let mut c = conn_with(Config::default(), 8192, 65536);
    let qs: Vec<_> = (0..100).map(|i| query(1000 + i, false)).collect();
    let stream = frames(&qs);
    assert_eq!(c.handle_read(ms(1), &stream), stream.len());
    let mut answered = 0;
    while let Some(r) = c.answer_next(ms(2), |q, out| answer_into(q, out, false)) {
        r.unwrap();
        answered += 1;
    }
    assert_eq!(answered, 100);
    let out = split(&drain(&mut c, ms(3)));
    assert_eq!(out.len(), 100);
    for (i, m) in out.iter().enumerate() {
        let m = msg(m);
        assert_eq!(m.id(), 1000 + i as u16);
        assert!(m.qr());
        assert_eq!(m.answers().unwrap().count(), 1);
    }
    assert_eq!(c.stats().queries, 100);
    assert_eq!(c.stats().responses, 100);
    assert!(c.intent().read);
}

#[test]
fn s2_reverse_order_answers_leave_in_that_order() {
    let mut c = conn(Config::default());
    let qs: Vec<_> = (0..5).map(|i| query(10 + i, false)).collect();
    c.handle_read(ms(0), &frames(&qs));
    let got = queries(&events(&mut c));
    assert_eq!(got.len(), 5);
    for (t, q) in got.iter().rev() {
        c.respond(ms(1), *t, &answer_bytes(q, false)).unwrap();
        assert_eq!(
            c.respond(ms(1), *t, &answer_bytes(q, false)),
            Err(RespondError::UnknownToken)
        );
    }
    let ids: Vec<u16> = split(&drain(&mut c, ms(2)))
        .iter()
        .map(|m| msg(m).id())
        .collect();
    assert_eq!(ids, vec![14, 13, 12, 11, 10]);
}

#[test]
fn t1_responses_stay_on_their_connection() {
    let mut a = conn(Config::default());
    let mut b = conn(Config::default());
    a.handle_read(ms(0), &frame(&query(1, false)));
    b.handle_read(ms(0), &frame(&query(2, false)));
    let (ta, qa) = queries(&events(&mut a)).remove(0);
    let (tb, _) = queries(&events(&mut b)).remove(0);
    a.respond(ms(1), ta, &answer_bytes(&qa, false)).unwrap();
    assert!(b.poll_transmit().is_none());
    assert_eq!(msg(&split(&drain(&mut a, ms(1)))[0]).id(), 1);
    assert!(b.is_pending(tb));
}

#[test]
fn f2_query_split_byte_by_byte() {
    let mut c = conn(Config::default());
    let stream = frames(&[query(7, true), query(8, false)]);
    let mut got = Vec::new();
    for (i, byte) in stream.iter().enumerate() {
        assert_eq!(c.handle_read(ms(i as u64), core::slice::from_ref(byte)), 1);
        got.extend(queries(&events(&mut c)));
    }
    assert_eq!(got.len(), 2);
    assert_eq!(msg(&got[0].1).id(), 7);
    assert_eq!(msg(&got[1].1).id(), 8);
}

#[test]
fn s8_pending_cap_stops_reads_and_resumes() {
    let mut c = conn(small(2));
    let qs: Vec<_> = (0..5).map(|i| query(i, false)).collect();
    c.handle_read(ms(0), &frames(&qs));
    let first = queries(&events(&mut c));
    assert_eq!(first.len(), 2);
    assert!(!c.intent().read);
    assert!(c.read_buf().is_empty());
    assert_eq!(c.handle_read(ms(0), &frame(&query(99, false))), 0);
    c.respond(ms(1), first[0].0, &answer_bytes(&first[0].1, false))
        .unwrap();
    let next = queries(&events(&mut c));
    assert_eq!(next.len(), 1);
    assert_eq!(msg(&next[0].1).id(), 2);
    assert!(!c.intent().read);
    let mut rest = vec![first[1].clone(), next[0].clone()];
    let mut total = 3;
    while let Some((t, q)) = rest.pop() {
        c.respond(ms(2), t, &answer_bytes(&q, false)).unwrap();
        let more = queries(&events(&mut c));
        total += more.len();
        rest.extend(more);
    }
    assert_eq!(total, 5);
    assert!(c.intent().read);
    assert!(!c.read_buf().is_empty());
    assert_eq!(split(&drain(&mut c, ms(3))).len(), 5);
}

// ---- EOF, reset ------------------------------------------------------------------

#[test]
fn s9_half_close_answers_pending_then_closes() {
    let mut c = conn(small(2));
    let qs: Vec<_> = (0..4).map(|i| query(i, false)).collect();
    c.handle_read(ms(0), &frames(&qs));
    let mut pending = queries(&events(&mut c));
    c.handle_peer_closed(ms(1));
    assert!(!c.intent().close && !c.intent().read && !c.intent().shutdown_write);
    let mut answered = 0;
    while let Some((t, q)) = pending.pop() {
        c.respond(ms(2), t, &answer_bytes(&q, false)).unwrap();
        answered += 1;
        pending.extend(queries(&events(&mut c)));
    }
    assert_eq!(answered, 4, "buffered queries are answered too");
    assert!(!c.intent().close, "not before the output is written");
    assert_eq!(split(&drain(&mut c, ms(3))).len(), 4);
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::PeerClosed)
    );
    assert!(c.intent().close);
    assert!(events(&mut c).is_empty(), "Closed is reported once");
}

#[test]
fn s14_drop_on_eof_mode() {
    let mut cfg = Config::default();
    cfg.on_eof = OnEof::DropPending;
    let mut c = conn(cfg);
    c.handle_read(ms(0), &frames(&[query(1, false), query(2, false)]));
    let qs = queries(&events(&mut c));
    c.respond(ms(0), qs[0].0, &answer_bytes(&qs[0].1, false))
        .unwrap();
    c.handle_peer_closed(ms(1));
    let evs = events(&mut c);
    assert_eq!(evs[0], Ev::Dropped(qs[1].0));
    assert_eq!(
        c.respond(ms(1), qs[1].0, &answer_bytes(&qs[1].1, false)),
        Err(RespondError::Closed)
    );
    // What was already queued is flushed, then the connection closes.
    assert_eq!(split(&drain(&mut c, ms(2))).len(), 1);
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::PeerClosed)
    );
}

#[test]
fn s5_reset_drops_pending_and_sends_nothing() {
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frames(&[query(1, false), query(2, false)]));
    let qs = queries(&events(&mut c));
    c.respond(ms(0), qs[0].0, &answer_bytes(&qs[0].1, false))
        .unwrap();
    assert!(c.poll_transmit().is_some());
    c.handle_reset(ms(1));
    assert!(c.poll_transmit().is_none());
    assert_eq!(
        events(&mut c),
        vec![Ev::Dropped(qs[1].0), Ev::Closed(CloseReason::Reset)]
    );
    assert_eq!(
        c.respond(ms(2), qs[1].0, &answer_bytes(&qs[1].1, false)),
        Err(RespondError::Closed)
    );
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.intent(), dnstcp::intent::Intent::CLOSE);
    assert_eq!(c.poll_timeout(), None);
}

// ---- timers ------------------------------------------------------------------------

fn timers() -> Config {
    let mut c = Config::default();
    c.initial_timeout = Duration::from_secs(3);
    c.idle_timeout = Duration::from_secs(1);
    c.io_timeout = Duration::from_millis(500);
    c.write_timeout = Duration::from_secs(4);
    c
}

#[test]
fn s12_initial_timeout_until_first_query() {
    let mut c = conn(timers());
    assert_eq!(c.poll_timeout(), Some(ms(3000)));
    c.handle_timeout(ms(2999));
    assert!(!c.is_closed(), "safe to call early");
    c.handle_timeout(ms(3000));
    c.handle_timeout(ms(3000));
    assert_eq!(
        events(&mut c),
        vec![Ev::Closed(CloseReason::InitialTimeout)]
    );
}

#[test]
fn s13_idle_runs_only_when_idle_and_partial_bytes_never_extend_it() {
    let mut cfg = timers();
    cfg.io_timeout = Duration::from_secs(30);
    let mut c = conn(cfg);
    c.handle_read(ms(100), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    // Pending: only the write/read timers could run, no idle timer.
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(ms(5000));
    assert!(!c.is_closed());
    c.respond(ms(5000), t, &answer_bytes(&q, false)).unwrap();
    assert_eq!(c.poll_timeout(), Some(ms(9000)), "write deadline only");
    drain(&mut c, ms(5200));
    assert_eq!(c.poll_timeout(), Some(ms(6200)), "idle from the last write");
    // Partial bytes do not restart it.
    let f = frame(&query(2, false));
    c.handle_read(ms(6000), &f[..5]);
    assert!(events(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(ms(6200)));
    c.handle_timeout(ms(6200));
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::IdleTimeout)]);
}

#[test]
fn s4_idle_restarted_by_complete_message() {
    let mut c = conn(timers());
    c.handle_read(ms(0), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    c.respond(ms(0), t, &answer_bytes(&q, false)).unwrap();
    drain(&mut c, ms(0));
    assert_eq!(c.poll_timeout(), Some(ms(1000)));
    c.handle_read(ms(900), &frame(&query(2, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    c.respond(ms(900), t, &answer_bytes(&q, false)).unwrap();
    drain(&mut c, ms(950));
    assert_eq!(c.poll_timeout(), Some(ms(1950)));
}

#[test]
fn s12_slowloris_read_deadline() {
    let mut cfg = timers();
    cfg.idle_timeout = Duration::from_secs(60);
    let mut c = conn(cfg);
    c.handle_read(ms(0), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    c.respond(ms(0), t, &answer_bytes(&q, false)).unwrap();
    drain(&mut c, ms(0));
    let f = frame(&query(2, false));
    for i in 0..5u64 {
        c.handle_read(ms(1000 + i * 100), &f[i as usize..i as usize + 1]);
        assert!(events(&mut c).is_empty());
    }
    assert_eq!(
        c.poll_timeout(),
        Some(ms(1500)),
        "deadline from the frame's first byte"
    );
    c.handle_timeout(ms(1500));
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::ReadTimeout)]);
}

#[test]
fn s16_write_deadline_closes_a_client_that_never_reads() {
    let mut c = conn_with(timers(), 4096, 2048);
    let qs: Vec<_> = (0..40).map(|i| query(i, false)).collect();
    let stream = frames(&qs);
    let mut fed = 0;
    let mut answered = 0;
    for _ in 0..50 {
        fed += c.handle_read(ms(10), &stream[fed..]);
        while let Some(r) = c.answer_next(ms(10), |q, out| answer_into(q, out, false)) {
            r.unwrap();
            answered += 1;
        }
    }
    assert!(answered < 40, "output is bounded by the transmit buffer");
    assert!(
        !c.intent().read,
        "a client that never reads stops being read from"
    );
    assert_eq!(c.poll_timeout(), Some(ms(4010)));
    c.advance_transmit(ms(3000), 10);
    assert_eq!(
        c.poll_timeout(),
        Some(ms(7000)),
        "progress restarts the write deadline"
    );
    c.handle_timeout(ms(7000));
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::WriteTimeout)
    );
    assert!(c.poll_transmit().is_none());
}

#[test]
fn s7_max_transactions_close_gracefully() {
    let mut cfg = Config::default();
    cfg.max_queries = Some(3);
    let mut c = conn(cfg);
    let qs: Vec<_> = (0..5).map(|i| query(i, true)).collect();
    c.handle_read(ms(0), &frames(&qs));
    let got = queries(&events(&mut c));
    assert_eq!(got.len(), 3);
    assert!(!c.intent().read);
    assert_eq!(c.keepalive_units(), 0, "winding down: keepalive 0");
    for (t, q) in &got {
        c.respond(ms(1), *t, &answer_bytes(q, true)).unwrap();
    }
    let out = split(&drain(&mut c, ms(2)));
    assert_eq!(out.len(), 3);
    let ka = msg(&out[0]).opt().unwrap().unwrap().keepalive();
    assert_eq!(ka, Some(Some(0)));
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::MaxQueries)
    );
}

#[test]
fn s7_lifetime_closes_gracefully() {
    let mut cfg = Config::default();
    cfg.max_lifetime = Some(Duration::from_secs(5));
    let mut c = conn(cfg);
    c.handle_read(ms(4000), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    assert_eq!(c.poll_timeout(), Some(ms(5000)));
    c.handle_timeout(ms(5000));
    assert!(!c.is_closed() && !c.intent().read);
    c.respond(ms(5100), t, &answer_bytes(&q, false)).unwrap();
    assert_eq!(split(&drain(&mut c, ms(5200))).len(), 1);
    assert_eq!(closed_reason(&events(&mut c)), Some(CloseReason::Lifetime));
}

// ---- malformed input ---------------------------------------------------------------

fn only_answer(c: &mut Conn) -> Vec<u8> {
    let out = split(&drain(c, ms(1)));
    assert_eq!(out.len(), 1, "exactly one machine answer");
    out.into_iter().next().unwrap()
}

#[test]
fn s11_formerr_echoes_question_only_when_it_parses() {
    // Two OPT records: the question parses and is echoed.
    let mut buf = vec![0u8; 512];
    let n = name("x.test");
    let mut b = Builder::new(&mut buf, 0x4242);
    b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
    b.push_opt(1232, 0, 0, false, |_| Ok(())).unwrap();
    b.push_opt(1232, 0, 0, false, |_| Ok(())).unwrap();
    let len = b.finish();
    let two_opt = buf[..len].to_vec();
    // Broken question: a label running past the end.
    let mut broken = query(0x4343, false);
    broken.truncate(16);
    broken[12] = 40;
    // Trailing data.
    let mut trailing = query(0x4444, false);
    trailing.extend_from_slice(&[1, 2, 3]);

    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frame(&two_opt));
    assert!(events(&mut c).is_empty(), "not surfaced as a query");
    let r = only_answer(&mut c);
    let m = msg(&r);
    assert_eq!((m.id(), m.rcode(), m.qr()), (0x4242, Rcode::FormErr, true));
    assert_eq!(m.header().qdcount(), 1);

    c.handle_read(ms(1), &frame(&broken));
    assert!(events(&mut c).is_empty());
    let r = only_answer(&mut c);
    let m = msg(&r);
    assert_eq!(
        (m.id(), m.rcode(), m.header().qdcount()),
        (0x4343, Rcode::FormErr, 0)
    );

    c.handle_read(ms(2), &frame(&trailing));
    assert!(events(&mut c).is_empty());
    assert_eq!(msg(&only_answer(&mut c)).rcode(), Rcode::FormErr);
    assert_eq!(c.stats().formerr, 3);
    assert!(c.intent().read, "the connection stays usable");
}

#[test]
fn e1_edns_version_above_zero_gets_badvers() {
    let mut buf = vec![0u8; 512];
    let n = name("x.test");
    let mut b = Builder::new(&mut buf, 5);
    b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
    b.push_opt(1232, 0, 1, false, |_| Ok(())).unwrap();
    let len = b.finish();
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frame(&buf[..len]));
    assert!(events(&mut c).is_empty());
    let r = only_answer(&mut c);
    let m = msg(&r);
    assert_eq!(m.rcode(), Rcode::BadVers);
    assert_eq!(m.opt().unwrap().unwrap().version(), 0);
    assert_eq!(c.stats().badvers, 1);
}

#[test]
fn s11_other_opcodes_get_notimp_unless_passed() {
    let mut notify = query(9, false);
    let mut h = msg(&notify).header();
    h.set_opcode(Opcode::Notify);
    h.write_to(&mut notify);
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frame(&notify));
    assert!(events(&mut c).is_empty());
    let r = only_answer(&mut c);
    assert_eq!(
        (msg(&r).rcode(), msg(&r).opcode()),
        (Rcode::NotImp, Opcode::Notify)
    );

    let mut cfg = Config::default();
    cfg.pass_other_opcodes = true;
    let mut c = conn(cfg);
    c.handle_read(ms(0), &frame(&notify));
    assert_eq!(queries(&events(&mut c)).len(), 1);
}

#[test]
fn s15_qr_never_answered_and_repeats_close() {
    let mut resp = query(1, false);
    resp[2] |= 0x80;
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frames(&[resp.clone(), query(2, false)]));
    let evs = events(&mut c);
    assert_eq!(queries(&evs).len(), 1);
    assert!(c.poll_transmit().is_none(), "no FORMERR to a response");
    c.handle_read(ms(1), &frames(&[resp.clone(), resp.clone(), resp.clone()]));
    let evs = events(&mut c);
    assert!(evs.iter().any(|e| matches!(e, Ev::Dropped(_))));
    assert_eq!(closed_reason(&evs), Some(CloseReason::TooManyResponses));
    assert_eq!(c.stats().qr_ignored, 4);
}

#[test]
fn f3_short_length_closes_after_flushing_queued_output() {
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    c.respond(ms(0), t, &answer_bytes(&q, false)).unwrap();
    c.handle_read(ms(1), &[0, 5, 1, 2, 3, 4, 5]);
    let evs = events(&mut c);
    assert!(
        closed_reason(&evs).is_none(),
        "not before the flush: {evs:?}"
    );
    assert!(!c.intent().read);
    assert_eq!(
        split(&drain(&mut c, ms(2))).len(),
        1,
        "queued answer still flushed"
    );
    let evs = events(&mut c);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::BadFrame(
            dnstcp::frame::FrameError::TooShort { .. }
        )) | Some(CloseReason::BadFrame(_))
    ));
    // A zero length is F3 too.
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &[0, 0]);
    assert!(matches!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::BadFrame(_))
    ));
}

#[test]
fn f5_http_on_port_53_is_ended_by_the_read_deadline() {
    let mut c = conn(timers());
    c.handle_read(ms(0), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let _ = events(&mut c);
    // Read as an 18245-byte frame: over the buffer, so skipped (F4), and the
    // per-message deadline bounds the wait for its body (F5, S12).
    assert_eq!(c.poll_timeout(), Some(ms(500)));
    c.handle_timeout(ms(500));
    assert_eq!(
        split(&drain(&mut c, ms(500))).len(),
        1,
        "FORMERR for the bogus ID"
    );
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::ReadTimeout)
    );
}

#[test]
fn f4_oversized_query_gets_formerr_and_stream_stays_in_sync() {
    let mut c = conn_with(Config::default(), 128, 4096);
    let mut big = vec![0u8; 300];
    big[..2].copy_from_slice(&0x7777u16.to_be_bytes());
    let mut stream = frame(&big);
    stream.extend(frame(&query(8, false)));
    let mut fed = 0;
    let mut got = Vec::new();
    while fed < stream.len() {
        let n = c.handle_read(ms(0), &stream[fed..]);
        assert!(n > 0);
        fed += n;
        got.extend(queries(&events(&mut c)));
    }
    assert_eq!(got.len(), 1);
    assert_eq!(msg(&got[0].1).id(), 8);
    let r = only_answer(&mut c);
    assert_eq!((msg(&r).id(), msg(&r).rcode()), (0x7777, Rcode::FormErr));
    assert_eq!(c.stats().oversized, 1);

    let mut cfg = Config::default();
    cfg.oversize = Oversize::Close;
    let mut c = conn_with(cfg, 128, 4096);
    c.handle_read(ms(0), &stream[..10]);
    assert!(matches!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::BadFrame(_))
    ));
}

// ---- responses ---------------------------------------------------------------------

fn keepalive_of(m: &[u8]) -> Option<Option<u16>> {
    let m = msg(m);
    m.check().unwrap();
    m.opt().unwrap().and_then(|o| o.keepalive())
}

#[test]
fn e2_keepalive_carries_current_timeout() {
    let mut c = conn(Config::default());
    c.handle_read(
        ms(0),
        &frames(&[
            query(1, true),
            query(2, true),
            query(3, false),
            query(4, true),
        ]),
    );
    let qs = queries(&events(&mut c));
    // The caller echoes the client's empty option: it is replaced by the value.
    c.respond(ms(1), qs[0].0, &answer_bytes(&qs[0].1, true))
        .unwrap();
    c.set_idle_timeout(Duration::from_millis(2599));
    // No OPT in the response to an EDNS query: one is added.
    c.respond(ms(1), qs[1].0, &answer_bytes(&qs[1].1, false))
        .unwrap();
    // No OPT in the query: nothing added.
    c.respond(ms(1), qs[2].0, &answer_bytes(&qs[2].1, false))
        .unwrap();
    // Zero-copy path.
    let buf = c.response_buf(qs[3].0).unwrap();
    let n = answer_into(&msg(&qs[3].1), buf, true);
    c.commit_response(ms(1), qs[3].0, n).unwrap();
    let out = split(&drain(&mut c, ms(2)));
    assert_eq!(keepalive_of(&out[0]), Some(Some(100)));
    assert_eq!(keepalive_of(&out[1]), Some(Some(25)));
    assert_eq!(keepalive_of(&out[2]), None);
    assert_eq!(keepalive_of(&out[3]), Some(Some(25)));
    assert_eq!(c.keepalive_units(), 25);
    assert_eq!(c.stats().keepalive, 3);
}

#[test]
fn s2_zero_copy_commit_and_stale_lend() {
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frames(&[query(1, false), query(2, false)]));
    let qs = queries(&events(&mut c));
    let buf = c.response_buf(qs[0].0).unwrap();
    let n = answer_into(&msg(&qs[0].1), buf, false);
    assert_eq!(
        c.commit_response(ms(0), qs[1].0, n),
        Err(RespondError::NotLent)
    );
    c.commit_response(ms(0), qs[0].0, n).unwrap();
    let buf = c.response_buf(qs[1].0).unwrap();
    let n = answer_into(&msg(&qs[1].1), buf, false);
    let mut out = c.poll_transmit().unwrap()[..3].to_vec();
    c.advance_transmit(ms(1), 3);
    assert_eq!(
        c.commit_response(ms(1), qs[1].0, n),
        Err(RespondError::NotLent)
    );
    let buf = c.response_buf(qs[1].0).unwrap();
    let n = answer_into(&msg(&qs[1].1), buf, false);
    c.commit_response(ms(1), qs[1].0, n).unwrap();
    out.extend(drain(&mut c, ms(2)));
    let ids: Vec<_> = split(&out).iter().map(|m| msg(m).id()).collect();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn s2_response_too_big_becomes_tc() {
    let mut c = conn_with(Config::default(), 1024, 600);
    c.handle_read(ms(0), &frame(&query(0x1111, true)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    // A 2000-byte answer: many A records.
    let m = msg(&q);
    let mut big = vec![0u8; 4096];
    let mut b = Builder::response_to(&mut big, &m);
    b.header_mut().set_aa(true);
    let n = name("www.example.test");
    for i in 0..150u8 {
        b.answer(&n.as_name(), 60, &RData::A([10, 0, 0, i].into()))
            .unwrap();
    }
    let len = b.finish();
    assert!(len > c.max_response_len());
    c.respond(ms(1), t, &big[..len]).unwrap();
    let out = split(&drain(&mut c, ms(1)));
    let r = msg(&out[0]);
    assert!(r.tc() && r.aa() && r.qr());
    assert_eq!(r.id(), 0x1111);
    assert_eq!(r.first_question().unwrap().unwrap().qtype, Rtype::A);
    assert_eq!(r.answers().unwrap().count(), 0);
    assert_eq!(keepalive_of(&out[0]), Some(Some(100)));
    assert_eq!(c.stats().truncated, 1);
}

#[test]
fn s2_would_block_then_retry_after_drain() {
    let mut c = conn_with(Config::default(), 1024, 700);
    c.handle_read(ms(0), &frames(&[query(1, false), query(2, false)]));
    let qs = queries(&events(&mut c));
    let pad = |q: &[u8]| {
        let mut b = answer_bytes(q, false);
        // Grow to ~400 bytes with a TXT-ish unknown record.
        let mut buf = vec![0u8; 1024];
        let m = msg(q);
        let mut bb = Builder::response_to(&mut buf, &m);
        bb.push_raw(
            dnstcp::wire::Section::Answer,
            &name("www.example.test").as_name(),
            Rtype::Unknown(65000),
            Class::In,
            0,
            &[0u8; 360],
        )
        .unwrap();
        let n = bb.finish();
        b.clear();
        b.extend_from_slice(&buf[..n]);
        b
    };
    c.respond(ms(0), qs[0].0, &pad(&qs[0].1)).unwrap();
    assert_eq!(
        c.respond(ms(0), qs[1].0, &pad(&qs[1].1)),
        Err(RespondError::WouldBlock)
    );
    assert!(c.is_pending(qs[1].0));
    drain(&mut c, ms(1));
    c.respond(ms(1), qs[1].0, &pad(&qs[1].1)).unwrap();
    assert_eq!(msg(&split(&drain(&mut c, ms(2)))[0]).id(), 2);
}

#[test]
fn x1_multi_message_token() {
    let mut c = conn(Config::default());
    c.handle_read(
        ms(0),
        &frame(&query_t(3, "example.test", Rtype::Axfr, false)),
    );
    let (t, q) = queries(&events(&mut c)).remove(0);
    for _ in 0..3 {
        c.respond_part(ms(1), t, &answer_bytes(&q, false)).unwrap();
        assert!(c.is_pending(t));
    }
    let buf = c.response_buf(t).unwrap();
    let n = answer_into(&msg(&q), buf, false);
    c.commit_part(ms(1), t, n).unwrap();
    c.finish(ms(1), t).unwrap();
    assert!(!c.is_pending(t));
    assert_eq!(c.finish(ms(1), t), Err(RespondError::UnknownToken));
    let out = split(&drain(&mut c, ms(2)));
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|m| msg(m).id() == 3));
}

fn soa_answer(q: &Message<'_>, out: &mut [u8]) -> usize {
    let zone = name("example.test");
    let mut b = Builder::response_to(out, q);
    let soa = RData::Soa {
        mname: zone.as_name(),
        rname: zone.as_name(),
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
    };
    b.answer(&zone.as_name(), 60, &soa).unwrap();
    b.finish()
}

#[test]
fn s10_soa_then_axfr_on_one_connection() {
    let mut c = conn(timers());
    c.handle_read(
        ms(0),
        &frame(&query_t(1, "example.test", Rtype::Soa, false)),
    );
    assert_eq!(
        c.answer_next(ms(0), soa_answer)
            .unwrap()
            .unwrap()
            .sequence(),
        0
    );
    drain(&mut c, ms(10));
    c.handle_read(
        ms(500),
        &frame(&query_t(2, "example.test", Rtype::Axfr, false)),
    );
    let (t, q) = queries(&events(&mut c)).remove(0);
    let mut part = vec![0u8; 512];
    let n = soa_answer(&msg(&q), &mut part);
    c.respond_part(ms(600), t, &part[..n]).unwrap();
    c.respond_part(ms(600), t, &answer_bytes(&q, false))
        .unwrap();
    c.respond_part(ms(600), t, &part[..n]).unwrap();
    c.finish(ms(600), t).unwrap();
    let out = split(&drain(&mut c, ms(700)));
    assert_eq!(out.len(), 3);
    assert!(!c.is_closed() && c.intent().read);
    assert_eq!(c.poll_timeout(), Some(ms(1700)));
}

#[test]
fn answer_next_defers_and_rejects_bad_lengths() {
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frames(&[query(1, false), query(2, false)]));
    let t = c.answer_next(ms(0), |_, _| 0).unwrap().unwrap();
    assert!(c.is_pending(t));
    assert_eq!(
        c.answer_next(ms(0), |_, _| 5),
        Some(Err(RespondError::Invalid))
    );
    assert!(c.answer_next(ms(0), |_, _| 0).is_none());
    assert_eq!(c.pending(), 2);
    c.respond(ms(0), t, &answer_bytes(&query(1, false), false))
        .unwrap();
    assert_eq!(
        c.respond(ms(0), t, &[0; 4]),
        Err(RespondError::UnknownToken)
    );
}

// ---- limits --------------------------------------------------------------------------

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limits_cfg() -> LimitsConfig {
    let mut l = LimitsConfig::default();
    l.max_conns = 4;
    l.max_conns_per_addr = 2;
    l.high_water = 4;
    l.idle_timeout = Duration::from_secs(10);
    l
}

#[test]
fn s3_dynamic_idle_timeout_shrinks_to_zero_at_high_water() {
    let mut l = Limits::<8, 8>::new(limits_cfg());
    assert_eq!(l.idle_timeout(), Duration::from_secs(10));
    let mut tickets = Vec::new();
    let expect = [7500, 5000, 2500, 0];
    for (i, e) in expect.iter().enumerate() {
        tickets.push(l.accept(ip(&format!("192.0.2.{i}")), ms(0)).unwrap());
        assert_eq!(l.idle_timeout(), Duration::from_millis(*e));
    }
    // A live connection takes the new value: zero closes it once idle.
    let mut c = conn(Config::default());
    c.handle_read(ms(0), &frame(&query(1, false)));
    let (t, q) = queries(&events(&mut c)).remove(0);
    c.respond(ms(0), t, &answer_bytes(&q, false)).unwrap();
    drain(&mut c, ms(100));
    c.set_idle_timeout(l.idle_timeout());
    assert_eq!(c.poll_timeout(), Some(ms(100)));
    c.handle_timeout(ms(100));
    assert_eq!(
        closed_reason(&events(&mut c)),
        Some(CloseReason::IdleTimeout)
    );
    for t in tickets {
        assert!(l.release(t));
    }
    assert!(l.is_balanced());
    assert_eq!(l.idle_timeout(), Duration::from_secs(10));
}

#[test]
fn s6_per_address_and_total_limits_refuse() {
    let mut l = Limits::<2, 8>::new(limits_cfg());
    let a = l.accept(ip("192.0.2.1"), ms(0)).unwrap();
    let b = l.accept(ip("192.0.2.1"), ms(0)).unwrap();
    assert_eq!(l.accept(ip("192.0.2.1"), ms(0)), Err(Refusal::AddressLimit));
    let c = l.accept(ip("192.0.2.2"), ms(0)).unwrap();
    assert_eq!(l.accept(ip("192.0.2.3"), ms(0)), Err(Refusal::TableFull));
    let d = l.accept(ip("192.0.2.2"), ms(0)).unwrap();
    assert_eq!(
        l.accept(ip("192.0.2.9"), ms(0)),
        Err(Refusal::TotalLimit { evict: None })
    );
    assert_eq!(l.live(), 4);
    for t in [a, b, c, d] {
        assert!(l.release(t));
    }
    assert!(l.is_balanced() && l.live() == 0);
}

#[test]
fn s6_ipv6_slash64_shares_a_budget_and_mapped_v4_is_v4() {
    let mut l = Limits::<8, 8>::new(limits_cfg());
    let a = l.accept(ip("2001:db8:1:2::1"), ms(0)).unwrap();
    let b = l.accept(ip("2001:db8:1:2:ffff::9"), ms(0)).unwrap();
    assert_eq!(
        l.accept(ip("2001:db8:1:2::77"), ms(0)),
        Err(Refusal::AddressLimit)
    );
    let c = l.accept(ip("2001:db8:1:3::1"), ms(0)).unwrap();
    let d = l.accept(ip("198.51.100.7"), ms(0)).unwrap();
    assert_eq!(l.live_for(ip("::ffff:198.51.100.7")), 1);
    for t in [a, b, c, d] {
        l.release(t);
    }
    assert!(l.is_balanced());
}

#[test]
fn s7_eviction_names_the_idlest() {
    let mut cfg = limits_cfg();
    cfg.evict_idlest = true;
    let mut l = Limits::<8, 8>::new(cfg);
    let ts: Vec<_> = (0..4)
        .map(|i| l.accept(ip(&format!("192.0.2.{i}")), ms(i)).unwrap())
        .collect();
    l.touch(&ts[0], ms(100));
    match l.accept(ip("192.0.2.50"), ms(200)) {
        Err(Refusal::TotalLimit { evict: Some(id) }) => assert_eq!(id, ts[1].id()),
        other => panic!("{other:?}"),
    }
    let mut ts = ts;
    let victim = ts.remove(1);
    assert!(l.release(victim));
    ts.push(l.accept(ip("192.0.2.50"), ms(200)).unwrap());
    for t in ts {
        l.release(t);
    }
    assert!(l.is_balanced());
}

#[test]
fn s7_ticket_balance_across_close_reset_refuse() {
    let mut l = Limits::<4, 4>::new(limits_cfg());
    for round in 0..20u64 {
        let t = match l.accept(ip("203.0.113.5"), ms(round)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let mut cfg = Config::default();
        l.apply(&mut cfg);
        let mut c = conn(cfg);
        c.handle_read(ms(round), &frame(&query(1, false)));
        let _ = events(&mut c);
        match round % 3 {
            0 => c.handle_reset(ms(round)),
            1 => c.handle_peer_closed(ms(round)),
            _ => {}
        }
        // Every exit path releases: refused peers never got a ticket.
        let _ = l.accept(ip("203.0.113.5"), ms(round)).map(|x| l.release(x));
        assert!(l.release(t));
        assert!(l.is_balanced());
    }
    assert_eq!(l.live(), 0);
}

// ---- allocation ----------------------------------------------------------------------

#[test]
fn steady_state_serving_allocates_nothing() {
    let stream = frames(&(0..20).map(|i| query(i, true)).collect::<Vec<_>>());
    let mut c: Connection<[u8; 4096], 8> =
        Connection::new(Config::default(), [0u8; 4096], [0u8; 4096], ms(0));
    assert_no_alloc("serve", || {
        let mut now = 0u64;
        for _round in 0..10 {
            let mut fed = 0;
            while fed < stream.len() {
                now += 1;
                let buf = c.read_buf();
                let n = buf.len().min(stream.len() - fed);
                buf[..n].copy_from_slice(&stream[fed..fed + n]);
                c.commit_read(ms(now), n);
                fed += n;
                while let Some(r) = c.answer_next(ms(now), |q, out| answer_into(q, out, true)) {
                    assert!(r.is_ok());
                }
                let w = c.poll_transmit().map_or(0, <[u8]>::len);
                c.advance_transmit(ms(now), w);
                c.handle_timeout(ms(now));
            }
        }
        assert_eq!(c.stats().responses, 200);
    });
}

// ---- fuzz corpus ---------------------------------------------------------------------

#[test]
fn server_ops_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/server_ops");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        dnstcp::_fuzz::server_ops(&data);
        n += 1;
    }
    assert!(n >= 4);
    // DNSTCP_SERVER_OPS_ITERS raises the count for a longer local soak.
    let iters: u32 = std::env::var("DNSTCP_SERVER_OPS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for seed in 0..iters {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let len = 64 + (seed as usize % 7) * 128;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        dnstcp::_fuzz::server_ops(&data);
    }
}

/// S13: the buffers are handed out (`idle_storage`) exactly when the connection is
/// idle in the RFC 7766 §3 sense and holds no partial input, and their content is
/// never needed again: after wiping both, the next queries are answered exactly as
/// on a connection that never gave its storage up.
#[test]
fn s13_idle_storage_only_when_idle_and_content_never_needed() {
    let mut c = conn(Config::default());
    let mut twin = conn(Config::default());
    assert!(c.idle_storage().is_some(), "fresh connection");
    let wipe = |c: &mut Conn| {
        let (rx, tx) = c.idle_storage().expect("idle");
        rx.fill(0xAA);
        tx.fill(0x55);
    };
    for round in 0..3u16 {
        let q = frames(&[query(10 * round, true), query(10 * round + 1, false)]);
        // A partial frame: not idle.
        c.handle_read(ms(1), &q[..5]);
        twin.handle_read(ms(1), &q[..5]);
        assert!(c.idle_storage().is_none(), "partial input");
        c.handle_read(ms(1), &q[5..]);
        twin.handle_read(ms(1), &q[5..]);
        // Queries handed out but unanswered: not idle.
        let (qs, qt) = (queries(&events(&mut c)), queries(&events(&mut twin)));
        assert_eq!(qs.len(), 2);
        assert!(c.idle_storage().is_none(), "pending queries");
        for ((tok, q), (tt, _)) in qs.iter().zip(&qt) {
            let a = answer_bytes(q, Message::new(q).unwrap().opt().unwrap().is_some());
            c.respond(ms(2), *tok, &a).unwrap();
            twin.respond(ms(2), *tt, &a).unwrap();
        }
        // Answered but not yet written: not idle.
        assert!(c.idle_storage().is_none(), "unsent output");
        let (out, out_twin) = (drain(&mut c, ms(3)), drain(&mut twin, ms(3)));
        assert_eq!(out, out_twin, "round {round}");
        assert_eq!(split(&out).len(), 2);
        // Idle: the storage may be wiped (or freed and allocated again).
        wipe(&mut c);
    }
    // An oversized frame being skipped is partial input too.
    let mut cfg = Config::default();
    cfg.oversize = Oversize::Discard;
    let mut c = conn_with(cfg, 64, 1024);
    let mut big = 100u16.to_be_bytes().to_vec();
    big.extend_from_slice(&[0u8; 30]);
    c.handle_read(ms(1), &big);
    let _ = events(&mut c);
    assert!(c.idle_storage().is_none(), "skipping an oversized frame");
}
