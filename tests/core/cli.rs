//! The command-line contract of the `serve` and `query` examples (README, "The
//! `serve` program" / "The `query` program"): flags, output lines, exit codes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A built example next to this test binary (`cargo test` builds examples).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let p = dir.join("examples").join(name);
    assert!(
        p.exists(),
        "{} not built (cargo test builds examples)",
        p.display()
    );
    p
}

struct Serve {
    child: Child,
    addrs: Vec<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(example("serve"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let n = args.iter().filter(|a| **a == "--listen").count().max(1);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut addrs = Vec::new();
        for _ in 0..n {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            let addr = line
                .trim_end()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("bad line {line:?}"));
            addrs.push(addr.to_string());
        }
        Serve { child, addrs }
    }

    /// SIGTERM, then the stats line and the exit status.
    fn stop(mut self) -> (String, i32, Duration) {
        let t = Instant::now();
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let out = self.child.wait_with_output_ref();
        (out.0, out.1, t.elapsed())
    }
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> (String, i32);
}

impl WaitRef for Child {
    fn wait_with_output_ref(&mut self) -> (String, i32) {
        let mut err = String::new();
        if let Some(e) = self.stderr.as_mut() {
            use std::io::Read;
            e.read_to_string(&mut err).unwrap();
        }
        let status = self.wait().unwrap();
        (err, status.code().unwrap_or(-1))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query(args: &[&str]) -> (String, String, i32) {
    let o = Command::new(example("query")).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn cli_serve_listening_lines_stats_line_and_exit_0() {
    let s = Serve::start(&["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]);
    assert_eq!(s.addrs.len(), 2);
    assert!(
        s.addrs
            .iter()
            .all(|a| a.starts_with("127.0.0.1:") && !a.ends_with(":0")),
        "{:?}",
        s.addrs
    );
    let server = format!("@{}", s.addrs[0]);
    let (out, err, code) = query(&[&server, "+short", "www.example.test", "A", "AAAA"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "192.0.2.80\n192.0.2.81\n2001:db8::80\n");
    let (stats, code, took) = s.stop();
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    let line = stats
        .lines()
        .find(|l| l.starts_with("stats: "))
        .unwrap_or_else(|| panic!("no stats line in {stats:?}"));
    let keys: Vec<&str> = line["stats: ".len()..]
        .split(' ')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "connections",
            "queries",
            "responses",
            "formerr",
            "refused_conns",
            "closed_idle",
            "closed_io",
            "closed_write",
            "closed_limit",
            "resets"
        ]
    );
    assert!(
        line.contains("connections=1 queries=2 responses=2"),
        "{line}"
    );
}

#[test]
fn cli_serve_errors_exit_1_and_2() {
    let dir = std::env::temp_dir().join(format!("dnstcp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.zone");
    std::fs::write(
        &bad,
        "$ORIGIN bad.test.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nns IN A 1.2.3\n",
    )
    .unwrap();
    let o = Command::new(example("serve"))
        .args(["--zone", bad.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.zone:4"),
        "zone error names file:line: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one-line reason: {err}");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(example("serve"))
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "bind failure");
    let o = Command::new(example("serve"))
        .args(["--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "usage error");
    let o = Command::new(example("serve"))
        .args(["--idle-timeout-ms", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(example("serve"))
        .args(["--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--max-conns-per-ip"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `--coalesce-us` / `--coalesce-after`: with a 2 ms pause after every round that
/// answered fewer than 16 queries per connection, eight connections that each
/// keep four queries in flight for 50 rounds (so every poll round qualifies) get
/// every answer, in order, and the pauses only regroup work. Bad values are usage
/// errors.
#[test]
fn cli_serve_coalescing_keeps_every_answer() {
    use dnstcp::wire::{Builder, Class, Message, NameBuf, Rtype};
    use std::io::Read;
    let s = Serve::start(&[
        "--listen",
        "127.0.0.1:0",
        "--coalesce-us",
        "2000",
        "--coalesce-after",
        "1",
    ]);
    let name: NameBuf = "www.example.test".parse().unwrap();
    let mut conns: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(&s.addrs[0]).unwrap())
        .collect();
    let mut id = 0u16;
    for _ in 0..50 {
        for c in &mut conns {
            let mut batch = Vec::new();
            for _ in 0..4 {
                id += 1;
                let mut buf = [0u8; 512];
                let mut b = Builder::new(&mut buf, id);
                b.push_question(&name.as_name(), Rtype::A, Class::In)
                    .unwrap();
                let n = b.finish();
                batch.extend_from_slice(&(n as u16).to_be_bytes());
                batch.extend_from_slice(&buf[..n]);
            }
            c.write_all(&batch).unwrap();
        }
        let mut want = id - 31;
        for c in &mut conns {
            for _ in 0..4 {
                let mut len = [0u8; 2];
                c.read_exact(&mut len).unwrap();
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                c.read_exact(&mut msg).unwrap();
                let m = Message::new(&msg).unwrap();
                assert_eq!(m.id(), want);
                assert_eq!(m.answers().unwrap().count(), 2);
                want += 1;
            }
        }
    }
    drop(conns);
    let (stats, code, _) = s.stop();
    assert_eq!(code, 0);
    assert!(stats.contains("queries=1600 responses=1600"), "{stats}");
    for bad in [["--coalesce-us", "x"], ["--coalesce-after", "0"]] {
        let o = Command::new(example("serve")).args(bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn cli_query_layout_order_file_repeat_and_exit_codes() {
    let s = Serve::start(&["--listen", "127.0.0.1:0"]);
    let server = format!("@{}", s.addrs[0]);
    // dig layout, in the order asked, NXDOMAIN still exit 0.
    let (out, err, code) = query(&[&server, "nope.example.test", "www.example.test", "a"]);
    assert_eq!(code, 0, "{err}");
    let statuses: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(";; ->>HEADER<<-"))
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses[0].contains("status: NXDOMAIN") && statuses[1].contains("status: NOERROR"),
        "{out}"
    );
    for needle in [
        ";; flags: qr aa",
        ";; QUESTION SECTION:",
        ";; AUTHORITY SECTION:",
        ";; ANSWER SECTION:",
        ";; Query time:",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(out.find("nope.example.test").unwrap() < out.find(";www.example.test.").unwrap());
    // -f FILE with comments and blank lines.
    let file = std::env::temp_dir().join(format!("dnstcp-q-{}.txt", std::process::id()));
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(
        f,
        "; questions\n\nwww.example.test AAAA\nalias.example.test"
    )
    .unwrap();
    drop(f);
    let (out, _, code) = query(&[&server, "+short", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "2001:db8::80\nalias2.example.test.\nwww.example.test.\n192.0.2.80\n192.0.2.81\n"
    );
    let _ = std::fs::remove_file(file);
    // +repeat prints its summary line on stderr.
    let (_, err, code) = query(&[
        &server,
        "+short",
        "+repeat=50",
        "www.example.test",
        "A",
        "AAAA",
    ]);
    assert_eq!(code, 0);
    let line = err.lines().last().unwrap();
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(
        (parts[0], parts[1], parts[2], parts[3], parts[5]),
        ("100", "queries,", "100", "answered,", "qps"),
        "{line}"
    );
    assert!(parts[4].parse::<f64>().is_ok(), "{line}");
    // AXFR through query, then options that must parse.
    let (out, _, code) = query(&[
        &server,
        "+short",
        "+halfclose",
        "+keepalive",
        "+timeout=2.5",
        "example.test",
        "AXFR",
    ]);
    assert_eq!(code, 0);
    assert!(out.lines().count() > 40);
    drop(s);
}

#[test]
fn cli_query_exit_9_when_unanswered_and_1_on_usage() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (_, err, code) = query(&[&format!("@{addr}"), "+timeout=1", "www.example.test", "A"]);
    assert_eq!(code, 9);
    assert!(
        err.contains("www.example.test A"),
        "the error names the query: {err}"
    );
    let (_, _, code) = query(&["+frobnicate", "www.example.test"]);
    assert_eq!(code, 1);
    let (_, _, code) = query(&["@not-an-address", "www.example.test"]);
    assert_eq!(code, 1);
    let (_, _, code) = query(&[]);
    assert_eq!(code, 1);
    // A server that accepts but never answers: the per-query timeout gives 9.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = silent.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let _conns: Vec<_> = silent.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(3));
    });
    let t = Instant::now();
    let (_, _, code) = query(&[&format!("@{a}"), "+timeout=0.5", "www.example.test"]);
    assert_eq!(code, 9);
    assert!(t.elapsed() < Duration::from_secs(3));
    drop(hold);
}

#[test]
fn cli_serve_survives_emfile_and_keeps_serving() {
    // Run serve with a tiny descriptor limit: accepting beyond it fails with EMFILE,
    // which must neither stop the accept loop nor spin; once connections close,
    // new clients are served again.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 24 && exec {} --listen 127.0.0.1:0",
            example("serve").display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    // Exhaust the server's descriptors with idle connections.
    let hogs: Vec<_> = (0..40)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve must survive EMFILE"
    );
    drop(hogs);
    std::thread::sleep(Duration::from_millis(300));
    let (out, err, code) = query(&[
        &format!("@{addr}"),
        "+short",
        "+timeout=3",
        "www.example.test",
    ]);
    assert_eq!(code, 0, "served again after descriptors were freed: {err}");
    assert_eq!(out, "192.0.2.80\n192.0.2.81\n");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let (stats, code) = child.wait_with_output_ref();
    assert_eq!(code, 0);
    assert!(stats.contains("stats: connections="), "{stats}");
}
