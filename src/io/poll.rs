//! A readiness-driven driver for any non-blocking `Read + Write` stream: mio's
//! `TcpStream`, a std `TcpStream` in non-blocking mode, or anything else an event
//! loop polls.
//!
//! The caller's loop registers [`Driver::interest`], sleeps until readiness or
//! [`Driver::deadline`], then calls [`on_readable`](Driver::on_readable),
//! [`on_writable`](Driver::on_writable) or [`on_timeout`](Driver::on_timeout), and
//! finally performs [`poll_action`](Driver::poll_action) (shut down the write side,
//! close): `Read + Write` has no shutdown, so the loop does it, or calls
//! [`apply_action`](Driver::apply_action) for streams implementing [`ShutdownWrite`].
//!
//! The driver handles `WouldBlock`, `Interrupted`, partial writes and `Ok(0)` writes;
//! any other I/O error, and a write of zero bytes, is a reset for the machine (S5).

use std::io::{self, ErrorKind, Read, Write};

use crate::machine::Machine;
use crate::time::Instant;

/// Readiness the driver waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interest {
    /// Wake on readability.
    pub readable: bool,
    /// Wake on writability.
    pub writable: bool,
}

/// A socket action for the caller's loop, reported once each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Shut down the write side (send FIN) and keep reading.
    ShutdownWrite,
    /// Close the socket and drop the driver.
    Close,
}

/// Streams that can send FIN while staying readable.
pub trait ShutdownWrite {
    /// `shutdown(SHUT_WR)`.
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl ShutdownWrite for std::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// Drives one machine over one non-blocking stream.
#[derive(Debug)]
pub struct Driver<S, M> {
    stream: S,
    machine: M,
    eof: bool,
    shutdown_done: bool,
    close_done: bool,
    read_blocked: bool,
    write_blocked: bool,
    /// Edge-triggered economies: see [`set_edge_triggered`](Driver::set_edge_triggered).
    edge: bool,
    /// The peer's FIN was signalled: read until 0 even after short reads.
    read_closed_hint: bool,
}

impl<S: Read + Write, M: Machine> Driver<S, M> {
    /// Couples a non-blocking stream with a machine.
    pub fn new(stream: S, machine: M) -> Self {
        Driver {
            stream,
            machine,
            eof: false,
            shutdown_done: false,
            close_done: false,
            read_blocked: false,
            write_blocked: false,
            edge: false,
            read_closed_hint: false,
        }
    }

    /// For edge-triggered loops over stream sockets (mio, `EPOLLET`) that call
    /// [`set_ready`](Self::set_ready) on every readiness edge: a read returning less
    /// than the space offered counts as having drained the socket, and a write
    /// taking less than offered as having filled it (as if the next call had
    /// returned `WouldBlock`), and the blocked state then lasts until the next edge.
    /// This saves the `EAGAIN` read (and write) per pass. New bytes or new room
    /// raise a new edge, so nothing is missed; call
    /// [`set_read_closed`](Self::set_read_closed) when the loop sees the peer's FIN
    /// (`EPOLLRDHUP`) so the read returning 0 is still made. Turning it on before
    /// the first readiness also makes the first read wait for the first readable
    /// edge (registering a socket that already holds data raises one), so an
    /// accepted connection that sends nothing is never read. Off by default.
    pub fn set_edge_triggered(&mut self, on: bool) {
        self.edge = on;
        if on && !self.eof {
            self.read_blocked = true;
        }
    }

    /// The event loop saw the peer's FIN (read-closed readiness): the next
    /// [`on_readable`](Self::on_readable) reads until EOF or `WouldBlock`.
    pub fn set_read_closed(&mut self) {
        self.read_closed_hint = true;
        self.read_blocked = false;
    }

    /// The machine (for events and commands).
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, mutably.
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// The stream.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the machine.
    pub fn into_parts(self) -> (S, M) {
        (self.stream, self.machine)
    }

