//! The UDP reset service: answers, loss, family and separator.

use lab_server::{Config, LabServer, OffsetSep, UdpFamily};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

fn start(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config::ephemeral();
    config.tcp_port = None;
    tweak(&mut config);
    LabServer::start(config).unwrap()
}

/// Sends `request` to `to` and waits up to `wait` for a reply.
fn ask(to: SocketAddr, request: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })
    .unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.send_to(request, to).unwrap();
    let mut buf = [0u8; 256];
    match sock.recv_from(&mut buf) {
        Ok((n, from)) => {
            assert_eq!(from, to, "the reply comes from the server's address");
            Some(buf[..n].to_vec())
        }
        Err(_) => None,
    }
}

fn loopback(v6: bool, port: u16) -> SocketAddr {
    if v6 {
        ([0, 0, 0, 0, 0, 0, 0, 1], port).into()
    } else {
        ([127, 0, 0, 1], port).into()
    }
}

#[test]
fn answers_reset_with_an_offset_in_range() {
    let lab = start(|c| c.offset_sep = OffsetSep::Equals);
    let to = loopback(false, lab.udp_port().unwrap());
    for _ in 0..50 {
        let reply = ask(to, b"RESET:20", Duration::from_secs(2)).expect("lossless");
        let text = String::from_utf8(reply).unwrap();
        let x: u32 = text.strip_prefix("OFFSET=").unwrap().parse().unwrap();
        assert!(x <= 20);
    }
    assert_eq!(
        ask(to, b"RESET:0", Duration::from_secs(2)).unwrap(),
        b"OFFSET=0"
    );
}

#[test]
fn the_course_servers_colon_form() {
    let lab = start(|c| c.offset_sep = OffsetSep::Colon);
    let reply = ask(
        loopback(false, lab.udp_port().unwrap()),
        b"RESET:5\n",
        Duration::from_secs(2),
    )
    .unwrap();
    assert!(reply.starts_with(b"OFFSET:"), "{reply:?}");
}

#[test]
fn anything_else_is_a_wrong_command() {
    let lab = start(|_| {});
    let to = loopback(false, lab.udp_port().unwrap());
    for bad in [&b"RESET"[..], b"RESET:-1", b"hello", b""] {
        assert_eq!(
            ask(to, bad, Duration::from_secs(2)).unwrap(),
            b"Wrong command."
        );
    }
}

#[test]
fn one_family_at_a_time() {
    let v6_only = start(|c| c.udp_family = UdpFamily::V6);
    assert_eq!(v6_only.udp_addrs().len(), 1);
    assert!(v6_only.udp_addrs()[0].is_ipv6());
    let port = v6_only.udp_port().unwrap();
    assert!(ask(loopback(true, port), b"RESET:20", Duration::from_secs(2)).is_some());
    assert!(
        ask(
            loopback(false, port),
            b"RESET:20",
            Duration::from_millis(200)
        )
        .is_none()
    );
}

#[test]
fn alternating_families_take_turns() {
    let lab = start(|c| c.udp_family = UdpFamily::Alternate(Duration::from_millis(400)));
    let port = lab.udp_port().unwrap();
    // In the first period IPv4 answers and IPv6 does not; then the reverse.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        ask(
            loopback(false, port),
            b"RESET:1",
            Duration::from_millis(100)
        )
        .is_some()
    );
    assert!(ask(loopback(true, port), b"RESET:1", Duration::from_millis(100)).is_none());
    std::thread::sleep(Duration::from_millis(400));
    assert!(ask(loopback(true, port), b"RESET:1", Duration::from_millis(100)).is_some());
    assert!(
        ask(
            loopback(false, port),
            b"RESET:1",
            Duration::from_millis(100)
        )
        .is_none()
    );
}

#[test]
fn loss_drops_about_that_share_of_requests() {
    let lab = start(|c| c.loss = 0.5);
    let to = loopback(false, lab.udp_port().unwrap());
    let answered = (0..200)
        .filter(|_| ask(to, b"RESET:20", Duration::from_millis(50)).is_some())
        .count();
    // Binomial(200, 0.5): outside 60..140 has probability far below 1e-6.
    assert!((60..140).contains(&answered), "{answered} of 200 answered");
    let all_lost = start(|c| c.loss = 1.0);
    let to = loopback(false, all_lost.udp_port().unwrap());
    assert!(ask(to, b"RESET:20", Duration::from_millis(100)).is_none());
}
