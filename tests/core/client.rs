//! Tests: the client connection machine (CHECKLIST C1–C13, T2, T3, E2, X1, F4),
//! driven by hand-written server byte streams built with `wire::Builder`.

use core::time::Duration;

use dnstcp::client::{
    CloseReason, Config, Connection, Event, FailReason, Handle, QueryOptions, Retry, RetryDecision,
    RetryPolicy, SendError,
};
use dnstcp::time::Instant;
use dnstcp::wire::{Builder, Class, Message, NameBuf, RData, Rcode, Rtype, Section};

use crate::common::alloc::assert_no_alloc;

type Conn<const N: usize = 16> = Connection<Vec<u8>, N>;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn name(s: &str) -> NameBuf {
    s.parse().unwrap()
}

fn conn<const N: usize>(config: Config) -> Conn<N> {
    Connection::new(config, vec![0; 4096], vec![0; 32 * 1024], 0x5eed, t(0))
}

fn ask<const N: usize>(c: &mut Conn<N>, now: u64, qname: &str, qtype: Rtype) -> Handle {
    c.send_question(
        t(now),
        &name(qname).as_name(),
        qtype,
        Class::In,
        QueryOptions::default(),
    )
    .unwrap()
}

/// Writes everything queued and splits it into query messages.
fn flush<const N: usize>(c: &mut Conn<N>, now: u64) -> Vec<Vec<u8>> {
    let data = c.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
    c.advance_transmit(t(now), data.len());
    split(&data)
}

fn split(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        out.push(data[2..2 + len].to_vec());
        data = &data[2 + len..];
    }
    assert!(data.is_empty());
    out
}

/// A framed response. `question`: the question to echo (None: none);
/// `answers`: A records (or SOA) for the answer section.
struct Resp<'a> {
    id: u16,
    question: Option<(&'a str, Rtype)>,
    rcode: Rcode,
    qr: bool,
    tc: bool,
    keepalive: Option<u16>,
    answers: &'a [Rtype],
    pad: usize,
}

impl Default for Resp<'_> {
    fn default() -> Self {
        Resp {
            id: 0,
            question: None,
            rcode: Rcode::NoError,
            qr: true,
            tc: false,
            keepalive: None,
            answers: &[Rtype::A],
            pad: 0,
        }
    }
}

impl Resp<'_> {
    fn build(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 70_000];
        let len = {
            let mut b = Builder::new(&mut buf[2..], self.id);
            b.header_mut().set_qr(self.qr);
            b.header_mut().set_tc(self.tc);
            b.set_rcode(self.rcode);
            let owner = name(self.question.map_or("x.test", |q| q.0));
            if let Some((n, qt)) = self.question {
                b.push_question(&name(n).as_name(), qt, Class::In).unwrap();
            }
            for rt in self.answers {
                let data: &[u8] = match rt {
                    Rtype::Soa => &[
                        0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
                    ],
                    _ => &[192, 0, 2, 1],
                };
                b.push_raw(Section::Answer, &owner.as_name(), *rt, Class::In, 60, data)
                    .unwrap();
            }
            if self.pad > 0 {
                let txt = vec![0u8; self.pad];
                b.push_raw(
                    Section::Answer,
                    &owner.as_name(),
                    Rtype::Unknown(65280),
                    Class::In,
                    60,
                    &txt,
                )
                .unwrap();
            }
            if let Some(k) = self.keepalive {
                b.push_opt(1232, 0, 0, false, |w| w.keepalive(Some(k)))
                    .unwrap();
            }
            b.finish()
        };
        buf.truncate(2 + len);
        buf[..2].copy_from_slice(&(len as u16).to_be_bytes());
        buf
    }
}

/// The framed answer to a query message (same ID and question).
fn answer_to(query: &[u8]) -> Vec<u8> {
    let m = Message::new(query).unwrap();
    let q = m.first_question().unwrap().unwrap();
    let n = q.name.to_string();
    Resp {
        id: m.id(),
        question: Some((&n, q.qtype)),
        ..Resp::default()
    }
    .build()
}

#[derive(Debug, PartialEq)]
enum Ev {
    Resp(Handle, u16, Option<String>),
    Fin(Handle),
    TimedOut(Handle),
    Failed(Handle, FailReason),
    Retired,
    Closed(CloseReason),
}

fn events<const N: usize>(c: &mut Conn<N>) -> Vec<Ev> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(e) = c.poll_event() else {
            return out;
        };
        out.push(match e {
            Event::Response { handle, message } => Ev::Resp(
                handle,
                message.id(),
                message
                    .first_question()
                    .unwrap()
                    .map(|q| q.name.to_string().trim_end_matches('.').to_string()),
            ),
            Event::Finished { handle } => Ev::Fin(handle),
            Event::TimedOut { handle } => Ev::TimedOut(handle),
            Event::Failed { handle, reason } => Ev::Failed(handle, reason),
            Event::Retired => Ev::Retired,
            Event::Closed { reason } => Ev::Closed(reason),
            other => panic!("unexpected {other:?}"),
        });
    }
    panic!("poll_event never drained");
}

