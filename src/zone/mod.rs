//! An authoritative zone: RFC 1035 master files and answering (feature `std`).
//!
//! A [`Zone`] is loaded once from a master file ([`Zone::from_file`], [`Zone::parse`]);
//! loading allocates. Answering does not: [`Zone::answer`] writes the response straight
//! into the caller's buffer with [`wire::Builder`](crate::wire::Builder), and
//! [`Zone::axfr_messages`] writes a zone transfer one message at a time.
//!
//! ```
//! use dnstcp::wire::{Builder, Class, Message, NameBuf, Rtype};
//! use dnstcp::zone::Zone;
//!
//! let zone = Zone::parse(
//!     "$ORIGIN example.test.\n$TTL 300\n\
//!      @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
//!      @ IN NS ns1\n\
//!      ns1 IN A 192.0.2.53\n\
//!      www IN A 192.0.2.80\n",
//!     "inline.zone",
//!     None,
//! )?;
//! let mut q = [0u8; 512];
//! let name: NameBuf = "www.example.test".parse().unwrap();
//! let mut b = Builder::new(&mut q, 7);
//! b.push_question(&name.as_name(), Rtype::A, Class::In).unwrap();
//! let qlen = b.finish();
//! let query = Message::new(&q[..qlen]).unwrap();
//! let mut out = [0u8; 512];
//! let n = zone.answer(&query, &mut out);
//! let resp = Message::new(&out[..n]).unwrap();
//! assert!(resp.aa());
//! assert_eq!(resp.answers().unwrap().count(), 1);
//! # Ok::<(), dnstcp::zone::ZoneError>(())
//! ```
//!
//! # Storage
//!
//! Owner names live in a table of nodes sorted by a *lookup key*: the name's labels
//! from the root down, each as a length octet and the lowercased label. A key is a
//! byte prefix of every descendant's key. For answering, every name that exists
//! (owners and empty non-terminals) is also in a hash table by key, with its wildcard
//! child and whether it is a delegation point precomputed; a query name's key is built
//! once and its ancestors' keys are prefixes of it, so each probe is one hash lookup.
//! MX, NS and SRV records know the node of their target. RDATA is
//! kept in uncompressed wire form in one arena and decoded with the wire layer's own
//! RDATA parser when answering, so names in RDATA are compressed by the builder.
#![forbid(unsafe_code)]

use core::cell::Cell;
use core::fmt;
use core::ops::Range;
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::wire::name::MAX_NAME_LEN;
use crate::wire::{Error, Name, NameBuf, RData, Rtype};

mod axfr;
mod cache;
mod index;
mod lookup;
mod parse;

pub use axfr::AxfrState;
pub use cache::{AnswerCache, MAX_ENTRY as CACHE_MAX_ENTRY, MAX_KEY as CACHE_MAX_KEY};
pub use lookup::{AnswerOptions, SERVER_UDP_SIZE};

/// Longest CNAME chain followed inside the zone for one answer.
pub const MAX_CNAME_CHAIN: usize = 8;

// ---- ZoneError -------------------------------------------------------------

/// A zone file that could not be loaded: where, and why.
///
/// Displays as `file:line: message`, e.g. `example.zone:12: bad IPv4 address "1.2.3"`.
/// Line 0 means the whole file (e.g. a missing SOA, or an I/O error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneError {
    /// The file name as given (or the label passed to [`Zone::parse`]).
    pub file: String,
    /// The 1-based line, or 0 for the file as a whole.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl core::error::Error for ZoneError {}

