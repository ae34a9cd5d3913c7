//! The grader fails a Part 6 server that answers but never closes: the
//! course's grader never closes first.

// The fake executables are shell scripts: Unix only.
#![cfg(unix)]

mod util;

use std::time::Duration;
use util::{TempDir, expect_row, grade, script};

/// `serve --cert F --key F --listen A:P`: answers CMD_short:0 over TLS and
/// keeps every connection open.
const NEVER_CLOSES: &str = r#"#!/usr/bin/env python3
import socket, ssl, sys
a = sys.argv[1:]
if "--help" in a:
    print("usage: serve --cert F --key F --listen ADDR:PORT")
    sys.exit(0)
arg = lambda f: a[a.index(f) + 1]
host, port = arg("--listen").rsplit(":", 1)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(arg("--cert"), arg("--key"))
srv = socket.create_server((host, int(port)))
held = []
while True:
    conn, _ = srv.accept()
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.recv(64)
        for i in range(10):
            tls.sendall(f"This is PMU data {i}".encode())
        held.append(tls)
    except Exception:
        pass
"#;

#[test]
fn a_server_that_never_closes_fails() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "part6_pmu", NEVER_CLOSES);
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--case",
            "part6: course grader",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stdout_text());
    expect_row(
        &out,
        "part6: course grader",
        "FAIL",
        "did not close within 5.00 s of the request",
    );
    // What it sent was right: only the close is missing.
    expect_row(&out, "part6: course grader", "FAIL", "This is PMU data 0");
}