/// Feeds `bytes`, draining events whenever the receive buffer is full.
fn feed<const N: usize>(c: &mut Conn<N>, now: u64, mut bytes: &[u8]) -> Vec<Ev> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let n = c.handle_read(t(now), bytes);
        bytes = &bytes[n..];
        out.extend(events(c));
    }
    out.extend(events(c));
    out
}

fn resp_handles(evs: &[Ev]) -> Vec<Handle> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Resp(h, ..) => Some(*h),
            _ => None,
        })
        .collect()
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

// ---- C1, C3, C4: pipelining and matching ------------------------------------

#[test]
fn c1_c3_c4_200_pipelined_queries_answered_in_random_order() {
    let mut c: Box<Conn<256>> = Box::new(conn(Config::default()));
    let mut handles = Vec::new();
    for i in 0..200 {
        handles.push(ask(&mut c, 0, &format!("q{i}.example.test"), Rtype::A));
    }
    assert_eq!(c.in_flight(), 200);
    let queries = flush(&mut c, 0);
    assert_eq!(queries.len(), 200, "all sent without waiting (C3)");
    let mut order: Vec<usize> = (0..200).collect();
    let mut rng = Lcg(7);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() as usize) % (i + 1));
    }
    let stream: Vec<u8> = order.iter().flat_map(|&i| answer_to(&queries[i])).collect();
    let evs = feed(&mut c, 10, &stream);
    assert_eq!(evs.len(), 200);
    for (k, e) in evs.iter().enumerate() {
        let i = order[k];
        assert_eq!(
            *e,
            Ev::Resp(
                handles[i],
                Message::new(&queries[i]).unwrap().id(),
                Some(format!("q{i}.example.test"))
            )
        );
    }
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.stats().responses, 200);
}

#[test]
fn c4_wrong_question_rejected() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.test", Rtype::A);
    let id = c.query_id(h).unwrap();
    flush(&mut c, 0);
    for q in [("b.test", Rtype::A), ("a.test", Rtype::Aaaa)] {
        let wrong = Resp {
            id,
            question: Some(q),
            ..Resp::default()
        }
        .build();
        assert!(feed(&mut c, 1, &wrong).is_empty());
    }
    assert_eq!(c.stats().wrong_question, 2);
    // A NOERROR answer without a question cannot match either.
    let bare = Resp {
        id,
        ..Resp::default()
    }
    .build();
    assert!(feed(&mut c, 1, &bare).is_empty());
    assert_eq!(c.stats().wrong_question, 3);
    // The right question, in another case, matches (case-insensitive qname).
    let right = Resp {
        id,
        question: Some(("A.TeSt", Rtype::A)),
        ..Resp::default()
    }
    .build();
    assert_eq!(resp_handles(&feed(&mut c, 2, &right)), vec![h]);
}

#[test]
fn c4_formerr_without_question_matched() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.test", Rtype::A);
    let id = c.query_id(h).unwrap();
    flush(&mut c, 0);
    let formerr = Resp {
        id,
        rcode: Rcode::FormErr,
        answers: &[],
        ..Resp::default()
    }
    .build();
    assert_eq!(feed(&mut c, 1, &formerr), vec![Ev::Resp(h, id, None)]);
}

#[test]
fn c4_duplicate_response_ignored() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.test", Rtype::A);
    let q = flush(&mut c, 0);
    let a = answer_to(&q[0]);
    let evs = feed(&mut c, 1, &[a.clone(), a].concat());
    assert_eq!(resp_handles(&evs), vec![h]);
    assert_eq!(c.stats().unmatched, 1);
}

#[test]
fn c12_qr0_rejected() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.test", Rtype::A);
    let id = c.query_id(h).unwrap();
    flush(&mut c, 0);
    let query_back = Resp {
        id,
        qr: false,
        question: Some(("a.test", Rtype::A)),
        ..Resp::default()
    }
    .build();
    assert!(feed(&mut c, 1, &query_back).is_empty());
    assert_eq!(c.stats().not_response, 1);
    assert_eq!(c.in_flight(), 1);
}

#[test]
fn f2_response_split_byte_by_byte() {
    let mut c: Conn = conn(Config::default());
    let h1 = ask(&mut c, 0, "a.test", Rtype::A);
    let h2 = ask(&mut c, 0, "b.test", Rtype::A);
    let q = flush(&mut c, 0);
    let stream = [answer_to(&q[1]), answer_to(&q[0])].concat();
    let mut evs = Vec::new();
    for b in &stream {
        assert_eq!(c.handle_read(t(1), core::slice::from_ref(b)), 1);
        evs.extend(events(&mut c));
    }
    assert_eq!(resp_handles(&evs), vec![h2, h1]);
}

