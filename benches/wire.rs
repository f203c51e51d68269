//! Wire-layer benchmarks: dnstcp against `hickory-proto` 0.26 and `domain` 0.12 in
//! one run (issue 7, "Parser and builder"; STYLE §22).
//!
//! - `parse_walk/*`: one pass over the shared corpus `tests/data/messages/*.bin`:
//!   full parse, every question and record, every RDATA decoded, every label of every
//!   name touched (owners and the names inside NS/CNAME/PTR/MX/SOA/SRV RDATA), plus
//!   addresses, TXT strings and the numeric fields, so each library does the same work.
//! - `build_query/*`: a one-question query with an EDNS OPT record.
//! - `build_response/*`: question, 2 A answers, NS authority, A glue, compressed.
//! - `frame/*`: `frame::Decoder` over ~1 MiB of pipelined, length-prefixed corpus
//!   messages vs a `copy_from_slice` of the same bytes.
//!
//! Before timing anything, the bench checks that all three libraries read the same
//! questions, records, owners, types, RDATA names and values from every corpus
//! message, and that all three builders produce equivalent messages; it panics if
//! they disagree. After criterion has run, it prints one table with messages/s, MB/s
//! and the dnstcp speed-up over each peer (peer time / dnstcp time).
//!
//! Run with `benches/run_wire.sh` or `cargo bench --bench wire`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput};

use dnstcp::frame::{self, Decoder, Oversize, Status};
use dnstcp::wire::{Builder, Class, Message, Name, NameBuf, RData, Rtype, Section};

// ---- corpus ------------------------------------------------------------------

struct Corpus {
    names: Vec<String>,
    msgs: Vec<Vec<u8>>,
}

impl Corpus {
    fn load() -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/messages");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no *.bin in {}", dir.display());
        let names = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        let msgs = files
            .iter()
            .map(|p| std::fs::read(p).expect("read corpus file"))
            .collect();
        Corpus { names, msgs }
    }

    fn bytes(&self) -> usize {
        self.msgs.iter().map(Vec::len).sum()
    }
}

// ---- parse + walk ------------------------------------------------------------
//
// Each walker folds everything it reads into a u64 so nothing can be optimised away.
// Touching a label means reading its length and its first octet.

#[inline(always)]
fn touch<'a>(labels: impl Iterator<Item = &'a [u8]>) -> u64 {
    labels.fold(0, |acc, l| {
        acc.wrapping_add(l.len() as u64 + u64::from(l.first().copied().unwrap_or(0)))
    })
}

fn walk_dnstcp(bytes: &[u8]) -> u64 {
    let msg = Message::new(bytes).expect("dnstcp: header");
    let mut acc = u64::from(msg.id());
    for q in msg.questions() {
        let q = q.expect("dnstcp: question");
        acc = acc.wrapping_add(touch(q.name.labels()) + u64::from(q.qtype.to_int()));
    }
    for r in msg.records().expect("dnstcp: questions") {
        let r = r.expect("dnstcp: record");
        acc = acc.wrapping_add(
            touch(r.owner().labels())
                + u64::from(r.raw_type())
                + u64::from(r.raw_class())
                + u64::from(r.ttl()),
        );
        let v = match r.data().expect("dnstcp: rdata") {
            RData::A(a) => u64::from(a.to_bits()),
            RData::Aaaa(a) => a.to_bits() as u64,
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => touch(n.labels()),
            RData::Mx {
                preference,
                exchange,
            } => u64::from(preference) + touch(exchange.labels()),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                touch(mname.labels())
                    + touch(rname.labels())
                    + u64::from(serial)
                    + u64::from(refresh)
                    + u64::from(retry)
                    + u64::from(expire)
                    + u64::from(minimum)
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => u64::from(priority) + u64::from(weight) + u64::from(port) + touch(target.labels()),
            RData::Txt(t) => touch(t.strings()),
            RData::Opt(o) => u64::from(o.udp_size()) + o.raw_options().len() as u64,
            RData::Unknown { data, .. } => data.len() as u64,
            _ => 0,
        };
        acc = acc.wrapping_add(v);
    }
    acc
}

mod dom {
    pub(crate) use domain::base::Message;
    pub(crate) use domain::base::name::ParsedName;
    pub(crate) use domain::rdata::AllRecordData;
    pub(crate) type Data<'a> = AllRecordData<&'a [u8], ParsedName<&'a [u8]>>;
}

#[inline(always)]
fn touch_domain(n: &dom::ParsedName<&[u8]>) -> u64 {
    // domain yields the root label as the last label; it is empty and adds 0.
    touch(n.iter().map(AsRef::as_ref))
}

