//! Hostile clients against every service of the `lab_server` binary (TCP
//! PMU, UDP reset, WebSocket PMU, TV channel): after each attack a normal
//! client of every service gets the right answer within a second, and the
//! server's threads and descriptors, read from `/proc/<pid>`, stay under
//! the connection cap and come back to where they were (docs/HARDENING.md).
//!
//! Every attack is bounded in count and time, on 127.0.0.1 only; the
//! multicast goes through the loopback interface with TTL 0. The tests run
//! one at a time (a lock), so that one's load does not skew another's
//! "within a second". `--nocapture` shows the numbers.

// The usage is read from /proc: Linux only.
#![cfg(target_os = "linux")]

use common::frame::Frame;
use common::reset::Offset;
use multicast::{self, Interface};
use rand::Rng;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};
use testkit::hostile::{Caps, closed_within, reset_close, serial, silent_connections};
use testkit::limits::{self, Sampler};

const BIN: &str = env!("CARGO_BIN_EXE_lab_server");

/// `--max-connections`: per TCP service (the PMU and the WebSocket PMU
/// each have their own).
const CAP: usize = 64;

/// Threads and descriptors a server may have beyond its idle count and
/// its served connections: a connection over the cap for the moment it
/// takes to close it, and a connection's thread after it has given its
/// place back, until it has exited (under a loaded 2-core CI run, seen at
/// cap + 6 threads).
const SLACK: usize = 8;

/// How fast a normal client must be answered after (or during) an attack.
const PROMPT: Duration = Duration::from_secs(1);

/// How often the UDP clients send again when no answer came (a datagram
/// that meets a full receive queue is dropped).
const RETRY: Duration = Duration::from_millis(200);

const LOOPBACK: Interface = Interface::V4(Ipv4Addr::LOCALHOST);

/// A running `lab_server` with every service on a free port of 127.0.0.1.
struct Lab {
    /// Kept running until the test ends.
    _proc: testkit::Proc,
    tcp: SocketAddr,
    udp: SocketAddr,
    ws: SocketAddr,
    tv: SocketAddr,
    /// What it uses when idle, and its caps: one thread and one
    /// descriptor per served connection of each TCP service at most.
    caps: Caps,
}

fn first_addr(line: &str, after: &str) -> SocketAddr {
    let rest = line.split(after).nth(1).expect(after);
    let addr = rest.split([',', ' ']).next().unwrap();
    addr.parse()
        .unwrap_or_else(|err| panic!("{addr:?} in {line:?}: {err}"))
}

impl Lab {
    fn start(extra: &[&str]) -> Lab {
        let mut args = vec![
            "--bind",
            "127.0.0.1",
            "--tcp-port",
            "0",
            "--udp-port",
            "0",
            "--ws-port",
            "0",
            "--mcast-port",
            "0",
            "--mcast-interface",
            "127.0.0.1",
            "--mcast-ttl",
            "0",
            "--tv-interval",
            "0.2",
            "--max-connections",
            "64",
            "--read-timeout",
            "1",
            "--write-timeout",
            "1",
            "--messages",
            "3",
            "--loss",
            "0",
            "--udp-family",
            "v4",
            "-q",
        ];
        args.extend_from_slice(extra);
        let proc = testkit::spawn(BIN, &args);
        let tcp = first_addr(&proc.wait_for_stderr("TCP PMU on "), "TCP PMU on ");
        let udp = first_addr(&proc.wait_for_stderr("UDP reset on "), "UDP reset on ");
        let ws = first_addr(
            &proc.wait_for_stderr("WebSocket PMU on "),
            "WebSocket PMU on ",
        );
        let tv = first_addr(&proc.wait_for_stderr("TV channel on "), "TV channel on ");
        proc.wait_for_stderr("floodme text ready");
        // Admission (netserve::accept): a connection waiting for its
        // command costs two descriptors, its socket and the clone kept to
        // evict it; an evicted connection's thread lives on for a moment,
        // up to twice the cap per service.
        let caps = Caps {
            cap: format!("cap {CAP} per service"),
            threads: 4 * CAP + SLACK,
            fds: 6 * CAP + SLACK,
            ..Caps::new(proc.pid(), 2 * CAP, SLACK)
                .reported_as("lab_server", "normal clients answered")
        };
        let mut lab = Lab {
            _proc: proc,
            tcp,
            udp,
            ws,
            tv,
            caps,
        };
        lab.all_services_answer("at start");
        // Idle again: the probes' threads have ended.
        std::thread::sleep(Duration::from_millis(200));
        lab.caps.settle();
        lab
    }

