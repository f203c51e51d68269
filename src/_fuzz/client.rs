//! Operation-sequence fuzzing of the client connection machine.
//!
//! The input is a list of operations (send, server bytes — arbitrary or a
//! well-formed response for an in-flight ID with the right or a wrong question —,
//! EOF, reset, time, partial writes, finish, cancel, abort). Invariants: no panic;
//! each handle ends at most once, and every accepted handle has ended once the
//! connection is aborted and drained (C8); a delivered response always matches its
//! question (C4); the in-flight count and the output stay within capacity; every
//! loop is bounded.

use crate::client::{Config, Connection, Event, Handle, QueryOptions};
use crate::time::Instant;
use crate::wire::{Builder, Class, NameBuf, Rcode, Rtype, Section};
use core::time::Duration;

const SLOTS: usize = 8;
const MAX_HANDLES: usize = 256;
const NAMES: [&str; 4] = ["a.test", "b.test", "A.TEST", "c.example"];
const TYPES: [Rtype; 5] = [Rtype::A, Rtype::Aaaa, Rtype::Axfr, Rtype::Txt, Rtype::Ixfr];

struct Track {
    /// Per handle serial: 0 unknown, 1 live, 2 ended.
    state: [u8; MAX_HANDLES],
    name: [u8; MAX_HANDLES],
    qtype: [Rtype; MAX_HANDLES],
    multi: [bool; MAX_HANDLES],
    sent: usize,
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = end;
        self.data.get(start..end).unwrap_or(&[])
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

fn name(i: u8) -> NameBuf {
    let s = NAMES[usize::from(i) % NAMES.len()];
    NameBuf::from_presentation(s).unwrap_or(NameBuf::root())
}

type Conn<'a> = Connection<&'a mut [u8], SLOTS>;

fn drain(c: &mut Conn<'_>, tr: &mut Track) {
    for _ in 0..4 * MAX_HANDLES {
        let Some(ev) = c.poll_event() else {
            assert!(c.in_flight() <= SLOTS);
            return;
        };
        let end = |tr: &mut Track, h: Handle| {
            let i = h.serial() as usize;
            assert_eq!(tr.state[i], 1, "handle {i} ended twice or never existed");
            tr.state[i] = 2;
        };
        match ev {
            Event::Response { handle, message } => {
                let i = handle.serial() as usize;
                assert_eq!(tr.state[i], 1, "response for a dead handle");
                assert!(message.qr());
                match message.first_question() {
                    Ok(Some(q)) => {
                        let want = name(tr.name[i]);
                        assert!(
                            q.name.eq_ignore_case(&want.as_name()),
                            "wrong name delivered"
                        );
                        assert_eq!(q.qtype, tr.qtype[i]);
                        assert_eq!(q.qclass, Class::In);
                    }
                    Ok(None) => assert!(
                        tr.multi[i] || message.header().rcode_low() != 0,
                        "question-less NOERROR delivered"
                    ),
                    Err(e) => panic!("delivered a response whose question fails: {e}"),
                }
                if !tr.multi[i] {
                    end(tr, handle);
                }
            }
            Event::Finished { handle } => {
                assert!(tr.multi[handle.serial() as usize]);
                end(tr, handle);
            }
            Event::TimedOut { handle } | Event::Failed { handle, .. } => end(tr, handle),
            _ => {}
        }
    }
    panic!("poll_event did not drain");
}

/// Drives a client connection with operations decoded from `data`.
pub fn client_ops(data: &[u8]) {
    let mut inp = Input { data, pos: 0 };
    let mode = inp.byte();
    let cfg = Config {
        query_timeout: Duration::from_millis(1000),
        idle_timeout: Duration::from_millis(3000),
        half_close: mode & 1 == 1,
        quarantine_limit: 4,
        ..Config::default()
    };
    // A small receive buffer so oversized responses (F4) are reachable.
    // The transmit buffer: 1024 bytes, or as small as 20 so every amount of free
    // room (below a header included) is reached.
    let tx_len = match usize::from(mode >> 1) {
        0 => 1024,
        k => 16 + 4 * k,
    };
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let tx = tx.get_mut(..tx_len).unwrap_or(&mut []);
    let mut c: Conn<'_> = Connection::new(cfg, &mut rx[..], tx, 0xF0220, Instant::ZERO);
    let mut tr = Track {
        state: [0; MAX_HANDLES],
        name: [0; MAX_HANDLES],
        qtype: [Rtype::A; MAX_HANDLES],
        multi: [false; MAX_HANDLES],
        sent: 0,
    };
    let mut now = 0u64;
    let mut steps = 0;
    while !inp.done() && steps < 4096 {
        steps += 1;
        match inp.byte() % 13 {
            0 | 1 if tr.sent < MAX_HANDLES => {
                let (ni, ti, flags) = (inp.byte() % 4, inp.byte() % 5, inp.byte());
                let n = name(ni);
                let qtype = TYPES[usize::from(ti)];
                let opts = QueryOptions {
                    edns: Some(flags & 1 == 1),
                    multi: flags & 2 == 2,
                    ..QueryOptions::default()
                };
                let r = if qtype == Rtype::Ixfr && flags & 8 == 8 {
                    c.send_ixfr(Instant::from_millis(now), &n.as_name(), u32::from(flags))
                } else if flags & 4 == 0 {
                    c.send_question(
                        Instant::from_millis(now),
                        &n.as_name(),
                        qtype,
                        Class::In,
                        opts,
                    )
                } else {
                    let mut q = [0u8; 300];
                    let len = {
                        let mut b = Builder::new(&mut q, u16::from(flags));
                        let _ = b.push_question(&n.as_name(), qtype, Class::In);
                        b.finish()
                    };
                    c.send(Instant::from_millis(now), q.get(..len).unwrap_or(&[]))
                };
                if let Ok(h) = r {
                    let i = h.serial() as usize;
                    assert_eq!(i, tr.sent);
                    tr.state[i] = 1;
                    tr.name[i] = ni;
                    tr.qtype[i] = qtype;
                    tr.multi[i] = (opts.multi && flags & 4 == 0)
                        || matches!(qtype, Rtype::Axfr | Rtype::Ixfr);
                    tr.sent += 1;
                }
            }
            2 => {
                let n = usize::from(inp.byte() % 64);
                let chunk = inp.bytes(n);
                feed(&mut c, &mut tr, now, chunk);
            }
            3 => {
                let (pick, flags, chunk) = (inp.byte(), inp.byte(), inp.byte());
                respond(&mut c, &mut tr, now, pick, flags, chunk);
            }
            4 => c.handle_peer_closed(Instant::from_millis(now)),
            5 => c.handle_reset(Instant::from_millis(now)),
            6 => {
                now += u64::from(inp.byte()) * 50;
                c.handle_timeout(Instant::from_millis(now));
            }
            7 => {
                let len = c.poll_transmit().map_or(0, <[u8]>::len);
                assert!(len <= tx_len);
                let n = match inp.byte() {
                    0 => len,
                    b => usize::from(b).min(len),
                };
                c.advance_transmit(Instant::from_millis(now), n);
            }
            8 => c.finish_sending(Instant::from_millis(now)),
            9 => {
                let i = usize::from(inp.byte()) % MAX_HANDLES;
                if c.cancel(Handle(i as u64)) {
                    assert_eq!(tr.state[i], 1);
                    tr.state[i] = 2;
                }
            }
            10 if inp.byte() == 0xAB => c.abort(Instant::from_millis(now)),
            11 => {
                if let Some(t) = c.poll_timeout() {
                    now = now.max(t.as_millis());
                    c.handle_timeout(t);
                }
            }
            12 => {
                // A clock that runs backwards must be harmless.
                let back = u64::from(inp.byte()) * 10;
                c.handle_timeout(Instant::from_millis(now.saturating_sub(back)));
            }
            _ => {}
        }
        drain(&mut c, &mut tr);
        let _ = c.intent();
    }
    c.abort(Instant::from_millis(now));
    drain(&mut c, &mut tr);
    for (i, s) in tr.state.iter().enumerate().take(tr.sent) {
        assert_eq!(*s, 2, "handle {i} never ended");
    }
    assert_eq!(c.in_flight(), 0);
}

fn feed(c: &mut Conn<'_>, tr: &mut Track, now: u64, mut bytes: &[u8]) {
    for _ in 0..4096 {
        if bytes.is_empty() {
            return;
        }
        let n = c.handle_read(Instant::from_millis(now), bytes);
        bytes = bytes.get(n..).unwrap_or(&[]);
        drain(c, tr);
        if n == 0 && !c.intent().read {
            return;
        }
    }
}

fn respond(c: &mut Conn<'_>, tr: &mut Track, now: u64, pick: u8, flags: u8, chunk: u8) {
    // Pick a live handle (or any serial when none is live: a stray answer).
    let live = (0..tr.sent).filter(|&i| tr.state[i] == 1);
    let count = live.clone().count();
    let i = if count == 0 {
        usize::from(pick) % MAX_HANDLES
    } else {
        live.clone().nth(usize::from(pick) % count).unwrap_or(0)
    };
    let id = c.query_id(Handle(i as u64)).unwrap_or(u16::from(pick));
    let mut buf = [0u8; 1600];
    let len = {
        let Some(body) = buf.get_mut(2..) else { return };
        let mut b = Builder::new(body, id);
        b.header_mut().set_qr(flags & 1 == 0);
        b.header_mut().set_tc(flags & 0x40 != 0);
        if flags & 2 != 0 {
            b.set_rcode(Rcode::FormErr);
        }
        let wrong = flags & 4 != 0;
        let ni = if wrong {
            tr.name[i].wrapping_add(1)
        } else {
            tr.name[i]
        };
        let qt = if flags & 8 != 0 {
            Rtype::Srv
        } else {
            tr.qtype[i]
        };
        if flags & 0x10 == 0 {
            let _ = b.push_question(&name(ni).as_name(), qt, Class::In);
        }
        let owner = name(0);
        let soa = [
            0u8, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,
        ];
        let _ = b.push_raw(
            Section::Answer,
            &owner.as_name(),
            Rtype::Soa,
            Class::In,
            1,
            &soa,
        );
        if flags & 0x20 != 0 {
            let pad = [0u8; 1100];
            let _ = b.push_raw(
                Section::Answer,
                &owner.as_name(),
                Rtype::Txt,
                Class::In,
                1,
                &pad[..1],
            );
            let _ = b.push_raw(
                Section::Answer,
                &owner.as_name(),
                Rtype::Unknown(99),
                Class::In,
                1,
                &pad,
            );
        }
        if flags & 0x80 != 0 {
            let _ = b.push_opt(1232, 0, 0, false, |w| {
                w.keepalive(Some(u16::from(chunk % 4)))
            });
        }
        b.finish()
    };
    let Ok(len16) = u16::try_from(len) else {
        return;
    };
    if let Some(p) = buf.get_mut(..2) {
        p.copy_from_slice(&len16.to_be_bytes());
    }
    let frame = buf.get(..len + 2).unwrap_or(&[]);
    let step = usize::from(chunk % 32).max(1);
    for part in frame.chunks(step) {
        feed(c, tr, now, part);
    }
}
