//! The std adapters on loopback: blocking client and server, IPv4 and IPv6
//! (C1, C3, C5, C6, C7, C9, S2, S6, X1).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use dnstcp::io::blocking::{
    Client, ClientConfig, Deferred, Error, Server, ServerConfig, ServerStats, Stopper, zone_handler,
};
use dnstcp::wire::{Builder, Message, NameBuf, RData, Rtype, Section};
use dnstcp::zone::Zone;

fn zone() -> Arc<Zone> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/zones/example.test.zone"
    );
    Arc::new(Zone::from_file(path, None).expect("bundled zone parses"))
}

/// A running blocking server; stops and joins on drop.
struct Running {
    addr: SocketAddr,
    stop: Stopper,
    stats: Arc<ServerStats>,
    thread: Option<thread::JoinHandle<bool>>,
}

impl Running {
    fn start<H>(addr: &str, config: ServerConfig, handler: H) -> Running
    where
        H: Fn(&Message<'_>, &mut [u8], &dnstcp::io::blocking::Deferrer) -> usize
            + Send
            + Sync
            + 'static,
    {
        let server = Server::bind(addr.parse().unwrap(), config).expect("bind");
        let addr = server.local_addr().unwrap();
        let stop = server.stopper();
        let stats = server.stats();
        let thread = thread::spawn(move || {
            server.run(handler).unwrap();
            server.limits_balanced()
        });
        Running {
            addr,
            stop,
            stats,
            thread: Some(thread),
        }
    }

    /// Stops the server and returns whether every admission ticket was released.
    fn finish(mut self) -> bool {
        self.stop.stop();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn names(n: usize) -> Vec<(NameBuf, Rtype)> {
    let hosts = [
        "www",
        "mail",
        "ns1",
        "alias",
        "nope",
        "big512",
        "example.test",
    ];
    (0..n)
        .map(|i| {
            let h = hosts[i % hosts.len()];
            let full = if h.contains('.') {
                h.to_string()
            } else {
                format!("{h}.example.test")
            };
            let t = [Rtype::A, Rtype::Aaaa, Rtype::Mx, Rtype::Txt][i % 4];
            (full.parse().unwrap(), t)
        })
        .collect()
}

/// Checks that `answer` answers `(name, qtype)` as the zone itself would.
fn assert_matches_zone(zone: &Zone, q: &(NameBuf, Rtype), answer: &[u8]) {
    let m = Message::new(answer).unwrap();
    let got = m.first_question().unwrap().expect("question echoed");
    assert!(
        got.name.eq_ignore_case(&q.0.as_name()) && got.qtype == q.1,
        "answer to the wrong question"
    );
    // Ask the zone directly with the same question and compare the answer sections.
    let mut qbuf = [0u8; 512];
    let mut b = Builder::new(&mut qbuf, m.id());
    b.push_question(&q.0.as_name(), q.1, dnstcp::wire::Class::In)
        .unwrap();
    b.push_opt(1232, 0, 0, false, |_| Ok(())).unwrap();
    let qlen = b.finish();
    let mut expect = vec![0u8; 65535];
    let elen = zone.answer(&Message::new(&qbuf[..qlen]).unwrap(), &mut expect);
    let e = Message::new(&expect[..elen]).unwrap();
    assert_eq!(m.rcode(), e.rcode());
    let render = |m: &Message<'_>| -> Vec<String> {
        m.answers()
            .unwrap()
            .map(|r| r.unwrap().to_string())
            .collect()
    };
    assert_eq!(render(&m), render(&e));
}

#[test]
fn c1_c3_c5_s2_pipelined_1000_answered_in_random_order_ipv4() {
    pipelined_random_order("127.0.0.1:0");
}

#[test]
fn c1_c3_c5_s2_pipelined_1000_answered_in_random_order_ipv6() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    }
    pipelined_random_order("[::1]:0");
}

/// Deferred answers waiting to be sent in a shuffled order.
type DeferredQueue = Vec<(Deferred, Vec<u8>)>;

