//! The grader fails PDCs that print only the first message, that print a
//! message only when the next one starts, and that hang (killed in time).

use crate::util::{TempDir, expect_row, grade, script};
use std::time::{Duration, Instant};

/// Prints only the first PMU message of the stream.
const FIRST_ONLY: &str = r#"#!/usr/bin/env python3
import socket, sys
a = sys.argv[1:]
host, port = a[a.index("--host") + 1], int(a[a.index("--port") + 1])
for cmd in [x for x in a if x.startswith("CMD_")]:
    s = socket.create_connection(("127.0.0.1" if host == "localhost" else host, port))
    s.sendall(cmd.encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    first = data.split(b"This is PMU data ")[1] if b"This is PMU data " in data else data
    print("This is PMU data " + first.decode())
"#;

/// Prints a message only once the next one starts (or at the end).
const WAITS_FOR_NEXT: &str = r#"#!/usr/bin/env python3
import socket, sys
a = sys.argv[1:]
host, port = a[a.index("--host") + 1], int(a[a.index("--port") + 1])
P = b"This is PMU data "
for cmd in [x for x in a if x.startswith("CMD_")]:
    s = socket.create_connection(("127.0.0.1" if host == "localhost" else host, port))
    s.sendall(cmd.encode())
    buf = b""
    while data := s.recv(4096):
        buf += data
        parts = buf.split(P)
        for m in parts[1:-1]:
            sys.stdout.buffer.write(P + m + b"\n")
        sys.stdout.flush()
        buf = P + parts[-1] if len(parts) > 1 else buf
    if buf:
        sys.stdout.buffer.write(buf + b"\n")
"#;

#[test]
fn a_pdc_that_prints_only_the_first_message_fails() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "part2_pdc", FIRST_ONLY);
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--case",
            "part2: CMD_short:0, 15 messages from 1",
            "--case",
            "cut at random points, 17",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stdout_text());
    expect_row(
        &out,
        "CMD_short:0, 15 messages from 1",
        "FAIL",
        "19 bytes instead of 291",
    );
    expect_row(&out, "cut at random points, 17 messages", "FAIL", "stdout");
    assert!(
        out.stdout_text().contains("score: 0/2"),
        "{}",
        out.stdout_text()
    );
}

#[test]
fn a_pdc_that_waits_for_the_next_message_fails_the_timing() {
    let dir = TempDir::new().unwrap();
    script(dir.path(), "part2_pdc", WAITS_FOR_NEXT);
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--case",
            "part2: CMD_short:1",
            "--case",
            "part2: CMD_short:0, 17 messages from 0",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out.code(), Some(1), "{}", out.stdout_text());
    // Otherwise right: only the timing gives it away.
    expect_row(&out, "CMD_short:0, 17 messages from 0", "PASS", "");
    expect_row(
        &out,
        "CMD_short:1, each line as its message arrives",
        "FAIL",
        "after its message arrived",
    );
}

#[test]
#[cfg(target_os = "linux")] // the process tree is read from /proc
fn a_hanging_pdc_is_killed_at_the_time_limit() {
    let dir = TempDir::new().unwrap();
    // A marker only this test's processes carry, to look for leftovers.
    let marker = format!("{}.{}", std::process::id(), 4242);
    script(
        dir.path(),
        "part2_pdc",
        &format!("#!/bin/bash\nsleep {marker} | cat\n"),
    );
    let started = Instant::now();
    let out = grade(
        &[
            "--bin-dir",
            dir.path().to_str().unwrap(),
            "--part",
            "2",
            "--case",
            "2 messages from 0",
            "--time-limit",
            "2",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code(), Some(1));
    expect_row(&out, "2 messages from 0", "FAIL", "still running after");
    assert!(started.elapsed() < Duration::from_secs(15));
    // The script's own children (the pipeline) are gone too.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
}
