//! Helpers shared by part6_pmu's integration tests: certificates made with
//! rcgen (or openssl where rcgen cannot, such as RSA-1024), the real binary
//! run with a time limit, and a server started on a loopback port 0.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_part6_pmu");

/// Enough for any single run of these tests on a loaded two-core machine.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A folder for one test's files, removed when the test ends.
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "part6-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A CA whose certificate is `<name>.crt`.
    pub fn ca(&self, name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).unwrap();
        let cert = self.write(&format!("{name}.crt"), issuer.pem());
        Ca { issuer, cert }
    }

    /// Runs openssl with `args` in this folder; panics on failure.
    pub fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .output()
            .expect("running openssl (is it installed?)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test certificate authority.
pub struct Ca {
    pub issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    /// Its certificate, PEM.
    pub cert: PathBuf,
}

/// A certificate and key written as `<name>.crt` and `<name>.key`.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// Signs `params` for `key` and writes both.
    pub fn sign(
        &self,
        dir: &TestDir,
        name: &str,
        params: rcgen::CertificateParams,
        key: &rcgen::KeyPair,
    ) -> Pair {
        let cert = params.signed_by(key, &self.issuer).unwrap();
        Pair {
            cert: dir.write(&format!("{name}.crt"), cert.pem()),
            key: dir.write(&format!("{name}.key"), key.serialize_pem()),
        }
    }

    /// A server certificate as `make test-cert` makes it: serverAuth, names
    /// localhost, 127.0.0.1 and ::1; `tweak` changes it.
    pub fn server(
        &self,
        dir: &TestDir,
        name: &str,
        tweak: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> Pair {
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "123456");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        tweak(&mut params);
        let key = rcgen::KeyPair::generate().unwrap();
        self.sign(dir, name, params, &key)
    }

    /// A client certificate with common name `cn` (clientAuth).
    pub fn client(&self, dir: &TestDir, name: &str, cn: &str) -> Pair {
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        self.sign(dir, name, params, &key)
    }
}

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

    /// Asserts a failure with exit status `code` and one error line that
    /// contains every needle.
    pub fn assert_error(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.status.code(), Some(code), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "one line: {}", self.stderr);
        assert!(
            self.stderr.starts_with("part6_pmu: error: "),
            "{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} in {}",
                self.stderr
            );
        }
    }
}

/// Kills the child when a test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program` with `args` and `stdin`; fails the test past `limit`.
pub fn run_program(program: &str, args: &[&str], stdin: &[u8], limit: Duration) -> Run {
    run_with_env(program, args, stdin, &[], limit)
}

/// [`run_program`] with extra environment variables.
pub fn run_with_env(
    program: &str,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
    limit: Duration,
) -> Run {
    let mut child = KillOnDrop(
        Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawning {program}: {err}")),
    );
    let mut input = child.0.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // The program may never read it (or close it late): write from a
    // thread, and keep the pipe open until the program ends, as a grader's
    // terminal would.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
        input
    });
    let run = finish(&mut child, limit);
    drop(writer.join());
    run
}

/// Runs part6_pmu with `args`; fails the test past `limit`.
pub fn part6(args: &[&str]) -> Run {
    run_program(BIN, args, b"", LIMIT)
}

/// Collects a spawned child's output, killing it past `limit`.
pub fn finish(child: &mut KillOnDrop, limit: Duration) -> Run {
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
        if Instant::now() >= deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            panic!("the program did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: out_reader.join().unwrap().unwrap(),
        stderr: err_reader.join().unwrap().unwrap(),
    }
}

/// A running `part6_pmu` server; killed when dropped.
pub struct Server {
    pub child: KillOnDrop,
    /// Where it listens, in the order of its `listening on` lines.
    pub addrs: Vec<SocketAddr>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `part6_pmu ARGS` and waits for a `listening on` line per
    /// `--listen` (two without any).
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let expected = args.iter().filter(|a| **a == "--listen").count().max(1);
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(args)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning part6_pmu"),
        );
        let stderr = child.0.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let thread_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("part6_pmu: listening on ") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                let mut log = thread_log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut addrs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while addrs.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(addr) => addrs.push(addr),
                Err(_) => panic!(
                    "the server did not start: {:?}\n{}",
                    child.0.try_wait(),
                    log.lock().unwrap()
                ),
            }
        }
        Server { child, addrs, log }
    }

    /// The port of the first listener.
    pub fn port(&self) -> String {
        self.addrs[0].port().to_string()
    }

    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; fails the test after 10 s.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared in the server's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A server on 127.0.0.1:0 with the usual test certificate, `extra` flags.
pub fn server_for(pair: &Pair, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--cert",
        pair.cert.to_str().unwrap(),
        "--key",
        pair.key.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The lines `CMD_short` prints for `n` messages from `first`.
pub fn pmu_lines(first: u64, n: u64) -> String {
    (first..first + n)
        .map(|i| format!("This is PMU data {i}\n"))
        .collect()
}

/// `pmu_lines` as the server sends them: no separator.
pub fn pmu_stream(first: u64, n: u64) -> String {
    pmu_lines(first, n).replace('\n', "")
}

/// Runs a Python 3 script with `args`.
pub fn python(script: &str, args: &[&str], limit: Duration) -> Run {
    let mut full = vec!["-c", script];
    full.extend_from_slice(args);
    run_program("python3", &full, b"", limit)
}
