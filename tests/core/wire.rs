//! Wire layer: hostile input with exact typed errors (W1, W2, W3, W6, W7, E1), the
//! typed views (W5), EDNS options (E2, E3) and the builder (W4, W8).

use core::fmt::Write as _;

use dnstcp::_fuzz::{builder_roundtrip, message_parse, rebuild, same_content};
use dnstcp::wire::edns::{Cookie, OPT_COOKIE, OPT_KEEPALIVE, OPT_PADDING};
use dnstcp::wire::{
    BUDGET_BASE, BUDGET_PER_BYTE, BuildError, Builder, Class, EdnsOption, Error,
    MAX_COMPRESSION_OFFSET, Message, Name, NameBuf, Opcode, RData, Rcode, Rtype, Section, Txt,
};

use crate::common::corpus;

// ---- raw message construction ----------------------------------------------------

/// A header with ID 0x1234, QR and RD set, and the given counts.
pub fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut v = vec![0x12, 0x34, 0x81, 0x00];
    for c in [qd, an, ns, ar] {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

fn question(v: &mut Vec<u8>, name: &[u8], qtype: u16) {
    v.extend_from_slice(name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
}

/// A record with an explicit RDLENGTH (which may lie).
fn rr_len(v: &mut Vec<u8>, owner: &[u8], rtype: u16, class: u16, rdlen: u16, rdata: &[u8]) {
    v.extend_from_slice(owner);
    v.extend_from_slice(&rtype.to_be_bytes());
    v.extend_from_slice(&class.to_be_bytes());
    v.extend_from_slice(&300u32.to_be_bytes());
    v.extend_from_slice(&rdlen.to_be_bytes());
    v.extend_from_slice(rdata);
}

/// A class-IN record with a correct RDLENGTH.
fn rr(v: &mut Vec<u8>, owner: &[u8], rtype: u16, rdata: &[u8]) {
    rr_len(v, owner, rtype, 1, rdata.len() as u16, rdata);
}

fn opt_rr(v: &mut Vec<u8>, owner: &[u8], ttl: u32, rdata: &[u8]) {
    v.extend_from_slice(owner);
    v.extend_from_slice(&41u16.to_be_bytes());
    v.extend_from_slice(&1232u16.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
}

const WWW: &[u8] = b"\x03www\x07example\x04test\x00";
const ROOT: &[u8] = b"\x00";
const PTR_Q: &[u8] = b"\xC0\x0C"; // pointer to the first question name

/// One question for www.example.test A, then `an` answers built by `f`.
fn with_answers(an: u16, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = header(1, an, 0, 0);
    question(&mut v, WWW, 1);
    f(&mut v);
    v
}

fn with_additional(ar: u16, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = header(1, 0, 0, ar);
    question(&mut v, WWW, 1);
    f(&mut v);
    v
}

fn opt_with_options(options: &[u8]) -> Vec<u8> {
    with_additional(1, |v| opt_rr(v, ROOT, 0, options))
}

fn check(bytes: &[u8]) -> Result<(), Error> {
    Message::new(bytes).and_then(|m| m.check().map(|_| ()))
}

/// Asserts the exact error, and that the fuzz bodies survive the same bytes (W3).
fn assert_rejects(bytes: &[u8], want: Error) {
    assert_eq!(check(bytes), Err(want), "bytes: {bytes:02x?}");
    message_parse(bytes);
    builder_roundtrip(bytes);
}

// ---- hostile inputs, table-driven ------------------------------------------------

macro_rules! hostile {
    ($($name:ident: $bytes:expr => $err:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert_rejects(&$bytes, $err);
            }
        )*
    };
}

fn chain_of_hops(hops: usize) -> Vec<u8> {
    // Record 1 (root owner, unknown type) carries raw RDATA: a root label and then a
    // chain of pointers, each to the one before. Record 2's owner enters at the end.
    let mut blob = vec![0u8];
    let base = 12 + 1 + 10; // RDATA offset of record 1
    for i in 0..hops {
        let target = if i == 0 { base } else { base + 1 + 2 * (i - 1) };
        blob.extend_from_slice(&(0xC000u16 | target as u16).to_be_bytes());
    }
    let last = base + 1 + 2 * (hops - 1);
    let mut v = header(0, 2, 0, 0);
    rr(&mut v, ROOT, 0xFF00, &blob);
    rr(
        &mut v,
        &(0xC000u16 | last as u16).to_be_bytes(),
        1,
        &[192, 0, 2, 1],
    );
    v
}

/// Builds names of four 63-octet labels, each a label followed by a pointer to the
/// previous one, so the last decompresses to 4 * 64 + 1 = 257 octets.
fn name_via_pointers(labels: usize) -> Vec<u8> {
    let mut blob = vec![0u8];
    let base = 12 + 1 + 10;
    let mut prev = base;
    for i in 0..labels {
        let start = base + blob.len();
        blob.push(63);
        blob.extend(core::iter::repeat_n(b'a' + i as u8, 63));
        blob.extend_from_slice(&(0xC000u16 | prev as u16).to_be_bytes());
        prev = start;
    }
    let mut v = header(0, 2, 0, 0);
    rr(&mut v, ROOT, 0xFF00, &blob);
    rr(
        &mut v,
        &(0xC000u16 | prev as u16).to_be_bytes(),
        1,
        &[192, 0, 2, 1],
    );
    v
}

hostile! {
    w1_pointer_self_loop: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\xC0\x0C", 1);
        v
    } => Error::PointerForward;
    w1_pointer_self_loop_after_label: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\x01a\xC0\x0C", 1);
        v
    } => Error::PointerForward;
    w1_pointer_two_cycle: {
        // Record 1's raw RDATA at 23 holds a pointer to record 2's owner at 25, and
        // that owner points back to 23: entering at 25 the second hop goes forward.
        let mut v = header(0, 2, 0, 0);
        rr(&mut v, ROOT, 0xFF00, b"\xC0\x19");
        rr(&mut v, b"\xC0\x17", 1, &[192, 0, 2, 1]);
        v
    } => Error::PointerForward;
    w1_pointer_forward: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\xC0\x14", 1);
        v.extend_from_slice(WWW);
        v
    } => Error::PointerForward;
    w1_pointer_into_header: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\x01a\xC0\x04", 1);
        v
    } => Error::PointerIntoHeader;
    w1_pointer_past_the_end: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\xFF\xFF", 1);
        v
    } => Error::PointerForward;
    w1_pointer_cut_in_half: {
        let mut v = header(1, 0, 0, 0);
        v.extend_from_slice(b"\x01a\xC0");
        v
    } => Error::Truncated("compression pointer");
    w1_pointer_in_rdata_forward: with_answers(1, |v| {
        rr(v, PTR_Q, 5, b"\xC0\x40");
    }) => Error::PointerForward;
    w1_label_64_octets: {
        // 64 = 0b0100_0000: a length that cannot exist is the reserved label type 01.
        let mut v = header(1, 0, 0, 0);
        v.push(64);
        v.extend_from_slice(&[b'a'; 64]);
        v.push(0);
        v.extend_from_slice(&[0, 1, 0, 1]);
        v
    } => Error::ReservedLabelType;
    w1_reserved_label_type_01: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\x41\x00", 1);
        v
    } => Error::ReservedLabelType;
    w1_reserved_label_type_10: {
        let mut v = header(1, 0, 0, 0);
        question(&mut v, b"\x80\x00", 1);
        v
    } => Error::ReservedLabelType;
    w1_label_past_the_end: {
        let mut v = header(1, 0, 0, 0);
        v.extend_from_slice(b"\x20abc");
        v
    } => Error::Truncated("label");
    w1_name_256_octets_via_pointers: name_via_pointers(4) => Error::NameTooLong;
    w1_name_too_long_uncompressed: {
        let mut v = header(1, 0, 0, 0);
        for _ in 0..5 {
            v.push(60);
            v.extend_from_slice(&[b'x'; 60]);
        }
        v.push(0);
        v.extend_from_slice(&[0, 1, 0, 1]);
        v
    } => Error::NameTooLong;
    w7_too_many_hops: chain_of_hops(70) => Error::TooManyHops;
    w2_truncated_header: [0u8; 11] => Error::Truncated("header");
    w2_empty_input: Vec::new() => Error::Truncated("header");
    w2_qdcount_65535_no_data: header(65535, 0, 0, 0) => Error::Truncated("name");
    w2_ancount_larger_than_data: with_answers(5, |v| rr(v, PTR_Q, 1, &[192, 0, 2, 1]))
        => Error::Truncated("name");
    w2_arcount_65535_no_data: header(0, 0, 0, 65535) => Error::Truncated("name");
    w2_question_cut_in_qtype: {
        let mut v = header(1, 0, 0, 0);
        v.extend_from_slice(WWW);
        v.push(0);
        v
    } => Error::Truncated("QTYPE");
    w2_record_cut_in_ttl: with_answers(1, |v| {
        v.extend_from_slice(PTR_Q);
        v.extend_from_slice(&[0, 1, 0, 1, 0, 0]);
    }) => Error::Truncated("TTL");
    w2_rdlength_past_end: with_answers(1, |v| rr_len(v, PTR_Q, 1, 1, 40, &[192, 0, 2, 1]))
        => Error::Truncated("RDATA");
    w2_rdlength_ffff: with_answers(1, |v| rr_len(v, PTR_Q, 1, 1, 0xFFFF, &[]))
        => Error::Truncated("RDATA");
    w2_rdlength_short_a: with_answers(1, |v| rr(v, PTR_Q, 1, &[192, 0, 2]))
        => Error::BadRdata("A RDLENGTH is not 4");
    w2_rdlength_long_a: with_answers(1, |v| rr(v, PTR_Q, 1, &[192, 0, 2, 1, 9]))
        => Error::BadRdata("A RDLENGTH is not 4");
    w2_rdlength_short_aaaa: with_answers(1, |v| rr(v, PTR_Q, 28, &[0x20; 15]))
        => Error::BadRdata("AAAA RDLENGTH is not 16");
    w2_rdlength_short_mx: with_answers(1, |v| rr(v, PTR_Q, 15, &[0]))
        => Error::BadRdata("MX too short");
    w2_rdlength_mx_without_name: with_answers(1, |v| rr(v, PTR_Q, 15, &[0, 10]))
        => Error::BadRdata("name runs past RDLENGTH");
    w2_rdlength_mx_name_cut: {
        // RDLENGTH covers the preference and half the exchange; the rest follows.
        let mut v = with_answers(1, |v| rr_len(v, PTR_Q, 15, 1, 4, &[0, 10, 3, b'm']));
        v.extend_from_slice(b"x1\x00");
        v
    } => Error::BadRdata("name runs past RDLENGTH");
    w2_rdlength_mx_extra_bytes: with_answers(1, |v| rr(v, PTR_Q, 15, &[0, 10, 0xC0, 0x0C, 7]))
        => Error::BadRdata("bytes after the MX exchange");
    w2_rdlength_short_soa: with_answers(1, |v| {
        let mut d = vec![0xC0, 0x0C, 0xC0, 0x0C];
        d.extend_from_slice(&[0; 19]);
        rr(v, PTR_Q, 6, &d);
    }) => Error::BadRdata("SOA RDLENGTH does not fit its fields");
    w2_rdlength_soa_without_rname: with_answers(1, |v| rr(v, PTR_Q, 6, &[0xC0, 0x0C]))
        => Error::BadRdata("name runs past RDLENGTH");
    w2_rdlength_short_srv: with_answers(1, |v| rr(v, PTR_Q, 33, &[0, 1, 0, 2]))
        => Error::BadRdata("SRV too short");
    w2_rdlength_srv_without_target: with_answers(1, |v| rr(v, PTR_Q, 33, &[0, 1, 0, 2, 0, 53]))
        => Error::BadRdata("name runs past RDLENGTH");
    w2_rdlength_cname_extra: with_answers(1, |v| rr(v, PTR_Q, 5, &[0xC0, 0x0C, 0]))
        => Error::BadRdata("bytes after the name");
    w2_rdlength_zero_ns: with_answers(1, |v| rr(v, PTR_Q, 2, &[]))
        => Error::BadRdata("name runs past RDLENGTH");
    w2_txt_string_past_rdata: with_answers(1, |v| rr(v, PTR_Q, 16, b"\x05abc"))
        => Error::BadRdata("TXT string length past RDATA");
    w2_txt_second_string_past_rdata: with_answers(1, |v| rr(v, PTR_Q, 16, b"\x02ab\x09x"))
        => Error::BadRdata("TXT string length past RDATA");
    w2_txt_empty_rdata: with_answers(1, |v| rr(v, PTR_Q, 16, b""))
        => Error::BadRdata("TXT without strings");
    e1_two_opt_records: with_additional(2, |v| {
        opt_rr(v, ROOT, 0, &[]);
        opt_rr(v, ROOT, 0, &[]);
    }) => Error::DuplicateOpt;
    e1_opt_in_answer: with_answers(1, |v| opt_rr(v, ROOT, 0, &[])) => Error::OptNotInAdditional;
    e1_opt_in_authority: {
        let mut v = header(1, 0, 1, 0);
        question(&mut v, WWW, 1);
        opt_rr(&mut v, ROOT, 0, &[]);
        v
    } => Error::OptNotInAdditional;
    e1_opt_owner_not_root: with_additional(1, |v| opt_rr(v, PTR_Q, 0, &[]))
        => Error::OptOwnerNotRoot;
    e1_option_length_past_rdlength: opt_with_options(&[0, 10, 0, 24, 1, 2, 3, 4, 5, 6, 7, 8])
        => Error::BadOption("length past RDATA");
    e1_option_header_truncated: opt_with_options(&[0, 11, 0])
        => Error::BadOption("truncated option header");
    e2_keepalive_length_1: opt_with_options(&[0, 11, 0, 1, 7])
        => Error::BadOption("keepalive length is neither 0 nor 2");
    e2_keepalive_length_4: opt_with_options(&[0, 11, 0, 4, 0, 0, 0, 1])
        => Error::BadOption("keepalive length is neither 0 nor 2");
    e1_cookie_bad_length: opt_with_options(&[0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        => Error::BadOption("cookie length");
    w6_trailing_data: {
        let mut v = with_answers(1, |v| rr(v, PTR_Q, 1, &[192, 0, 2, 1]));
        v.push(0);
        v
    } => Error::TrailingData;
    w6_trailing_record_not_counted: {
        let mut v = with_answers(1, |v| rr(v, PTR_Q, 1, &[192, 0, 2, 1]));
        rr(&mut v, PTR_Q, 1, &[192, 0, 2, 2]);
        v
    } => Error::TrailingData;
}

#[test]
fn w1_names_just_inside_the_limits() {
    // Three 64-octet hops: 3 * 64 + 1 = 193 octets, fine.
    let v = name_via_pointers(3);
    let m = Message::new(&v).unwrap();
    m.check().unwrap();
    let r = m.answers().unwrap().nth(1).unwrap().unwrap();
    assert_eq!(r.owner().wire_len(), 193);
    assert_eq!(r.owner().label_count(), 3);
    // 64 hops are allowed, 65 are not.
    check(&chain_of_hops(63)).unwrap();
    assert_eq!(check(&chain_of_hops(64)), Err(Error::TooManyHops));
    // 63-octet label is fine; presentation form refuses 64.
    let mut v = header(1, 0, 0, 0);
    v.push(63);
    v.extend_from_slice(&[b'a'; 63]);
    v.push(0);
    v.extend_from_slice(&[0, 1, 0, 1]);
    check(&v).unwrap();
    assert_eq!(
        NameBuf::from_presentation(&"a".repeat(64)).unwrap_err(),
        Error::LabelTooLong
    );
}

#[test]
fn w2_errors_fuse_iterators() {
    // Second answer truncated: the iterator yields one record, the error, then None.
    let v = with_answers(3, |v| {
        rr(v, PTR_Q, 1, &[192, 0, 2, 1]);
        rr_len(v, PTR_Q, 1, 1, 200, &[192, 0, 2, 2]);
    });
    let m = Message::new(&v).unwrap();
    let mut it = m.answers().unwrap();
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next().unwrap().unwrap_err(), Error::Truncated("RDATA"));
    assert!(it.next().is_none());
    assert!(it.next().is_none());
    // Question errors fuse too.
    let v = header(3, 0, 0, 0);
    let m = Message::new(&v).unwrap();
    let mut q = m.questions();
    assert_eq!(q.next().unwrap().unwrap_err(), Error::Truncated("name"));
    assert!(q.next().is_none());
    // A broken question section makes every record section fail up front.
    assert_eq!(m.records().err(), Some(Error::Truncated("name")));
    assert_eq!(m.answers().err(), Some(Error::Truncated("name")));
    assert_eq!(m.additional().err(), Some(Error::Truncated("name")));
    // The error in the answer section surfaces when asking for later sections.
    let v = {
        let mut v = header(1, 1, 0, 1);
        question(&mut v, WWW, 1);
        rr(&mut v, b"\xC0\x30", 1, &[192, 0, 2, 1]);
        rr(&mut v, PTR_Q, 1, &[192, 0, 2, 1]);
        v
    };
    let m = Message::new(&v).unwrap();
    assert_eq!(m.additional().err(), Some(Error::PointerForward));
}

