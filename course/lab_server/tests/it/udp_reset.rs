//! The UDP reset service: answers only `RESET:<n>` for its n, loses every
//! kind of datagram at its loss rate, serves one family at a time with the
//! other unbound (a connected client gets `ECONNREFUSED`), and has the
//! course's defaults.

use lab_server::{Config, LabServer, OffsetSep, UdpFamily};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The reset service alone, changed by `tweak`; the tests that do not
/// study loss or families set `loss: 0` and one family themselves.
fn start(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config::ephemeral();
    config.tcp_port = None;
    config.ws_port = None;
    tweak(&mut config);
    LabServer::start(config).unwrap()
}

/// No loss, IPv4 only.
fn lossless_v4(c: &mut Config) {
    c.loss = 0.0;
    c.udp_family = UdpFamily::V4;
}

/// What happened to one request.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Reply(Vec<u8>),
    /// ICMP port unreachable: nothing bound there.
    Refused,
    Silence,
}

/// Sends `request` from a socket connected to `to` and waits up to `wait`
/// for a reply.
fn exchange(to: SocketAddr, request: &[u8], wait: Duration) -> Outcome {
    let sock = UdpSocket::bind(if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })
    .unwrap();
    sock.connect(to).unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    if let Err(err) = sock.send(request) {
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        return Outcome::Refused;
    }
    let mut buf = [0u8; 256];
    match sock.recv(&mut buf) {
        Ok(n) => Outcome::Reply(buf[..n].to_vec()),
        Err(err) if err.kind() == ErrorKind::ConnectionRefused => Outcome::Refused,
        Err(_) => Outcome::Silence,
    }
}