    /// A normal client of every service is answered right, each within
    /// [`PROMPT`]; the slowest time.
    fn all_services_answer(&self, when: &str) -> Duration {
        let times = [
            ("TCP PMU", pmu_answers(self.tcp)),
            ("WebSocket PMU", ws_answers(self.ws)),
            ("UDP reset", reset_answers(self.udp)),
            ("TV channel", tv_answers(self.tv)),
        ];
        for (service, took) in times {
            assert!(took < PROMPT, "{when}: the {service} took {took:?}");
        }
        times.iter().map(|(_, t)| *t).max().unwrap()
    }
}

/// `CMD_short:0` over TCP: the three messages, then the close.
fn pmu_answers(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    stream.write_all(b"CMD_short:0").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "This is PMU data 0This is PMU data 1This is PMU data 2"
    );
    start.elapsed()
}

/// `CMD_short:0` over WebSocket: three messages, then the close frame.
fn ws_answers(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/").as_str(), stream).unwrap();
    ws.send(tungstenite::Message::text("CMD_short:0")).unwrap();
    let mut got = Vec::new();
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Binary(m) => got.push(String::from_utf8_lossy(&m).into_owned()),
            tungstenite::Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(
        got,
        [
            "This is PMU data 0",
            "This is PMU data 1",
            "This is PMU data 2"
        ]
    );
    start.elapsed()
}

/// `RESET:20`: an `OFFSET` of at most 20.
fn reset_answers(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0u8; 65536];
    let mut sent = 0;
    loop {
        let left = PROMPT.saturating_sub(start.elapsed());
        assert!(
            !left.is_zero(),
            "no OFFSET within {PROMPT:?} ({sent} tries)"
        );
        // Retransmits, as part3_reset does (every second there).
        if start.elapsed() >= RETRY * sent {
            socket.send_to(b"RESET:20", addr).unwrap();
            sent += 1;
        }
        socket
            .set_read_timeout(Some(left.min(Duration::from_millis(20))))
            .unwrap();
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if from == addr {
            let offset = Offset::parse(&buf[..n]).expect("an OFFSET");
            assert!(offset.value <= 20);
            return start.elapsed();
        }
    }
}

/// An opinion of 301 characters: the channel tells subscriber 654321 its
/// task is completed.
fn tv_answers(group: SocketAddr) -> Duration {
    let start = Instant::now();
    let rx = multicast::joined_socket(group.ip(), group.port(), LOOPBACK).unwrap();
    let tx = multicast::sending_socket(group.ip(), LOOPBACK, 0).unwrap();
    let opinion = Frame {
        id: "654321".parse().unwrap(),
        text: &[b'x'; 301],
    };
    let mut buf = vec![0u8; 65536];
    let mut sent = 0;
    loop {
        let left = PROMPT.saturating_sub(start.elapsed());
        assert!(
            !left.is_zero(),
            "no answer from the TV channel within {PROMPT:?} ({sent} tries)"
        );
        // UDP: an opinion that met a full queue right after a flood is
        // lost, by design; a subscriber sends it again.
        if start.elapsed() >= RETRY * sent {
            tx.send_to(&opinion.to_wire(), group).unwrap();
            sent += 1;
        }
        rx.set_read_timeout(Some(left.min(Duration::from_millis(20))))
            .unwrap();
        let Ok(n) = rx.recv(&mut buf) else { continue };
        let text = String::from_utf8_lossy(&buf[..n]);
        if text.starts_with("swcmTV@654321: ") {
            assert!(text.contains("Your task is now completed."), "{text}");
            return start.elapsed();
        }
    }
}

