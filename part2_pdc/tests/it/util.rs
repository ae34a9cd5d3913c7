//! Helpers shared by the PDC's integration tests: run the real binary with
//! a time limit (see `testkit`), and start servers on loopback.

use lab_server::{Config, LabServer};
use std::time::Duration;

pub use testkit::Output as Run;

pub const BIN: &str = env!("CARGO_BIN_EXE_part2_pdc");

/// Runs part2_pdc with `args`; fails the test if it takes over `limit`.
pub fn pdc(args: &[&str], limit: Duration) -> Run {
    testkit::run_within(BIN, args, limit)
}

/// A TCP PMU on 127.0.0.1 and ::1, changed by `tweak`.
pub fn server(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config::ephemeral();
    config.udp_port = None;
    tweak(&mut config);
    LabServer::start(config).expect("starting lab_server")
}

/// The lines `CMD_short` prints for `n` messages from `first`.
pub fn pmu_lines(first: u64, n: u64) -> String {
    (first..first + n)
        .map(|i| format!("This is PMU data {i}\n"))
        .collect()
}
