//! Zero heap allocations on the hot paths (W3 and the bounded-memory standard).

use crate::common::alloc::{assert_no_alloc, count};

#[test]
fn counting_allocator_sees_allocations() {
    let (n, bytes, v) = count(|| vec![1u8; 100]);
    assert!(
        n >= 1 && bytes >= 100,
        "the counter must see a Vec allocation"
    );
    drop(v);
    assert_no_alloc("nothing", || 1 + 1);
}

// ---- the hot paths over the whole corpus ------------------------------------------

use core::fmt::{self, Write as _};

use dnstcp::frame::{Decoder, Oversize, Status};
use dnstcp::wire::{Builder, Message, RData};

use crate::common::corpus;

/// A `fmt::Write` into a fixed stack buffer.
struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
    fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Parses, walks, decodes and displays everything in `bytes`; returns the number of
/// records seen. Must not allocate.
fn walk(bytes: &[u8], text: &mut StackBuf<2048>) -> usize {
    let m = Message::new(bytes).unwrap();
    m.check().unwrap();
    let _ = m.rcode();
    for q in m.questions() {
        let q = q.unwrap();
        text.clear();
        write!(text, "{q}").unwrap();
        assert!(text.as_str().contains('\t'));
    }
    let mut n = 0;
    for r in m.records().unwrap() {
        let r = r.unwrap();
        text.clear();
        write!(text, "{}", r.owner()).unwrap();
        assert!(text.as_str().ends_with('.'));
        text.clear();
        write!(text, "{r}").unwrap();
        match r.data().unwrap() {
            RData::Opt(o) => {
                for opt in o.options() {
                    text.clear();
                    write!(text, "{}", opt.unwrap()).unwrap();
                }
            }
            RData::Txt(t) => {
                for s in t.strings() {
                    assert!(s.len() <= 255);
                }
            }
            RData::Ns(x) | RData::Cname(x) | RData::Ptr(x) => {
                text.clear();
                write!(text, "{x}").unwrap();
            }
            RData::Mx { exchange, .. } => {
                text.clear();
                write!(text, "{exchange}").unwrap();
            }
            RData::Soa { mname, rname, .. } => {
                text.clear();
                write!(text, "{mname} {rname}").unwrap();
            }
            RData::Srv { target, .. } => {
                text.clear();
                write!(text, "{target}").unwrap();
            }
            _ => {}
        }
        n += 1;
    }
    for s in [m.answers(), m.authority(), m.additional()] {
        n -= s.unwrap().count();
    }
    n
}

#[test]
fn w3_parse_walk_display_allocates_nothing() {
    let corpus = corpus();
    let mut text = StackBuf::<2048>::new();
    for (name, bytes) in &corpus {
        let leftover = assert_no_alloc(name, || walk(bytes, &mut text));
        assert_eq!(leftover, 0, "{name}: sections add up to all records");
    }
}

#[test]
fn w4_build_response_allocates_nothing() {
    let corpus = corpus();
    let mut out = vec![0u8; 65535];
    for (name, bytes) in &corpus {
        let len = assert_no_alloc(name, || {
            let m = Message::new(bytes).unwrap();
            let mut b = Builder::response_to(&mut out, &m);
            b.header_mut().set_aa(true);
            for r in m.records().unwrap() {
                let r = r.unwrap();
                match r.data().unwrap() {
                    RData::Opt(_) => {}
                    d => b
                        .push(r.section(), &r.owner(), r.class(), r.ttl(), &d)
                        .unwrap(),
                }
            }
            b.push_opt(1232, 0, 0, false, |w| {
                w.keepalive(Some(100))?;
                w.pad_to_block(468, 0)
            })
            .unwrap();
            b.finish()
        });
        let copy = Message::new(&out[..len]).unwrap();
        copy.check().unwrap();
        assert_eq!(len % 468, 0, "{name}");
        assert_no_alloc(name, || dnstcp::_fuzz::builder_roundtrip(bytes));
        assert_no_alloc(name, || dnstcp::_fuzz::message_parse(bytes));
    }
}

#[test]
fn f2_frame_decoding_allocates_nothing() {
    let corpus = corpus();
    let mut stream = Vec::new();
    for (_, m) in &corpus {
        stream.extend_from_slice(&(m.len() as u16).to_be_bytes());
        stream.extend_from_slice(m);
    }
    let n = assert_no_alloc("frame decode", || {
        let mut seen = 0;
        for max in [u16::MAX, 1000] {
            let mut d = Decoder::new(max, Oversize::Discard);
            let mut pos = 0;
            // Offer the stream in 100-byte windows, as reads would.
            let mut avail = 0;
            while pos < stream.len() {
                avail = (avail + 100).min(stream.len());
                loop {
                    match d.decode(&stream[pos..avail]) {
                        Ok(Status::Complete { message, consumed }) => {
                            seen += 1;
                            let _ = Message::new(message).unwrap().id();
                            pos += consumed;
                        }
                        Ok(Status::Oversized { consumed, .. })
                        | Ok(Status::Skipped { consumed }) => pos += consumed,
                        Ok(Status::Partial { .. }) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }
        seen
    });
    assert_eq!(n, 2 * corpus.len() - 2);
    for mode in [0u8, 1, 0xFE, 0xFF] {
        let mut input = vec![mode];
        input.extend_from_slice(&stream);
        assert_no_alloc("fuzz frame_decoder", || {
            dnstcp::_fuzz::frame_decoder(&input)
        });
    }
}
