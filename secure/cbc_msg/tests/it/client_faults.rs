//! The client under faults (docs/HARDENING.md): an unknown host, and a host
//! without IPv6. The client never reads from the server, so a server that
//! sends for ever cannot grow its memory; and it reports a frame as sent
//! once the kernel has taken it (a server that never reads, or resets
//! after 1000 bytes, is not noticed for a 1 MiB frame on loopback: see the
//! report's open items).

use crate::util::{Scratch, cbc_msg};
use std::time::Duration;

#[test]
fn an_unknown_host_is_one_error_line() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let run = cbc_msg(
        &[
            "client",
            "no-such-host.invalid",
            "9",
            "--key-file",
            key.to_str().unwrap(),
            "--message",
            "hi",
        ],
        b"",
    );
    run.assert_error(1, &["no-such-host.invalid"]);
}

#[test]
fn without_ipv6_the_server_and_localhost_work_over_ipv4() {
    let dir = Scratch::new();
    let (key, _) = dir.key_file("key");
    let key = key.to_str().unwrap().to_string();
    // The server's default bind is `::` (IPv4 and IPv6); the client tries
    // ::1 first, then 127.0.0.1.
    let Some((line, run)) = testkit::netns::without_ipv6(move || {
        let server = testkit::spawn(crate::util::BIN, &["server", "0", "--key-file", &key]);
        let port = server.listening_addr().port().to_string();
        let run = cbc_msg(
            &[
                "client",
                "localhost",
                &port,
                "--key-file",
                &key,
                "--message",
                "over IPv4",
            ],
            b"",
        );
        (server.line_within(Duration::from_secs(5)), run)
    }) else {
        return;
    };
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert_eq!(line.as_deref(), Some("over IPv4"));
}
