//! Tests: the zone module (master files, authoritative answers, AXFR) against the
//! bundled zone `examples/zones/example.test.zone`.

use std::sync::OnceLock;

use dnstcp::wire::{Builder, Class, Message, NameBuf, Opcode, RData, Rcode, Rtype};
use dnstcp::zone::{AnswerOptions, AxfrState, SERVER_UDP_SIZE, Zone, ZoneError};

use crate::common::alloc::assert_no_alloc;

fn zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/zones/example.test.zone");
        Zone::from_file(&path, Some("example.test.")).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// How to build a test query.
#[derive(Clone, Copy)]
struct Q<'a> {
    name: &'a str,
    rtype: Rtype,
    class: Class,
    opcode: Opcode,
    edns: Option<u8>,
}

impl<'a> Q<'a> {
    fn new(name: &'a str, rtype: Rtype) -> Self {
        Q {
            name,
            rtype,
            class: Class::In,
            opcode: Opcode::Query,
            edns: None,
        }
    }
    fn edns(mut self, version: u8) -> Self {
        self.edns = Some(version);
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let name: NameBuf = self.name.parse().unwrap();
        let mut b = Builder::new(&mut buf, 0xBEEF);
        b.header_mut().set_rd(true);
        b.header_mut().set_opcode(self.opcode);
        b.push_question(&name.as_name(), self.rtype, self.class)
            .unwrap();
        if let Some(v) = self.edns {
            b.push_opt(4096, 0, v, false, |_| Ok(())).unwrap();
        }
        let n = b.finish();
        buf.truncate(n);
        buf
    }
}

fn respond(query: &[u8], cap: usize) -> Vec<u8> {
    let msg = Message::new(query).unwrap();
    let mut out = vec![0u8; cap];
    let n = zone().answer(&msg, &mut out);
    out.truncate(n);
    out
}

fn ask(q: Q<'_>) -> Vec<u8> {
    respond(&q.bytes(), 65535)
}

/// A record as (owner, type, ttl, rdata) in presentation form.
type Row = (String, Rtype, u32, String);

fn rows(msg: &Message<'_>, section: &str) -> Vec<Row> {
    let recs = match section {
        "answer" => msg.answers(),
        "authority" => msg.authority(),
        _ => msg.additional(),
    }
    .unwrap();
    recs.map(|r| {
        let r = r.unwrap();
        (
            r.owner().to_string(),
            r.rtype(),
            r.ttl(),
            r.data().unwrap().to_string(),
        )
    })
    .filter(|r| r.1 != Rtype::Opt)
    .collect()
}

fn data_of(rows: &[Row], rtype: Rtype) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .filter(|r| r.1 == rtype)
        .map(|r| r.3.clone())
        .collect();
    v.sort();
    v
}

fn check_header(msg: &Message<'_>, rcode: Rcode, aa: bool) {
    assert!(msg.qr(), "QR set");
    assert_eq!(msg.id(), 0xBEEF, "ID copied");
    assert!(msg.rd(), "RD copied");
    assert_eq!(msg.rcode(), rcode);
    assert_eq!(msg.aa(), aa, "AA");
    assert!(!msg.tc());
    msg.check().expect("response is well formed");
}

fn soa_neg(msg: &Message<'_>) {
    let auth = rows(msg, "authority");
    assert_eq!(auth.len(), 1, "{auth:?}");
    assert_eq!(auth[0].0, "example.test.");
    assert_eq!(auth[0].1, Rtype::Soa);
    assert_eq!(
        auth[0].2, 300,
        "negative TTL = min(SOA TTL 3600, MINIMUM 300)"
    );
}

// ---- the bundled zone, per type ---------------------------------------------------

#[test]
fn zone_loads_bundled_file() {
    let z = zone();
    assert_eq!(z.origin().to_string(), "example.test.");
    assert_eq!(z.serial(), 2024060101);
    assert!(z.len() > 40);
    // Loading without an explicit origin works too: the file sets $ORIGIN.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/zones/example.test.zone");
    assert_eq!(Zone::from_file(&path, None).unwrap().len(), z.len());
}

#[test]
fn zone_a_and_aaaa() {
    let r = ask(Q::new("www.example.test", Rtype::A));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(
        m.first_question().unwrap().unwrap().name.to_string(),
        "www.example.test."
    );
    let ans = rows(&m, "answer");
    assert_eq!(data_of(&ans, Rtype::A), ["192.0.2.80", "192.0.2.81"]);
    assert!(
        ans.iter()
            .all(|r| r.0 == "www.example.test." && r.2 == 3600)
    );
    assert!(rows(&m, "authority").is_empty());

    let r = ask(Q::new("WWW.Example.TEST", Rtype::Aaaa));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(data_of(&rows(&m, "answer"), Rtype::Aaaa), ["2001:db8::80"]);

    // Inherited owners, TTL before/after class, omitted class and TTL.
    let r = ask(Q::new("ns2.example.test", Rtype::A));
    let ans = rows(&Message::new(&r).unwrap(), "answer");
    assert_eq!(ans[0].2, 7200);
    let r = ask(Q::new("mail2.example.test", Rtype::Aaaa));
    let ans = rows(&Message::new(&r).unwrap(), "answer");
    assert_eq!(
        ans,
        [(
            "mail2.example.test.".into(),
            Rtype::Aaaa,
            3600,
            "2001:db8:1::25".into()
        )]
    );
    let r = ask(Q::new("ftp.example.test", Rtype::A));
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer").len(), 1);
}

