//! IXFR (RFC 1995) through our blocking client against Knot, which keeps a journal
//! of the zone's changes: the transfer iterator ends exactly where each kind of
//! answer ends (X1), with no timeout and no caller help.

use std::process::Command;
use std::time::Duration;

use dnstcp::io::blocking::{Client, ClientConfig};
use dnstcp::wire::{Message, NameBuf, RData, Rtype};

use crate::peers::{Peer, PeerKind, PeerOptions, find_binary};

/// The bundled zone's serial.
const SERIAL: u32 = 2024060101;

/// Every answer record of a transfer, as (type, SOA serial), and the number of
/// messages.
fn transfer(client: &mut Client, serial: u32) -> (Vec<(Rtype, Option<u32>)>, usize) {
    let zone: NameBuf = "example.test".parse().unwrap();
    let mut records = Vec::new();
    let mut messages = 0;
    for m in client.ixfr(&zone, serial).expect("ixfr sent") {
        let m = m.expect("transfer message");
        messages += 1;
        let msg = Message::new(&m.bytes).unwrap();
        for r in msg.answers().unwrap() {
            let r = r.unwrap();
            let serial = match r.data().unwrap() {
                RData::Soa { serial, .. } => Some(serial),
                _ => None,
            };
            records.push((r.rtype(), serial));
        }
    }
    (records, messages)
}

#[test]
#[ignore = "needs knot (installed by .ci/run)"]
fn x1_ixfr_against_knot_ends_by_itself() {
    let options = PeerOptions {
        journal: true,
        ..PeerOptions::default()
    };
    let knot = Peer::start_with(PeerKind::Knot, options).expect("knot starts");
    // One change: a new serial and one more address record, picked up by a reload
    // that computes the difference from the zone file.
    let path = knot.dir().join("example.test.zone");
    let zone = std::fs::read_to_string(&path).unwrap();
    let changed = zone.replacen(&SERIAL.to_string(), &(SERIAL + 1).to_string(), 1)
        + "ixfr-added 300 IN A 192.0.2.201\n";
    std::fs::write(&path, changed).unwrap();
    let knotc = find_binary("knotc").expect("knotc installed with knot");
    let out = Command::new(knotc)
        .arg("-c")
        .arg(knot.dir().join("knot.conf"))
        .args(["zone-reload", "example.test."])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut client = Client::new(
        knot.addr(),
        ClientConfig {
            query_timeout: Duration::from_secs(5),
            ..ClientConfig::default()
        },
    );
    // Wait for the reload to reach the served zone.
    let mut differences = (Vec::new(), 0);
    for _ in 0..50 {
        differences = transfer(&mut client, SERIAL);
        if differences.0.first() == Some(&(Rtype::Soa, Some(SERIAL + 1))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let soa = |s| (Rtype::Soa, Some(s));
    // Differences: new SOA, old SOA (nothing deleted), new SOA, the added record,
    // new SOA.
    assert_eq!(
        differences.0,
        [
            soa(SERIAL + 1),
            soa(SERIAL),
            soa(SERIAL + 1),
            (Rtype::A, None),
            soa(SERIAL + 1)
        ],
        "{differences:?}"
    );
    // Up to date: one SOA.
    let (current, messages) = transfer(&mut client, SERIAL + 1);
    assert_eq!((current, messages), (vec![soa(SERIAL + 1)], 1));
    // A serial the journal does not reach: the whole zone, SOA to SOA.
    let (full, _) = transfer(&mut client, SERIAL - 5);
    assert!(full.len() > 10, "{full:?}");
    assert_eq!(full.first(), Some(&soa(SERIAL + 1)));
    assert_eq!(full.last(), Some(&soa(SERIAL + 1)));
    assert_eq!(full.iter().filter(|r| r.0 == Rtype::Soa).count(), 2);
    // All three on one connection, none ended by a timeout.
    assert_eq!(client.stats().connections, 1);
}
