//! The grader fails a multicast sender that sends an ID of the wrong
//! length, though it sends good IDs right.

// The fake executables are shell scripts: Unix only.
#![cfg(unix)]

mod util;

use std::time::Duration;
use util::{TempDir, expect_row, grade, script};

/// Sends `--id` + text, whatever the ID's length, through the interface
/// and with the TTL it is given.
const ANY_ID: &str = r#"#!/usr/bin/env python3
import socket, sys
a = sys.argv[1:]
arg = lambda f, d=None: a[a.index(f) + 1] if f in a else d
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(arg("--interface")))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(arg("--ttl", "1")))
texts = [arg("--message")] if "--message" in a else [l.rstrip("\n") for l in sys.stdin]
for t in texts:
    s.sendto(arg("--id").encode() + t.encode(), (arg("--group"), int(arg("--port"))))
"#;

#[test]
fn a_sender_that_takes_any_id_length_fails() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "part4_sender", ANY_ID);
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--case",
            "part4: sender",
        ],
        Duration::from_secs(90),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stdout_text());
    expect_row(&out, "sender sends ID + text (--message)", "PASS", "");
    expect_row(&out, "sender sends one datagram per stdin line", "PASS", "");
    expect_row(
        &out,
        "sender's opinion is answered by the TV channel",
        "PASS",
        "",
    );
    expect_row(
        &out,
        "sender refuses IDs that are not 6 ASCII bytes",
        "FAIL",
        "--id \"12345\" (5 bytes): sent",
    );
}