#[test]
fn zone_soa_ns_mx_txt_at_apex() {
    let r = ask(Q::new("example.test", Rtype::Soa));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    let ans = rows(&m, "answer");
    assert_eq!(
        data_of(&ans, Rtype::Soa),
        ["ns1.example.test. hostmaster.example.test. 2024060101 7200 3600 1209600 300"]
    );

    let r = ask(Q::new("example.test", Rtype::Ns));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Ns),
        ["ns1.example.test.", "ns2.example.test."]
    );
    let add = rows(&m, "additional");
    assert_eq!(data_of(&add, Rtype::A), ["192.0.2.53", "198.51.100.53"]);
    assert_eq!(
        data_of(&add, Rtype::Aaaa),
        ["2001:db8:1::53", "2001:db8::53"]
    );

    let r = ask(Q::new("example.test", Rtype::Mx));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Mx),
        ["10 mail.example.test.", "20 mail2.example.test."]
    );
    let add = rows(&m, "additional");
    assert_eq!(data_of(&add, Rtype::A), ["192.0.2.25", "198.51.100.25"]);
    assert_eq!(data_of(&add, Rtype::Aaaa).len(), 2);

    let r = ask(Q::new("example.test", Rtype::Txt));
    let m = Message::new(&r).unwrap();
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Txt),
        ["\"v=spf1 mx -all\""]
    );
}

#[test]
fn zone_srv_ptr_generic() {
    let r = ask(Q::new("_sip._tcp.example.test", Rtype::Srv));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Srv),
        [
            "10 60 5060 sip1.example.test.",
            "20 40 5060 sip2.example.test."
        ]
    );
    assert_eq!(
        data_of(&rows(&m, "additional"), Rtype::A),
        ["192.0.2.60", "192.0.2.61"]
    );

    let r = ask(Q::new("1.2.0.192.in-addr.example.test", Rtype::Ptr));
    let m = Message::new(&r).unwrap();
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Ptr),
        ["www.example.test."]
    );

    let r = ask(Q::new("generic.example.test", Rtype::Unknown(65280)));
    let m = Message::new(&r).unwrap();
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Unknown(65280)),
        ["\\# 4 0a000001"]
    );
}

#[test]
fn zone_any_returns_every_rrset() {
    let r = ask(Q::new("www.example.test", Rtype::Any));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(rows(&m, "answer").len(), 3);
}

// ---- negative answers ---------------------------------------------------------------

#[test]
fn zone_nxdomain_with_soa() {
    let r = ask(Q::new("nope.example.test", Rtype::A));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NxDomain, true);
    assert!(rows(&m, "answer").is_empty());
    soa_neg(&m);
}

#[test]
fn zone_nodata_with_soa() {
    let r = ask(Q::new("www.example.test", Rtype::Mx));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert!(rows(&m, "answer").is_empty());
    soa_neg(&m);
}

#[test]
fn zone_empty_non_terminal_is_nodata() {
    for name in [
        "b.ent.example.test",
        "ent.example.test",
        "wild.example.test",
    ] {
        let r = ask(Q::new(name, Rtype::A));
        let m = Message::new(&r).unwrap();
        check_header(&m, Rcode::NoError, true);
        assert!(rows(&m, "answer").is_empty(), "{name}");
        soa_neg(&m);
    }
    // Below an ENT without a wildcard: NXDOMAIN.
    let r = ask(Q::new("x.b.ent.example.test", Rtype::A));
    check_header(&Message::new(&r).unwrap(), Rcode::NxDomain, true);
}

// ---- CNAME ------------------------------------------------------------------------

