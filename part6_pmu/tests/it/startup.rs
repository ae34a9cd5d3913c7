//! A certificate or key the server could not use is refused at start-up,
//! in one line that says what to do, with exit status 1.

use crate::util::{Pair, TestDir, part6};

fn serve(cert: &std::path::Path, key: &std::path::Path) -> crate::util::Run {
    part6(&[
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
}

/// An RSA key and a certificate for it from a CA, made with openssl as
/// `make key` and `make test-cert` do (rcgen on ring cannot make RSA keys).
fn openssl_rsa(dir: &TestDir, name: &str, bits: &str) -> Pair {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    dir.openssl(&["genrsa", "-out", &key, bits]);
    dir.openssl(&[
        "req",
        "-new",
        "-key",
        &key,
        "-subj",
        "/CN=123456",
        "-out",
        &csr,
    ]);
    dir.openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        &crt,
    ]);
    Pair {
        cert: dir.path(&crt),
        key: dir.path(&key),
    }
}

fn openssl_ca(dir: &TestDir) {
    dir.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "30",
        "-subj",
        "/CN=openssl test CA",
    ]);
}

#[test]
fn an_rsa_1024_key_is_refused_with_make_key() {
    let dir = TestDir::new("rsa1024");
    openssl_ca(&dir);
    // The handout's `openssl genrsa -out key.pem 1024`.
    let weak = openssl_rsa(&dir, "weak", "1024");
    serve(&weak.cert, &weak.key).assert_error(1, &["RSA 1024 bits", "at least 2048", "make key"]);
    // The same key as PKCS#1 (`-traditional`, what older openssl wrote).
    dir.openssl(&[
        "rsa",
        "-in",
        "weak.key",
        "-traditional",
        "-out",
        "weak1.key",
    ]);
    serve(&weak.cert, &dir.path("weak1.key")).assert_error(1, &["RSA 1024 bits", "make key"]);
}

#[test]
fn an_rsa_2048_key_and_a_v1_certificate_from_openssl_are_served() {
    // `openssl x509 -req` without -extfile signs an X.509 v1 certificate,
    // as a course CA may: OpenSSL clients (the grader) accept it.
    let dir = TestDir::new("rsa2048");
    openssl_ca(&dir);
    let good = openssl_rsa(&dir, "good", "2048");
    let server = crate::util::server_for(&good, &["--messages", "2"]);
    let log = server.log();
    assert!(log.contains("RSA 2048 bits"), "{log}");
    assert!(
        log.contains("note: the certificate is X.509 version 1"),
        "{log}"
    );
    assert!(
        log.contains("note: the certificate lists no subjectAltName"),
        "{log}"
    );
    let run = crate::util::run_program(
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", server.port()),
            "-CAfile",
            dir.path("ca.crt").to_str().unwrap(),
            "-verify_return_error",
            "-quiet",
        ],
        b"CMD_short:0",
        crate::util::LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), crate::util::pmu_stream(0, 2));
    // rustls (our client) refuses a v1 certificate, and says why.
    let run = part6(&[
        "client",
        "--ca",
        dir.path("ca.crt").to_str().unwrap(),
        "--port",
        &server.port(),
        "CMD_short:0",
    ]);
    run.assert_error(1, &["X.509 version 1", "make test-cert"]);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let dir = TestDir::new("mismatch");
    let ca = dir.ca("ca");
    let a = ca.server(&dir, "a", |_| {});
    let b = ca.server(&dir, "b", |_| {});
    serve(&a.cert, &b.key).assert_error(1, &["does not belong to the certificate", "make csr"]);
    // The CA's certificate first, then the server's: the key belongs to a
    // later certificate of the file.
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(&ca.cert).unwrap(),
        std::fs::read_to_string(&a.cert).unwrap()
    );
    let reversed = dir.write("reversed.crt", chain);
    serve(&reversed, &a.key).assert_error(1, &["put your certificate first"]);
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    let dir = TestDir::new("validity");
    let ca = dir.ca("ca");
    let expired = ca.server(&dir, "expired", |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    serve(&expired.cert, &expired.key)
        .assert_error(1, &["expired on 2001-01-01", "make test-cert"]);
    let future = ca.server(&dir, "future", |p| {
        p.not_before = rcgen::date_time_ymd(2200, 1, 1);
        p.not_after = rcgen::date_time_ymd(2201, 1, 1);
    });
    serve(&future.cert, &future.key).assert_error(1, &["not valid before 2200-01-01", "clock"]);
}

#[test]
fn unreadable_non_pem_and_misplaced_files_are_refused() {
    let dir = TestDir::new("files");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    serve(&dir.path("missing.crt"), &pair.key).assert_error(
        1,
        &[
            "cannot read the certificate file",
            "missing.crt",
            "check the path",
        ],
    );
    serve(&pair.cert, &dir.path("missing.key"))
        .assert_error(1, &["cannot read the private key file", "missing.key"]);
    let garbage = dir.write("garbage.key", b"\x30\x82\x01\x00 not a key");
    serve(&pair.cert, &garbage).assert_error(1, &["is not PEM", "openssl pkey -inform der"]);
    let text = dir.write("text.crt", "hello\n");
    serve(&text, &pair.key).assert_error(1, &["is not PEM", "openssl x509 -inform der"]);
    // CERT and KEY swapped.
    serve(&pair.key, &pair.cert)
        .assert_error(1, &["holds no certificate", "PRIVATE KEY", "CERT KEY"]);
    // The CSR instead of the certificate the CA sends back.
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let csr = dir.write("server.csr", csr);
    serve(&csr, &pair.key).assert_error(1, &["certificate signing request", "make test-cert"]);
    // A directory.
    serve(dir.root(), &pair.key).assert_error(1, &["cannot read the certificate file"]);
}

#[test]
fn encrypted_keys_are_refused() {
    let dir = TestDir::new("encrypted");
    openssl_ca(&dir);
    let pair = openssl_rsa(&dir, "server", "2048");
    // PKCS#8 `ENCRYPTED PRIVATE KEY`.
    dir.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "server.key",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:secret",
        "-out",
        "pkcs8.key",
    ]);
    serve(&pair.cert, &dir.path("pkcs8.key"))
        .assert_error(1, &["encrypted with a passphrase", "openssl pkey -in"]);
    // The legacy `Proc-Type: 4,ENCRYPTED` form.
    dir.openssl(&[
        "rsa",
        "-in",
        "server.key",
        "-aes256",
        "-traditional",
        "-passout",
        "pass:secret",
        "-out",
        "legacy.key",
    ]);
    serve(&pair.cert, &dir.path("legacy.key")).assert_error(1, &["encrypted with a passphrase"]);
}

#[test]
fn a_port_in_use_says_so() {
    let dir = TestDir::new("inuse");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = part6(&[
        pair.cert.to_str().unwrap(),
        pair.key.to_str().unwrap(),
        "--listen",
        &addr,
    ]);
    run.assert_error(1, &["cannot listen on", "--listen ADDR:PORT"]);
    let nope = dir.path("nope.pem");
    let run = part6(&crate::util::serve_args(
        &pair,
        "127.0.0.1:0",
        &["--client-ca", nope.to_str().unwrap()],
    ));
    run.assert_error(1, &["cannot read the CA certificate file"]);
}
