//! The log (`--log`, its folder created): a line per connection (peer,
//! client CN, TLS version, suite), per command with its status, and per
//! error, each with an RFC 3339 time stamp.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use tls_common::TlsVersion;
use util::{Pki, Raw, Server};

#[test]
fn connections_commands_statuses_and_errors_are_logged() {
    let pki = Pki::new("log");
    let log = pki.dir.path("deep/er/server.log");
    let server = Server::start(&pki, &["--log", log.to_str().unwrap()]);
    let out = util::client(
        &pki,
        &server,
        &["echo hello", "id -u", "ls /nonexistent-secure-cmd"],
    );
    out.expect_code(2);
    // A TLS 1.2 client, and one without a certificate.
    let mut raw = Raw::connect(
        server.addrs[0],
        &pki.server_ca.cert,
        Some(&pki.alice),
        Some(TlsVersion::Tls12),
    )
    .unwrap();
    raw.line().unwrap();
    drop(raw);
    let refused =
        Raw::connect(server.addrs[0], &pki.server_ca.cert, None, None).map(|mut raw| raw.line());
    assert!(!matches!(refused, Ok(Ok(_))));

    // The refusal is logged as the server ends that connection, and the
    // first client's close as the server sees it.
    server.wait_for_log("closed by the client after 3 request(s)");
    let log = server.wait_for_log("the client sent no certificate");
    let lines: Vec<&str> = log.lines().collect();
    for line in &lines {
        let time = line.split(' ').next().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{line}");
    }
    let port = server.port();
    let find = |needles: &[&str]| {
        lines
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in\n{log}"))
            .to_string()
    };
    assert!(
        lines[0].contains(&format!(" - started: listening on 127.0.0.1:{port}")),
        "{log}"
    );
    // The client resolves localhost to ::1 first; the server listens on
    // 127.0.0.1 only, so the client comes over IPv4.
    let connected = find(&["connected: client CN=alice, TLS 1.3, TLS13_"]);
    assert!(connected.contains(" 127.0.0.1:"), "{connected}");
    let peer = connected.split(' ').nth(1).unwrap();
    find(&[peer, "command \"echo hello\": exit 0, 6 bytes of output"]);
    find(&[peer, "command \"id -u\": ERR not an allowed command"]);
    find(&[peer, "command \"ls /nonexistent-secure-cmd\": exit 2"]);
    find(&[peer, "closed by the client after 3 request(s)"]);
    find(&["connected: client CN=alice, TLS 1.2, TLS_ECDHE_"]);
    find(&["handshake failed: the client sent no certificate"]);
}

#[test]
fn log_lines_escape_what_the_peer_sent() {
    let pki = Pki::new("log-escape");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    // A vertical tab and an escape sequence are not white space to split on.
    raw.send(b"echo a\x0bb\x1b[2J\n");
    raw.answer();
    let log = server.wait_for_log("command \"echo a\\u{b}b\\u{1b}[2J\"");
    assert!(!log.contains('\x1b'));
}
