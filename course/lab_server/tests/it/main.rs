//! lab_server's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod hostile_clients;
mod tcp_info;
mod tcp_pmu;
mod tv_channel;
mod udp_reset;
mod ws_pmu;
