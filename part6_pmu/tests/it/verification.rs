//! The client verifies the server: its CA (`--ca`), its validity and its
//! name, and says in plain words which check failed.

use crate::util::{TestDir, part6, s_server};

fn client(ca: &std::path::Path, host: &str, port: &str, extra: &[&str]) -> crate::util::Run {
    let mut args = vec![
        "client",
        "--ca",
        ca.to_str().unwrap(),
        "--host",
        host,
        "--port",
        port,
    ];
    args.extend_from_slice(extra);
    args.push("CMD_short:0");
    part6(&args)
}

#[test]
fn an_unknown_issuer_is_named() {
    let dir = TestDir::new("unknown-issuer");
    let ca = dir.ca("ca");
    let other = dir.ca("other");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &[]);
    let run = client(&other.cert, "localhost", &server.port(), &[]);
    run.assert_error(
        1,
        &["TLS handshake with localhost", "unknown issuer", "--ca"],
    );
    server.wait_for_log("the client sent the alert unknown_ca");
}

#[test]
fn a_name_mismatch_lists_the_names_the_certificate_has() {
    let dir = TestDir::new("name");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "1"]);
    let ca = ca.cert.as_path();
    let run = client(
        ca,
        "127.0.0.1",
        &server.port(),
        &["--servername", "pmu.example.com"],
    );
    run.assert_error(
        1,
        &[
            "name mismatch",
            "not valid for 'pmu.example.com'",
            "only for localhost, 127.0.0.1",
            "--servername",
        ],
    );
    // The names it has all pass, as DNS name or IP address.
    for (host, name) in [
        ("127.0.0.1", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
    ] {
        let run = client(ca, host, &server.port(), &["--servername", name]);
        assert!(run.status.success(), "{host} {name}: {}", run.stderr);
    }
}

#[test]
fn an_expired_server_certificate_is_named() {
    // part6_pmu refuses to serve an expired certificate, so openssl serves it.
    let dir = TestDir::new("expired");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let (_server, port) = s_server(&pair, &[]);
    let run = client(&ca.cert, "localhost", &port, &["--connect-timeout", "5"]);
    run.assert_error(
        1,
        &["the server's certificate is refused: it expired on 2001-01-01"],
    );
}

#[test]
fn a_plain_tcp_server_is_not_tls() {
    let dir = TestDir::new("plain");
    let ca = dir.ca("ca");
    let mut config = lab_server::Config::ephemeral();
    config.udp_port = None;
    let lab = lab_server::LabServer::start(config).unwrap();
    let port = lab.tcp_port().unwrap().to_string();
    let run = client(&ca.cert, "127.0.0.1", &port, &[]);
    run.assert_error(1, &["is not TLS", "part2_pdc"]);
}

#[test]
fn a_silent_server_times_out() {
    let dir = TestDir::new("silent");
    let ca = dir.ca("ca");
    let listener = std::net::TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let run = client(&ca.cert, "::1", &port, &["--timeout", "0.3"]);
    drop(listener);
    run.assert_error(
        1,
        &["TLS handshake with ::1", "nothing from the peer for 0.3 s"],
    );
}