fn ask(to: SocketAddr, request: &[u8], wait: Duration) -> Option<Vec<u8>> {
    match exchange(to, request, wait) {
        Outcome::Reply(reply) => Some(reply),
        _ => None,
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
fn the_defaults_are_the_course_servers() {
    let c = Config::default();
    assert_eq!(c.reset_n, 20);
    assert_eq!(c.loss, 0.5);
    assert_eq!(c.udp_family, UdpFamily::Alternate(Duration::from_secs(10)));
    assert_eq!(c.offset_sep, OffsetSep::Colon);
    assert_eq!(c.udp_port, Some(5004));
}

#[test]
fn answers_its_reset_with_an_offset_in_range() {
    let lab = start(|c| {
        lossless_v4(c);
        c.reset_n = 7;
        c.offset_sep = OffsetSep::Equals;
    });
    let to = loopback(false, lab.udp_port().unwrap());
    let mut seen = [false; 8];
    for _ in 0..200 {
        let reply = ask(to, b"RESET:7", Duration::from_secs(2)).expect("lossless");
        let text = String::from_utf8(reply).unwrap();
        let x: usize = text.strip_prefix("OFFSET=").unwrap().parse().unwrap();
        seen[x] = true;
    }
    // Uniform in 0..=7: 200 draws miss a value with probability < 1e-10.
    assert!(seen.iter().all(|s| *s), "{seen:?}");
    // Another n is not this server's reset.
    assert_eq!(
        ask(to, b"RESET:20", Duration::from_secs(2)).unwrap(),
        b"Wrong command."
    );
}

#[test]
fn the_course_servers_colon_form() {
    let lab = start(lossless_v4);
    let reply = ask(
        loopback(false, lab.udp_port().unwrap()),
        b"RESET:20",
        Duration::from_secs(2),
    )
    .unwrap();
    let text = String::from_utf8(reply).unwrap();
    let x: u32 = text.strip_prefix("OFFSET:").unwrap().parse().unwrap();
    assert!(x <= 20, "{text}");
}

#[test]
fn anything_but_the_exact_reset_is_a_wrong_command() {
    let lab = start(lossless_v4);
    let to = loopback(false, lab.udp_port().unwrap());
    for bad in [
        &b"RESET"[..],
        b"RESET:20\n",
        b" RESET:20",
        b"RESET:020",
        b"RESET:19",
        b"RESET:-1",
        b"RESET=20",
        b"hello",
        b"",
    ] {
        assert_eq!(
            ask(to, bad, Duration::from_secs(2)).unwrap(),
            b"Wrong command.",
            "{}",
            bad.escape_ascii()
        );
    }
}

#[test]
fn one_family_at_a_time() {
    let v6_only = start(|c| {
        c.loss = 0.0;
        c.udp_family = UdpFamily::V6;
    });
    assert_eq!(v6_only.udp_addrs().len(), 1);
    assert!(v6_only.udp_addrs()[0].is_ipv6());
    let port = v6_only.udp_port().unwrap();
    assert!(ask(loopback(true, port), b"RESET:20", Duration::from_secs(2)).is_some());
    assert_eq!(
        exchange(loopback(false, port), b"RESET:20", Duration::from_secs(2)),
        Outcome::Refused
    );
}

/// The course's supervisor: IPv4, then IPv6, each for a period, and the
/// family that is not serving has no socket at all, so a connected client
/// of it gets ECONNREFUSED (the ICMP port unreachable), not silence.
#[test]
fn alternating_families_take_turns_and_the_other_is_unbound() {
    let period = Duration::from_millis(700);
    let lab = start(|c| {
        c.loss = 0.0;
        c.udp_family = UdpFamily::Alternate(period);
    });
    let started = Instant::now();
    let port = lab.udp_port().unwrap();
    assert_eq!(lab.udp_addrs().len(), 2, "{:?}", lab.udp_addrs());
    let probe = |v6: bool| exchange(loopback(v6, port), b"RESET:20", Duration::from_millis(300));
    // IPv4 first: in the first period, IPv4 answers and IPv6 is refused.
    let (v4, v6) = (probe(false), probe(true));
    if started.elapsed() < period {
        assert!(matches!(v4, Outcome::Reply(_)), "{v4:?}");
        assert_eq!(v6, Outcome::Refused);
    }
    // Then, within a few periods (a loaded machine may be late), IPv6
    // answers while IPv4 is refused, and IPv4 comes back.
    let mut saw_v6_turn = false;
    let mut saw_v4_again = false;
    let deadline = started + 8 * period;
    while Instant::now() < deadline && !(saw_v6_turn && saw_v4_again) {
        let (v6, v4) = (probe(true), probe(false));
        match (&v6, &v4) {
            (Outcome::Reply(_), Outcome::Refused) => saw_v6_turn = true,
            (Outcome::Refused, Outcome::Reply(_)) if saw_v6_turn => saw_v4_again = true,
            _ => {}
        }
        assert!(
            v4 != Outcome::Silence && v6 != Outcome::Silence,
            "without loss a family either answers or is unbound: {v4:?} {v6:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saw_v6_turn, "IPv6 never served alone");
    assert!(saw_v4_again, "IPv4 never came back");
}

#[test]
fn loss_drops_about_that_share_of_every_kind_of_datagram() {
    let lab = start(|c| {
        c.udp_family = UdpFamily::V4;
        c.loss = 0.5;
    });
    let to = loopback(false, lab.udp_port().unwrap());
    for request in [&b"RESET:20"[..], b"RESET:5"] {
        let answered = (0..200)
            .filter(|_| ask(to, request, Duration::from_millis(50)).is_some())
            .count();
        // Binomial(200, 0.5): outside 60..140 has probability far below 1e-6.
        assert!(
            (60..140).contains(&answered),
            "{answered} of 200 {} answered",
            request.escape_ascii()
        );
    }
    let all_lost = start(|c| {
        c.udp_family = UdpFamily::V4;
        c.loss = 1.0;
    });
    let to = loopback(false, all_lost.udp_port().unwrap());
    assert!(ask(to, b"RESET:20", Duration::from_millis(100)).is_none());
    assert!(ask(to, b"junk", Duration::from_millis(100)).is_none());
}

/// The IPv6 service's socket is IPV6_V6ONLY: bound to `[::]`, it takes no
/// IPv4 client (which would come as a v4-mapped `::ffff:127.0.0.1`), so
/// an IPv4 client meets a closed port.
#[test]
fn the_ipv6_socket_takes_no_ipv4_client() {
    let lab = start(|c| {
        c.bind = vec![std::net::Ipv6Addr::UNSPECIFIED.into()];
        c.loss = 0.0;
        c.udp_family = UdpFamily::V6;
    });
    let port = lab.udp_port().unwrap();
    assert!(ask(loopback(true, port), b"RESET:20", Duration::from_secs(2)).is_some());
    assert_eq!(
        exchange(loopback(false, port), b"RESET:20", Duration::from_secs(2)),
        Outcome::Refused
    );
}
