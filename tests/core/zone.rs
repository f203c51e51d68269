//! Tests: zone.
