//! cbc_msg's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod client_faults;
mod concurrency;
mod cross_check;
mod delivery;
mod errors;
mod hostile_length;
#[cfg(target_os = "linux")] // reads the usage from /proc
mod hostile_load;
mod hostile_peers;
mod keygen;
mod nist_vectors;
mod round_trip;
mod tampering;
mod util;
