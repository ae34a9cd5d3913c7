//! `CMD_floodme` into a file, an appending file and a pipe (on Linux the
//! `splice(2)` path, and its copying fallback): the bytes exactly, the
//! final-newline rule, `--stats` counting what was moved, and what had come
//! printed before an error.

use crate::util::{BIN, pdc, server};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs part2_pdc with stdout into `file`: (exit code, stderr).
fn pdc_into(file: File, args: &[&str]) -> (Option<i32>, String) {
    let run = testkit::run_into(BIN, args, file, LIMIT);
    (run.code(), run.stderr)
}

/// A fresh file in the temporary folder, and its path.
fn temp_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("part2_pdc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_flood_into_a_file_is_exact_with_its_stats() {
    // 3 MiB + 7: ends inside a line, so one newline is added.
    let lab = server(|c| c.flood_bytes = 3 * 1024 * 1024 + 7);
    let port = lab.tcp_port().unwrap().to_string();
    let flood = lab.flood();
    let path = temp_file("flood");
    let (code, stderr) = pdc_into(
        File::create(&path).unwrap(),
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--stats",
            "CMD_floodme",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(written.len() == flood.len() + 1 && written[..flood.len()] == flood[..]);
    assert_eq!(written.last(), Some(&b'\n'));
    let stats = format!("{} bytes, 1 message(s)", flood.len());
    assert!(stderr.contains(&stats), "{stderr}");
}

#[test]
fn a_flood_ending_with_a_newline_into_a_file_gets_none_added() {
    // Twice the Hamlet excerpt, which ends with its newline.
    let lab = server(|c| c.flood_bytes = 2 * lab_server::HAMLET.len() as u64);
    assert!(
        lab.flood().ends_with(b"\n"),
        "the flood ends with a newline"
    );
    let port = lab.tcp_port().unwrap().to_string();
    let path = temp_file("newline");
    for bufsize in ["1", "1000", "65536"] {
        let (code, stderr) = pdc_into(
            File::create(&path).unwrap(),
            &[
                "--host",
                "::1",
                "--port",
                &port,
                "--bufsize",
                bufsize,
                "CMD_floodme",
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            std::fs::read(&path).unwrap() == lab.flood()[..],
            "{bufsize}"
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_flood_appended_to_a_file_keeps_what_was_there() {
    // `>>`: O_APPEND, which splice refuses; the ordinary loop runs.
    let lab = server(|c| c.flood_bytes = 1024 * 1024 + 3);
    let port = lab.tcp_port().unwrap().to_string();
    let path = temp_file("append");
    std::fs::write(&path, b"before\n").unwrap();
    let file = File::options().append(true).open(&path).unwrap();
    let (code, stderr) = pdc_into(
        file,
        &["--host", "127.0.0.1", "--port", &port, "CMD_floodme"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let mut want = b"before\n".to_vec();
    want.extend_from_slice(&lab.flood());
    want.push(b'\n');
    assert!(std::fs::read(&path).unwrap() == want);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn stats_count_every_receive_into_a_pipe() {
    // With 1000-byte receives, at least one call per 1000 bytes, and the
    // bytes exactly.
    let lab = server(|c| c.flood_bytes = 200 * 1000 + 1);
    let port = lab.tcp_port().unwrap().to_string();
    let run = pdc(
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--bufsize",
            "1000",
            "--stats",
            "CMD_floodme",
        ],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    run.expect_stdout_and_newline(&lab.flood());
    let calls: u64 = run
        .stderr
        .split(" recv() calls")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(calls >= 201, "{}", run.stderr);
    assert!(
        run.stderr.contains("200001 bytes, 1 message(s)"),
        "{}",
        run.stderr
    );
}

/// A server that sends `bytes` in answer to any command, then `then`.
fn peer(bytes: &'static [u8], then: fn(std::net::TcpStream)) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut command = [0u8; 64];
        let _ = conn.read(&mut command);
        conn.write_all(bytes).unwrap();
        then(conn);
    });
    port
}

#[test]
fn a_silent_flood_prints_what_came_then_fails() {
    let port = peer(b"first bytes", |conn| {
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    for into_file in [false, true] {
        let port = if into_file {
            peer(b"first bytes", |conn| {
                std::thread::sleep(Duration::from_secs(3));
                drop(conn);
            })
        } else {
            port.clone()
        };
        let args = [
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--timeout",
            "0.5",
            "CMD_floodme",
        ];
        let (code, stderr, stdout) = if into_file {
            let path = temp_file("silent");
            let (code, stderr) = pdc_into(File::create(&path).unwrap(), &args);
            let stdout = std::fs::read(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            (code, stderr, stdout)
        } else {
            let run = pdc(&args, LIMIT);
            (run.status.code(), run.stderr.clone(), run.stdout.clone())
        };
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stderr.contains("the server is silent"), "{stderr}");
        assert_eq!(stdout, b"first bytes", "into a file: {into_file}");
    }
}

#[test]
fn a_reset_flood_prints_what_came_then_fails() {
    let port = peer(b"some bytes", |conn| {
        std::thread::sleep(Duration::from_millis(300));
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let run = pdc(
        &["--host", "127.0.0.1", "--port", &port, "CMD_floodme"],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("reset"), "{}", run.stderr);
    assert_eq!(run.stdout, b"some bytes");
}
