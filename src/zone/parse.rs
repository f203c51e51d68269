//! The RFC 1035 §5 master-file reader.
//!
//! Supported: `$ORIGIN`, `$TTL` (RFC 2308), `@`, relative and absolute names, omitted
//! owner (a line starting with blanks inherits the previous owner), omitted TTL
//! (`$TTL`, else the last TTL given) and class, TTL and class in either order, TTL
//! units (`1h30m`, `2d`, `1w`), parentheses spanning lines, `;` comments, quoted
//! strings with `\DDD` and `\X` escapes, and types SOA, NS, A, AAAA, CNAME, MX, TXT,
//! SRV, PTR plus any type in the RFC 3597 form (`TYPE65280 \# 3 abcdef`).
//! `$INCLUDE` is refused: a server loading one file should read exactly that file.

use core::net::{Ipv4Addr, Ipv6Addr};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::{Pending, Zone, ZoneError, name_error, rdata_budget};
use crate::wire::{NameBuf, RData, Rtype};

/// A parse failure before it is given its file name: (line, message).
type Fail = (usize, String);

/// One token: raw text (escapes kept; quotes removed) and where it was.
#[derive(Clone, Copy, Debug)]
struct Token<'t> {
    text: &'t str,
    quoted: bool,
    line: usize,
}

/// One logical entry: the tokens of a line, with parentheses joining lines.
#[derive(Debug)]
struct Entry<'t> {
    /// The entry's line started with a blank: the owner is omitted.
    indented: bool,
    tokens: Vec<Token<'t>>,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r'
}

/// Splits `text` into entries (RFC 1035 §5.1).
fn tokenize(text: &str) -> Result<Vec<Entry<'_>>, Fail> {
    let b = text.as_bytes();
    let mut entries = Vec::new();
    let mut cur = Entry {
        indented: b.first().is_some_and(|&c| is_blank(c)),
        tokens: Vec::new(),
    };
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
                if depth == 0 {
                    let next = Entry {
                        indented: b.get(i).is_some_and(|&c| is_blank(c)),
                        tokens: Vec::new(),
                    };
                    let done = core::mem::replace(&mut cur, next);
                    if !done.tokens.is_empty() {
                        entries.push(done);
                    }
                }
            }
            c if is_blank(c) => i += 1,
            b';' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                if depth == 0 {
                    return Err((line, "unbalanced ')' without a matching '('".into()));
                }
                depth -= 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let tline = line;
                i = start;
                loop {
                    match b.get(i) {
                        None => return Err((tline, "unterminated quoted string".into())),
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(b'\n') => {
                            return Err((tline, "unterminated quoted string".into()));
                        }
                        Some(_) => i += 1,
                    }
                }
                cur.tokens.push(Token {
                    text: text.get(start..i).unwrap_or(""),
                    quoted: true,
                    line: tline,
                });
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        c if is_blank(c) => break,
                        b'\n' | b';' | b'(' | b')' | b'"' => break,
                        _ => i += 1,
                    }
                }
                let end = i.min(b.len());
                cur.tokens.push(Token {
                    text: text.get(start..end).unwrap_or(""),
                    quoted: false,
                    line,
                });
            }
        }
    }
    if depth > 0 {
        return Err((
            paren_line,
            "unbalanced '(': not closed before the end of the file".into(),
        ));
    }
    if !cur.tokens.is_empty() {
        entries.push(cur);
    }
    Ok(entries)
}

/// Whether a presentation name ends with an unescaped dot.
fn is_absolute(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut last_dot = false;
    while i < b.len() {
        if b[i] == b'\\' {
            let digits = b
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
            i += if digits { 4 } else { 2 };
            last_dot = false;
        } else {
            last_dot = b[i] == b'.';
            i += 1;
        }
    }
    last_dot
}

