//! An authoritative zone: RFC 1035 master files and answering (feature `std`). Work in progress.
#![forbid(unsafe_code)]