#[test]
fn zone_cname_chain_followed() {
    let r = ask(Q::new("alias.example.test", Rtype::A));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    let ans = rows(&m, "answer");
    assert_eq!(ans.len(), 4, "{ans:?}");
    assert_eq!(
        (ans[0].0.as_str(), ans[0].1, ans[0].2, ans[0].3.as_str()),
        (
            "alias.example.test.",
            Rtype::Cname,
            300,
            "alias2.example.test."
        )
    );
    assert_eq!(
        (ans[1].0.as_str(), ans[1].3.as_str()),
        ("alias2.example.test.", "www.example.test.")
    );
    assert_eq!(data_of(&ans[2..], Rtype::A), ["192.0.2.80", "192.0.2.81"]);
    assert_eq!(ans[2].0, "www.example.test.");

    // Asking for the CNAME itself does not follow it.
    let r = ask(Q::new("alias.example.test", Rtype::Cname));
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer").len(), 1);

    // A chain that ends in NODATA keeps the CNAMEs and adds the SOA.
    let r = ask(Q::new("alias.example.test", Rtype::Mx));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(rows(&m, "answer").len(), 2);
    soa_neg(&m);

    // Out of the zone: only the CNAME.
    let r = ask(Q::new("outside.example.test", Rtype::A));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(
        data_of(&rows(&m, "answer"), Rtype::Cname),
        ["www.example.net."]
    );
}

#[test]
fn zone_cname_loop_is_bounded() {
    let z = Zone::parse(
        "$ORIGIN l.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n NS ns\nns A 192.0.2.1\n\
         a CNAME b\nb CNAME a\n",
        "loop.zone",
        None,
    )
    .unwrap();
    let q = {
        let mut buf = vec![0u8; 512];
        let name: NameBuf = "a.l.test".parse().unwrap();
        let mut b = Builder::new(&mut buf, 1);
        b.push_question(&name.as_name(), Rtype::A, Class::In)
            .unwrap();
        let n = b.finish();
        buf.truncate(n);
        buf
    };
    let mut out = vec![0u8; 4096];
    let n = z.answer(&Message::new(&q).unwrap(), &mut out);
    let m = Message::new(&out[..n]).unwrap();
    let count = m.answers().unwrap().count();
    assert!(
        (2..=dnstcp::zone::MAX_CNAME_CHAIN + 1).contains(&count),
        "{count}"
    );
}

// ---- wildcards -------------------------------------------------------------------

#[test]
fn zone_wildcard_synthesis() {
    let r = ask(Q::new("anything.wild.example.test", Rtype::A));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    let ans = rows(&m, "answer");
    assert_eq!(
        ans,
        [(
            "anything.wild.example.test.".into(),
            Rtype::A,
            3600,
            "192.0.2.99".into()
        )]
    );
    // Several labels below the closest encloser.
    let r = ask(Q::new("x.y.wild.example.test", Rtype::Txt));
    let m = Message::new(&r).unwrap();
    let ans = rows(&m, "answer");
    assert_eq!(ans[0].0, "x.y.wild.example.test.");
    assert_eq!(ans[0].3, "\"synthesised from *.wild\"");
    // Wildcard NODATA.
    let r = ask(Q::new("z.wild.example.test", Rtype::Mx));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    soa_neg(&m);
    // An existing name is never synthesised.
    let r = ask(Q::new("host.wild.example.test", Rtype::Txt));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert!(rows(&m, "answer").is_empty());
    // Below an existing name under the wildcard: closest encloser is host.wild.
    let r = ask(Q::new("a.host.wild.example.test", Rtype::A));
    check_header(&Message::new(&r).unwrap(), Rcode::NxDomain, true);
}

// ---- referral ---------------------------------------------------------------------

#[test]
fn zone_referral_with_glue() {
    for (name, t) in [
        ("www.child.example.test", Rtype::A),
        ("child.example.test", Rtype::Ns),
        ("deep.er.child.example.test", Rtype::Mx),
    ] {
        let r = ask(Q::new(name, t));
        let m = Message::new(&r).unwrap();
        check_header(&m, Rcode::NoError, false);
        assert!(rows(&m, "answer").is_empty(), "{name}");
        let auth = rows(&m, "authority");
        assert_eq!(
            data_of(&auth, Rtype::Ns),
            ["ns1.child.example.test.", "ns2.child.example.test."]
        );
        assert!(auth.iter().all(|r| r.0 == "child.example.test."));
        let add = rows(&m, "additional");
        assert_eq!(data_of(&add, Rtype::A), ["192.0.2.201", "192.0.2.202"]);
        assert_eq!(data_of(&add, Rtype::Aaaa), ["2001:db8:2::201"]);
    }
}

// ---- errors ------------------------------------------------------------------------

#[test]
fn zone_refused_outside_zone_and_other_class() {
    for q in [
        Q::new("www.example.com", Rtype::A),
        Q::new("test", Rtype::Soa),
        Q {
            class: Class::Ch,
            ..Q::new("www.example.test", Rtype::A)
        },
    ] {
        let r = ask(q);
        let m = Message::new(&r).unwrap();
        check_header(&m, Rcode::Refused, false);
        assert_eq!(m.header().qdcount(), 1, "question echoed");
        assert_eq!(m.header().ancount() + m.header().nscount(), 0);
    }
}

