//! std adapters: blocking client and server, a poll-loop driver, socket options. Work in progress.
