//! `query`: a dig-like DNS-over-TCP client that pipelines every question on ONE
//! connection and prints the answers in the order asked.
//!
//! ```text
//! query [@SERVER] [+OPTION...] [-f FILE] [NAME [TYPE...]]...
//! ```
//!
//! The command-line contract (flags, output, exit codes) is documented in the README
//! under "The `query` program"; scripts rely on it.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dnstcp::io::blocking::{Answer, Client, ClientConfig, Error as QueryError};
use dnstcp::wire::{Message, NameBuf, Rtype};

const USAGE: &str = "usage: query [@SERVER] [+short] [+timeout=SECONDS] [+halfclose] [+tfo] [+keepalive] [+repeat=N] [+stats] [-f FILE] [NAME [TYPE...]]...";

#[derive(Debug)]
struct Args {
    server: SocketAddr,
    short: bool,
    timeout: Duration,
    half_close: bool,
    tfo: bool,
    keepalive: bool,
    repeat: usize,
    stats: bool,
    questions: Vec<(String, NameBuf, Rtype)>,
}

fn parse_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("bad server address {s:?}"))
}

fn push_name(
    out: &mut Vec<(String, NameBuf, Rtype)>,
    pending: &mut Option<(String, NameBuf, bool)>,
) {
    if let Some((text, name, typed)) = pending.take() {
        if !typed {
            out.push((text, name, Rtype::A));
        }
    }
}

fn parse_tokens<'a>(
    tokens: impl Iterator<Item = &'a str>,
    out: &mut Vec<(String, NameBuf, Rtype)>,
) -> Result<(), String> {
    let mut pending: Option<(String, NameBuf, bool)> = None;
    for tok in tokens {
        if let Some(t) = Rtype::from_mnemonic(tok) {
            match pending.as_mut() {
                Some((text, name, typed)) => {
                    *typed = true;
                    out.push((text.clone(), *name, t));
                }
                None => return Err(format!("type {tok} without a name before it")),
            }
        } else {
            push_name(out, &mut pending);
            let name =
                NameBuf::from_presentation(tok).map_err(|e| format!("bad name {tok:?}: {e}"))?;
            pending = Some((tok.to_string(), name, false));
        }
    }
    push_name(out, &mut pending);
    Ok(())
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        server: "127.0.0.1:5353".parse().map_err(|_| "default server")?,
        short: false,
        timeout: Duration::from_secs(5),
        half_close: false,
        tfo: false,
        keepalive: false,
        repeat: 1,
        stats: false,
        questions: Vec::new(),
    };
    let mut names: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_str();
        if let Some(s) = arg.strip_prefix('@') {
            a.server = parse_server(s)?;
        } else if let Some(opt) = arg.strip_prefix('+') {
            let (key, val) = opt
                .split_once('=')
                .map_or((opt, None), |(k, v)| (k, Some(v)));
            match (key, val) {
                ("short", None) => a.short = true,
                ("halfclose", None) => a.half_close = true,
                ("tfo", None) => a.tfo = true,
                ("keepalive", None) => a.keepalive = true,
                ("stats", None) => a.stats = true,
                ("timeout", Some(v)) => {
                    let secs: f64 = v.parse().map_err(|_| format!("bad +timeout value {v:?}"))?;
                    if !(secs > 0.0 && secs < 86_400.0) {
                        return Err(format!("bad +timeout value {v:?}"));
                    }
                    a.timeout = Duration::from_secs_f64(secs);
                }
                ("repeat", Some(v)) => {
                    a.repeat = v
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("bad +repeat value {v:?}"))?;
                }
                _ => return Err(format!("unknown option {arg}")),
            }
        } else if arg == "-f" {
            i += 1;
            let path = argv.get(i).ok_or("-f needs a file")?;
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.split(';').next().unwrap_or("").trim();
                if line.is_empty() {
                    continue;
                }
                parse_tokens(line.split_whitespace(), &mut a.questions)
                    .map_err(|e| format!("{path}:{}: {e}", n + 1))?;
            }
        } else if arg == "-h" || arg == "--help" {
            return Err(String::new());
        } else if arg.starts_with('-') && arg.len() > 1 {
            return Err(format!("unknown flag {arg}"));
        } else {
            names.push(arg);
        }
        i += 1;
    }
    parse_tokens(names.into_iter(), &mut a.questions)?;
    if a.questions.is_empty() {
        return Err("no question given".into());
    }
    Ok(a)
}

fn flags_of(m: &Message<'_>) -> String {
    let mut f = Vec::new();
    for (on, name) in [
        (m.qr(), "qr"),
        (m.aa(), "aa"),
        (m.tc(), "tc"),
        (m.rd(), "rd"),
        (m.ra(), "ra"),
        (m.ad(), "ad"),
        (m.cd(), "cd"),
    ] {
        if on {
            f.push(name);
        }
    }
    f.join(" ")
}

