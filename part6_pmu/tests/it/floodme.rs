//! `CMD_floodme` over TLS: the bytes exactly, streamed, plus one missing
//! final newline.

use crate::util::{BIN, TestDir, client, part6};
use std::io::Read;
use std::time::Duration;

#[test]
fn a_100_mib_flood_arrives_byte_for_byte_over_tls_1_2_and_1_3() {
    let dir = TestDir::new("flood");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    // 100 MiB + 7: the text ends inside a line, so one newline is added.
    let size = 100 * 1024 * 1024 + 7;
    let server = crate::util::server_for(&pair, &["--flood-bytes", &size.to_string()]);
    let flood = lab_server::flood_text(size);
    for version in ["1.3", "1.2"] {
        let run = client(
            &ca,
            &server,
            &["--tls-version", version, "--stats", "CMD_floodme"],
        );
        assert!(run.status.success(), "TLS {version}: {}", run.stderr);
        run.expect_stdout_and_newline(&flood);
        assert!(
            run.stderr
                .contains(&format!("{} bytes, 1 message(s)", flood.len())),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_flood_ending_with_a_newline_gets_none_added_over_ipv6() {
    let dir = TestDir::new("flood-nl");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::Server::start(&crate::util::serve_args(
        &pair,
        "[::1]:0",
        &["--flood-bytes", "64000"],
    ));
    let run = part6(&[
        "client",
        "--ca",
        ca.cert.to_str().unwrap(),
        "--host",
        "::1",
        "--port",
        &server.port(),
        "CMD_floodme",
    ]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout == lab_server::flood_text(64000), "byte for byte");
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let dir = TestDir::new("flood-pipe");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--flood-bytes", "64MiB"]);
    // `part6_pmu client CMD_floodme | head -c 10`: the reader leaves early.
    let mut child = testkit::spawn_raw(
        BIN,
        &[
            "client",
            "--ca",
            ca.cert.to_str().unwrap(),
            "--port",
            &server.port(),
            "CMD_floodme",
        ],
    );
    let mut head = [0u8; 10];
    child.raw_stdout().unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"floodme 00");
    child.close_stdout();
    let run = child.output_within(Duration::from_secs(20));
    assert!(
        run.status.success(),
        "a broken pipe is success: {:?} {}",
        run.status,
        run.stderr
    );
    assert_eq!(run.stderr, "");
}
