//! Certificates whose subject cannot name one holder, and a log a client
//! cannot forge, flood or redirect (README.md, "Threat model").

use crate::util::{Answer, Pair, Pki, Raw, Server, ok};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// A client certificate from the test's client CA with the subject `cns`
/// (each a CN attribute, in order).
fn client_with(pki: &Pki, name: &str, cns: Vec<rcgen::DnValue>) -> Pair {
    let mut params = rcgen::CertificateParams::default();
    for (i, cn) in cns.into_iter().enumerate() {
        // rcgen keeps one value per attribute type: the second CN goes in
        // under CN's OID (2.5.4.3) spelt as a custom type.
        let ty = if i == 0 {
            rcgen::DnType::CommonName
        } else {
            rcgen::DnType::CustomDnType(vec![2, 5, 4, 3])
        };
        params.distinguished_name.push(ty, cn);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    pki.client_ca.sign(&pki.dir, name, params, &key)
}

/// Connects with `pair` and reads the greeting: `Err` when refused.
fn try_client(pki: &Pki, server: &Server, pair: &Pair) -> Result<String, String> {
    let mut raw = Raw::connect(server.addrs[0], &pki.server_ca.cert, Some(pair), None)?;
    raw.line()
}

#[test]
fn a_subject_with_two_common_names_is_refused_with_and_without_allow_cn() {
    let pki = Pki::new("two-cn");
    let mallory = client_with(
        &pki,
        "mallory",
        vec![
            rcgen::DnValue::Utf8String("Mallory".into()),
            rcgen::DnValue::Utf8String("DemoClt".into()),
        ],
    );
    let demo = pki.client_ca.client(&pki.dir, "demo", "DemoClt");
    for extra in [&["--allow-cn", "DemoClt"][..], &[]] {
        let server = Server::start(&pki, extra);
        assert!(try_client(&pki, &server, &mallory).is_err());
        server.wait_for_log(
            "its subject has 2 common names (CN=Mallory, CN=DemoClt); a client certificate \
             must have one",
        );
        // The one-CN certificate still gets in.
        assert!(
            try_client(&pki, &server, &demo)
                .unwrap()
                .starts_with("TIME ")
        );
    }
}

#[test]
fn a_common_name_that_is_not_utf8_or_printable_is_refused() {
    let pki = Pki::new("bmp-cn");
    let bmp = client_with(
        &pki,
        "bmp",
        vec![rcgen::DnValue::BmpString(
            rcgen::string::BmpString::try_from("DemoClt").unwrap(),
        )],
    );
    let printable = client_with(
        &pki,
        "printable",
        vec![rcgen::DnValue::PrintableString(
            rcgen::string::PrintableString::try_from("DemoClt").unwrap(),
        )],
    );
    for extra in [&["--allow-cn", "DemoClt"][..], &[]] {
        let server = Server::start(&pki, extra);
        assert!(try_client(&pki, &server, &bmp).is_err());
        server.wait_for_log("is a BMPString, not a UTF8String or a PrintableString");
        assert!(
            try_client(&pki, &server, &printable)
                .unwrap()
                .starts_with("TIME ")
        );
    }
}

#[test]
fn without_allow_cn_the_server_says_any_certificate_of_the_ca_gets_in() {
    let pki = Pki::new("any-cn");
    let server = Server::start(&pki, &[]);
    let stderr = server.proc.stderr_log();
    assert!(
        stderr.contains("warning: no --allow-cn: any certificate"),
        "{stderr}"
    );
    server.wait_for_log(" - warning: no --allow-cn: any certificate");
    let server = Server::start(&pki, &["--allow-cn", "alice"]);
    assert!(!server.proc.stderr_log().contains("no --allow-cn"));
}

#[test]
fn the_log_escapes_quotes_and_cuts_what_the_peer_sent() {
    let pki = Pki::new("log-forge");
    let server = Server::start(&pki, &[]);
    let mut raw = Raw::alice(&pki, &server);
    raw.line().unwrap();
    // Closing the quotes to fake a successful `date -f` in the log.
    let forged = "echo x\": exit 0, 6 bytes of output, 1 ms";
    assert_eq!(
        raw.run(forged),
        ok("x\": exit 0, 6 bytes of output, 1 ms\n")
    );
    let long = format!("echo {}", "A".repeat(3000));
    assert!(matches!(raw.run(&long), Answer::Ok { status: 0, .. }));
    raw.run("echo done");
    let log = server.wait_for_log("command \"echo done\"");
    assert!(
        log.contains("command \"echo x\\\": exit 0, 6 bytes of output, 1 ms\": exit 0"),
        "{log}"
    );
    assert!(!log.contains("command \"echo x\": exit 0"), "{log}");
    let cut = log
        .lines()
        .find(|l| l.contains("command \"echo AAAA"))
        .unwrap();
    assert!(cut.len() < 300, "{cut}");
    assert!(
        cut.contains(&format!("{}…(+2941 bytes)\"", "A".repeat(59))),
        "{cut}"
    );
}

#[test]
fn the_log_file_is_private_and_a_symbolic_link_is_refused() {
    let pki = Pki::new("log-file-mode");
    let server = Server::start(&pki, &[]);
    let mode = std::fs::metadata(&server.log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(server);

    let target = pki.dir.write("victim", "untouched\n");
    let link = pki.dir.path("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    crate::util::refused_start(&pki, &["--log", link.to_str().unwrap()])
        .expect_code(1)
        .expect_one_line_error("secure_cmd", "is a symbolic link: refused");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
}

#[test]
fn a_flood_from_one_source_is_summarised() {
    for listen in ["127.0.0.1:0", "[::1]:0"] {
        let pki = Pki::new("log-flood");
        let server = Server::start(&pki, &["--listen", listen, "--log-rate", "5"]);
        // Connections that send nothing and close: one log line each.
        for _ in 0..40 {
            drop(std::net::TcpStream::connect(server.addrs[0]).unwrap());
        }
        let ip = server.addrs[0].ip();
        let log = testkit::wait_for_text(
            &format!(" more from {ip} in the last 10 s"),
            Duration::from_secs(25),
            || server.log_text(),
        );
        let peer_lines = log
            .lines()
            .filter(|l| l.split(' ').nth(1).is_some_and(|who| who != "-"))
            .count();
        assert_eq!(peer_lines, 5, "{log}");
        assert!(
            log.contains(&format!("… and 35 more from {ip} in the last 10 s")),
            "{log}"
        );
    }
}

#[test]
fn a_log_that_cannot_be_written_does_not_stop_the_service() {
    // /dev/full: every write fails with ENOSPC, as on a full disk.
    let pki = Pki::new("log-full");
    let server = Server::start(&pki, &["--log", "/dev/full"]);
    for _ in 0..3 {
        let mut raw = Raw::alice(&pki, &server);
        raw.line().unwrap();
        assert_eq!(raw.run("echo still serving"), ok("still serving\n"));
    }
    let stderr = testkit::wait_for_text(
        "serving on, lines dropped and counted",
        Duration::from_secs(10),
        || server.proc.stderr_log(),
    );
    assert_eq!(
        stderr
            .matches("warning: cannot write to the log /dev/full")
            .count(),
        1,
        "{stderr}"
    );
}
