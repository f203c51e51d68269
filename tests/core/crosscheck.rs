//! Cross-check of the wire parser against `hickory-proto` 0.26 and `domain` 0.12 over
//! the shared corpus. Each library's view of a message is turned into canonical text
//! lines (header, questions, one per record, EDNS), and the vectors are compared, so
//! a mismatch names the record and field.

use core::fmt::Write as _;

use dnstcp::wire::{EdnsOption, Message, RData};

use crate::common::corpus;

// ---- canonical text ------------------------------------------------------------

fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for x in b {
        write!(s, "{x:02x}").unwrap();
    }
    s
}

/// A name as lowercase presentation text with a trailing dot, from its labels
/// (root label excluded). Bytes outside `[a-z0-9_-]` are written as `\xNN`.
fn canon_name<'a>(labels: impl Iterator<Item = &'a [u8]>) -> String {
    let mut s = String::new();
    for l in labels {
        if l.is_empty() {
            continue;
        }
        for &c in l {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                s.push(c as char);
            } else {
                write!(s, "\\x{c:02x}").unwrap();
            }
        }
        s.push('.');
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

fn header_line(
    id: u16,
    qr: bool,
    opcode: u8,
    flags: [bool; 6],
    rcode: u16,
    counts: [usize; 4],
) -> String {
    let [aa, tc, rd, ra, ad, cd] = flags;
    format!(
        "id={id:04x} qr={qr} op={opcode} aa={aa} tc={tc} rd={rd} ra={ra} ad={ad} cd={cd} \
         rcode={rcode} counts={counts:?}"
    )
}

fn opt_line(udp: u16, ext: u8, version: u8, dnssec_ok: bool, opts: &[(u16, Vec<u8>)]) -> String {
    let mut s = format!("OPT udp={udp} ext={ext} ver={version} do={dnssec_ok} opts=");
    for (c, d) in opts {
        write!(s, "{c}:{};", hex(d)).unwrap();
    }
    s
}

#[derive(Debug, Default, PartialEq, Eq)]
struct View {
    header: String,
    questions: Vec<String>,
    /// "section owner class type ttl rdata", OPT excluded.
    records: Vec<String>,
    edns: Option<String>,
}

// ---- ours ----------------------------------------------------------------------

fn ours(bytes: &[u8]) -> View {
    let m = Message::new(bytes).unwrap();
    m.check().unwrap();
    let h = m.header();
    let mut v = View {
        header: header_line(
            m.id(),
            m.qr(),
            m.opcode().to_int(),
            [m.aa(), m.tc(), m.rd(), m.ra(), m.ad(), m.cd()],
            m.rcode().to_int(),
            [h.qdcount(), h.ancount(), h.nscount(), h.arcount()].map(usize::from),
        ),
        ..View::default()
    };
    for q in m.questions() {
        let q = q.unwrap();
        v.questions.push(format!(
            "{} {} {}",
            canon_name(q.name.labels()),
            q.qclass.to_int(),
            q.qtype.to_int()
        ));
    }
    for r in m.records().unwrap() {
        let r = r.unwrap();
        let data = r.data().unwrap();
        if let RData::Opt(o) = data {
            let opts: Vec<(u16, Vec<u8>)> = o
                .options()
                .map(|x| {
                    let x = x.unwrap();
                    let raw = match x {
                        EdnsOption::Keepalive(None) => vec![],
                        EdnsOption::Keepalive(Some(t)) => t.to_be_bytes().to_vec(),
                        EdnsOption::Padding(p) => p.to_vec(),
                        EdnsOption::Cookie(c) => [&c.client[..], c.server].concat(),
                        EdnsOption::Unknown { data, .. } => data.to_vec(),
                        _ => panic!("unexpected option {x:?}"),
                    };
                    (x.code(), raw)
                })
                .collect();
            v.edns = Some(opt_line(
                o.udp_size(),
                o.ext_rcode(),
                o.version(),
                o.dnssec_ok(),
                &opts,
            ));
            continue;
        }
        let rd = match data {
            RData::A(a) => a.to_string(),
            RData::Aaaa(a) => a.to_string(),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => canon_name(n.labels()),
            RData::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", canon_name(exchange.labels())),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => format!(
                "{} {} {serial} {refresh} {retry} {expire} {minimum}",
                canon_name(mname.labels()),
                canon_name(rname.labels())
            ),
            RData::Txt(t) => t.strings().map(hex).collect::<Vec<_>>().join(" "),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", canon_name(target.labels())),
            RData::Unknown { data, .. } => format!("raw {}", hex(data)),
            other => panic!("unexpected {other:?}"),
        };
        let sec = format!("{:?}", r.section()).to_lowercase();
        v.records.push(format!(
            "{sec} {} {} {} {} {rd}",
            canon_name(r.owner().labels()),
            r.raw_class(),
            r.rtype().to_int(),
            r.ttl()
        ));
    }
    v
}

