//! Socket options std does not expose: TCP Fast Open (RFC 7413) on listeners and
//! connecting sockets, `SO_REUSEPORT`, poll(2), and handing free heap pages back
//! ([`trim_heap`]). Linux only; elsewhere every function falls back to plain
//! `std::net` and reports that the option is unavailable (TFO1).
//!
//! This is the only module of the crate with `unsafe`: each block is a single FFI
//! call into the C library std already links, with a `// SAFETY:` note.
#![allow(unsafe_code)]

use core::net::SocketAddr;
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::string::{String, ToString};
use std::vec::Vec;

/// What happened to an optional socket option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionOutcome {
    /// The kernel accepted the option.
    Enabled,
    /// The option was not asked for.
    NotRequested,
    /// The kernel or platform refused it; the socket works without it.
    Unsupported,
}

/// Options for [`listen`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    /// Accept-queue length.
    pub backlog: i32,
    /// TCP Fast Open queue length for SYNs carrying data (`None` = off).
    pub fast_open: Option<i32>,
    /// Set `SO_REUSEPORT` so several listeners (one per thread) share the port.
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: 1024,
            fast_open: None,
            reuse_port: false,
        }
    }
}

/// A bound listener and what became of its options.
#[derive(Debug)]
pub struct Listener {
    /// The listener (blocking; switch with `set_nonblocking`).
    pub listener: TcpListener,
    /// TCP Fast Open.
    pub fast_open: OptionOutcome,
    /// `SO_REUSEPORT`.
    pub reuse_port: OptionOutcome,
}

/// A connected (or connecting, with TFO) stream and whether TFO was used.
#[derive(Debug)]
pub struct Connected {
    /// The stream, with `TCP_NODELAY` set.
    pub stream: TcpStream,
    /// TCP Fast Open.
    pub fast_open: OptionOutcome,
}

#[cfg(target_os = "linux")]
mod linux {
    use core::ffi::c_int;
    use core::net::SocketAddr;
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};

    pub(super) const SOL_SOCKET: c_int = 1;
    pub(super) const SO_REUSEADDR: c_int = 2;
    pub(super) const SO_REUSEPORT: c_int = 15;
    pub(super) const IPPROTO_TCP: c_int = 6;
    pub(super) const TCP_NODELAY: c_int = 1;
    pub(super) const TCP_FASTOPEN: c_int = 23;
    pub(super) const TCP_FASTOPEN_CONNECT: c_int = 30;
    const AF_INET: c_int = 2;
    const AF_INET6: c_int = 10;
    const SOCK_STREAM: c_int = 1;
    const SOCK_CLOEXEC: c_int = 0o2_000_000;

    #[repr(C)]
    struct SockaddrIn {
        family: u16,
        port: [u8; 2],
        addr: [u8; 4],
        zero: [u8; 8],
    }

    #[repr(C)]
    struct SockaddrIn6 {
        family: u16,
        port: [u8; 2],
        flowinfo: u32,
        addr: [u8; 16],
        scope_id: u32,
    }

    unsafe extern "C" {
        fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
        fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_int, len: u32)
        -> c_int;
        fn bind(fd: c_int, addr: *const u8, len: u32) -> c_int;
        fn listen(fd: c_int, backlog: c_int) -> c_int;
        fn connect(fd: c_int, addr: *const u8, len: u32) -> c_int;
        fn poll(fds: *mut PollFd, nfds: u64, timeout: c_int) -> c_int;
    }

    #[repr(C)]
    pub(super) struct PollFd {
        pub(super) fd: c_int,
        pub(super) events: i16,
        pub(super) revents: i16,
    }

    pub(super) const POLLIN: i16 = 0x1;
    pub(super) const POLLOUT: i16 = 0x4;
    pub(super) const POLLERR: i16 = 0x8;
    pub(super) const POLLHUP: i16 = 0x10;

    /// poll(2) on one descriptor; returns `revents`.
    pub(super) fn poll_one(fd: RawFd, events: i16, timeout_ms: c_int) -> io::Result<i16> {
        let mut p = PollFd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: `p` is a live, correctly laid out pollfd and nfds is 1.
        let rc = unsafe { poll(&mut p, 1, timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        Ok(p.revents)
    }

    fn check(rc: c_int) -> io::Result<c_int> {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }

    /// A new TCP socket for `addr`'s family, owned so it closes on every error path.
    pub(super) fn new_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
        let domain = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
        // SAFETY: socket(2) takes plain integers and returns a new descriptor or -1.
        let fd = check(unsafe { socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0) })?;
        // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub(super) fn set_int(fd: RawFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
        // SAFETY: `value` lives across the call and its size is passed exactly.
        check(unsafe { setsockopt(fd, level, name, &value, size_of::<c_int>() as u32) }).map(|_| ())
    }

    /// Runs `f` with `addr` as a C `sockaddr` pointer and length.
    fn with_sockaddr<R>(addr: &SocketAddr, f: impl FnOnce(*const u8, u32) -> R) -> R {
        match addr {
            SocketAddr::V4(a) => {
                let sa = SockaddrIn {
                    family: AF_INET as u16,
                    port: a.port().to_be_bytes(),
                    addr: a.ip().octets(),
                    zero: [0; 8],
                };
                f((&raw const sa).cast(), size_of::<SockaddrIn>() as u32)
            }
            SocketAddr::V6(a) => {
                let sa = SockaddrIn6 {
                    family: AF_INET6 as u16,
                    port: a.port().to_be_bytes(),
                    flowinfo: a.flowinfo(),
                    addr: a.ip().octets(),
                    scope_id: a.scope_id(),
                };
                f((&raw const sa).cast(), size_of::<SockaddrIn6>() as u32)
            }
        }
    }

    pub(super) fn bind_listen(fd: RawFd, addr: &SocketAddr, backlog: c_int) -> io::Result<()> {
        // SAFETY: the sockaddr pointer and length describe a live, correctly laid out
        // struct for the duration of the call.
        with_sockaddr(addr, |p, len| check(unsafe { bind(fd, p, len) }))?;
        // SAFETY: listen(2) takes plain integers.
        check(unsafe { listen(fd, backlog) }).map(|_| ())
    }

    pub(super) fn connect_to(fd: RawFd, addr: &SocketAddr) -> io::Result<()> {
        // SAFETY: as in `bind_listen`; a blocking connect on our own descriptor.
        with_sockaddr(addr, |p, len| check(unsafe { connect(fd, p, len) })).map(|_| ())
    }
}

