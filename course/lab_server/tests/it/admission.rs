//! Admission and log rules of `lab_server` (docs/HARDENING.md,
//! "Admission, sleeping answers and logs"): a connect/close storm, sleeping
//! answers that are bounded and end with their client, the per-source cap,
//! and a UDP service that keeps answering while stderr is a pipe nobody
//! reads. Loopback only, bounded in count and time; explicit settings.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use testkit::hostile::{connect_close_storm, report_wait, reset_close, serial};

const BIN: &str = env!("CARGO_BIN_EXE_lab_server");

/// How fast a legitimate client must be answered during a crowd.
const PROMPT: Duration = Duration::from_secs(1);

fn first_addr(line: &str, after: &str) -> SocketAddr {
    let rest = line.split(after).nth(1).expect(after);
    rest.split([',', ' ']).next().unwrap().parse().unwrap()
}

/// `lab_server` on 127.0.0.1 with 3 messages, `CMD_short` sleeps allowed
/// up to 20 s each, and `extra`; its TCP PMU, WebSocket PMU and UDP
/// addresses.
fn start(extra: &[&str]) -> (testkit::Proc, SocketAddr, SocketAddr, SocketAddr) {
    let mut args = vec![
        "--bind",
        "127.0.0.1",
        "--tcp-port",
        "0",
        "--udp-port",
        "0",
        "--ws-port",
        "0",
        "--only",
        "tcp,udp,ws",
        "--messages",
        "3",
        "--loss",
        "0",
        "--udp-family",
        "v4",
        "--read-timeout",
        "5",
        "--write-timeout",
        "5",
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
    proc.wait_for_stderr("floodme text ready");
    (proc, tcp, ws, udp)
}

/// `CMD_short:0` from `from` (an address of 127.0.0.0/8): the three
/// messages; how long it took.
fn pmu_from(addr: SocketAddr, from: &str) -> Duration {
    let start = Instant::now();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::new(from.parse().unwrap(), 0).into())
        .unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(2 * PROMPT)).unwrap();
    stream.write_all(b"CMD_short:0").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer),
        "This is PMU data 0This is PMU data 1This is PMU data 2"
    );
    start.elapsed()
}

fn pmu(addr: SocketAddr) -> Duration {
    pmu_from(addr, "127.0.0.1")
}

/// `CMD_short:0` over WebSocket; how long it took.
fn ws(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(2 * PROMPT)).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/").as_str(), stream).unwrap();
    ws.send(tungstenite::Message::text("CMD_short:0")).unwrap();
    let mut got = 0;
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Binary(_)) => got += 1,
            Ok(tungstenite::Message::Close(_)) | Err(_) => break,
            _ => {}
        }
    }
    assert_eq!(got, 3);
    start.elapsed()
}

#[test]
fn a_connect_close_storm_locks_nobody_out() {
    let _serial = serial();
    let (_proc, tcp, ws_addr, _) = start(&["--max-connections", "64"]);
    let stop = Arc::new(AtomicBool::new(false));
    let storms: Vec<_> = [tcp, tcp, ws_addr, ws_addr]
        .into_iter()
        .map(|addr| connect_close_storm(addr, stop.clone()))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        slowest = slowest.max(pmu(tcp)).max(ws(ws_addr));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    let pairs: usize = storms.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(pairs > 100, "the storm made {pairs} pairs");
    assert!(slowest < PROMPT, "{slowest:?}");
    report_wait(
        "lab_server (TCP, WebSocket)",
        &format!("connect/close storm ({pairs} pairs)"),
        slowest,
    );
}

#[test]
fn an_hour_of_sleeping_answers_is_a_wrong_command() {
    let _serial = serial();
    let (_proc, tcp, ws_addr, _) = start(&["--max-connections", "2"]);
    let started = Instant::now();
    let sleepers: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(tcp).unwrap();
            s.write_all(b"CMD_short:3600").unwrap();
            s
        })
        .collect();
    for mut s in sleepers {
        s.set_read_timeout(Some(PROMPT)).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"Wrong command.");
    }
    // 3 messages 20 s apart: 40 s, within the bound (once the two
    // places are back: their threads see the clients' close).
    assert!(testkit::limits::eventually(Duration::from_secs(2), || {
        let mut ok = TcpStream::connect(tcp).unwrap();
        let _ = ok.write_all(b"CMD_short:20");
        ok.set_read_timeout(Some(PROMPT)).unwrap();
        let mut first = [0u8; 18];
        ok.read_exact(&mut first).is_ok() && &first == b"This is PMU data 0"
    }));
    // And over WebSocket.
    let stream = TcpStream::connect(ws_addr).unwrap();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let (mut client, _) = tungstenite::client(format!("ws://{ws_addr}/").as_str(), stream).unwrap();
    client
        .send(tungstenite::Message::text("CMD_short:3600"))
        .unwrap();
    match client.read().unwrap() {
        tungstenite::Message::Binary(m) => assert_eq!(&m[..], b"Wrong command."),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < 3 * PROMPT);
    let waited = pmu(tcp);
    assert!(waited < PROMPT);
    report_wait(
        "lab_server (TCP)",
        "2 × CMD_short:3600, --max-connections 2",
        waited,
    );
}

