//! `--max-tries N` gives up after N unanswered attempts, with one error line and status 1.

use crate::util::{port_of, reset_server, run};
use lab_server::{OffsetSep, UdpFamily};
use std::time::Duration;

#[test]
fn silent_server_gives_up_after_max_tries() {
    // Loss 1: every request is dropped.
    let server = reset_server(UdpFamily::V4, 1.0, OffsetSep::Colon);
    let port = port_of(&server);
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &port,
        "--max-tries",
        "3",
        "--timeout",
        "0.3",
    ]);
    out.expect_code(1);
    assert!(out.stdout.is_empty(), "{out:#?}");
    let stderr = out.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("part3_reset: error: "), "{stderr}");
    assert!(stderr.contains("after 3 attempts"), "{stderr}");
    assert!(
        stderr.contains("localhost") && stderr.contains(&port),
        "{stderr}"
    );
    assert!(stderr.contains("firewall"), "{stderr}");
    assert!(
        out.elapsed >= Duration::from_millis(850) && out.elapsed < Duration::from_secs(5),
        "about 3 x 0.3 s: {:?}",
        out.elapsed
    );
}
