//! Responses the machine touches: the ID and edns-tcp-keepalive written into the
//! caller's responses (E2), the TC=1 stand-in for a response that can never fit, and
//! the error answers the machine writes itself (FORMERR, BADVERS, NOTIMP).
//!
//! ## How keepalive is added (E2)
//!
//! For a query that carried an OPT record, when advertising is on, every response
//! message is finished in place in the transmit buffer:
//!
//! - the response's OPT is the **last** record: every edns-tcp-keepalive option in it
//!   (e.g. an echo of the client's empty one) is removed and one carrying the current
//!   idle timeout in 100 ms units is appended, RDLENGTH fixed up;
//! - the response has **no** OPT: an OPT record (payload size from the config,
//!   version 0) holding only the option is appended and ARCOUNT incremented;
//! - the OPT is not last (e.g. a TSIG follows: changing the message would break the
//!   signature) or the message does not parse: it is sent unchanged.
//!
//! The lent response space is [`KEEPALIVE_ROOM`] bytes shorter than the free space,
//! so the option always fits. Callers who build their own OPT need do nothing; the
//! value is also available from `Connection::keepalive_units`.
#![forbid(unsafe_code)]

use crate::wire::edns::OPT_KEEPALIVE;
use crate::wire::{Builder, HEADER_LEN, Message, Rcode, Rtype};

/// Bytes the keepalive finishing may add: a whole OPT RR (11) plus the option (6).
pub(crate) const KEEPALIVE_ROOM: usize = 11 + 6;

