//! The server answers the PMU protocol over TLS, IPv4 and IPv6, as the
//! course server does, and the client prints it as part2_pdc does.

use crate::util::{BIN, Server, TestDir, client, part6, pmu_lines};
use std::time::{Duration, Instant};

#[test]
fn cmd_short_over_ipv4_and_ipv6_from_index_0() {
    let dir = TestDir::new("short");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    // The course's prototype form: CERT KEY, then options.
    let server = Server::start(&[
        cert,
        key,
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "[::1]:0",
        "--messages",
        "17",
    ]);
    assert!(server.addrs[0].is_ipv4() && server.addrs[1].is_ipv6());
    let ca_path = ca.cert.to_str().unwrap();
    for (host, addr) in [("127.0.0.1", 0), ("::1", 1), ("[::1]", 1), ("localhost", 0)] {
        let port = server.addrs[addr].port().to_string();
        let run = part6(&[
            "client",
            "--ca",
            ca_path,
            "--host",
            host,
            "--port",
            &port,
            "CMD_short:0",
        ]);
        assert!(run.status.success(), "{host}: {}", run.stderr);
        assert_eq!(run.stdout_text(), pmu_lines(0, 17), "{host}");
        assert_eq!(run.stderr, "", "{host}");
    }
    let log = server.wait_for_log("[::1]:");
    assert!(log.contains("CMD_short, 17 messages"), "{log}");
}

#[test]
fn several_commands_run_in_order_with_stats() {
    let dir = TestDir::new("several");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "3", "--flood-bytes", "100"]);
    let run = client(
        &ca,
        &server,
        &["--stats", "CMD_short:0", "CMD_floodme", "CMD_short:0"],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let flood = String::from_utf8(lab_server::flood_text(100)).unwrap();
    assert_eq!(
        run.stdout_text(),
        format!("{0}{flood}\n{0}", pmu_lines(0, 3))
    );
    let stats: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(stats.len(), 3, "{}", run.stderr);
    assert!(stats[0].contains("CMD_short:0: ") && stats[0].contains("3 message(s)"));
    assert!(stats[1].contains("CMD_floodme: ") && stats[1].contains("100 bytes"));
}

#[test]
fn the_serve_subcommand_and_a_first_index() {
    let dir = TestDir::new("serve");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "4", "--first-index", "1"]);
    let run = client(&ca, &server, &["CMD_short:0.01"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(1, 4));
}

#[test]
fn with_cmd_short_1_each_line_shows_when_its_message_arrives() {
    let dir = TestDir::new("short1");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "3"]);
    let port = server.port();
    let args = [
        "client",
        "--ca",
        ca.cert.to_str().unwrap(),
        "--port",
        &port,
        "CMD_short:1",
    ];
    let start = Instant::now();
    let child = testkit::spawn(BIN, &args);
    let arrivals = child.timed_lines(start);
    // Message i leaves i seconds after the command (plus the handshake):
    // its line must show then, not one interval later.
    testkit::expect_paced(
        &arrivals,
        &pmu_lines(0, 3),
        Duration::from_secs(1),
        Duration::from_millis(900),
    );
    assert!(child.finish().status.success());
}

#[test]
fn verbose_reports_the_handshake_on_both_sides() {
    let dir = TestDir::new("verbose");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "1", "-v"]);
    for (version, suite) in [("1.3", "TLS13_"), ("1.2", "TLS_ECDHE_ECDSA_")] {
        let run = client(
            &ca,
            &server,
            &["--tls-version", version, "-v", "CMD_short:0"],
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert_eq!(
            run.stdout_text(),
            pmu_lines(0, 1),
            "stdout carries only the payload"
        );
        let err = &run.stderr;
        assert!(
            err.contains(&format!("TLS {version}, cipher suite {suite}")),
            "{err}"
        );
        assert!(err.contains("key exchange X25519"), "{err}");
        assert!(err.contains("forward secret"), "{err}");
        assert!(
            err.contains("server certificate: subject CN=123456; issuer CN=ca test CA; valid"),
            "{err}"
        );
        assert!(err.contains("ECDSA P-256"), "{err}");
        assert!(err.contains("certificate checked for 'localhost'"), "{err}");
        let log = server.wait_for_log(&format!("TLS {version}, cipher suite"));
        assert!(log.contains("client certificate: none"), "{log}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let run = part6(&[]);
    run.assert_error(2, &["give the certificate and key"]);
    let run = part6(&["client", "--ca", "x.pem"]);
    assert_eq!(run.status.code(), Some(2), "no command: {}", run.stderr);
    let run = part6(&["client", "--ca", "x.pem", "CMD_flood"]);
    run.assert_error(2, &["is not a PMU command"]);
    let run = part6(&["serve", "--cert", "a", "--key", "b", "--tls-version", "1.1"]);
    run.assert_error(2, &["1.2 or 1.3"]);
    let run = part6(&[
        "serve",
        "--cert",
        "a",
        "--key",
        "b",
        "--listen",
        "localhost",
    ]);
    run.assert_error(2, &["ADDR:PORT"]);
    let run = part6(&["client", "--ca", "x.pem", "--cert", "c.pem", "CMD_floodme"]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "--cert without --key: {}",
        run.stderr
    );
    let run = part6(&["a.pem", "b.pem", "--allow-cn", "x"]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "--allow-cn needs --client-ca: {}",
        run.stderr
    );
    let run = part6(&["a.pem", "b.pem", "--handshake-timeout", "0"]);
    run.assert_error(2, &["more than 0 seconds"]);
    let help = part6(&["--help"]);
    assert!(help.status.success());
    assert!(
        help.stdout_text().contains("client"),
        "{}",
        help.stdout_text()
    );
}

#[test]
fn a_missing_server_is_one_line_and_exit_1() {
    let dir = TestDir::new("refused");
    let ca = dir.ca("ca");
    let port = testkit::unused_port().to_string();
    let run = part6(&[
        "client",
        "--ca",
        ca.cert.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "CMD_short:0",
    ]);
    run.assert_error(1, &["Connection refused", "is the server running"]);
    let run = part6(&["client", "--ca", "no/such/ca.pem", "CMD_short:0"]);
    run.assert_error(1, &["cannot read the CA certificate file no/such/ca.pem"]);
}