// ---- hickory-proto ---------------------------------------------------------------

fn hickory(bytes: &[u8]) -> View {
    use hickory_proto::op::{Message as HMessage, MessageType};
    use hickory_proto::rr::RData as H;
    use hickory_proto::rr::rdata::opt::EdnsOption as HOpt;

    let m = HMessage::from_vec(bytes).expect("hickory parses the corpus");
    let md = &m.metadata;
    let hn = |n: &hickory_proto::rr::Name| canon_name(n.iter());
    let mut v = View {
        header: header_line(
            md.id,
            md.message_type == MessageType::Response,
            u8::from(md.op_code),
            [
                md.authoritative,
                md.truncation,
                md.recursion_desired,
                md.recursion_available,
                md.authentic_data,
                md.checking_disabled,
            ],
            u16::from(md.response_code),
            [
                m.queries.len(),
                m.answers.len(),
                m.authorities.len(),
                // hickory moves the OPT record into `edns`.
                m.additionals.len() + usize::from(m.edns.is_some()),
            ],
        ),
        ..View::default()
    };
    for q in &m.queries {
        v.questions.push(format!(
            "{} {} {}",
            hn(&q.name),
            u16::from(q.query_class),
            u16::from(q.query_type)
        ));
    }
    let sections = [
        ("answer", &m.answers),
        ("authority", &m.authorities),
        ("additional", &m.additionals),
    ];
    for (sec, records) in sections {
        for r in records.iter() {
            let rd = match &r.data {
                H::A(a) => a.0.to_string(),
                H::AAAA(a) => a.0.to_string(),
                H::NS(n) => hn(&n.0),
                H::CNAME(n) => hn(&n.0),
                H::PTR(n) => hn(&n.0),
                H::MX(mx) => format!("{} {}", mx.preference, hn(&mx.exchange)),
                H::SOA(s) => format!(
                    "{} {} {} {} {} {} {}",
                    hn(&s.mname),
                    hn(&s.rname),
                    s.serial,
                    s.refresh as u32,
                    s.retry as u32,
                    s.expire as u32,
                    s.minimum
                ),
                H::TXT(t) => t
                    .txt_data
                    .iter()
                    .map(|s| hex(s))
                    .collect::<Vec<_>>()
                    .join(" "),
                H::SRV(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, hn(&s.target)),
                H::Unknown { rdata, .. } => format!("raw {}", hex(&rdata.anything)),
                other => panic!("unexpected hickory rdata {other:?}"),
            };
            v.records.push(format!(
                "{sec} {} {} {} {} {rd}",
                hn(&r.name),
                u16::from(r.dns_class),
                u16::from(r.record_type()),
                r.ttl
            ));
        }
    }
    if let Some(e) = &m.edns {
        let opts: Vec<(u16, Vec<u8>)> = e
            .options()
            .options
            .iter()
            .map(|(code, o)| match o {
                HOpt::Unknown(c, d) => (*c, d.clone()),
                other => (u16::from(*code), format!("{other:?}").into_bytes()),
            })
            .collect();
        v.edns = Some(opt_line(
            e.max_payload(),
            e.rcode_high(),
            e.version(),
            e.flags().dnssec_ok,
            &opts,
        ));
    }
    v
}

// ---- domain --------------------------------------------------------------------