#[test]
fn t3_resend_tc_over_tcp_and_tc_response_is_final() {
    let mut c: Conn = conn(Config::default());
    let mut udp = vec![0u8; 512];
    let len = {
        let mut b = Builder::new(&mut udp, 0x1234);
        b.header_mut().set_rd(true);
        b.push_question(&name("big.test").as_name(), Rtype::Txt, Class::In)
            .unwrap();
        b.finish()
    };
    udp.truncate(len);
    let before = udp.clone();
    let h = c.resend_tc(t(0), &udp).unwrap();
    assert_eq!(udp, before, "the caller's bytes are untouched");
    let sent = flush(&mut c, 0);
    assert_eq!(sent.len(), 1);
    let id = c.query_id(h).unwrap();
    assert_eq!(
        Message::new(&sent[0]).unwrap().id(),
        id,
        "the machine assigned the ID"
    );
    assert_eq!(sent[0][2..], udp[2..]);
    let tc = Resp {
        id,
        tc: true,
        question: Some(("big.test", Rtype::Txt)),
        ..Resp::default()
    }
    .build();
    assert_eq!(resp_handles(&feed(&mut c, 1, &tc)), vec![h]);
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn t3_send_rejects_non_queries() {
    let mut c: Conn = conn(Config::default());
    assert!(matches!(
        c.send(t(0), &[0; 5]),
        Err(SendError::Malformed(_))
    ));
    let two = Resp {
        qr: false,
        question: Some(("a.test", Rtype::A)),
        answers: &[],
        ..Resp::default()
    }
    .build();
    let h = c.send(t(0), &two[2..]).unwrap();
    assert_eq!(c.in_flight(), 1);
    let resp = Resp {
        question: Some(("a.test", Rtype::A)),
        answers: &[],
        ..Resp::default()
    }
    .build();
    assert_eq!(c.send(t(0), &resp[2..]), Err(SendError::NotAQuery));
    let _ = h;
}

// ---- C2, C11: IDs -------------------------------------------------------------

#[test]
fn c2_no_id_collision_across_65k_sends() {
    let mut c: Box<Conn<16>> = Box::new(conn(Config::default()));
    let mut live: Vec<(Handle, u16, Vec<u8>)> = Vec::new();
    let mut rng = Lcg(99);
    let mut seen = std::collections::HashSet::new();
    for i in 0..65_536u32 {
        while live.len() < 16 {
            let h = ask(&mut c, 0, "id.test", Rtype::A);
            let id = c.query_id(h).unwrap();
            assert!(
                live.iter().all(|l| l.1 != id),
                "ID {id} reused while in flight"
            );
            seen.insert(id);
            let q = flush(&mut c, 0);
            live.push((h, id, answer_to(&q[0])));
        }
        let (h, _, a) = live.swap_remove((rng.next() as usize) % live.len());
        let _ = i;
        let evs = feed(&mut c, 0, &a);
        assert_eq!(resp_handles(&evs), vec![h]);
    }
    assert!(
        seen.len() > 40_000,
        "IDs spread over the space: {}",
        seen.len()
    );
    assert_eq!(c.stats().unmatched + c.stats().wrong_question, 0);
}

#[test]
fn c2_ids_depend_on_the_seed() {
    let ids = |seed| {
        let mut c: Conn =
            Connection::new(Config::default(), vec![0; 512], vec![0; 4096], seed, t(0));
        (0..8)
            .map(|_| {
                let h = ask(&mut c, 0, "a.test", Rtype::A);
                c.query_id(h).unwrap()
            })
            .collect::<Vec<_>>()
    };
    assert_ne!(ids(1), ids(2));
    assert_eq!(ids(3), ids(3));
}

#[test]
fn c1_slot_exhaustion_returns_typed_error() {
    let mut c: Conn<4> = conn(Config::default());
    for i in 0..4 {
        ask(&mut c, 0, &format!("{i}.test"), Rtype::A);
    }
    let queued = c.poll_transmit().unwrap().len();
    assert!(!c.can_send());
    let r = c.send_question(
        t(0),
        &name("5.test").as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    );
    assert_eq!(r, Err(SendError::Full));
    assert_eq!(c.poll_transmit().unwrap().len(), queued, "nothing queued");
    assert_eq!(c.stats().queries, 4);
    // A tx buffer that is full gives NoSpace; one that can never hold it, TooLarge.
    let mut small: Conn<4> = Connection::new(Config::default(), vec![0; 512], vec![0; 64], 1, t(0));
    ask(&mut small, 0, "a.test", Rtype::A);
    let r = small.send_question(
        t(0),
        &name("b.test").as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    );
    assert_eq!(r, Err(SendError::NoSpace));
    let long = name("a-rather-long-label-to-exceed-the-tiny-buffer.example.test");
    let r = small.send_question(
        t(0),
        &long.as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    );
    assert_eq!(r, Err(SendError::TooLarge));
}

// ---- C7, C8, C12, C13: closure and retry ----------------------------------------

#[test]
fn c7_server_closes_with_10_outstanding_then_retry_completes() {
    let mut c: Conn = conn(Config::default());
    let names: Vec<String> = (0..10).map(|i| format!("r{i}.test")).collect();
    let handles: Vec<Handle> = names.iter().map(|n| ask(&mut c, 0, n, Rtype::A)).collect();
    flush(&mut c, 0);
    c.handle_peer_closed(t(5));
    assert!(c.intent().close);
    let evs = events(&mut c);
    assert_eq!(evs.len(), 11);
    for (e, h) in evs.iter().zip(&handles) {
        assert_eq!(*e, Ev::Failed(*h, FailReason::PeerClosed));
    }
    assert_eq!(evs[10], Ev::Closed(CloseReason::PeerClosed));
    assert!(events(&mut c).is_empty(), "Closed is reported once");
    assert_eq!(c.send(t(6), &[0; 12]), Err(SendError::Closed));

    // The adapter's retry: backoff from the policy, then the same questions on a new connection.
    let mut retry = Retry::new(RetryPolicy::default(), t(5));
    let RetryDecision::RetryAt(at) = retry.on_failure(t(5)) else {
        panic!("budget")
    };
    assert!(at > t(5));
    let mut c2: Conn = Connection::new(Config::default(), vec![0; 4096], vec![0; 8192], 77, at);
    let h2: Vec<Handle> = names
        .iter()
        .map(|n| ask(&mut c2, at.as_millis(), n, Rtype::A))
        .collect();
    let q = flush(&mut c2, at.as_millis());
    let stream: Vec<u8> = q.iter().rev().flat_map(|m| answer_to(m)).collect();
    let evs = feed(&mut c2, at.as_millis() + 1, &stream);
    let mut got = resp_handles(&evs);
    got.sort();
    assert_eq!(got, h2);
    retry.on_success();
    assert_eq!(retry.failures(), 0);
}

#[test]
fn c12_response_before_fin_is_delivered_before_closure() {
    let mut c: Conn = conn(Config::default());
    let h1 = ask(&mut c, 0, "a.test", Rtype::A);
    let h2 = ask(&mut c, 0, "b.test", Rtype::A);
    let q = flush(&mut c, 0);
    assert_eq!(
        c.handle_read(t(1), &answer_to(&q[1])),
        answer_to(&q[1]).len()
    );
    c.handle_peer_closed(t(1));
    let evs = events(&mut c);
    assert_eq!(resp_handles(&evs), vec![h2]);
    assert_eq!(evs[1], Ev::Failed(h1, FailReason::PeerClosed));
    assert_eq!(evs[2], Ev::Closed(CloseReason::PeerClosed));
}

#[test]
fn c8_reset_and_abort_fail_every_handle_once() {
    for abort in [false, true] {
        let mut c: Conn = conn(Config::default());
        let hs: Vec<Handle> = (0..3)
            .map(|i| ask(&mut c, 0, &format!("{i}.t"), Rtype::A))
            .collect();
        if abort {
            c.abort(t(1));
        } else {
            c.handle_reset(t(1));
        }
        assert!(c.poll_transmit().is_none());
        let why = if abort {
            FailReason::Aborted
        } else {
            FailReason::Reset
        };
        let evs = events(&mut c);
        let failed: Vec<Handle> = evs
            .iter()
            .filter_map(|e| match e {
                Ev::Failed(h, r) if *r == why => Some(*h),
                _ => None,
            })
            .collect();
        assert_eq!(failed, hs);
        assert_eq!(evs.len(), 4);
        c.handle_timeout(t(1_000_000));
        assert!(events(&mut c).is_empty());
        assert_eq!(c.poll_timeout(), None);
    }
}

#[test]
fn c13_retry_budget_stops_a_closing_server() {
    // A server that accepts and closes at once, forever. The adapter loop: connect,
    // send, see the FIN, ask the retry policy.
    let policy = RetryPolicy {
        budget: 3,
        budget_refill: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let mut retry = Retry::new(policy, t(0));
    let mut now = 0u64;
    let mut connects = 0;
    let mut attempts = 0u32;
    let outcome = loop {
        connects += 1;
        attempts += 1;
        let mut c: Conn = Connection::new(
            Config::default(),
            vec![0; 512],
            vec![0; 512],
            connects,
            t(now),
        );
        let h = ask(&mut c, now, "storm.test", Rtype::A);
        flush(&mut c, now);
        c.handle_peer_closed(t(now));
        assert_eq!(events(&mut c)[0], Ev::Failed(h, FailReason::PeerClosed));
        if !policy.may_retry(attempts) {
            attempts = 0; // the query gives up; a new one comes along
        }
        match retry.on_failure(t(now)) {
            RetryDecision::RetryAt(at) => now = at.as_millis(),
            RetryDecision::GiveUp => break now,
            _ => unreachable!(),
        }
    };
    assert_eq!(
        connects, 4,
        "budget of 3 reconnects after the first connect"
    );
    assert!(outcome < 1_000, "backoff 100+200+400 ms");
}

// ---- C10, C11: timeouts and quarantine ------------------------------------------

#[test]
fn c10_per_query_timeouts_fire_independently_and_c11_late_answer_rejected() {
    let cfg = Config {
        query_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        ..Config::default()
    };
    let mut c: Conn = conn(cfg);
    let a = ask(&mut c, 0, "a.test", Rtype::A);
    let b = ask(&mut c, 1000, "b.test", Rtype::A);
    let q = flush(&mut c, 1000);
    assert_eq!(c.poll_timeout(), Some(t(5000)));
    c.handle_timeout(t(4999));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(t(5000));
    c.handle_timeout(t(5000));
    assert_eq!(events(&mut c), vec![Ev::TimedOut(a)]);
    assert_eq!(c.in_flight(), 1);
    assert_eq!(c.poll_timeout(), Some(t(6000)));
    // The late answer to `a` is rejected and counted; `b` still completes.
    let evs = feed(&mut c, 5500, &[answer_to(&q[0]), answer_to(&q[1])].concat());
    assert_eq!(resp_handles(&evs), vec![b]);
    assert_eq!(c.stats().late, 1);
    assert_eq!(c.quarantined(), 1);
}

#[test]
fn c11_quarantined_id_never_reused() {
    let cfg = Config {
        query_timeout: Duration::from_millis(10),
        ..Config::default()
    };
    let mut c: Conn<2> = Connection::new(cfg, vec![0; 512], vec![0; 4096], 3, t(0));
    let h = ask(&mut c, 0, "a.test", Rtype::A);
    let dead = c.query_id(h).unwrap();
    flush(&mut c, 0);
    c.handle_timeout(t(10));
    assert_eq!(events(&mut c), vec![Ev::TimedOut(h)]);
    for i in 0..2000 {
        let h = ask(&mut c, 10, &format!("{i}.t"), Rtype::A);
        let id = c.query_id(h).unwrap();
        assert_ne!(id, dead);
        let q = flush(&mut c, 10);
        feed(&mut c, 10, &answer_to(&q[0]));
    }
}

#[test]
fn c11_quarantine_full_retires_the_connection() {
    let cfg = Config {
        query_timeout: Duration::from_millis(100),
        quarantine_limit: 3,
        ..Config::default()
    };
    let mut c: Conn = conn(cfg);
    let hs: Vec<Handle> = (0..3)
        .map(|i| ask(&mut c, 0, &format!("{i}.t"), Rtype::A))
        .collect();
    let last = ask(&mut c, 50, "last.t", Rtype::A);
    let q = flush(&mut c, 50);
    c.handle_timeout(t(100));
    let evs = events(&mut c);
    assert_eq!(
        &evs[..3],
        &[
            Ev::TimedOut(hs[0]),
            Ev::TimedOut(hs[1]),
            Ev::TimedOut(hs[2])
        ]
    );
    assert_eq!(evs[3], Ev::Retired);
    assert!(!c.can_send());
    let r = c.send_question(
        t(101),
        &name("x.t").as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    );
    assert_eq!(r, Err(SendError::Retired));
    assert!(!c.intent().close, "the query in flight may still complete");
    let evs = feed(&mut c, 120, &answer_to(&q[3]));
    assert_eq!(
        evs,
        vec![
            Ev::Resp(last, c_id(&q[3]), Some("last.t".into())),
            Ev::Closed(CloseReason::Retired)
        ]
    );
    assert!(c.intent().close);
}

fn c_id(m: &[u8]) -> u16 {
    Message::new(m).unwrap().id()
}

#[test]
fn c10_clock_going_backwards_is_clamped() {
    let cfg = Config {
        query_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut c: Conn = conn(cfg);
    c.handle_timeout(t(10_000));
    // The idle timer fired at 10 s? No: idle is 2 s, so the connection closed idle.
    assert!(c.intent().close);
    let mut c: Conn = conn(Config {
        idle_timeout: Duration::from_secs(100),
        ..cfg
    });
    let a = ask(&mut c, 10_000, "a.t", Rtype::A);
    // A send with an earlier clock uses the later time.
    let b = ask(&mut c, 1_000, "b.t", Rtype::A);
    c.handle_timeout(t(3_000));
    assert!(events(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(t(15_000)));
    c.handle_timeout(t(15_000));
    assert_eq!(events(&mut c), vec![Ev::TimedOut(a), Ev::TimedOut(b)]);
    // A jump to the far future just fires timers.
    c.handle_timeout(Instant::MAX);
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::Idle)]);
}

// ---- C6, E2: idle and keepalive ---------------------------------------------------

#[test]
fn c6_idle_close() {
    let cfg = Config {
        idle_timeout: Duration::from_millis(2000),
        ..Config::default()
    };
    let mut c: Conn = conn(cfg);
    assert_eq!(c.poll_timeout(), Some(t(2000)));
    let h = ask(&mut c, 500, "a.t", Rtype::A);
    let q = flush(&mut c, 500);
    assert_eq!(
        c.poll_timeout(),
        Some(t(5500)),
        "only the query timer while busy"
    );
    assert_eq!(
        resp_handles(&feed(&mut c, 1500, &answer_to(&q[0]))),
        vec![h]
    );
    assert_eq!(
        c.poll_timeout(),
        Some(t(3500)),
        "idle counted from the last answer"
    );
    c.handle_timeout(t(3499));
    assert!(!c.intent().close);
    c.handle_timeout(t(3500));
    assert!(c.intent().close);
    assert_eq!(events(&mut c), vec![Ev::Closed(CloseReason::Idle)]);
}

#[test]
fn e2_keepalive_sent_in_first_and_every_5th_query() {
    let mut c: Conn = conn(Config::default());
    for i in 0..11 {
        ask(&mut c, 0, &format!("{i}.t"), Rtype::A);
    }
    let q = flush(&mut c, 0);
    let with: Vec<usize> = q
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            let m = Message::new(m).unwrap();
            let opt = m.opt().unwrap().expect("EDNS on by default");
            match opt.keepalive() {
                Some(None) => true,
                None => false,
                Some(Some(_)) => panic!("a client sends length 0"),
            }
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(with, vec![0, 5, 10]);
    // Without EDNS nothing is added.
    let mut c: Conn = conn(Config {
        edns: false,
        ..Config::default()
    });
    ask(&mut c, 0, "a.t", Rtype::A);
    let q = flush(&mut c, 0);
    assert!(Message::new(&q[0]).unwrap().opt().unwrap().is_none());
}

#[test]
fn e2_server_keepalive_caps_idle_timeout() {
    // The server's value (300 units = 30 s) is honoured as an upper bound: a client
    // configured to idle longer closes at 30 s, one configured shorter keeps its own.
    for (ours, expect) in [
        (Duration::from_secs(60), 30_000),
        (Duration::from_secs(5), 5_000),
    ] {
        let mut c: Conn = conn(Config {
            idle_timeout: ours,
            ..Config::default()
        });
        let h = ask(&mut c, 0, "a.t", Rtype::A);
        let id = c.query_id(h).unwrap();
        flush(&mut c, 0);
        let r = Resp {
            id,
            question: Some(("a.t", Rtype::A)),
            keepalive: Some(300),
            ..Resp::default()
        }
        .build();
        assert_eq!(resp_handles(&feed(&mut c, 1000, &r)), vec![h]);
        assert_eq!(c.idle_timeout(), Duration::from_millis(expect));
        assert_eq!(c.poll_timeout(), Some(t(1000 + expect)));
        assert_eq!(c.stats().keepalive_seen, 1);
    }
}

#[test]
fn e2_keepalive_zero_sends_nothing_more_and_closes_after_outstanding() {
    let mut c: Conn = conn(Config::default());
    let h1 = ask(&mut c, 0, "a.t", Rtype::A);
    let h2 = ask(&mut c, 0, "b.t", Rtype::A);
    let q = flush(&mut c, 0);
    let id = c.query_id(h1).unwrap();
    let r = Resp {
        id,
        question: Some(("a.t", Rtype::A)),
        keepalive: Some(0),
        ..Resp::default()
    }
    .build();
    assert_eq!(resp_handles(&feed(&mut c, 10, &r)), vec![h1]);
    assert!(!c.can_send());
    let e = c.send_question(
        t(11),
        &name("c.t").as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    );
    assert_eq!(e, Err(SendError::Closing));
    assert!(!c.intent().close);
    let evs = feed(&mut c, 20, &answer_to(&q[1]));
    assert_eq!(resp_handles(&evs), vec![h2]);
    assert_eq!(evs.last(), Some(&Ev::Closed(CloseReason::KeepaliveZero)));
    assert!(c.intent().close);
}

// ---- C9: early half-close ----------------------------------------------------------

#[test]
fn c9_half_close_after_last_frame_flushed_and_responses_still_delivered() {
    let mut c: Conn = conn(Config {
        half_close: true,
        ..Config::default()
    });
    let hs: Vec<Handle> = (0..3)
        .map(|i| ask(&mut c, 0, &format!("{i}.t"), Rtype::A))
        .collect();
    c.finish_sending(t(0));
    assert_eq!(c.send(t(0), &[0; 12]), Err(SendError::Closing));
    let out = c.poll_transmit().unwrap().to_vec();
    assert!(!c.intent().shutdown_write);
    c.advance_transmit(t(1), out.len() - 1);
    assert!(
        !c.intent().shutdown_write,
        "not before the last byte is written"
    );
    c.advance_transmit(t(2), 1);
    let i = c.intent();
    assert!(i.shutdown_write && i.read && !i.close && !i.write);
    let q = split(&out);
    let evs = feed(&mut c, 3, &[answer_to(&q[2]), answer_to(&q[0])].concat());
    assert_eq!(resp_handles(&evs), vec![hs[2], hs[0]]);
    assert!(c.intent().shutdown_write && !c.intent().close);
    let evs = feed(&mut c, 4, &answer_to(&q[1]));
    assert_eq!(resp_handles(&evs), vec![hs[1]]);
    assert_eq!(evs.last(), Some(&Ev::Closed(CloseReason::Finished)));
    assert!(
        c.intent().close,
        "the client closes first and holds TIME_WAIT"
    );
}

#[test]
fn c9_without_half_close_finish_closes_after_last_answer() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.t", Rtype::A);
    let q = flush(&mut c, 0);
    c.finish_sending(t(0));
    assert!(!c.intent().shutdown_write);
    let evs = feed(&mut c, 1, &answer_to(&q[0]));
    assert_eq!(
        evs,
        vec![
            Ev::Resp(h, c_id(&q[0]), Some("a.t".into())),
            Ev::Closed(CloseReason::Finished)
        ]
    );
}