/// domain's fastest complete walk: one pass, sections continued in place.
fn walk_domain(bytes: &[u8]) -> u64 {
    use dom::AllRecordData as D;
    let msg = dom::Message::from_octets(bytes).expect("domain: header");
    let mut acc = u64::from(msg.header().id());
    let mut qs = msg.question();
    for q in qs.by_ref() {
        let q = q.expect("domain: question");
        acc = acc.wrapping_add(touch_domain(q.qname()) + u64::from(q.qtype().to_int()));
    }
    let mut section = qs.answer().expect("domain: questions");
    loop {
        for r in section.by_ref() {
            let r = r.expect("domain: record");
            let r = r.to_any_record::<dom::Data<'_>>().expect("domain: rdata");
            acc = acc.wrapping_add(
                touch_domain(r.owner())
                    + u64::from(r.rtype().to_int())
                    + u64::from(r.class().to_int())
                    + u64::from(r.ttl().as_secs()),
            );
            let v = match r.data() {
                D::A(a) => u64::from(a.addr().to_bits()),
                D::Aaaa(a) => a.addr().to_bits() as u64,
                D::Ns(n) => touch_domain(n.nsdname()),
                D::Cname(n) => touch_domain(n.cname()),
                D::Ptr(n) => touch_domain(n.ptrdname()),
                D::Mx(m) => u64::from(m.preference()) + touch_domain(m.exchange()),
                D::Soa(s) => {
                    touch_domain(s.mname())
                        + touch_domain(s.rname())
                        + u64::from(s.serial().into_int())
                        + u64::from(s.refresh().as_secs())
                        + u64::from(s.retry().as_secs())
                        + u64::from(s.expire().as_secs())
                        + u64::from(s.minimum().as_secs())
                }
                D::Srv(s) => {
                    u64::from(s.priority())
                        + u64::from(s.weight())
                        + u64::from(s.port())
                        + touch_domain(s.target())
                }
                D::Txt(t) => touch(t.iter()),
                D::Opt(o) => u64::from(r.class().to_int()) + o.len() as u64,
                D::Unknown(u) => u.data().len() as u64,
                _ => 0,
            };
            acc = acc.wrapping_add(v);
        }
        match section.next_section().expect("domain: section") {
            Some(next) => section = next,
            None => break,
        }
    }
    acc
}

mod hick {
    pub(crate) use hickory_proto::op::Message;
    pub(crate) use hickory_proto::rr::{Name, RData, Record};
}

#[inline(always)]
fn touch_hickory(n: &hick::Name) -> u64 {
    touch(n.iter())
}

fn walk_hickory_record(r: &hick::Record) -> u64 {
    use hick::RData as H;
    let head = touch_hickory(&r.name)
        + u64::from(u16::from(r.record_type()))
        + u64::from(u16::from(r.dns_class))
        + u64::from(r.ttl);
    let v = match &r.data {
        H::A(a) => u64::from(a.0.to_bits()),
        H::AAAA(a) => a.0.to_bits() as u64,
        H::NS(n) => touch_hickory(&n.0),
        H::CNAME(n) => touch_hickory(&n.0),
        H::PTR(n) => touch_hickory(&n.0),
        H::MX(m) => u64::from(m.preference) + touch_hickory(&m.exchange),
        H::SOA(s) => {
            touch_hickory(&s.mname)
                + touch_hickory(&s.rname)
                + u64::from(s.serial)
                + u64::from(s.refresh as u32)
                + u64::from(s.retry as u32)
                + u64::from(s.expire as u32)
                + u64::from(s.minimum)
        }
        H::SRV(s) => {
            u64::from(s.priority)
                + u64::from(s.weight)
                + u64::from(s.port)
                + touch_hickory(&s.target)
        }
        H::TXT(t) => touch(t.txt_data.iter().map(|s| &s[..])),
        _ => 0,
    };
    head.wrapping_add(v)
}

/// hickory decodes the whole message in `from_vec`; the walk reads what it decoded.
fn walk_hickory(bytes: &[u8]) -> u64 {
    let msg = hick::Message::from_vec(bytes).expect("hickory: decode");
    let mut acc = u64::from(msg.metadata.id);
    for q in &msg.queries {
        acc = acc.wrapping_add(touch_hickory(&q.name) + u64::from(u16::from(q.query_type)));
    }
    for r in msg
        .answers
        .iter()
        .chain(&msg.authorities)
        .chain(&msg.additionals)
    {
        acc = acc.wrapping_add(walk_hickory_record(r));
    }
    if let Some(e) = &msg.edns {
        acc = acc.wrapping_add(u64::from(e.max_payload()));
    }
    acc
}

