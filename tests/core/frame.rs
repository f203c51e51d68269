//! RFC 7766 §8 framing (CHECKLIST F1–F6) over the shared corpus.

use dnstcp::frame::{Decoder, FrameError, Oversize, PREFIX_LEN, Status, encode};

use crate::common::corpus;
use crate::wire::Rng;

/// What a receiver saw on a stream.
#[derive(Debug, PartialEq, Eq, Default)]
struct Seen {
    messages: Vec<Vec<u8>>,
    oversized: Vec<(u16, u16)>,
    error: Option<FrameError>,
    /// Bytes left unconsumed at the end (a partial frame).
    pending: usize,
}

/// Feeds `chunks` into a receive buffer the way an adapter would: append each read,
/// then decode until the decoder needs more. Consumed bytes are tracked by offset, so
/// nothing is rescanned or copied again.
fn drive<'c>(d: &mut Decoder, chunks: impl IntoIterator<Item = &'c [u8]>) -> Seen {
    let mut rx: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut seen = Seen::default();
    for chunk in chunks {
        rx.extend_from_slice(chunk);
        loop {
            match d.decode(&rx[start..]) {
                Ok(Status::Complete { message, consumed }) => {
                    assert_eq!(consumed, message.len() + PREFIX_LEN);
                    seen.messages.push(message.to_vec());
                    start += consumed;
                }
                Ok(Status::Oversized { len, id, consumed }) => {
                    seen.oversized.push((id, len));
                    start += consumed;
                }
                Ok(Status::Skipped { consumed }) => {
                    assert!(consumed > 0);
                    start += consumed;
                }
                Ok(Status::Partial { need }) => {
                    assert!(need > rx.len() - start, "Partial must ask for more");
                    break;
                }
                Err(e) => {
                    seen.error = Some(e);
                    seen.pending = rx.len() - start;
                    return seen;
                }
            }
        }
    }
    seen.pending = rx.len() - start;
    seen
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; msg.len() + 2];
    assert_eq!(encode(msg, &mut out), Ok(msg.len() + 2));
    out
}

fn corpus_stream() -> (Vec<Vec<u8>>, Vec<u8>) {
    let msgs: Vec<Vec<u8>> = corpus().into_iter().map(|(_, b)| b).collect();
    let stream = msgs.iter().flat_map(|m| framed(m)).collect();
    (msgs, stream)
}

#[test]
fn f1_encode_puts_prefix_and_message_in_one_buffer() {
    for (name, m) in corpus() {
        let f = framed(&m);
        assert_eq!(u16::from_be_bytes([f[0], f[1]]) as usize, m.len(), "{name}");
        assert_eq!(&f[2..], &m[..]);
        assert_eq!(
            encode(&m, &mut vec![0u8; m.len() + 1]),
            Err(FrameError::NoSpace {
                required: m.len() + 2
            })
        );
    }
    let huge = vec![0u8; 65536];
    assert_eq!(
        encode(&huge, &mut vec![0u8; 65538]),
        Err(FrameError::MessageTooLong)
    );
    let max = vec![0u8; 65535];
    assert_eq!(encode(&max, &mut vec![0u8; 65537]), Ok(65537));
}

#[test]
fn f2_every_split_point_of_the_pipelined_corpus() {
    let (msgs, stream) = corpus_stream();
    for k in 0..=stream.len() {
        let mut d = Decoder::new(u16::MAX, Oversize::Close);
        let seen = drive(&mut d, [&stream[..k], &stream[k..]]);
        assert_eq!(seen.messages, msgs, "split at {k}");
        assert_eq!(seen.pending, 0);
        assert!(seen.error.is_none());
    }
}

