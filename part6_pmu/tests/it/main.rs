//! part6_pmu's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod client_faults;
mod floodme;
#[cfg(target_os = "linux")] // reads the usage from /proc
mod hostile_clients;
mod keylog;
mod mutual_tls;
mod openssl_interop;
mod python_grader;
mod serve;
mod startup;
mod timeouts;
mod util;
mod verification;
