//! The WebSocket PDC under server faults (docs/HARDENING.md): a server that
//! closes or resets in the middle of a message, sends for ever (memory
//! stays flat), claims a 2^63-byte frame, goes silent after the handshake,
//! or is reached on a host without IPv6. (A silent handshake and an
//! unknown host are in `errors.rs`.)

#[cfg(target_os = "linux")]
use crate::util::BIN;
use crate::util::{frame_header, ws};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;
#[cfg(target_os = "linux")]
use testkit::limits;
use tungstenite::{Message, WebSocket};

const LIMIT: Duration = Duration::from_secs(30);

/// A one-connection WebSocket peer on 127.0.0.1: the opening handshake,
/// the command, then `script`.
fn peer(script: impl FnOnce(WebSocket<TcpStream>) + Send + 'static) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut socket = tungstenite::accept(conn).unwrap();
        let _command = socket.read().unwrap();
        script(socket);
    });
    (format!("ws://{addr}/"), thread)
}

#[test]
fn a_server_that_closes_in_the_middle_of_a_message_is_an_error() {
    let (url, server) = peer(|mut socket| {
        socket
            .send(Message::binary(&b"This is PMU data 0"[..]))
            .unwrap();
        let raw = socket.get_mut();
        raw.write_all(&frame_header(0x82, 100)).unwrap();
        raw.write_all(&[b'x'; 50]).unwrap();
        // FIN after 50 of the frame's 100 bytes.
    });
    let run = ws(&["--url", &url, "--timeout", "5", "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.stdout_text(), "This is PMU data 0\n");
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("part5_ws: error: ")
            && run.stderr.contains("in the middle of a message"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_reset_in_the_middle_of_a_message_is_an_error() {
    let (url, server) = peer(|mut socket| {
        socket
            .send(Message::binary(&b"This is PMU data 0"[..]))
            .unwrap();
        let raw = socket.get_mut();
        raw.write_all(&frame_header(0x82, 100)).unwrap();
        raw.write_all(&[b'x'; 50]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        socket2::SockRef::from(&*raw)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    });
    let run = ws(&["--url", &url, "--timeout", "5", "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("reset"), "{}", run.stderr);
}

#[test]
fn a_server_that_goes_silent_after_the_handshake_times_out() {
    let (url, server) = peer(|socket| {
        std::thread::sleep(Duration::from_secs(2));
        drop(socket);
    });
    let run = ws(&["--url", &url, "--timeout", "0.5", "CMD_floodme"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("the server is silent"),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg(target_os = "linux")] // memory read from /proc
fn a_frame_claiming_two_to_the_63_bytes_is_refused_without_allocating() {
    let (url, server) = peer(|mut socket| {
        let raw = socket.get_mut();
        raw.write_all(&frame_header(0x82, 1 << 63)).unwrap();
        let _ = raw.write_all(&[b'x'; 4096]);
        std::thread::sleep(Duration::from_millis(500));
    });
    let run = limits::run_measured(BIN, &["--url", &url, "CMD_floodme"], LIMIT);
    server.join().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("over the limit"), "{}", run.stderr);
    assert!(run.peak.hwm_kib < 32 * 1024, "{:?}", run.peak);
}

#[test]
#[cfg(target_os = "linux")] // memory read from /proc
fn a_server_that_sends_for_ever_does_not_grow_memory() {
    // 2 GiB as 2048 messages of 1 MiB: each is printed and dropped.
    let (url, server) = peer(|mut socket| {
        let message = Message::binary(vec![b'p'; 1 << 20]);
        for _ in 0..2048 {
            if socket.send(message.clone()).is_err() {
                return;
            }
        }
        let _ = socket.close(None);
        let _ = socket.flush();
    });
    let run = limits::run_measured(BIN, &["--url", &url, "--stats", "CMD_short:0"], LIMIT);
    server.join().unwrap();
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stderr.contains("2048 message(s)"), "{}", run.stderr);
    eprintln!(
        "HARDENING part5_ws | 2 GiB as 2048 x 1 MiB messages | peak RSS {} KiB, {} threads, {} \
         fds | {:.2?}",
        run.peak.hwm_kib, run.peak.threads, run.peak.fds, run.elapsed
    );
    assert!(
        run.peak.hwm_kib < 48 * 1024,
        "peak RSS {} KiB",
        run.peak.hwm_kib
    );
}

#[test]
fn without_ipv6_localhost_is_reached_over_ipv4() {
    let Some(run) = testkit::netns::without_ipv6(|| {
        let lab = crate::util::server(|c| {
            c.bind = vec![[127, 0, 0, 1].into()];
            c.messages = 10;
        });
        let url = format!("ws://localhost:{}", lab.ws_port().unwrap());
        ws(&["--url", &url, "CMD_short:0"], LIMIT)
    }) else {
        return;
    };
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), crate::util::pmu_lines(0, 10));
}
