//! `SSLKEYLOGFILE`: server and client write the session secrets in the NSS
//! key log format, for Wireshark.

use crate::util::{Server, TestDir, run_with_env, serve_args};

#[test]
fn server_and_client_write_their_secrets() {
    let dir = TestDir::new("keylog");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server_log = dir.path("server.keys");
    let client_log = dir.path("client.keys");
    let server = Server::start_with_env(
        &serve_args(&pair, "127.0.0.1:0", &["--messages", "1"]),
        &[("SSLKEYLOGFILE", server_log.to_str().unwrap())],
    );
    assert!(
        server.log().contains("SSLKEYLOGFILE is set"),
        "{}",
        server.log()
    );
    for (version, label) in [
        ("1.3", "CLIENT_TRAFFIC_SECRET_0 "),
        ("1.2", "CLIENT_RANDOM "),
    ] {
        let run = run_with_env(
            crate::util::BIN,
            &[
                "client",
                "--ca",
                ca.cert.to_str().unwrap(),
                "--port",
                &server.port(),
                "--tls-version",
                version,
                "CMD_short:0",
            ],
            b"",
            &[("SSLKEYLOGFILE", client_log.to_str().unwrap())],
            crate::util::LIMIT,
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert!(
            run.stderr.contains("SSLKEYLOGFILE is set"),
            "{}",
            run.stderr
        );
        server.wait_for_log(&format!("TLS {version} "));
        for path in [&server_log, &client_log] {
            let keys = std::fs::read_to_string(path).unwrap();
            assert!(
                keys.lines().any(|l| l.starts_with(label)),
                "{label} in {}:\n{keys}",
                path.display()
            );
        }
    }
}
