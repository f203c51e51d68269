//! dnstcp on a bare-metal target: no std, no allocator, no linker script.
//!
//! This crate is a `staticlib` for `thumbv7em-none-eabihf` (Cortex-M4F/M7F).
//! CI builds it in release mode (`opt-level = "s"`, LTO, `panic = "abort"`)
//! for two reasons: to prove that the dnstcp core compiles and links without
//! `std`, and to measure how much `.text` a firmware image pays for it. The
//! exported [`dnstcp_demo`] keeps the code alive, so LTO cannot drop it.
//!
//! All storage is a local array on the stack, owned by the caller, as the
//! dnstcp design asks. There is no `static mut` and no allocator.
//!
//! ```sh
//! cd examples/no_std
//! cargo build --release --features client,server   # target comes from .cargo/config.toml
//! ```
//!
//! The `client` and `server` features each switch on one half of the demo, so
//! the size of either machine can be measured on its own.

#![no_std]
#![no_main]

use dnstcp::{frame, wire};

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// `www.example.test. IN A` with RD set and ID 0x1a2b: the question of
/// `tests/data/messages/query_a.bin`, without the OPT record.
const QUERY: [u8; 34] = [
    0x1a, 0x2b, // ID
    0x01, 0x00, // flags: RD
    0x00, 0x01, // QDCOUNT
    0x00, 0x00, // ANCOUNT
    0x00, 0x00, // NSCOUNT
    0x00, 0x00, // ARCOUNT
    3, b'w', b'w', b'w', // label "www"
    7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // label "example"
    4, b't', b'e', b's', b't', // label "test"
    0x00, // root label
    0x00, 0x01, // QTYPE A
    0x00, 0x01, // QCLASS IN
];

/// Size of each stack buffer. A firmware image would size these from its own
/// limits (the largest message it expects, plus the 2-byte length prefix).
const BUF_LEN: usize = 1024;

/// Error codes returned by [`dnstcp_demo`]. A DNS ID fits in the low 16 bits,
/// so these values sit above that range.
const ERR_FRAME: u32 = 0x1_0000;
const ERR_PARSE: u32 = 0x2_0000;
const ERR_ID: u32 = 0x3_0000;

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// Frame a query the way it goes onto a TCP stream, parse it back out of the
/// frame, and return its DNS ID. Any other result is an `ERR_*` code.
///
/// Firmware would call this from its own `main`. Here its only job is to be
/// an exported symbol, so the linker keeps the dnstcp code it reaches.
#[unsafe(no_mangle)]
pub extern "C" fn dnstcp_demo() -> u32 {
    // black_box stops the optimiser from working out the answer at compile
    // time. Otherwise the .text measurement would show almost nothing.
    let query = core::hint::black_box(QUERY);
    let mut tx = [0u8; BUF_LEN];

    // Length prefix and message go into one contiguous buffer (RFC 7766 §8),
    // so a single socket write carries both. `n` counts the prefix too.
    let n = match frame::encode(&query, &mut tx) {
        Ok(n) => n,
        Err(_) => return ERR_FRAME,
    };
    let Some(body) = tx.get(2..n) else {
        return ERR_FRAME;
    };
    let id = match wire::Message::new(body) {
        Ok(msg) => msg.id(),
        Err(_) => return ERR_PARSE,
    };
    if id != 0x1a2b {
        return ERR_ID;
    }

    let result = u32::from(id);

    // The server half reads the frame in `tx`, so it runs before the client
    // half reuses `tx`.
    #[cfg(feature = "server")]
    let result = {
        let mut rx = [0u8; BUF_LEN];
        result | server_half(&tx[..n], &mut rx)
    };

    #[cfg(feature = "client")]
    let result = {
        let mut rx = [0u8; BUF_LEN];
        result | client_half(&query, &mut rx, &mut tx)
    };

    result
}

// ---------------------------------------------------------------------------
// Client half (feature "client")
// ---------------------------------------------------------------------------

