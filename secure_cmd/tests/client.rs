//! The client: the server's time on stderr, outputs on stdout exactly, an
//! `ERR` as one error line, the last command's status as its own, command
//! lines from stdin without arguments, IPv4 and IPv6, and one-line errors
//! with exit 2 for a mistake on the command line.

// The server runs commands on Unix only (exec.rs).
#![cfg(unix)]

mod util;

use util::{Pki, Server, client_args, server_time_line};

#[test]
fn it_prints_the_server_time_and_the_outputs() {
    let pki = Pki::new("client-basic");
    let server = Server::start(&pki, &[]);
    let out = util::client(
        &pki,
        &server,
        &["echo hello", "echo -n no newline", "echo world"],
    );
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "hello\nno newlineworld\n");
    let time = server_time_line(&out)
        .strip_prefix("secure_cmd: server time: ")
        .unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
}

#[test]
fn the_exit_status_is_the_last_commands() {
    let pki = Pki::new("client-status");
    let server = Server::start(&pki, &["--allow", "false"]);
    let missing = "ls /nonexistent-secure-cmd";
    let out = util::client(&pki, &server, &["echo first", missing]);
    out.expect_code(2);
    assert!(out.stdout_text().starts_with("first\nls: "), "{out:#?}");
    util::client(&pki, &server, &[missing, "echo ok"]).expect_code(0);
    util::client(&pki, &server, &["false"]).expect_code(1);
    // ERR counts as 1, is one error line, and the next command still runs.
    let out = util::client(&pki, &server, &["echo a", "id"]);
    out.expect_code(1);
    assert_eq!(out.stdout_text(), "a\n");
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        [
            "secure_cmd: error: id: not an allowed command (allowed: date, df, echo, false, hostname, ls, pwd, uname, uptime, whoami)"
        ]
    );
    let out = util::client(&pki, &server, &["id", "echo b"]);
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "b\n");
    assert!(
        out.stderr
            .contains("secure_cmd: error: id: not an allowed command")
    );
}

#[test]
fn without_command_lines_it_reads_stdin() {
    let pki = Pki::new("client-stdin");
    let server = Server::start(&pki, &[]);
    let port = server.port();
    let args = client_args(&pki.server_ca.cert, &pki.alice, "localhost", &port);
    let run = |stdin: &str| {
        testkit::run_with_stdin(util::BIN, &args, Some(stdin.as_bytes()), testkit::TIMEOUT)
    };
    let out = run("echo one\n\n   \nid\necho two\nexit\necho never\n");
    out.expect_code(0);
    assert_eq!(out.stdout_text(), "one\ntwo\n");
    assert!(
        out.stderr
            .contains("secure_cmd: error: id: not an allowed command")
    );
    // Not a terminal: no prompt.
    assert!(!out.stderr.contains("secure_cmd>"), "{out:#?}");
    // End of file ends it; a last line without a newline still runs, and
    // its status is the exit status.
    let out = run("echo three\nls /nonexistent-secure-cmd");
    out.expect_code(2);
    assert!(out.stdout_text().starts_with("three\nls: "), "{out:#?}");
    run("").expect_code(0);
    run("quit\n").expect_code(0);
}

#[test]
fn ipv4_and_ipv6() {
    let pki = Pki::new("client-families");
    let server = Server::start(&pki, &["--listen", "127.0.0.1:0", "--listen", "[::1]:0"]);
    let (v4, v6) = (server.addrs[0], server.addrs[1]);
    assert!(v4.is_ipv4() && v6.is_ipv6());
    for (host, port) in [
        ("127.0.0.1", v4.port()),
        ("::1", v6.port()),
        ("[::1]", v6.port()),
        ("localhost", v6.port()),
    ] {
        let port = port.to_string();
        let mut args = client_args(&pki.server_ca.cert, &pki.alice, host, &port);
        args.push("echo hi");
        let out = testkit::run(util::BIN, &args);
        out.expect_code(0);
        assert_eq!(out.stdout_text(), "hi\n", "{host}");
    }
    let log = server.wait_for_log("[::1]:");
    assert!(log.contains(" 127.0.0.1:"), "{log}");
    assert!(
        log.contains(&format!(
            "listening on 127.0.0.1:{} and [::1]:{}",
            v4.port(),
            v6.port()
        )),
        "{log}"
    );
}

#[test]
fn a_server_that_is_not_running_is_a_clear_error() {
    let pki = Pki::new("client-refused");
    let port = testkit::unused_port().to_string();
    let mut args = client_args(&pki.server_ca.cert, &pki.alice, "127.0.0.1", &port);
    args.push("date");
    testkit::run(util::BIN, &args)
        .expect_code(1)
        .expect_one_line_error("secure_cmd", "Connection refused");
}

#[test]
fn command_line_mistakes_exit_2() {
    let pki = Pki::new("usage");
    let ca = pki.server_ca.cert.to_str().unwrap();
    let cert = pki.alice.cert.to_str().unwrap();
    let key = pki.alice.key.to_str().unwrap();
    let server = |extra: &[&'static str]| {
        [
            &["server", "--cert", cert, "--key", key, "--client-ca", ca][..],
            extra,
        ]
        .concat()
    };
    for args in [
        vec!["client", "--ca", ca, "--cert", cert],
        vec![
            "client", "--ca", ca, "--cert", cert, "--key", key, "--port", "0",
        ],
        vec![
            "client",
            "--ca",
            ca,
            "--cert",
            cert,
            "--key",
            key,
            "echo a\necho b",
        ],
        vec!["server", "--cert", cert, "--key", key],
        server(&["--allow", "/bin/sh"]),
        server(&["--allow", "a b"]),
        server(&["--output-cap", "0"]),
        server(&["--command-timeout", "0"]),
        server(&["--listen", "localhost"]),
        vec!["shell"],
        vec![],
    ] {
        let out = testkit::run(util::BIN, &args);
        assert_eq!(out.code(), Some(2), "{args:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:#?}");
    }
    let out = testkit::run(util::BIN, &["--help"]);
    out.expect_code(0);
    assert!(out.stdout_text().contains("server") && out.stdout_text().contains("client"));
    let out = testkit::run(util::BIN, &["--version"]);
    out.expect_code(0);
    assert!(out.stdout_text().starts_with("secure_cmd "));
}

#[test]
fn unusable_server_files_are_refused_at_start_up() {
    let pki = Pki::new("startup");
    let other = util::server_pair(&pki.server_ca, &pki.dir, "other");
    let log = pki.log_path();
    let base = |key: &str, client_ca: &str| {
        testkit::run(
            util::BIN,
            &[
                "server",
                "--cert",
                pki.server.cert.to_str().unwrap(),
                "--key",
                key,
                "--client-ca",
                client_ca,
                "--listen",
                "127.0.0.1:0",
                "--log",
                log.to_str().unwrap(),
            ],
        )
    };
    base(
        other.key.to_str().unwrap(),
        pki.client_ca.cert.to_str().unwrap(),
    )
    .expect_code(1)
    .expect_one_line_error("secure_cmd", "does not belong to the certificate");
    let missing = pki.dir.path("missing.crt");
    base(pki.server.key.to_str().unwrap(), missing.to_str().unwrap())
        .expect_code(1)
        .expect_one_line_error("secure_cmd", "cannot read the CA certificate file");
    // A key given as the client CA.
    base(
        pki.server.key.to_str().unwrap(),
        pki.server.key.to_str().unwrap(),
    )
    .expect_code(1)
    .expect_one_line_error("secure_cmd", "holds no CA certificate");
}
