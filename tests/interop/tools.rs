//! Real DNS clients (`kdig`, `dig`, `getdns_query`, `dnsperf`) run against any
//! address:port, with parsers for what they print.
//!
//! - `kdig`/`dig`: every message in the output (one per query, so `+keepopen` batches
//!   work) with its status and records per section; AXFR output as a record list
//!   plus kdig's own "Received ... (N messages, M records)" count.
//! - `getdns_query -s -l T -j` (stub mode, TCP only, one compact JSON dict per line);
//!   `-O -a -B -F FILE` pipelines a batch on kept-open TCP. The raw answers in
//!   `replies_full` are parsed with `dnstcp::wire`.
//! - `dnsperf -m tcp`: the "Statistics" summary.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use dnstcp::wire::Message;

/// A client tool failure.
#[derive(Debug)]
pub enum ToolError {
    /// The binary is not installed.
    Missing(&'static str, &'static str),
    /// It could not be run.
    Io(&'static str, io::Error),
    /// It exited non-zero, or printed something we could not parse.
    Failed {
        /// The tool.
        tool: &'static str,
        /// What went wrong.
        why: String,
        /// Its stdout and stderr.
        output: String,
    },
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::Missing(tool, pkg) => write!(
                f,
                "`{tool}` not found; install the Debian package `{pkg}` (.ci/run does this)"
            ),
            ToolError::Io(tool, e) => write!(f, "running {tool}: {e}"),
            ToolError::Failed { tool, why, output } => {
                write!(f, "{tool}: {why}; output:\n{output}")
            }
        }
    }
}

impl std::error::Error for ToolError {}

fn run(tool: &'static str, pkg: &'static str, args: &[String]) -> Result<String, ToolError> {
    let bin = crate::peers::find_binary(tool).ok_or(ToolError::Missing(tool, pkg))?;
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| ToolError::Io(tool, e))?;
    let out = String::from_utf8_lossy(&stdout).into_owned();
    if !status.success() {
        return Err(ToolError::Failed {
            tool,
            why: format!("exited with {status}"),
            output: format!("{out}{}", String::from_utf8_lossy(&stderr)),
        });
    }
    Ok(out)
}

fn failed(tool: &'static str, why: impl Into<String>, output: &str) -> ToolError {
    ToolError::Failed {
        tool,
        why: why.into(),
        output: output.to_owned(),
    }
}

// ---- kdig / dig -----------------------------------------------------------------

/// One resource record in presentation format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordLine {
    /// Owner name, as printed (absolute, with the trailing dot).
    pub owner: String,
    /// TTL.
    pub ttl: u32,
    /// Class mnemonic.
    pub class: String,
    /// Type mnemonic.
    pub rtype: String,
    /// RDATA, whitespace collapsed to single spaces.
    pub rdata: String,
}

impl RecordLine {
    /// Parses `owner ttl class type rdata...`.
    pub fn parse(line: &str) -> Option<RecordLine> {
        let mut it = line.split_whitespace();
        let owner = it.next()?.to_owned();
        let ttl = it.next()?.parse().ok()?;
        let class = it.next()?.to_owned();
        let rtype = it.next()?.to_owned();
        let rdata = it.collect::<Vec<_>>().join(" ");
        Some(RecordLine {
            owner,
            ttl,
            class,
            rtype,
            rdata,
        })
    }
}

/// One answer message as printed by kdig or dig.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigMessage {
    /// The rcode mnemonic ("NOERROR", "NXDOMAIN", ...).
    pub status: String,
    /// The message ID.
    pub id: u16,
    /// The answer section.
    pub answer: Vec<RecordLine>,
    /// The authority section.
    pub authority: Vec<RecordLine>,
    /// The additional section (without dig's OPT pseudosection).
    pub additional: Vec<RecordLine>,
}