/// Returns 0 on success or an `ERR_*` code.
#[cfg(feature = "client")]
fn client_half(query: &[u8], rx: &mut [u8; BUF_LEN], tx: &mut [u8; BUF_LEN]) -> u32 {
    use dnstcp::client::{Config, Connection, Event};
    use dnstcp::time::Instant;

    let t0 = Instant::from_millis(core::hint::black_box(1));
    // Eight queries in flight at most: the embedded configuration measured by
    // benches/footprint.sh.
    let mut c: Connection<&mut [u8], 8> =
        Connection::new(Config::default(), &mut rx[..], &mut tx[..], 0x5eed, t0);
    let Ok(handle) = c.send(t0, query) else {
        return ERR_FRAME;
    };
    // The framed query as it would go onto the socket; the machine chose a fresh ID.
    let mut wire = [0u8; 64];
    let Some(out) = c.poll_transmit() else {
        return ERR_FRAME;
    };
    let n = out.len();
    let Some(dst) = wire.get_mut(..n) else {
        return ERR_FRAME;
    };
    dst.copy_from_slice(out);
    c.advance_transmit(t0, n);
    // Answer it like a server would: same frame, QR set.
    if let Some(flags) = wire.get_mut(4) {
        *flags |= 0x80;
    }
    let mut fed = 0;
    while fed < n {
        let buf = c.read_buf();
        let k = buf.len().min(n - fed);
        if k == 0 {
            return ERR_FRAME;
        }
        buf[..k].copy_from_slice(&wire[fed..fed + k]);
        c.commit_read(t0, k);
        fed += k;
    }
    while let Some(ev) = c.poll_event() {
        if let Event::Response { handle: h, message } = ev {
            return if h == handle && message.qr() {
                0
            } else {
                ERR_ID
            };
        }
    }
    ERR_PARSE
}

// ---------------------------------------------------------------------------
// Server half (feature "server")
// ---------------------------------------------------------------------------

/// `framed` is the query with its length prefix, as read from a socket.
/// Returns 0 on success or an `ERR_*` code.
#[cfg(feature = "server")]
fn server_half(framed: &[u8], rx: &mut [u8; BUF_LEN]) -> u32 {
    use dnstcp::server::{Config, Connection};
    use dnstcp::time::Instant;
    use dnstcp::wire::Builder;

    let t0 = Instant::from_millis(core::hint::black_box(1));
    let mut txbuf = [0u8; BUF_LEN];
    // Eight pending queries at most, as in the client.
    let mut c: Connection<&mut [u8], 8> =
        Connection::new(Config::default(), &mut rx[..], &mut txbuf[..], t0);
    if c.handle_read(t0, framed) != framed.len() {
        return ERR_FRAME;
    }
    // Echo the question with QR set, built in place in the transmit buffer.
    match c.answer_next(t0, |q, out| Builder::response_to(out, q).finish()) {
        Some(Ok(_)) => {}
        _ => return ERR_PARSE,
    }
    let Some(out) = c.poll_transmit() else {
        return ERR_FRAME;
    };
    let id = match out.get(2..).map(wire::Message::new) {
        Some(Ok(m)) if m.qr() => m.id(),
        _ => return ERR_PARSE,
    };
    let n = out.len();
    c.advance_transmit(t0, n);
    let ok = id == 0x1a2b && c.poll_transmit().is_none();
    if ok { 0 } else { ERR_ID }
}

// ---------------------------------------------------------------------------
// Footprint probes (benches/footprint.sh reads their sizes with llvm-nm -S)
// ---------------------------------------------------------------------------

/// Zero bytes as long as a client machine with 8 in flight over borrowed
/// storage: the machine state on this target, without the buffers.
#[cfg(feature = "client")]
#[unsafe(no_mangle)]
#[used]
pub static DNSTCP_SIZEOF_CLIENT: [u8; core::mem::size_of::<
    dnstcp::client::Connection<&'static mut [u8], 8>,
>()] = [0; core::mem::size_of::<dnstcp::client::Connection<&'static mut [u8], 8>>()];

/// Zero bytes as long as a server machine with 8 pending over borrowed storage.
#[cfg(feature = "server")]
#[unsafe(no_mangle)]
#[used]
pub static DNSTCP_SIZEOF_SERVER: [u8; core::mem::size_of::<
    dnstcp::server::Connection<&'static mut [u8], 8>,
>()] = [0; core::mem::size_of::<dnstcp::server::Connection<&'static mut [u8], 8>>()];

// ---------------------------------------------------------------------------
// Panic handler
// ---------------------------------------------------------------------------

/// dnstcp is designed so that hostile input never panics (see `wire` docs),
/// so a panic here is a bug. Firmware would reset; the demo just parks the
/// core.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
