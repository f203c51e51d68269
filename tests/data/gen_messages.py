#!/usr/bin/env python3
"""Regenerate the shared DNS wire-message corpus and the fuzz seed corpora.

Usage (from anywhere; paths are relative to this file):

    pip install dnspython
    python3 tests/data/gen_messages.py

Writes:
  tests/data/messages/*.bin      one raw DNS message per file (no TCP length prefix)
  fuzz/corpus/<target>/*         seed inputs for the five cargo-fuzz targets

Output is deterministic: message IDs are fixed, the "random" fuzz seeds come
from a seeded PRNG, and dnspython's encoder (with its name compression) is
the only source of the wire bytes. Tests read the .bin files only; this
script is committed so the corpus can be rebuilt and reviewed.

Every message lives under the zone example.test. (RFC 2606 reserved name) and
uses documentation addresses (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32).
"""

import os
import random
import struct
import sys

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
except ImportError:  # pragma: no cover
    sys.exit("gen_messages.py needs dnspython: pip install dnspython")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
MSG_DIR = os.path.join(HERE, "messages")
FUZZ_CORPUS = os.path.join(REPO, "fuzz", "corpus")

ZONE = "example.test."
SOA_RDATA = "ns1.example.test. hostmaster.example.test. 2024061501 7200 3600 1209600 300"

# EDNS payload size advertised by both ends (DNS flag day 2020 value).
EDNS_PAYLOAD = 1232

# edns-tcp-keepalive (RFC 7828) option code and the timeout we advertise,
# in units of 100 ms: 100 -> 10 seconds.
KEEPALIVE_CODE = 11
KEEPALIVE_VALUE = 100


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def rrset(name, ttl, rdtype, *rdatas):
    """An IN-class RRset; names in rdata are given absolute."""
    return dns.rrset.from_text(name, ttl, "IN", rdtype, *rdatas)


def query(qname, qtype, msg_id, edns=True, options=None):
    """A recursive-desired stub query, the way a resolver library sends it."""
    return dns.message.make_query(
        qname,
        qtype,
        use_edns=0 if edns else None,
        payload=EDNS_PAYLOAD if edns else None,
        options=options,
        id=msg_id,
    )


def response(q, aa=True, rcode=dns.rcode.NOERROR):
    """An authoritative-server style response to `q` (QR, RD copied, no RA)."""
    r = dns.message.make_response(q, our_payload=EDNS_PAYLOAD)
    if aa:
        r.flags |= dns.flags.AA
    r.set_rcode(rcode)
    return r


def wire(msg):
    # dnspython compresses names by default; keep its choices as they are.
    # It also shuffles the records of each RRset by default (load balancing),
    # which would make every run produce different bytes: turn that off.
    return msg.to_wire(max_size=65535, want_shuffle=False)


def frame(data):
    """RFC 1035 4.2.2 / RFC 7766 8: 2-byte big-endian length, then the message."""
    assert len(data) <= 0xFFFF
    return struct.pack("!H", len(data)) + data


# ---------------------------------------------------------------------------
# The messages
# ---------------------------------------------------------------------------


def m_query_a():
    return query("www.example.test.", "A", 0x1A2B)


def m_a():
    r = response(query("www.example.test.", "A", 0x1A2B))
    r.answer.append(rrset("www.example.test.", 300, "A", "192.0.2.10", "192.0.2.11"))
    return r


def m_aaaa():
    r = response(query("www.example.test.", "AAAA", 0x2B3C))
    r.answer.append(
        rrset("www.example.test.", 300, "AAAA", "2001:db8::10", "2001:db8:0:1::11")
    )
    return r


def m_mx_compressed():
    r = response(query("example.test.", "MX", 0x3C4D))
    r.answer.append(
        rrset(
            ZONE,
            3600,
            "MX",
            "10 mx1.example.test.",
            "20 mx2.example.test.",
            "30 mx3.example.test.",
        )
    )
    r.additional.append(rrset("mx1.example.test.", 3600, "A", "192.0.2.25"))
    r.additional.append(rrset("mx2.example.test.", 3600, "A", "192.0.2.26"))
    r.additional.append(rrset("mx3.example.test.", 3600, "AAAA", "2001:db8::25"))
    return r


def m_txt_large():
    # SPF/DKIM/verification-token style records, several strings per record,
    # enough of them to push the message well past 1200 bytes (so it would be
    # truncated over UDP with the 1232 payload size and needs TCP).
    r = response(query("example.test.", "TXT", 0x4D5E))
    rdatas = ['"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.test -all"']
    for i in range(8):
        parts = []
        for j in range(3):
            body = "".join(chr(ord("a") + (i * 7 + j * 3 + k) % 26) for k in range(60))
            parts.append('"record-%d-part-%d=%s"' % (i, j, body))
        rdatas.append(" ".join(parts))
    rdatas.append(
        '"google-site-verification=' + "Zk3q" * 10 + '" "second-string" "third string with spaces"'
    )
    r.answer.append(rrset(ZONE, 3600, "TXT", *rdatas))
    return r


