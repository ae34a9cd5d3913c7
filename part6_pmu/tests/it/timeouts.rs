//! A silent, half-open or slow client never delays another; time-outs and
//! the connection cap end what would otherwise hold a thread for ever.

use crate::util::{TestDir, pmu_lines, python};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn client(ca: &crate::util::Ca, server: &crate::util::Server) -> crate::util::Run {
    crate::util::client(ca, server, &["CMD_short:0"])
}

/// The first bytes of a TLS ClientHello record, and nothing more.
const HALF_A_HELLO: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03];

#[test]
fn silent_and_half_open_clients_do_not_delay_another() {
    let dir = TestDir::new("silent");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--messages", "3"]);
    let addr = server.addrs[0];
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).unwrap());
    }
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(HALF_A_HELLO).unwrap();
    let start = Instant::now();
    let run = client(&ca, &server);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(0, 3));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn the_handshake_time_out_closes_silent_and_half_open_clients() {
    let dir = TestDir::new("hs-timeout");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--handshake-timeout", "0.5"]);
    let addr = server.addrs[0];
    for hello in [&b""[..], HALF_A_HELLO] {
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.write_all(hello).unwrap();
        // A byte every 0.2 s does not keep the connection open past the
        // deadline (a slowloris gets no more time than a silent client).
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 64];
        loop {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(_) if start.elapsed() < Duration::from_secs(5) => {
                    if !hello.is_empty() {
                        // More of the ClientHello's 512-byte record.
                        let _ = sock.write_all(&[0x00]);
                    }
                }
                Err(err) => panic!("still open after {:?}: {err}", start.elapsed()),
            }
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }
    server.wait_for_log("no handshake within 0.5 s (--handshake-timeout); closed");
}

#[test]
fn a_client_that_never_sends_its_command_is_closed() {
    let dir = TestDir::new("no-command");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(&pair, &["--handshake-timeout", "0.5"]);
    // Handshakes, then waits for the server to close.
    let script = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(sys.argv[1])
ctx.check_hostname = False
tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5))
print(repr(tls.recv(100)))
"#;
    let start = Instant::now();
    let run = python(
        script,
        &[ca.cert.to_str().unwrap(), &server.port()],
        Duration::from_secs(10),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text().trim(), "b''", "closed with close_notify");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    server.wait_for_log("no command within 0.5 s");
}

#[test]
fn a_connection_over_the_cap_is_closed_and_the_cap_frees_up() {
    let dir = TestDir::new("cap");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server = crate::util::server_for(
        &pair,
        &[
            "--max-connections",
            "1",
            "--handshake-timeout",
            "1",
            "--messages",
            "1",
        ],
    );
    let silent = TcpStream::connect(server.addrs[0]).unwrap();
    server.wait_for_log("listening on");
    std::thread::sleep(Duration::from_millis(100));
    let run = client(&ca, &server);
    run.assert_error(
        1,
        &["the server closed the connection during the handshake"],
    );
    server.wait_for_log("refused, 1 connections already");
    // Once the silent client has timed out, the slot is free again.
    server.wait_for_log("no handshake within 1 s");
    let run = client(&ca, &server);
    assert!(run.status.success(), "{}", run.stderr);
    drop(silent);
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_idle_time_out() {
    let dir = TestDir::new("idle");
    let ca = dir.ca("ca");
    let pair = ca.server(&dir, "server", |_| {});
    let server =
        crate::util::server_for(&pair, &["--idle-timeout", "0.5", "--flood-bytes", "64MiB"]);
    let script = r#"
import socket, ssl, sys, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(sys.argv[1])
ctx.check_hostname = False
sock = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
tls = ctx.wrap_socket(sock)
tls.sendall(b"CMD_floodme")
time.sleep(3)   # never reads the flood
"#;
    let ca_path = ca.cert.to_str().unwrap().to_string();
    let port = server.port();
    let stalled =
        std::thread::spawn(move || python(script, &[&ca_path, &port], Duration::from_secs(15)));
    // Meanwhile another client is served at once.
    std::thread::sleep(Duration::from_millis(300));
    let run = client(&ca, &server);
    assert!(run.status.success(), "{}", run.stderr);
    server.wait_for_log("the client stopped reading; --idle-timeout");
    let _ = stalled.join();
}
