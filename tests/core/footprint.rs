//! Footprint of the connection machines for an embedded configuration (1 KiB
//! buffers, 8 in flight / pending): machine state without the caller's storage.
//! `cargo test --test core footprint -- --nocapture` prints the table; the assertion is
//! the target (server state within 2.5 KiB beside its buffers).

use core::mem::size_of;

type ServerRef = dnstcp::server::Connection<&'static mut [u8], 8>;
type ServerArr = dnstcp::server::Connection<[u8; 1024], 8>;
type ClientRef = dnstcp::client::Connection<&'static mut [u8], 8>;
type ClientArr = dnstcp::client::Connection<[u8; 1024], 8>;

#[test]
fn machine_sizes() {
    let s_ref = size_of::<ServerRef>();
    let s_arr = size_of::<ServerArr>();
    let c_ref = size_of::<ClientRef>();
    let c_arr = size_of::<ClientArr>();
    let slice = size_of::<&'static mut [u8]>();
    println!("footprint (host, {}-bit pointers):", usize::BITS);
    println!(
        "server::Connection<&mut [u8], 8>  {s_ref} B (two slice refs of {slice} B included; + 2048 B storage)"
    );
    println!(
        "server::Connection<[u8; 1024], 8> {s_arr} B total = {} B state + 2048 B storage",
        s_arr - 2048
    );
    println!(
        "client::Connection<&mut [u8], 8>  {c_ref} B (two slice refs included; + 2048 B storage)"
    );
    println!(
        "client::Connection<[u8; 1024], 8> {c_arr} B total = {} B state + 2048 B storage",
        c_arr - 2048
    );
    assert!(
        s_arr - 2048 <= 2560,
        "server state {} B over 2.5 KiB",
        s_arr - 2048
    );
    assert!(c_arr - 2048 <= 4096, "client state {} B", c_arr - 2048);
}
