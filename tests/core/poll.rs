//! The poll-loop driver: a fake stream that misbehaves in every allowed way, a
//! hand-written loop over a non-blocking std socket, and mio.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use dnstcp::client::{self, Event, QueryOptions};
use dnstcp::io::blocking::{Server, ServerConfig, zone_handler};
use dnstcp::io::poll::{Action, Driver};
use dnstcp::io::sys;
use dnstcp::server;
use dnstcp::time::{Clock, Instant};
use dnstcp::wire::{Builder, Class, Message, NameBuf, Rtype};
use dnstcp::zone::Zone;

type ClientConn = client::Connection<Vec<u8>, 16>;

fn client_machine() -> ClientConn {
    client::Connection::new(
        client::Config::default(),
        vec![0; 4096],
        vec![0; 4096],
        42,
        Instant::ZERO,
    )
}

/// A stream whose reads and writes follow a script of outcomes.
struct Scripted {
    reads: VecDeque<io::Result<Vec<u8>>>,
    writes: VecDeque<io::Result<usize>>,
    written: Vec<u8>,
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            Some(Ok(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                Ok(n)
            }
            Some(Err(e)) => Err(e),
            None => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.writes.pop_front() {
            Some(Ok(n)) => {
                let n = n.min(buf.len());
                self.written.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Some(Err(e)) => Err(e),
            None => Err(ErrorKind::WouldBlock.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn ask(m: &mut ClientConn, name: &str) -> client::Handle {
    let n: NameBuf = name.parse().unwrap();
    m.send_question(
        Instant::ZERO,
        &n.as_name(),
        Rtype::A,
        Class::In,
        QueryOptions::default(),
    )
    .unwrap()
}

#[test]
fn poll_driver_handles_eintr_partial_writes_and_would_block() {
    let mut m = client_machine();
    ask(&mut m, "a.test");
    ask(&mut m, "b.test");
    let total = m.poll_transmit().unwrap().len();
    let s = Scripted {
        reads: VecDeque::new(),
        writes: VecDeque::from([
            Err(ErrorKind::Interrupted.into()),
            Ok(3),
            Err(ErrorKind::Interrupted.into()),
            Ok(5),
            Err(ErrorKind::WouldBlock.into()),
        ]),
        written: Vec::new(),
    };
    let mut d = Driver::new(s, m);
    assert_eq!(
        d.on_writable(Instant::ZERO),
        8,
        "EINTR retried, partial writes advanced, WouldBlock stops"
    );
    assert!(d.interest().writable, "the rest is still pending");
    assert!(
        !d.write_ready(),
        "a WouldBlock means wait for the next edge"
    );
    d.stream_mut().writes.push_back(Ok(usize::MAX));
    d.set_ready(false, true);
    assert_eq!(d.on_writable(Instant::ZERO), total - 8);
    assert_eq!(d.stream().written.len(), total);
    assert!(!d.interest().writable);
}

#[test]
fn poll_driver_zero_write_is_a_reset_and_fails_every_query() {
    let mut m = client_machine();
    let h = ask(&mut m, "a.test");
    let s = Scripted {
        reads: VecDeque::new(),
        writes: VecDeque::from([Ok(0)]),
        written: Vec::new(),
    };
    let mut d = Driver::new(s, m);
    d.on_writable(Instant::ZERO);
    let mut failed = false;
    while let Some(ev) = d.machine_mut().poll_event() {
        if let Event::Failed { handle, .. } = ev {
            failed |= handle == h;
        }
    }
    assert!(failed, "Ok(0) from write is a broken connection (S5/C7)");
    assert_eq!(d.poll_action(), Some(Action::Close));
    assert_eq!(d.poll_action(), None, "reported once");
}

#[test]
fn poll_driver_eof_and_read_errors() {
    // EOF is handed to the machine once and never read past.
    let s = Scripted {
        reads: VecDeque::from([Err(ErrorKind::Interrupted.into()), Ok(Vec::new())]),
        writes: VecDeque::new(),
        written: Vec::new(),
    };
    let mut d = Driver::new(s, client_machine());
    assert_eq!(d.on_readable(Instant::ZERO), 0);
    assert!(!d.interest().readable, "no reading after EOF");
    // A hard read error is a reset.
    let mut m = client_machine();
    let h = ask(&mut m, "a.test");
    let s = Scripted {
        reads: VecDeque::from([Err(ErrorKind::ConnectionReset.into())]),
        writes: VecDeque::from([Ok(usize::MAX)]),
        written: Vec::new(),
    };
    let mut d = Driver::new(s, m);
    d.on_writable(Instant::ZERO);
    d.on_readable(Instant::ZERO);
    let ended: Vec<_> = std::iter::from_fn(|| {
        d.machine_mut()
            .poll_event()
            .map(|e| matches!(e, Event::Failed { handle, .. } if handle == h))
    })
    .collect();
    assert!(ended.contains(&true));
}

fn zone_server() -> (
    std::net::SocketAddr,
    dnstcp::io::blocking::Stopper,
    std::thread::JoinHandle<()>,
) {
    let zone = Arc::new(
        Zone::from_file(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/zones/example.test.zone"
            ),
            None,
        )
        .unwrap(),
    );
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default()).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.stopper();
    let t = std::thread::spawn(move || server.run(zone_handler(zone)).unwrap());
    (addr, stop, t)
}

#[test]
fn poll_driver_hand_written_loop() {
    let (addr, stop, t) = zone_server();
    let stream = sys::connect(addr, false, Some(Duration::from_secs(2)))
        .unwrap()
        .stream;
    stream.set_nonblocking(true).unwrap();
    let clock = Clock::new();
    let mut m = client_machine();
    let names: Vec<NameBuf> = (0..100)
        .map(|i| {
            format!("{}.example.test", ["www", "mail", "ns1"][i % 3])
                .parse()
                .unwrap()
        })
        .collect();
    let mut handles = Vec::new();
    let mut d = Driver::new(stream, {
        for n in &names[..16] {
            handles.push(
                m.send_question(
                    clock.now(),
                    &n.as_name(),
                    Rtype::A,
                    Class::In,
                    QueryOptions::default(),
                )
                .unwrap(),
            );
        }
        m
    });
    let mut next = 16;
    let mut answered = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while answered < names.len() && std::time::Instant::now() < deadline {
        let now = clock.now();
        while let Some(ev) = d.machine_mut().poll_event() {
            if let Event::Response { message, .. } = ev {
                assert_eq!(message.rcode(), dnstcp::wire::Rcode::NoError);
                answered += 1;
            }
        }
        while next < names.len() && d.machine().can_send() {
            let h = d.machine_mut().send_question(
                now,
                &names[next].as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            );
            match h {
                Ok(h) => {
                    handles.push(h);
                    next += 1;
                }
                Err(_) => break,
            }
        }
        d.on_writable(now);
        let i = d.interest();
        let wait = d
            .deadline()
            .map(|t| Duration::from_millis(t.as_millis().saturating_sub(now.as_millis()).max(1)));
        let r = sys::wait(
            d.stream(),
            i.readable,
            i.writable,
            wait.or(Some(Duration::from_millis(100))),
        )
        .unwrap();
        let now = clock.now();
        if r.readable {
            d.on_readable(now);
        }
        d.on_timeout(now);
    }
    assert_eq!(answered, names.len());
    stop.stop();
    t.join().unwrap();
}

#[test]
fn poll_driver_plugs_into_mio() {
    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};
    let (addr, stop, t) = zone_server();
    let mut poll = Poll::new().unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    poll.registry()
        .register(
            &mut stream,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    let clock = Clock::new();
    let mut d = Driver::new(stream, client_machine());
    let qs = [
        "www.example.test",
        "mail.example.test",
        "nope.example.test",
        "alias.example.test",
    ];
    for q in qs {
        let n: NameBuf = q.parse().unwrap();
        d.machine_mut()
            .send_question(
                clock.now(),
                &n.as_name(),
                Rtype::A,
                Class::In,
                QueryOptions::default(),
            )
            .unwrap();
    }
    d.machine_mut().finish_sending(clock.now());
    let mut events = Events::with_capacity(8);
    let mut got = Vec::new();
    let mut closed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !closed && std::time::Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        let now = clock.now();
        for ev in events.iter() {
            d.set_ready(ev.is_readable(), ev.is_writable());
        }
        // Edge-triggered: keep going while the driver says more can be done.
        loop {
            let mut progress = 0;
            if d.read_ready() {
                progress += d.on_readable(now);
            }
            if d.write_ready() {
                progress += d.on_writable(now);
            }
            while let Some(ev) = d.machine_mut().poll_event() {
                match ev {
                    Event::Response { message, .. } => got.push(message.rcode()),
                    Event::Closed { .. } => closed = true,
                    _ => {}
                }
            }
            if let Some(Action::Close) = d.poll_action() {
                closed = true;
            }
            if progress == 0 {
                break;
            }
        }
        d.on_timeout(now);
    }
    assert_eq!(got.len(), qs.len());
    assert!(
        closed,
        "the client closes once every answer arrived after finish_sending"
    );
    stop.stop();
    t.join().unwrap();
}

#[test]
fn poll_driver_serves_with_the_server_machine() {
    // The same driver over the server machine, fed by a scripted client stream.
    let mut q = [0u8; 64];
    let n: NameBuf = "www.example.test".parse().unwrap();
    let mut b = Builder::new(&mut q[2..], 0x4242);
    b.push_question(&n.as_name(), Rtype::A, Class::In).unwrap();
    let len = b.finish();
    q[..2].copy_from_slice(&(len as u16).to_be_bytes());
    let s = Scripted {
        reads: VecDeque::from([Ok(q[..len + 2].to_vec()), Ok(Vec::new())]),
        writes: VecDeque::from([Ok(usize::MAX)]),
        written: Vec::new(),
    };
    let m: server::Connection<Vec<u8>, 8> = server::Connection::new(
        server::Config::default(),
        vec![0; 1024],
        vec![0; 1024],
        Instant::ZERO,
    );
    let mut d = Driver::new(s, m);
    d.on_readable(Instant::ZERO);
    let r = d.machine_mut().answer_next(Instant::ZERO, |query, out| {
        let mut b = Builder::response_to(out, query);
        b.header_mut().set_aa(true);
        b.finish()
    });
    assert!(matches!(r, Some(Ok(_))));
    d.on_writable(Instant::ZERO);
    let out = &d.stream().written;
    let m = Message::new(&out[2..]).unwrap();
    assert_eq!(m.id(), 0x4242);
    assert!(m.qr() && m.aa());
    // The client's EOF was a half-close: answered, then the server closes (S9).
    while d.machine_mut().poll_event().is_some() {}
    assert_eq!(d.poll_action(), Some(Action::Close));
}
