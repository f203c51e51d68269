//! Operation-sequence fuzzing of the server connection machine (quinn `streams.rs`
//! style): the input is decoded into a list of operations — raw stream chunks,
//! well-formed query frames, answers by token in any order, oversized answers,
//! multi-message answers, EOF, reset, time steps, partial writes — driven against
//! one connection with a virtual clock.
//!
//! Invariants checked after every step: no panic; output within the transmit
//! buffer; at most `max_pending` tokens outstanding; tokens arrive in increasing
//! order; every token ends at most once (finished by us or `Dropped`); nothing is
//! transmitted after a reset; `Closed` is reported once and is the last event.

use crate::frame::Oversize;
use crate::server::{Config, Connection, Event, OnEof, RespondError, Token};
use crate::time::Instant;
use crate::wire::{Builder, Class, Message, Name, Rtype};

const RX: usize = 256;
const TX: usize = 600;
const P: usize = 8;
const MAX_SEQ: usize = 4096;

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let end = (self.pos + n).min(self.data.len());
        let s = self.data.get(self.pos..end).unwrap_or(&[]);
        self.pos = end;
        s
    }
}

struct Model {
    live: [Option<Token>; P],
    ended: [bool; MAX_SEQ],
    last_seq: Option<u64>,
    closed: bool,
    reset: bool,
}

impl Model {
    fn end(&mut self, t: Token) {
        let seq = t.sequence() as usize;
        if let Some(e) = self.ended.get_mut(seq) {
            assert!(!*e, "token {seq} ended twice");
            *e = true;
        }
        for s in &mut self.live {
            if *s == Some(t) {
                *s = None;
            }
        }
    }
}

fn query(buf: &mut [u8], id: u16, flags: u8) -> usize {
    let name = Name::from_wire(b"\x01a\x04test\x00").map(|(n, _)| n);
    let Ok(name) = name else { return 0 };
    let mut b = Builder::new(buf, id);
    b.header_mut().set_qr(flags & 1 != 0);
    if flags & 2 != 0 {
        b.header_mut().set_opcode(crate::wire::Opcode::Notify);
    }
    let qtype = if flags & 4 != 0 {
        Rtype::Axfr
    } else {
        Rtype::A
    };
    let _ = b.push_question(&name, qtype, Class::In);
    if flags & 8 != 0 {
        let version = if flags & 16 != 0 { 1 } else { 0 };
        let _ = b.push_opt(1232, 0, version, false, |w| w.keepalive(None));
        if flags & 32 != 0 {
            let _ = b.push_opt(1232, 0, 0, false, |_| Ok(()));
        }
    }
    b.finish()
}

/// A response of about `size` bytes (padding in an unknown record).
fn response(buf: &mut [u8], size: usize, opt: bool) -> usize {
    let Ok((name, _)) = Name::from_wire(b"\x01a\x04test\x00") else {
        return 0;
    };
    let mut b = Builder::new(buf, 0);
    b.header_mut().set_qr(true);
    let _ = b.push_question(&name, Rtype::A, Class::In);
    let pad = [0u8; 2048];
    let n = size.saturating_sub(40).min(pad.len());
    let _ = b.push_raw(
        crate::wire::Section::Answer,
        &name,
        Rtype::Unknown(65000),
        Class::In,
        0,
        pad.get(..n).unwrap_or(&[]),
    );
    if opt {
        let _ = b.push_opt(1232, 0, 0, false, |w| w.keepalive(None));
    }
    b.finish()
}

