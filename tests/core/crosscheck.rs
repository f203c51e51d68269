//! Tests: crosscheck.
