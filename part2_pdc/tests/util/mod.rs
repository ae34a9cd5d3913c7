//! Helpers shared by the PDC's integration tests: run the real binary with
//! a time limit, and start servers on loopback.

#![allow(dead_code)] // each test file uses its own subset

use lab_server::{Config, LabServer};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_part2_pdc");

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Kills the child when a test fails or times out.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs part2_pdc with `args`; fails the test if it takes over `limit`.
pub fn pdc(args: &[&str], limit: Duration) -> Run {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning part2_pdc");
    finish(KillOnDrop(child), limit)
}

/// Collects a spawned child's output, killing it past `limit`.
pub fn finish(mut child: KillOnDrop, limit: Duration) -> Run {
    let out = child.0.stdout.take();
    let err = child.0.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        out.map_or(Ok(0), |mut out| out.read_to_end(&mut buf))
            .map(|_| buf)
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        err.map_or(Ok(0), |mut err| err.read_to_string(&mut buf))
            .map(|_| buf)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "part2_pdc did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: out_reader.join().unwrap().unwrap(),
        stderr: err_reader.join().unwrap().unwrap(),
    }
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