#[test]
fn w2_hundreds_of_options_are_fine() {
    let mut opts = Vec::new();
    for i in 0..300u16 {
        opts.extend_from_slice(&(65001 + (i % 3)).to_be_bytes());
        opts.extend_from_slice(&1u16.to_be_bytes());
        opts.push(i as u8);
    }
    let v = opt_with_options(&opts);
    let m = Message::new(&v).unwrap();
    let s = m.check().unwrap();
    let opt = s.opt.unwrap();
    assert_eq!(opt.options().count(), 300);
    assert!(
        opt.options()
            .all(|o| matches!(o, Ok(EdnsOption::Unknown { .. })))
    );
    assert_eq!(opt.keepalive(), None);
}

// ---- W7: the per-message decompression budget ------------------------------------

/// A message whose first question is a 255-octet name of 127 one-letter labels, then
/// `records` CNAME records whose owner and target both point at it.
fn long_chains(records: u16) -> Vec<u8> {
    let mut v = header(1, records, 0, 0);
    for _ in 0..127 {
        v.extend_from_slice(b"\x01a");
    }
    v.push(0);
    v.extend_from_slice(&[0, 1, 0, 1]);
    for _ in 0..records {
        rr(&mut v, PTR_Q, 5, PTR_Q);
    }
    v
}

