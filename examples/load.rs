//! `load`: holds many idle DNS-over-TCP connections to a server, for the load test
//! in `benches/load_idle.sh` (a separate process from the server, as the fd limit
//! is per process).
//!
//! ```text
//! load --server ADDR:PORT --conns N [--query]
//! ```
//!
//! Opens `N` connections (with `--query` each asks one question and reads the
//! answer first, so the server sees a used, then idle, connection), prints
//! `held N` on stdout, then obeys one command per line on stdin:
//!
//! - `check`: prints `open K closed M` (a held connection is closed when a
//!   non-blocking read returns EOF or an error other than would-block);
//! - `extra`: opens one more connection, asks a question, prints `extra answered`
//!   or `extra failed: REASON`, and keeps it;
//! - `again`: every held connection asks its question once more and reads the
//!   answer; prints `again answered K failed M`;
//! - `quit` (or EOF): closes everything and exits.

use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// `www.example.test. IN A`, framed, ID 0x4c44.
const QUERY: [u8; 36] = [
    0, 34, 0x4c, 0x44, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a',
    b'm', b'p', b'l', b'e', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1,
];

fn read_answer(s: &mut TcpStream) -> std::io::Result<()> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body)?;
    if body.get(..2) != Some(&QUERY[2..4]) {
        return Err(std::io::Error::other("answer with another ID"));
    }
    Ok(())
}

fn open(addr: SocketAddr, query: bool) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    if query {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(&QUERY)?;
        read_answer(&mut s)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// One more question on a held (non-blocking) connection, answered in 5 s.
fn ask_again(s: &mut TcpStream) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(&QUERY)?;
    read_answer(s)?;
    s.set_nonblocking(true)
}

fn is_open(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut server: Option<SocketAddr> = None;
    let mut conns = 0usize;
    let mut query = false;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" => server = it.next().and_then(|v| v.parse().ok()),
            "--conns" => conns = it.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--query" => query = true,
            _ => {
                eprintln!("usage: load --server ADDR:PORT --conns N [--query]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(addr) = server else {
        eprintln!("load: --server ADDR:PORT is required");
        return ExitCode::from(2);
    };
    let mut held = Vec::with_capacity(conns + 16);
    for i in 0..conns {
        match open(addr, query) {
            Ok(s) => held.push(s),
            Err(e) => {
                eprintln!("load: connection {i}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "held {}", held.len());
    let _ = out.flush();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "check" => {
                let open = held.iter_mut().map(is_open).filter(|&o| o).count();
                let _ = writeln!(out, "open {open} closed {}", held.len() - open);
            }
            "extra" => match open(addr, true) {
                Ok(s) => {
                    held.push(s);
                    let _ = writeln!(out, "extra answered");
                }
                Err(e) => {
                    let _ = writeln!(out, "extra failed: {e}");
                }
            },
            "again" => {
                let ok = held
                    .iter_mut()
                    .map(|s| ask_again(s).is_ok())
                    .filter(|&ok| ok)
                    .count();
                let _ = writeln!(out, "again answered {ok} failed {}", held.len() - ok);
            }
            "quit" => break,
            other => {
                let _ = writeln!(out, "unknown command {other:?}");
            }
        }
        let _ = out.flush();
    }
    ExitCode::SUCCESS
}