fn pipelined_random_order(addr: &str) {
    let zone = zone();
    // Every query is deferred; an answering thread replies in shuffled batches.
    let queue: Arc<Mutex<DeferredQueue>> = Arc::default();
    let z = Arc::clone(&zone);
    let q2 = Arc::clone(&queue);
    let mut config = ServerConfig::default();
    config.connection.max_pending = 64;
    let server = Running::start(addr, config, move |query, out, deferrer| {
        let n = z.answer(query, out);
        q2.lock()
            .unwrap()
            .push((deferrer.defer(), out[..n].to_vec()));
        0
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (q3, stop2) = (Arc::clone(&queue), Arc::clone(&stop));
    let answerer = thread::spawn(move || {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut reordered = 0usize;
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            let mut batch: Vec<_> = std::mem::take(&mut *q3.lock().unwrap());
            // Fisher-Yates with a tiny xorshift.
            for i in (1..batch.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let j = (seed % (i as u64 + 1)) as usize;
                if j != i {
                    reordered += 1;
                }
                batch.swap(i, j);
            }
            for (d, bytes) in batch {
                d.respond(bytes);
            }
            thread::sleep(Duration::from_millis(1));
        }
        reordered
    });
    let qs = names(1000);
    let mut client = Client::new(server.addr, ClientConfig::default());
    let results = client.query_many(&qs);
    for (q, r) in qs.iter().zip(&results) {
        let a = r.as_ref().expect("every query answered");
        assert_matches_zone(&zone, q, &a.bytes);
    }
    assert_eq!(
        client.stats().connections,
        1,
        "one connection for the whole batch (C1, C5)"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        answerer.join().unwrap() > 100,
        "answers really were reordered"
    );
    assert!(server.finish(), "admission tickets balanced");
}

/// A hand-written server: answers the first `answer_first` queries of its first
/// connection, then closes it; every later connection is answered fully.
fn flaky_server(answer_first: usize) -> (SocketAddr, thread::JoinHandle<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let zone = zone();
    let t = thread::spawn(move || {
        let mut conns = 0;
        for (k, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { break };
            conns += 1;
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let limit = if k == 0 { answer_first } else { usize::MAX };
            let mut answered = 0;
            let mut out = vec![0u8; 65537];
            loop {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    break;
                }
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if s.read_exact(&mut msg).is_err() {
                    break;
                }
                if answered == limit {
                    break; // drop the connection mid-batch
                }
                let n = zone.answer(&Message::new(&msg).unwrap(), &mut out[2..]);
                out[..2].copy_from_slice(&(n as u16).to_be_bytes());
                s.write_all(&out[..n + 2]).unwrap();
                answered += 1;
            }
            if k >= 1 {
                break;
            }
        }
        conns
    });
    (addr, t)
}

#[test]
fn c7_server_drops_mid_batch_client_reconnects_and_retries() {
    let (addr, t) = flaky_server(30);
    let qs = names(200);
    let mut client = Client::new(addr, ClientConfig::default());
    let results = client.query_many(&qs);
    let zone = zone();
    for (q, r) in qs.iter().zip(&results) {
        assert_matches_zone(&zone, q, &r.as_ref().expect("answered after retry").bytes);
    }
    let s = client.stats();
    assert_eq!(s.connections, 2);
    assert!(s.retries >= 1, "{s:?}");
    client.close();
    assert_eq!(t.join().unwrap(), 2);
}

#[test]
fn c13_server_that_never_answers_is_not_hammered() {
    // Accepts and closes every connection at once: the retry budget must stop the
    // client after a few reconnects, with a typed error for every query.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a2 = Arc::clone(&accepted);
    l.set_nonblocking(true).unwrap();
    let t = thread::spawn(move || {
        let end = std::time::Instant::now() + Duration::from_secs(8);
        while std::time::Instant::now() < end {
            match l.accept() {
                Ok((s, _)) => {
                    a2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    drop(s);
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let mut config = ClientConfig::default();
    config.retry.backoff_initial = Duration::from_millis(5);
    config.retry.backoff_max = Duration::from_millis(20);
    let mut client = Client::new(addr, config);
    let results = client.query_many(&names(20));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::ServerClosed { .. }) | Err(Error::Reset))),
        "{results:?}"
    );
    let n = accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        n <= config.retry.budget as usize + 2,
        "{n} connections: a reconnect storm"
    );
    drop(t);
}

