//! lab_grader's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod broken_pdc;
mod broken_reset;
mod broken_sender;
mod broken_tls_server;
mod missing_and_skipped;
mod our_binaries;
mod submission;
mod util;