/// Binds a listener at `addr` with the given options. Options the kernel refuses are
/// reported as [`OptionOutcome::Unsupported`]; only binding itself can fail.
pub fn listen(addr: SocketAddr, opts: ListenOptions) -> io::Result<Listener> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = linux::new_socket(&addr)?;
        let raw = fd.as_raw_fd();
        linux::set_int(raw, linux::SOL_SOCKET, linux::SO_REUSEADDR, 1)?;
        let reuse_port = if opts.reuse_port {
            outcome(linux::set_int(
                raw,
                linux::SOL_SOCKET,
                linux::SO_REUSEPORT,
                1,
            ))
        } else {
            OptionOutcome::NotRequested
        };
        if addr.is_ipv6() {
            // Keep an IPv6 listener IPv6-only so `[::]` and `0.0.0.0` can both bind.
            let _ = linux::set_int(
                raw, 41, /* IPPROTO_IPV6 */
                26, /* IPV6_V6ONLY */
                1,
            );
        }
        let fast_open = match opts.fast_open {
            Some(q) => outcome(linux::set_int(
                raw,
                linux::IPPROTO_TCP,
                linux::TCP_FASTOPEN,
                q,
            )),
            None => OptionOutcome::NotRequested,
        };
        linux::bind_listen(raw, &addr, opts.backlog)?;
        Ok(Listener {
            listener: TcpListener::from(fd),
            fast_open,
            reuse_port,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let listener = TcpListener::bind(addr)?;
        let refused = |asked: bool| {
            if asked {
                OptionOutcome::Unsupported
            } else {
                OptionOutcome::NotRequested
            }
        };
        Ok(Listener {
            listener,
            fast_open: refused(opts.fast_open.is_some()),
            reuse_port: refused(opts.reuse_port),
        })
    }
}

