//! Per-connection configuration of the server machine.
//!
//! Every limit is data with a default, a valid range and the memory or time it
//! bounds (STYLE 17). Test builds use small values; see `tests/core/server.rs`.
#![forbid(unsafe_code)]

use core::time::Duration;

use crate::frame::Oversize;

/// What an EOF from the client means (S9, S14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnEof {
    /// Default: EOF is a half-close (the 2010 end2end mail, S9). Every query already
    /// received — pending tokens and complete frames still buffered — is answered,
    /// then the machine asks to close, so the client (which closed first) holds
    /// TIME_WAIT, not the server.
    #[default]
    AnswerPending,
    /// The strict reading of RFC 7766 §6.2.4 (Unbound >= 1.25, `domain`): pending
    /// tokens are dropped (reported as [`Event::Dropped`](super::Event::Dropped)),
    /// bytes already queued for sending are flushed, then the machine closes (S14).
    DropPending,
}

/// Configuration of one [`Connection`](super::Connection).
///
/// The adapter typically fills `idle_timeout`, `max_queries` and `max_lifetime`
/// from the shared [`Limits`](super::Limits) ([`Limits::apply`](super::Limits::apply))
/// and keeps pushing the current idle value with
/// [`Connection::set_idle_timeout`](super::Connection::set_idle_timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Maximum queries handed out and not yet answered (S8). At the cap the machine
    /// stops reading so TCP pushes back. Range `1..=P` (larger values are clamped to
    /// the table capacity `P`). Default 16 (Unbound's `incoming-num-tcp` pipelines
    /// far fewer; Knot answers synchronously).
    pub max_pending: usize,
    /// Largest query accepted, in bytes (F4); further capped by the receive buffer.
    /// Default 65535 (the receive buffer is the real bound).
    pub max_message: u16,
    /// What to do with a query frame over the maximum (F4). Default
    /// [`Oversize::Discard`]: the machine answers FORMERR for the ID the frame's
    /// first two bytes carry, skips the body and the stream stays in sync.
    /// [`Oversize::Close`] closes with [`CloseReason::BadFrame`](super::CloseReason::BadFrame).
    pub oversize: Oversize,
    /// EOF handling (S9, S14). Default [`OnEof::AnswerPending`].
    pub on_eof: OnEof,
    /// Time allowed from accept to the first complete message (S12). Default 10 s.
    pub initial_timeout: Duration,
    /// Idle timeout (S3, S4, S13): runs only while no query is pending and all
    /// output is written; restarted by a complete message, never by partial bytes.
    /// Default 10 s (RFC 7766 §6.2.3: "of the order of seconds"). Zero closes an
    /// idle connection at once.
    pub idle_timeout: Duration,
    /// Per-message read deadline once a frame has started (S12, slowloris). Default
    /// 2 s (Knot's `tcp-io-timeout` is 500 ms; a little more suits slow links).
    pub io_timeout: Duration,
    /// Write deadline (S16): output pending with no write progress for this long
    /// closes the connection (BIND CVE-2024-0760). Default 10 s.
    pub write_timeout: Duration,
    /// Maximum connection lifetime (S7); reaching it closes gracefully (stop reading,
    /// answer what is pending, close). Default `None` (unlimited).
    pub max_lifetime: Option<Duration>,
    /// Maximum complete messages per connection (S7); after the last one the machine
    /// stops reading, answers what is pending and closes. Default `None`.
    pub max_queries: Option<u32>,
    /// Messages with QR=1 tolerated before the connection is closed (S15). They are
    /// never answered. Default 3; 0 closes on the first one.
    pub max_qr_messages: u32,
    /// Hand non-QUERY opcodes (NOTIFY, UPDATE, …) to the caller as queries instead of
    /// answering NOTIMP. Default `false`.
    pub pass_other_opcodes: bool,
    /// Add edns-tcp-keepalive (RFC 7828, E2) with the current idle timeout to every
    /// response whose query carried an OPT record. Default `true`.
    pub advertise_keepalive: bool,
    /// UDP payload size advertised in an OPT record the machine writes itself
    /// (error answers, an OPT appended for keepalive). Default 1232 (DNS flag day 2020).
    pub edns_udp_size: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_pending: 16,
            max_message: u16::MAX,
            oversize: Oversize::Discard,
            on_eof: OnEof::AnswerPending,
            initial_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(10),
            max_lifetime: None,
            max_queries: None,
            max_qr_messages: 3,
            pass_other_opcodes: false,
            advertise_keepalive: true,
            edns_udp_size: 1232,
        }
    }
}
