//! What the client machine reports: handles, events, reasons, errors and counters.
#![forbid(unsafe_code)]

use core::fmt;

use crate::frame::FrameError;
use crate::wire::{self, BuildError, Message};

/// A query accepted by [`send`](super::Connection::send) and its siblings. `Copy`,
/// unique per connection (a 64-bit serial, never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(pub(crate) u64);

impl Handle {
    /// The serial number: 0 for the first query on a connection, then 1, 2, …
    #[must_use]
    pub fn serial(self) -> u64 {
        self.0
    }
}

/// Output of [`poll_event`](super::Connection::poll_event).
///
/// Every handle ends exactly once (C8) with `Response` (single-message handles),
/// `Finished` (multi-message handles), `TimedOut` or `Failed` — or silently by the
/// caller's own [`cancel`](super::Connection::cancel). `Closed` comes once, last.
#[derive(Debug)]
#[non_exhaustive]
#[must_use]
pub enum Event<'a> {
    /// A response matching the handle's ID and question (C4). It borrows the receive
    /// buffer: the caller MUST copy what it needs before the next call on the
    /// connection. For a multi-message handle more `Response`s may follow until
    /// [`Event::Finished`]; otherwise this ends the handle. A TC=1 response over TCP
    /// is final: it is delivered as is.
    Response {
        /// The query.
        handle: Handle,
        /// The response message.
        message: Message<'a>,
    },
    /// A multi-message handle (X1) ended: the closing SOA of a zone transfer or an
    /// error RCODE arrived.
    Finished {
        /// The query.
        handle: Handle,
    },
    /// The per-query timeout passed (C10). The ID stays quarantined (C11).
    TimedOut {
        /// The query.
        handle: Handle,
    },
    /// The query cannot be answered on this connection (C7); retry it on a new one.
    Failed {
        /// The query.
        handle: Handle,
        /// Why.
        reason: FailReason,
    },
    /// The quarantine of timed-out IDs is full (C11): this connection accepts no new
    /// queries; queries in flight still complete, then it closes. Open a new one.
    Retired,
    /// The connection is finished; the socket should be closed (if the intent has not
    /// already said so). Reported once, after every handle has ended.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why a handle failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The server closed its side (FIN) before answering.
    PeerClosed,
    /// The connection was reset or a write failed.
    Reset,
    /// The caller aborted the connection.
    Aborted,
    /// The caller finished sending and the connection closed before this query was
    /// answered (e.g. the idle path of a finished connection).
    Closed,
    /// The response is larger than the receive buffer (F4); it was skipped and the
    /// stream stays in sync.
    TooLarge {
        /// The announced length.
        len: u16,
    },
    /// The response matched ID and question but its records do not parse.
    Malformed(wire::Error),
    /// The byte stream broke (e.g. a length below 12, F3): the connection closed.
    Protocol(FrameError),
}

/// Why the connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Nothing in flight for the idle timeout (C6, E2).
    Idle,
    /// The caller said no more queries follow and every handle has ended (C9).
    Finished,
    /// The server sent edns-tcp-keepalive 0 and every handle has ended (E2).
    KeepaliveZero,
    /// The quarantine filled (C11) and every handle has ended.
    Retired,
    /// The server closed its side (FIN).
    PeerClosed,
    /// Reset or failed write.
    Reset,
    /// The caller aborted.
    Aborted,
    /// The byte stream broke (F3).
    Protocol(FrameError),
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::PeerClosed => f.write_str("server closed the connection"),
            FailReason::Reset => f.write_str("connection reset"),
            FailReason::Aborted => f.write_str("connection aborted"),
            FailReason::Closed => f.write_str("connection closed"),
            FailReason::TooLarge { len } => {
                write!(f, "response of {len} bytes exceeds the receive buffer")
            }
            FailReason::Malformed(e) => write!(f, "malformed response: {e}"),
            FailReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Idle => f.write_str("idle"),
            CloseReason::Finished => f.write_str("finished"),
            CloseReason::KeepaliveZero => f.write_str("server keepalive 0"),
            CloseReason::Retired => f.write_str("retired (ID quarantine full)"),
            CloseReason::PeerClosed => f.write_str("server closed"),
            CloseReason::Reset => f.write_str("reset"),
            CloseReason::Aborted => f.write_str("aborted"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// Why a query was not accepted. Nothing was queued and no state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// Every in-flight slot is busy: wait for a handle to end.
    Full,
    /// The transmit buffer cannot hold the query now: write pending output first.
    NoSpace,
    /// The query can never fit the transmit buffer.
    TooLarge,
    /// The quarantine is full (C11): open a new connection.
    Retired,
    /// No more queries on this connection: the caller finished sending, or the
    /// server sent keepalive 0 (E2). Open a new connection for more.
    Closing,
    /// The connection is closed.
    Closed,
    /// The query bytes do not parse.
    Malformed(wire::Error),
    /// The query does not carry exactly one question, or has QR set.
    NotAQuery,
    /// The query could not be built.
    Build(BuildError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full => f.write_str("every in-flight slot is busy"),
            SendError::NoSpace => f.write_str("transmit buffer full"),
            SendError::TooLarge => f.write_str("query larger than the transmit buffer"),
            SendError::Retired => f.write_str("connection retired"),
            SendError::Closing => f.write_str("connection accepts no more queries"),
            SendError::Closed => f.write_str("connection closed"),
            SendError::Malformed(e) => write!(f, "malformed query: {e}"),
            SendError::NotAQuery => f.write_str("not a query with exactly one question"),
            SendError::Build(e) => write!(f, "cannot build query: {e}"),
        }
    }
}

impl core::error::Error for SendError {}

#[cfg(feature = "std")]
impl From<SendError> for std::io::Error {
    fn from(e: SendError) -> Self {
        let kind = match e {
            SendError::Full | SendError::NoSpace => std::io::ErrorKind::WouldBlock,
            SendError::Malformed(_) | SendError::NotAQuery | SendError::TooLarge => {
                std::io::ErrorKind::InvalidInput
            }
            _ => std::io::ErrorKind::NotConnected,
        };
        std::io::Error::new(kind, e)
    }
}

/// Counters, read with [`stats`](super::Connection::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Queries accepted.
    pub queries: u64,
    /// Responses delivered (every message of a multi-message handle counts).
    pub responses: u64,
    /// Handles that timed out.
    pub timed_out: u64,
    /// Handles that failed.
    pub failed: u64,
    /// Handles cancelled by the caller.
    pub cancelled: u64,
    /// Messages whose ID matched no query in flight (duplicates included) (C4).
    pub unmatched: u64,
    /// Messages whose ID matched but whose question did not, or that carried no
    /// question with RCODE 0 (C4).
    pub wrong_question: u64,
    /// Late answers to quarantined IDs (C11).
    pub late: u64,
    /// Messages with QR=0 (C12).
    pub not_response: u64,
    /// Messages whose header or question did not parse.
    pub malformed: u64,
    /// Frames larger than the receive buffer (F4).
    pub oversized: u64,
    /// edns-tcp-keepalive values received from the server (E2).
    pub keepalive_seen: u64,
    /// Bytes accepted from the socket.
    pub bytes_read: u64,
    /// Bytes reported written.
    pub bytes_written: u64,
}
