//! What the server machine reports: events, close reasons, errors and counters.
#![forbid(unsafe_code)]

use core::fmt;

use crate::frame::FrameError;
use crate::wire::Message;

/// Names one received query until it is finished. `Copy`; tokens increase in
/// arrival order and are never reused on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub(crate) u64);

impl Token {
    /// The arrival sequence number (0 for the first query of the connection).
    #[must_use]
    pub fn sequence(self) -> u64 {
        self.0
    }
}

/// An output of [`Connection::poll_event`](super::Connection::poll_event).
#[derive(Debug)]
#[non_exhaustive]
#[must_use]
pub enum Event<'a> {
    /// A complete, well-formed query (S1). `message` borrows the receive buffer and
    /// is released at the next call on the connection: copy what a deferred answer
    /// needs and keep the token.
    Query {
        /// Answer with this token.
        token: Token,
        /// The query.
        message: Message<'a>,
    },
    /// A token that will never be answered: its responses were discarded because the
    /// client reset (S5), closed under [`OnEof::DropPending`](super::OnEof) (S14), or
    /// the connection failed. Every token ends in exactly one of: finished by the
    /// caller, or `Dropped`.
    Dropped {
        /// The token.
        token: Token,
    },
    /// The connection is over; reported once, after every `Dropped`. The adapter
    /// closes the socket (see [`Connection::intent`](super::Connection::intent)) and
    /// releases its [`Ticket`](super::Ticket).
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent EOF and everything owed was answered (S9) or dropped (S14).
    PeerClosed,
    /// The client reset the connection or a write failed (S5).
    Reset,
    /// No complete message before the initial timeout (S12).
    InitialTimeout,
    /// The idle timeout passed (S4).
    IdleTimeout,
    /// A frame started but did not complete within the io timeout (S12, slowloris).
    ReadTimeout,
    /// Output made no progress within the write timeout (S16).
    WriteTimeout,
    /// The maximum lifetime was reached (S7).
    Lifetime,
    /// The maximum number of messages was reached (S7).
    MaxQueries,
    /// The stream cannot be framed: a length below 12 (F3, S11) or, under
    /// [`Oversize::Close`](crate::frame::Oversize::Close), an oversized frame (F4).
    BadFrame(FrameError),
    /// Too many messages with QR=1 (S15).
    TooManyResponses,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("client closed"),
            CloseReason::Reset => f.write_str("connection reset"),
            CloseReason::InitialTimeout => f.write_str("no query before the initial timeout"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::ReadTimeout => f.write_str("message not completed in time"),
            CloseReason::WriteTimeout => f.write_str("client stopped reading"),
            CloseReason::Lifetime => f.write_str("maximum lifetime reached"),
            CloseReason::MaxQueries => f.write_str("maximum queries reached"),
            CloseReason::BadFrame(e) => write!(f, "unframeable input: {e}"),
            CloseReason::TooManyResponses => f.write_str("too many QR=1 messages"),
        }
    }
}

/// Why a response command failed. The connection is unchanged after any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespondError {
    /// The transmit buffer has no room for this response now: retry after the
    /// socket drains ([`advance_transmit`](super::Connection::advance_transmit)).
    WouldBlock,
    /// The token is not pending (already finished, dropped, or never issued).
    UnknownToken,
    /// The connection no longer sends responses (reset, failed, or closed).
    Closed,
    /// The response is not a DNS message (shorter than the 12-byte header) or the
    /// committed length exceeds the lent space.
    Invalid,
    /// `commit_*` without a matching `response_buf`, or the transmit buffer changed
    /// in between (a write was reported): call `response_buf` again.
    NotLent,
}

impl fmt::Display for RespondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespondError::WouldBlock => f.write_str("transmit buffer full; retry after writing"),
            RespondError::UnknownToken => f.write_str("unknown or finished token"),
            RespondError::Closed => f.write_str("connection closed"),
            RespondError::Invalid => f.write_str("response is not a DNS message"),
            RespondError::NotLent => f.write_str("response space was not lent or has moved"),
        }
    }
}

impl core::error::Error for RespondError {}

#[cfg(feature = "std")]
impl From<RespondError> for std::io::Error {
    fn from(e: RespondError) -> Self {
        let kind = match e {
            RespondError::WouldBlock => std::io::ErrorKind::WouldBlock,
            RespondError::Closed => std::io::ErrorKind::NotConnected,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}

/// Counters of one connection ([`Connection::stats`](super::Connection::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes accepted from the socket.
    pub bytes_in: u64,
    /// Bytes reported written.
    pub bytes_out: u64,
    /// Queries handed to the caller.
    pub queries: u64,
    /// Response messages queued (caller answers, parts included, and TC answers).
    pub responses: u64,
    /// FORMERR answers the machine wrote itself (malformed or oversized queries).
    pub formerr: u64,
    /// BADVERS answers (EDNS version > 0).
    pub badvers: u64,
    /// NOTIMP answers (opcodes other than QUERY).
    pub notimp: u64,
    /// Oversized query frames skipped (F4).
    pub oversized: u64,
    /// QR=1 messages ignored (S15).
    pub qr_ignored: u64,
    /// Responses that could never fit, replaced by a TC=1 answer.
    pub truncated: u64,
    /// Tokens dropped unanswered (reset, drop-on-EOF, failure).
    pub dropped: u64,
    /// Responses that carried the edns-tcp-keepalive option added by the machine.
    pub keepalive: u64,
}
