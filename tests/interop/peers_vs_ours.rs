//! Real clients against our `serve` example: kdig and dig with `+keepopen`, kdig AXFR,
//! getdns_query pipelining, dnsperf over TCP, and our limits as real clients see them
//! (per-address connection limit, idle timeout, advertised edns-tcp-keepalive).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use dnstcp::wire::{Message, Rtype};

use crate::ours::{QUESTIONS, Serve, check, oracle, oracle_axfr, record_string, stat};
use crate::peers::{framed_query, fresh_dir, read_frame};
use crate::tools::{self, DigMessage, RecordLine};

/// A printed record as the oracle's string; RFC 3597 `\#` hex compared lowercase
/// (kdig prints `0A000001`, we print `0a000001`).
fn line_string(r: &RecordLine) -> String {
    let rdata = if r.rdata.starts_with("\\#") {
        r.rdata.to_ascii_lowercase()
    } else {
        r.rdata.clone()
    };
    record_string(
        &format!("{} {} {} {} {rdata}", r.owner, r.ttl, r.class, r.rtype),
        true,
    )
}

/// Every printed message against the oracle, in question order.
fn check_dig_messages(tool: &str, msgs: &[DigMessage], qs: &[(&str, Rtype)]) {
    assert_eq!(msgs.len(), qs.len(), "{tool}: one message per query");
    for (m, (name, t)) in msgs.iter().zip(qs) {
        let want = oracle(name, *t, true);
        assert_eq!(
            m.status,
            want.rcode.to_string(),
            "{tool}: {name} {t} status"
        );
        let mut got: Vec<String> = m.answer.iter().map(line_string).collect();
        got.sort();
        assert_eq!(got, want.answer, "{tool}: {name} {t} answer");
    }
}