#[test]
fn f2_random_chunk_sizes() {
    let (msgs, stream) = corpus_stream();
    let mut rng = Rng(0xF2F2_1234_5678_9ABC);
    for round in 0..300 {
        let max_chunk = [1, 2, 3, 7, 64, 512, 4096][round % 7];
        let mut chunks = Vec::new();
        let mut p = 0;
        while p < stream.len() {
            let n = (1 + rng.below(max_chunk)).min(stream.len() - p);
            chunks.push(&stream[p..p + n]);
            p += n;
        }
        let mut d = Decoder::new(u16::MAX, Oversize::Discard);
        let seen = drive(&mut d, chunks);
        assert_eq!(seen.messages, msgs, "round {round}");
        assert_eq!(seen.pending, 0);
    }
}

#[test]
fn f2_thousands_of_tiny_frames_in_one_read() {
    let mut stream = Vec::new();
    for id in 0..5000u16 {
        stream.extend_from_slice(&12u16.to_be_bytes());
        stream.extend_from_slice(&id.to_be_bytes());
        stream.extend_from_slice(&[0; 10]);
    }
    let mut d = Decoder::new(512, Oversize::Close);
    let seen = drive(&mut d, [&stream[..]]);
    assert_eq!(seen.messages.len(), 5000);
    for (i, m) in seen.messages.iter().enumerate() {
        assert_eq!(u16::from_be_bytes([m[0], m[1]]) as usize, i);
        assert_eq!(m.len(), 12);
    }
    // And one byte at a time.
    let mut d = Decoder::new(512, Oversize::Close);
    let seen = drive(&mut d, stream.chunks(1));
    assert_eq!(seen.messages.len(), 5000);
}

#[test]
fn f3_lengths_below_12_are_errors() {
    let good = framed(&[0u8; 12]);
    for len in 0..12u16 {
        for oversize in [Oversize::Discard, Oversize::Close] {
            let mut d = Decoder::new(512, oversize);
            assert_eq!(
                d.decode(&len.to_be_bytes()),
                Err(FrameError::TooShort { len })
            );
            // Mid-stream too: the good frame is delivered, then the error.
            let mut stream = good.clone();
            stream.extend_from_slice(&len.to_be_bytes());
            stream.extend_from_slice(&[0; 20]);
            let mut d = Decoder::new(512, oversize);
            let seen = drive(&mut d, [&stream[..]]);
            assert_eq!(seen.messages.len(), 1);
            assert_eq!(seen.error, Some(FrameError::TooShort { len }));
        }
    }
    // 12 is the smallest legal frame.
    let mut d = Decoder::new(512, Oversize::Close);
    assert!(matches!(
        d.decode(&good),
        Ok(Status::Complete { consumed: 14, .. })
    ));
}

#[test]
fn f4_oversized_frame_discarded_in_stream() {
    let (msgs, stream) = corpus_stream();
    let max = 1000u16;
    let mut d = Decoder::new(max, Oversize::Discard);
    let seen = drive(&mut d, stream.chunks(97));
    let small: Vec<_> = msgs
        .iter()
        .filter(|m| m.len() <= usize::from(max))
        .cloned()
        .collect();
    let big: Vec<(u16, u16)> = msgs
        .iter()
        .filter(|m| m.len() > usize::from(max))
        .map(|m| (u16::from_be_bytes([m[0], m[1]]), m.len() as u16))
        .collect();
    assert_eq!(big.len(), 2, "many_records and txt_large");
    assert!(big.contains(&(0xa3b4, 1382)) && big.contains(&(0x4d5e, 2187)));
    assert_eq!(seen.oversized, big);
    assert_eq!(
        seen.messages, small,
        "every other frame intact and in order"
    );
    assert_eq!(seen.pending, 0);
    assert!(!d.is_skipping());
}

