//! Zone benchmark: `Zone::answer` over a fixed mix of 22 queries against the bundled
//! zone `examples/zones/example.test.zone` (A, AAAA, MX with additional addresses,
//! TXT, NS, SOA, NXDOMAIN, NODATA, an empty non-terminal, a CNAME chain, a CNAME out
//! of the zone, wildcards, referrals, SRV, PTR, mixed case, with and without EDNS).
//!
//! - `cargo bench --bench zone`: criterion, `zone/answer_mix` (one pass over the mix),
//!   then prints ns/query.
//! - `ZONE_BENCH_LOOPS=N target/release/deps/zone-*`: no criterion, N passes over the
//!   mix (for `valgrind --tool=callgrind`: divide the instructions by 22 N).
//!
//! Either way it first prints a digest of all responses, so a change to the answering
//! code can be checked for identical output.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

use dnstcp::wire::{Builder, Class, Message, NameBuf, Rtype};
use dnstcp::zone::Zone;

const MIX: &[(&str, Rtype, bool)] = &[
    ("www.example.test.", Rtype::A, false),
    ("www.example.test.", Rtype::Aaaa, true),
    ("example.test.", Rtype::Mx, true),
    ("example.test.", Rtype::Txt, false),
    ("example.test.", Rtype::Ns, true),
    ("example.test.", Rtype::Soa, true),
    ("nope.example.test.", Rtype::A, true),
    ("www.example.test.", Rtype::Txt, false),
    ("alias.example.test.", Rtype::A, true),
    ("outside.example.test.", Rtype::A, false),
    ("foo.wild.example.test.", Rtype::A, true),
    ("bar.baz.wild.example.test.", Rtype::Txt, false),
    ("host.wild.example.test.", Rtype::A, false),
    ("b.ent.example.test.", Rtype::A, true),
    ("x.b.ent.example.test.", Rtype::A, false),
    ("www.child.example.test.", Rtype::A, true),
    ("child.example.test.", Rtype::Ns, false),
    ("_sip._tcp.example.test.", Rtype::Srv, true),
    ("1.2.0.192.in-addr.example.test.", Rtype::Ptr, false),
    ("WWW.Example.TEST.", Rtype::A, true),
    ("ns1.example.test.", Rtype::A, true),
    ("mail.example.test.", Rtype::Aaaa, false),
];

fn zone() -> Zone {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/zones/example.test.zone");
    Zone::from_file(&path, Some("example.test.")).unwrap_or_else(|e| panic!("{e}"))
}

fn queries() -> Vec<Vec<u8>> {
    MIX.iter()
        .enumerate()
        .map(|(i, &(name, rtype, edns))| {
            let mut buf = vec![0u8; 512];
            let name: NameBuf = name.parse().unwrap();
            let mut b = Builder::new(&mut buf, 0x1000 + i as u16);
            b.header_mut().set_rd(true);
            b.push_question(&name.as_name(), rtype, Class::In).unwrap();
            if edns {
                b.push_opt(4096, 0, 0, false, |_| Ok(())).unwrap();
            }
            let n = b.finish();
            buf.truncate(n);
            buf
        })
        .collect()
}

fn pass(zone: &Zone, msgs: &[Message<'_>], out: &mut [u8]) -> usize {
    let mut total = 0;
    for m in msgs {
        total += zone.answer(black_box(m), out);
        black_box(&out[..]);
    }
    total
}

/// FNV-1a over every response, in order.
fn digest(zone: &Zone, msgs: &[Message<'_>]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = vec![0u8; 65535];
    for m in msgs {
        let n = zone.answer(m, &mut out);
        for &b in n.to_le_bytes().iter().chain(&out[..n]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn main() {
    let zone = zone();
    let raw = queries();
    let msgs: Vec<Message<'_>> = raw.iter().map(|q| Message::new(q).unwrap()).collect();
    println!(
        "zone bench: {} queries, response digest {:016x}",
        msgs.len(),
        digest(&zone, &msgs)
    );
    let mut out = vec![0u8; 65535];
    if let Ok(loops) = std::env::var("ZONE_BENCH_LOOPS") {
        let loops: usize = loops.parse().expect("ZONE_BENCH_LOOPS: a number");
        let t = Instant::now();
        let mut total = 0;
        for _ in 0..loops {
            total += pass(&zone, &msgs, &mut out);
        }
        let ns = t.elapsed().as_nanos() as f64 / (loops * msgs.len()) as f64;
        println!("{loops} passes, {total} octets, {ns:.1} ns/query");
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("zone");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("answer_mix", |b| {
        b.iter(|| pass(&zone, &msgs, &mut out));
    });
    g.finish();
    c.final_summary();
}
