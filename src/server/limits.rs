//! Server-wide admission policy (S3, S6, S7): total and per-address connection
//! counts, the dynamic idle timeout, per-connection limits, and eviction of the
//! idlest connection.
//!
//! One `Limits` value is shared by every connection of a server: a single event loop
//! owns it as `&mut`; the threaded adapter wraps it in a `Mutex`. Capacity is fixed
//! by const generics — `N` per-address entries, `C` connection slots — so nothing
//! allocates and a full table is an explicit [`Refusal`].
//!
//! ## Tickets
//!
//! [`accept`](Limits::accept) returns a [`Ticket`]: a move-only obligation to call
//! [`release`](Limits::release) exactly once, on every exit path (close, reset,
//! refusal by the machine, the adapter dropping the connection). Because `Ticket`
//! is neither `Copy` nor `Clone`, a double release does not compile; a ticket from
//! another `Limits` or a stale one is ignored. Counts are checked with
//! `debug_assert!` (never underflow) and [`is_balanced`](Limits::is_balanced).
//!
//! ## Dynamic idle timeout (S3)
//!
//! `idle_timeout() = base × (high_water − live) / high_water`, clamped at zero: the
//! configured base (seconds) when the server is empty, shrinking linearly with
//! occupancy, zero from the high-water mark on (RFC 7766 §6.2.3 allows zero under
//! heavy load). Live connections take the current value at each deadline
//! computation ([`Connection::set_idle_timeout`](super::Connection::set_idle_timeout)).
//!
//! ## Eviction
//!
//! With `evict_idlest`, a refusal for the total limit names the connection whose
//! last activity ([`touch`](Limits::touch)) is oldest: the adapter closes it (and
//! releases its ticket), then accepts again.
#![forbid(unsafe_code)]

use core::net::IpAddr;
use core::time::Duration;

use crate::time::Instant;

/// Configuration of [`Limits`] (S7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Total connections (further capped by the slot table `C`). Default 1024.
    pub max_conns: usize,
    /// Connections per address prefix (S6), "looser than one". Default 8.
    pub max_conns_per_addr: usize,
    /// IPv4 prefix length keying the per-address budget. Default 32.
    pub v4_prefix: u8,
    /// IPv6 prefix length keying the per-address budget. Default 64 (one site).
    pub v6_prefix: u8,
    /// Idle timeout when the server is empty (S3). Default 10 s.
    pub idle_timeout: Duration,
    /// Live connections at which the idle timeout reaches zero. Default 768 (3/4 of
    /// `max_conns`). 0 means "always zero".
    pub high_water: usize,
    /// Messages per connection (S7). Default `None`.
    pub max_queries_per_conn: Option<u32>,
    /// Connection lifetime (S7). Default `None`.
    pub max_lifetime: Option<Duration>,
    /// Name the idlest connection in a total-limit refusal. Default `false`.
    pub evict_idlest: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_conns: 1024,
            max_conns_per_addr: 8,
            v4_prefix: 32,
            v6_prefix: 64,
            idle_timeout: Duration::from_secs(10),
            high_water: 768,
            max_queries_per_conn: None,
            max_lifetime: None,
            evict_idlest: false,
        }
    }
}

/// Identifies a live connection (for eviction). `Copy`, unlike [`Ticket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    slot: u32,
    generation: u32,
}

impl ConnId {
    /// The index of the connection's slot in the table (`0..max_conns`), stable for
    /// the connection's life: adapters can keep their own per-slot index with it.
    #[must_use]
    pub fn slot(&self) -> usize {
        self.slot as usize
    }
}

/// Proof of admission; release it exactly once with [`Limits::release`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a Ticket must be released with Limits::release"]
pub struct Ticket {
    id: ConnId,
}

impl Ticket {
    /// The connection's identity, e.g. to match an eviction hint.
    #[must_use]
    pub fn id(&self) -> ConnId {
        self.id
    }
}

/// Why [`Limits::accept`] refused. The adapter closes the new socket at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The server is at `max_conns`. With `evict_idlest`, `evict` names the idlest
    /// connection: close it, release its ticket, and accept again.
    TotalLimit {
        /// The suggested victim.
        evict: Option<ConnId>,
    },
    /// This address prefix is at `max_conns_per_addr` (S6).
    AddressLimit,
    /// The per-address table has no free entry for a new prefix.
    TableFull,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::TotalLimit { .. } => f.write_str("connection limit reached"),
            Refusal::AddressLimit => f.write_str("per-address connection limit reached"),
            Refusal::TableFull => f.write_str("per-address table full"),
        }
    }
}

impl core::error::Error for Refusal {}

/// An address reduced to its prefix: family tag plus 16 masked octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    v6: bool,
    octets: [u8; 16],
}

