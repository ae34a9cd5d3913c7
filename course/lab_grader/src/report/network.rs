//! Where the Part 2 and Part 5 experiments run, and how their segments are
//! counted: across the [`SimPath`] when it can be built (root, `ip`, a TUN
//! device), with the `lab_server` executable in the server namespace and
//! the client in the client namespace, both by `ip netns exec`; otherwise
//! on loopback against an in-process `lab_server`, whose kernel counts the
//! data segments it sent (`TCP_INFO`'s `tcpi_data_segs_out`), and the
//! report says why and what that changes.
//!
//! Every `lab_server` setting the answers depend on is given explicitly
//! (messages, first index, flood size, frames, ports), so that a change of
//! its defaults cannot change the report.

use super::path::{self, SimPath};
use super::{FLOOD_BYTES, MESSAGES, RUN_LIMIT, failure};
use crate::proc::{self, Finished, Running};
use anyhow::{Context, anyhow, bail};
use lab_server::{ConnectionRecord, LabServer, Service, WsFrames};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The PMU ports inside the server namespace: the course's.
const TCP_PORT: u16 = 5003;
const WS_PORT: u16 = 5006;

/// What the server sent on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Segments with a payload.
    pub data: u64,
    /// Every segment, the SYN-ACK, bare ACKs and the FIN included.
    pub all: u64,
    /// On the path the largest payload seen (the MSS, for a flood); on
    /// loopback the send MSS (`tcpi_snd_mss`).
    pub mss: u64,
}

/// Where the experiments run.
#[derive(Debug)]
pub enum Network {
    /// Across the simulated path. `server` is declared first so that it
    /// is killed before the namespaces are deleted.
    Path { server: Running, path: SimPath },
    /// On loopback, and why not across the path.
    Loopback { lab: LabServer, why: String },
}

/// `lab_server` in `bin_dir`, or beside this executable.
fn lab_server_exe(bin_dir: &Path) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("lab_server")));
    [Some(bin_dir.join("lab_server")), beside]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// The arguments of `lab_server` for the path: the PMUs only, on the