/// Connects to `addr` with `TCP_NODELAY`, optionally with TCP Fast Open: the kernel
/// then sends the first write in the SYN when it holds a cookie for the server, and
/// connect returns before the handshake. Falls back to a plain connect (with
/// `timeout`) when TFO is off or refused.
pub fn connect(
    addr: SocketAddr,
    fast_open: bool,
    timeout: Option<Duration>,
) -> io::Result<Connected> {
    #[cfg(target_os = "linux")]
    if fast_open {
        use std::os::fd::AsRawFd;
        let fd = linux::new_socket(&addr)?;
        let raw = fd.as_raw_fd();
        if linux::set_int(raw, linux::IPPROTO_TCP, linux::TCP_FASTOPEN_CONNECT, 1).is_ok() {
            linux::set_int(raw, linux::IPPROTO_TCP, linux::TCP_NODELAY, 1)?;
            linux::connect_to(raw, &addr)?;
            return Ok(Connected {
                stream: TcpStream::from(fd),
                fast_open: OptionOutcome::Enabled,
            });
        }
    }
    let stream = match timeout {
        Some(t) => TcpStream::connect_timeout(&addr, t.max(Duration::from_millis(1)))?,
        None => TcpStream::connect(addr)?,
    };
    stream.set_nodelay(true)?;
    let fast_open = if fast_open {
        OptionOutcome::Unsupported
    } else {
        OptionOutcome::NotRequested
    };
    Ok(Connected { stream, fast_open })
}

/// Readiness reported by [`wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Readable (data, EOF, or an error to collect by reading).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
}

/// Waits until `stream` is readable (if `read`) or writable (if `write`), or until
/// `timeout` passes (`None` = forever). A timeout returns no readiness. On platforms
/// without `poll(2)` this sleeps at most 1 ms and reports both as ready, which the
/// non-blocking I/O that follows turns into `WouldBlock` where they were not.
pub fn wait(
    stream: &TcpStream,
    read: bool,
    write: bool,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        wait_raw(stream.as_raw_fd(), read, write, timeout)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        fallback_wait(read, write, timeout)
    }
}

/// Waits until `listener` has a connection to accept, or `timeout` passes.
pub fn wait_listener(listener: &TcpListener, timeout: Option<Duration>) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        Ok(wait_raw(listener.as_raw_fd(), true, false, timeout)?.readable)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = listener;
        Ok(fallback_wait(true, false, timeout)?.readable)
    }
}

#[cfg(not(target_os = "linux"))]
fn fallback_wait(read: bool, write: bool, timeout: Option<Duration>) -> io::Result<Readiness> {
    std::thread::sleep(
        timeout
            .unwrap_or(Duration::from_millis(1))
            .min(Duration::from_millis(1)),
    );
    Ok(Readiness {
        readable: read,
        writable: write,
    })
}

#[cfg(target_os = "linux")]
fn wait_raw(
    fd: std::os::fd::RawFd,
    read: bool,
    write: bool,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    let mut events = 0;
    if read {
        events |= linux::POLLIN;
    }
    if write {
        events |= linux::POLLOUT;
    }
    let ms = match timeout {
        None => -1,
        // Round up so a 0.4 ms wait does not spin.
        Some(t) => i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
    };
    let rev = linux::poll_one(fd, events, ms)?;
    let broken = rev & (linux::POLLERR | linux::POLLHUP) != 0;
    Ok(Readiness {
        readable: read && (rev & linux::POLLIN != 0 || broken),
        writable: write && (rev & linux::POLLOUT != 0 || broken),
    })
}

#[cfg(target_os = "linux")]
fn outcome(r: io::Result<()>) -> OptionOutcome {
    match r {
        Ok(()) => OptionOutcome::Enabled,
        Err(_) => OptionOutcome::Unsupported,
    }
}

/// TCP Fast Open counters from `/proc/net/netstat` (Linux): `(name, value)` pairs
/// of the `TcpExt` fields whose names start with `TCPFastOpen`. Empty elsewhere.
pub fn fast_open_counters() -> Vec<(String, u64)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/netstat") else {
        return Vec::new();
    };
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if names.starts_with("TcpExt:") && values.starts_with("TcpExt:") {
            return names
                .split_whitespace()
                .zip(values.split_whitespace())
                .skip(1)
                .filter(|(n, _)| n.starts_with("TCPFastOpen"))
                .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
                .collect();
        }
    }
    Vec::new()
}

/// The system-wide `net.ipv4.tcp_fastopen` setting (Linux): bit 1 client, bit 2 server.
pub fn fast_open_sysctl() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_fastopen")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Hands free heap pages back to the kernel (glibc's `malloc_trim(0)`), so that
/// memory a server freed — say, the buffers of connections gone idle — leaves its
/// resident set instead of waiting in the allocator. Returns whether the allocator
/// released anything; always `false` where that call does not exist (other C
/// libraries, other systems), where the allocator keeps what it frees.
pub fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> core::ffi::c_int;
        }
        // SAFETY: malloc_trim takes a plain integer and only walks the allocator's
        // own free lists under its lock; it invalidates no live allocation.
        unsafe { malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