    /// Reads until the socket would block, the machine stops wanting input, or EOF.
    /// Returns the bytes read. Then drain the machine's events and call
    /// [`on_writable`](Self::on_writable) (answers may be ready).
    pub fn on_readable(&mut self, now: Instant) -> usize {
        let mut total = 0;
        while !self.eof && !self.close_done {
            let buf = self.machine.read_buf();
            let offered = buf.len();
            if offered == 0 {
                break;
            }
            match self.stream.read(buf) {
                Ok(0) => {
                    self.eof = true;
                    self.machine.handle_peer_closed(now);
                }
                Ok(n) => {
                    total += n;
                    self.read_blocked = false;
                    self.machine.commit_read(now, n);
                    if n < offered && self.edge && !self.read_closed_hint {
                        // The socket had less than we asked for: it is empty now.
                        self.read_blocked = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.read_blocked = true;
                    break;
                }
                Err(_) => {
                    self.machine.handle_reset(now);
                    break;
                }
            }
        }
        total
    }

    /// Writes pending output until it is all written or the socket would block.
    /// Returns the bytes written.
    pub fn on_writable(&mut self, now: Instant) -> usize {
        let mut total = 0;
        while !self.close_done {
            let Some(data) = self.machine.poll_transmit() else {
                break;
            };
            let offered = data.len();
            if offered == 0 {
                break;
            }
            match self.stream.write(data) {
                Ok(0) => {
                    self.machine.handle_reset(now);
                    break;
                }
                Ok(n) => {
                    total += n;
                    self.write_blocked = false;
                    self.machine.advance_transmit(now, n);
                    if n < offered && self.edge {
                        // The socket took less than offered: its buffer is full.
                        self.write_blocked = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    break;
                }
                Err(_) => {
                    self.machine.handle_reset(now);
                    break;
                }
            }
        }
        total
    }

    /// For edge-triggered loops (mio): whether the machine wants input and the last
    /// read did not end in `WouldBlock` (it stopped on back-pressure instead), so the
    /// caller must call [`on_readable`](Self::on_readable) again without waiting for a
    /// new readiness edge.
    #[must_use]
    pub fn read_ready(&self) -> bool {
        !self.read_blocked && !self.eof && !self.close_done && self.machine.intent().read
    }

    /// For edge-triggered loops: whether output is pending and the last write did not
    /// end in `WouldBlock`, so [`on_writable`](Self::on_writable) can run now.
    #[must_use]
    pub fn write_ready(&self) -> bool {
        !self.write_blocked
            && !self.close_done
            && self.machine.poll_transmit().is_some_and(|d| !d.is_empty())
    }

    /// Tells the driver a readiness edge arrived (edge-triggered loops call this
    /// before [`on_readable`](Self::on_readable) / [`on_writable`](Self::on_writable)).
    pub fn set_ready(&mut self, readable: bool, writable: bool) {
        if readable {
            self.read_blocked = false;
        }
        if writable {
            self.write_blocked = false;
        }
    }

    /// Fires the machine's timers when the deadline has passed.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.machine.handle_timeout(now);
        }
    }

    /// The readiness to wait for.
    #[must_use]
    pub fn interest(&self) -> Interest {
        if self.close_done {
            return Interest::default();
        }
        let i = self.machine.intent();
        Interest {
            readable: i.read && !self.eof,
            writable: i.write,
        }
    }

    /// The machine's next deadline.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        if self.close_done {
            None
        } else {
            self.machine.poll_timeout()
        }
    }

    /// The next socket action, each reported once: the caller shuts down the write
    /// side or closes the socket.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        let i = self.machine.intent();
        if i.close && !self.close_done {
            self.close_done = true;
            return Some(Action::Close);
        }
        if i.shutdown_write && !self.shutdown_done && !self.close_done {
            self.shutdown_done = true;
            return Some(Action::ShutdownWrite);
        }
        None
    }

    /// Whether the connection is finished ([`Action::Close`] was reported).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.close_done
    }
}

impl<S: Read + Write + ShutdownWrite, M: Machine> Driver<S, M> {
    /// Performs pending actions on the stream itself: `shutdown(Write)` for
    /// [`Action::ShutdownWrite`]. Returns [`Action::Close`] when the caller should
    /// now drop the stream. A failed shutdown is a reset for the machine.
    pub fn apply_action(&mut self, now: Instant) -> Option<Action> {
        while let Some(a) = self.poll_action() {
            match a {
                Action::ShutdownWrite => {
                    if self.stream.shutdown_write().is_err() {
                        self.machine.handle_reset(now);
                    }
                }
                Action::Close => return Some(Action::Close),
            }
        }
        None
    }
}