// ---- X1, F4, F3 -------------------------------------------------------------------------

#[test]
fn x1_axfr_of_several_messages() {
    let mut c: Conn = conn(Config::default());
    let h = c.send_axfr(t(0), &name("zone.test").as_name()).unwrap();
    let other = ask(&mut c, 0, "other.test", Rtype::A);
    let q = flush(&mut c, 0);
    assert_eq!(
        Message::new(&q[0])
            .unwrap()
            .first_question()
            .unwrap()
            .unwrap()
            .qtype,
        Rtype::Axfr
    );
    assert!(!Message::new(&q[0]).unwrap().rd());
    let id = c.query_id(h).unwrap();
    let q1 = Some(("zone.test", Rtype::Axfr));
    let m1 = Resp {
        id,
        question: q1,
        answers: &[Rtype::Soa, Rtype::A],
        ..Resp::default()
    }
    .build();
    let m2 = Resp {
        id,
        question: None,
        answers: &[Rtype::A, Rtype::A],
        ..Resp::default()
    }
    .build();
    let m3 = Resp {
        id,
        question: q1,
        answers: &[Rtype::A, Rtype::Soa],
        ..Resp::default()
    }
    .build();
    let evs = feed(&mut c, 1, &[m1, m2, answer_to(&q[1]), m3].concat());
    assert_eq!(
        evs,
        vec![
            Ev::Resp(h, id, Some("zone.test".into())),
            Ev::Resp(h, id, None),
            Ev::Resp(other, c_id(&q[1]), Some("other.test".into())),
            Ev::Resp(h, id, Some("zone.test".into())),
            Ev::Fin(h),
        ]
    );
    assert_eq!(c.in_flight(), 0);
    assert_eq!(c.stats().responses, 4);
}