#[test]
fn w7_budget_exceeded_by_long_legal_chains() {
    let v = long_chains(200);
    let m = Message::new(&v).unwrap();
    let budget = m.budget_left();
    assert_eq!(budget, BUDGET_BASE + BUDGET_PER_BYTE * v.len() as u32);
    assert_eq!(m.check().unwrap_err(), Error::BudgetExceeded);
    assert_eq!(m.budget_left(), 0);
    // Every single record is legal: a fresh view of any one of them parses.
    let few = long_chains(5);
    let m = Message::new(&few).unwrap();
    let s = m.check().unwrap();
    assert_eq!(s.question.unwrap().name.label_count(), 127);
    for r in m.answers().unwrap() {
        match r.unwrap().data().unwrap() {
            RData::Cname(n) => assert_eq!(n.wire_len(), 255),
            other => panic!("{other:?}"),
        }
    }
    // The work done before the budget ran out is linear in the message size.
    message_parse(&v);
    builder_roundtrip(&v);
}

#[test]
fn w7_budget_exhausted_through_the_record_iterator() {
    let v = long_chains(400);
    let m = Message::new(&v).unwrap();
    let mut n_ok = 0;
    let mut err = None;
    for r in m.records().unwrap() {
        match r {
            Ok(_) => n_ok += 1,
            Err(e) => err = Some(e),
        }
    }
    assert_eq!(err, Some(Error::BudgetExceeded));
    assert!(
        n_ok > 10 && n_ok < 400,
        "{n_ok} records before the budget ran out"
    );
}

#[test]
fn w7_large_legit_message_stays_far_inside_the_budget() {
    for (name, bytes) in corpus() {
        let m = Message::new(&bytes).unwrap();
        let start = m.budget_left();
        m.check().unwrap();
        let used = start - m.budget_left();
        assert!(
            used * 10 < start,
            "{name}: one full check used {used} of {start}"
        );
        if name == "many_records.bin" {
            // 64 records, one full walk: a small fraction of the budget.
            assert!(used < 1000, "{name}: used {used}");
        }
    }
}

/// Steps one name at `pos` costs (labels, pointers and the root) and the offset
/// after it, by an independent walk of well-formed wire data.
fn oracle_name(m: &[u8], mut pos: usize) -> (u32, usize) {
    let (mut steps, mut end) = (0, None);
    loop {
        steps += 1;
        let b = m[pos];
        if b == 0 {
            return (steps, end.unwrap_or(pos + 1));
        }
        if b >= 0xC0 {
            end.get_or_insert(pos + 2);
            pos = usize::from(b & 0x3F) << 8 | usize::from(m[pos + 1]);
        } else {
            pos += 1 + usize::from(b);
        }
    }
}

/// Budget one walk of the questions and record owners costs, by the oracle.
fn oracle_walk(m: &[u8]) -> u32 {
    let count = |i: usize| u16::from_be_bytes([m[4 + 2 * i], m[5 + 2 * i]]);
    let (mut pos, mut used) = (12, 0);
    for _ in 0..count(0) {
        let (s, end) = oracle_name(m, pos);
        used += s;
        pos = end + 4;
    }
    for _ in 0..count(1) + count(2) + count(3) {
        let (s, end) = oracle_name(m, pos);
        used += s;
        pos = end + 10 + usize::from(u16::from_be_bytes([m[end + 8], m[end + 9]]));
    }
    used
}

/// W7: the record iterator reuses the last owner when it is the same compression
/// pointer, and `records()` starts where a finished question walk ended. Neither
/// changes a name read or the budget charged: every walk costs what the oracle
/// counts, whichever way it starts, and reads the same owners as a fresh parse of
/// each record alone.
#[test]
fn w7_reused_owners_and_questions_charge_the_same() {
    // Owners repeat the same pointer within and across sections, with other owners
    // (a different pointer, a full name) in between.
    let mut mixed = header(1, 3, 2, 2);
    question(&mut mixed, WWW, 1);
    rr(&mut mixed, PTR_Q, 1, &[192, 0, 2, 1]);
    rr(&mut mixed, PTR_Q, 1, &[192, 0, 2, 2]);
    rr(&mut mixed, b"\x04mail\xC0\x10", 1, &[192, 0, 2, 3]);
    rr(&mut mixed, b"\xC0\x10", 2, b"\x02ns\xC0\x10");
    rr(&mut mixed, b"\xC0\x10", 2, b"\x03ns2\xC0\x10");
    rr(&mut mixed, PTR_Q, 1, &[192, 0, 2, 4]);
    rr(&mut mixed, b"\x02ns\xC0\x10", 1, &[192, 0, 2, 5]);
    let mut cases: Vec<(String, Vec<u8>)> = corpus();
    cases.push(("mixed".into(), mixed));
    cases.push(("long_chains".into(), long_chains(5)));
    for (name, bytes) in &cases {
        let want = oracle_walk(bytes);
        if name == "mixed" {
            let m = Message::new(bytes).unwrap();
            let got: Vec<String> = m
                .records()
                .unwrap()
                .map(|r| r.unwrap().owner().to_string())
                .collect();
            let www = "www.example.test.";
            let zone = "example.test.";
            assert_eq!(
                got,
                [
                    www,
                    www,
                    "mail.example.test.",
                    zone,
                    zone,
                    www,
                    "ns.example.test."
                ]
            );
        }
        let owners = |m: &Message<'_>| -> Vec<(String, usize)> {
            m.records()
                .unwrap()
                .map(|r| {
                    let r = r.unwrap();
                    (r.owner().to_string(), r.rdata_offset())
                })
                .collect()
        };
        // Records straight away, which walks the questions first.
        let m = Message::new(bytes).unwrap();
        let full = m.budget_left();
        let first = owners(&m);
        assert_eq!(full - m.budget_left(), want, "{name}: records() alone");
        // Again on the same view: the question walk is reused.
        assert_eq!(owners(&m), first, "{name}");
        assert_eq!(full - m.budget_left(), want, "{name}: records() again");
        // After reading every question through `questions()`.
        let m = Message::new(bytes).unwrap();
        assert!(m.questions().all(|q| q.is_ok()));
        assert_eq!(owners(&m), first, "{name}");
        assert_eq!(full - m.budget_left(), want, "{name}: after questions()");
    }
}

