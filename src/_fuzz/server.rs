//! Operation-sequence fuzzing of the server connection machine.

/// Drives a server connection with operations decoded from `data`.
pub fn server_ops(data: &[u8]) {
    let _ = data;
}
