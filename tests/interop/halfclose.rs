//! The half-close claim (C9/S9): when the client half-closes first, the server's
//! side of every connection ends without TIME_WAIT; the client's side holds it.
//! Counted from `/proc/net/tcp` after N one-shot connections from our blocking
//! client to our `serve`, on a fresh port per phase (TIME_WAIT lasts 60 s).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dnstcp::client::retry::RetryPolicy;
use dnstcp::io::blocking::{Client, ClientConfig};
use dnstcp::wire::Rtype;

use crate::ours::{Serve, check, stat};
use crate::timewait::{TimeWait, count_time_wait};

/// One-shot connections per phase.
pub const N: usize = 2000;
const THREADS: usize = 4;

/// `serve ARGS` on a port that has no TIME_WAIT left from an earlier user.
fn fresh_serve(args: &[&str]) -> Serve {
    for _ in 0..16 {
        let s = Serve::start(args);
        if count_time_wait(s.addr().port()).unwrap() == TimeWait::default() {
            return s;
        }
    }
    panic!("no port without TIME_WAIT leftovers");
}

/// `n` connections, each: a new client, one query, then (unless `half_close`) wait
/// for the server's close before dropping the client.
fn churn(addr: SocketAddr, n: usize, half_close: bool) {
    let per = n / THREADS;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..per {
                    let mut c = Client::new(
                        addr,
                        ClientConfig {
                            half_close,
                            retry: RetryPolicy {
                                max_attempts_per_query: 1,
                                ..RetryPolicy::default()
                            },
                            ..ClientConfig::default()
                        },
                    );
                    let a = c
                        .query("www.example.test.", Rtype::A)
                        .unwrap_or_else(|e| panic!("one-shot query: {e}"));
                    check("www.example.test.", Rtype::A, &a.bytes, true).unwrap();
                    assert_eq!(c.stats().connections, 1);
                    if !half_close {
                        // The server closes first: wait for its FIN.
                        let t0 = Instant::now();
                        while c.poll_idle() && t0.elapsed() < Duration::from_secs(2) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("churn thread");
    }
}

/// Counts until the total stops growing (the last ACKs may still be in flight).
fn settle(port: u16, n: usize) -> TimeWait {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut last = count_time_wait(port).unwrap();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let tw = count_time_wait(port).unwrap();
        let total = tw.server_side + tw.client_side;
        if (total >= n && tw == last) || Instant::now() > deadline {
            return tw;
        }
        last = tw;
    }
}

/// Runs one phase and returns (TIME_WAIT counts, serve's stats line, seconds taken).
pub fn phase(half_close: bool) -> (TimeWait, String, f64) {
    let args: &[&str] = if half_close {
        &[]
    } else {
        &["--max-queries-per-conn", "1"]
    };
    let mut serve = fresh_serve(args);
    let port = serve.addr().port();
    let t0 = Instant::now();
    churn(serve.addr(), N, half_close);
    let took = t0.elapsed().as_secs_f64();
    let tw = settle(port, N);
    let stats = serve.stop();
    (tw, stats, took)
}

#[test]
#[ignore = "needs the serve example (built by cargo test) and /proc/net/tcp"]
fn half_close_moves_time_wait_to_the_client() {
    let (hc, hc_stats, hc_t) = phase(true);
    println!(
        "phase 1, client half-closes first ({N} one-shot connections, {hc_t:.1} s): \
         TIME_WAIT server side {}, client side {}; serve {hc_stats}",
        hc.server_side, hc.client_side
    );
    let (sc, sc_stats, sc_t) = phase(false);
    println!(
        "phase 2, server closes first (--max-queries-per-conn 1, no half-close, {N} \
         connections, {sc_t:.1} s): TIME_WAIT server side {}, client side {}; serve {sc_stats}",
        sc.server_side, sc.client_side
    );
    eprintln!(
        "TIME_WAIT (server side / client side): half-close {} / {}, server-closes-first {} / {}",
        hc.server_side, hc.client_side, sc.server_side, sc.client_side
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(
        dir.join("interop-timewait.md"),
        format!(
            "| phase | connections | TIME_WAIT server side | TIME_WAIT client side |\n\
             |---|---|---|---|\n\
             | client half-closes first | {N} | {} | {} |\n\
             | server closes first (`--max-queries-per-conn 1`) | {N} | {} | {} |\n",
            hc.server_side, hc.client_side, sc.server_side, sc.client_side
        ),
    );
    assert_eq!(stat(&hc_stats, "connections"), Some(N as u64), "{hc_stats}");
    assert_eq!(stat(&sc_stats, "connections"), Some(N as u64), "{sc_stats}");
    assert!(hc.server_side * 20 < N, "half-close: server side {hc:?}");
    assert!(hc.client_side * 2 > N, "half-close: client side {hc:?}");
    assert!(sc.server_side * 2 > N, "server first: server side {sc:?}");
}