/// Drives a server connection with operations decoded from `data`.
pub fn server_ops(data: &[u8]) {
    let mut input = Input { data, pos: 0 };
    let mut config = Config::default();
    let mode = input.byte().unwrap_or(0);
    config.max_pending = usize::from(mode & 7) + 1;
    config.on_eof = if mode & 8 != 0 {
        OnEof::DropPending
    } else {
        OnEof::AnswerPending
    };
    config.oversize = if mode & 16 != 0 {
        Oversize::Close
    } else {
        Oversize::Discard
    };
    config.max_queries = (mode & 32 != 0).then_some(6);
    config.max_lifetime = (mode & 64 != 0).then(|| core::time::Duration::from_secs(20));
    config.pass_other_opcodes = mode & 128 != 0;
    config.initial_timeout = core::time::Duration::from_secs(5);
    config.idle_timeout = core::time::Duration::from_secs(3);
    config.io_timeout = core::time::Duration::from_millis(500);
    config.write_timeout = core::time::Duration::from_secs(4);
    let max_pending = config.max_pending;

    let mut now = 0u64;
    let (mut rx, mut tx) = ([0u8; RX], [0u8; TX]);
    let mut c: Connection<&mut [u8], P> =
        Connection::new(config, &mut rx[..], &mut tx[..], Instant::ZERO);
    let mut m = Model {
        live: [None; P],
        ended: [false; MAX_SEQ],
        last_seq: None,
        closed: false,
        reset: false,
    };
    let mut scratch = [0u8; 2 + 2048];

    for _step in 0..512 {
        let Some(op) = input.byte() else { break };
        let arg = input.byte().unwrap_or(0);
        let t = Instant::from_millis(now);
        match op % 12 {
            0 => {
                let chunk = input.take(usize::from(arg % 64) + 1);
                let _ = c.handle_read(t, chunk);
            }
            1 => {
                let id = u16::from(arg) * 257;
                let n = query(
                    scratch.get_mut(2..).unwrap_or(&mut []),
                    id,
                    input.byte().unwrap_or(0),
                );
                let _ = crate::frame::write_prefix(&mut scratch, n);
                let buf = c.read_buf();
                let k = buf.len().min(n + 2);
                buf[..k].copy_from_slice(&scratch[..k]);
                c.commit_read(t, k);
            }
            2 | 3 => {
                let size = if op % 12 == 3 {
                    1000 + usize::from(arg) * 4
                } else {
                    40 + usize::from(arg)
                };
                let n = response(&mut scratch, size, arg & 1 != 0);
                if let Some(tok) = m.live.get(usize::from(arg) % P).copied().flatten() {
                    match c.respond(t, tok, scratch.get(..n).unwrap_or(&[])) {
                        Ok(()) => m.end(tok),
                        Err(RespondError::WouldBlock | RespondError::Closed) => {}
                        Err(e) => panic!("respond: {e}"),
                    }
                }
            }
            4 => c.handle_peer_closed(t),
            5 => {
                c.handle_reset(t);
                m.reset = true;
            }
            6 => now += u64::from(arg) * 37,
            7 => {
                let pending = c.poll_transmit().map_or(0, <[u8]>::len);
                assert!(pending <= TX);
                let k = if arg == 255 {
                    pending
                } else {
                    usize::from(arg).min(pending)
                };
                c.advance_transmit(t, k);
            }
            8 => {
                let small = usize::from(arg % 3);
                let r = c.answer_next(t, |q, out| {
                    let mut b = Builder::response_to(out, q);
                    b.header_mut().set_aa(true);
                    [0, 12, b.finish()][small]
                });
                if let Some(Ok(tok)) = r {
                    if c.is_pending(tok) {
                        insert(&mut m, tok, max_pending);
                    } else {
                        note_new(&mut m, tok);
                        m.end(tok);
                    }
                }
            }
            9 => {
                if let Some(tok) = m.live.get(usize::from(arg) % P).copied().flatten() {
                    let n = response(&mut scratch, 60, false);
                    let _ = c.respond_part(t, tok, scratch.get(..n).unwrap_or(&[]));
                    if arg & 0x80 != 0 && c.finish(t, tok).is_ok() {
                        m.end(tok);
                    }
                }
            }
            10 => {
                if let Some(tok) = m.live.get(usize::from(arg) % P).copied().flatten() {
                    if let Ok(buf) = c.response_buf(tok) {
                        let n = response(buf, 30 + usize::from(arg), true);
                        if n >= 12 && c.commit_response(t, tok, n).is_ok() {
                            m.end(tok);
                        }
                    }
                }
            }
            _ => c.set_idle_timeout(core::time::Duration::from_millis(u64::from(arg) * 20)),
        }
        c.handle_timeout(Instant::from_millis(now));
        drain_events(&mut c, &mut m, max_pending);
        assert!(c.pending() <= max_pending);
        if m.reset {
            assert!(c.poll_transmit().is_none(), "transmit after reset");
        }
        if let Some(d) = c.poll_timeout() {
            assert!(d.as_millis() < u64::MAX);
        }
    }
}

fn note_new(m: &mut Model, tok: Token) {
    if let Some(last) = m.last_seq {
        assert!(tok.sequence() > last, "tokens arrive in order");
    }
    m.last_seq = Some(tok.sequence());
}

fn insert(m: &mut Model, tok: Token, max_pending: usize) {
    note_new(m, tok);
    let live = m.live.iter().filter(|s| s.is_some()).count();
    assert!(live < max_pending, "more tokens than max_pending");
    if let Some(s) = m.live.iter_mut().find(|s| s.is_none()) {
        *s = Some(tok);
    }
}

fn drain_events<B: AsMut<[u8]> + AsRef<[u8]>>(
    c: &mut Connection<B, P>,
    m: &mut Model,
    max_pending: usize,
) {
    for _ in 0..4 * P + 64 {
        match c.poll_event() {
            None => return,
            Some(Event::Query { token, message }) => {
                assert!(!m.closed, "query after Closed");
                let _: &Message<'_> = &message;
                insert(m, token, max_pending);
            }
            Some(Event::Dropped { token }) => {
                assert!(!m.closed, "Dropped after Closed");
                m.end(token);
            }
            Some(Event::Closed { .. }) => {
                assert!(!m.closed, "Closed twice");
                m.closed = true;
            }
        }
    }
}
