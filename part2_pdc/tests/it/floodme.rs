//! `CMD_floodme`: the bytes exactly, streamed, plus one missing final newline.

use crate::util::{pdc, server};
use std::time::Duration;

#[test]
fn a_100_mib_flood_arrives_byte_for_byte() {
    // 100 MiB + 7: the text ends inside a line, so one newline is added.
    let lab = server(|c| c.flood_bytes = 100 * 1024 * 1024 + 7);
    let port = lab.tcp_port().unwrap().to_string();
    let run = pdc(
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--stats",
            "CMD_floodme",
        ],
        Duration::from_secs(60),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let flood = lab.flood();
    run.expect_stdout_and_newline(&flood);
    assert!(
        run.stderr.contains(&format!("{} bytes", flood.len())),
        "{}",
        run.stderr
    );
}

#[test]
fn a_flood_ending_with_a_newline_gets_none_added() {
    // Twice the Hamlet excerpt, which ends with a newline.
    let lab = server(|c| c.flood_bytes = 2 * lab_server::HAMLET.len() as u64);
    let port = lab.tcp_port().unwrap().to_string();
    for bufsize in ["1000", "65536"] {
        let run = pdc(
            &[
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--bufsize",
                bufsize,
                "CMD_floodme",
            ],
            Duration::from_secs(20),
        );
        assert!(run.status.success(), "{}", run.stderr);
        assert!(run.stdout == lab.flood()[..], "bufsize {bufsize}");
    }
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let lab = server(|c| c.flood_bytes = 64 * 1024 * 1024);
    let port = lab.tcp_port().unwrap().to_string();
    // `part2_pdc CMD_floodme | head -c 10`: the reader leaves early.
    let mut proc = testkit::spawn_raw(
        crate::util::BIN,
        &["--host", "::1", "--port", &port, "CMD_floodme"],
    );
    let mut head = [0u8; 10];
    std::io::Read::read_exact(proc.raw_stdout().unwrap(), &mut head).unwrap();
    proc.close_stdout();
    let run = proc.finish();
    assert!(
        run.status.success(),
        "a broken pipe is success: {:?} {:?}",
        run.status,
        run.stderr
    );
    assert!(run.stderr.is_empty(), "{:?}", run.stderr);
}
