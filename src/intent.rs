//! What a connection machine wants done with its socket.
//!
//! The machines never touch a socket; after every input or command the adapter asks
//! [`intent`](crate::server::Connection::intent) and acts: poll for readability when
//! `read` is set, for writability when `write` is set, `shutdown(Write)` once when
//! `shutdown_write` turns on (half-close), and close the socket when `close` is set.
#![forbid(unsafe_code)]

/// Socket intent: a small `Copy` value the adapter performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[must_use]
pub struct Intent {
    /// The machine wants more input: poll for readability and read.
    pub read: bool,
    /// Output is pending: poll for writability and write `poll_transmit`.
    pub write: bool,
    /// All output has been written and the machine wants the write side shut down
    /// (send FIN) while it keeps reading: the half-close of the 2010 end2end mail.
    pub shutdown_write: bool,
    /// The connection is finished: close the socket (after writing nothing more).
    pub close: bool,
}

impl Intent {
    /// An intent that only closes.
    pub const CLOSE: Intent = Intent {
        read: false,
        write: false,
        shutdown_write: false,
        close: true,
    };
}
