//! secure_cmd's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod client;
mod client_faults;
mod concurrency;
mod hardening;
#[cfg(target_os = "linux")] // reads the usage from /proc
mod hostile_clients;
mod limits;
mod log_file;
mod mutual_tls;
mod no_shell;
mod protocol;
mod sandbox;
mod util;
