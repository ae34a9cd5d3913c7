//! lab_server's integration tests, one test executable for the crate: each
//! module below checks one behaviour of the real binary.

mod admission;
#[cfg(target_os = "linux")] // reads the usage from /proc
mod hostile_clients;
#[cfg(target_os = "linux")] // TCP_INFO is Linux's
mod tcp_info;
mod tcp_pmu;
mod tv_channel;
mod udp_reset;
mod ws_pmu;
