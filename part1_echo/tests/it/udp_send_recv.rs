//! Codes A and B: a datagram from udp-send reaches udp-recv over IPv4 and
//! IPv6, which prints it and the sender's (unmapped) address.

use std::net::UdpSocket;

use crate::util::{listening, run};

/// Sends `message` with udp-send to `host` at a udp-recv bound to `bind`
/// and returns udp-recv's two lines.
fn send_one(bind: &str, host: &str, message: &str) -> Vec<String> {
    let (recv, addr) = listening(&format!("udp-recv --bind {bind} --port 0 --count 1"));
    let port = addr.port().to_string();
    let send = run(&["udp-send", "--host", host, "--port", &port, message]);
    assert!(send.status.success(), "udp-send: {send:?}");
    let recv = recv.finish();
    assert!(recv.status.success(), "udp-recv: {recv:?}");
    assert_eq!(recv.stdout.len(), 2, "udp-recv: {recv:?}");
    recv.stdout
}

#[test]
fn over_ipv4() {
    let lines = send_one("127.0.0.1", "127.0.0.1", "hello v4");
    assert_eq!(lines[0], "Received data: hello v4");
    assert!(
        lines[1].starts_with("From Address: 127.0.0.1:"),
        "{lines:?}"
    );
}

#[test]
fn over_ipv6() {
    let lines = send_one("::1", "::1", "hello v6");
    assert_eq!(lines[0], "Received data: hello v6");
    assert!(lines[1].starts_with("From Address: [::1]:"), "{lines:?}");
}

#[test]
fn localhost_goes_to_ipv6_first() {
    let lines = send_one("::1", "localhost", "hello localhost");
    assert_eq!(lines[0], "Received data: hello localhost");
    assert!(lines[1].starts_with("From Address: [::1]:"), "{lines:?}");
}

#[test]
fn an_ipv4_sender_to_an_ipv6_socket_shows_unmapped() {
    // ::ffff:127.0.0.1 is the v4-mapped loopback: the IPv6 socket gets the
    // IPv4 datagram from ::ffff:127.0.0.1, printed as 127.0.0.1.
    let lines = send_one("::ffff:127.0.0.1", "127.0.0.1", "mapped");
    assert_eq!(lines[0], "Received data: mapped");
    assert!(
        lines[1].starts_with("From Address: 127.0.0.1:"),
        "{lines:?}"
    );
}

#[test]
fn the_default_message_is_sent() {
    let lines = send_one("127.0.0.1", "127.0.0.1", "");
    assert_eq!(lines[0], "Received data: ");
    let (recv, addr) = listening("udp-recv --bind ::1 --port 0 --count 1");
    let port = addr.port().to_string();
    assert!(
        run(&["udp-send", "--host", "::1", "--port", &port])
            .status
            .success()
    );
    let recv = recv.finish();
    assert_eq!(recv.stdout[0], "Received data: Hello, UDP!");
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
    let from = format!("From Address: {from}");
    assert_eq!(
        recv.stdout,
        [
            "Received data: one",
            &from,
            "Received data: \u{fffd}a\u{fffd}",
            &from,
            "Received data: three",
            &from,
        ]
    );
}
