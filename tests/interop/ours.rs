//! Shared pieces for the tests that put our own code against the peers:
//!
//! - the zone oracle: the bundled zone loaded with [`dnstcp::zone::Zone`], asked the
//!   same question, its answer section compared as presentation strings (sorted, so
//!   RRset order does not matter; TTLs optional because Unbound's differ);
//! - the question mix for pipelined batches;
//! - [`Serve`]: our `serve` example as a child process on `127.0.0.1:0`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use dnstcp::wire::{Message, NameBuf, Rcode, Rtype};
use dnstcp::zone::{AxfrState, Zone};

use crate::peers::{query, zone_path};

/// The bundled zone, loaded once.
pub fn zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| Zone::from_file(zone_path(), None).expect("bundled zone loads"))
}

/// The questions of the mixed batch: A, AAAA, MX, TXT over 512 and 1200 octets,
/// NXDOMAIN, NODATA (plain and at an empty non-terminal), CNAME chain, wildcard,
/// SOA, NS, SRV.
pub const QUESTIONS: [(&str, Rtype); 18] = [
    ("www.example.test.", Rtype::A),
    ("www.example.test.", Rtype::Aaaa),
    ("example.test.", Rtype::Mx),
    ("big512.example.test.", Rtype::Txt),
    ("big1200.example.test.", Rtype::Txt),
    ("nope.example.test.", Rtype::A),
    ("deep.nope.example.test.", Rtype::Aaaa),
    ("www.example.test.", Rtype::Mx),
    ("b.ent.example.test.", Rtype::A),
    ("alias.example.test.", Rtype::A),
    ("alias2.example.test.", Rtype::Aaaa),
    ("mail.example.test.", Rtype::Txt),
    ("mail2.example.test.", Rtype::A),
    ("x.wild.example.test.", Rtype::A),
    ("example.test.", Rtype::Soa),
    ("example.test.", Rtype::Ns),
    ("_sip._tcp.example.test.", Rtype::Srv),
    ("ns2.example.test.", Rtype::A),
];

/// `n` questions cycling through [`QUESTIONS`].
pub fn mixed(n: usize) -> Vec<(NameBuf, Rtype)> {
    (0..n)
        .map(|i| {
            let (name, t) = QUESTIONS[i % QUESTIONS.len()];
            (name.parse().expect("valid name"), t)
        })
        .collect()
}

/// What an answer is compared on: rcode and the sorted answer section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The rcode.
    pub rcode: Rcode,
    /// Answer records in presentation format, sorted.
    pub answer: Vec<String>,
}

/// The answer section as sorted presentation strings; `with_ttl` false drops the TTL.
pub fn answer_strings(msg: &Message<'_>, with_ttl: bool) -> Vec<String> {
    let mut v: Vec<String> = msg
        .answers()
        .expect("answer section parses")
        .map(|rr| record_string(&rr.expect("record parses").to_string(), with_ttl))
        .collect();
    v.sort();
    v
}

/// One record's presentation string, whitespace collapsed, TTL dropped on request.
pub fn record_string(display: &str, with_ttl: bool) -> String {
    let mut f: Vec<&str> = display.split_whitespace().collect();
    if !with_ttl && f.len() > 1 {
        f.remove(1);
    }
    f.join(" ")
}

/// What the zone oracle says for `name`/`rtype`.
pub fn oracle(name: &str, rtype: Rtype, with_ttl: bool) -> Expect {
    let q = query(0x0101, name, rtype);
    let q = Message::new(&q).expect("query parses");
    let mut out = vec![0u8; 65_535];
    let n = zone().answer(&q, &mut out);
    assert!(n > 0, "the oracle answers {name} {rtype}");
    let m = Message::new(&out[..n]).expect("oracle answer parses");
    Expect {
        rcode: m.rcode(),
        answer: answer_strings(&m, with_ttl),
    }
}

/// Compares a response with the oracle; `Err` says how it differs.
pub fn check(name: &str, rtype: Rtype, bytes: &[u8], with_ttl: bool) -> Result<(), String> {
    let m = Message::new(bytes).map_err(|e| format!("{name} {rtype}: unparsable: {e}"))?;
    let got = Expect {
        rcode: m.rcode(),
        answer: answer_strings(&m, with_ttl),
    };
    let want = oracle(name, rtype, with_ttl);
    if got == want {
        Ok(())
    } else {
        Err(format!("{name} {rtype}: got {got:?}, want {want:?}"))
    }
}

/// The zone's own AXFR as presentation strings, in transfer order (SOA first and
/// last), TTLs kept.
pub fn oracle_axfr() -> Vec<String> {
    let q = query(0x0202, "example.test.", Rtype::Axfr);
    let q = Message::new(&q).expect("query parses");
    let mut state = AxfrState::new();
    let mut out = vec![0u8; 65_535];
    let mut v = Vec::new();
    while let Some(n) = zone().axfr_messages(&q, 65_535, &mut out, &mut state) {
        let m = Message::new(&out[..n]).expect("oracle AXFR message parses");
        for rr in m.answers().expect("answers") {
            v.push(record_string(&rr.expect("record").to_string(), true));
        }
    }
    v
}

// ---- our `serve` example as a child process ---------------------------------------

/// Path of an example binary built in the same profile as this test binary; built
/// with `cargo build --example NAME` (once) when `cargo test --test interop` did not.
pub fn example_bin(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in <target>/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--example", name, "--manifest-path"])
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("running cargo build --example");
        assert!(st.success(), "cargo build --example {name} failed");
    }
    assert!(path.exists(), "{} not built", path.display());
    path
}

/// A running `serve`: stopped with SIGTERM on [`Serve::stop`] (or drop).
pub struct Serve {
    child: Option<Child>,
    addr: SocketAddr,
    stderr: Option<ChildStderr>,
}

impl Serve {
    /// `serve --listen 127.0.0.1:0 ARGS...`, waiting for its `listening on` line.
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(example_bin("serve"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning serve");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("reading serve's stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve printed {line:?} instead of `listening on ADDR:PORT`");
        };
        let stderr = child.stderr.take();
        Serve {
            child: Some(child),
            addr,
            stderr,
        }
    }

    /// Its process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// SIGTERM, wait (SIGKILL after 5 s), and return its `stats:` line.
    pub fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return String::new();
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err.lines()
            .find(|l| l.starts_with("stats:"))
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A counter from a `stats:` line, e.g. `stat(&line, "connections")`.
pub fn stat(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}