#[test]
fn zone_formerr_for_bad_qdcount_and_malformed() {
    // QDCOUNT 0.
    let mut buf = vec![0u8; 64];
    let mut b = Builder::new(&mut buf, 0xBEEF);
    b.header_mut().set_rd(true);
    let n = b.finish();
    let r = respond(&buf[..n], 512);
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::FormErr, false);
    // QDCOUNT 2.
    let mut buf = vec![0u8; 128];
    let name: NameBuf = "www.example.test".parse().unwrap();
    let mut b = Builder::new(&mut buf, 0xBEEF);
    b.header_mut().set_rd(true);
    b.push_question(&name.as_name(), Rtype::A, Class::In)
        .unwrap();
    b.push_question(&name.as_name(), Rtype::Aaaa, Class::In)
        .unwrap();
    let n = b.finish();
    let r = respond(&buf[..n], 512);
    check_header(&Message::new(&r).unwrap(), Rcode::FormErr, false);
    // Trailing garbage after the question.
    let mut q = Q::new("www.example.test", Rtype::A).bytes();
    q.extend_from_slice(&[1, 2, 3]);
    let r = respond(&q, 512);
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::FormErr, false);
    // A QDCOUNT larger than the message.
    let mut q = Q::new("www.example.test", Rtype::A).bytes();
    q[5] = 3;
    let r = respond(&q, 512);
    check_header(&Message::new(&r).unwrap(), Rcode::FormErr, false);
}

#[test]
fn zone_notimp_for_other_opcodes() {
    for op in [Opcode::Notify, Opcode::Update, Opcode::Status] {
        let r = ask(Q {
            opcode: op,
            ..Q::new("www.example.test", Rtype::A)
        });
        let m = Message::new(&r).unwrap();
        check_header(&m, Rcode::NotImp, false);
        assert_eq!(m.opcode(), op);
    }
}

#[test]
fn zone_responses_are_not_answered() {
    let mut q = Q::new("www.example.test", Rtype::A).bytes();
    q[2] |= 0x80;
    assert!(respond(&q, 512).is_empty());
}

// ---- EDNS ---------------------------------------------------------------------------

#[test]
fn zone_opt_only_when_query_had_one() {
    let r = ask(Q::new("www.example.test", Rtype::A));
    assert!(Message::new(&r).unwrap().opt().unwrap().is_none());

    let r = ask(Q::new("www.example.test", Rtype::A).edns(0));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    let opt = m.opt().unwrap().expect("our OPT");
    assert_eq!(opt.udp_size(), SERVER_UDP_SIZE);
    assert_eq!(opt.version(), 0);
    assert_eq!(opt.keepalive(), None);

    // NXDOMAIN with EDNS keeps both the SOA and the OPT.
    let r = ask(Q::new("nope.example.test", Rtype::A).edns(0));
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NxDomain, true);
    assert!(m.opt().unwrap().is_some());
}

#[test]
fn zone_keepalive_option_added_to_opt() {
    let opts = AnswerOptions::with_keepalive(Some(300));
    for (edns, want) in [(Some(0), Some(Some(Some(300)))), (None, None)] {
        let q = Q {
            edns,
            ..Q::new("www.example.test", Rtype::A)
        }
        .bytes();
        let mut out = vec![0u8; 1024];
        let n = zone().answer_with(&Message::new(&q).unwrap(), &mut out, &opts);
        let m = Message::new(&out[..n]).unwrap();
        assert_eq!(m.opt().unwrap().map(|o| o.keepalive()), want);
        if edns.is_none() {
            assert!(m.opt().unwrap().is_none());
        }
    }
}

#[test]
fn zone_badvers_for_edns_version_1() {
    let r = ask(Q::new("www.example.test", Rtype::A).edns(1));
    let m = Message::new(&r).unwrap();
    assert_eq!(m.rcode(), Rcode::BadVers);
    assert_eq!(m.header().rcode_low(), 0);
    let opt = m.opt().unwrap().expect("OPT carries the extended RCODE");
    assert_eq!(opt.ext_rcode(), 1);
    assert_eq!(opt.version(), 0);
    assert_eq!(m.header().ancount(), 0);
    m.check().unwrap();
}

// ---- size and truncation ------------------------------------------------------------

#[test]
fn zone_big_txt_sizes() {
    let r = ask(Q::new("big512.example.test", Rtype::Txt));
    assert!(r.len() > 512, "big512 answer is {} octets", r.len());
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(rows(&m, "answer").len(), 3);

    let r = ask(Q::new("big1200.example.test", Rtype::Txt).edns(0));
    assert!(r.len() > 1200, "big1200 answer is {} octets", r.len());
    let m = Message::new(&r).unwrap();
    check_header(&m, Rcode::NoError, true);
    assert_eq!(rows(&m, "answer").len(), 5);
}