// ---- agreement check -----------------------------------------------------------

/// (section, owner, type, class, ttl, names in RDATA, other RDATA fields)
type CanonRecord = (u8, String, u16, u16, u32, Vec<String>, String);

/// What every library must agree on for one message.
#[derive(Debug, PartialEq, Eq)]
struct Canon {
    id: u16,
    /// (qname, qtype, qclass)
    questions: Vec<(String, u16, u16)>,
    records: Vec<CanonRecord>,
    /// UDP payload size of the OPT record, if any (hickory keeps it outside the sections).
    opt_udp: Option<u16>,
}

fn text<'a>(labels: impl Iterator<Item = &'a [u8]>) -> String {
    let mut s = String::new();
    for l in labels.filter(|l| !l.is_empty()) {
        s.push_str(&String::from_utf8_lossy(l).to_ascii_lowercase());
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn txt_text<'a>(strings: impl Iterator<Item = &'a [u8]>) -> String {
    strings
        .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn canon_dnstcp(bytes: &[u8]) -> Canon {
    let msg = Message::new(bytes).expect("dnstcp: header");
    msg.check().expect("dnstcp: check");
    let questions = msg
        .questions()
        .map(|q| {
            let q = q.expect("dnstcp: question");
            (text(q.name.labels()), q.qtype.to_int(), q.qclass.to_int())
        })
        .collect();
    let mut records = Vec::new();
    let mut opt_udp = None;
    for r in msg.records().expect("dnstcp: records") {
        let r = r.expect("dnstcp: record");
        let section = match r.section() {
            Section::Answer => 1,
            Section::Authority => 2,
            _ => 3,
        };
        let n = |n: Name<'_>| text(n.labels());
        let (names, rest) = match r.data().expect("dnstcp: rdata") {
            RData::Opt(o) => {
                opt_udp = Some(o.udp_size());
                continue;
            }
            RData::A(a) => (vec![], a.to_string()),
            RData::Aaaa(a) => (vec![], a.to_string()),
            RData::Ns(x) | RData::Cname(x) | RData::Ptr(x) => (vec![n(x)], String::new()),
            RData::Mx {
                preference,
                exchange,
            } => (vec![n(exchange)], preference.to_string()),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => (
                vec![n(mname), n(rname)],
                format!("{serial} {refresh} {retry} {expire} {minimum}"),
            ),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => (vec![n(target)], format!("{priority} {weight} {port}")),
            RData::Txt(t) => (vec![], txt_text(t.strings())),
            other => (vec![], format!("{other}")),
        };
        records.push((
            section,
            text(r.owner().labels()),
            r.rtype().to_int(),
            r.raw_class(),
            r.ttl(),
            names,
            rest,
        ));
    }
    Canon {
        id: msg.id(),
        questions,
        records,
        opt_udp,
    }
}

fn canon_domain(bytes: &[u8]) -> Canon {
    use dom::AllRecordData as D;
    let msg = dom::Message::from_octets(bytes).expect("domain: header");
    let n = |n: &dom::ParsedName<&[u8]>| text(n.iter().map(AsRef::as_ref));
    let questions = msg
        .question()
        .map(|q| {
            let q = q.expect("domain: question");
            (n(q.qname()), q.qtype().to_int(), q.qclass().to_int())
        })
        .collect();
    let (_, an, ns, ar) = msg.sections().expect("domain: sections");
    let mut records = Vec::new();
    let mut opt_udp = None;
    for (section, sec) in [(1u8, an), (2, ns), (3, ar)] {
        for r in sec {
            let r = r.expect("domain: record");
            let r = r.to_any_record::<dom::Data<'_>>().expect("domain: rdata");
            let (names, rest) = match r.data() {
                D::Opt(_) => {
                    opt_udp = Some(r.class().to_int());
                    continue;
                }
                D::A(a) => (vec![], a.addr().to_string()),
                D::Aaaa(a) => (vec![], a.addr().to_string()),
                D::Ns(x) => (vec![n(x.nsdname())], String::new()),
                D::Cname(x) => (vec![n(x.cname())], String::new()),
                D::Ptr(x) => (vec![n(x.ptrdname())], String::new()),
                D::Mx(m) => (vec![n(m.exchange())], m.preference().to_string()),
                D::Soa(s) => (
                    vec![n(s.mname()), n(s.rname())],
                    format!(
                        "{} {} {} {} {}",
                        s.serial().into_int(),
                        s.refresh().as_secs(),
                        s.retry().as_secs(),
                        s.expire().as_secs(),
                        s.minimum().as_secs()
                    ),
                ),
                D::Srv(s) => (
                    vec![n(s.target())],
                    format!("{} {} {}", s.priority(), s.weight(), s.port()),
                ),
                D::Txt(t) => (vec![], txt_text(t.iter())),
                other => (vec![], format!("{other}")),
            };
            records.push((
                section,
                n(r.owner()),
                r.rtype().to_int(),
                r.class().to_int(),
                r.ttl().as_secs(),
                names,
                rest,
            ));
        }
    }
    Canon {
        id: msg.header().id(),
        questions,
        records,
        opt_udp,
    }
}

fn canon_hickory(bytes: &[u8]) -> Canon {
    use hick::RData as H;
    let msg = hick::Message::from_vec(bytes).expect("hickory: decode");
    let n = |n: &hick::Name| text(n.iter());
    let questions = msg
        .queries
        .iter()
        .map(|q| {
            (
                n(&q.name),
                u16::from(q.query_type),
                u16::from(q.query_class),
            )
        })
        .collect();
    let mut records = Vec::new();
    for (section, list) in [
        (1u8, &msg.answers),
        (2, &msg.authorities),
        (3, &msg.additionals),
    ] {
        for r in list {
            let (names, rest) = match &r.data {
                H::A(a) => (vec![], a.0.to_string()),
                H::AAAA(a) => (vec![], a.0.to_string()),
                H::NS(x) => (vec![n(&x.0)], String::new()),
                H::CNAME(x) => (vec![n(&x.0)], String::new()),
                H::PTR(x) => (vec![n(&x.0)], String::new()),
                H::MX(m) => (vec![n(&m.exchange)], m.preference.to_string()),
                H::SOA(s) => (
                    vec![n(&s.mname), n(&s.rname)],
                    format!(
                        "{} {} {} {} {}",
                        s.serial, s.refresh as u32, s.retry as u32, s.expire as u32, s.minimum
                    ),
                ),
                H::SRV(s) => (
                    vec![n(&s.target)],
                    format!("{} {} {}", s.priority, s.weight, s.port),
                ),
                H::TXT(t) => (vec![], txt_text(t.txt_data.iter().map(|s| &s[..]))),
                other => (vec![], format!("{other}")),
            };
            records.push((
                section,
                n(&r.name),
                u16::from(r.record_type()),
                u16::from(r.dns_class),
                r.ttl,
                names,
                rest,
            ));
        }
    }
    Canon {
        id: msg.metadata.id,
        questions,
        records,
        opt_udp: msg.edns.as_ref().map(|e| e.max_payload()),
    }
}

/// Fails loudly unless all three libraries read every corpus message the same way.
fn check_agreement(c: &Corpus) {
    let (mut questions, mut records) = (0, 0);
    for (name, m) in c.names.iter().zip(&c.msgs) {
        let a = canon_dnstcp(m);
        let b = canon_hickory(m);
        let d = canon_domain(m);
        assert_eq!(a, b, "{name}: dnstcp and hickory-proto disagree");
        assert_eq!(a, d, "{name}: dnstcp and domain disagree");
        assert!(
            !a.questions.is_empty() || !a.records.is_empty(),
            "{name}: empty"
        );
        questions += a.questions.len();
        records += a.records.len() + usize::from(a.opt_udp.is_some());
        // The walkers must not fail either.
        black_box((walk_dnstcp(m), walk_domain(m), walk_hickory(m)));
    }
    println!(
        "agreement: dnstcp, hickory-proto and domain read the same {questions} questions and {records} records \
         (owners, types, classes, TTLs, RDATA names and values) from {} messages",
        c.msgs.len()
    );
}

// ---- building -----------------------------------------------------------------

const QID: u16 = 0x1a2b;
const QNAME: &str = "www.example.test";
const ZONE: &str = "example.test";
const NS1: &str = "ns1.example.test";
const A1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const A2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const GLUE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

struct DnstcpNames {
    qname: NameBuf,
    zone: NameBuf,
    ns1: NameBuf,
}

impl DnstcpNames {
    fn new() -> Self {
        DnstcpNames {
            qname: QNAME.parse().unwrap(),
            zone: ZONE.parse().unwrap(),
            ns1: NS1.parse().unwrap(),
        }
    }
}

fn build_query_dnstcp(buf: &mut [u8], n: &DnstcpNames) -> usize {
    let mut b = Builder::new(buf, QID);
    b.header_mut().set_rd(true);
    b.push_question(&n.qname.as_name(), Rtype::A, Class::In)
        .unwrap();
    b.push_opt(1232, 0, 0, false, |_| Ok(())).unwrap();
    b.finish()
}

fn build_response_dnstcp(buf: &mut [u8], n: &DnstcpNames) -> usize {
    let (q, z, ns) = (n.qname.as_name(), n.zone.as_name(), n.ns1.as_name());
    let mut b = Builder::new(buf, QID);
    let h = b.header_mut();
    h.set_qr(true);
    h.set_aa(true);
    h.set_rd(true);
    b.push_question(&q, Rtype::A, Class::In).unwrap();
    b.answer(&q, 300, &RData::A(A1)).unwrap();
    b.answer(&q, 300, &RData::A(A2)).unwrap();
    b.authority(&z, 3600, &RData::Ns(ns)).unwrap();
    b.additional(&ns, 3600, &RData::A(GLUE)).unwrap();
    b.finish()
}

mod dbuild {
    pub(crate) use domain::base::iana::{Class, Rtype};
    pub(crate) use domain::base::message_builder::{MessageBuilder, StaticCompressor};
    pub(crate) use domain::base::name::Name;
    pub(crate) use domain::rdata::{A, Ns};
    pub(crate) type DName = Name<Vec<u8>>;
}

struct DomainNames {
    qname: dbuild::DName,
    zone: dbuild::DName,
    ns1: dbuild::DName,
}

impl DomainNames {
    fn new() -> Self {
        DomainNames {
            qname: dbuild::DName::from_str(QNAME).unwrap(),
            zone: dbuild::DName::from_str(ZONE).unwrap(),
            ns1: dbuild::DName::from_str(NS1).unwrap(),
        }
    }
}

/// domain into a reused `Vec` (no allocation once it has grown).
fn build_query_domain(buf: Vec<u8>, n: &DomainNames) -> Vec<u8> {
    let mut msg = dbuild::MessageBuilder::from_target(buf).unwrap();
    msg.header_mut().set_id(QID);
    msg.header_mut().set_rd(true);
    let mut q = msg.question();
    q.push((&n.qname, dbuild::Rtype::A)).unwrap();
    let mut ar = q.additional();
    ar.opt(|o| {
        o.set_udp_payload_size(1232);
        Ok(())
    })
    .unwrap();
    ar.finish()
}

/// domain with its `StaticCompressor` (24 entries) over a reused `Vec`.
fn build_response_domain(buf: Vec<u8>, n: &DomainNames) -> Vec<u8> {
    let mut msg = dbuild::MessageBuilder::from_target(dbuild::StaticCompressor::new(buf)).unwrap();
    let h = msg.header_mut();
    h.set_id(QID);
    h.set_qr(true);
    h.set_aa(true);
    h.set_rd(true);
    let mut q = msg.question();
    q.push((&n.qname, dbuild::Rtype::A, dbuild::Class::IN))
        .unwrap();
    let mut an = q.answer();
    an.push((&n.qname, dbuild::Class::IN, 300, dbuild::A::new(A1)))
        .unwrap();
    an.push((&n.qname, dbuild::Class::IN, 300, dbuild::A::new(A2)))
        .unwrap();
    let mut ns = an.authority();
    ns.push((&n.zone, dbuild::Class::IN, 3600, dbuild::Ns::new(&n.ns1)))
        .unwrap();
    let mut ar = ns.additional();
    ar.push((&n.ns1, dbuild::Class::IN, 3600, dbuild::A::new(GLUE)))
        .unwrap();
    ar.finish().into_target()
}

mod hbuild {
    pub(crate) use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    pub(crate) use hickory_proto::rr::rdata::{A, NS};
    pub(crate) use hickory_proto::rr::{Name, RData, Record, RecordType};
    pub(crate) use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
}

struct HickoryNames {
    qname: hbuild::Name,
    zone: hbuild::Name,
    ns1: hbuild::Name,
}

impl HickoryNames {
    fn new() -> Self {
        let fqdn = |s: &str| hbuild::Name::from_ascii(format!("{s}.")).unwrap();
        HickoryNames {
            qname: fqdn(QNAME),
            zone: fqdn(ZONE),
            ns1: fqdn(NS1),
        }
    }
}

/// hickory's usual path: an owned `Message`, emitted through `BinEncoder` into a
/// reused `Vec` (the names are cloned into the message, as a caller must).
fn build_query_hickory(buf: &mut Vec<u8>, n: &HickoryNames) {
    use hbuild::BinEncodable;
    let mut m = hbuild::Message::new(QID, hbuild::MessageType::Query, hbuild::OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(hbuild::Query::query(n.qname.clone(), hbuild::RecordType::A));
    let mut edns = hbuild::Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    buf.clear();
    let mut enc = hbuild::BinEncoder::new(buf);
    m.emit(&mut enc).unwrap();
}

fn build_response_hickory(buf: &mut Vec<u8>, n: &HickoryNames) {
    use hbuild::BinEncodable;
    let rec = |name: &hbuild::Name, ttl, data| hbuild::Record::from_rdata(name.clone(), ttl, data);
    let mut m = hbuild::Message::new(QID, hbuild::MessageType::Response, hbuild::OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.recursion_desired = true;
    m.add_query(hbuild::Query::query(n.qname.clone(), hbuild::RecordType::A));
    m.add_answer(rec(&n.qname, 300, hbuild::RData::A(hbuild::A(A1))));
    m.add_answer(rec(&n.qname, 300, hbuild::RData::A(hbuild::A(A2))));
    m.add_authority(rec(
        &n.zone,
        3600,
        hbuild::RData::NS(hbuild::NS(n.ns1.clone())),
    ));
    m.add_additional(rec(&n.ns1, 3600, hbuild::RData::A(hbuild::A(GLUE))));
    buf.clear();
    let mut enc = hbuild::BinEncoder::new(buf);
    m.emit(&mut enc).unwrap();
}

/// The three builders must produce the same message (sizes may differ only by
/// compression choices, which are reported).
fn check_builders() -> [(usize, usize, usize); 2] {
    let (dn, mn, hn) = (DnstcpNames::new(), DomainNames::new(), HickoryNames::new());
    let mut buf = [0u8; 512];
    let mut out = [(0, 0, 0); 2];
    for (i, what) in ["query", "response"].into_iter().enumerate() {
        let len = if i == 0 {
            build_query_dnstcp(&mut buf, &dn)
        } else {
            build_response_dnstcp(&mut buf, &dn)
        };
        let ours = buf[..len].to_vec();
        let dom = if i == 0 {
            build_query_domain(Vec::new(), &mn)
        } else {
            build_response_domain(Vec::new(), &mn)
        };
        let mut hick = Vec::new();
        if i == 0 {
            build_query_hickory(&mut hick, &hn);
        } else {
            build_response_hickory(&mut hick, &hn);
        }
        let c = canon_dnstcp(&ours);
        assert_eq!(c, canon_dnstcp(&dom), "{what}: domain built something else");
        assert_eq!(
            c,
            canon_dnstcp(&hick),
            "{what}: hickory built something else"
        );
        assert_eq!(
            ours[2..4],
            dom[2..4],
            "{what}: header flags differ (domain)"
        );
        assert_eq!(
            ours[2..4],
            hick[2..4],
            "{what}: header flags differ (hickory)"
        );
        out[i] = (ours.len(), hick.len(), dom.len());
    }
    println!(
        "agreement: the three builders produce the same query ({} / {} / {} bytes) and response \
         ({} / {} / {} bytes) (dnstcp / hickory-proto / domain)",
        out[0].0, out[0].1, out[0].2, out[1].0, out[1].1, out[1].2
    );
    out
}

// ---- framing --------------------------------------------------------------------

/// All corpus messages, length-prefixed, repeated to at least 1 MiB.
fn pipelined_stream(c: &Corpus) -> (Vec<u8>, usize) {
    let mut s = Vec::with_capacity((1 << 20) + 4096);
    let mut frames = 0;
    while s.len() < 1 << 20 {
        for m in &c.msgs {
            let at = s.len();
            s.resize(at + frame::PREFIX_LEN + m.len(), 0);
            frame::encode(m, &mut s[at..]).unwrap();
            frames += 1;
        }
    }
    (s, frames)
}

fn decode_all(stream: &[u8]) -> (usize, usize) {
    let mut d = Decoder::new(u16::MAX, Oversize::Close);
    let (mut pos, mut frames, mut body) = (0, 0, 0);
    while pos < stream.len() {
        match d.decode(&stream[pos..]) {
            Ok(Status::Complete { message, consumed }) => {
                body += black_box(message).len();
                frames += 1;
                pos += consumed;
            }
            other => panic!("frame decode at {pos}: {other:?}"),
        }
    }
    (frames, body)
}

// ---- criterion ------------------------------------------------------------------

fn benches(c: &mut Criterion, corpus: &Corpus, stream: &[u8]) {
    let mut g = c.benchmark_group("parse_walk");
    g.throughput(Throughput::Bytes(corpus.bytes() as u64));
    g.bench_function("dnstcp", |b| {
        b.iter(|| {
            black_box(&corpus.msgs)
                .iter()
                .fold(0u64, |a, m| a.wrapping_add(walk_dnstcp(m)))
        })
    });
    g.bench_function("hickory", |b| {
        b.iter(|| {
            black_box(&corpus.msgs)
                .iter()
                .fold(0u64, |a, m| a.wrapping_add(walk_hickory(m)))
        })
    });
    g.bench_function("domain", |b| {
        b.iter(|| {
            black_box(&corpus.msgs)
                .iter()
                .fold(0u64, |a, m| a.wrapping_add(walk_domain(m)))
        })
    });
    g.finish();

    let (dn, mn, hn) = (DnstcpNames::new(), DomainNames::new(), HickoryNames::new());
    for (group, query) in [("build_query", true), ("build_response", false)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        g.bench_function("dnstcp", |b| {
            let mut buf = [0u8; 512];
            b.iter(|| {
                let n = black_box(&dn);
                let len = if query {
                    build_query_dnstcp(&mut buf, n)
                } else {
                    build_response_dnstcp(&mut buf, n)
                };
                black_box(&buf[..len]);
            })
        });
        g.bench_function("hickory", |b| {
            let mut buf = Vec::with_capacity(512);
            b.iter(|| {
                let n = black_box(&hn);
                if query {
                    build_query_hickory(&mut buf, n);
                } else {
                    build_response_hickory(&mut buf, n);
                }
                black_box(&buf);
            })
        });
        g.bench_function("domain", |b| {
            let mut buf = Some(Vec::with_capacity(512));
            b.iter(|| {
                let n = black_box(&mn);
                let v = buf.take().unwrap();
                let v = if query {
                    build_query_domain(v, n)
                } else {
                    build_response_domain(v, n)
                };
                buf = Some(black_box(v));
            })
        });
        g.finish();
    }

    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decoder", |b| b.iter(|| decode_all(black_box(stream))));
    g.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; stream.len()];
        b.iter(|| {
            dst.copy_from_slice(black_box(stream));
            black_box(&mut dst);
        })
    });
    g.finish();
}

// ---- summary table --------------------------------------------------------------

/// Median time in ns of one iteration, from criterion's `estimates.json`, if this run
/// wrote it.
fn median_ns(dir: &Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let p = dir.join(group).join(id).join("new/estimates.json");
    let fresh = std::fs::metadata(&p).ok()?.modified().ok()? >= since;
    if !fresh {
        return None;
    }
    let s = std::fs::read_to_string(&p).ok()?;
    let rest = &s[s.find("\"median\"")?..];
    let rest = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse().ok()
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn print_table(dir: &Path, since: SystemTime, corpus: &Corpus, stream: &[u8], frames: usize) {
    const LIBS: [(&str, &str); 3] = [
        ("dnstcp", "dnstcp"),
        ("hickory", "hickory-proto 0.26.3"),
        ("domain", "domain 0.12.3"),
    ];
    let get = |g: &str, id: &str| median_ns(dir, g, id, since);
    let groups = ["parse_walk", "build_query", "build_response", "frame"];
    let ids = ["dnstcp", "hickory", "domain", "decoder", "memcpy"];
    if !groups
        .iter()
        .any(|g| ids.iter().any(|id| get(g, id).is_some()))
    {
        return; // test mode, or nothing ran
    }
    let n = corpus.msgs.len() as f64;
    let bytes = corpus.bytes() as f64;
    println!();
    println!("==== dnstcp wire benchmark summary ====");
    println!("speed-up = peer time / dnstcp time (above 1: dnstcp is faster)");
    let ours = get("parse_walk", "dnstcp");
    let any_parse = LIBS.iter().any(|(id, _)| get("parse_walk", id).is_some());
    if any_parse {
        println!();
        println!(
            "== parse + walk: {} corpus messages, {} bytes per pass (medians) ==",
            corpus.msgs.len(),
            corpus.bytes()
        );
        println!(
            "{:<22} {:>12} {:>14} {:>10} {:>16}",
            "library", "time/pass", "messages/s", "MB/s", "dnstcp speed-up"
        );
    }
    for (id, label) in LIBS {
        let Some(t) = get("parse_walk", id) else {
            continue;
        };
        let ratio = match (id, ours) {
            ("dnstcp", _) => "1.00x".to_string(),
            (_, Some(o)) => format!("{:.2}x", t / o),
            _ => "-".to_string(),
        };
        println!(
            "{:<22} {:>12} {:>14.0} {:>10.1} {:>16}",
            label,
            fmt_time(t),
            n / (t * 1e-9),
            bytes / (t * 1e-9) / 1e6,
            ratio
        );
    }
    for (group, what) in [
        ("build_query", "build a query (1 question + OPT)"),
        (
            "build_response",
            "build a response (question, 2 A, NS, glue A; compressed)",
        ),
    ] {
        if LIBS.iter().all(|(id, _)| get(group, id).is_none()) {
            continue;
        }
        println!();
        println!("== {what} (medians) ==");
        println!(
            "{:<22} {:>12} {:>14} {:>16}",
            "library", "time/msg", "messages/s", "dnstcp speed-up"
        );
        let ours = get(group, "dnstcp");
        for (id, label) in LIBS {
            let Some(t) = get(group, id) else {
                continue;
            };
            let ratio = match ours {
                Some(o) => format!("{:.2}x", t / o),
                None => "-".to_string(),
            };
            println!(
                "{:<22} {:>12} {:>14.0} {:>16}",
                label,
                fmt_time(t),
                1e9 / t,
                ratio
            );
        }
    }
    let dec = get("frame", "decoder");
    let cpy = get("frame", "memcpy");
    if dec.is_none() && cpy.is_none() {
        return;
    }
    println!();
    println!(
        "== frame decode: {} frames, {} bytes pipelined (medians) ==",
        frames,
        stream.len()
    );
    println!(
        "{:<22} {:>12} {:>10} {:>14}",
        "", "time/stream", "GB/s", "frames/s"
    );
    for (label, t) in [("frame::Decoder", dec), ("memcpy", cpy)] {
        if let Some(t) = t {
            println!(
                "{:<22} {:>12} {:>10.2} {:>14.0}",
                label,
                fmt_time(t),
                stream.len() as f64 / t,
                frames as f64 / (t * 1e-9)
            );
        }
    }
    if let (Some(d), Some(m)) = (dec, cpy) {
        println!("decoder speed / memcpy speed: {:.2}x", m / d);
    }
}

fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    // The bench binary lives in <target>/<profile>/deps/.
    std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.parent()?.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// `WIRE_PASSES=<what>:<lib>:<n>` runs `n` rounds of one benchmark body (`what` is
/// `parse`, `query` or `response`; `lib` is `dnstcp`, `hickory` or `domain`) and
/// exits, for counting instructions under callgrind (`benches/run_wire.sh
/// --callgrind`), which a shared, noisy machine cannot disturb.
fn passes_only(corpus: &Corpus) -> bool {
    let Ok(spec) = std::env::var("WIRE_PASSES") else {
        return false;
    };
    let mut it = spec.split(':');
    let (Some(what), Some(lib), Some(n)) = (it.next(), it.next(), it.next()) else {
        panic!("WIRE_PASSES=<parse|query|response>:<dnstcp|hickory|domain>:<n>");
    };
    let n: usize = n.parse().expect("WIRE_PASSES count");
    let mut acc = 0u64;
    if what == "parse" {
        let walk: fn(&[u8]) -> u64 = match lib {
            "dnstcp" => walk_dnstcp,
            "hickory" => walk_hickory,
            "domain" => walk_domain,
            other => panic!("unknown library {other}"),
        };
        for _ in 0..n {
            for m in black_box(&corpus.msgs) {
                acc = acc.wrapping_add(walk(m));
            }
        }
        black_box(acc);
        return true;
    }
    let query = match what {
        "query" => true,
        "response" => false,
        other => panic!("unknown benchmark {other}"),
    };
    match lib {
        "dnstcp" => {
            let (names, mut buf) = (DnstcpNames::new(), [0u8; 512]);
            for _ in 0..n {
                let len = if query {
                    build_query_dnstcp(&mut buf, black_box(&names))
                } else {
                    build_response_dnstcp(&mut buf, black_box(&names))
                };
                black_box(&buf[..len]);
            }
        }
        "hickory" => {
            let (names, mut buf) = (HickoryNames::new(), Vec::with_capacity(512));
            for _ in 0..n {
                if query {
                    build_query_hickory(&mut buf, black_box(&names));
                } else {
                    build_response_hickory(&mut buf, black_box(&names));
                }
                black_box(&buf);
            }
        }
        "domain" => {
            let (names, mut buf) = (DomainNames::new(), Vec::with_capacity(512));
            for _ in 0..n {
                buf = if query {
                    build_query_domain(buf, black_box(&names))
                } else {
                    build_response_domain(buf, black_box(&names))
                };
                black_box(&buf);
            }
        }
        other => panic!("unknown library {other}"),
    }
    true
}

fn main() {
    let corpus = Corpus::load();
    if passes_only(&corpus) {
        return;
    }
    check_agreement(&corpus);
    check_builders();
    let (stream, frames) = pipelined_stream(&corpus);
    assert_eq!(
        decode_all(&stream),
        (frames, stream.len() - frames * frame::PREFIX_LEN)
    );

    let dir = criterion_dir();
    let since = SystemTime::now();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .nresamples(20_000)
        .configure_from_args();
    benches(&mut c, &corpus, &stream);
    c.final_summary();
    print_table(&dir, since, &corpus, &stream, frames);
}
