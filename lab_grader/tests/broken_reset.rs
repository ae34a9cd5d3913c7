//! The grader fails a reset client that never retransmits, and one that
//! takes a malformed reply, though both answer a lossless server right.

// The fake executables are shell scripts: Unix only.
#![cfg(unix)]

mod util;

use std::time::Duration;
use util::{TempDir, expect_row, grade, script};

/// Sends RESET:20 once over IPv4 and IPv6 and waits for ever; takes any
/// OFFSET=<digits> from the server's port, even over 20.
const SENDS_ONCE: &str = r#"#!/usr/bin/env python3
import datetime, select, socket, sys
a = sys.argv[1:]
port = int(a[a.index("--port") + 1])
socks = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(b"RESET:20", (addr, port))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        try:
            data, frm = s.recvfrom(100)
        except OSError:
            continue
        text = data.decode(errors="replace")
        if frm[1] == port and text[:7] in ("OFFSET=", "OFFSET:") and text[7:].isdigit():
            v4 = s.family == socket.AF_INET
            where = f"{frm[0]}:{port}" if v4 else f"[{frm[0]}]:{port}"
            now = datetime.datetime.now().astimezone().isoformat()
            fam = "IPv4" if v4 else "IPv6"
            print(f"OFFSET={text[7:]} over {fam} from {where} at {now} after 1 attempt")
            sys.exit(0)
"#;

#[test]
fn a_client_that_never_retransmits_fails() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "part3_reset", SENDS_ONCE);
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--part",
            "3",
            "--time-limit",
            "4",
        ],
        Duration::from_secs(90),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stdout_text());
    // Right when nothing is lost, on either family.
    expect_row(&out, "part3: IPv4-only server", "PASS", "");
    expect_row(&out, "part3: IPv6-only server", "PASS", "");
    expect_row(&out, "ignores a forged reply", "PASS", "");
    expect_row(
        &out,
        "retransmits every --timeout",
        "FAIL",
        "still running after",
    );
    expect_row(
        &out,
        "ignores malformed replies",
        "FAIL",
        "OFFSET=25 is over n = 20",
    );
}
