//! Helpers shared by part5_ws's integration tests: run the real binary with
//! a time limit (see `testkit`), start lab_server's WebSocket PMU on
//! loopback, and start the independent Python `websockets` server.

use lab_server::{Config, LabServer};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use testkit::Guard;
use testkit::pki::{Ca, Pair, TestDir};

pub use testkit::Output as Run;

pub const BIN: &str = env!("CARGO_BIN_EXE_part5_ws");

/// Runs part5_ws with `args`; fails the test if it takes over `limit`.
pub fn ws(args: &[&str], limit: Duration) -> Run {
    testkit::run_within(BIN, args, limit)
}

/// lab_server's WebSocket PMU on 127.0.0.1 and ::1, changed by `tweak`.
pub fn server(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config::ephemeral();
    config.tcp_port = None;
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

/// The bytes the Python peer sends for `flood:N`.
pub fn python_flood(len: usize) -> Vec<u8> {
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_\n"
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// Makes sure Python's `websockets` package can be imported, installing it
/// with pip the first time if it is missing. Panics, saying why, if it
/// cannot: these tests are the project's interoperability check and must
/// not pass silently without it.
pub fn python_websockets() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let import = || {
            Command::new("python3")
                .args(["-c", "import websockets.sync.server"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if import() {
            return Ok(());
        }
        eprintln!("installing Python's websockets package for the interoperability tests (pip)");
        let pip = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "websockets>=14"])
            .output()
            .map_err(|err| format!("running python3 -m pip: {err}"))?;
        if !pip.status.success() || !import() {
            return Err(format!(
                "python3 -m pip install websockets failed: {}",
                String::from_utf8_lossy(&pip.stderr)
            ));
        }
        Ok(())
    });
    if let Err(why) = ready {
        panic!("Python's websockets package is needed for the interoperability tests: {why}");
    }
}

/// The Python `websockets` server of `tests/peers/ws_server.py`, serving
/// until dropped.
pub struct PythonServer {
    pub port: u16,
    _child: Guard,
}

/// Starts the Python server on `host` (127.0.0.1 or ::1) with `args`.
pub fn python_server(host: &str, args: &[&str]) -> PythonServer {
    python_websockets();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ws_server.py");
    let mut child = Guard(
        Command::new("python3")
            .arg(script)
            .args(["--host", host])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning python3"),
    );
    // The port, read in a thread so that a peer that never prints it
    // fails the test instead of hanging it.
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the Python server did not print its port within 20 s");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the Python server printed {line:?}, not its port"));
    PythonServer {
        port,
        _child: child,
    }
}

/// A throw-away CA and a server certificate for `localhost`, `127.0.0.1`
/// and `::1` signed by it (`testkit::pki`), in a folder removed on drop; a
/// second, unrelated CA for the negative tests.
pub struct Pki {
    ca: Ca,
    other_ca: Ca,
    server: Pair,
    _dir: TestDir,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = TestDir::new_in(env!("CARGO_TARGET_TMPDIR"), &format!("part5_ws-pki-{tag}"));
        let ca = dir.ca("ca");
        let other_ca = dir.ca("other-ca");
        let server = ca.server(&dir, "server", |_| {});
        Pki {
            ca,
            other_ca,
            server,
            _dir: dir,
        }
    }

    pub fn ca(&self) -> &str {
        text(&self.ca.cert)
    }

    pub fn other_ca(&self) -> &str {
        text(&self.other_ca.cert)
    }

    pub fn server_cert(&self) -> &str {
        text(&self.server.cert)
    }

    pub fn server_key(&self) -> &str {
        text(&self.server.key)
    }
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The header of an unmasked frame, as a server sends it (RFC 6455 §5.2):
/// `first` is FIN and the opcode, then the payload's length.
pub fn frame_header(first: u8, len: u64) -> Vec<u8> {
    let mut h = vec![first];
    match len {
        0..=125 => h.push(len as u8),
        126..=65535 => {
            h.push(126);
            h.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            h.push(127);
            h.extend_from_slice(&len.to_be_bytes());
        }
    }
    h
}

/// An unmasked frame: [`frame_header`] and `payload`.
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame_header(first, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}