/// server's address, with every setting the report relies on.
pub fn server_args() -> Vec<String> {
    [
        "--bind",
        &path::SERVER.to_string(),
        "--only",
        "tcp,ws",
        "--tcp-port",
        &TCP_PORT.to_string(),
        "--ws-port",
        &WS_PORT.to_string(),
        "--messages",
        &MESSAGES.to_string(),
        "--first-index",
        "0",
        "--flood-bytes",
        &FLOOD_BYTES.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Network {
    /// The path with `lab_server` running in it, or loopback and why.
    pub fn start(bin_dir: &Path) -> anyhow::Result<Network> {
        let why = match (SimPath::build(), lab_server_exe(bin_dir)) {
            (Ok(path), Some(exe)) => return Network::on_path(path, &exe),
            (Ok(_), None) => format!(
                "there is no lab_server executable in {} or beside lab_grader to run in the \
                 server namespace (make build)",
                bin_dir.display()
            ),
            (Err(why), _) => why,
        };
        Network::loopback(why)
    }

    /// Loopback, saying `why` in the report.
    pub fn loopback(why: String) -> anyhow::Result<Network> {
        let lab = crate::checks::lab_server(|c| {
            c.tcp_port = Some(0);
            c.ws_port = Some(0);
            c.messages = MESSAGES;
            c.first_index = 0;
            c.flood_bytes = FLOOD_BYTES;
            c.ws_frames = WsFrames::Binary;
            c.log = false;
        })
        .map_err(|why| anyhow!(why))?;
        Ok(Network::Loopback { lab, why })
    }

    fn on_path(path: SimPath, exe: &Path) -> anyhow::Result<Network> {
        let (ip, mut args) = path.exec_in(&path.server_ns);
        args.push(exe.display().to_string());
        args.extend(server_args());
        let mut server = proc::spawn(&ip, &args, None).map_err(|why| anyhow!(why))?;
        // Ready when both PMUs accept a connection from the client's side,
        // through the delay line.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if !server.is_running() {
                let run = server
                    .finish(Instant::now() + Duration::from_secs(1), 1 << 16)
                    .map_err(|why| anyhow!(why))?;
                return Err(failure(&format!("lab_server in {}", path.server_ns), &run));
            }
            let probe = in_client(&path, |addr| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map(drop)
            });
            match probe {
                Ok(()) => break,
                Err(err) if Instant::now() >= deadline => {
                    bail!(
                        "lab_server in {} did not accept connections from {} within 15 s ({err}); \
                         its stderr: {}",
                        path.server_ns,
                        path.client_ns,
                        super::stderr_text(&server.stderr())
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        Ok(Network::Path { server, path })
    }

    /// Whether the experiments run across the simulated path.
    pub fn is_path(&self) -> bool {
        matches!(self, Network::Path { .. })
    }

    /// `--host H --port P` for `part2_pdc`.
    pub fn pdc_target(&self) -> Vec<String> {
        let (host, port) = match self {
            Network::Path { .. } => (path::SERVER.to_string(), TCP_PORT),
            Network::Loopback { lab, .. } => ("localhost".to_string(), lab.tcp_port().unwrap_or(0)),
        };
        vec!["--host".into(), host, "--port".into(), port.to_string()]
    }

    /// The WebSocket PMU's URL for `part5_ws`.
    pub fn ws_url(&self) -> String {
        match self {
            Network::Path { .. } => format!("ws://[{}]:{WS_PORT}", path::SERVER),
            Network::Loopback { lab, .. } => {
                format!("ws://localhost:{}", lab.ws_port().unwrap_or(0))
            }
        }
    }

    /// Runs a client to completion, in the client namespace on the path;
    /// an error with its exit status and stderr unless it exits 0.
    pub fn run(&self, exe: &Path, args: &[String]) -> anyhow::Result<Finished> {
        let what = format!(
            "{} {}",
            exe.file_name().unwrap_or_default().to_string_lossy(),
            args.join(" ")
        );
        let (program, all) = match self {
            Network::Path { path, .. } => {
                let (ip, mut all) = path.exec_in(&path.client_ns);
                all.push(exe.display().to_string());
                all.extend_from_slice(args);
                (ip, all)
            }
            Network::Loopback { .. } => (exe.to_path_buf(), args.to_vec()),
        };
        let run = proc::spawn(&program, &all, None)
            .and_then(|child| child.finish(Instant::now() + RUN_LIMIT, 64 << 20))
            .map_err(|why| anyhow!("{what}: {why}"))?;
        if !run.status.success() {
            return Err(failure(&what, &run));
        }
        Ok(run)
    }

    /// Runs `client` and counts what the server sent on the connection it
    /// made to `service`.
    pub fn measure(
        &self,
        service: Service,
        client: impl FnOnce() -> anyhow::Result<Finished>,
    ) -> anyhow::Result<(Finished, Counted)> {
        match self {
            Network::Path { path, .. } => {
                let line = path.line();
                line.watch(match service {
                    Service::WebSocketPmu => WS_PORT,
                    _ => TCP_PORT,
                });
                let run = client()?;
                // The data crossed before the client could exit; the last
                // ACK and FIN follow within a round trip or two.
                let c = line.settled(
                    Duration::from_millis(300),
                    Instant::now() + Duration::from_secs(3),
                );
                Ok((
                    run,
                    Counted {
                        data: c.data,
                        all: c.all,
                        mss: c.largest,
                    },
                ))
            }
            Network::Loopback { lab, .. } => {
                let before = lab.connections().len();
                let run = client()?;
                let record = record_after(lab, before, service)?;
                let c = record.counts.context(
                    "this system gives no TCP_INFO data segment count: run `make report` on Linux 4.6 or later (macOS and Windows have no such counter)",
                )?;
                Ok((
                    run,
                    Counted {
                        data: u64::from(c.data_segs_out),
                        all: u64::from(c.segs_out),
                        mss: u64::from(c.snd_mss),
                    },
                ))
            }
        }
    }
}

/// Runs `f` with the server's address and each PMU port in turn, on a
/// thread in the client namespace.
fn in_client(
    path: &SimPath,
    f: impl Fn(SocketAddr) -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    path::in_netns(&path.client_ns, move || {
        for port in [TCP_PORT, WS_PORT] {
            f(SocketAddr::from((path::SERVER, port)))?;
        }
        Ok(())
    })
}

/// The record of the connection a client just made: the server writes it
/// once the client has closed (or its linger ran out), a moment after the
/// client exits.
fn record_after(
    lab: &LabServer,
    before: usize,
    service: Service,
) -> anyhow::Result<ConnectionRecord> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let records = lab.connections();
        if let Some(record) = records.iter().skip(before).find(|r| r.service == service) {
            return Ok(record.clone());
        }
        if Instant::now() >= until {
            bail!("lab_server recorded no {service:?} connection within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_gets_every_setting_the_report_relies_on() {
        let args = server_args().join(" ");
        for flag in [
            "--messages 20",
            "--first-index 0",
            "--flood-bytes 57344",
            "--only tcp,ws",
            "--tcp-port 5003",
            "--ws-port 5006",
            "--bind fd6c:3a00:0:1::1",
        ] {
            assert!(args.contains(flag), "{flag} missing from {args}");
        }
    }
}