// ---- positive: header, sections, typed views, Display ----------------------------

fn corpus_msg(name: &str) -> Vec<u8> {
    corpus()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in corpus"))
        .1
}

#[test]
fn w5_header_accessors() {
    let a = corpus_msg("a.bin");
    let m = Message::new(&a).unwrap();
    assert_eq!(m.id(), 0x1a2b);
    assert!(m.qr() && m.aa() && m.rd());
    assert!(!m.tc() && !m.ra() && !m.ad() && !m.cd());
    assert_eq!(m.opcode(), Opcode::Query);
    assert_eq!(m.rcode(), Rcode::NoError);
    let h = m.header();
    assert_eq!(
        (h.qdcount(), h.ancount(), h.nscount(), h.arcount()),
        (1, 2, 0, 1)
    );
    let q = corpus_msg("query_a.bin");
    let m = Message::new(&q).unwrap();
    assert!(!m.qr() && m.rd() && !m.aa());
    let nx = corpus_msg("nxdomain_soa.bin");
    assert_eq!(Message::new(&nx).unwrap().rcode(), Rcode::NxDomain);
    let referral = corpus_msg("referral_glue.bin");
    assert!(!Message::new(&referral).unwrap().aa());
}

#[test]
fn e1_extended_rcode_badvers() {
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 7);
    b.header_mut().set_qr(true);
    let upper = b.set_rcode(Rcode::BadVers);
    assert_eq!(upper, 1);
    b.push_opt(1232, upper, 0, false, |_| Ok(())).unwrap();
    let len = b.finish();
    let m = Message::new(&buf[..len]).unwrap();
    assert_eq!(m.header().rcode_low(), 0);
    assert_eq!(m.rcode(), Rcode::BadVers);
    assert_eq!(m.rcode().to_int(), 16);
    // Without OPT only the four header bits count.
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 7);
    b.set_rcode(Rcode::BadCookie);
    let len = b.finish();
    assert_eq!(
        Message::new(&buf[..len]).unwrap().rcode(),
        Rcode::from_int(23 & 0xF)
    );
    // An EDNS version above 0 still parses, so the server can answer BADVERS.
    let v = with_additional(1, |v| opt_rr(v, ROOT, 0x0001_0000, &[]));
    let m = Message::new(&v).unwrap();
    assert_eq!(m.check().unwrap().opt.unwrap().version(), 1);
}