fn parse_name(tok: &Token<'_>, origin: Option<&NameBuf>) -> Result<NameBuf, Fail> {
    let fail = |m: String| (tok.line, format!("bad name \"{}\": {m}", tok.text));
    if tok.text == "@" {
        return origin
            .copied()
            .ok_or_else(|| (tok.line, "'@' used before any $ORIGIN".into()));
    }
    if is_absolute(tok.text) {
        return NameBuf::from_presentation(tok.text).map_err(|e| fail(name_error(e)));
    }
    let o = origin.ok_or_else(|| {
        (
            tok.line,
            format!("relative name \"{}\" before any $ORIGIN", tok.text),
        )
    })?;
    let full = if o.as_name().is_root() {
        format!("{}.", tok.text)
    } else {
        format!("{}.{}", tok.text, o)
    };
    NameBuf::from_presentation(&full).map_err(|e| fail(name_error(e)))
}

/// A TTL: decimal seconds or BIND-style units (`1w2d3h4m5s`).
fn parse_ttl(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            num = Some(num.unwrap_or(0).checked_mul(10)? + u64::from(c - b'0'));
            continue;
        }
        let mult = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(mult)?)?;
    }
    if num.is_some() {
        return None;
    }
    u32::try_from(total).ok()
}

fn is_class(s: &str) -> bool {
    ["IN", "CH", "CS", "HS", "NONE", "ANY"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(s))
        || s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("CLASS"))
}

/// Decodes a character-string's escapes (`\DDD`, `\X`).
fn unescape(tok: &Token<'_>) -> Result<Vec<u8>, Fail> {
    let b = tok.text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1..i + 4) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                let v = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
                let v = u8::try_from(v)
                    .map_err(|_| (tok.line, format!("escape \\{v} is above 255")))?;
                out.push(v);
                i += 4;
            }
            _ => match b.get(i + 1) {
                Some(c) if c.is_ascii_digit() => {
                    return Err((tok.line, "short \\DDD escape (three digits needed)".into()));
                }
                Some(&c) => {
                    out.push(c);
                    i += 2;
                }
                None => return Err((tok.line, "dangling '\\' at the end".into())),
            },
        }
    }
    Ok(out)
}

/// Cursor over an entry's RDATA tokens.
struct Fields<'e, 't> {
    toks: &'e [Token<'t>],
    pos: usize,
    line: usize,
    rtype: Rtype,
}

impl<'t> Fields<'_, 't> {
    fn next(&mut self, what: &str) -> Result<Token<'t>, Fail> {
        let t = self
            .toks
            .get(self.pos)
            .copied()
            .ok_or_else(|| (self.line, format!("{} record: missing {what}", self.rtype)))?;
        self.pos += 1;
        Ok(t)
    }

    fn left(&self) -> usize {
        self.toks.len() - self.pos
    }

    fn int<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, Fail> {
        let t = self.next(what)?;
        t.text
            .parse::<u64>()
            .ok()
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| (t.line, format!("bad {what} \"{}\"", t.text)))
    }

    fn time(&mut self, what: &str) -> Result<u32, Fail> {
        let t = self.next(what)?;
        parse_ttl(t.text).ok_or_else(|| (t.line, format!("bad {what} \"{}\"", t.text)))
    }

    fn name(
        &mut self,
        what: &str,
        origin: Option<&NameBuf>,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        let t = self.next(what)?;
        out.extend_from_slice(parse_name(&t, origin)?.as_wire());
        Ok(())
    }

    fn end(&self) -> Result<(), Fail> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some(t) => Err((
                t.line,
                format!(
                    "{} record: unexpected \"{}\" after the RDATA",
                    self.rtype, t.text
                ),
            )),
        }
    }
}

/// RDATA in RFC 3597 generic form: `\# length hex...`.
fn generic_rdata(f: &mut Fields<'_, '_>) -> Result<Vec<u8>, Fail> {
    let len: usize = f.int("RDATA length after \\#")?;
    let mut hex = String::new();
    let line = f.toks.get(f.pos).map_or(f.line, |t| t.line);
    while f.left() > 0 {
        hex.push_str(f.next("hex")?.text);
    }
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err((line, format!("bad hex RDATA \"{hex}\"")));
    }
    let data: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    if data.len() != len {
        return Err((
            line,
            format!("\\# says {len} octets but {} are given", data.len()),
        ));
    }
    Ok(data)
}