def m_nxdomain_soa():
    r = response(query("nonexistent.example.test.", "A", 0x5E6F), rcode=dns.rcode.NXDOMAIN)
    # RFC 2308: the SOA TTL in the negative answer is min(SOA TTL, SOA MINIMUM).
    r.authority.append(rrset(ZONE, 300, "SOA", SOA_RDATA))
    return r


def m_edns_cookie():
    client_cookie = bytes.fromhex("24a1f3c06b9d0e57")
    # RFC 9018 interoperable server cookie: version 1, 3 reserved bytes,
    # 4-byte timestamp, 8-byte hash.
    server_cookie = bytes.fromhex("01000000" "66710a80" "9f3b2c6d1e8a4470")
    assert len(client_cookie) == 8 and len(server_cookie) == 16
    q = query(
        "www.example.test.",
        "A",
        0x6F70,
        options=[dns.edns.CookieOption(client_cookie, b"")],
    )
    r = response(q)
    r.use_edns(
        0,
        0,
        EDNS_PAYLOAD,
        options=[
            dns.edns.CookieOption(client_cookie, server_cookie),
            dns.edns.GenericOption(KEEPALIVE_CODE, struct.pack("!H", KEEPALIVE_VALUE)),
        ],
    )
    r.answer.append(rrset("www.example.test.", 300, "A", "192.0.2.10"))
    return r


def m_referral_glue():
    # Delegation from example.test to child.example.test: no AA, empty answer.
    r = response(query("www.child.example.test.", "A", 0x7081), aa=False)
    r.authority.append(
        rrset(
            "child.example.test.",
            86400,
            "NS",
            "ns1.child.example.test.",
            "ns2.child.example.test.",
        )
    )
    r.additional.append(rrset("ns1.child.example.test.", 86400, "A", "198.51.100.53"))
    r.additional.append(rrset("ns1.child.example.test.", 86400, "AAAA", "2001:db8:100::53"))
    r.additional.append(rrset("ns2.child.example.test.", 86400, "A", "198.51.100.54"))
    r.additional.append(rrset("ns2.child.example.test.", 86400, "AAAA", "2001:db8:100::54"))
    return r


def m_cname_chain():
    r = response(query("alias.example.test.", "A", 0x8192))
    r.answer.append(rrset("alias.example.test.", 300, "CNAME", "alias2.example.test."))
    r.answer.append(rrset("alias2.example.test.", 300, "CNAME", "www.example.test."))
    r.answer.append(rrset("www.example.test.", 300, "A", "192.0.2.10"))
    return r


def m_srv():
    r = response(query("_sip._tcp.example.test.", "SRV", 0x92A3))
    r.answer.append(
        rrset(
            "_sip._tcp.example.test.",
            3600,
            "SRV",
            "10 60 5060 sip1.example.test.",
            "20 40 5060 sip2.example.test.",
        )
    )
    r.additional.append(rrset("sip1.example.test.", 3600, "A", "192.0.2.60"))
    r.additional.append(rrset("sip2.example.test.", 3600, "A", "192.0.2.61"))
    return r


def m_many_records():
    # A load-balancer pool name: 28 A + 16 AAAA in the answer, 4 NS in
    # authority, A + AAAA glue for 8 name servers in additional (60 A/AAAA).
    r = response(query("pool.example.test.", "ANY", 0xA3B4))
    r.answer.append(
        rrset("pool.example.test.", 60, "A", *["192.0.2.%d" % (100 + i) for i in range(28)])
    )
    r.answer.append(
        rrset("pool.example.test.", 60, "AAAA", *["2001:db8:2::%x" % (0x100 + i) for i in range(16)])
    )
    r.authority.append(
        rrset(ZONE, 3600, "NS", *["ns%d.example.test." % i for i in range(1, 5)])
    )
    for i in range(1, 9):
        host = "ns%d.example.test." % i
        r.additional.append(rrset(host, 3600, "A", "198.51.100.%d" % i))
        r.additional.append(rrset(host, 3600, "AAAA", "2001:db8:53::%d" % i))
    return r


def m_ptr():
    # Reverse mapping of 192.0.2.10 (TEST-NET-1) back into example.test.
    r = response(query("10.2.0.192.in-addr.arpa.", "PTR", 0xB4C5))
    r.answer.append(rrset("10.2.0.192.in-addr.arpa.", 3600, "PTR", "www.example.test."))
    return r


def m_soa():
    r = response(query("example.test.", "SOA", 0xC5D6))
    r.answer.append(rrset(ZONE, 3600, "SOA", SOA_RDATA))
    return r


