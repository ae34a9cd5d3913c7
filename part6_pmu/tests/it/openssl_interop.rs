//! Interoperability with OpenSSL: `openssl s_client` against our server and
//! our client against `openssl s_server`, over TLS 1.2 and 1.3; TLS 1.1
//! refused.

use crate::util::{BIN, LIMIT, TestDir, read_until, run_program, s_server};
use std::io::Write;
use std::time::Duration;

/// `openssl s_client` sending `request` and reading until the server closes
/// (`-quiet` implies `-ign_eof`: it never closes first).
fn s_client(port: &str, ca: &std::path::Path, version: &str, request: &[u8]) -> crate::util::Run {
    run_program(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
            "-verify_hostname",
            "localhost",
            "-CAfile",
            ca.to_str().unwrap(),
            "-verify_return_error",
            version,
            "-quiet",
        ],
        request,
        LIMIT,
    )
}

#[test]
fn s_client_gets_the_pmu_over_tls_1_2_and_1_3() {
    let dir = TestDir::new("s_client");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "12", "--flood-bytes", "1MiB"]);
    let flood = lab_server::flood_text(1 << 20);
    for version in ["-tls1_3", "-tls1_2"] {
        let run = s_client(&server.port(), &ca.cert, version, b"CMD_short:0");
        assert!(run.status.success(), "{version}: {}", run.stderr);
        assert_eq!(
            run.stdout_text(),
            crate::util::pmu_stream(0, 12),
            "{version}"
        );
        let run = s_client(&server.port(), &ca.cert, version, b"CMD_floodme");
        assert!(run.status.success(), "{version}: {}", run.stderr);
        assert!(run.stdout == flood, "{version}: the flood byte for byte");
        let run = s_client(&server.port(), &ca.cert, version, b"hello");
        assert_eq!(run.stdout_text(), "Wrong command.", "{version}");
    }
    let log = server.wait_for_log("TLS 1.2 TLS_ECDHE_ECDSA_WITH_");
    assert!(log.contains("TLS 1.3 TLS13_"), "{log}");
    assert!(log.contains("wrong command \"hello\""), "{log}");
}

#[test]
fn tls_1_1_and_1_0_are_refused() {
    let dir = TestDir::new("tls11");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &[]);
    for version in ["-tls1_1", "-tls1"] {
        // SECLEVEL=0: OpenSSL 3 refuses TLS 1.1 itself otherwise.
        let run = run_program(
            "openssl",
            &[
                "s_client",
                "-connect",
                &format!("127.0.0.1:{}", server.port()),
                "-CAfile",
                ca.cert.to_str().unwrap(),
                version,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-quiet",
            ],
            b"CMD_short:0",
            LIMIT,
        );
        assert!(!run.status.success(), "{version}: {}", run.stdout_text());
        assert!(run.stdout.is_empty(), "{version}: no PMU data");
        assert!(run.stderr.contains("alert"), "{version}: {}", run.stderr);
    }
    server.wait_for_log("so it speaks TLS 1.0 or 1.1");
}

#[test]
fn our_client_against_s_server_over_tls_1_2_and_1_3() {
    let dir = TestDir::new("s_server");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    for (version, ours) in [("-tls1_3", "1.3"), ("-tls1_2", "1.2")] {
        // `openssl s_server` answers the PMU by hand: it relays its stdin
        // to the client.
        let (mut server, port) = s_server(&pair, &[version]);
        let ca_path = ca.cert.to_str().unwrap();
        let client = testkit::spawn_raw(
            BIN,
            &[
                "client",
                "--ca",
                ca_path,
                "--port",
                &port,
                "-v",
                "CMD_short:0",
            ],
        );
        // s_server prints what the client sent: exactly the command.
        read_until(&mut server, |out| {
            out.windows(11).any(|w| w == b"CMD_short:0").then_some(())
        });
        // Then it relays its stdin; at stdin's end it closes the socket
        // without close_notify, as Python's ssl does.
        let mut stdin = server.0.stdin.take().unwrap();
        stdin
            .write_all(crate::util::pmu_stream(0, 3).as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(stdin);
        let run = client.output_within(LIMIT);
        assert!(run.status.success(), "{version}: {}", run.stderr);
        assert_eq!(run.stdout_text(), crate::util::pmu_lines(0, 3), "{version}");
        assert!(
            run.stderr.contains(&format!("TLS {ours}, cipher suite")),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("without close_notify"),
            "{}",
            run.stderr
        );
    }
}
