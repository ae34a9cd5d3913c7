//! Mutual TLS, always: a client without a certificate, with one from
//! another CA, or with a common name not in `--allow-cn` is refused in the
//! handshake; a client that does not trust the server's CA, or whose host
//! the certificate does not name, refuses it. Each refusal is one line in
//! plain words on the client's side and a line in the server's log.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use tls_common::TlsVersion;
use util::{Pki, Raw, Server, client_args};

#[test]
fn no_client_certificate_is_refused() {
    let pki = Pki::new("no-cert");
    let server = Server::start(&pki, &[]);
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        // With TLS 1.3 the client's side of the handshake ends before the
        // server has checked it: the refusal comes where the greeting
        // would.
        let refusal = match Raw::connect(server.addrs[0], &pki.server_ca.cert, None, Some(version))
        {
            Err(err) => err,
            Ok(mut raw) => raw.line().expect_err("no greeting without a certificate"),
        };
        assert!(refusal.contains("--cert and --key"), "{version}: {refusal}");
    }
    server.wait_for_log(
        "handshake failed: the client sent no certificate, and this server requires one",
    );
}

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::new("other-ca");
    let server = Server::start(&pki, &[]);
    // Signed by the servers' CA, which the server does not take for clients.
    let mallory = pki.server_ca.client(&pki.dir, "mallory", "alice");
    let port = server.port();
    let mut args = client_args(&pki.server_ca.cert, &mallory, "localhost", &port);
    args.push("echo hi");
    let out = testkit::run(util::BIN, &args);
    out.expect_code(1).expect_one_line_error(
        "secure_cmd",
        "the server sent the alert unknown_ca: it does not trust the CA that signed our certificate",
    );
    assert!(out.stdout.is_empty());
    server.wait_for_log("handshake failed: the client's certificate is refused: unknown issuer");
}

#[test]
fn a_common_name_not_allowed_is_refused() {
    let pki = Pki::new("cn");
    let server = Server::start(&pki, &["--allow-cn", "bob", "--allow-cn", "carol"]);
    let port = server.port();
    let out = util::client(&pki, &server, &["echo hi"]);
    out.expect_code(1)
        .expect_one_line_error("secure_cmd", "access_denied");
    assert!(out.stderr.contains("--allow-cn"), "{out:#?}");
    server.wait_for_log("its common name is not one of the names allowed (--allow-cn)");
    let bob = pki.client_ca.client(&pki.dir, "bob", "bob");
    let mut args = client_args(&pki.server_ca.cert, &bob, "localhost", &port);
    args.push("echo hi");
    let out = testkit::run(util::BIN, &args);
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "hi\n");
    server.wait_for_log("connected: client CN=bob");
}

#[test]
fn a_server_certificate_from_an_unknown_ca_is_refused_by_the_client() {
    let pki = Pki::new("server-ca");
    let server = Server::start(&pki, &[]);
    let port = server.port();
    // The client trusts the clients' CA, not the one that signed the server.
    let mut args = client_args(&pki.client_ca.cert, &pki.alice, "localhost", &port);
    args.push("echo hi");
    let out = testkit::run(util::BIN, &args);
    out.expect_code(1).expect_one_line_error(
        "secure_cmd",
        "the server's certificate is refused: unknown issuer: it is not signed by the CA given with --ca",
    );
    assert!(
        out.stderr.contains("TLS handshake with localhost port"),
        "{out:#?}"
    );
    server.wait_for_log("the client sent the alert unknown_ca");
}

#[test]
fn a_server_certificate_for_another_name_is_refused_by_the_client() {
    let pki = Pki::new("name");
    let mut params = rcgen::CertificateParams::new(vec!["cmd.example.com".to_string()]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.server_ca.issuer).unwrap();
    // The server's files are replaced before it starts.
    std::fs::write(&pki.server.cert, cert.pem()).unwrap();
    std::fs::write(&pki.server.key, key.serialize_pem()).unwrap();
    let server = Server::start(&pki, &[]);
    let port = server.port();
    let mut args = client_args(&pki.server_ca.cert, &pki.alice, "127.0.0.1", &port);
    args.push("echo hi");
    let out = testkit::run(util::BIN, &args);
    out.expect_code(1).expect_one_line_error(
        "secure_cmd",
        "name mismatch: it is not valid for '127.0.0.1', only for cmd.example.com",
    );
}

#[test]
fn an_expired_client_certificate_is_refused_before_connecting() {
    let pki = Pki::new("expired");
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "old");
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.client_ca.issuer).unwrap();
    let old = util::Pair {
        cert: pki.dir.write("old.crt", cert.pem()),
        key: pki.dir.write("old.key", key.serialize_pem()),
    };
    // Nobody listens on port 1: the certificate is refused first.
    let out = testkit::run(
        util::BIN,
        &[
            client_args(&pki.server_ca.cert, &old, "127.0.0.1", "1"),
            vec!["date"],
        ]
        .concat(),
    );
    out.expect_code(1)
        .expect_one_line_error("secure_cmd", "expired on 2001-01-01");
}
