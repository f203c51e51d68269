//! Owned storage for no_std users (feature `heapless`).
//!
//! The machines take any `B: AsMut<[u8]> + AsRef<[u8]>` as buffer storage. A plain
//! `[u8; N]` works everywhere; this module adds `heapless::Vec` storage, zero-filled
//! to its capacity, for code that already keeps its buffers in `heapless` types,
//! and type aliases for connections owning such storage. `heapless` never appears
//! in the machines' own signatures.
#![forbid(unsafe_code)]

/// A `heapless::Vec` usable as connection storage: its length is its capacity.
pub type Buffer<const N: usize> = heapless::Vec<u8, N>;

/// A zero-filled buffer of `N` bytes.
#[must_use]
pub fn buffer<const N: usize>() -> Buffer<N> {
    let mut v = Buffer::<N>::new();
    // Cannot fail: the length equals the capacity.
    let _ = v.resize_default(N);
    v
}

/// A client connection owning `heapless` buffers of `BUF` bytes and `SLOTS`
/// in-flight slots.
pub type ClientConnection<const BUF: usize, const SLOTS: usize> =
    crate::client::Connection<Buffer<BUF>, SLOTS>;

/// A server connection owning `heapless` buffers of `BUF` bytes and `PENDING`
/// pending-query slots.
pub type ServerConnection<const BUF: usize, const PENDING: usize> =
    crate::server::Connection<Buffer<BUF>, PENDING>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    #[test]
    fn heapless_storage_drives_both_machines() {
        let b: Buffer<64> = buffer();
        assert_eq!(b.len(), 64);
        let mut server: ServerConnection<512, 4> = crate::server::Connection::new(
            crate::server::Config::default(),
            buffer(),
            buffer(),
            Instant::ZERO,
        );
        let mut client: ClientConnection<512, 4> = crate::client::Connection::new(
            crate::client::Config::default(),
            buffer(),
            buffer(),
            7,
            Instant::ZERO,
        );
        let name = crate::wire::NameBuf::from_presentation("a.test")
            .unwrap_or(crate::wire::NameBuf::root());
        let h = client.send_question(
            Instant::ZERO,
            &name.as_name(),
            crate::wire::Rtype::A,
            crate::wire::Class::In,
            crate::client::QueryOptions::default(),
        );
        assert!(h.is_ok());
        let q = client.poll_transmit().map(<[u8]>::len).unwrap_or(0);
        assert!(q > 14);
        let mut copy = [0u8; 512];
        copy[..q].copy_from_slice(client.poll_transmit().unwrap_or(&[]));
        client.advance_transmit(Instant::ZERO, q);
        assert_eq!(server.handle_read(Instant::ZERO, &copy[..q]), q);
        let answered = server.answer_next(Instant::ZERO, |query, out| {
            let mut b = crate::wire::Builder::response_to(out, query);
            b.header_mut().set_aa(true);
            b.finish()
        });
        assert!(matches!(answered, Some(Ok(_))));
        let r = server.poll_transmit().map(<[u8]>::len).unwrap_or(0);
        let mut resp = [0u8; 512];
        resp[..r].copy_from_slice(server.poll_transmit().unwrap_or(&[]));
        assert_eq!(client.handle_read(Instant::ZERO, &resp[..r]), r);
        assert!(matches!(
            client.poll_event(),
            Some(crate::client::Event::Response { .. })
        ));
    }
}
