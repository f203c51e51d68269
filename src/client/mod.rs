//! The client connection machine (RFC 7766). Work in progress.
#![forbid(unsafe_code)]