#[test]
fn w5_sections_in_wire_order() {
    let bytes = corpus_msg("referral_glue.bin");
    let m = Message::new(&bytes).unwrap();
    let qs: Vec<_> = m.questions().map(|q| q.unwrap().to_string()).collect();
    assert_eq!(qs, ["www.child.example.test.\tIN\tA"]);
    assert_eq!(m.answers().unwrap().count(), 0);
    let auth: Vec<_> = m
        .authority()
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(
        auth,
        [
            "child.example.test.\t86400\tIN\tNS\tns1.child.example.test.",
            "child.example.test.\t86400\tIN\tNS\tns2.child.example.test.",
        ]
    );
    let add: Vec<_> = m.additional().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(add.len(), 5);
    assert!(add.iter().all(|r| r.section() == Section::Additional));
    assert_eq!(add.last().unwrap().rtype(), Rtype::Opt);
    let all: Vec<_> = m.records().unwrap().map(|r| r.unwrap().section()).collect();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn w5_section_iterators_do_not_lose_the_first_record() {
    // Every section accessor must start at that section's first record, also when an
    // earlier section is empty.
    for (name, bytes) in corpus() {
        let m = Message::new(&bytes).unwrap();
        let h = m.header();
        assert_eq!(
            m.answers().unwrap().count(),
            usize::from(h.ancount()),
            "{name}"
        );
        assert_eq!(
            m.authority().unwrap().count(),
            usize::from(h.nscount()),
            "{name}"
        );
        assert_eq!(
            m.additional().unwrap().count(),
            usize::from(h.arcount()),
            "{name}"
        );
    }
    let nx = corpus_msg("nxdomain_soa.bin");
    let m = Message::new(&nx).unwrap();
    let soa = m.authority().unwrap().next().unwrap().unwrap();
    assert_eq!(soa.rtype(), Rtype::Soa);
}

#[test]
fn w5_display_names_and_records() {
    let bytes = corpus_msg("mx_compressed.bin");
    let m = Message::new(&bytes).unwrap();
    let lines: Vec<_> = m
        .answers()
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(
        lines[0],
        "example.test.\t3600\tIN\tMX\t10 mx1.example.test."
    );
    let soa = corpus_msg("soa.bin");
    let m = Message::new(&soa).unwrap();
    let r = m.answers().unwrap().next().unwrap().unwrap();
    assert_eq!(
        r.data().unwrap().to_string(),
        "ns1.example.test. hostmaster.example.test. 2024061501 7200 3600 1209600 300"
    );
    let srv = corpus_msg("srv.bin");
    let m = Message::new(&srv).unwrap();
    let r = m.answers().unwrap().next().unwrap().unwrap();
    assert_eq!(r.owner().to_string(), "_sip._tcp.example.test.");
    assert_eq!(
        r.data().unwrap().to_string(),
        "10 60 5060 sip1.example.test."
    );
    let aaaa = corpus_msg("aaaa.bin");
    let m = Message::new(&aaaa).unwrap();
    let r = m.answers().unwrap().next().unwrap().unwrap();
    assert!(r.data().unwrap().to_string().starts_with("2001:db8:"));
    // Escapes in names and unknown-type RDATA.
    let n = NameBuf::from_presentation("a\\.b.\\034q\\\\.test").unwrap();
    assert_eq!(n.to_string(), "a\\.b.\\\"q\\\\.test.");
    let u = RData::Unknown {
        rtype: Rtype::Unknown(65280),
        data: &[0xde, 0xad],
    };
    assert_eq!(u.to_string(), "\\# 2 dead");
    assert_eq!(Rtype::Unknown(65280).to_string(), "TYPE65280");
    assert_eq!(Class::Unknown(9).to_string(), "CLASS9");
    assert_eq!(Name::root().to_string(), ".");
}

#[test]
fn w5_txt_strings() {
    let bytes = corpus_msg("txt_large.bin");
    let m = Message::new(&bytes).unwrap();
    let mut n = 0;
    let mut lens = Vec::new();
    for r in m.answers().unwrap() {
        let RData::Txt(t) = r.unwrap().data().unwrap() else {
            panic!("TXT expected")
        };
        n += 1;
        lens.push(t.strings().count());
        assert!(t.strings().all(|s| s.len() <= 255));
    }
    assert_eq!(n, 10);
    assert_eq!(lens.iter().filter(|&&c| c == 3).count(), 9);
    let t = Txt::new(b"\x02hi\x00\x03a\"b").unwrap();
    let strings: Vec<_> = t.strings().collect();
    assert_eq!(strings, [&b"hi"[..], b"", b"a\"b"]);
    assert_eq!(t.to_string(), "\"hi\" \"\" \"a\\\"b\"");
    assert!(Txt::new(b"").is_err());
    assert!(Txt::new(b"\x03ab").is_err());
}

#[test]
fn e2_edns_option_iteration() {
    let bytes = corpus_msg("edns_cookie.bin");
    let m = Message::new(&bytes).unwrap();
    let opt = m.opt().unwrap().unwrap();
    assert_eq!(opt.udp_size(), 1232);
    assert_eq!(opt.version(), 0);
    let opts: Vec<_> = opt.options().map(|o| o.unwrap()).collect();
    assert_eq!(opts.len(), 2);
    match opts[0] {
        EdnsOption::Cookie(c) => {
            assert_eq!(c.client, [0x24, 0xa1, 0xf3, 0xc0, 0x6b, 0x9d, 0x0e, 0x57]);
            assert_eq!(c.server.len(), 16);
            assert!(opts[0].to_string().starts_with("COOKIE: 24a1f3c06b9d0e57"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(opts[1], EdnsOption::Keepalive(Some(100)));
    assert_eq!(opts[1].to_string(), "TCP-KEEPALIVE: 10.0 secs");
    assert_eq!(opt.keepalive(), Some(Some(100)));
    // Padding, a client keepalive and an unknown option.
    let v = opt_with_options(&[
        0, 11, 0, 0, // keepalive, empty
        0, 12, 0, 3, 0, 0, 0, // padding
        0xFD, 0xE9, 0, 2, 9, 9, // unknown 65001
    ]);
    let m = Message::new(&v).unwrap();
    let opt = m.check().unwrap().opt.unwrap();
    let opts: Vec<_> = opt.options().map(|o| o.unwrap()).collect();
    assert_eq!(
        opts,
        [
            EdnsOption::Keepalive(None),
            EdnsOption::Padding(&[0, 0, 0]),
            EdnsOption::Unknown {
                code: 65001,
                data: &[9, 9]
            },
        ]
    );
    assert_eq!(
        opts.iter().map(EdnsOption::code).collect::<Vec<_>>(),
        [OPT_KEEPALIVE, OPT_PADDING, 65001]
    );
    assert_eq!(opt.keepalive(), Some(None));
    // The option iterator is fused after an error.
    let v = opt_with_options(&[0, 11, 0, 0, 0, 10, 0, 50]);
    let m = Message::new(&v).unwrap();
    let opt = m.opt().unwrap().unwrap();
    let mut it = opt.options();
    assert!(it.next().unwrap().is_ok());
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

// ---- builder -------------------------------------------------------------------

fn nb(s: &str) -> NameBuf {
    NameBuf::from_presentation(s).unwrap()
}

#[test]
fn w4_every_rdata_type_round_trips() {
    let owner = nb("Host.Example.TEST");
    let ns = nb("ns1.example.test");
    let rname = nb("hostmaster.example.test");
    let txt_wire = b"\x05hello\x00\x05world";
    let datas = [
        RData::A([192, 0, 2, 1].into()),
        RData::Aaaa("2001:db8::1".parse().unwrap()),
        RData::Ns(ns.as_name()),
        RData::Cname(ns.as_name()),
        RData::Ptr(owner.as_name()),
        RData::Mx {
            preference: 10,
            exchange: ns.as_name(),
        },
        RData::Soa {
            mname: ns.as_name(),
            rname: rname.as_name(),
            serial: 2024061501,
            refresh: 7200,
            retry: 3600,
            expire: 1209600,
            minimum: 300,
        },
        RData::Txt(Txt::new(txt_wire).unwrap()),
        RData::Srv {
            priority: 1,
            weight: 2,
            port: 53,
            target: ns.as_name(),
        },
        RData::Unknown {
            rtype: Rtype::Unknown(65280),
            data: &[1, 2, 3],
        },
        RData::Unknown {
            rtype: Rtype::Unknown(65281),
            data: &[],
        },
    ];
    let mut buf = [0u8; 2048];
    let mut b = Builder::new(&mut buf, 99);
    b.push_question(&owner.as_name(), Rtype::Any, Class::In)
        .unwrap();
    for d in &datas {
        b.answer(&owner.as_name(), 60, d).unwrap();
    }
    b.push_opt(4096, 0, 0, true, |w| w.keepalive(Some(25)))
        .unwrap();
    let len = b.finish();
    let m = Message::new(&buf[..len]).unwrap();
    let s = m.check().unwrap();
    assert!(s.opt.unwrap().dnssec_ok());
    assert_eq!(s.opt.unwrap().udp_size(), 4096);
    let got: Vec<_> = m.answers().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), datas.len());
    for (r, d) in got.iter().zip(&datas) {
        assert_eq!(r.data().unwrap(), *d);
        assert_eq!(r.data().unwrap().to_string(), d.to_string());
        assert_eq!(r.rtype(), d.rtype());
        assert_eq!(r.ttl(), 60);
        // Case is preserved.
        assert_eq!(r.owner().to_string(), "Host.Example.TEST.");
    }
    // SRV targets are never compressed (RFC 2782).
    let srv = got.iter().find(|r| r.rtype() == Rtype::Srv).unwrap();
    assert_eq!(srv.rdata().len(), 6 + ns.as_wire().len());
}

/// Every compression pointer in a message, as (position, target), walked with an
/// independent raw reader so the test does not trust the parser under test.
fn pointers(msg: &[u8]) -> Vec<(usize, usize)> {
    fn name(msg: &[u8], mut p: usize, out: &mut Vec<(usize, usize)>) -> usize {
        loop {
            let b = msg[p];
            if b & 0xC0 == 0xC0 {
                out.push((p, usize::from(u16::from_be_bytes([b & 0x3F, msg[p + 1]]))));
                return p + 2;
            }
            if b == 0 {
                return p + 1;
            }
            p += 1 + usize::from(b);
        }
    }
    let cnt = |i: usize| usize::from(u16::from_be_bytes([msg[i], msg[i + 1]]));
    let mut out = Vec::new();
    let mut p = 12;
    for _ in 0..cnt(4) {
        p = name(msg, p, &mut out) + 4;
    }
    for _ in 0..cnt(6) + cnt(8) + cnt(10) {
        p = name(msg, p, &mut out);
        let t = cnt(p);
        let rdlen = cnt(p + 8);
        let rd = p + 10;
        match t {
            2 | 5 | 12 => {
                name(msg, rd, &mut out);
            }
            15 => {
                name(msg, rd + 2, &mut out);
            }
            6 => {
                let q = name(msg, rd, &mut out);
                name(msg, q, &mut out);
            }
            33 => {
                name(msg, rd + 6, &mut out);
            }
            _ => {}
        }
        p = rd + rdlen;
    }
    assert_eq!(p, msg.len());
    out
}

#[test]
fn w4_compression_shrinks_output() {
    let zone = nb("example.test");
    let hosts: Vec<NameBuf> = (0..10)
        .map(|i| nb(&format!("host{i}.example.test")))
        .collect();
    let mut buf = [0u8; 4096];
    let mut b = Builder::new(&mut buf, 1);
    b.push_question(&zone.as_name(), Rtype::Mx, Class::In)
        .unwrap();
    let mut uncompressed = 12 + zone.as_wire().len() + 4;
    for (i, h) in hosts.iter().enumerate() {
        let d = RData::Mx {
            preference: i as u16,
            exchange: h.as_name(),
        };
        b.answer(&zone.as_name(), 300, &d).unwrap();
        uncompressed += zone.as_wire().len() + 10 + 2 + h.as_wire().len();
    }
    for h in &hosts {
        b.additional(&h.as_name(), 300, &RData::A([192, 0, 2, 1].into()))
            .unwrap();
        uncompressed += h.as_wire().len() + 10 + 4;
    }
    let len = b.finish();
    assert!(
        len * 2 < uncompressed,
        "compressed {len} vs uncompressed {uncompressed}"
    );
    let ptrs = pointers(&buf[..len]);
    // Every owner of the answer, every exchange's suffix and every glue owner.
    assert!(ptrs.len() >= 30, "{} pointers", ptrs.len());
    assert!(ptrs.iter().all(|&(at, to)| to < at && to >= 12));
    let m = Message::new(&buf[..len]).unwrap();
    m.check().unwrap();
    for (r, h) in m.additional().unwrap().zip(&hosts) {
        assert_eq!(r.unwrap().owner(), h.as_name());
    }
}

#[test]
fn w8_no_pointer_at_or_past_16k() {
    // 60 TXT records of ~300 octets push the message well past 16 KiB; names first
    // written after 16 KiB must be written in full, and later uses may only point
    // below 16 KiB.
    let txt = {
        let mut w = Vec::new();
        w.push(255);
        w.extend_from_slice(&[b't'; 255]);
        w.push(40);
        w.extend_from_slice(&[b'u'; 40]);
        w
    };
    let names: Vec<NameBuf> = (0..120)
        .map(|i| nb(&format!("n{i}.zone{}.example.test", i % 7)))
        .collect();
    let mut buf = vec![0u8; 65535];
    let mut b = Builder::new(&mut buf, 2);
    for (i, n) in names.iter().enumerate() {
        let d = if i % 2 == 0 {
            RData::Txt(Txt::new(&txt).unwrap())
        } else {
            RData::Cname(names[(i * 7) % names.len()].as_name())
        };
        b.answer(&n.as_name(), 1, &d).unwrap();
    }
    // Second pass: reuse every name past 16 KiB.
    for n in &names {
        b.additional(&n.as_name(), 1, &RData::Ns(n.as_name()))
            .unwrap();
    }
    let len = b.finish();
    assert!(
        len > MAX_COMPRESSION_OFFSET + 4096,
        "message is {len} bytes"
    );
    let ptrs = pointers(&buf[..len]);
    assert!(!ptrs.is_empty());
    assert!(ptrs.iter().any(|&(at, _)| at >= MAX_COMPRESSION_OFFSET));
    for &(at, to) in &ptrs {
        assert!(to < MAX_COMPRESSION_OFFSET, "pointer at {at} to {to}");
        assert!(to < at && to >= 12);
    }
    let m = Message::new(&buf[..len]).unwrap();
    m.check().unwrap();
    let owners: Vec<String> = m
        .records()
        .unwrap()
        .map(|r| r.unwrap().owner().to_string())
        .collect();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(owners[i], n.to_string());
        assert_eq!(owners[names.len() + i], n.to_string());
    }
}

#[test]
fn w8_full_compression_table_still_correct() {
    // 100 unrelated names: the 32-entry table fills after the first few; the rest
    // are written with whatever compression still applies, and all read back.
    let names: Vec<NameBuf> = (0..100)
        .map(|i| nb(&format!("h{i}.d{}.t{}", i % 13, i % 5)))
        .collect();
    let mut buf = vec![0u8; 16384];
    let mut b = Builder::new(&mut buf, 3);
    for (i, n) in names.iter().enumerate() {
        let target = &names[(i * 31 + 7) % names.len()];
        b.answer(&n.as_name(), i as u32, &RData::Cname(target.as_name()))
            .unwrap();
    }
    let len = b.finish();
    let m = Message::new(&buf[..len]).unwrap();
    m.check().unwrap();
    for (i, r) in m.answers().unwrap().enumerate() {
        let r = r.unwrap();
        assert_eq!(r.owner().to_string(), names[i].to_string());
        assert_eq!(r.ttl(), i as u32);
        let RData::Cname(t) = r.data().unwrap() else {
            panic!()
        };
        assert_eq!(t.to_string(), names[(i * 31 + 7) % names.len()].to_string());
    }
    assert!(pointers(&buf[..len]).iter().all(|&(at, to)| to < at));
}

#[test]
fn w4_no_space_rolls_back_then_tc() {
    let q = nb("big.example.test");
    let mut buf = [0u8; 300];
    let mut b = Builder::new(&mut buf, 0x4242);
    b.header_mut().set_qr(true);
    b.push_question(&q.as_name(), Rtype::Txt, Class::In)
        .unwrap();
    let txt = [40u8; 41];
    let mut pushed = 0;
    let err = loop {
        let before = b.as_bytes().to_vec();
        let counts = b.counts();
        let len = b.len();
        match b.answer(&q.as_name(), 5, &RData::Txt(Txt::new(&txt).unwrap())) {
            Ok(()) => pushed += 1,
            Err(e) => {
                assert_eq!(b.as_bytes(), &before[..], "bytes unchanged");
                assert_eq!(b.counts(), counts, "counts unchanged");
                assert_eq!(b.len(), len);
                break e;
            }
        }
    };
    assert!(pushed >= 4);
    match err {
        BuildError::NoSpace { required } => assert!(required > 300),
        other => panic!("{other:?}"),
    }
    // An OPT that does not fit rolls back too, even from inside the option closure.
    let len = b.len();
    let e = b
        .push_opt(1232, 0, 0, false, |w| w.padding(200))
        .unwrap_err();
    assert!(matches!(e, BuildError::NoSpace { .. }));
    assert_eq!(b.len(), len);
    b.header_mut().set_tc(true);
    let n = b.finish();
    let m = Message::new(&buf[..n]).unwrap();
    m.check().unwrap();
    assert!(m.tc());
    assert_eq!(m.answers().unwrap().count(), pushed);
    assert_eq!(m.additional().unwrap().count(), 0);
}

#[test]
fn w4_no_space_for_tiny_buffers() {
    let mut small = [0u8; 11];
    let mut b = Builder::new(&mut small, 1);
    assert!(matches!(
        b.push_question(&Name::root(), Rtype::A, Class::In),
        Err(BuildError::NoSpace { .. })
    ));
    assert_eq!(b.finish(), 0);
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 1);
    b.set_limit(20);
    assert_eq!(
        b.push_question(&nb("abcdefgh.test").as_name(), Rtype::A, Class::In),
        // The length at which the write ran out (a lower bound), here after the
        // first label's length octet and its eight octets.
        Err(BuildError::NoSpace { required: 12 + 9 })
    );
    assert_eq!(b.finish(), 12);
}

#[test]
fn w4_section_order() {
    let n = nb("a.test");
    let a = RData::A([192, 0, 2, 1].into());
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 1);
    b.authority(&n.as_name(), 1, &a).unwrap();
    assert_eq!(
        b.push_question(&n.as_name(), Rtype::A, Class::In),
        Err(BuildError::SectionOrder)
    );
    assert_eq!(b.answer(&n.as_name(), 1, &a), Err(BuildError::SectionOrder));
    assert_eq!(
        b.push(Section::Question, &n.as_name(), Class::In, 1, &a),
        Err(BuildError::SectionOrder)
    );
    b.additional(&n.as_name(), 1, &a).unwrap();
    assert_eq!(
        b.authority(&n.as_name(), 1, &a),
        Err(BuildError::SectionOrder)
    );
    assert_eq!(b.counts(), [0, 0, 1, 1]);
}

#[test]
fn w4_count_overflow_is_out_of_reach() {
    // The smallest entry (a root question) is 5 octets, so 65535 entries never fit in
    // a 65535-octet message: NoSpace always comes first and CountOverflow cannot be
    // reached through the public API. Show the bound holds.
    let mut buf = vec![0u8; 65535];
    let mut b = Builder::new(&mut buf, 1);
    let mut n = 0u32;
    let e = loop {
        match b.push_question(&Name::root(), Rtype::A, Class::In) {
            Ok(()) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(e, BuildError::NoSpace { .. }));
    assert_eq!(n, (65535 - 12) / 5);
    assert_eq!(usize::from(b.counts()[0]), n as usize);
}

#[test]
fn e3_push_opt_with_keepalive_padding_cookie() {
    let q = nb("www.example.test");
    let server = [7u8; 16];
    let mut buf = [0u8; 1024];
    let mut b = Builder::new(&mut buf, 5);
    b.push_question(&q.as_name(), Rtype::A, Class::In).unwrap();
    b.push_opt(1232, 0, 0, false, |w| {
        w.cookie(&Cookie {
            client: [1, 2, 3, 4, 5, 6, 7, 8],
            server: &server,
        })?;
        w.keepalive(None)?;
        w.pad_to_block(128, 0)
    })
    .unwrap();
    let len = b.finish();
    assert_eq!(len % 128, 0, "padded to the block: {len}");
    let m = Message::new(&buf[..len]).unwrap();
    let opt = m.check().unwrap().opt.unwrap();
    let opts: Vec<_> = opt.options().map(|o| o.unwrap()).collect();
    assert_eq!(opts.len(), 3);
    assert_eq!(
        opts[0],
        EdnsOption::Cookie(Cookie {
            client: [1, 2, 3, 4, 5, 6, 7, 8],
            server: &server
        })
    );
    assert_eq!(opts[0].code(), OPT_COOKIE);
    assert_eq!(opts[1], EdnsOption::Keepalive(None));
    let EdnsOption::Padding(p) = opts[2] else {
        panic!()
    };
    assert!(p.iter().all(|&b| b == 0));
    // A server keepalive and padding to the response block.
    for block in [1usize, 2, 64, 468] {
        let mut buf = [0u8; 2048];
        let mut b = Builder::new(&mut buf, 6);
        b.push_question(&q.as_name(), Rtype::A, Class::In).unwrap();
        b.answer(&q.as_name(), 1, &RData::A([192, 0, 2, 9].into()))
            .unwrap();
        b.push_opt(1232, 0, 0, false, |w| {
            w.keepalive(Some(300))?;
            w.pad_to_block(block, 0)
        })
        .unwrap();
        let len = b.finish();
        assert_eq!(len % block, 0);
        let m = Message::new(&buf[..len]).unwrap();
        assert_eq!(m.check().unwrap().opt.unwrap().keepalive(), Some(Some(300)));
    }
    // A server cookie of the wrong size is refused and nothing is written.
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 6);
    let e = b.push_opt(1232, 0, 0, false, |w| {
        w.cookie(&Cookie {
            client: [0; 8],
            server: &[1, 2, 3],
        })
    });
    assert_eq!(e, Err(BuildError::LimitExceeded));
    assert_eq!(b.len(), 12);
    assert_eq!(b.counts(), [0; 4]);
}

#[test]
fn w4_response_to_query() {
    let q = corpus_msg("query_a.bin");
    let query = Message::new(&q).unwrap();
    let mut buf = [0u8; 512];
    let mut b = Builder::response_to(&mut buf, &query);
    let qn = query.first_question().unwrap().unwrap().name;
    b.answer(&qn, 300, &RData::A([192, 0, 2, 10].into()))
        .unwrap();
    let len = b.finish();
    let r = Message::new(&buf[..len]).unwrap();
    r.check().unwrap();
    assert_eq!(r.id(), query.id());
    assert!(r.qr() && r.rd() && !r.aa());
    assert_eq!(r.opcode(), query.opcode());
    assert!(
        r.first_question()
            .unwrap()
            .unwrap()
            .matches(&query.first_question().unwrap().unwrap())
    );
    // An answer owner equal to the question is one pointer.
    let ans = r.answers().unwrap().next().unwrap().unwrap();
    assert_eq!(ans.rdata_offset() - 10 - 2, 12 + qn.wire_len() + 4);
    // A query whose question does not parse yields a response without one.
    let mut bad = header(1, 0, 0, 0);
    bad.extend_from_slice(b"\xC0\x0C\x00\x01\x00\x01");
    let bad = Message::new(&bad).unwrap();
    let mut buf = [0u8; 512];
    let b = Builder::response_to(&mut buf, &bad);
    assert_eq!(b.counts(), [0; 4]);
}

#[test]
fn w4_clear_records_and_checkpoints() {
    let q = nb("www.example.test");
    let a = RData::A([192, 0, 2, 1].into());
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 8);
    b.push_question(&q.as_name(), Rtype::A, Class::In).unwrap();
    let after_q = b.as_bytes().to_vec();
    b.answer(&q.as_name(), 1, &a).unwrap();
    let cp = b.checkpoint();
    let at_cp = b.as_bytes().to_vec();
    b.answer(&q.as_name(), 2, &a).unwrap();
    b.authority(&q.as_name(), 3, &a).unwrap();
    b.rollback(cp);
    assert_eq!(b.as_bytes(), &at_cp[..]);
    assert_eq!(b.counts(), [1, 1, 0, 0]);
    // After rollback we are back in the answer section.
    b.answer(&q.as_name(), 4, &a).unwrap();
    b.additional(&q.as_name(), 5, &a).unwrap();
    b.clear_records();
    assert_eq!(b.as_bytes(), &after_q[..]);
    assert_eq!(b.counts(), [1, 0, 0, 0]);
    // The question section can grow again after clear_records.
    b.push_question(&q.as_name(), Rtype::Aaaa, Class::In)
        .unwrap();
    b.answer(&q.as_name(), 6, &a).unwrap();
    let len = b.finish();
    let m = Message::new(&buf[..len]).unwrap();
    m.check().unwrap();
    assert_eq!(m.questions().count(), 2);
    let ttls: Vec<_> = m.answers().unwrap().map(|r| r.unwrap().ttl()).collect();
    assert_eq!(ttls, [6]);
}