#[test]
fn zone_tc_when_answer_does_not_fit() {
    for edns in [None, Some(0)] {
        let q = Q {
            edns,
            ..Q::new("big1200.example.test", Rtype::Txt)
        }
        .bytes();
        let r = respond(&q, 512);
        assert!(r.len() <= 512);
        let m = Message::new(&r).unwrap();
        assert!(m.tc(), "TC set");
        assert!(m.aa() || !m.aa());
        assert_eq!(m.id(), 0xBEEF);
        assert_eq!(m.header().qdcount(), 1, "question kept");
        assert_eq!(
            m.first_question().unwrap().unwrap().name.to_string(),
            "big1200.example.test."
        );
        assert_eq!(m.header().ancount(), 0);
        assert_eq!(m.opt().unwrap().is_some(), edns.is_some());
        m.check().unwrap();
    }
    // A buffer that holds only a header.
    let q = Q::new("www.example.test", Rtype::A).bytes();
    let r = respond(&q, 12);
    let m = Message::new(&r).unwrap();
    assert!(m.tc());
    // Shorter than a header: nothing.
    assert!(respond(&q, 11).is_empty());
}

#[test]
fn zone_answer_does_not_allocate() {
    let z = zone();
    let queries: Vec<Vec<u8>> = [
        Q::new("www.example.test", Rtype::A).edns(0),
        Q::new("alias.example.test", Rtype::A),
        Q::new("example.test", Rtype::Mx),
        Q::new("x.wild.example.test", Rtype::A),
        Q::new("www.child.example.test", Rtype::A),
        Q::new("nope.example.test", Rtype::A),
        Q::new("big1200.example.test", Rtype::Txt),
        Q::new("www.example.com", Rtype::A),
    ]
    .iter()
    .map(Q::bytes)
    .collect();
    let mut buf = vec![0u8; 65535];
    let mut small = vec![0u8; 512];
    for q in &queries {
        let msg = Message::new(q).unwrap();
        let n = assert_no_alloc("answer", || z.answer(&msg, &mut buf));
        assert!(n > 12);
        assert_no_alloc("answer", || z.answer(&msg, &mut small));
    }
    let q = Q::new("example.test", Rtype::Axfr).bytes();
    let msg = Message::new(&q).unwrap();
    let mut st = AxfrState::new();
    assert_no_alloc("axfr", || {
        while z.axfr_messages(&msg, 1024, &mut buf, &mut st).is_some() {}
    });
}

// ---- AXFR ---------------------------------------------------------------------------

fn transfer(max_len: usize, edns: bool) -> Vec<Vec<u8>> {
    let mut q = Q::new("example.test", Rtype::Axfr);
    if edns {
        q = q.edns(0);
    }
    let q = q.bytes();
    let msg = Message::new(&q).unwrap();
    let mut st = AxfrState::new();
    let mut out = vec![0u8; 65535];
    let mut msgs = Vec::new();
    while let Some(n) = zone().axfr_messages(&msg, max_len, &mut out, &mut st) {
        assert!(n <= max_len.max(12));
        msgs.push(out[..n].to_vec());
        assert!(msgs.len() < 1000);
    }
    assert!(st.is_done());
    assert_eq!(st.messages(), msgs.len());
    msgs
}

fn axfr_records(msgs: &[Vec<u8>]) -> Vec<Row> {
    let mut all = Vec::new();
    for (i, bytes) in msgs.iter().enumerate() {
        let m = Message::new(bytes).unwrap();
        m.check().unwrap();
        assert!(m.qr() && m.aa() && !m.tc());
        assert_eq!(m.id(), 0xBEEF);
        assert_eq!(m.rcode(), Rcode::NoError);
        assert_eq!(
            m.header().qdcount(),
            u16::from(i == 0),
            "question in the first only"
        );
        all.extend(rows(&m, "answer"));
    }
    all
}

#[test]
fn zone_axfr_soa_first_and_last_every_record_once() {
    let msgs = transfer(16384, false);
    assert_eq!(msgs.len(), 1);
    let all = axfr_records(&msgs);
    let z = zone();
    assert_eq!(all.len(), z.len() + 1);
    assert_eq!(all[0].1, Rtype::Soa);
    assert_eq!(all.last().unwrap().1, Rtype::Soa);
    assert_eq!(all[0], *all.last().unwrap());
    let mut middle: Vec<String> = all[1..all.len() - 1]
        .iter()
        .map(|r| format!("{} {} {} {}", r.0.to_lowercase(), r.1, r.2, r.3))
        .collect();
    assert!(all[1..all.len() - 1].iter().all(|r| r.1 != Rtype::Soa));
    let n = middle.len();
    middle.sort();
    middle.dedup();
    assert_eq!(middle.len(), n, "every record exactly once");
    for want in [
        "www.example.test. A 3600 192.0.2.80",
        "*.wild.example.test. A 3600 192.0.2.99",
        "ns1.child.example.test. A 3600 192.0.2.201",
        "_sip._tcp.example.test. SRV 3600 20 40 5060 sip2.example.test.",
    ] {
        assert!(middle.iter().any(|m| m == want), "{want} missing");
    }
}

