//! Helpers shared by part5_ws's integration tests: run the real binary with
//! a time limit, start lab_server's WebSocket PMU on loopback, and start
//! the independent Python `websockets` server.

#![allow(dead_code)] // each test file uses its own subset

use lab_server::{Config, LabServer};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_part5_ws");

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

/// Runs part5_ws with `args`; fails the test if it takes over `limit`.
pub fn ws(args: &[&str], limit: Duration) -> Run {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning part5_ws");
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
            "part5_ws did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: out_reader.join().unwrap().unwrap(),
        stderr: err_reader.join().unwrap().unwrap(),
    }
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
    _child: KillOnDrop,
}

/// Starts the Python server on `host` (127.0.0.1 or ::1) with `args`.
pub fn python_server(host: &str, args: &[&str]) -> PythonServer {
    python_websockets();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/ws_server.py");
    let mut child = KillOnDrop(
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
/// and `::1` signed by it, made with the `openssl` command in a temporary
/// directory (removed on drop); a second, unrelated CA for the negative
/// tests.
pub struct Pki {
    dir: std::path::PathBuf,
}

impl Pki {
    pub fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("part5_ws-pki-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    &["req", "-x509"][..],
                    &ec,
                    &[
                        "-keyout",
                        &format!("{ca}.key"),
                        "-out",
                        &format!("{ca}.pem"),
                        "-days",
                        "2",
                        "-subj",
                        &format!("/CN=part5_ws test {ca}"),
                        "-addext",
                        "basicConstraints=critical,CA:TRUE",
                        "-addext",
                        "keyUsage=critical,keyCertSign,cRLSign",
                    ],
                ]
                .concat(),
            );
        }
        openssl(
            &dir,
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> &'static str {
        self.dir.join(name).to_str().unwrap().to_string().leak()
    }

    pub fn ca(&self) -> &'static str {
        self.path("ca.pem")
    }

    pub fn other_ca(&self) -> &'static str {
        self.path("other-ca.pem")
    }

    pub fn server_cert(&self) -> &'static str {
        self.path("server.pem")
    }

    pub fn server_key(&self) -> &'static str {
        self.path("server.key")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (needed to make the test certificates)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
