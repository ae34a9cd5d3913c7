//! The PDC under server faults (docs/HARDENING.md): a server that closes in
//! the middle of a message, resets, sends for ever (memory stays flat),
//! on a host without IPv6. (A silent server and an unknown host are in
//! `errors.rs`.)

#[cfg(target_os = "linux")]
use crate::util::BIN;
use crate::util::pdc;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;
#[cfg(target_os = "linux")]
use testkit::limits;

const LIMIT: Duration = Duration::from_secs(30);

/// A one-connection peer on 127.0.0.1: reads the command, then `script`.
fn peer(script: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut command = [0u8; 64];
        let _ = conn.read(&mut command);
        script(conn);
    });
    (addr, thread)
}

fn args(addr: SocketAddr, command: &str) -> Vec<String> {
    vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        addr.port().to_string(),
        "--timeout".into(),
        "5".into(),
        command.into(),
    ]
}

#[test]
fn a_server_that_closes_in_the_middle_of_a_message() {
    let (addr, server) = peer(|mut conn| {
        conn.write_all(b"This is PMU data 0This is PMU da").unwrap();
    });
    let a = args(addr, "CMD_short:0");
    let run = pdc(&a.iter().map(String::as_str).collect::<Vec<_>>(), LIMIT);
    server.join().unwrap();
    // The end of the stream is the end of the answer: the cut message is
    // shown as it came, on its own line (the splitter's rule for bytes
    // that are not a whole message), and it is no error.
    run.expect_code(0);
    assert_eq!(run.stdout_text(), "This is PMU data 0\nThis is PMU da\n");
}

#[test]
fn a_reset_in_the_middle_of_the_answer_is_an_error() {
    let (addr, server) = peer(|conn| {
        (&conn)
            .write_all(b"This is PMU data 0This is PMU da")
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let a = args(addr, "CMD_short:0");
    let run = pdc(&a.iter().map(String::as_str).collect::<Vec<_>>(), LIMIT);
    server.join().unwrap();
    run.expect_code(1);
    run.expect_one_line_error("part2_pdc", "Connection reset by peer");
    // What had arrived whole is printed before the error.
    assert_eq!(run.stdout_text(), "This is PMU data 0\n");
}

/// Streams `total` bytes of `pattern` to the first client, then closes.
#[cfg(target_os = "linux")]
fn streaming_peer(total: u64, pattern: &'static [u8]) -> (SocketAddr, JoinHandle<()>) {
    peer(move |mut conn| {
        let chunk: Vec<u8> = pattern.iter().copied().cycle().take(1 << 20).collect();
        let mut sent = 0;
        while sent < total {
            if conn.write_all(&chunk).is_err() {
                return;
            }
            sent += chunk.len() as u64;
        }
    })
}

#[test]
#[cfg(target_os = "linux")] // memory read from /proc
fn a_server_that_sends_for_ever_does_not_grow_memory() {
    // CMD_floodme: 2 GiB, streamed to stdout (here /dev/null).
    let (addr, server) = streaming_peer(2 << 30, b"0123456789abcdef");
    let a = args(addr, "CMD_floodme");
    let flood = limits::run_measured(
        BIN,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        LIMIT,
    );
    server.join().unwrap();
    assert!(flood.status.success(), "{}", flood.stderr);
    // CMD_short: 256 MiB that never is a PMU message (cut every 64 KiB).
    let (addr, server) = streaming_peer(256 << 20, b"Not PMU data; ");
    let a = args(addr, "CMD_short:0");
    let short = limits::run_measured(
        BIN,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        LIMIT,
    );
    server.join().unwrap();
    assert!(short.status.success(), "{}", short.stderr);
    for (what, run) in [
        ("2 GiB floodme", &flood),
        ("256 MiB of non-PMU bytes", &short),
    ] {
        eprintln!(
            "HARDENING part2_pdc | {what} | peak RSS {} KiB, {} threads, {} fds | {:.2?}",
            run.peak.hwm_kib, run.peak.threads, run.peak.fds, run.elapsed
        );
        assert!(
            run.peak.hwm_kib < 32 * 1024,
            "{what}: peak RSS {} KiB",
            run.peak.hwm_kib
        );
    }
}

#[test]
fn without_ipv6_localhost_is_reached_over_ipv4() {
    // part2_pdc's socket is always AF_INET6: with IPv6 off, ::1 fails and
    // 127.0.0.1 is reached through its v4-mapped address.
    let Some(run) = testkit::netns::without_ipv6(|| {
        let lab = crate::util::server(|c| {
            c.bind = vec![[127, 0, 0, 1].into()];
            c.messages = 10;
        });
        let port = lab.tcp_port().unwrap().to_string();
        pdc(
            &["--host", "localhost", "--port", &port, "CMD_short:0"],
            LIMIT,
        )
    }) else {
        return;
    };
    run.expect_code(0);
    assert_eq!(run.stdout_text(), crate::util::pmu_lines(0, 10));
}