#[test]
fn zone_axfr_spans_messages_when_small() {
    let one = axfr_records(&transfer(16384, false));
    let msgs = transfer(600, true);
    assert!(msgs.len() >= 4, "{} messages", msgs.len());
    for m in &msgs {
        assert!(Message::new(m).unwrap().opt().unwrap().is_some());
    }
    assert_eq!(axfr_records(&msgs), one, "same records in the same order");
}

#[test]
fn zone_axfr_errors() {
    // AXFR for a name that is not the apex.
    let q = Q::new("www.example.test", Rtype::Axfr).bytes();
    let msg = Message::new(&q).unwrap();
    let mut st = AxfrState::new();
    let mut out = vec![0u8; 4096];
    let n = zone().axfr_messages(&msg, 4096, &mut out, &mut st).unwrap();
    assert_eq!(Message::new(&out[..n]).unwrap().rcode(), Rcode::NotAuth);
    assert!(
        zone()
            .axfr_messages(&msg, 4096, &mut out, &mut st)
            .is_none()
    );
    // A record that never fits: SERVFAIL, then done.
    let q = Q::new("example.test", Rtype::Axfr).bytes();
    let msg = Message::new(&q).unwrap();
    let mut st = AxfrState::new();
    let n = zone().axfr_messages(&msg, 40, &mut out, &mut st).unwrap();
    assert_eq!(Message::new(&out[..n]).unwrap().rcode(), Rcode::ServFail);
    assert!(zone().axfr_messages(&msg, 40, &mut out, &mut st).is_none());
    // Plain answer() refuses transfers; a normal query through axfr_messages is one message.
    let r = respond(&q, 4096);
    assert_eq!(Message::new(&r).unwrap().rcode(), Rcode::Refused);
    let q = Q::new("www.example.test", Rtype::A).bytes();
    let msg = Message::new(&q).unwrap();
    let mut st = AxfrState::new();
    assert!(
        zone()
            .axfr_messages(&msg, 4096, &mut out, &mut st)
            .is_some()
    );
    assert!(
        zone()
            .axfr_messages(&msg, 4096, &mut out, &mut st)
            .is_none()
    );
}

// ---- master-file syntax ---------------------------------------------------------------

const HEAD: &str =
    "$ORIGIN t.test.\n$TTL 60\n@ IN SOA ns h 1 2 3 4 5\n  IN NS ns\nns IN A 192.0.2.1\n";

fn load(body: &str) -> Result<Zone, ZoneError> {
    Zone::parse(&format!("{HEAD}{body}"), "t.zone", None)
}

fn err_at(body: &str, line: usize, needle: &str) {
    let e = load(body).expect_err(body);
    assert_eq!(e.file, "t.zone");
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(needle), "{e}");
}

#[test]
fn zone_syntax_errors_have_line_numbers() {
    err_at("a A 1.2.3\n", 6, "bad IPv4 address \"1.2.3\"");
    let e = load("ok A 192.0.2.2\n\nb A 1.2.3\n").unwrap_err();
    assert_eq!(e.to_string(), "t.zone:8: bad IPv4 address \"1.2.3\"");
    err_at("a AAAA 2001:db8::zz\n", 6, "bad IPv6 address");
    err_at("a FOO bar\n", 6, "unknown record type \"FOO\"");
    err_at("a TXT ( \"x\"\n\n", 6, "unbalanced '('");
    err_at("a A 192.0.2.9\nb A 192.0.2.8 )\n", 7, "unbalanced ')'");
    err_at("$INCLUDE other.zone\n", 6, "$INCLUDE is not supported");
    let long = "x".repeat(64);
    err_at(&format!("{long} A 192.0.2.1\n"), 6, "label longer than 63");
    err_at("a MX 10\n", 6, "missing MX exchange");
    err_at("a MX 70000 b\n", 6, "bad MX preference");
    err_at("a TXT \"unterminated\n", 6, "unterminated");
    err_at("a CH TXT \"x\"\n", 6, "only IN");
    err_at("a A 192.0.2.1 extra\n", 6, "unexpected \"extra\"");
    err_at("a CNAME b\na A 192.0.2.1\n", 7, "CNAME and other data");
    err_at("www.example.com. A 192.0.2.1\n", 6, "outside the zone");
    err_at("@ SOA ns h 2 2 3 4 5\n", 6, "more than one SOA");
    err_at("$FOO 1\n", 6, "unknown directive");
    err_at("a TXT \"\\300\"\n", 6, "above 255");
}