/// The questions twice over, as `NAME TYPE` arguments.
fn question_args(rounds: usize) -> (Vec<(&'static str, Rtype)>, Vec<String>) {
    let qs: Vec<_> = (0..rounds).flat_map(|_| QUESTIONS).collect();
    let args = qs
        .iter()
        .flat_map(|(n, t)| [n.to_string(), t.to_string()])
        .collect();
    (qs, args)
}

fn keepopen(tool: &str) {
    let mut serve = Serve::start(&[]);
    let (qs, qargs) = question_args(2);
    let mut args: Vec<&str> = vec!["+tcp", "+keepopen"];
    args.extend(qargs.iter().map(String::as_str));
    let msgs = match tool {
        "kdig" => tools::kdig(serve.addr(), &args),
        _ => tools::dig(serve.addr(), &args),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    check_dig_messages(tool, &msgs, &qs);
    let stats = serve.stop();
    eprintln!("{tool} +tcp +keepopen, {} queries: serve {stats}", qs.len());
    assert_eq!(stat(&stats, "connections"), Some(1), "{tool}: {stats}");
    assert_eq!(stat(&stats, "responses"), Some(qs.len() as u64), "{stats}");
}

#[test]
#[ignore = "needs kdig (knot-dnsutils, installed by .ci/run)"]
fn kdig_keepopen_against_serve() {
    keepopen("kdig");
}

#[test]
#[ignore = "needs dig (bind9-dnsutils, installed by .ci/run)"]
fn dig_keepopen_against_serve() {
    keepopen("dig");
}

#[test]
#[ignore = "needs kdig (knot-dnsutils, installed by .ci/run)"]
fn kdig_axfr_against_serve() {
    let serve = Serve::start(&[]);
    let axfr = tools::kdig_axfr(serve.addr(), "example.test.").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(axfr.records.len(), crate::ours::zone().len() + 1);
    let mut got: Vec<String> = axfr.records.iter().map(line_string).collect();
    let mut want = oracle_axfr();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    eprintln!(
        "kdig AXFR from serve: {} records in {} messages",
        axfr.records.len(),
        axfr.messages
    );
}

#[test]
#[ignore = "needs getdns_query (getdns-utils, installed by .ci/run)"]
fn getdns_pipelined_against_serve() {
    let mut serve = Serve::start(&[]);
    let dir = fresh_dir("getdns-ours").unwrap();
    let file = dir.join("queries.txt");
    let text: String = QUESTIONS
        .iter()
        .map(|(n, t)| format!("{n} {t}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let batch = tools::getdns_batch(serve.addr(), &file).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(batch.len(), QUESTIONS.len(), "{batch:?}");
    let mut seen = Vec::new();
    for r in &batch {
        let bytes = r.replies.first().expect("a reply");
        let m = Message::new(bytes).expect("reply parses");
        let q = m.first_question().unwrap().expect("question");
        let name = q.name.to_string();
        check(&name, q.qtype, bytes, true).unwrap_or_else(|e| panic!("getdns: {e}"));
        seen.push((name, q.qtype));
    }
    seen.sort_by_key(|(n, t)| format!("{n} {t}"));
    let mut want: Vec<_> = QUESTIONS.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    want.sort_by_key(|(n, t)| format!("{n} {t}"));
    assert_eq!(seen, want, "every question answered once");
    let stats = serve.stop();
    eprintln!(
        "getdns_query -s -O -a -B, {} queries: serve {stats}",
        batch.len()
    );
    // Pipelined on kept-open TCP: far fewer connections than queries.
    let conns = stat(&stats, "connections").unwrap();
    assert!(conns <= 2, "{stats}");
}

#[test]
#[ignore = "needs dnsperf (installed by .ci/run)"]
fn dnsperf_tcp_against_serve() {
    let mut serve = Serve::start(&[]);
    let dir = fresh_dir("dnsperf-ours").unwrap();
    let file = dir.join("queries.txt");
    let text: String = QUESTIONS
        .iter()
        .map(|(n, t)| format!("{n} {t}\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    let s = tools::dnsperf(serve.addr(), &file, &["-c", "10", "-q", "100", "-l", "3"])
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let stats = serve.stop();
    eprintln!("dnsperf -m tcp -c 10 -q 100 -l 3 against serve: {s:?}; serve {stats}");
    assert!(s.sent > 0);
    assert_eq!(s.lost, 0, "{s:?}");
    assert_eq!(s.completed, s.sent, "{s:?}");
    assert_eq!(s.reconnections, Some(0), "{s:?}");
    assert!(s.rcodes.iter().any(|(r, _)| r == "NXDOMAIN"), "{s:?}");
    assert!(
        s.rcodes
            .iter()
            .all(|(r, _)| r == "NOERROR" || r == "NXDOMAIN"),
        "{s:?}"
    );
}

/// Reads until EOF or reset; the time it took, or None after `max`.
fn eof_within(s: &mut TcpStream, max: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut b = [0u8; 512];
    loop {
        let left = max.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut b) {
            Ok(0) => return Some(t0.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(t0.elapsed());
            }
            Err(_) => return None,
        }
    }
}

/// One query and its answer on a raw connection (so the server has surely accepted
/// and counted it).
fn answered_conn(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&framed_query(1, "www.example.test.", Rtype::A))
        .unwrap();
    read_frame(&mut s).unwrap().expect("an answer");
    s
}

#[test]
#[ignore = "needs kdig (knot-dnsutils, installed by .ci/run)"]
fn per_address_limit_seen_by_real_clients() {
    let mut serve = Serve::start(&["--max-conns-per-ip", "1"]);
    let first = answered_conn(serve.addr());
    // A second raw connection from the same address is closed at once.
    let mut second = TcpStream::connect(serve.addr()).unwrap();
    let _ = second.write_all(&framed_query(2, "www.example.test.", Rtype::A));
    let closed = eof_within(&mut second, Duration::from_secs(2));
    assert!(closed.is_some(), "second connection stayed open");
    // kdig gets no answer while the first is open ...
    let refused = tools::kdig(
        serve.addr(),
        &["+tcp", "+retry=0", "+timeout=1", "www.example.test", "A"],
    );
    assert!(refused.is_err(), "kdig answered despite the limit");
    // ... and one once it is closed.
    drop(first);
    std::thread::sleep(Duration::from_millis(100));
    let ok = tools::kdig(serve.addr(), &["+tcp", "www.example.test", "A"])
        .unwrap_or_else(|e| panic!("after the first closed: {e}"));
    assert_eq!(ok[0].status, "NOERROR");
    let stats = serve.stop();
    eprintln!("--max-conns-per-ip 1: second raw connection closed after {closed:?}; serve {stats}");
    assert!(stat(&stats, "refused_conns").unwrap() >= 2, "{stats}");
}

#[test]
#[ignore = "needs kdig (knot-dnsutils, installed by .ci/run)"]
fn idle_timeout_closes_a_connection_left_open() {
    let mut serve = Serve::start(&["--idle-timeout-ms", "300"]);
    // kdig +keepopen works against the short timeout ...
    let msgs = tools::kdig(
        serve.addr(),
        &[
            "+tcp",
            "+keepopen",
            "www.example.test",
            "A",
            "example.test",
            "MX",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(msgs.len(), 2);
    // ... and a connection left open after its answer is closed by the server.
    let mut s = answered_conn(serve.addr());
    let d = eof_within(&mut s, Duration::from_secs(2)).expect("closed by the idle timeout");
    let stats = serve.stop();
    eprintln!("--idle-timeout-ms 300: connection left open closed after {d:?}; serve {stats}");
    assert!(
        d >= Duration::from_millis(250) && d <= Duration::from_secs(1),
        "{d:?}"
    );
    assert!(stat(&stats, "closed_idle").unwrap() >= 1, "{stats}");
}

#[test]
#[ignore = "needs dig (bind9-dnsutils, installed by .ci/run)"]
fn dig_keepalive_sees_our_timeout() {
    let serve = Serve::start(&["--keepalive", "--idle-timeout-ms", "7000"]);
    let a = serve.addr();
    let out = tools::dig_raw(a, &["+tcp", "+keepalive", "www.example.test", "A"])
        .unwrap_or_else(|e| panic!("{e}"));
    let line = out
        .lines()
        .find(|l| l.contains("KEEPALIVE"))
        .unwrap_or_else(|| panic!("no keepalive in dig's output:\n{out}"));
    eprintln!("dig +keepalive against serve --keepalive --idle-timeout-ms 7000: {line}");
    // The idle timeout scales with occupancy (S3): base × (high_water − live) /
    // high_water, with high_water = 768 for the default --max-conns 1024; with dig's
    // own connection live that is 6990 ms, advertised rounded down as 69 (6.9 s).
    assert!(
        line.contains("6.9 secs") || line.contains("7.0 secs"),
        "{line}"
    );
}

/// After the server closed an idle connection, the next query goes on a new
/// connection without spending a retry (the FIN is noticed before sending), so it
/// succeeds even with retries off.
#[test]
#[ignore = "needs the serve example (built by cargo test)"]
fn our_client_notices_an_idle_close_before_sending() {
    use dnstcp::client::retry::RetryPolicy;
    use dnstcp::io::blocking::{Client, ClientConfig};
    let serve = Serve::start(&["--idle-timeout-ms", "200"]);
    let mut c = Client::new(
        serve.addr(),
        ClientConfig {
            retry: RetryPolicy {
                max_attempts_per_query: 1,
                ..RetryPolicy::default()
            },
            ..ClientConfig::default()
        },
    );
    c.query("www.example.test.", Rtype::A).expect("first query");
    std::thread::sleep(Duration::from_millis(600));
    let second = c.query("mail.example.test.", Rtype::Aaaa);
    let s = c.stats();
    assert!(second.is_ok(), "{second:?} {s:?}");
    assert_eq!((s.connections, s.retries), (2, 0), "{s:?}");
}