impl From<ZoneError> for std::io::Error {
    fn from(e: ZoneError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

// ---- storage ---------------------------------------------------------------

/// One owner name and its records.
#[derive(Clone, Debug)]
struct Node {
    /// The owner as written in the file (case preserved).
    name: NameBuf,
    /// The lookup key in [`Zone::keys`].
    key: Range<usize>,
    /// The records in [`Zone::rrs`], sorted by type (file order within a type).
    rrs: Range<usize>,
}

/// One resource record (class IN).
#[derive(Clone, Debug)]
struct Rr {
    rtype: Rtype,
    /// `rtype.to_int()`, the sort key within a node.
    code: u16,
    ttl: u32,
    /// Uncompressed RDATA in [`Zone::data`].
    data: Range<usize>,
    /// For MX, NS and SRV: the node owning the target name, or [`index::NONE`].
    target: u32,
}

/// An authoritative zone held in memory, ready to answer queries without allocating.
#[derive(Clone, Debug)]
pub struct Zone {
    origin: NameBuf,
    nodes: Vec<Node>,
    keys: Vec<u8>,
    rrs: Vec<Rr>,
    data: Vec<u8>,
    /// Index of the SOA in `rrs`.
    soa: usize,
    /// Index of the apex node.
    apex: usize,
    /// Every existing name (owners and empty non-terminals) by hash of its key.
    index: index::Index,
}

/// Writes the lookup key of `name` into `out` and returns its length: labels from the
/// root down, each a length octet and the lowercased label.
fn key_of(name: &Name<'_>, out: &mut [u8; MAX_NAME_LEN]) -> usize {
    let mut labels: [&[u8]; 128] = [&[]; 128];
    let mut n = 0;
    for l in name.labels() {
        if let Some(slot) = labels.get_mut(n) {
            *slot = l;
            n += 1;
        }
    }
    let mut w = 0;
    for l in labels[..n].iter().rev() {
        if w + 1 + l.len() > out.len() {
            break;
        }
        out[w] = l.len() as u8;
        for (d, s) in out[w + 1..w + 1 + l.len()].iter_mut().zip(l.iter()) {
            *d = s.to_ascii_lowercase();
        }
        w += 1 + l.len();
    }
    w
}

/// A budget big enough for decoding any uncompressed RDATA of ours.
fn rdata_budget() -> Cell<u32> {
    Cell::new(4096)
}

impl Zone {
    /// Loads a master file. `origin` is the initial `$ORIGIN` (absolute, e.g.
    /// `"example.test."`); when `None`, the file must set `$ORIGIN` before its first
    /// relative name. The file name in errors is `path` as given.
    pub fn from_file(path: impl AsRef<Path>, origin: Option<&str>) -> Result<Zone, ZoneError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ZoneError {
            file: label.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Zone::parse(&text, &label, origin)
    }

    /// Parses a master file from `text`; `file_label` names it in errors. See
    /// [`from_file`](Self::from_file) for `origin`.
    ///
    /// Rules: exactly one SOA, at the apex (its owner is the zone's origin); at least
    /// one NS at the apex; every record at or below the apex; class IN only; no other
    /// data beside a CNAME; `$INCLUDE` is refused.
    pub fn parse(text: &str, file_label: &str, origin: Option<&str>) -> Result<Zone, ZoneError> {
        parse::parse(text, file_label, origin)
    }

    /// The zone's apex name.
    #[must_use]
    pub fn origin(&self) -> Name<'_> {
        self.origin.as_name()
    }

    /// Number of records (SOA included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.rrs.len()
    }

    /// Whether the zone has no records (never true for a loaded zone).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rrs.is_empty()
    }

    /// The SOA serial.
    #[must_use]
    pub fn serial(&self) -> u32 {
        match self.rdata(self.soa) {
            RData::Soa { serial, .. } => serial,
            _ => 0,
        }
    }

    // ---- internal accessors used by lookup and axfr --------------------------

    /// The node owning exactly `name`.
    fn find(&self, name: &Name<'_>) -> Option<usize> {
        let q = index::QKey::new(name);
        self.find_depth(&q, q.labels())
    }

    /// The index entry of the ancestor of `q` with `depth` labels, if that name
    /// exists (owns records or is an empty non-terminal).
    fn slot(&self, q: &index::QKey, depth: usize) -> Option<&index::Slot> {
        self.index.get(q.prefix(depth))
    }

    /// The node owning the ancestor of `q` with `depth` labels.
    fn find_depth(&self, q: &index::QKey, depth: usize) -> Option<usize> {
        match self.slot(q, depth) {
            Some(s) if s.node != index::NONE => Some(s.node as usize),
            _ => None,
        }
    }

    fn rdata(&self, rr: usize) -> RData<'_> {
        let r = &self.rrs[rr];
        let bytes = &self.data[r.data.clone()];
        RData::parse(
            bytes,
            r.rtype.to_int(),
            1,
            r.ttl,
            0,
            bytes.len(),
            &rdata_budget(),
        )
        .unwrap_or(RData::Unknown {
            rtype: r.rtype,
            data: bytes,
        })
    }

    /// Records of `rtype` at node `i`, as a range of `rrs`.
    fn rrset(&self, i: usize, rtype: Rtype) -> Range<usize> {
        let all = self.nodes[i].rrs.clone();
        let slice = &self.rrs[all.clone()];
        let code = rtype.to_int();
        // Nodes hold a few records: a scan beats two binary searches.
        let lo = slice
            .iter()
            .position(|r| r.code >= code)
            .unwrap_or(slice.len());
        let hi = lo + slice[lo..].iter().take_while(|r| r.code == code).count();
        all.start + lo..all.start + hi
    }
}

/// A zone under construction: records in file order, before sorting.
struct Pending {
    owner: NameBuf,
    rtype: Rtype,
    ttl: u32,
    data: Vec<u8>,
    line: usize,
}