/// Room a machine-written answer needs at most: header, a 255-octet question and
/// an OPT with keepalive. The machine decodes a new frame only when this much
/// transmit space is free (or the buffer is empty), so it can always answer.
pub(crate) const MACHINE_ANSWER_MAX: usize = HEADER_LEN + 255 + 4 + KEEPALIVE_ROOM;

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    match buf.get(at..at + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

fn put16(buf: &mut [u8], at: usize, v: u16) -> Option<()> {
    buf.get_mut(at..at + 2)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

/// Finishes a response of `len` bytes at the start of `buf` (whose whole length is
/// usable): writes `id`, and the keepalive option when `keepalive` is set. Returns
/// the new length and whether the option was added.
pub(crate) fn finish_in_place(
    buf: &mut [u8],
    len: usize,
    id: u16,
    keepalive: Option<u16>,
    udp_size: u16,
) -> (usize, bool) {
    crate::wire::header::set_id_in(buf, id);
    match keepalive {
        Some(units) => match patch_keepalive(buf, len, units, udp_size) {
            Some(n) => (n, true),
            None => (len, false),
        },
        None => (len, false),
    }
}

/// Where the OPT record sits, if it is the last record.
enum OptPlace {
    /// No OPT; records end at this offset.
    Absent,
    /// OPT RDATA at this offset with this length, ending the message.
    Last { rdata: usize, len: usize },
}

fn locate_opt(msg: &[u8]) -> Option<OptPlace> {
    let m = Message::new(msg).ok()?;
    let mut records = m.records().ok()?;
    let mut place = OptPlace::Absent;
    let mut opt_seen = false;
    for r in records.by_ref() {
        let r = r.ok()?;
        if r.rtype() == Rtype::Opt {
            if opt_seen {
                return None;
            }
            opt_seen = true;
            place = OptPlace::Last {
                rdata: r.rdata_offset(),
                len: r.rdata().len(),
            };
        } else if opt_seen {
            // A record after the OPT (TSIG, SIG(0)): leave the message alone.
            return None;
        }
    }
    if records.position() != msg.len() {
        return None;
    }
    Some(place)
}

fn patch_keepalive(buf: &mut [u8], len: usize, units: u16, udp_size: u16) -> Option<usize> {
    let place = locate_opt(buf.get(..len)?)?;
    let value = units.to_be_bytes();
    let option = [0, OPT_KEEPALIVE as u8, 0, 2, value[0], value[1]];
    match place {
        OptPlace::Absent => {
            let arcount = be16(buf, 10)?.checked_add(1)?;
            let mut rr = [0u8; KEEPALIVE_ROOM];
            rr[1..3].copy_from_slice(&Rtype::Opt.to_int().to_be_bytes());
            rr[3..5].copy_from_slice(&udp_size.to_be_bytes());
            rr[9..11].copy_from_slice(&6u16.to_be_bytes());
            rr[11..].copy_from_slice(&option);
            let end = len.checked_add(KEEPALIVE_ROOM)?;
            if end > usize::from(u16::MAX) {
                return None;
            }
            buf.get_mut(len..end)?.copy_from_slice(&rr);
            put16(buf, 10, arcount)?;
            Some(end)
        }
        OptPlace::Last { rdata, len: rdlen } => {
            // Validate the options and measure what stays before touching anything,
            // so a failure leaves the message exactly as it was.
            let opts = buf.get(rdata..rdata + rdlen)?;
            let (mut pos, mut kept) = (0, 0);
            while pos < opts.len() {
                let code = be16(opts, pos)?;
                let total = 4 + usize::from(be16(opts, pos + 2)?);
                if pos + total > opts.len() {
                    return None;
                }
                if code != OPT_KEEPALIVE {
                    kept += total;
                }
                pos += total;
            }
            let end = rdata + kept + option.len();
            let new_rdlen = u16::try_from(kept + option.len()).ok()?;
            if end > buf.len() || end > usize::from(u16::MAX) {
                return None;
            }
            let (mut read, mut write) = (rdata, rdata);
            while read < rdata + rdlen {
                let code = be16(buf, read)?;
                let total = 4 + usize::from(be16(buf, read + 2)?);
                if code != OPT_KEEPALIVE {
                    buf.copy_within(read..read + total, write);
                    write += total;
                }
                read += total;
            }
            buf.get_mut(write..end)?.copy_from_slice(&option);
            put16(buf, rdata - 2, new_rdlen)?;
            Some(end)
        }
    }
}

/// Writes into `out` the TC=1 stand-in for `response`, which can never fit:
/// the response's header flags with TC set, its first question when it parses,
/// and its OPT (options dropped; keepalive added when given). Returns the length.
pub(crate) fn truncated(
    out: &mut [u8],
    response: &[u8],
    id: u16,
    edns: bool,
    keepalive: Option<u16>,
    udp_size: u16,
) -> usize {
    let Ok(r) = Message::new(response) else {
        return 0;
    };
    let mut b = Builder::new(out, id);
    b.header_mut().set_flags(r.header().flags());
    b.header_mut().set_qr(true);
    b.header_mut().set_tc(true);
    if let Ok(Some(q)) = r.first_question() {
        let _ = b.push_question(&q.name, q.qtype, q.qclass);
    }
    let opt = r.opt().ok().flatten();
    if edns || opt.is_some() {
        let (size, ext, ver, dok) = match opt {
            Some(o) => (o.udp_size(), o.ext_rcode(), o.version(), o.dnssec_ok()),
            None => (udp_size, 0, 0, false),
        };
        let _ = b.push_opt(size, ext, ver, dok, |w| match keepalive {
            Some(u) => w.keepalive(Some(u)),
            None => Ok(()),
        });
    }
    b.finish()
}

/// Writes an error answer with `rcode` to `query` (or, for an oversized frame of
/// which only the ID is known, to `id`). The question is echoed only when it
/// parses; an OPT is added when the query had one or the RCODE needs it.
pub(crate) fn error_answer(
    out: &mut [u8],
    query: Option<&Message<'_>>,
    id: u16,
    rcode: Rcode,
    edns: bool,
    keepalive: Option<u16>,
    udp_size: u16,
) -> usize {
    let mut b = match query {
        Some(q) => Builder::response_to(out, q),
        None => {
            let mut b = Builder::new(out, id);
            b.header_mut().set_qr(true);
            b
        }
    };
    let ext = b.set_rcode(rcode);
    if edns || ext != 0 {
        let with = b.push_opt(udp_size, ext, 0, false, |w| match keepalive {
            Some(u) => w.keepalive(Some(u)),
            None => Ok(()),
        });
        if with.is_err() {
            let _ = b.push_opt(udp_size, ext, 0, false, |_| Ok(()));
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Class, NameBuf};

    fn response(opt: Option<&[(u16, &[u8])]>, buf: &mut [u8]) -> usize {
        let n: NameBuf = "a.test".parse().unwrap();
        let mut b = Builder::new(buf, 9);
        b.header_mut().set_qr(true);
        b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
        if let Some(opts) = opt {
            b.push_opt(1232, 0, 0, false, |w| {
                for (c, d) in opts {
                    w.option(*c, d)?;
                }
                Ok(())
            })
            .unwrap();
        }
        b.finish()
    }

    fn keepalive_of(buf: &[u8]) -> Option<Option<u16>> {
        let m = Message::new(buf).unwrap();
        m.check().unwrap();
        m.opt().unwrap().and_then(|o| o.keepalive())
    }

    #[test]
    fn e2_keepalive_replaces_echo_and_keeps_others() {
        let mut buf = [0u8; 200];
        let len = response(Some(&[(11, &[]), (10, &[1; 8]), (11, &[])]), &mut buf);
        let (n, added) = finish_in_place(&mut buf, len, 77, Some(25), 1232);
        assert!(added);
        assert_eq!(n, len - 8 + 6);
        assert_eq!(keepalive_of(&buf[..n]), Some(Some(25)));
        let m = Message::new(&buf[..n]).unwrap();
        assert_eq!(m.id(), 77);
        let opt = m.opt().unwrap().unwrap();
        assert_eq!(opt.options().count(), 2);
    }

    #[test]
    fn e2_keepalive_appends_opt() {
        let mut buf = [0u8; 200];
        let len = response(None, &mut buf);
        let (n, added) = finish_in_place(&mut buf, len, 9, Some(0), 1232);
        assert!(added);
        assert_eq!(n, len + KEEPALIVE_ROOM);
        assert_eq!(keepalive_of(&buf[..n]), Some(Some(0)));
        // No room: unchanged.
        let mut small = [0u8; 40];
        let len = response(None, &mut small);
        assert_eq!(
            finish_in_place(&mut small, len, 9, Some(1), 1232),
            (len, false)
        );
    }
}
