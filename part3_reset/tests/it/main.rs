//! part3_reset's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

#[cfg(target_os = "linux")] // reads the usage from /proc
mod datagram_flood;
mod errors;
mod family_flags;
mod fast_reply;
mod forged_reply;
mod ignored_replies;
mod ipv6_unavailable;
mod late_reply;
mod lossy_server;
mod max_tries;
mod offset_forms;
mod util;