def m_ns():
    r = response(query("example.test.", "NS", 0xD6E7))
    r.answer.append(rrset(ZONE, 3600, "NS", "ns1.example.test.", "ns2.example.test."))
    r.additional.append(rrset("ns1.example.test.", 3600, "A", "192.0.2.53"))
    r.additional.append(rrset("ns1.example.test.", 3600, "AAAA", "2001:db8::53"))
    r.additional.append(rrset("ns2.example.test.", 3600, "A", "198.51.100.53"))
    r.additional.append(rrset("ns2.example.test.", 3600, "AAAA", "2001:db8:100::53"))
    return r


# Order matters only for the concatenated fuzz seeds.
MESSAGES = [
    ("query_a", m_query_a),
    ("a", m_a),
    ("aaaa", m_aaaa),
    ("mx_compressed", m_mx_compressed),
    ("txt_large", m_txt_large),
    ("nxdomain_soa", m_nxdomain_soa),
    ("edns_cookie", m_edns_cookie),
    ("referral_glue", m_referral_glue),
    ("cname_chain", m_cname_chain),
    ("srv", m_srv),
    ("many_records", m_many_records),
    ("ptr", m_ptr),
    ("soa", m_soa),
    ("ns", m_ns),
]


# ---------------------------------------------------------------------------
# Self-checks: catch a dnspython change that would silently alter the corpus.
# ---------------------------------------------------------------------------


def check(name, data):
    m = dns.message.from_wire(data)
    # Parse and re-encode: dnspython must reproduce the exact bytes.
    assert wire(m) == data, name
    if name == "query_a":
        assert not (m.flags & dns.flags.QR) and m.flags & dns.flags.RD
        assert m.edns == 0 and m.payload == EDNS_PAYLOAD
    else:
        assert m.flags & dns.flags.QR, name
    if name == "txt_large":
        assert len(data) > 1200, len(data)
    if name == "mx_compressed":
        # Compression pointers (top two bits set) must be present.
        assert any(b & 0xC0 == 0xC0 for b in data[12:]), name
    if name == "nxdomain_soa":
        assert m.rcode() == dns.rcode.NXDOMAIN and m.authority[0].rdtype == dns.rdatatype.SOA
    if name == "edns_cookie":
        codes = {o.otype: o for o in m.options}
        cookie = codes[dns.edns.OptionType.COOKIE]
        assert len(cookie.client) == 8 and len(cookie.server) == 16
        ka = codes[KEEPALIVE_CODE]
        assert ka.to_wire() == struct.pack("!H", KEEPALIVE_VALUE)
    if name == "referral_glue":
        assert not (m.flags & dns.flags.AA) and not m.answer
    if name == "many_records":
        n = sum(
            len(rs)
            for sec in (m.answer, m.authority, m.additional)
            for rs in sec
            if rs.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
        )
        assert 55 <= n <= 65, n
    return m


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    corpus = []
    for name, build in MESSAGES:
        data = wire(build())
        check(name, data)
        write(os.path.join(MSG_DIR, name + ".bin"), data)
        corpus.append((name, data))

    stream = b"".join(frame(d) for _, d in corpus)

    # message_parse / builder_roundtrip: the raw messages as they are.
    for target in ("message_parse", "builder_roundtrip"):
        for name, data in corpus:
            write(os.path.join(FUZZ_CORPUS, target, name + ".bin"), data)

    # frame_decoder: each message framed, the whole stream, and a stream that
    # stops mid-frame (two complete frames, then the length prefix and the
    # first half of txt_large), which must decode as Partial, not an error.
    fd = os.path.join(FUZZ_CORPUS, "frame_decoder")
    for name, data in corpus:
        write(os.path.join(fd, name + ".bin"), frame(data))
    write(os.path.join(fd, "stream_all.bin"), stream)
    by_name = dict(corpus)
    big = frame(by_name["txt_large"])
    split = frame(by_name["query_a"]) + frame(by_name["a"]) + big[: len(big) // 2]
    write(os.path.join(fd, "stream_split.bin"), split)

    # server_ops / client_ops: the framed stream plus a few small random
    # inputs (the op decoders read these as operation lists).
    rng = random.Random(7766)
    for target in ("server_ops", "client_ops"):
        d = os.path.join(FUZZ_CORPUS, target)
        write(os.path.join(d, "stream_all.bin"), stream)
        for size in (16, 64, 200):
            blob = bytes(rng.randrange(256) for _ in range(size))
            write(os.path.join(d, "random_%d.bin" % size), blob)

    width = max(len(n) for n, _ in corpus)
    for name, data in corpus:
        print("%-*s %5d bytes" % (width + 4, name + ".bin", len(data)))
    print("%-*s %5d bytes (framed stream)" % (width + 4, "total", len(stream)))


if __name__ == "__main__":
    main()