#[test]
fn f4_oversized_frame_closes_under_close_policy() {
    let (msgs, stream) = corpus_stream();
    let mut d = Decoder::new(1000, Oversize::Close);
    let seen = drive(&mut d, [&stream[..]]);
    let first_big = msgs.iter().position(|m| m.len() > 1000).unwrap();
    assert_eq!(seen.messages, msgs[..first_big]);
    let m = &msgs[first_big];
    assert_eq!(
        seen.error,
        Some(FrameError::TooLong {
            len: m.len() as u16,
            id: Some(u16::from_be_bytes([m[0], m[1]]))
        })
    );
    // The ID is waited for: prefix alone and prefix + 1 byte are Partial.
    let f = framed(m);
    let mut d = Decoder::new(1000, Oversize::Close);
    assert_eq!(d.decode(&f[..2]), Ok(Status::Partial { need: 4 }));
    assert_eq!(d.decode(&f[..3]), Ok(Status::Partial { need: 4 }));
    assert!(matches!(
        d.decode(&f[..4]),
        Err(FrameError::TooLong { id: Some(_), .. })
    ));
}

#[test]
fn f4_f6_ffff_length_dripped_one_byte_at_a_time() {
    let mut frame = vec![0xFF, 0xFF, 0xAB, 0xCD];
    frame.resize(2 + 65535, 0);
    frame.extend_from_slice(&framed(&[0x77; 12]));
    // A decoder that takes the largest frame: Partial until the last byte (F6).
    let mut d = Decoder::new(u16::MAX, Oversize::Close);
    for have in 0..2 + 65535 {
        let want = if have < 2 { 2 } else { 2 + 65535 };
        assert_eq!(
            d.decode(&frame[..have]),
            Ok(Status::Partial { need: want }),
            "{have}"
        );
    }
    match d.decode(&frame) {
        Ok(Status::Complete { message, consumed }) => {
            assert_eq!(message.len(), 65535);
            assert_eq!(consumed, 65537);
            assert_eq!(&message[..2], &[0xAB, 0xCD]);
        }
        other => panic!("{other:?}"),
    }
    // A small decoder discards it while it drips, then reads the next frame.
    let mut d = Decoder::new(512, Oversize::Discard);
    let seen = drive(&mut d, frame.chunks(1));
    assert_eq!(seen.oversized, [(0xABCD, 0xFFFF)]);
    assert_eq!(seen.messages, [vec![0x77; 12]]);
    assert_eq!(seen.pending, 0);
}

#[test]
fn f6_partial_input_never_errors() {
    for (name, m) in corpus() {
        let f = framed(&m);
        let mut d = Decoder::new(u16::MAX, Oversize::Close);
        for have in 0..f.len() {
            assert!(
                matches!(d.decode(&f[..have]), Ok(Status::Partial { .. })),
                "{name} at {have}"
            );
        }
    }
    // A single length byte, then EOF: still just Partial; closing is the caller's
    // timer's business (S12).
    let mut d = Decoder::new(512, Oversize::Discard);
    assert_eq!(d.decode(&[0x00]), Ok(Status::Partial { need: 2 }));
    assert_eq!(d.decode(&[]), Ok(Status::Partial { need: 2 }));
    let seen = drive(&mut d, [&[0x01u8][..]]);
    assert_eq!(seen.pending, 1);
    assert!(seen.messages.is_empty() && seen.error.is_none());
}

#[test]
fn f5_http_request_reads_as_a_huge_length() {
    let get = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let len = u16::from_be_bytes([b'G', b'E']);
    assert_eq!(len, 0x4745);
    let id = u16::from_be_bytes([b'T', b' ']);
    let mut d = Decoder::new(4096, Oversize::Close);
    assert_eq!(
        d.decode(get),
        Err(FrameError::TooLong { len, id: Some(id) })
    );
    let mut d = Decoder::new(4096, Oversize::Discard);
    assert_eq!(
        d.decode(get),
        Ok(Status::Oversized {
            len,
            id,
            consumed: get.len()
        })
    );
    // The decoder now waits for 0x4745 - 36 more bytes: only a deadline ends it.
    assert!(d.is_skipping());
    assert_eq!(d.decode(&[]), Ok(Status::Partial { need: 1 }));
    // With the largest buffer it is a Partial that never completes on its own.
    let mut d = Decoder::new(u16::MAX, Oversize::Close);
    assert_eq!(
        d.decode(get),
        Ok(Status::Partial {
            need: 2 + usize::from(len)
        })
    );
}
