//! AES-256-CBC + HMAC-SHA256 messages over TCP (docs/SPEC.md, "CBC messages"):
//! the codec as a library, so that tests and a fuzz target can drive it
//! without a socket, and the client and server that `cbc_msg` runs.
//!
//! The layers, bottom up:
//! - [`cbc`]: CBC chaining over the AES block cipher and PKCS#7 padding,
//!   with why each choice is made and what goes wrong without the MAC;
//! - [`key`]: the key file (128 hex digits: AES key, then HMAC key);
//! - [`frame`]: one message on the wire, length prefix, IV, ciphertext
//!   and tag; sealing, opening (tag first, in constant time) and reading
//!   from a stream under a 1 MiB cap;
//! - [`server`] and [`client`]: the two ends over TCP.

/// Prints one line on stderr in a single `write(2)`: Rust's stderr is
/// unbuffered, and `eprintln!` may write a line in several pieces, between
/// which the output of another program on the same terminal (the client
/// beside the server in `make demo`) can slip.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        common::cli::eprint_line(format_args!($($arg)*))
    };
}

pub mod cbc;
pub mod client;
pub mod frame;
pub mod key;
pub mod server;

pub use frame::{Rejected, open, parse, seal};
pub use key::Keys;