/// One framed IXFR answer message: `question` or none, then answer records of
/// zone.test, each an SOA with that serial (`Some`) or an A record (`None`).
fn ixfr_message(id: u16, question: bool, records: &[Option<u32>]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let zone = name("zone.test");
    let len = {
        let mut b = Builder::new(&mut buf[2..], id);
        b.header_mut().set_qr(true);
        if question {
            b.push_question(&zone.as_name(), Rtype::Ixfr, Class::In)
                .unwrap();
        }
        let (ns, hm) = (name("ns.zone.test"), name("hm.zone.test"));
        for r in records {
            let data = match r {
                Some(serial) => RData::Soa {
                    mname: ns.as_name(),
                    rname: hm.as_name(),
                    serial: *serial,
                    refresh: 1,
                    retry: 2,
                    expire: 3,
                    minimum: 4,
                },
                None => RData::A([192, 0, 2, 1].into()),
            };
            b.answer(&zone.as_name(), 60, &data).unwrap();
        }
        b.finish()
    };
    buf[..2].copy_from_slice(&(len as u16).to_be_bytes());
    buf.truncate(len + 2);
    buf
}

/// X1, IXFR (RFC 1995): the query carries the client's serial in an authority
/// SOA; the handle gets every message and finishes exactly at the end of the
/// answer, for each shape of answer, and not a message earlier.
#[test]
fn x1_ixfr_finishes_where_the_answer_ends() {
    const N: Option<u32> = None;
    // (asked serial, messages, how many messages make the whole answer)
    let cases: [(u32, &[&[Option<u32>]]); 5] = [
        // Up to date: one SOA.
        (7, &[&[Some(7)]]),
        // RFC 1995 §7: 1 -> 2 -> 3, in three messages.
        (
            1,
            &[
                &[Some(3), Some(1), N],
                &[Some(2), N, Some(2)],
                &[N, Some(3), N, Some(3)],
            ],
        ),
        // The newer SOA alone in the first message: more follows.
        (1, &[&[Some(2)], &[Some(1), N, Some(2), N, Some(2)]]),
        // A full zone instead of differences.
        (1, &[&[Some(5), N, N], &[N, N], &[N, Some(5)]]),
        // A zone that is only its SOA.
        (1, &[&[Some(5), Some(5)]]),
    ];
    for (asked, msgs) in cases {
        let mut c: Conn = conn(Config::default());
        let h = c
            .send_ixfr(t(0), &name("zone.test").as_name(), asked)
            .unwrap();
        let q = flush(&mut c, 0);
        let m = Message::new(&q[0]).unwrap();
        assert_eq!(m.first_question().unwrap().unwrap().qtype, Rtype::Ixfr);
        assert!(!m.rd());
        let soa: Vec<u32> = m
            .authority()
            .unwrap()
            .filter_map(|r| match r.unwrap().data().unwrap() {
                RData::Soa { serial, .. } => Some(serial),
                _ => None,
            })
            .collect();
        assert_eq!(soa, [asked]);
        let id = c.query_id(h).unwrap();
        for (i, recs) in msgs.iter().enumerate() {
            let evs = feed(&mut c, 1 + i as u64, &ixfr_message(id, i == 0, recs));
            let last = i + 1 == msgs.len();
            let want_q = (i == 0).then(|| "zone.test".to_string());
            let mut want = vec![Ev::Resp(h, id, want_q)];
            if last {
                want.push(Ev::Fin(h));
            }
            assert_eq!(evs, want, "asked {asked}, message {i}: {msgs:?}");
        }
        assert_eq!(c.in_flight(), 0, "asked {asked}: {msgs:?}");
    }
}