#[test]
fn w4_clear_records_after_rollback_into_questions() {
    // Roll back to a checkpoint taken in the question section, write different
    // questions and records, then clear the records: the result must hold exactly
    // the new questions.
    let long = nb("a-rather-long-name.example.test");
    let short = nb("s.test");
    let a = RData::A([192, 0, 2, 1].into());
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, 9);
    let cp = b.checkpoint();
    b.push_question(&long.as_name(), Rtype::A, Class::In)
        .unwrap();
    b.answer(&long.as_name(), 1, &a).unwrap();
    b.rollback(cp);
    b.push_question(&short.as_name(), Rtype::A, Class::In)
        .unwrap();
    let after_q = b.as_bytes().to_vec();
    b.answer(&short.as_name(), 1, &a).unwrap();
    b.clear_records();
    assert_eq!(b.as_bytes(), &after_q[..]);
    assert_eq!(b.counts(), [1, 0, 0, 0]);
    let len = b.finish();
    let m = Message::new(&buf[..len]).unwrap();
    m.check().unwrap();
    assert_eq!(
        m.first_question().unwrap().unwrap().name.to_string(),
        "s.test."
    );
}

// ---- round trips ---------------------------------------------------------------

#[test]
fn e1_opt_z_bits_survive_rebuild() {
    // Found by the mutation battery: pushing an OPT view dropped the Z bits of its
    // TTL, so the copy differed from the original.
    let v = with_additional(1, |v| opt_rr(v, ROOT, 0x0100_FF7F, &[0, 11, 0, 0]));
    let m = Message::new(&v).unwrap();
    m.check().unwrap();
    let mut out = vec![0u8; 512];
    let len = rebuild(&m, &mut out).unwrap();
    let copy = Message::new(&out[..len]).unwrap();
    assert_eq!(&out[..len], &v[..]);
    assert!(same_content(&m, &copy));
    let opt = copy.opt().unwrap().unwrap();
    assert_eq!(
        (opt.ext_rcode(), opt.version(), opt.dnssec_ok()),
        (1, 0, true)
    );
    builder_roundtrip(&v);
}

