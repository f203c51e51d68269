//! Wire-layer fuzz bodies: frame decoder, message parser, builder round trip.

#![allow(missing_docs)]

use core::fmt::Write;

use crate::frame::{Decoder, Oversize, Status};
use crate::wire::{Builder, Message, RData};

/// A `fmt::Write` sink that discards output but makes every `Display` run.
struct Sink(usize);
impl Write for Sink {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Decodes `data` as a framed stream, fed in chunks whose sizes come from the data.
pub fn frame_decoder(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let oversize = if mode & 1 == 0 {
        Oversize::Discard
    } else {
        Oversize::Close
    };
    let max = 12 + u16::from(mode >> 1) * 16;
    let mut d = Decoder::new(max, oversize);
    let mut pos = 0;
    let mut guard = 0;
    while pos < rest.len() && guard <= rest.len() + 2 {
        guard += 1;
        match d.decode(&rest[pos..]) {
            Ok(Status::Complete { message, consumed }) => {
                assert!(message.len() >= 12 && message.len() <= usize::from(max));
                assert_eq!(consumed, message.len() + 2);
                pos += consumed;
            }
            Ok(Status::Oversized { consumed, len, .. }) => {
                assert!(len > max && consumed > 0);
                pos += consumed;
            }
            Ok(Status::Skipped { consumed }) => {
                assert!(consumed > 0);
                pos += consumed;
            }
            Ok(Status::Partial { need }) => {
                assert!(need > rest.len() - pos);
                break;
            }
            Err(_) => break,
        }
        assert!(pos <= rest.len());
    }
}

/// Parses `data` as a message, walks every record, decodes every RDATA and displays
/// every name.
pub fn message_parse(data: &[u8]) {
    let Ok(msg) = Message::new(data) else {
        assert!(data.len() < 12);
        return;
    };
    let mut sink = Sink(0);
    let _ = msg.check();
    let _ = msg.rcode();
    for q in msg.questions() {
        let Ok(q) = q else { break };
        let _ = write!(sink, "{q}");
    }
    if let Ok(records) = msg.records() {
        for r in records {
            let Ok(r) = r else { break };
            let _ = write!(sink, "{r}");
            if let Ok(RData::Opt(o)) = r.data() {
                for opt in o.options() {
                    let _ = opt.map(|o| write!(sink, "{o}"));
                }
            }
        }
    }
}

/// Parses `data`; when it is a valid message, rebuilds it with the builder and
/// checks that the copy reads back the same.
pub fn builder_roundtrip(data: &[u8]) {
    let Ok(msg) = Message::new(data) else { return };
    if msg.check().is_err() {
        return;
    }
    let mut out = [0u8; 65535];
    let Ok(len) = rebuild(&msg, &mut out) else {
        return;
    };
    let copy = Message::new(&out[..len]).expect("rebuilt message has a header");
    assert!(copy.check().is_ok(), "rebuilt message must be valid");
    assert!(same_content(&msg, &copy), "rebuilt message differs");
    // The same build into a buffer of a size the input picks (its ID modulo the
    // length plus a little): shorter than the message (a header included) is
    // `NoSpace`, never a panic; long enough gives the same bytes.
    let cut = usize::from(msg.id()) % (len + 8);
    let mut small = [0u8; 65535];
    let small = small.get_mut(..cut).unwrap_or(&mut []);
    match rebuild(&msg, small) {
        // A header-only message into a buffer shorter than a header: length 0.
        Ok(0) => assert!(cut < crate::wire::HEADER_LEN, "empty build with room"),
        Ok(n) => assert!(
            cut >= len && n == len && small.get(..n) == out.get(..len),
            "short buffer accepted or different bytes"
        ),
        Err(e) => assert!(
            cut < len && matches!(e, crate::wire::BuildError::NoSpace { .. }),
            "{e:?} with room"
        ),
    }
}

/// Copies every question and record of `msg` into a new message in `out`.
#[doc(hidden)]
pub fn rebuild(msg: &Message<'_>, out: &mut [u8]) -> Result<usize, crate::wire::BuildError> {
    let mut b = Builder::new(out, msg.id());
    *b.header_mut() = msg.header();
    for q in msg.questions().flatten() {
        b.push_question(&q.name, q.qtype, q.qclass)?;
    }
    if let Ok(records) = msg.records() {
        for r in records.flatten() {
            if let Ok(d) = r.data() {
                b.push(r.section(), &r.owner(), r.class(), r.ttl(), &d)?;
            }
        }
    }
    Ok(b.finish())
}

/// Whether two messages hold the same header, questions and records.
#[doc(hidden)]
pub fn same_content(a: &Message<'_>, b: &Message<'_>) -> bool {
    if a.header() != b.header() {
        return false;
    }
    if !a.questions().zip(b.questions()).all(|(x, y)| match (x, y) {
        (Ok(x), Ok(y)) => x.matches(&y) && x.name.labels().eq(y.name.labels()),
        _ => false,
    }) {
        return false;
    }
    let (Ok(ra), Ok(rb)) = (a.records(), b.records()) else {
        return false;
    };
    ra.zip(rb).all(|(x, y)| match (x, y) {
        (Ok(x), Ok(y)) => {
            x.section() == y.section()
                && x.owner().labels().eq(y.owner().labels())
                && x.rtype() == y.rtype()
                && x.raw_class() == y.raw_class()
                && x.ttl() == y.ttl()
                && match (x.data(), y.data()) {
                    (Ok(dx), Ok(dy)) => dx == dy,
                    _ => false,
                }
        }
        _ => false,
    })
}
