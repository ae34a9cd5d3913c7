//! Mutual TLS: `--client-ca` requires a client certificate from that CA,
//! `--allow-cn` restricts its common name; each refusal is explained on
//! both sides.

use crate::util::{Server, TestDir, pmu_lines};

struct Setup {
    dir: TestDir,
    server_ca: crate::util::Ca,
    client_ca: crate::util::Ca,
}

fn setup(name: &str) -> Setup {
    let dir = TestDir::new(name);
    let server_ca = dir.ca("server-ca");
    let client_ca = dir.ca("client-ca");
    Setup {
        dir,
        server_ca,
        client_ca,
    }
}

fn server(s: &Setup, extra: &[&str]) -> Server {
    let pair = s.server_ca.server(&s.dir, "server", |_| {});
    let client_ca = s.client_ca.cert.to_str().unwrap();
    let args = ["--messages", "2", "-v", "--client-ca", client_ca];
    crate::util::server_for(&pair, &[&args[..], extra].concat())
}

/// Runs the client with `identity` (a client certificate, or none).
fn client(
    s: &Setup,
    server: &Server,
    identity: Option<&crate::util::Pair>,
    version: &str,
) -> crate::util::Run {
    let mut args = vec!["--tls-version", version];
    if let Some(pair) = identity {
        args.extend(["--cert", pair.cert.to_str().unwrap()]);
        args.extend(["--key", pair.key.to_str().unwrap()]);
    }
    args.push("CMD_short:0");
    crate::util::client(&s.server_ca, server, &args)
}

#[test]
fn a_client_certificate_from_the_client_ca_is_accepted() {
    let s = setup("mtls-ok");
    let server = server(&s, &[]);
    let alice = s.client_ca.client(&s.dir, "alice", "alice");
    for version in ["1.3", "1.2"] {
        let run = client(&s, &server, Some(&alice), version);
        assert!(run.status.success(), "TLS {version}: {}", run.stderr);
        assert_eq!(run.stdout_text(), pmu_lines(0, 2));
    }
    let log =
        server.wait_for_log("client certificate: subject CN=alice; issuer CN=client-ca test CA");
    assert!(
        log.contains("mutual TLS: client certificates from"),
        "{log}"
    );
}

#[test]
fn no_client_certificate_is_refused() {
    let s = setup("mtls-none");
    let server = server(&s, &[]);
    for (version, words) in [
        (
            "1.3",
            "requires a client certificate: give --cert and --key",
        ),
        ("1.2", "--cert and --key"),
    ] {
        let run = client(&s, &server, None, version);
        run.assert_error(1, &[words]);
        assert!(run.stdout.is_empty());
    }
    server.wait_for_log("the client sent no certificate");
}

#[test]
fn a_client_certificate_from_another_ca_is_refused() {
    let s = setup("mtls-wrong-ca");
    let server = server(&s, &[]);
    let mallory = s.server_ca.client(&s.dir, "mallory", "alice");
    for version in ["1.3", "1.2"] {
        let run = client(&s, &server, Some(&mallory), version);
        run.assert_error(
            1,
            &[
                "unknown_ca",
                "does not trust the CA that signed our certificate",
            ],
        );
    }
    server.wait_for_log("the client's certificate is refused: unknown issuer");
}

#[test]
fn a_common_name_not_allowed_is_refused_with_access_denied() {
    let s = setup("mtls-cn");
    let server = server(&s, &["--allow-cn", "alice", "--allow-cn", "bob"]);
    let bob = s.client_ca.client(&s.dir, "bob", "bob");
    let carol = s.client_ca.client(&s.dir, "carol", "carol");
    for version in ["1.3", "1.2"] {
        let run = client(&s, &server, Some(&bob), version);
        assert!(run.status.success(), "bob, TLS {version}: {}", run.stderr);
        let run = client(&s, &server, Some(&carol), version);
        run.assert_error(1, &["access_denied", "--allow-cn"]);
    }
    let log = server.wait_for_log("common name is not one of the names allowed");
    assert!(log.contains("with CN alice or bob"), "{log}");
}