fn mask(octets: &mut [u8], prefix: u8) {
    let mut bits = usize::from(prefix);
    for b in octets.iter_mut() {
        if bits >= 8 {
            bits -= 8;
        } else {
            *b &= !(0xFFu8 >> bits);
            bits = 0;
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct AddrEntry {
    key: Key,
    count: usize,
}

#[derive(Clone, Copy, Debug)]
struct ConnSlot {
    generation: u32,
    live: bool,
    addr: usize,
    last_active: Instant,
}

/// The shared admission policy: `N` per-address entries, `C` connection slots.
#[derive(Debug)]
pub struct Limits<const N: usize, const C: usize> {
    config: LimitsConfig,
    total: usize,
    addrs: [AddrEntry; N],
    conns: [ConnSlot; C],
}

impl<const N: usize, const C: usize> Limits<N, C> {
    /// A policy with every count at zero.
    #[must_use]
    pub fn new(config: LimitsConfig) -> Self {
        Limits {
            config,
            total: 0,
            addrs: [AddrEntry {
                key: Key {
                    v6: false,
                    octets: [0; 16],
                },
                count: 0,
            }; N],
            conns: [ConnSlot {
                generation: 0,
                live: false,
                addr: 0,
                last_active: Instant::ZERO,
            }; C],
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    /// Live connections.
    #[must_use]
    pub fn live(&self) -> usize {
        self.total
    }

    /// Live connections from `addr`'s prefix.
    #[must_use]
    pub fn live_for(&self, addr: IpAddr) -> usize {
        let key = self.key(addr);
        self.addrs
            .iter()
            .find(|e| e.count > 0 && e.key == key)
            .map_or(0, |e| e.count)
    }

    fn key(&self, addr: IpAddr) -> Key {
        let addr = match addr {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match addr {
            IpAddr::V4(a) => {
                let mut octets = [0u8; 16];
                octets[..4].copy_from_slice(&a.octets());
                mask(&mut octets[..4], self.config.v4_prefix.min(32));
                Key { v6: false, octets }
            }
            IpAddr::V6(a) => {
                let mut octets = a.octets();
                mask(&mut octets, self.config.v6_prefix.min(128));
                Key { v6: true, octets }
            }
        }
    }

    /// Admits a connection from `addr` at `now`, or says why not (S6, S7).
    pub fn accept(&mut self, addr: IpAddr, now: Instant) -> Result<Ticket, Refusal> {
        let cap = self.config.max_conns.min(C);
        let free_conn = self.conns.iter().position(|c| !c.live);
        let free_conn = match free_conn {
            Some(i) if self.total < cap => i,
            _ => {
                let evict = if self.config.evict_idlest {
                    self.idlest()
                } else {
                    None
                };
                return Err(Refusal::TotalLimit { evict });
            }
        };
        let key = self.key(addr);
        let entry = match self.addrs.iter().position(|e| e.count > 0 && e.key == key) {
            Some(i) => {
                if self.addrs[i].count >= self.config.max_conns_per_addr {
                    return Err(Refusal::AddressLimit);
                }
                i
            }
            None => {
                if self.config.max_conns_per_addr == 0 {
                    return Err(Refusal::AddressLimit);
                }
                let i = self
                    .addrs
                    .iter()
                    .position(|e| e.count == 0)
                    .ok_or(Refusal::TableFull)?;
                self.addrs[i].key = key;
                i
            }
        };
        self.addrs[entry].count += 1;
        self.total += 1;
        let slot = &mut self.conns[free_conn];
        slot.generation = slot.generation.wrapping_add(1);
        slot.live = true;
        slot.addr = entry;
        slot.last_active = now;
        Ok(Ticket {
            id: ConnId {
                slot: free_conn as u32,
                generation: slot.generation,
            },
        })
    }

    fn slot(&mut self, id: ConnId) -> Option<&mut ConnSlot> {
        self.conns
            .get_mut(id.slot as usize)
            .filter(|c| c.live && c.generation == id.generation)
    }

    /// Releases a ticket; returns false when it was not live here (stale or foreign).
    pub fn release(&mut self, ticket: Ticket) -> bool {
        let Some(slot) = self.slot(ticket.id) else {
            return false;
        };
        slot.live = false;
        let addr = slot.addr;
        debug_assert!(self.total > 0, "Limits: total count underflow");
        self.total = self.total.saturating_sub(1);
        if let Some(e) = self.addrs.get_mut(addr) {
            debug_assert!(e.count > 0, "Limits: per-address count underflow");
            e.count = e.count.saturating_sub(1);
        }
        true
    }

    /// Records activity on a connection (a complete query, say) for eviction.
    pub fn touch(&mut self, ticket: &Ticket, now: Instant) {
        if let Some(s) = self.slot(ticket.id) {
            s.last_active = s.last_active.max(now);
        }
    }

    /// The live connection with the oldest activity.
    #[must_use]
    pub fn idlest(&self) -> Option<ConnId> {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.live)
            .min_by_key(|(_, c)| c.last_active)
            .map(|(i, c)| ConnId {
                slot: i as u32,
                generation: c.generation,
            })
    }

    /// The idle timeout for the current occupancy (S3): see the module docs.
    #[must_use]
    pub fn idle_timeout(&self) -> Duration {
        let hw = self.config.high_water;
        if self.total >= hw {
            return Duration::ZERO;
        }
        let base = crate::time::duration_ms(self.config.idle_timeout);
        let left = (hw - self.total) as u64;
        Duration::from_millis(
            u64::try_from(u128::from(base) * u128::from(left) / hw as u128).unwrap_or(base),
        )
    }

    /// Copies the per-connection limits (current idle timeout, max queries, max
    /// lifetime) into a connection config.
    pub fn apply(&self, config: &mut super::Config) {
        config.idle_timeout = self.idle_timeout();
        config.max_queries = self.config.max_queries_per_conn;
        config.max_lifetime = self.config.max_lifetime;
    }

    /// Whether every count matches the live tickets (for tests and debug checks).
    #[must_use]
    pub fn is_balanced(&self) -> bool {
        let live = self.conns.iter().filter(|c| c.live).count();
        let per_addr: usize = self.addrs.iter().map(|e| e.count).sum();
        let by_slot =
            self.addrs.iter().enumerate().all(|(i, e)| {
                self.conns.iter().filter(|c| c.live && c.addr == i).count() == e.count
            });
        live == self.total && per_addr == self.total && by_slot
    }
}