/// X1: an IXFR query sent as raw bytes (`send`) is a multi-message handle too, and
/// its authority SOA's serial is the one the answer is measured against.
#[test]
fn x1_raw_ixfr_query_is_a_transfer() {
    let mut buf = vec![0u8; 512];
    let zone = name("zone.test");
    let len = {
        let mut b = Builder::new(&mut buf, 1);
        b.push_question(&zone.as_name(), Rtype::Ixfr, Class::In)
            .unwrap();
        let root = dnstcp::wire::Name::root();
        let soa = RData::Soa {
            mname: root,
            rname: root,
            serial: 9,
            refresh: 0,
            retry: 0,
            expire: 0,
            minimum: 0,
        };
        b.authority(&zone.as_name(), 0, &soa).unwrap();
        b.finish()
    };
    let mut c: Conn = conn(Config::default());
    let h = c.send(t(0), &buf[..len]).unwrap();
    flush(&mut c, 0);
    let id = c.query_id(h).unwrap();
    // Serial 9 is current: the single SOA ends it.
    let evs = feed(&mut c, 1, &ixfr_message(id, true, &[Some(9)]));
    assert_eq!(
        evs,
        vec![Ev::Resp(h, id, Some("zone.test".into())), Ev::Fin(h)]
    );
}

#[test]
fn x1_caller_ends_multi_message_handle() {
    let mut c: Conn = conn(Config::default());
    let h = c.send_axfr(t(0), &name("zone.test").as_name()).unwrap();
    let id = c.query_id(h).unwrap();
    flush(&mut c, 0);
    let m1 = Resp {
        id,
        question: Some(("zone.test", Rtype::Axfr)),
        answers: &[Rtype::Soa],
        ..Resp::default()
    }
    .build();
    assert_eq!(feed(&mut c, 1, &m1).len(), 1);
    assert!(c.cancel(h));
    assert!(!c.cancel(h));
    let m2 = Resp {
        id,
        answers: &[Rtype::A],
        ..Resp::default()
    }
    .build();
    assert!(feed(&mut c, 2, &m2).is_empty());
    assert_eq!(c.stats().late, 1);
}

