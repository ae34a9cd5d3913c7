//! Codes A and B: a datagram from udp-send reaches udp-recv over IPv4 and
//! IPv6; udp-send prints `Message sent` and nothing else on stdout, and
//! udp-recv prints the handout's two lines with the sender's address as
//! Python's tuple.

use std::net::{SocketAddr, UdpSocket};

use crate::util::{HANDOUT_DATAGRAM, listening, py_addr, run};

/// Sends `message` (the default if `None`) with udp-send to `host` at a
/// udp-recv bound to `bind`; returns udp-recv's two lines and the port
/// udp-send sent from (from its stderr note).
fn send_one(bind: &str, host: &str, message: Option<&str>) -> (Vec<String>, u16) {
    let (recv, addr) = listening(&format!("udp-recv --bind {bind} --port 0 --count 1"));
    let port = addr.port().to_string();
    let mut args = vec!["udp-send", "--host", host, "--port", &port];
    args.extend(message);
    let send = run(&args);
    assert!(send.status.success(), "udp-send: {send:?}");
    assert_eq!(send.stdout, ["Message sent"], "udp-send: {send:?}");
    let from: SocketAddr = send
        .stderr
        .iter()
        .find_map(|l| l.split(" from ").nth(1)?.split(": ").next()?.parse().ok())
        .unwrap_or_else(|| panic!("no `from ADDR` in udp-send's stderr: {send:?}"));
    let recv = recv.finish();
    assert!(recv.status.success(), "udp-recv: {recv:?}");
    assert_eq!(recv.stdout.len(), 2, "udp-recv: {recv:?}");
    (recv.stdout, from.port())
}

#[test]
fn over_ipv4() {
    let (lines, port) = send_one("127.0.0.1", "127.0.0.1", Some("hello v4"));
    assert_eq!(
        lines,
        [
            "Received data:  hello v4".to_string(),
            format!("From Address:  ('127.0.0.1', {port})"),
        ]
    );
}

#[test]
fn over_ipv6() {
    let (lines, port) = send_one("::1", "::1", Some("hello v6"));
    assert_eq!(
        lines,
        [
            "Received data:  hello v6".to_string(),
            format!("From Address:  ('::1', {port}, 0, 0)"),
        ]
    );
}

#[test]
fn localhost_goes_to_ipv6_first() {
    let (lines, port) = send_one("::1", "localhost", Some("hello localhost"));
    assert_eq!(lines[0], "Received data:  hello localhost");
    assert_eq!(lines[1], format!("From Address:  ('::1', {port}, 0, 0)"));
}

#[test]
fn an_ipv4_sender_to_an_ipv6_socket_shows_unmapped() {
    // ::ffff:127.0.0.1 is the v4-mapped loopback: the IPv6 socket gets the
    // IPv4 datagram from ::ffff:127.0.0.1, printed as 127.0.0.1.
    let (lines, port) = send_one("::ffff:127.0.0.1", "127.0.0.1", Some("mapped"));
    assert_eq!(lines[0], "Received data:  mapped");
    assert_eq!(lines[1], format!("From Address:  ('127.0.0.1', {port})"));
}

#[test]
fn the_default_message_is_codes_a_13_bytes() {
    for (bind, host, shown) in [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("::1", "::1", "::1"),
    ] {
        let (lines, port) = send_one(bind, host, None);
        let from = if shown.contains(':') {
            format!("From Address:  ('{shown}', {port}, 0, 0)")
        } else {
            format!("From Address:  ('{shown}', {port})")
        };
        // The trailing space of `Hello, Romeo ` is part of the line.
        assert_eq!(lines, ["Received data:  Hello, Romeo ".to_string(), from]);
    }
    assert_eq!(HANDOUT_DATAGRAM.len(), 13);
}

#[test]
fn an_empty_message_is_an_empty_datagram() {
    let (lines, _) = send_one("127.0.0.1", "127.0.0.1", Some(""));
    assert_eq!(lines[0], "Received data:  ");
}

#[test]
fn count_stops_after_n_datagrams_and_bad_bytes_are_shown_lossily() {
    let (recv, addr) = listening("udp-recv --bind 127.0.0.1 --port 0 --count 3");
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    let from = sender.local_addr().expect("local address");
    for datagram in [&b"one"[..], &[0xff, b'a', 0xc3][..], b"three"] {
        sender.send_to(datagram, addr).expect("send");
    }
    let recv = recv.finish();
    assert!(recv.status.success(), "udp-recv: {recv:?}");
    let from = format!("From Address:  {}", py_addr(from));
    assert_eq!(
        recv.stdout,
        [
            "Received data:  one",
            &from,
            "Received data:  \u{fffd}a\u{fffd}",
            &from,
            "Received data:  three",
            &from,
        ]
    );
}
