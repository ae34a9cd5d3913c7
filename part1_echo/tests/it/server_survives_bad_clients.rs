//! The server never exits because of a client: a reset, garbage, or a
//! client that leaves without reading the echo is reported on stderr and
//! the next client is served.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::{TIMEOUT, listening, run};
use socket2::SockRef;

/// Closes `stream` with a TCP reset (RST) instead of a FIN: SO_LINGER with
/// a zero time-out.
fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(stream);
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect to the server")
}

/// Runs a tcp-client (messages of at most 16 bytes: one server recv()).
fn assert_served(addr: SocketAddr, message: &str) {
    let port = addr.port().to_string();
    let host = addr.ip().to_string();
    let client = run(&[
        "tcp-client",
        "--close",
        "--host",
        &host,
        "--port",
        &port,
        message,
    ]);
    assert!(client.status.success(), "client: {client:?}");
    let echoed: String = client
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("received: "))
        .collect();
    assert_eq!(echoed, message);
}

#[test]
fn a_reset_garbage_and_a_deaf_client_do_not_stop_the_server() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0");

    // Connects and resets at once.
    reset(connect(addr));
    assert_served(addr, "after reset");

    // Sends bytes that are not UTF-8, then resets while the echo is due.
    let mut garbage = connect(addr);
    garbage
        .write_all(&[0xff, 0xfe, 0x00, 0x80, b'\n', 0xc3])
        .expect("send garbage");
    std::thread::sleep(Duration::from_millis(100));
    reset(garbage);
    assert_served(addr, "after garbage");

    // Sends a lot and leaves without reading the echo.
    let mut deaf = connect(addr);
    let _ = deaf.write_all(&vec![b'z'; 64 * 1024]);
    drop(deaf);
    assert_served(addr, "after deaf");

    let server = server.kill();
    assert!(
        server.stdout.iter().any(|l| l.contains('\u{fffd}')),
        "garbage is shown lossily: {server:?}"
    );
    assert!(
        server.stderr.iter().all(|l| !l.contains("panicked")),
        "server: {server:?}"
    );
    for message in ["after reset", "after garbage", "after deaf"] {
        assert!(
            server.stdout.contains(&format!("received: {message}")),
            "{message}: {server:?}"
        );
    }
}

#[test]
fn with_once_a_failed_connection_is_the_exit_status() {
    let (server, addr) = listening("tcp-server --bind ::1 --port 0 --once");
    let mut stream = connect(addr);
    stream.write_all(b"soon gone").expect("send");
    std::thread::sleep(Duration::from_millis(100));
    reset(stream);
    let server = server.finish();
    assert_eq!(server.status.code(), Some(1), "server: {server:?}");
    assert_eq!(server.stdout, ["received: soon gone"]);
    let error = server.stderr.last().cloned().unwrap_or_default();
    assert!(
        error.starts_with("part1_echo: error: connection from [::1]:") && error.contains("reset"),
        "server: {server:?}"
    );
}
