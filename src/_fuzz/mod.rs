//! Bodies of the fuzz targets. Always compiled so `cargo test` on stable replays each
//! corpus through exactly what the fuzzer runs (`fuzz/fuzz_targets/*.rs` are
//! one-liners into these functions). Not part of the public API.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

mod client;
mod server;
mod wire;

pub use client::client_ops;
pub use server::server_ops;
pub use wire::{builder_roundtrip, frame_decoder, message_parse, rebuild, same_content};