/// Splits kdig/dig output into its messages (one per `->>HEADER<<-` line).
pub fn parse_dig_output(out: &str) -> Vec<DigMessage> {
    let mut msgs: Vec<DigMessage> = Vec::new();
    let mut section = "";
    for line in out.lines() {
        let t = line.trim();
        if let Some(h) = t.split_once("->>HEADER<<-").map(|(_, h)| h) {
            let field = |name: &str| {
                h.split([';', ','])
                    .find_map(|f| f.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
                    .unwrap_or_default()
            };
            msgs.push(DigMessage {
                status: field("status:"),
                id: field("id:").parse().unwrap_or(0),
                ..DigMessage::default()
            });
            section = "";
        } else if let Some(s) = t
            .strip_prefix(";; ")
            .and_then(|s| s.strip_suffix(" SECTION:"))
        {
            section = match s {
                "ANSWER" => "answer",
                "AUTHORITY" => "authority",
                "ADDITIONAL" => "additional",
                _ => "",
            };
        } else if t.is_empty() || t.starts_with(';') {
            if t.is_empty() {
                section = "";
            }
        } else if let (Some(m), Some(rr)) = (msgs.last_mut(), RecordLine::parse(t)) {
            match section {
                "answer" => m.answer.push(rr),
                "authority" => m.authority.push(rr),
                "additional" => m.additional.push(rr),
                _ => {}
            }
        }
    }
    msgs
}

fn server_args(server: SocketAddr) -> Vec<String> {
    vec![
        "-p".into(),
        server.port().to_string(),
        format!("@{}", server.ip()),
    ]
}

/// Runs `kdig -p PORT @IP ARGS...` and parses every message it printed.
pub fn kdig(server: SocketAddr, args: &[&str]) -> Result<Vec<DigMessage>, ToolError> {
    let mut a = server_args(server);
    a.extend(args.iter().map(|s| s.to_string()));
    let out = run("kdig", "knot-dnsutils", &a)?;
    let msgs = parse_dig_output(&out);
    if msgs.is_empty() {
        return Err(failed("kdig", "no message in the output", &out));
    }
    Ok(msgs)
}

/// Runs `dig -p PORT @IP ARGS...` and parses every message it printed.
pub fn dig(server: SocketAddr, args: &[&str]) -> Result<Vec<DigMessage>, ToolError> {
    let mut a = server_args(server);
    a.extend(args.iter().map(|s| s.to_string()));
    let out = run("dig", "bind9-dnsutils", &a)?;
    let msgs = parse_dig_output(&out);
    if msgs.is_empty() {
        return Err(failed("dig", "no message in the output", &out));
    }
    Ok(msgs)
}

/// Runs `dig -p PORT @IP ARGS...` and returns its raw output (for lines the parser
/// skips, such as the OPT pseudosection's `TCP KEEPALIVE`).
pub fn dig_raw(server: SocketAddr, args: &[&str]) -> Result<String, ToolError> {
    let mut a = server_args(server);
    a.extend(args.iter().map(|s| s.to_string()));
    run("dig", "bind9-dnsutils", &a)
}

/// A zone transfer as kdig printed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Axfr {
    /// Every record, the closing SOA included.
    pub records: Vec<RecordLine>,
    /// Messages, from kdig's "Received" line.
    pub messages: usize,
}

/// Parses `kdig ... AXFR` output; checks the record lines against kdig's own count.
pub fn parse_kdig_axfr(out: &str) -> Result<Axfr, String> {
    let records: Vec<RecordLine> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| RecordLine::parse(l).ok_or_else(|| format!("unparsed record line {l:?}")))
        .collect::<Result<_, _>>()?;
    // ";; Received 2974 B (1 messages, 47 records)"
    let received = out
        .lines()
        .find_map(|l| l.trim().strip_prefix(";; Received "))
        .ok_or("no ';; Received' line (transfer failed?)")?;
    let inner = received
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .ok_or_else(|| format!("odd Received line {received:?}"))?;
    let mut nums = inner.split(',').map(|p| {
        p.split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok())
    });
    let (Some(Some(messages)), Some(Some(count))) = (nums.next(), nums.next()) else {
        return Err(format!("odd Received line {received:?}"));
    };
    if count != records.len() {
        return Err(format!(
            "kdig counted {count} records but printed {}",
            records.len()
        ));
    }
    let soa = |r: Option<&RecordLine>| r.is_some_and(|r| r.rtype == "SOA");
    if !soa(records.first()) || !soa(records.last()) {
        return Err("transfer does not start and end with the SOA".into());
    }
    Ok(Axfr { records, messages })
}

