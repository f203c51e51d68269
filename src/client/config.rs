//! Client configuration: every limit is a named field with a default and a reason.
#![forbid(unsafe_code)]

use core::time::Duration;

/// Capacity of the per-connection quarantine of timed-out (or cancelled) IDs (C11).
/// Each entry is two bytes; [`Config::quarantine_limit`] may lower the effective size.
pub const QUARANTINE_CAPACITY: usize = 64;

/// Client connection settings.
///
/// Build one with `Config { field: value, ..Config::default() }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Per-query timeout (C10), counted from [`send`](super::Connection::send).
    /// For a multi-message handle (X1) it restarts at every message received.
    /// Default 5 s (dig's TCP default is 10 s, Unbound's 3 s). Range: ≥ 1 ms.
    pub query_timeout: Duration,
    /// Idle timeout (C6): with nothing in flight for this long the machine asks to
    /// close. An edns-tcp-keepalive value from the server replaces it (E2).
    /// Default 2 s: RFC 7766 §6.2.3 asks clients to close idle connections promptly
    /// and not to hold them longer than the server advertises.
    pub idle_timeout: Duration,
    /// Early half-close (C9, the 2010 end2end mail): once the caller says no more
    /// queries follow ([`finish_sending`](super::Connection::finish_sending)),
    /// [`Intent::shutdown_write`](crate::intent::Intent::shutdown_write) turns on as
    /// soon as the last frame is flushed, so the client holds TIME_WAIT. Default off:
    /// some servers treat EOF as "drop pending answers" (RFC 7766 §6.2.4 strictly).
    pub half_close: bool,
    /// Add an OPT record (RFC 6891) to queries built by
    /// [`send_question`](super::Connection::send_question) unless
    /// [`QueryOptions::edns`](super::QueryOptions::edns) says otherwise. Default on.
    pub edns: bool,
    /// The UDP payload size field of our OPT record (meaningless over TCP but
    /// required; 1232 is the DNS Flag Day 2020 value).
    pub edns_udp_size: u16,
    /// Send edns-tcp-keepalive (RFC 7828, E2) with length 0 in the first EDNS query
    /// and every 5th after it. Default on.
    pub keepalive: bool,
    /// How many timed-out or cancelled IDs this connection remembers (C11); when
    /// the quarantine fills, the connection is retired. Clamped to
    /// `1..=`[`QUARANTINE_CAPACITY`]. Default [`QUARANTINE_CAPACITY`].
    pub quarantine_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            query_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(2),
            half_close: false,
            edns: true,
            edns_udp_size: 1232,
            keepalive: true,
            quarantine_limit: QUARANTINE_CAPACITY,
        }
    }
}

/// Per-query options for [`send_question`](super::Connection::send_question).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// Set RD (recursion desired). Default on.
    pub rd: bool,
    /// Add an OPT record; `None` follows [`Config::edns`]. Default `None`.
    pub edns: Option<bool>,
    /// Set the DO bit in the OPT record. Default off.
    pub dnssec_ok: bool,
    /// Open a multi-message handle (X1): every matching message is delivered until
    /// the caller cancels the handle, a message with a non-zero RCODE arrives, or
    /// (for AXFR and IXFR) the transfer's answer is complete. AXFR and IXFR queries
    /// are always multi-message.
    pub multi: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            rd: true,
            edns: None,
            dnssec_ok: false,
            multi: false,
        }
    }
}
