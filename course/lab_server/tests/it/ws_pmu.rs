//! The WebSocket PMU: one WebSocket message per PMU message, floodme as one
//! message, then the close handshake with status 1000 (normal closure),
//! over IPv4 and IPv6.

use lab_server::{Config, LabServer, WsFrames};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

fn server(tweak: impl FnOnce(&mut Config)) -> LabServer {
    let mut config = Config {
        tcp_port: None,
        udp_port: None,
        ..Config::ephemeral()
    };
    tweak(&mut config);
    LabServer::start(config).expect("starting lab_server")
}

fn connect(host: &str, port: u16) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect((host, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 30))
        .max_frame_size(Some(1 << 30));
    let url = if host.contains(':') {
        format!("ws://[{host}]:{port}/")
    } else {
        format!("ws://{host}:{port}/")
    };
    tungstenite::client::client_with_config(url.as_str(), stream, Some(config))
        .unwrap()
        .0
}

/// Sends `command` and collects the data messages until the server's close
/// frame; asserts that the close frame carries status 1000 (normal
/// closure), as the course server's, and that the close handshake
/// completes.
fn exchange(host: &str, port: u16, command: Message) -> Vec<Message> {
    let mut ws = connect(host, port);
    ws.send(command).unwrap();
    let mut messages = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => {
                let code = frame.map(|f| f.code);
                assert_eq!(
                    code,
                    Some(CloseCode::Normal),
                    "status 1000, not an empty frame"
                );
                break;
            }
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => messages.push(m),
            Ok(_) => {}
            Err(err) => panic!("before the close frame: {err}"),
        }
    }
    // The server closes the TCP connection once our close frame is back.
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed) => {}
        other => panic!("after the close frame: {other:?}"),
    }
    messages
}

#[test]
fn short_sends_one_binary_message_per_pmu_message_over_both_families() {
    let lab = server(|c| {
        c.messages = 4;
        c.first_index = 1;
    });
    let port = lab.ws_port().unwrap();
    assert_eq!(lab.ws_addrs().len(), 2);
    for host in ["127.0.0.1", "::1"] {
        let got = exchange(host, port, Message::text("CMD_short:0"));
        let want: Vec<Message> = (1..=4)
            .map(|i| Message::binary(format!("This is PMU data {i}").into_bytes()))
            .collect();
        assert_eq!(got, want, "{host}");
    }
}

#[test]
fn text_frames_on_request_and_binary_commands_accepted() {
    let lab = server(|c| {
        c.messages = 2;
        c.ws_frames = WsFrames::Text;
    });
    let port = lab.ws_port().unwrap();
    let got = exchange(
        "127.0.0.1",
        port,
        Message::binary(b"CMD_short:0\n".to_vec()),
    );
    assert_eq!(
        got,
        vec![
            Message::text("This is PMU data 0"),
            Message::text("This is PMU data 1")
        ]
    );
}

#[test]
fn floodme_is_one_message_and_anything_else_is_a_wrong_command() {
    for frames in [WsFrames::Binary, WsFrames::Text] {
        let lab = server(|c| {
            c.flood_bytes = 3 * 1024 * 1024 + 5;
            c.ws_frames = frames;
        });
        let port = lab.ws_port().unwrap();
        let got = exchange("::1", port, Message::text("CMD_floodme"));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].clone().into_data()[..] == lab.flood()[..],
            "{frames:?}"
        );
        assert_eq!(got[0].is_text(), frames == WsFrames::Text);
        let got = exchange("127.0.0.1", port, Message::text("CMD_flood"));
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].clone().into_data()[..], b"Wrong command.");
    }
}

#[test]
fn a_client_that_leaves_early_does_not_stop_the_server() {
    let lab = server(|c| {
        c.flood_bytes = 8 * 1024 * 1024;
        c.messages = 10;
    });
    let port = lab.ws_port().unwrap();
    for _ in 0..3 {
        let mut ws = connect("127.0.0.1", port);
        ws.send(Message::text("CMD_floodme")).unwrap();
        drop(ws);
    }
    // Nor does a client that never finishes its handshake.
    let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let got = exchange("127.0.0.1", port, Message::text("CMD_short:0"));
    assert_eq!(got.len(), 10);
    drop(idle);
}

/// The close frame's two status bytes on the wire: 0x03 0xe8 (1000).
#[test]
fn the_close_frame_carries_status_1000_on_the_wire() {
    use std::io::{Read, Write};
    let lab = server(|c| c.messages = 1);
    let port = lab.ws_port().unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The server's 101 first: it takes no frame before its answer.
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "no handshake: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 101"), "{got:?}");
    // A masked text frame "CMD_short:0" (mask 0: the payload as is).
    let mut frame = vec![0x81, 0x80 | 11, 0, 0, 0, 0];
    frame.extend_from_slice(b"CMD_short:0");
    stream.write_all(&frame).unwrap();
    // Until the server's close frame (opcode 8) has arrived whole.
    let close = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before its close frame: {got:?}");
        got.extend_from_slice(&buf[..n]);
        // The HTTP answer is ASCII and the data frame 0x82 "This is PMU
        // data 0": the first 0x88 byte starts the close frame.
        if let Some(at) = got.iter().position(|b| *b == 0x88) {
            if got.len() >= at + 2 && got.len() >= at + 2 + usize::from(got[at + 1] & 0x7f) {
                break got[at..].to_vec();
            }
        }
    };
    assert_eq!(&close[..4], &[0x88, 0x02, 0x03, 0xe8], "{close:?}");
}
