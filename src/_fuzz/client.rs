//! Operation-sequence fuzzing of the client connection machine.

/// Drives a client connection with operations decoded from `data`.
pub fn client_ops(data: &[u8]) {
    let _ = data;
}