#[test]
fn zone_missing_soa_or_ns() {
    let e = Zone::parse("$ORIGIN t.test.\n$TTL 60\nns A 192.0.2.1\n", "t.zone", None).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.contains("no SOA"), "{e}");
    assert_eq!(e.to_string(), "t.zone: no SOA record");
    let e = Zone::parse(
        "$ORIGIN t.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n",
        "t.zone",
        None,
    )
    .unwrap_err();
    assert!(e.message.contains("no NS"), "{e}");
    let e = Zone::parse("www A 192.0.2.1\n", "t.zone", None).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("before any $ORIGIN"), "{e}");
    let e = Zone::from_file("/nonexistent/x.zone", None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/x.zone: cannot read"),
        "{e}"
    );
}

#[test]
fn zone_syntax_features() {
    let z = load(
        "; comment line\n\
         multi 1h30m IN TXT ( \"a b\" ; comment inside\n   plain \"q\\\"uote\" \"\\065\\066\" )\n\
         esc\\.dot A 192.0.2.7\n\
         $ORIGIN sub.t.test.\n\
         inner 300 IN A 192.0.2.8\n\
         @ A 192.0.2.9\n\
         gen TYPE65280 \\# 3 abcdef\n\
         mx2 MX \\# 6 000a 026e7300\n",
    );
    let z = z.unwrap_or_else(|e| panic!("{e}"));
    let ask_z = |name: &str, t: Rtype| {
        let mut buf = vec![0u8; 512];
        let n: NameBuf = name.parse().unwrap();
        let mut b = Builder::new(&mut buf, 1);
        b.push_question(&n.as_name(), t, Class::In).unwrap();
        let len = b.finish();
        let mut out = vec![0u8; 4096];
        let len = z.answer(&Message::new(&buf[..len]).unwrap(), &mut out);
        out.truncate(len);
        out
    };
    let r = ask_z("multi.t.test", Rtype::Txt);
    let m = Message::new(&r).unwrap();
    let ans = rows(&m, "answer");
    assert_eq!(ans[0].2, 5400);
    match m
        .answers()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .data()
        .unwrap()
    {
        RData::Txt(t) => {
            let s: Vec<&[u8]> = t.strings().collect();
            assert_eq!(s, [&b"a b"[..], b"plain", b"q\"uote", b"AB"]);
        }
        other => panic!("{other:?}"),
    }
    let r = ask_z("esc\\.dot.t.test", Rtype::A);
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer").len(), 1);
    let r = ask_z("inner.sub.t.test", Rtype::A);
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer")[0].2, 300);
    let r = ask_z("sub.t.test", Rtype::A);
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer")[0].3, "192.0.2.9");
    let r = ask_z("mx2.sub.t.test", Rtype::Mx);
    assert_eq!(rows(&Message::new(&r).unwrap(), "answer")[0].3, "10 ns.");
}

// ---- AnswerCache ---------------------------------------------------------------

/// Every kind of query the zone answers: the benchmark mix, case variants, EDNS
/// with and without DO, CD, RD clear, ANY, big answers, errors (BADVERS, NOTIMP,
/// REFUSED, FORMERR) and a response (no answer at all).
fn cache_queries() -> Vec<Vec<u8>> {
    let mix = include_str!("../../benches/queries.txt");
    let mut v: Vec<Vec<u8>> = Vec::new();
    for line in mix.lines().filter(|l| !l.starts_with(';') && !l.is_empty()) {
        let (name, t) = line.split_once(' ').unwrap();
        let rtype = match t {
            "A" => Rtype::A,
            "AAAA" => Rtype::Aaaa,
            "MX" => Rtype::Mx,
            "NS" => Rtype::Ns,
            "SOA" => Rtype::Soa,
            "TXT" => Rtype::Txt,
            "SRV" => Rtype::Srv,
            "PTR" => Rtype::Ptr,
            other => panic!("type {other}"),
        };
        v.push(Q::new(name, rtype).bytes());
        v.push(Q::new(name, rtype).edns(0).bytes());
        v.push(Q::new(&name.to_uppercase(), rtype).bytes());
    }
    v.push(Q::new("Www.Example.TEST", Rtype::A).bytes());
    v.push(Q::new("www.example.test", Rtype::Any).bytes());
    v.push(Q::new("big1200.example.test", Rtype::Txt).edns(0).bytes());
    v.push(Q::new("big512.example.test", Rtype::Txt).bytes());
    v.push(Q::new("www.example.test", Rtype::A).edns(1).bytes());
    v.push(Q::new("www.example.org", Rtype::A).bytes());
    v.push(
        Q {
            opcode: Opcode::Status,
            ..Q::new("www.example.test", Rtype::A)
        }
        .bytes(),
    );
    let mut flags = Q::new("www.example.test", Rtype::A).edns(0).bytes();
    flags[3] |= 0x10; // CD
    v.push(flags.clone());
    flags[2] &= !0x01; // RD clear
    v.push(flags);
    let mut qr = Q::new("www.example.test", Rtype::A).bytes();
    qr[2] |= 0x80;
    v.push(qr);
    let mut short = Q::new("www.example.test", Rtype::A).bytes();
    short.truncate(20);
    v.push(short);
    // DO set in the OPT TTL.
    let mut dnssec = vec![0u8; 512];
    let name: NameBuf = "mail.example.test".parse().unwrap();
    let mut b = Builder::new(&mut dnssec, 0xBEEF);
    b.push_question(&name.as_name(), Rtype::Mx, Class::In)
        .unwrap();
    b.push_opt(1232, 0, 0, true, |_| Ok(())).unwrap();
    let n = b.finish();
    dnssec.truncate(n);
    v.push(dnssec);
    v
}

