//! Replays every fuzz seed and finding through the same `dnstcp::_fuzz` bodies the
//! fuzzer runs, and a bounded no-panic battery over the corpus (W3: a panic is always
//! our bug).

use std::path::{Path, PathBuf};

use dnstcp::_fuzz;

use crate::common::corpus;
use crate::wire::Rng;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("frame_decoder", _fuzz::frame_decoder),
    ("message_parse", _fuzz::message_parse),
    ("builder_roundtrip", _fuzz::builder_roundtrip),
    ("server_ops", _fuzz::server_ops),
    ("client_ops", _fuzz::client_ops),
];

fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn w3_replay_fuzz_corpus_and_artifacts() {
    for (target, f) in TARGETS {
        let corpus_dir = fuzz_dir("corpus", target);
        assert!(corpus_dir.is_dir(), "{} must exist", corpus_dir.display());
        let seeds = files(&corpus_dir);
        if matches!(
            target,
            "frame_decoder" | "message_parse" | "builder_roundtrip"
        ) {
            assert!(!seeds.is_empty(), "{target}: empty seed corpus");
        }
        for (name, data) in &seeds {
            eprintln!("replay {target}/{name}");
            f(data);
        }
        // Findings, when a fuzz run left any: each is a regression test.
        let artifacts = fuzz_dir("artifacts", target);
        if artifacts.is_dir() {
            for (name, data) in files(&artifacts) {
                eprintln!("replay artifact {target}/{name}");
                f(&data);
            }
        }
    }
}

#[test]
fn w3_corpus_messages_through_parse_and_roundtrip() {
    for (_, bytes) in corpus() {
        _fuzz::message_parse(&bytes);
        _fuzz::builder_roundtrip(&bytes);
        // And as a frame stream in each decoder mode.
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        framed.extend_from_slice(&bytes);
        for mode in [0u8, 1, 0x80, 0xFF] {
            framed[0] = mode;
            _fuzz::frame_decoder(&framed);
        }
    }
}

/// Every truncation and a set of single-byte mutations at every offset, for corpus
/// messages up to 2 KiB.
#[test]
fn w3_truncations_and_single_byte_mutations() {
    let mut runs = 0usize;
    for (_, bytes) in corpus() {
        if bytes.len() > 2048 {
            continue;
        }
        for len in 0..bytes.len() {
            _fuzz::message_parse(&bytes[..len]);
            _fuzz::builder_roundtrip(&bytes[..len]);
            runs += 1;
        }
        let mut m = bytes.clone();
        for i in 0..m.len() {
            let orig = m[i];
            // Large messages get the two most telling values, to keep debug runs fast.
            let values = [orig ^ 0xFF, 0xC0, orig.wrapping_add(1), 0x00, 0x3F];
            let n = if m.len() > 512 { 2 } else { values.len() };
            for v in values.into_iter().take(n) {
                m[i] = v;
                _fuzz::message_parse(&m);
                _fuzz::builder_roundtrip(&m);
                runs += 1;
            }
            m[i] = orig;
        }
    }
    assert!(runs > 8_000, "{runs} runs");
}

/// Random multi-byte mutations and splices, seeded, bounded.
#[test]
fn w3_random_mutations() {
    let corpus: Vec<Vec<u8>> = corpus().into_iter().map(|(_, b)| b).collect();
    let mut rng = Rng(0x5EED_F022_0F0F);
    for _ in 0..3000 {
        let mut m = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(8) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                }
                1 => {
                    // A compression pointer somewhere.
                    let i = rng.below(m.len() - 1);
                    let t = rng.below(m.len() + 16) as u16;
                    m[i..i + 2].copy_from_slice(&(0xC000 | t).to_be_bytes());
                }
                2 => {
                    let n = rng.below(m.len());
                    m.truncate(n.max(1));
                }
                _ => {
                    let other = &corpus[rng.below(corpus.len())];
                    let at = rng.below(other.len());
                    m.extend_from_slice(&other[at..]);
                }
            }
            if m.len() < 2 {
                break;
            }
        }
        _fuzz::message_parse(&m);
        _fuzz::builder_roundtrip(&m);
        _fuzz::frame_decoder(&m);
    }
}