impl Zone {
    /// Builds the sorted tables from parsed records and checks the zone rules.
    fn build(file: &str, records: Vec<Pending>) -> Result<Zone, ZoneError> {
        let err = |line: usize, message: String| ZoneError {
            file: file.to_string(),
            line,
            message,
        };
        let soas: Vec<&Pending> = records.iter().filter(|r| r.rtype == Rtype::Soa).collect();
        let origin = match soas.as_slice() {
            [] => return Err(err(0, "no SOA record".into())),
            [one] => one.owner,
            [_, second, ..] => {
                return Err(err(second.line, "more than one SOA record".into()));
            }
        };
        let o = origin.as_name();
        for r in &records {
            if !r.owner.as_name().ends_with(&o) {
                return Err(err(
                    r.line,
                    format!("{} is outside the zone {}", r.owner, origin),
                ));
            }
        }
        let mut keyed: Vec<(Vec<u8>, usize)> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut k = [0u8; MAX_NAME_LEN];
                let n = key_of(&r.owner.as_name(), &mut k);
                (k[..n].to_vec(), i)
            })
            .collect();
        // Stable: by key, then type, then file order.
        keyed.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(
                    records[a.1]
                        .rtype
                        .to_int()
                        .cmp(&records[b.1].rtype.to_int()),
                )
                .then(a.1.cmp(&b.1))
        });
        let mut zone = Zone {
            origin,
            nodes: Vec::new(),
            keys: Vec::new(),
            rrs: Vec::new(),
            data: Vec::new(),
            soa: 0,
            apex: 0,
            index: index::Index::build(core::iter::empty::<(&[u8], usize, bool)>()),
        };
        let mut i = 0;
        while i < keyed.len() {
            let key = &keyed[i].0;
            let mut j = i;
            while j < keyed.len() && &keyed[j].0 == key {
                j += 1;
            }
            let k0 = zone.keys.len();
            zone.keys.extend_from_slice(key);
            let r0 = zone.rrs.len();
            let first = &records[keyed[i].1];
            let mut cname_line = None;
            let mut other_line = None;
            for (_, idx) in &keyed[i..j] {
                let r = &records[*idx];
                // RRsets are sets (RFC 2181 §5): drop exact duplicates.
                let dup = zone.rrs[r0..]
                    .iter()
                    .any(|x| x.rtype == r.rtype && zone.data[x.data.clone()] == r.data[..]);
                if dup {
                    continue;
                }
                if r.rtype == Rtype::Cname {
                    if cname_line.is_some() {
                        return Err(err(r.line, format!("more than one CNAME at {}", r.owner)));
                    }
                    cname_line = Some(r.line);
                } else {
                    other_line.get_or_insert(r.line);
                }
                if let (Some(c), Some(o)) = (cname_line, other_line) {
                    let msg = format!("CNAME and other data at {}", r.owner);
                    return Err(err(c.max(o), msg));
                }
                let d0 = zone.data.len();
                zone.data.extend_from_slice(&r.data);
                if r.rtype == Rtype::Soa {
                    zone.soa = zone.rrs.len();
                }
                zone.rrs.push(Rr {
                    rtype: r.rtype,
                    code: r.rtype.to_int(),
                    ttl: r.ttl,
                    data: d0..zone.data.len(),
                    target: index::NONE,
                });
            }
            if first.owner == origin {
                zone.apex = zone.nodes.len();
            }
            zone.nodes.push(Node {
                name: first.owner,
                key: k0..zone.keys.len(),
                rrs: r0..zone.rrs.len(),
            });
            i = j;
        }
        if zone.rrset(zone.apex, Rtype::Ns).is_empty() {
            return Err(err(0, format!("no NS records at the apex {origin}")));
        }
        let owners = (0..zone.nodes.len()).map(|i| {
            (
                &zone.keys[zone.nodes[i].key.clone()],
                i,
                !zone.rrset(i, Rtype::Ns).is_empty(),
            )
        });
        zone.index = index::Index::build(owners);
        for i in 0..zone.rrs.len() {
            let target = match zone.rdata(i) {
                RData::Mx { exchange, .. } => Some(exchange),
                RData::Ns(n) => Some(n),
                RData::Srv { target, .. } => Some(target),
                _ => None,
            };
            if let Some(node) = target.and_then(|t| zone.find(&t)) {
                zone.rrs[i].target = u32::try_from(node).unwrap_or(index::NONE);
            }
        }
        Ok(zone)
    }
}

/// Maps a wire-layer name error to zone-file words.
fn name_error(e: Error) -> String {
    match e {
        Error::LabelTooLong => "label longer than 63 octets".into(),
        Error::NameTooLong => "name longer than 255 octets".into(),
        Error::BadPresentation(w) => format!("bad name: {w}"),
        other => other.to_string(),
    }
}