/// The cache answers exactly as the zone does: on a miss, on a hit with another
/// ID, and into every buffer size from too short for a header to room to spare
/// (answers too long for the buffer are truncated by the zone, never cut from the
/// cache).
#[test]
fn zone_cache_answers_exactly_as_the_zone() {
    use dnstcp::zone::AnswerCache;
    let z = std::sync::Arc::new(zone().clone());
    let mut cache = AnswerCache::new(z.clone(), 1024);
    let queries = cache_queries();
    for q in &queries {
        let fresh = respond(q, 65535);
        let mut out = vec![0u8; 65535];
        let n = cache.answer(&Message::new(q).unwrap(), &mut out);
        assert_eq!(&out[..n], &fresh[..], "miss: {q:02x?}");
        for id in [0u16, 0x1234, 0xFFFF] {
            let mut q2 = q.clone();
            q2[..2].copy_from_slice(&id.to_be_bytes());
            let mut want = fresh.clone();
            if want.len() >= 2 {
                want[..2].copy_from_slice(&id.to_be_bytes());
            }
            let n = cache.answer(&Message::new(&q2).unwrap(), &mut out);
            assert_eq!(&out[..n], &want[..], "hit with id {id}: {q:02x?}");
        }
    }
    let (hits, misses) = cache.stats();
    assert!(hits >= 3 * queries.len() as u64 - 6, "{hits} hits");
    assert!(misses >= queries.len() as u64 - 2, "{misses} misses");
    for q in &queries {
        for cap in (0..=fresh_len(q) + 2).step_by(7).chain([12, 511, 512]) {
            let want = respond(q, cap);
            let mut out = vec![0u8; cap];
            let n = cache.answer(&Message::new(q).unwrap(), &mut out);
            assert_eq!(&out[..n], &want[..], "cap {cap}: {q:02x?}");
        }
    }
}

fn fresh_len(q: &[u8]) -> usize {
    respond(q, 65535).len()
}

/// One slot: every new query evicts the last one, and answers stay right; case
/// variants of a name are separate entries, each echoing its own case.
#[test]
fn zone_cache_collisions_and_case() {
    use dnstcp::zone::AnswerCache;
    let mut cache = AnswerCache::new(std::sync::Arc::new(zone().clone()), 1);
    let lower = Q::new("www.example.test", Rtype::A).bytes();
    let upper = Q::new("WWW.EXAMPLE.TEST", Rtype::A).bytes();
    let mut out = [0u8; 512];
    for round in 0..3 {
        for (q, want) in [(&lower, "www.example.test."), (&upper, "WWW.EXAMPLE.TEST.")] {
            let n = cache.answer(&Message::new(q).unwrap(), &mut out);
            let m = Message::new(&out[..n]).unwrap();
            assert_eq!(m.first_question().unwrap().unwrap().name.to_string(), want);
            assert_eq!(m.answers().unwrap().count(), 2, "round {round}");
        }
    }
    assert_eq!(cache.stats(), (0, 6));
    let n = cache.answer(&Message::new(&upper).unwrap(), &mut out);
    assert!(n > 0);
    assert_eq!(cache.stats(), (1, 6));
    cache.clear();
    cache.answer(&Message::new(&upper).unwrap(), &mut out);
    assert_eq!(cache.stats(), (1, 7));
}

/// A cache hit copies the stored answer and allocates nothing; a miss into a slot
/// that already held an answer at least as long reuses its memory.
#[test]
fn zone_cache_hit_does_not_allocate() {
    use dnstcp::zone::AnswerCache;
    let mut cache = AnswerCache::new(std::sync::Arc::new(zone().clone()), 1);
    let big = Q::new("big1200.example.test", Rtype::Txt).edns(0).bytes();
    let small = Q::new("www.example.test", Rtype::A).bytes();
    let mut out = vec![0u8; 65535];
    cache.answer(&Message::new(&big).unwrap(), &mut out);
    let msg = Message::new(&big).unwrap();
    let n = assert_no_alloc("cache hit", || cache.answer(&msg, &mut out));
    assert!(n > 1200);
    let msg = Message::new(&small).unwrap();
    assert_no_alloc("miss into a grown slot", || cache.answer(&msg, &mut out));
    assert_eq!(cache.stats(), (1, 2));
}