/// `kdig -p PORT @IP ZONE AXFR`, parsed.
pub fn kdig_axfr(server: SocketAddr, zone: &str) -> Result<Axfr, ToolError> {
    let mut a = server_args(server);
    a.extend([zone.to_owned(), "AXFR".to_owned()]);
    let out = run("kdig", "knot-dnsutils", &a)?;
    parse_kdig_axfr(&out).map_err(|why| failed("kdig", why, &out))
}

// ---- dnsperf --------------------------------------------------------------------

/// dnsperf's summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DnsperfSummary {
    /// "Queries sent".
    pub sent: u64,
    /// "Queries completed".
    pub completed: u64,
    /// "Queries lost".
    pub lost: u64,
    /// "Queries per second".
    pub qps: f64,
    /// "Reconnections" (TCP), when printed.
    pub reconnections: Option<u64>,
    /// "Response codes", e.g. [("NOERROR", 1000)].
    pub rcodes: Vec<(String, u64)>,
}

/// Parses dnsperf's "Statistics" block.
pub fn parse_dnsperf(out: &str) -> Result<DnsperfSummary, String> {
    let value = |key: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.split_whitespace().next().map(str::to_owned))
    };
    let num = |key: &str| {
        value(key)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("no `{key}` in dnsperf output"))
    };
    let qps = value("Queries per second:")
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("no `Queries per second:` in dnsperf output")?;
    let rcodes = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Response codes:"))
        .map(|r| {
            r.split(',')
                .filter_map(|p| {
                    let mut w = p.split_whitespace();
                    Some((w.next()?.to_owned(), w.next()?.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(DnsperfSummary {
        sent: num("Queries sent:")?,
        completed: num("Queries completed:")?,
        lost: num("Queries lost:")?,
        qps,
        reconnections: value("Reconnections:").and_then(|v| v.parse().ok()),
        rcodes,
    })
}

/// `dnsperf -m tcp -s IP -p PORT -d DATAFILE EXTRA...`, parsed.
pub fn dnsperf(
    server: SocketAddr,
    datafile: &Path,
    extra: &[&str],
) -> Result<DnsperfSummary, ToolError> {
    let mut a: Vec<String> = vec![
        "-m".into(),
        "tcp".into(),
        "-s".into(),
        server.ip().to_string(),
        "-p".into(),
        server.port().to_string(),
        "-d".into(),
        datafile.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    let out = run("dnsperf", "dnsperf", &a)?;
    parse_dnsperf(&out).map_err(|why| failed("dnsperf", why, &out))
}

// ---- getdns_query ---------------------------------------------------------------

/// One response dict from `getdns_query -j`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetdnsResponse {
    /// Top-level "status" (900 = GETDNS_RESPSTATUS_GOOD, 901 = NO_NAME, ...).
    pub status: u64,
    /// The raw DNS answers from "replies_full".
    pub replies: Vec<Vec<u8>>,
}

impl GetdnsResponse {
    /// The first reply, parsed.
    pub fn message(&self) -> Option<Message<'_>> {
        Message::new(self.replies.first()?).ok()
    }
}

/// getdns status for a good answer.
pub const GETDNS_RESPSTATUS_GOOD: u64 = 900;
/// getdns status for NXDOMAIN.
pub const GETDNS_RESPSTATUS_NO_NAME: u64 = 901;

/// Parses `getdns_query -j` output: one compact JSON dict per line.
pub fn parse_getdns(out: &str) -> Result<Vec<GetdnsResponse>, String> {
    let mut v = Vec::new();
    for line in out.lines().map(str::trim).filter(|l| l.starts_with('{')) {
        let json = Json::parse(line)?;
        let status = json
            .get("status")
            .and_then(Json::as_u64)
            .ok_or("response without a numeric status")?;
        let replies = json
            .get("replies_full")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .map(|r| {
                r.as_array()
                    .ok_or("replies_full entry is not an array")?
                    .iter()
                    .map(|b| {
                        b.as_u64()
                            .and_then(|b| u8::try_from(b).ok())
                            .ok_or("replies_full byte out of range")
                    })
                    .collect::<Result<Vec<u8>, _>>()
            })
            .collect::<Result<_, _>>()?;
        v.push(GetdnsResponse { status, replies });
    }
    Ok(v)
}

/// `getdns_query -s -l T -j @IP:PORT NAME TYPE`: one stub query over TCP only.
pub fn getdns_query(
    server: SocketAddr,
    name: &str,
    rtype: &str,
) -> Result<GetdnsResponse, ToolError> {
    let a: Vec<String> = [
        "-s",
        "-l",
        "T",
        "-j",
        &format!("@{}:{}", server.ip(), server.port()),
        name,
        rtype,
    ]
    .map(str::to_owned)
    .to_vec();
    let out = run("getdns_query", "getdns-utils", &a)?;
    let mut v = parse_getdns(&out).map_err(|why| failed("getdns_query", why, &out))?;
    if v.len() != 1 {
        return Err(failed("getdns_query", "expected one response", &out));
    }
    Ok(v.remove(0))
}

/// `getdns_query -s -O -a -B -F FILE -j @IP:PORT`: every `NAME TYPE` line of the file
/// scheduled at once (asynchronous batch) on kept-open TCP, so they are pipelined.
pub fn getdns_batch(
    server: SocketAddr,
    queries_file: &Path,
) -> Result<Vec<GetdnsResponse>, ToolError> {
    let a: Vec<String> = vec![
        "-s".into(),
        "-t".into(),
        "10000".into(),
        "-O".into(),
        "-a".into(),
        "-B".into(),
        "-j".into(),
        "-F".into(),
        queries_file.display().to_string(),
        format!("@{}:{}", server.ip(), server.port()),
    ];
    let out = run("getdns_query", "getdns-utils", &a)?;
    parse_getdns(&out).map_err(|why| failed("getdns_query", why, &out))
}

// ---- a minimal JSON reader (for getdns_query -j) -------------------------------

/// A JSON value; enough for getdns_query's output.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// null
    Null,
    /// true/false
    Bool(bool),
    /// A number, kept as text.
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in source order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON document.
    pub fn parse(s: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            s: s.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at {}", p.i));
        }
        Ok(v)
    }

    /// A member of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// An array's elements.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// A string's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    m.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let s = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                Ok(Json::Num(
                    String::from_utf8_lossy(&self.s[s..self.i]).into(),
                ))
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected a string at {}", self.i));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u")?;
                            self.i += 4;
                            let cp = u32::from_str_radix(&String::from_utf8_lossy(hex), 16)
                                .map_err(|e| e.to_string())?;
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            out.extend(ch.to_string().bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

// ---- tests ----------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::{Peer, PeerKind, ZONE_SERIAL, fresh_dir};
    use dnstcp::wire::{RData, Rcode};

    fn start(kind: PeerKind) -> Peer {
        Peer::start(kind).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn json_reader() {
        let j = Json::parse(r#"{"a":[1,2,{"b":"x\"y\u0041"}],"s":900,"t":true,"n":null}"#).unwrap();
        assert_eq!(j.get("s").and_then(Json::as_u64), Some(900));
        let a = j.get("a").and_then(Json::as_array).unwrap();
        assert_eq!(a[2].get("b").and_then(Json::as_str), Some("x\"yA"));
        assert!(Json::parse("{\"a\":1} x").is_err());
    }

    #[test]
    fn dig_output_parser_on_a_sample() {
        let out = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 687\n\
                   ;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1\n\n\
                   ;; AUTHORITY SECTION:\n\
                   example.test.\t\t300\tIN\tSOA\tns1.example.test. hostmaster.example.test. 1 2 3 4 5\n";
        let m = parse_dig_output(out);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].status.as_str(), m[0].id), ("NXDOMAIN", 687));
        assert_eq!(m[0].authority[0].rtype, "SOA");
        assert_eq!(m[0].authority[0].ttl, 300);
    }

    #[test]
    #[ignore = "needs knot and kdig (installed by .ci/run)"]
    fn kdig_keepopen_against_knot() {
        let peer = start(PeerKind::Knot);
        let msgs = kdig(
            peer.addr(),
            &[
                "+tcp",
                "+keepopen",
                "www.example.test",
                "A",
                "nope.example.test",
                "A",
                "example.test",
                "MX",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(msgs[0].status, "NOERROR");
        let mut www: Vec<&str> = msgs[0].answer.iter().map(|r| r.rdata.as_str()).collect();
        www.sort_unstable();
        assert_eq!(www, ["192.0.2.80", "192.0.2.81"]);
        assert_eq!(msgs[1].status, "NXDOMAIN");
        assert!(msgs[1].answer.is_empty());
        assert_eq!(msgs[1].authority[0].rtype, "SOA");
        assert_eq!(msgs[2].answer.len(), 2);
        assert!(msgs[2].answer.iter().all(|r| r.rtype == "MX"));
    }

    #[test]
    #[ignore = "needs bind9 and dig (installed by .ci/run)"]
    fn dig_keepopen_against_bind() {
        let peer = start(PeerKind::Bind);
        let msgs = dig(
            peer.addr(),
            &[
                "+tcp",
                "+keepopen",
                "big512.example.test",
                "TXT",
                "alias.example.test",
                "A",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(msgs[0].status, "NOERROR");
        assert_eq!(msgs[0].answer.len(), 3);
        // alias -> alias2 -> www (2 A)
        let types: Vec<&str> = msgs[1].answer.iter().map(|r| r.rtype.as_str()).collect();
        assert_eq!(types, ["CNAME", "CNAME", "A", "A"]);
    }

    #[test]
    #[ignore = "needs nsd and getdns_query (installed by .ci/run)"]
    fn getdns_tcp_against_nsd() {
        let peer = start(PeerKind::Nsd);
        let r = getdns_query(peer.addr(), "example.test", "SOA").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, GETDNS_RESPSTATUS_GOOD);
        let m = r.message().expect("a reply that dnstcp parses");
        let serial = m
            .answers()
            .unwrap()
            .find_map(|rr| match rr.unwrap().data().unwrap() {
                RData::Soa { serial, .. } => Some(serial),
                _ => None,
            });
        assert_eq!(serial, Some(ZONE_SERIAL));

        let dir = fresh_dir("getdns").unwrap();
        let file = dir.join("queries.txt");
        std::fs::write(
            &file,
            "www.example.test A\nmail.example.test AAAA\nnope.example.test A\n\
             big1200.example.test TXT\nexample.test MX\n",
        )
        .unwrap();
        let batch = getdns_batch(peer.addr(), &file).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(batch.len(), 5, "{batch:?}");
        let rcodes: Vec<Rcode> = batch
            .iter()
            .map(|r| r.message().expect("parsed reply").rcode())
            .collect();
        assert_eq!(rcodes.iter().filter(|r| **r == Rcode::NxDomain).count(), 1);
        assert_eq!(
            batch
                .iter()
                .filter(|r| r.status == GETDNS_RESPSTATUS_NO_NAME)
                .count(),
            1
        );
    }

    #[test]
    #[ignore = "needs knot and dnsperf (installed by .ci/run)"]
    fn dnsperf_tcp_against_knot() {
        let peer = start(PeerKind::Knot);
        let dir = fresh_dir("dnsperf").unwrap();
        let file = dir.join("queries.txt");
        std::fs::write(
            &file,
            "www.example.test A\nwww.example.test AAAA\nexample.test MX\n\
             big512.example.test TXT\nnope.example.test A\nalias.example.test A\n",
        )
        .unwrap();
        let s = dnsperf(peer.addr(), &file, &["-c", "10", "-q", "100", "-l", "3"])
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("dnsperf against Knot: {s:?}");
        assert!(s.sent > 0);
        assert_eq!(s.lost, 0, "{s:?}");
        assert_eq!(s.completed, s.sent);
        assert!(s.qps > 0.0);
        assert_eq!(s.reconnections, Some(0));
        let total: u64 = s.rcodes.iter().map(|(_, n)| n).sum();
        assert_eq!(total, s.completed);
        assert!(s.rcodes.iter().any(|(r, _)| r == "NXDOMAIN"), "{s:?}");
    }
}
