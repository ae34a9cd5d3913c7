//! secure_cmd's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod client;
mod client_faults;
mod concurrency;
mod hostile_clients;
mod limits;
mod log_file;
mod mutual_tls;
mod no_shell;
mod protocol;
mod util;