fn print_full(out: &mut String, m: &Message<'_>, ans: &Answer) {
    let h = m.header();
    let opt = m.opt().ok().flatten();
    let _ = writeln!(
        out,
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
        m.opcode(),
        m.rcode(),
        m.id()
    );
    let _ = writeln!(
        out,
        ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
        flags_of(m),
        h.qdcount(),
        h.ancount(),
        h.nscount(),
        h.arcount()
    );
    if let Some(o) = opt {
        let _ = writeln!(
            out,
            "\n;; OPT PSEUDOSECTION:\n; EDNS: version: {}, flags:{}; udp: {}",
            o.version(),
            if o.dnssec_ok() { " do" } else { "" },
            o.udp_size()
        );
        for opt in o.options().flatten() {
            let _ = writeln!(out, "; {opt}");
        }
    }
    let _ = writeln!(out, "\n;; QUESTION SECTION:");
    for q in m.questions().flatten() {
        let _ = writeln!(out, ";{q}");
    }
    let sections = [
        ("ANSWER", m.answers()),
        ("AUTHORITY", m.authority()),
        ("ADDITIONAL", m.additional()),
    ];
    for (title, recs) in sections {
        let Ok(recs) = recs else { continue };
        let lines: Vec<String> = recs
            .flatten()
            .filter(|r| r.rtype() != Rtype::Opt)
            .map(|r| r.to_string())
            .collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n;; {title} SECTION:");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = writeln!(out, "\n;; Query time: {} msec", ans.elapsed.as_millis());
    let _ = writeln!(
        out,
        ";; SERVER: {}#{}(TCP)",
        ans.server.ip(),
        ans.server.port()
    );
    let _ = writeln!(out, ";; MSG SIZE  rcvd: {}\n", ans.bytes.len());
}

fn print_short(out: &mut String, m: &Message<'_>) {
    if let Ok(recs) = m.answers() {
        for r in recs.flatten() {
            if let Ok(d) = r.data() {
                let _ = writeln!(out, "{d}");
            }
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("query: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let config = ClientConfig {
        query_timeout: args.timeout,
        connect_timeout: args.timeout,
        fast_open: args.tfo,
        half_close: args.half_close,
        keepalive: args.keepalive,
        ..ClientConfig::default()
    };
    let mut client = Client::new(args.server, config);
    let mut failed = 0usize;
    let mut answered = 0usize;
    let mut total = 0usize;
    let started = Instant::now();
    let mut out = String::new();
    let stdout = std::io::stdout();
    // AXFR questions run as transfers; the others go pipelined together, the whole
    // list `+repeat` times, on the one connection.
    let (axfr, plain): (Vec<_>, Vec<_>) = args.questions.iter().partition(|q| q.2 == Rtype::Axfr);
    let one: Vec<(NameBuf, Rtype)> = plain.iter().map(|q| (q.1, q.2)).collect();
    let batch: Vec<(NameBuf, Rtype)> = (0..args.repeat).flat_map(|_| one.iter().copied()).collect();
    let results = if batch.is_empty() {
        Vec::new()
    } else {
        client.query_many(&batch)
    };
    total += batch.len();
    let last_round = results.len().saturating_sub(one.len());
    for (k, res) in results.iter().enumerate() {
        let (text, _, qtype) = plain[k % plain.len().max(1)];
        let shown = k >= last_round;
        match res {
            Ok(ans) => {
                answered += 1;
                if !shown {
                    continue;
                }
                match Message::new(&ans.bytes) {
                    Ok(m) if args.short => print_short(&mut out, &m),
                    Ok(m) => print_full(&mut out, &m, ans),
                    Err(e) => eprintln!("query: {text} {qtype}: malformed response: {e}"),
                }
            }
            Err(e) => {
                failed += 1;
                if shown {
                    eprintln!("query: {text} {qtype}: {e}");
                }
            }
        }
    }
    for (text, name, _) in &axfr {
        total += 1;
        let transfer: Result<Vec<Answer>, QueryError> =
            client.axfr(name).and_then(|it| it.collect());
        match transfer {
            Ok(messages) => {
                answered += 1;
                for ans in &messages {
                    if let Ok(m) = Message::new(&ans.bytes) {
                        if args.short {
                            print_short(&mut out, &m)
                        } else {
                            print_full(&mut out, &m, ans)
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("query: {text} AXFR: {e}");
            }
        }
    }
    {
        use std::io::Write;
        let mut lock = stdout.lock();
        let _ = lock.write_all(out.as_bytes());
    }
    let secs = started.elapsed().as_secs_f64();
    if args.repeat > 1 {
        eprintln!(
            "{total} queries, {answered} answered, {:.0} qps",
            answered as f64 / secs.max(1e-9)
        );
    }
    if args.stats {
        let s = client.stats();
        eprintln!(
            ";; stats: connections={} queries={} answered={} failed={} retries={} elapsed={:.3}s",
            s.connections, s.queries, s.answered, failed, s.retries, secs
        );
    }
    drop(client);
    if failed > 0 {
        ExitCode::from(9)
    } else {
        ExitCode::SUCCESS
    }
}
