//! Tests: fuzz_replay.