#[test]
fn a_thousand_silent_connections_per_tcp_service() {
    let _serial = serial();
    // 2000 sockets of our own, beyond CI's usual 1024.
    assert!(limits::raise_fd_limit(4096) >= 2100, "RLIMIT_NOFILE");
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    let mut silent = silent_connections(lab.tcp, 1000);
    silent.extend(silent_connections(lab.ws, 1000));
    // The crowd holds every place, all waiting for a command: each normal
    // client takes the place of the oldest idler at once (the idlers'
    // 1 s read time-out has not even run out).
    let answered = lab.all_services_answer("with 2000 silent sockets open");
    testkit::hostile::report_wait(
        "lab_server (TCP, WebSocket, UDP, TV)",
        "1000 idle connections to each TCP service",
        answered,
    );
    // The oldest idlers were closed to make room.
    assert!(closed_within(&mut silent[0], PROMPT), "the oldest idler");
    drop(silent);
    let recovered = lab.caps.assert_recovers("1000 silent connections");
    let peak = sampler.stop();
    lab.caps.assert_under(peak, "1000 silent connections");
    lab.caps.report(
        "1000 silent connections to each TCP service",
        peak,
        recovered,
        answered,
    );
}

#[test]
fn half_closed_and_stalled_connections() {
    let _serial = serial();
    let lab = Lab::start(&["--flood-bytes", "16MiB"]);
    let sampler = Sampler::start(lab.caps.pid);
    // Half-closed: a partial command, then FIN; the client keeps reading.
    let mut half: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(lab.tcp).unwrap();
            s.write_all(b"CMD_sho").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            s
        })
        .collect();
    for s in &mut half {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"Wrong command.");
    }
    // Stalled: ask for the 16 MiB flood and never read it (the window
    // closes, the server's send blocks); over TCP and WebSocket.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let s = TcpStream::connect(lab.tcp).unwrap();
        socket2::SockRef::from(&s)
            .set_recv_buffer_size(4096)
            .unwrap();
        (&s).write_all(b"CMD_floodme").unwrap();
        stalled.push(s);
    }
    let mut stalled_ws = Vec::new();
    for _ in 0..10 {
        let s = TcpStream::connect(lab.ws).unwrap();
        let (mut ws, _) = tungstenite::client(format!("ws://{}/", lab.ws).as_str(), s).unwrap();
        ws.send(tungstenite::Message::text("CMD_floodme")).unwrap();
        stalled_ws.push(ws);
    }
    // Under the cap: others are served meanwhile.
    let answered = lab.all_services_answer("with 30 stalled floods");
    // The write time-out (1 s) ends the stalled sends.
    let recovered = lab.caps.assert_recovers("stalled floods");
    let peak = sampler.stop();
    lab.caps.assert_under(peak, "half-closed and stalled");
    assert!(
        peak.rss_kib < lab.caps.idle.rss_kib + 64 * 1024,
        "the flood is shared, not copied per connection: {peak:?} vs {:?}",
        lab.caps.idle
    );
    drop((half, stalled, stalled_ws));
    lab.caps.report(
        "50 half-closed + 30 stalled 16 MiB floods (TCP, WebSocket)",
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_hundred_megabytes_of_garbage() {
    let _serial = serial();
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    let mut sent = Vec::new();
    for addr in [lab.tcp, lab.ws] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rng = rand::rng();
        let mut chunk = vec![0u8; 1 << 16];
        let mut total = 0usize;
        let start = Instant::now();
        while total < 100 << 20 && start.elapsed() < Duration::from_secs(10) {
            rng.fill(&mut chunk[..]);
            match stream.write(&chunk) {
                Ok(n) => total += n,
                Err(_) => break,
            }
        }
        // The server answers (or refuses the handshake) and closes: the
        // rest of the garbage meets a reset.
        assert!(closed_within(&mut stream, Duration::from_secs(3)));
        sent.push(total);
    }
    let recovered = lab.caps.assert_recovers("garbage");
    let answered = lab.all_services_answer("after 100 MB of garbage");
    let peak = sampler.stop();
    lab.caps.assert_under(peak, "garbage");
    assert!(
        peak.rss_kib < lab.caps.idle.rss_kib + 16 * 1024,
        "{peak:?} vs {:?}",
        lab.caps.idle
    );
    lab.caps.report(
        &format!(
            "100 MB of random bytes (TCP PMU took {} KiB, WebSocket {} KiB before closing)",
            sent[0] >> 10,
            sent[1] >> 10
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn slow_clients_one_byte_every_100_ms() {
    let _serial = serial();
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    // A command that trickles in within the read time-out (1 s from
    // connecting) is served; one that trickles for longer is cut off at
    // that deadline, however close together its bytes come.
    let tcp = lab.tcp;
    let trickle_pmu = move |gap: Duration| {
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(tcp).unwrap();
            s.set_nodelay(true).unwrap();
            for b in b"CMD_short:0" {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(gap);
            }
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
            String::from_utf8_lossy(&answer).into_owned()
        })
    };
    let quick_enough = trickle_pmu(Duration::from_millis(50));
    let too_slow = trickle_pmu(Duration::from_millis(150));
    // A WebSocket upgrade request dribbled a byte every 100 ms: the read
    // time-out (1 s from connecting) closes it after about 10 bytes.
    let mut slow_ws = TcpStream::connect(lab.ws).unwrap();
    slow_ws.set_nodelay(true).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
    let mut answered = Duration::ZERO;
    let started = Instant::now();
    for (i, b) in request[..30].iter().enumerate() {
        if slow_ws.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if i % 10 == 5 {
            // Others are served meanwhile.
            answered = answered.max(lab.all_services_answer("beside slow clients"));
        }
    }
    assert!(
        closed_within(&mut slow_ws, Duration::from_secs(3)),
        "a stalled upgrade request is closed after the read time-out"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        quick_enough.join().unwrap(),
        "This is PMU data 0This is PMU data 1This is PMU data 2"
    );
    assert_eq!(
        too_slow.join().unwrap(),
        "",
        "cut off before the command was complete"
    );
    let recovered = lab.caps.assert_recovers("slow clients");
    let peak = sampler.stop();
    lab.caps.assert_under(peak, "slow clients");
    lab.caps.report(
        "1 byte / 50 ms: a command within the 1 s read time-out (served); 1 byte / 150 ms: a command, and 1 byte / 100 ms: a WebSocket upgrade (both cut off at the 1 s deadline)",
        peak,
        recovered,
        answered,
    );
}

#[test]
fn resets_in_the_middle_of_requests() {
    let _serial = serial();
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    for i in 0..300 {
        let addr = if i % 2 == 0 { lab.tcp } else { lab.ws };
        let mut s = TcpStream::connect(addr).unwrap();
        let partial: &[u8] = if i % 2 == 0 {
            b"CMD_sh"
        } else {
            b"GET / HTTP/1.1\r\nHost: x\r\n"
        };
        s.write_all(partial).unwrap();
        reset_close(s);
    }
    // A burst of 150 may fill the WebSocket cap for a moment (a newcomer
    // is then closed at once, by design): let the threads end first.
    lab.caps.assert_recovers("resets in the middle of requests");
    // And in the middle of a WebSocket frame, after the handshake.
    for _ in 0..50 {
        let s = TcpStream::connect(lab.ws).unwrap();
        let (mut ws, _) = tungstenite::client(format!("ws://{}/", lab.ws).as_str(), s).unwrap();
        ws.get_mut()
            .write_all(&[0x81, 0x80 | 11, 0, 0, 0, 0, b'C', b'M'])
            .unwrap();
        reset_close(ws.into_inner());
    }
    let recovered = lab.caps.assert_recovers("resets");
    let answered = lab.all_services_answer("after 350 resets");
    let peak = sampler.stop();
    lab.caps.assert_under(peak, "resets");
    lab.caps.report(
        "350 resets (RST) in the middle of a command, an upgrade request or a frame",
        peak,
        recovered,
        answered,
    );
}

/// 100,000 datagrams of random sizes (most under 1500 bytes, one in 16 up
/// to 65,507) and random bytes, one in 100 a valid request, to `to`.
fn datagram_flood(to: SocketAddr, through_loopback_multicast: bool) -> (usize, Duration) {
    let socket = if through_loopback_multicast {
        multicast::sending_socket(to.ip(), LOOPBACK, 0).unwrap()
    } else {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    };
    let mut rng = rand::rng();
    let mut buf = vec![0u8; 65_507];
    let mut bytes = 0;
    let start = Instant::now();
    for i in 0..100_000 {
        let len = if rng.random_ratio(1, 16) {
            rng.random_range(0..=65_507)
        } else {
            rng.random_range(0..=1500)
        };
        rng.fill(&mut buf[..len]);
        let datagram: &[u8] = match i % 100 {
            0 => b"RESET:20",
            50 => b"123456a valid but short opinion",
            _ => &buf[..len],
        };
        // ENOBUFS or a full receiver: a flood loses datagrams, by design.
        if socket.send_to(datagram, to).is_ok() {
            bytes += datagram.len();
        }
    }
    (bytes, start.elapsed())
}

#[test]
fn a_hundred_thousand_datagrams_to_the_reset_service_and_the_tv_channel() {
    let _serial = serial();
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    let (reset_bytes, reset_took) = datagram_flood(lab.udp, false);
    let (tv_bytes, tv_took) = datagram_flood(lab.tv, true);
    let answered = lab.all_services_answer("after 200,000 datagrams");
    let recovered = lab.caps.assert_recovers("datagrams");
    let peak = sampler.stop();
    assert!(
        // The normal clients' own connections aside.
        peak.threads <= lab.caps.idle.threads + SLACK && peak.fds <= lab.caps.idle.fds + SLACK,
        "UDP costs no thread or descriptor per datagram: {peak:?} vs {:?}",
        lab.caps.idle
    );
    assert!(peak.rss_kib < lab.caps.idle.rss_kib + 16 * 1024, "{peak:?}");
    lab.caps.report(
        &format!(
            "100,000 random datagrams each to UDP reset ({} MiB in {reset_took:.1?}) and the TV \
             channel ({} MiB in {tv_took:.1?})",
            reset_bytes >> 20,
            tv_bytes >> 20
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn oversized_websocket_frames_and_messages() {
    let _serial = serial();
    let lab = Lab::start(&[]);
    let sampler = Sampler::start(lab.caps.pid);
    let mask = [0u8; 4];
    let header = |len: u64, opcode: u8, fin: bool| -> Vec<u8> {
        let mut h = vec![opcode | if fin { 0x80 } else { 0 }];
        match len {
            0..=125 => h.push(0x80 | len as u8),
            126..=65535 => {
                h.push(0x80 | 126);
                h.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                h.push(0x80 | 127);
                h.extend_from_slice(&len.to_be_bytes());
            }
        }
        h.extend_from_slice(&mask);
        h
    };
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        ("a header claiming 2^63 bytes", header(1 << 63, 0x2, true)),
        (
            "a header claiming 2^63 - 1 bytes",
            header(u64::MAX >> 1, 0x2, true),
        ),
        ("a header claiming 4 GiB", header(1 << 32, 0x1, true)),
        (
            "one 5000-byte frame (cap 4096)",
            [header(5000, 0x2, true), vec![b'x'; 5000]].concat(),
        ),
        (
            "a message of 2 x 3000-byte fragments (cap 4096)",
            [
                header(3000, 0x2, false),
                vec![b'x'; 3000],
                header(3000, 0x0, true),
                vec![b'x'; 3000],
            ]
            .concat(),
        ),
        (
            "a 1 MiB frame",
            [header(1 << 20, 0x2, true), vec![b'x'; 1 << 20]].concat(),
        ),
    ];
    for (what, bytes) in &attacks {
        let s = TcpStream::connect(lab.ws).unwrap();
        let (mut ws, _) = tungstenite::client(format!("ws://{}/", lab.ws).as_str(), s).unwrap();
        let stream = ws.get_mut();
        stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        // The server may close before the whole frame is written.
        let _ = stream.write_all(bytes);
        assert!(
            closed_within(stream, Duration::from_secs(2)),
            "{what}: the server closes the connection"
        );
    }
    let recovered = lab.caps.assert_recovers("oversized frames");
    let answered = lab.all_services_answer("after oversized frames");
    let peak = sampler.stop();
    assert!(
        peak.rss_kib < lab.caps.idle.rss_kib + 8 * 1024,
        "nothing is allocated for a claimed length: {peak:?} vs {:?}",
        lab.caps.idle
    );
    lab.caps.report(
        "WebSocket frames claiming 2^63, 2^63-1 and 4 GiB bytes; 5000-byte frame; 6000-byte \
         fragmented message; 1 MiB frame (caps 4096)",
        peak,
        recovered,
        answered,
    );
}
