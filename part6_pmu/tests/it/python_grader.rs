//! Python's `ssl` module used as the course's grader uses it: the CA
//! checked, no host-name check, IPv4 `localhost`, `CMD_short:0`, read until
//! the server closes, never close first.

use crate::util::{TestDir, python};
use std::time::Duration;

/// The grader, as far as the lab tells: argv = CA file, port, request.
/// Prints what it received to stdout and the TLS version to stderr.
const GRADER: &str = r#"
import socket, ssl, sys
ca, port, request = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # CERT_REQUIRED
ctx.load_verify_locations(ca)
ctx.check_hostname = False
if len(sys.argv) > 4:
    ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[4])
    ctx.minimum_version = ctx.maximum_version
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(("localhost", port))
tls = ctx.wrap_socket(sock)
tls.sendall(request.encode())
data = b""
while True:
    chunk = tls.recv(4096)   # raises SSLEOFError if the server skips close_notify
    if not chunk:
        break
    data += chunk
sys.stdout.buffer.write(data)
sys.stderr.write(tls.version() + "\n")
# Never closes first: by now the server has closed.
"#;

#[test]
fn the_grader_gets_cmd_short_0_and_a_close_notify() {
    let dir = TestDir::new("grader");
    let ca = dir.ca("ca");
    // The grader checks the CA only: a certificate without localhost passes.
    let pair = ca.server(&dir, "server", |p| p.subject_alt_names.clear());
    let server = crate::util::server_for(&pair, &["--messages", "10"]);
    let ca_path = ca.cert.to_str().unwrap();
    for version in [None, Some("TLSv1_2"), Some("TLSv1_3")] {
        let mut args = vec![
            ca_path,
            server.addrs[0].port().to_string().leak(),
            "CMD_short:0",
        ];
        args.extend(version);
        let run = python(GRADER, &args, Duration::from_secs(20));
        assert!(run.status.success(), "{version:?}: {}", run.stderr);
        assert_eq!(
            run.stdout_text(),
            crate::util::pmu_stream(0, 10),
            "{version:?}"
        );
        let expected = version.map_or("TLSv1.3".to_string(), |v| v.replace('_', "."));
        assert_eq!(run.stderr.trim(), expected);
    }
}

#[test]
fn the_grader_gets_wrong_command_and_the_flood() {
    let dir = TestDir::new("grader-wrong");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--flood-bytes", "56KiB"]);
    let port = server.port();
    let run = python(
        GRADER,
        &[ca.cert.to_str().unwrap(), &port, "CMD_shortest:0"],
        Duration::from_secs(20),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), "Wrong command.");
    let run = python(
        GRADER,
        &[ca.cert.to_str().unwrap(), &port, "CMD_floodme"],
        Duration::from_secs(20),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout == lab_server::flood_text(56 * 1024));
}

#[test]
fn the_grader_refuses_a_server_from_another_ca() {
    let dir = TestDir::new("grader-ca");
    let ca = dir.ca("ca");
    let other = dir.ca("other");
    let pair = other.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &[]);
    let run = python(
        GRADER,
        &[ca.cert.to_str().unwrap(), &server.port(), "CMD_short:0"],
        Duration::from_secs(20),
    );
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        run.stderr
    );
    server.wait_for_log("the client sent the alert unknown_ca");
}