#[test]
fn w4_corpus_rebuild_round_trip() {
    let mut out = vec![0u8; 65535];
    for (name, bytes) in corpus() {
        let m = Message::new(&bytes).unwrap();
        m.check().unwrap();
        let len = rebuild(&m, &mut out).unwrap();
        let copy = Message::new(&out[..len]).unwrap();
        copy.check().unwrap();
        assert!(same_content(&m, &copy), "{name}");
        assert!(len <= bytes.len() + 8, "{name}: {len} vs {}", bytes.len());
        builder_roundtrip(&bytes);
    }
}

/// xorshift64*: a tiny deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

enum Spec {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Ns(usize),
    Cname(usize),
    Ptr(usize),
    Mx(u16, usize),
    Soa(usize, usize, [u32; 5]),
    Txt(Vec<u8>),
    Srv(u16, u16, u16, usize),
    Unknown(u16, Vec<u8>),
}

impl Spec {
    fn rdata<'a>(&'a self, pool: &'a [NameBuf]) -> RData<'a> {
        match self {
            Spec::A(a) => RData::A((*a).into()),
            Spec::Aaaa(a) => RData::Aaaa((*a).into()),
            Spec::Ns(i) => RData::Ns(pool[*i].as_name()),
            Spec::Cname(i) => RData::Cname(pool[*i].as_name()),
            Spec::Ptr(i) => RData::Ptr(pool[*i].as_name()),
            Spec::Mx(p, i) => RData::Mx {
                preference: *p,
                exchange: pool[*i].as_name(),
            },
            Spec::Soa(m, r, n) => RData::Soa {
                mname: pool[*m].as_name(),
                rname: pool[*r].as_name(),
                serial: n[0],
                refresh: n[1],
                retry: n[2],
                expire: n[3],
                minimum: n[4],
            },
            Spec::Txt(w) => RData::Txt(Txt::new(w).unwrap()),
            Spec::Srv(p, w, port, t) => RData::Srv {
                priority: *p,
                weight: *w,
                port: *port,
                target: pool[*t].as_name(),
            },
            Spec::Unknown(t, d) => RData::Unknown {
                rtype: Rtype::Unknown(*t),
                data: d,
            },
        }
    }
}

