//! The mutual-TLS time and command service (docs/SPEC.md, "Secure command
//! service"), as a library so that tests, and a fuzz target of the request
//! parser, can use its parts without a socket.
//!
//! The layers, bottom up:
//! - [`protocol`]: the greeting, request lines and answers, as bytes;
//! - [`exec`]: running one command without a shell, under a time-out and
//!   an output cap, stdout and stderr in one pipe;
//! - [`policy`]: the allow-list, each command's program resolved at
//!   start-up and its argument policy;
//! - [`sandbox`]: the environment, folder, limits and user a command runs
//!   with (the child's `unsafe` code, in one module);
//! - [`log`]: the server's log file (escaped, cut, rate-limited, never
//!   blocking), one whole line per `write()`;
//! - [`server`] and [`client`]: the two ends, over `tls_common`'s
//!   certificates, rustls settings and blocking `TlsSocket`.

pub mod client;
pub mod log;
pub mod policy;
pub mod protocol;
// The server's side: process groups, rlimits and user switching are
// Unix's; on Windows the server says it cannot run there,
// and the client works.
#[cfg(unix)]
pub mod exec;
#[cfg(unix)]
pub mod sandbox;
#[cfg(unix)]
pub mod server;

/// One line `secure_cmd: …` on stderr in a single `write()`: Rust's stderr
/// is unbuffered and `eprintln!` may write a line in pieces, between which
/// another thread's line (or another program's, on the same terminal) can
/// slip.
pub fn say(line: std::fmt::Arguments<'_>) {
    common::cli::eprint_line(format_args!("secure_cmd: {line}"));
}