fn domain(bytes: &[u8]) -> View {
    use domain::base::name::ToLabelIter;
    use domain::base::opt::UnknownOptData;
    use domain::base::{Message as DMessage, ParsedName};
    use domain::rdata::AllRecordData;

    let m = DMessage::from_octets(bytes).expect("domain parses the corpus");
    let h = m.header();
    let c = m.header_counts();
    let dn = |n: &ParsedName<&[u8]>| canon_name(n.iter_labels().map(|l| l.as_ref()));
    let mut v = View {
        header: header_line(
            h.id(),
            h.qr(),
            h.opcode().to_int(),
            [h.aa(), h.tc(), h.rd(), h.ra(), h.ad(), h.cd()],
            m.opt_rcode().to_int(),
            [c.qdcount(), c.ancount(), c.nscount(), c.arcount()].map(usize::from),
        ),
        ..View::default()
    };
    for q in m.question() {
        let q = q.unwrap();
        v.questions.push(format!(
            "{} {} {}",
            dn(q.qname()),
            q.qclass().to_int(),
            q.qtype().to_int()
        ));
    }
    let mut section = m.answer().unwrap();
    for sec in ["answer", "authority", "additional"] {
        for r in section.by_ref() {
            let r = r.unwrap();
            let rec = r
                .to_record::<AllRecordData<&[u8], ParsedName<&[u8]>>>()
                .unwrap()
                .expect("AllRecordData takes every type");
            let class = rec.class().to_int();
            let ttl = rec.ttl().as_secs();
            let rd = match rec.data() {
                AllRecordData::Opt(o) => {
                    let opts: Vec<(u16, Vec<u8>)> = o
                        .iter::<UnknownOptData<&[u8]>>()
                        .map(|x| {
                            let x = x.unwrap();
                            (x.code().to_int(), x.data().to_vec())
                        })
                        .collect();
                    v.edns = Some(opt_line(
                        class,
                        (ttl >> 24) as u8,
                        (ttl >> 16) as u8,
                        ttl & 0x8000 != 0,
                        &opts,
                    ));
                    continue;
                }
                AllRecordData::A(a) => a.addr().to_string(),
                AllRecordData::Aaaa(a) => a.addr().to_string(),
                AllRecordData::Ns(n) => dn(n.nsdname()),
                AllRecordData::Cname(n) => dn(n.cname()),
                AllRecordData::Ptr(n) => dn(n.ptrdname()),
                AllRecordData::Mx(mx) => format!("{} {}", mx.preference(), dn(mx.exchange())),
                AllRecordData::Soa(s) => format!(
                    "{} {} {} {} {} {} {}",
                    dn(s.mname()),
                    dn(s.rname()),
                    s.serial().into_int(),
                    s.refresh().as_secs(),
                    s.retry().as_secs(),
                    s.expire().as_secs(),
                    s.minimum().as_secs()
                ),
                AllRecordData::Txt(t) => t.iter().map(hex).collect::<Vec<_>>().join(" "),
                AllRecordData::Srv(s) => format!(
                    "{} {} {} {}",
                    s.priority(),
                    s.weight(),
                    s.port(),
                    dn(s.target())
                ),
                AllRecordData::Unknown(u) => format!("raw {}", hex(u.data())),
                other => panic!("unexpected domain rdata {other:?}"),
            };
            v.records.push(format!(
                "{sec} {} {class} {} {ttl} {rd}",
                dn(rec.owner()),
                rec.rtype().to_int()
            ));
        }
        match section.next_section().unwrap() {
            Some(next) => section = next,
            None => break,
        }
    }
    v
}

// ---- the comparisons -------------------------------------------------------------

fn assert_same(name: &str, lib: &str, ours: &View, theirs: &View) {
    assert_eq!(ours.header, theirs.header, "{name}: header, ours vs {lib}");
    assert_eq!(
        ours.questions, theirs.questions,
        "{name}: questions, ours vs {lib}"
    );
    assert_eq!(ours.records.len(), theirs.records.len(), "{name}: {lib}");
    for (i, (a, b)) in ours.records.iter().zip(&theirs.records).enumerate() {
        assert_eq!(a, b, "{name}: record {i}, ours vs {lib}");
    }
    assert_eq!(ours.edns, theirs.edns, "{name}: EDNS, ours vs {lib}");
}