fn random_name(rng: &mut Rng, pool: &[NameBuf]) -> NameBuf {
    const ALPHA: &[u8] = b"abcXYZ019-_.\\ \x00\xff";
    let mut wire = Vec::new();
    let labels = rng.below(4);
    for _ in 0..labels {
        let max = if rng.below(10) == 0 { 63 } else { 8 };
        let l = 1 + rng.below(max);
        wire.push(l as u8);
        for _ in 0..l {
            wire.push(ALPHA[rng.below(ALPHA.len())]);
        }
    }
    // Often share a suffix with an earlier name so compression has work to do.
    if !pool.is_empty() && rng.below(2) == 0 {
        let base = &pool[rng.below(pool.len())];
        if wire.len() + base.as_wire().len() <= 255 {
            wire.extend_from_slice(base.as_wire());
        } else {
            wire.push(0);
        }
    } else {
        wire.push(0);
    }
    let (n, _) = Name::from_wire(&wire).unwrap();
    n.to_buf()
}

fn random_spec(rng: &mut Rng, names: usize) -> Spec {
    let mut n = || rng.below(names);
    let pick = n();
    let pick2 = n();
    match rng.below(10) {
        0 => Spec::A(rng.next().to_be_bytes()[..4].try_into().unwrap()),
        1 => {
            let mut a = [0u8; 16];
            a[..8].copy_from_slice(&rng.next().to_be_bytes());
            a[8..].copy_from_slice(&rng.next().to_be_bytes());
            Spec::Aaaa(a)
        }
        2 => Spec::Ns(pick),
        3 => Spec::Cname(pick),
        4 => Spec::Ptr(pick),
        5 => Spec::Mx(rng.next() as u16, pick),
        6 => {
            let v = rng.next();
            Spec::Soa(
                pick,
                pick2,
                [v as u32, (v >> 32) as u32, 3600, 1209600, rng.next() as u32],
            )
        }
        7 => {
            let mut w = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let max = if rng.below(5) == 0 { 256 } else { 20 };
                let l = rng.below(max);
                w.push(l as u8);
                for _ in 0..l {
                    w.push(rng.next() as u8);
                }
            }
            Spec::Txt(w)
        }
        8 => Spec::Srv(
            rng.next() as u16,
            rng.next() as u16,
            rng.next() as u16,
            pick,
        ),
        _ => {
            let t = 256 + rng.below(60000) as u16;
            let d: Vec<u8> = (0..rng.below(30)).map(|_| rng.next() as u8).collect();
            Spec::Unknown(t, d)
        }
    }
}

#[test]
fn w4_random_messages_round_trip() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut buf = vec![0u8; 65535];
    for iter in 0..2000 {
        let mut pool: Vec<NameBuf> = Vec::new();
        for _ in 0..1 + rng.below(12) {
            let n = random_name(&mut rng, &pool);
            pool.push(n);
        }
        let nq = rng.below(3);
        let questions: Vec<(usize, u16, u16)> = (0..nq)
            .map(|_| {
                (
                    rng.below(pool.len()),
                    rng.next() as u16,
                    1 + rng.below(4) as u16,
                )
            })
            .collect();
        let mut records: Vec<(Section, usize, u16, u32, Spec)> = Vec::new();
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            for _ in 0..rng.below(6) {
                let class = [1u16, 3, 4, 255][rng.below(4)];
                records.push((
                    s,
                    rng.below(pool.len()),
                    class,
                    rng.next() as u32,
                    random_spec(&mut rng, pool.len()),
                ));
            }
        }
        let with_opt = rng.below(3) == 0;
        let id = rng.next() as u16;
        let flags = rng.next() as u16 & !0x0040; // Z bit left clear
        let mut b = Builder::new(&mut buf, id);
        b.header_mut().set_flags(flags);
        for &(n, t, c) in &questions {
            b.push_question(&pool[n].as_name(), Rtype::from_int(t), Class::from_int(c))
                .unwrap();
        }
        for (s, owner, class, ttl, spec) in &records {
            b.push(
                *s,
                &pool[*owner].as_name(),
                Class::from_int(*class),
                *ttl,
                &spec.rdata(&pool),
            )
            .unwrap();
        }
        let keep = rng.next() as u16;
        if with_opt {
            b.push_opt(512 + keep % 4096, 0, 0, keep & 1 == 1, |w| {
                w.keepalive(Some(keep))
            })
            .unwrap();
        }
        let len = b.finish();
        let bytes = &buf[..len];
        let m = Message::new(bytes).unwrap();
        let s = m
            .check()
            .unwrap_or_else(|e| panic!("iteration {iter}: {e} in {bytes:02x?}"));
        assert_eq!(m.id(), id);
        assert_eq!(m.header().flags(), flags);
        assert_eq!(s.opt.is_some(), with_opt, "iteration {iter}");
        if with_opt {
            assert_eq!(s.opt.unwrap().keepalive(), Some(Some(keep)));
        }
        let qs: Vec<_> = m.questions().map(|q| q.unwrap()).collect();
        assert_eq!(qs.len(), questions.len());
        for (q, &(n, t, c)) in qs.iter().zip(&questions) {
            assert!(q.name.labels().eq(pool[n].as_name().labels()));
            assert_eq!(q.qtype.to_int(), t);
            assert_eq!(q.qclass.to_int(), c);
        }
        let got: Vec<_> = m
            .records()
            .unwrap()
            .map(|r| r.unwrap())
            .filter(|r| r.rtype() != Rtype::Opt)
            .collect();
        assert_eq!(got.len(), records.len(), "iteration {iter}");
        for (r, (s, owner, class, ttl, spec)) in got.iter().zip(&records) {
            let want = spec.rdata(&pool);
            assert_eq!(r.section(), *s);
            assert!(r.owner().labels().eq(pool[*owner].as_name().labels()));
            assert_eq!(r.raw_class(), *class);
            assert_eq!(r.ttl(), *ttl);
            let d = r.data().unwrap();
            assert_eq!(d, want, "iteration {iter}");
            let (mut x, mut y) = (String::new(), String::new());
            write!(x, "{d}").unwrap();
            write!(y, "{want}").unwrap();
            assert_eq!(x, y, "iteration {iter}: case and bytes preserved");
        }
        // And the generic rebuild agrees.
        let mut copy = vec![0u8; 65535];
        let n = rebuild(&m, &mut copy).unwrap();
        assert!(same_content(&m, &Message::new(&copy[..n]).unwrap()));
    }
}

#[test]
fn w7_budget_allows_repeated_walks_of_legit_messages() {
    // Every top-level walk starts with a full budget, so a legitimate message can be
    // walked any number of times through one view.
    for (name, bytes) in corpus() {
        let m = Message::new(&bytes).unwrap();
        let mut walks = 0;
        while m.check().is_ok() {
            walks += 1;
            if walks == 1000 {
                break;
            }
        }
        assert_eq!(walks, 1000, "{name}: only {walks} full walks fit");
        // A fresh view always starts with the whole budget.
        Message::new(&bytes).unwrap().check().unwrap();
    }
}
