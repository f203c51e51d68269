//! The core test binary: one binary (link time on 2 cores matters), one module per
//! behaviour. Tests are named after the CHECKLIST IDs they prove.

#![allow(unreachable_pub)]

mod common;

mod adapters;
mod alloc;
mod cli;
mod client;
mod crosscheck;
mod footprint;
mod frame;
mod fuzz_replay;
mod hostile;
mod poll;
mod server;
mod sim;
mod sys;
mod wire;
mod zone;