#[test]
fn f4_response_too_large_fails_its_handle_and_next_is_delivered() {
    let mut c: Conn = Connection::new(Config::default(), vec![0; 256], vec![0; 4096], 9, t(0));
    let big = ask(&mut c, 0, "big.t", Rtype::A);
    let small = ask(&mut c, 0, "small.t", Rtype::A);
    let q = flush(&mut c, 0);
    let id = c.query_id(big).unwrap();
    let huge = Resp {
        id,
        question: Some(("big.t", Rtype::A)),
        pad: 1000,
        ..Resp::default()
    }
    .build();
    let len = (huge.len() - 2) as u16;
    let evs = feed(&mut c, 1, &[huge, answer_to(&q[1])].concat());
    assert_eq!(evs[0], Ev::Failed(big, FailReason::TooLarge { len }));
    assert_eq!(resp_handles(&evs[1..]), vec![small]);
    assert_eq!(c.stats().oversized, 1);
}

#[test]
fn f3_short_length_closes_with_protocol_error() {
    let mut c: Conn = conn(Config::default());
    let h = ask(&mut c, 0, "a.t", Rtype::A);
    flush(&mut c, 0);
    let evs = feed(&mut c, 1, &[0, 5, 1, 2, 3, 4, 5]);
    assert!(matches!(evs[0], Ev::Failed(x, FailReason::Protocol(_)) if x == h));
    assert!(matches!(evs[1], Ev::Closed(CloseReason::Protocol(_))));
}

