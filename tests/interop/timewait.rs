//! TIME_WAIT accounting from `/proc/net/tcp` and `/proc/net/tcp6` (state `06`), for
//! the half-close proof: whichever side closes first holds TIME_WAIT, so a server
//! whose clients half-close first should hold none.
//!
//! "Server side" sockets have the server port as their local port; "client side"
//! sockets have it as their remote port. Both ends of a loopback connection appear
//! in the same table, so one scan sees both.

use std::fs;
use std::io;

/// The kernel's TCP_TIME_WAIT state number, as printed (hex) in `/proc/net/tcp`.
pub const TCP_TIME_WAIT: u8 = 0x06;

/// TIME_WAIT sockets involving one server port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeWait {
    /// Local port == the server port: the server closed first.
    pub server_side: usize,
    /// Remote port == the server port: the client closed first.
    pub client_side: usize,
}

/// Counts TIME_WAIT sockets for `server_port` over IPv4 and IPv6.
pub fn count_time_wait(server_port: u16) -> io::Result<TimeWait> {
    let mut tw = TimeWait::default();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match fs::read_to_string(table) {
            Ok(t) => t,
            // No IPv6 in this kernel or namespace.
            Err(e) if e.kind() == io::ErrorKind::NotFound && table.ends_with('6') => continue,
            Err(e) => return Err(e),
        };
        let t = count_in_table(&text, server_port);
        tw.server_side += t.server_side;
        tw.client_side += t.client_side;
    }
    Ok(tw)
}

/// Counts in the text of one `/proc/net/tcp{,6}` table.
pub fn count_in_table(text: &str, server_port: u16) -> TimeWait {
    let mut tw = TimeWait::default();
    for row in text.lines().skip(1).filter_map(parse_row) {
        if row.state != TCP_TIME_WAIT {
            continue;
        }
        if row.local_port == server_port {
            tw.server_side += 1;
        } else if row.remote_port == server_port {
            tw.client_side += 1;
        }
    }
    tw
}

/// The fields of one table row that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// Local port.
    pub local_port: u16,
    /// Remote port.
    pub remote_port: u16,
    /// TCP state number.
    pub state: u8,
}

/// Parses `  N: ADDR:PORT ADDR:PORT ST ...` (addresses in hex, any width).
pub fn parse_row(line: &str) -> Option<Row> {
    let mut f = line.split_whitespace();
    f.next()?.strip_suffix(':')?;
    let port = |s: &str| u16::from_str_radix(s.rsplit_once(':')?.1, 16).ok();
    let local_port = port(f.next()?)?;
    let remote_port = port(f.next()?)?;
    let state = u8::from_str_radix(f.next()?, 16).ok()?;
    Some(Row {
        local_port,
        remote_port,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn parses_proc_rows() {
        let v4 = "   0: 0100007F:6309 0100007F:D2F4 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000";
        assert_eq!(
            parse_row(v4),
            Some(Row {
                local_port: 0x6309,
                remote_port: 0xD2F4,
                state: 6
            })
        );
        let v6 = "   1: 00000000000000000000000001000000:0035 00000000000000000000000001000000:C350 06 00000000:00000000 03:00000F76 00000000     0        0 0 3 0000000000000000";
        let r = parse_row(v6).unwrap();
        assert_eq!((r.local_port, r.remote_port, r.state), (53, 50000, 6));
        let header = "  sl  local_address rem_address   st tx_queue rx_queue";
        assert_eq!(parse_row(header), None);
        let table = format!("{header}\n{v4}\n{v6}\n");
        assert_eq!(
            count_in_table(&table, 0x6309),
            TimeWait {
                server_side: 1,
                client_side: 0
            }
        );
        assert_eq!(
            count_in_table(&table, 50000),
            TimeWait {
                server_side: 0,
                client_side: 1
            }
        );
    }

    /// A listener on a port with no TIME_WAIT left over from an earlier user.
    fn clean_listener() -> TcpListener {
        for _ in 0..32 {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let port = l.local_addr().unwrap().port();
            if count_time_wait(port).unwrap() == TimeWait::default() {
                return l;
            }
        }
        panic!("no port without TIME_WAIT leftovers");
    }

    /// Makes `n` connections; `server_first` picks which end closes first. The other
    /// end waits for the FIN (read returns 0) and then closes too.
    fn churn(l: &TcpListener, n: usize, server_first: bool) {
        let addr = l.local_addr().unwrap();
        for _ in 0..n {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = l.accept().unwrap();
            let (first, mut second) = if server_first {
                (server, client)
            } else {
                (client, server)
            };
            drop(first);
            second
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut b = [0u8; 1];
            let n = loop {
                // EINTR with SO_RCVTIMEO after a stop/continue: retry (signal(7)).
                match second.read(&mut b) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r.unwrap(),
                }
            };
            assert_eq!(n, 0, "expected the FIN");
            drop(second);
        }
    }

    /// Polls until the count reaches `want` (the last ACK may still be in flight).
    fn settle(port: u16, want: TimeWait) -> TimeWait {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let tw = count_time_wait(port).unwrap();
            if tw == want || Instant::now() > deadline {
                return tw;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn closing_first_holds_time_wait() {
        const N: usize = 8;
        let l = clean_listener();
        churn(&l, N, false);
        let port = l.local_addr().unwrap().port();
        let want = TimeWait {
            server_side: 0,
            client_side: N,
        };
        assert_eq!(settle(port, want), want, "client closed first");

        // A different port: TIME_WAIT from the first phase lasts 60 s.
        let l = clean_listener();
        churn(&l, N, true);
        let port = l.local_addr().unwrap().port();
        let want = TimeWait {
            server_side: N,
            client_side: 0,
        };
        assert_eq!(settle(port, want), want, "server closed first");
    }
}
