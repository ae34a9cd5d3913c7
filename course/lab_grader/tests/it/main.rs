//! lab_grader's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

// The stand-in executables are shell scripts, the hand-ins get Unix modes: Unix only.
#![cfg(unix)]

mod broken_pdc;
mod broken_reset;
mod broken_sender;
mod broken_tls_server;
mod course_mode;
mod missing_and_skipped;
mod our_binaries;
mod report_path;
mod submission;
mod util;