// ---- zero allocation ------------------------------------------------------------------

#[test]
fn c1_steady_state_querying_allocates_nothing() {
    let mut c: Connection<[u8; 2048], 8> =
        Connection::new(Config::default(), [0; 2048], [0; 2048], 1, t(0));
    let qname = name("steady.example.test");
    assert_no_alloc("steady-state client", || {
        let mut resp = [0u8; 512];
        for i in 0..500u64 {
            let now = t(i);
            let h = c
                .send_question(
                    now,
                    &qname.as_name(),
                    Rtype::A,
                    Class::In,
                    QueryOptions::default(),
                )
                .unwrap();
            let id = c.query_id(h).unwrap();
            let n = c.poll_transmit().unwrap().len();
            c.advance_transmit(now, n);
            let len = {
                let mut b = Builder::new(&mut resp[2..], id);
                b.header_mut().set_qr(true);
                b.push_question(&qname.as_name(), Rtype::A, Class::In)
                    .unwrap();
                b.push_raw(
                    Section::Answer,
                    &qname.as_name(),
                    Rtype::A,
                    Class::In,
                    60,
                    &[192, 0, 2, 1],
                )
                .unwrap();
                b.finish()
            };
            resp[..2].copy_from_slice(&(len as u16).to_be_bytes());
            let buf = c.read_buf();
            buf[..len + 2].copy_from_slice(&resp[..len + 2]);
            c.commit_read(now, len + 2);
            match c.poll_event() {
                Some(Event::Response { handle, .. }) => assert_eq!(handle, h),
                _ => panic!("no response"),
            }
            assert!(c.poll_event().is_none());
            c.handle_timeout(now);
            let _ = c.poll_timeout();
        }
    });
}

// ---- fuzz target: corpus replay and a pseudo-random smoke run -------------------------

#[test]
fn client_ops_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/client_ops");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        dnstcp::_fuzz::client_ops(&data);
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn client_ops_random_inputs() {
    let mut rng = Lcg(2024);
    for len in 0..300 {
        let data: Vec<u8> = (0..len * 3).map(|_| rng.next() as u8).collect();
        dnstcp::_fuzz::client_ops(&data);
        // Biased toward sends and well-formed responses.
        let ops: Vec<u8> = (0..len * 3)
            .map(|i| match i % 5 {
                0 => [0u8, 3, 3, 6, 7, 7, 0][(rng.next() % 7) as usize],
                _ => rng.next() as u8,
            })
            .collect();
        dnstcp::_fuzz::client_ops(&ops);
    }
}
