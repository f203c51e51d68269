//! The interop test binary: real DNS software on loopback.
//!
//! - [`peers`]: BIND, Unbound, Knot and NSD started from generated configs, plus a
//!   raw-socket probe built on `dnstcp::wire` and `dnstcp::frame`.
//! - [`tools`]: kdig, dig, getdns_query and dnsperf runners and output parsers.
//! - [`timewait`]: TIME_WAIT counts per side from `/proc/net/tcp{,6}`.
//!
//! Every test that needs a peer or a tool is `#[ignore = "needs ..."]`, so a bare
//! `cargo test` passes on a machine without them; `.ci/run` installs them and runs
//! `cargo test -- --include-ignored`. Set `DNSTCP_KEEP_PEER_DIRS=1` to keep each
//! peer's temp dir (config, zone copy, `daemon.log`) for a post-mortem.

#![allow(unreachable_pub, dead_code)]

mod halfclose;
mod ixfr;
mod load;
mod ours;
mod ours_vs_peers;
mod peers;
mod peers_vs_ours;
mod timewait;
mod tools;

use peers::{Observation, PeerKind};

/// All four peers observed side by side (in parallel), the table printed to stderr
/// and written to `$CARGO_TARGET_TMPDIR/interop-observations.md`.
#[test]
#[ignore = "needs bind9, unbound, knot, nsd and kdig (installed by .ci/run)"]
fn observation_table() {
    let handles: Vec<_> = PeerKind::ALL
        .into_iter()
        .map(|k| std::thread::spawn(move || peers::observe(k)))
        .collect();
    let obs: Vec<Observation> = handles
        .into_iter()
        .map(|h| h.join().expect("observation thread"))
        .collect();
    let table = peers::table(&obs);
    eprintln!("\n{table}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-observations.md");
    std::fs::write(&path, &table).expect("writing the observation table");
    for o in &obs {
        peers::assert_observation(o);
    }
}
