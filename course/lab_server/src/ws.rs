//! The WebSocket PMU of Part 5.
//!
//! The same PMU as over TCP, but every PMU message is one WebSocket
//! message: the command is the client's first data message (text or
//! binary, with or without trailing white space), then `CMD_short:<d>`
//! sends `--messages` messages `This is PMU data <i>` one frame each,
//! `CMD_floodme` the whole text as one single-frame message, anything else
//! `Wrong command.`; then the server starts the close handshake, its close
//! frame carrying status 1000 (normal closure) as the course server's, and waits
//! (up to [`LINGER`]) for the client's close frame before closing the TCP
//! connection. Frames are binary, as the course server's, or text with
//! `--ws-text`.
//!
//! The flood is written straight to the socket behind a header that
//! tungstenite's `FrameHeader` formats: tungstenite's own write path copies
//! every frame into its write buffer, which for a 256 MiB flood would cost
//! 256 MiB per connection and a copy.

use crate::{Service, Shared, WsFrames};
use common::Command;
use netserve::accept::DeadlineStream;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::{Bytes, Message, Utf8Bytes, WebSocket};

/// The largest message a client may send: a command is a few bytes.
const MAX_REQUEST: usize = 4096;

/// How long the server waits for the client's close frame.
const LINGER: Duration = Duration::from_secs(1);

/// Answers one connection: handshake, command, messages, close handshake.
pub fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> tungstenite::Result<()> {
    let config = &shared.config;
    stream.set_write_timeout(Some(config.write_timeout))?;
    stream.set_nodelay(true)?;
    // The handshake and the command within --read-timeout of connecting,
    // however slowly they trickle in.
    let stream = DeadlineStream::new(stream, Instant::now() + config.read_timeout);
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REQUEST))
        .max_frame_size(Some(MAX_REQUEST));
    let mut ws =
        tungstenite::accept_with_config(stream, Some(ws_config)).map_err(|err| match err {
            tungstenite::HandshakeError::Failure(err) => err,
            tungstenite::HandshakeError::Interrupted(_) => {
                io::Error::new(io::ErrorKind::TimedOut, "the handshake timed out").into()
            }
        })?;
    let request = loop {
        match ws.read()? {
            Message::Text(text) => break Bytes::from(text),
            Message::Binary(bytes) => break bytes,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Close(_) => {
                shared.log(format_args!("{peer}: WebSocket closed without a command"));
                return finish(&mut ws);
            }
        }
    };
    ws.get_mut().clear_deadline(Some(config.read_timeout))?;
    match Command::parse_request(&request) {
        Ok(Command::Short { interval, .. }) => {
            shared.log(format_args!(
                "{peer}: WebSocket CMD_short, {} messages {interval:?} apart",
                config.messages
            ));
            for i in 0..config.messages {
                if i > 0 && !interval.is_zero() {
                    std::thread::sleep(interval);
                }
                let text = format!("This is PMU data {}", config.first_index + i);
                // send() flushes: with CMD_short:1 each message leaves now.
                ws.send(message(config.ws_frames, Bytes::from(text))?)?;
            }
        }
        Ok(Command::Floodme) => {
            let flood = shared.flood().clone();
            shared.log(format_args!(
                "{peer}: WebSocket CMD_floodme, {} bytes",
                flood.len()
            ));
            let opcode = match config.ws_frames {
                WsFrames::Binary => Data::Binary,
                WsFrames::Text => Data::Text,
            };
            let mut header = Vec::with_capacity(14);
            FrameHeader {
                opcode: OpCode::Data(opcode),
                ..FrameHeader::default()
            }
            .format(flood.len() as u64, &mut header)?;
            ws.flush()?;
            let socket = ws.get_mut();
            socket.write_all(&header)?;
            socket.write_all(&flood)?;
        }
        Err(_) => {
            shared.log(format_args!(
                "{peer}: WebSocket wrong command {:?}",
                request.escape_ascii().to_string()
            ));
            ws.send(message(
                config.ws_frames,
                Bytes::from_static(netserve::pmu::WRONG_COMMAND),
            )?)?;
        }
    }
    // Status 1000 (normal closure), as the course server: a client may
    // treat an empty close frame (no status, 1005 to it) differently.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: Utf8Bytes::from_static(""),
    }))?;
    let finished = finish(&mut ws);
    shared.record(
        Service::WebSocketPmu,
        peer,
        &request,
        ws.get_ref().get_ref(),
    );
    finished
}

/// A data message of the configured kind.
fn message(frames: WsFrames, bytes: Bytes) -> tungstenite::Result<Message> {
    Ok(match frames {
        WsFrames::Binary => Message::Binary(bytes),
        WsFrames::Text => Message::Text(Utf8Bytes::try_from(bytes)?),
    })
}

/// Reads until the client's close frame (or its time runs out), so that the
/// close handshake completes and the server closes the TCP connection
/// first (RFC 6455 §7.1.1).
fn finish(ws: &mut WebSocket<DeadlineStream>) -> tungstenite::Result<()> {
    ws.get_mut().clear_deadline(Some(LINGER))?;
    loop {
        match ws.read() {
            Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Ok(());
            }
            // A client that leaves without its close frame: nothing lost.
            Err(tungstenite::Error::Protocol(_)) => return Ok(()),
            Err(tungstenite::Error::Io(err))
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                return Ok(());
            }
            Err(err) => return Err(err),
        }
    }
}
