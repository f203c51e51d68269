//! Tests: frame.