#[test]
fn c6_t2_idle_connection_closed_by_the_client_then_reconnects() {
    let server = Running::start("127.0.0.1:0", ServerConfig::default(), zone_handler(zone()));
    let config = ClientConfig {
        idle_timeout: Duration::from_millis(150),
        ..ClientConfig::default()
    };
    let mut client = Client::new(server.addr, config);
    client.query("www.example.test", Rtype::A).unwrap();
    assert!(client.poll_idle(), "still open right after the answer");
    thread::sleep(Duration::from_millis(300));
    assert!(
        !client.poll_idle(),
        "closed once idle for longer than idle_timeout"
    );
    // The next query opens a new connection (T2: reuse while open, reconnect after).
    client.query("www.example.test", Rtype::Aaaa).unwrap();
    assert_eq!(client.stats().connections, 2);
    drop(client);
    assert!(server.finish());
}

#[test]
fn s6_per_address_limit_refusal_seen_by_a_client() {
    let mut config = ServerConfig::default();
    config.limits.max_conns_per_addr = 1;
    let server = Running::start("127.0.0.1:0", config, zone_handler(zone()));
    let mut first = Client::new(server.addr, ClientConfig::default());
    first
        .query("www.example.test", Rtype::A)
        .expect("first connection served");
    let mut cfg = ClientConfig::default();
    cfg.retry.backoff_initial = Duration::from_millis(5);
    let mut second = Client::new(server.addr, cfg);
    let r = second.query("www.example.test", Rtype::A);
    assert!(
        matches!(r, Err(Error::ServerClosed { .. }) | Err(Error::Reset)),
        "{r:?}"
    );
    assert!(
        server
            .stats
            .refused_conns
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // The first client's connection is still good.
    first
        .query("mail.example.test", Rtype::Mx)
        .expect("first connection still served");
    drop((first, second));
    assert!(server.finish());
}

#[test]
fn c9_early_half_close_is_answered() {
    let server = Running::start("127.0.0.1:0", ServerConfig::default(), zone_handler(zone()));
    let config = ClientConfig {
        half_close: true,
        ..ClientConfig::default()
    };
    let mut client = Client::new(server.addr, config);
    let qs = names(50);
    let results = client.query_many(&qs);
    let zone = zone();
    for (q, r) in qs.iter().zip(&results) {
        assert_matches_zone(&zone, q, &r.as_ref().expect("answered after our FIN").bytes);
    }
    assert!(
        !client.is_connected(),
        "a half-closed connection ends with its batch"
    );
    assert!(server.finish());
}

#[test]
fn x1_axfr_over_the_blocking_adapters() {
    let z = zone();
    let server = Running::start(
        "127.0.0.1:0",
        ServerConfig::default(),
        zone_handler(Arc::clone(&z)),
    );
    let mut client = Client::new(server.addr, ClientConfig::default());
    let origin: NameBuf = "example.test".parse().unwrap();
    let messages: Vec<_> = client
        .axfr(&origin)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut records = Vec::new();
    for a in &messages {
        let m = a.message().unwrap();
        for r in m.answers().unwrap() {
            records.push(r.unwrap().to_string());
        }
    }
    assert!(records.first().unwrap().contains("SOA") && records.last().unwrap().contains("SOA"));
    assert_eq!(records.len(), z.len() + 1, "every record once, SOA twice");
    // The connection is reusable after the transfer (S10).
    client.query("www.example.test", Rtype::A).unwrap();
    assert_eq!(client.stats().connections, 1);
    drop(client);
    assert!(server.finish());
}

#[test]
fn s2_multi_part_deferred_answers_keep_the_connection_in_sync() {
    // Deferred parts from another thread, interleaved with synchronous answers.
    let server = Running::start(
        "127.0.0.1:0",
        ServerConfig::default(),
        move |q, out, deferrer| {
            let mut b = Builder::response_to(out, q);
            let name = q.first_question().unwrap().unwrap().name;
            b.answer(&name, 60, &RData::A([192, 0, 2, 1].into()))
                .unwrap();
            let n = b.finish();
            if q.id() % 2 == 0 {
                return n;
            }
            let d = deferrer.defer();
            let bytes = out[..n].to_vec();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(3));
                d.respond(bytes);
            });
            0
        },
    );
    let mut client = Client::new(server.addr, ClientConfig::default());
    let results = client.query_many(&names(
        std::env::var("N").map_or(300, |v| v.parse().unwrap()),
    ));
    for r in &results {
        let m = r.as_ref().unwrap();
        let msg = m.message().unwrap();
        let rec = msg.answers().unwrap().next().unwrap().unwrap();
        assert_eq!(rec.section(), Section::Answer);
    }
    drop(client);
    assert!(server.finish());
}