/// A client of the TCP PMU that asked `CMD_short:20` (3 messages, 40 s)
/// and has read the first.
fn sleeper(tcp: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(tcp).unwrap();
    s.write_all(b"CMD_short:20").unwrap();
    s.set_read_timeout(Some(PROMPT)).unwrap();
    let mut first = [0u8; 18];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"This is PMU data 0");
    s
}

/// The same over WebSocket.
fn ws_sleeper(addr: SocketAddr) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PROMPT)).unwrap();
    let (mut client, _) = tungstenite::client(format!("ws://{addr}/").as_str(), stream).unwrap();
    client
        .send(tungstenite::Message::text("CMD_short:20"))
        .unwrap();
    assert!(matches!(
        client.read().unwrap(),
        tungstenite::Message::Binary(_)
    ));
    client
}

/// Whether a connection to `addr` from 127.0.0.1 is refused: closed
/// without a byte.
fn refused(addr: SocketAddr, request: &[u8]) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(request);
    s.set_read_timeout(Some(PROMPT)).unwrap();
    let mut answer = Vec::new();
    matches!(s.read_to_end(&mut answer), Ok(0)) || answer.is_empty()
}

#[test]
fn a_client_that_leaves_during_the_sleep_frees_its_place_at_once() {
    let _serial = serial();
    // Three places for 127.0.0.1 (three quarters of 4).
    let (_proc, tcp, ws_addr, _) = start(&["--max-connections", "4"]);
    let mut sleepers: Vec<TcpStream> = (0..3).map(|_| sleeper(tcp)).collect();
    // 127.0.0.1 holds its three places, all being answered: a fourth
    // connection of it is closed at once; another source is served.
    assert!(refused(tcp, b"CMD_short:0"));
    assert!(pmu_from(tcp, "127.0.0.2") < PROMPT);
    // One leaves with a reset, one with a FIN, in the middle of their
    // 40 s answers (after the first message, as a user's Ctrl-C would):
    // their places are free at once.
    std::thread::sleep(Duration::from_millis(300));
    reset_close(sleepers.pop().unwrap());
    drop(sleepers.pop());
    let left = Instant::now();
    let freed =
        testkit::limits::eventually(Duration::from_secs(5), || !refused(tcp, b"CMD_short:0"));
    let took = left.elapsed();
    assert!(freed && took < PROMPT, "TCP place freed after {took:?}");
    // The WebSocket PMU likewise.
    let ws_sleepers: Vec<_> = (0..3).map(|_| ws_sleeper(ws_addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(ws_sleepers);
    let left = Instant::now();
    let freed = testkit::limits::eventually(Duration::from_secs(5), || {
        std::panic::catch_unwind(|| ws(ws_addr)).is_ok()
    });
    let ws_took = left.elapsed();
    assert!(
        freed && ws_took < PROMPT,
        "WebSocket places freed after {ws_took:?}"
    );
    report_wait(
        "lab_server (TCP, WebSocket)",
        "CMD_short:20 sleepers that left, 127.0.0.1 at its cap",
        took.max(ws_took),
    );
}

#[test]
fn the_udp_service_answers_while_stderr_is_a_full_pipe() {
    let _serial = serial();
    let mut child = testkit::Guard(
        Command::new(BIN)
            .args([
                "--bind",
                "127.0.0.1",
                "--udp-port",
                "0",
                "--only",
                "udp",
                "--loss",
                "0",
                "--udp-family",
                "v4",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut udp = None;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while udp.is_none() {
        assert!(Instant::now() < deadline, "no UDP address");
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "stderr ended");
        if line.contains("UDP reset on ") {
            udp = Some(first_addr(&line, "UDP reset on "));
        }
    }
    let udp = udp.unwrap();
    // From now on nobody reads stderr. 20,000 wrong commands of 2,000
    // bytes each from many sources would write megabytes of log: far
    // beyond a pipe's 64 KiB.
    let flood = vec![b'\x1b'; 2000];
    let started = Instant::now();
    for i in 0..40 {
        let from = format!("127.0.{}.{}:0", i / 200, 1 + i % 200);
        let socket = UdpSocket::bind(from.as_str()).unwrap();
        for _ in 0..500 {
            let _ = socket.send_to(&flood, udp);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    // A client is still answered, and again a moment later.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        let asked = Instant::now();
        let mut buf = [0u8; 256];
        let mut answered = false;
        while asked.elapsed() < PROMPT && !answered {
            client.send_to(b"RESET:20", udp).unwrap();
            client
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            if let Ok((n, _)) = client.recv_from(&mut buf) {
                answered = buf[..n].starts_with(b"OFFSET");
            }
        }
        assert!(answered, "no OFFSET within {PROMPT:?} while stderr is full");
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // Now read what was logged: short lines, escaped, rate-limited.
    let mut log = String::new();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut text = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && text.len() < 1 << 20 {
            match stderr.get_mut().read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        text
    });
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.0.kill();
    log.push_str(&String::from_utf8_lossy(&reader.join().unwrap()));
    assert!(log.contains("wrong command \"\\x1b\\x1b"), "{log}");
    assert!(!log.contains('\x1b'), "raw escape bytes in the log");
    for line in log.lines() {
        assert!(line.len() < 400, "a {}-byte line: {line}", line.len());
    }
    assert!(
        log.lines().count() < 40 * 20 + 100,
        "{} lines",
        log.lines().count()
    );
    report_wait(
        "lab_server (UDP)",
        "stderr a full pipe, 20,000 logged datagrams",
        slowest,
    );
}
