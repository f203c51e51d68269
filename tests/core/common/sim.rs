//! A deterministic virtual network for simulation tests: a seeded PRNG and a
//! one-way byte pipe that splits writes into segments, delays them (in order, like
//! TCP), lets the reader coalesce any number of due bytes, carries a FIN after the
//! data, and can be reset. Time is plain milliseconds owned by the caller.

use std::collections::VecDeque;

/// SplitMix64: small, seedable, good enough for fault schedules.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// Uniform in `lo..=hi`, as usize.
    pub fn urange(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// One direction of a simulated TCP connection.
#[derive(Debug)]
pub struct Pipe {
    segs: VecDeque<(u64, Vec<u8>)>,
    /// Delivery time of the last segment or FIN: delivery stays in order.
    tail: u64,
    fin: Option<u64>,
    dead: bool,
    /// Largest extra delay of one segment, ms.
    pub max_delay: u64,
    /// Unread bytes beyond which the writer is blocked (the receive window).
    pub window: usize,
    /// Bytes accepted from the writer.
    pub written: u64,
}

impl Pipe {
    pub fn new(max_delay: u64, window: usize) -> Self {
        Pipe {
            segs: VecDeque::new(),
            tail: 0,
            fin: None,
            dead: false,
            max_delay,
            window,
            written: 0,
        }
    }

    /// Bytes written and not yet read.
    pub fn queued(&self) -> usize {
        self.segs.iter().map(|(_, s)| s.len()).sum()
    }

    /// How many bytes a write may hand over now.
    pub fn room(&self) -> usize {
        if self.dead {
            usize::MAX
        } else {
            self.window.saturating_sub(self.queued())
        }
    }

    pub fn is_shut(&self) -> bool {
        self.fin.is_some()
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    fn delay(&mut self, rng: &mut Rng, now: u64) -> u64 {
        let at = (now + rng.below(self.max_delay + 1)).max(self.tail);
        self.tail = at;
        at
    }

    /// Hands `bytes` to the network, split into random segments with random delays.
    /// Bytes written into a dead pipe vanish.
    pub fn write(&mut self, rng: &mut Rng, now: u64, bytes: &[u8]) {
        if self.dead {
            return;
        }
        assert!(self.fin.is_none(), "write after shutdown(Write)");
        self.written += bytes.len() as u64;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = if rng.chance(500) {
                rest.len()
            } else {
                rng.urange(1, rest.len())
            };
            let at = self.delay(rng, now);
            self.segs.push_back((at, rest[..n].to_vec()));
            rest = &rest[n..];
        }
    }

    /// FIN after everything written so far.
    pub fn shutdown(&mut self, rng: &mut Rng, now: u64) {
        if self.fin.is_none() && !self.dead {
            let at = self.delay(rng, now);
            self.fin = Some(at);
        }
    }

    /// Everything in flight is lost; nothing more is ever delivered.
    pub fn reset(&mut self) {
        self.segs.clear();
        self.dead = true;
    }

    /// When something (data or FIN) becomes readable next, if later than `now`.
    pub fn next_due(&self, now: u64) -> Option<u64> {
        if self.dead {
            return None;
        }
        let t = match self.segs.front() {
            Some((t, _)) => Some(*t),
            None => self.fin,
        };
        t.filter(|&t| t > now)
    }

    /// Bytes readable at `now`.
    pub fn readable(&self, now: u64) -> usize {
        self.segs
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, s)| s.len())
            .sum()
    }

    /// Copies due bytes into `buf`, coalescing segments; returns the count.
    pub fn read(&mut self, now: u64, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some((t, seg)) = self.segs.front_mut() else {
                break;
            };
            if *t > now {
                break;
            }
            let k = seg.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&seg[..k]);
            n += k;
            if k == seg.len() {
                self.segs.pop_front();
            } else {
                seg.drain(..k);
            }
        }
        n
    }

    /// Every byte read and the FIN has arrived.
    pub fn at_eof(&self, now: u64) -> bool {
        !self.dead && self.segs.is_empty() && self.fin.is_some_and(|f| f <= now)
    }
}