fn rdata(f: &mut Fields<'_, '_>, origin: Option<&NameBuf>) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    if f.toks
        .get(f.pos)
        .is_some_and(|t| !t.quoted && t.text == "\\#")
    {
        f.pos += 1;
        let data = generic_rdata(f)?;
        // A known type in generic form must still be valid RDATA for that type.
        if let Err(e) = RData::parse(
            &data,
            f.rtype.to_int(),
            1,
            0,
            0,
            data.len(),
            &rdata_budget(),
        ) {
            return Err((f.line, format!("bad {} RDATA: {e}", f.rtype)));
        }
        return Ok(data);
    }
    match f.rtype {
        Rtype::A => {
            let t = f.next("IPv4 address")?;
            let a: Ipv4Addr = t
                .text
                .parse()
                .map_err(|_| (t.line, format!("bad IPv4 address \"{}\"", t.text)))?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::Aaaa => {
            let t = f.next("IPv6 address")?;
            let a: Ipv6Addr = t
                .text
                .parse()
                .map_err(|_| (t.line, format!("bad IPv6 address \"{}\"", t.text)))?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::Ns | Rtype::Cname | Rtype::Ptr => f.name("target name", origin, &mut out)?,
        Rtype::Mx => {
            out.extend_from_slice(&f.int::<u16>("MX preference")?.to_be_bytes());
            f.name("MX exchange", origin, &mut out)?;
        }
        Rtype::Srv => {
            for what in ["SRV priority", "SRV weight", "SRV port"] {
                out.extend_from_slice(&f.int::<u16>(what)?.to_be_bytes());
            }
            // RFC 2782: "." means no service; any name is stored as given.
            f.name("SRV target", origin, &mut out)?;
        }
        Rtype::Soa => {
            f.name("SOA MNAME", origin, &mut out)?;
            f.name("SOA RNAME", origin, &mut out)?;
            out.extend_from_slice(&f.int::<u32>("SOA serial")?.to_be_bytes());
            for what in ["SOA refresh", "SOA retry", "SOA expire", "SOA minimum"] {
                out.extend_from_slice(&f.time(what)?.to_be_bytes());
            }
        }
        Rtype::Txt => {
            if f.left() == 0 {
                return Err((f.line, "TXT record: missing text".into()));
            }
            while f.left() > 0 {
                let t = f.next("text")?;
                let s = unescape(&t)?;
                let len = u8::try_from(s.len()).map_err(|_| {
                    (
                        t.line,
                        format!("TXT string of {} octets (at most 255 per string)", s.len()),
                    )
                })?;
                out.push(len);
                out.extend_from_slice(&s);
            }
            if out.len() > 65535 {
                return Err((f.line, "TXT RDATA longer than 65535 octets".into()));
            }
        }
        other => {
            return Err((
                f.line,
                format!("type {other} needs RFC 3597 generic RDATA (\\# length hex)"),
            ));
        }
    }
    f.end()?;
    Ok(out)
}

/// Parses a whole master file into a [`Zone`].
pub(super) fn parse(text: &str, file: &str, origin: Option<&str>) -> Result<Zone, ZoneError> {
    let wrap = |(line, message): Fail| ZoneError {
        file: file.to_string(),
        line,
        message,
    };
    let records = read_records(text, origin).map_err(wrap)?;
    Zone::build(file, records)
}

fn read_records(text: &str, origin: Option<&str>) -> Result<Vec<Pending>, Fail> {
    let mut origin: Option<NameBuf> = match origin {
        None => None,
        Some(o) => Some(
            NameBuf::from_presentation(o)
                .map_err(|e| (0, format!("bad origin \"{o}\": {}", name_error(e))))?,
        ),
    };
    let mut default_ttl: Option<u32> = None;
    let mut last_ttl: Option<u32> = None;
    let mut last_owner: Option<NameBuf> = None;
    let mut records = Vec::new();
    for entry in tokenize(text)? {
        let toks = &entry.tokens;
        let first = toks[0];
        let line = first.line;
        if !entry.indented && !first.quoted && first.text.starts_with('$') {
            let arg = |i: usize| {
                toks.get(i)
                    .copied()
                    .ok_or_else(|| (line, format!("{} needs an argument", first.text)))
            };
            match first.text.to_ascii_uppercase().as_str() {
                "$ORIGIN" => origin = Some(parse_name(&arg(1)?, origin.as_ref())?),
                "$TTL" => {
                    let t = arg(1)?;
                    default_ttl = Some(
                        parse_ttl(t.text)
                            .ok_or_else(|| (t.line, format!("bad TTL \"{}\"", t.text)))?,
                    );
                }
                "$INCLUDE" => {
                    return Err((
                        line,
                        "$INCLUDE is not supported: put the included records in this file".into(),
                    ));
                }
                other => return Err((line, format!("unknown directive {other}"))),
            }
            continue;
        }
        let mut pos = 0;
        let owner = if entry.indented {
            last_owner.ok_or_else(|| (line, "record without an owner name".into()))?
        } else {
            pos = 1;
            parse_name(&first, origin.as_ref())?
        };
        last_owner = Some(owner);
        let mut ttl = None;
        let mut class_seen = false;
        let rtype = loop {
            let t = *toks
                .get(pos)
                .ok_or_else(|| (line, "missing record type".into()))?;
            pos += 1;
            if ttl.is_none() && t.text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(
                    parse_ttl(t.text).ok_or_else(|| (t.line, format!("bad TTL \"{}\"", t.text)))?,
                );
                continue;
            }
            if !class_seen && is_class(t.text) {
                if !t.text.eq_ignore_ascii_case("IN") {
                    return Err((
                        t.line,
                        format!("class {} is not supported (only IN)", t.text),
                    ));
                }
                class_seen = true;
                continue;
            }
            match Rtype::from_mnemonic(t.text) {
                Some(Rtype::Opt | Rtype::Axfr | Rtype::Ixfr | Rtype::Any) => {
                    return Err((t.line, format!("type {} cannot appear in a zone", t.text)));
                }
                Some(rt) => break rt,
                None => return Err((t.line, format!("unknown record type \"{}\"", t.text))),
            }
        };
        if let Some(t) = ttl {
            last_ttl = Some(t);
        }
        let ttl = ttl.or(default_ttl).or(last_ttl).ok_or_else(|| {
            (
                line,
                "no TTL given and no $TTL or earlier TTL to inherit".into(),
            )
        })?;
        let mut fields = Fields {
            toks: &toks[pos..],
            pos: 0,
            line,
            rtype,
        };
        let data = rdata(&mut fields, origin.as_ref())?;
        records.push(Pending {
            owner,
            rtype,
            ttl,
            data,
            line,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("300"), Some(300));
        assert_eq!(parse_ttl("1h30m"), Some(5400));
        assert_eq!(parse_ttl("1W"), Some(604_800));
        assert_eq!(parse_ttl("1h3"), None);
        assert_eq!(parse_ttl("x"), None);
    }

    #[test]
    fn absolute_names() {
        assert!(is_absolute("a.b."));
        assert!(!is_absolute("a.b"));
        assert!(!is_absolute("a\\."));
        assert!(is_absolute("a\\\\."));
    }

    #[test]
    fn tokens_and_lines() {
        let e = tokenize("a IN ( TXT\n \"x;y\" ) ; c\n  b\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].tokens.len(), 4);
        assert_eq!(e[0].tokens[3].text, "x;y");
        assert_eq!(e[0].tokens[3].line, 2);
        assert!(e[1].indented);
        assert_eq!(tokenize("a (\n b\n").unwrap_err().0, 1);
        assert_eq!(tokenize("a\n b )\n").unwrap_err().0, 2);
    }
}
