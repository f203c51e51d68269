//! Tests: server.