#[test]
fn w5_crosscheck_hickory() {
    let mut n = 0;
    for (name, bytes) in corpus() {
        let a = ours(&bytes);
        let b = hickory(&bytes);
        assert_same(&name, "hickory-proto", &a, &b);
        n += a.records.len();
    }
    assert!(n > 100, "{n} records compared");
}

#[test]
fn w5_crosscheck_domain() {
    let mut n = 0;
    for (name, bytes) in corpus() {
        let a = ours(&bytes);
        let b = domain(&bytes);
        assert_same(&name, "domain", &a, &b);
        n += a.records.len();
    }
    assert!(n > 100, "{n} records compared");
}

#[test]
fn w5_crosscheck_builder_output() {
    // What our builder writes, the other parsers read the same way.
    let mut out = vec![0u8; 65535];
    for (name, bytes) in corpus() {
        let m = Message::new(&bytes).unwrap();
        let len = dnstcp::_fuzz::rebuild(&m, &mut out).unwrap();
        let copy = &out[..len];
        let a = ours(copy);
        assert_eq!(a, ours(&bytes), "{name}: rebuilt copy");
        assert_same(&name, "hickory-proto (rebuilt)", &a, &hickory(copy));
        assert_same(&name, "domain (rebuilt)", &a, &domain(copy));
    }
}

/// Our canonical EDNS line with the UDP size read as RFC 6891 §6.2.5 says (below
/// 512 counts as 512), the way hickory reports it.
fn clamp_udp(v: &View) -> View {
    let edns = v.edns.as_ref().map(|e| {
        let rest = e.strip_prefix("OPT udp=").unwrap();
        let (n, tail) = rest.split_once(' ').unwrap();
        let n: u16 = n.parse().unwrap();
        format!("OPT udp={} {tail}", n.max(512))
    });
    View {
        header: v.header.clone(),
        questions: v.questions.clone(),
        records: v.records.clone(),
        edns,
    }
}

#[test]
fn w5_crosscheck_single_byte_mutations() {
    // Differential run over mutated corpus messages. Where all three parsers accept,
    // they must agree; where we reject and another accepts, it must be one of our
    // deliberate strict points: trailing data (W6), pointers into the header (W1),
    // malformed EDNS options (E1/E2).
    use core::panic::AssertUnwindSafe;
    use std::collections::BTreeMap;
    use std::panic::catch_unwind;

    let mut tally: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (name, bytes) in corpus() {
        if bytes.len() > 600 {
            continue;
        }
        let mut m = bytes.clone();
        for i in 0..m.len() {
            let orig = m[i];
            for v in [orig ^ 0xFF, orig.wrapping_add(1), 0x00, 0xC0] {
                m[i] = v;
                let at = format!("{name}@{i} {orig:02x}->{v:02x}");
                let a = catch_unwind(AssertUnwindSafe(|| ours(&m)));
                let h = catch_unwind(AssertUnwindSafe(|| hickory(&m)));
                let d = catch_unwind(AssertUnwindSafe(|| domain(&m)));
                if let (Ok(a), Ok(h), Ok(d)) = (&a, &h, &d) {
                    assert_same(&at, "domain", a, d);
                    assert_same(&at, "hickory-proto", &clamp_udp(a), h);
                }
                let mut key = format!(
                    "ours={} hickory={} domain={}",
                    a.is_ok(),
                    h.is_ok(),
                    d.is_ok()
                );
                if a.is_err() && (h.is_ok() || d.is_ok()) {
                    let e = Message::new(&m)
                        .and_then(|x| x.check().map(|_| ()))
                        .unwrap_err();
                    assert!(
                        matches!(
                            e,
                            dnstcp::wire::Error::TrailingData
                                | dnstcp::wire::Error::PointerIntoHeader
                                | dnstcp::wire::Error::BadOption(_)
                        ),
                        "{at}: we reject with {e:?} what another parser accepts"
                    );
                    key += &format!(" (ours: {e:?})");
                }
                let t = tally.entry(key).or_insert((0, at));
                t.0 += 1;
            }
            m[i] = orig;
        }
    }
    for (k, (n, example)) in &tally {
        eprintln!("{n:6} {k}  e.g. {example}");
    }
}
