//! part1_echo's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod errors;
mod q6_recv_counts;
mod server_survives_bad_clients;
mod tcp_echo;
mod udp_send_recv;
mod util;
