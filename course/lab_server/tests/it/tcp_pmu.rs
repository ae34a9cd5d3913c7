//! The TCP PMU as a client sees it: commands, wrong commands, split
//! commands, silent clients and the connection cap.

use lab_server::{Config, LabServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn start(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config::ephemeral();
    config.udp_port = None;
    tweak(&mut config);
    LabServer::start(config).unwrap()
}

fn connect(lab: &LabServer, v6: bool) -> TcpStream {
    let addr = *lab.tcp_addrs().iter().find(|a| a.is_ipv6() == v6).unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn answer(stream: &mut TcpStream, request: &[&[u8]]) -> Vec<u8> {
    for part in request {
        stream.write_all(part).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn both_families_share_one_port() {
    let lab = start(|_| {});
    let ports: Vec<u16> = lab.tcp_addrs().iter().map(SocketAddr::port).collect();
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[0], ports[1]);
}

#[test]
fn short_sends_numbered_messages_from_the_first_index() {
    let lab = start(|c| {
        c.messages = 3;
        c.first_index = 1;
    });
    for v6 in [false, true] {
        let got = answer(&mut connect(&lab, v6), &[b"CMD_short:0"]);
        assert_eq!(
            got,
            b"This is PMU data 1This is PMU data 2This is PMU data 3"
        );
    }
}

#[test]
fn the_interval_separates_the_messages() {
    let lab = start(|c| c.messages = 3);
    let start = Instant::now();
    let got = answer(&mut connect(&lab, false), &[b"CMD_short:0.2"]);
    assert_eq!(got.len(), 3 * 18);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "two intervals between three messages: {took:?}"
    );
}

#[test]
fn commands_split_across_sends_or_with_trailing_white_space_are_served() {
    let lab = start(|c| c.messages = 1);
    assert_eq!(
        answer(&mut connect(&lab, true), &[b"CMD_sh", b"ort:0"]),
        b"This is PMU data 0"
    );
    assert_eq!(
        answer(&mut connect(&lab, true), &[b"CMD_short:0\r\n"]),
        b"This is PMU data 0"
    );
    assert_eq!(
        answer(&mut connect(&lab, true), &[b"CMD_short:0.", b"0"]),
        b"This is PMU data 0"
    );
}

#[test]
fn anything_else_is_a_wrong_command() {
    let lab = start(|_| {});
    for bad in [
        &b"hello"[..],
        b"CMD_short:-1",
        b"CMD_floodme please",
        b"\xff\xfe",
        &[b'C'; 100],
    ] {
        assert_eq!(
            answer(&mut connect(&lab, false), &[bad]),
            b"Wrong command.",
            "{bad:?}"
        );
    }
}

#[test]
fn floodme_is_the_shared_text() {
    let lab = start(|c| c.flood_bytes = 1 << 20);
    let got = answer(&mut connect(&lab, true), &[b"CMD_floodme"]);
    assert!(got == lab.flood()[..]);
    assert!(
        std::sync::Arc::ptr_eq(&lab.flood(), &lab.flood()),
        "built once"
    );
}

#[test]
fn extra_bytes_after_the_command_do_not_reset_the_answer() {
    // Unread bytes at close() would send an RST, which makes the client's
    // kernel drop the answer it has not read yet.
    let lab = start(|c| c.messages = 500);
    let mut stream = connect(&lab, false);
    stream.write_all(b"CMD_short:0").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream.write_all(&[b'x'; 10_000]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    assert!(out.ends_with(b"This is PMU data 499"));
}

#[test]
fn a_silent_client_is_dropped_after_the_read_timeout() {
    let lab = start(|c| c.read_timeout = Duration::from_millis(300));
    let mut silent = connect(&lab, false);
    let start = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn connections_over_the_cap_are_closed_and_others_still_served() {
    let lab = start(|c| {
        c.max_connections = 2;
        c.messages = 1;
        c.read_timeout = Duration::from_millis(500);
    });
    let _silent: Vec<TcpStream> = (0..2).map(|_| connect(&lab, true)).collect();
    std::thread::sleep(Duration::from_millis(100));
    // Over the cap: closed at once, so the command meets a reset or an EOF.
    let mut over = connect(&lab, true);
    std::thread::sleep(Duration::from_millis(100));
    let _ = over.write_all(b"CMD_short:0");
    let mut out = Vec::new();
    match over.read_to_end(&mut out) {
        Ok(_) => assert!(out.is_empty(), "{out:?}"),
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset),
    }
    // The silent ones time out and free their places.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        answer(&mut connect(&lab, true), &[b"CMD_short:0"]),
        b"This is PMU data 0"
    );
}

/// Sends `bytes` one every 200 ms (cycling, at most 50) until the server
/// closes the connection; returns how long the server kept it.
fn trickle(mut stream: TcpStream, bytes: &[u8], cycle: bool) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let count = if cycle { 50 } else { bytes.len() };
    let mut buf = [0u8; 64];
    for &b in bytes.iter().cycle().take(count) {
        if stream.write_all(&[b]).is_err() {
            return start.elapsed();
        }
        // Waits 200 ms for the server to close (EOF or reset); data would
        // be an answer the server must not give.
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(n) => panic!("an answer to a command that never came: {:?}", &buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return start.elapsed(),
        }
    }
    // Silent from here on: the server's own time-out ends it.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.read(&mut buf);
    start.elapsed()
}

#[test]
fn a_command_trickled_in_byte_by_byte_is_cut_off_at_the_read_timeout() {
    // Each byte comes well within the time-out; the command as a whole does
    // not: the time-out is a deadline from connecting, not per read (per
    // read, the server would hold on until 0.5 s after the last byte, 1.9 s).
    let lab = start(|c| c.read_timeout = Duration::from_millis(500));
    let kept = trickle(connect(&lab, false), b"CMD_sho", false);
    assert!(kept < Duration::from_millis(1200), "kept {kept:?}");
}

#[test]
fn a_websocket_handshake_trickled_in_is_cut_off_at_the_read_timeout() {
    let lab = start(|c| {
        c.ws_port = Some(0);
        c.read_timeout = Duration::from_millis(500);
    });
    let stream = TcpStream::connect(lab.ws_addrs()[0]).unwrap();
    // Header lines for ever, never the blank line that ends the request.
    let kept = trickle(stream, b"GET / HTTP/1.1\r\nX: y\r\n", true);
    assert!(kept < Duration::from_millis(1200), "kept {kept:?}");
}

/// Out of the box, the course server's answers: 20 messages from 0, and an
/// excerpt of Hamlet of about 56 KiB from ACT I for CMD_floodme.
#[test]
fn the_defaults_are_the_course_servers() {
    let lab = start(|_| {});
    let got = answer(&mut connect(&lab, false), &[b"CMD_short:0"]);
    let expected: String = (0..20).map(|i| format!("This is PMU data {i}")).collect();
    assert_eq!(String::from_utf8(got).unwrap(), expected);
    let flood = answer(&mut connect(&lab, true), &[b"CMD_floodme"]);
    assert_eq!(flood, lab_server::HAMLET.as_bytes());
    assert!(flood.starts_with(b"ACT I\nSCENE I. Elsinore. A platform before the castle.\n"));
    assert!((56_000..58_000).contains(&flood.len()), "{}", flood.len());
}

/// --flood-bytes: any size, the excerpt repeated.
#[test]
fn a_bigger_flood_repeats_the_excerpt() {
    let size = 2 * lab_server::HAMLET.len() + 10;
    let lab = start(|c| c.flood_bytes = size as u64);
    let flood = answer(&mut connect(&lab, false), &[b"CMD_floodme"]);
    assert_eq!(flood.len(), size);
    assert_eq!(flood, lab_server::hamlet_flood(size));
    assert_eq!(&flood[2 * lab_server::HAMLET.len()..], b"ACT I\nSCEN");
}
