//! The TCP PMU of Part 2.

use crate::Shared;
use common::Command;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest command a client may send: `CMD_short:` and a 32-character
/// number, with room for trailing white space.
const MAX_REQUEST: usize = 64;

/// How long the server keeps reading what a client still sends after the
/// answer, before it closes.
const LINGER: Duration = Duration::from_secs(1);

/// The answer to anything that is not a command.
pub const WRONG_COMMAND: &[u8] = b"Wrong command.";

/// Accepts connections until the server stops, one thread each under the
/// connection cap.
pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(err) => {
                // EMFILE and friends: back off briefly rather than spin.
                shared.log(format_args!("accept failed: {err}"));
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= shared.config.max_connections {
            active.fetch_sub(1, Ordering::SeqCst);
            shared.log(format_args!(
                "{peer}: refused, {} connections already",
                shared.config.max_connections
            ));
            continue;
        }
        let guard = ActiveGuard(active.clone());
        let shared_conn = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("pmu-conn".into())
            .spawn(move || {
                let _guard = guard;
                if let Err(err) = serve(stream, peer, &shared_conn) {
                    shared_conn.log(format_args!("{peer}: {err}"));
                }
            });
        if let Err(err) = spawned {
            shared.log(format_args!("{peer}: no thread to serve it: {err}"));
        }
    }
}

/// Decrements the active-connection count when a connection's thread ends,
/// however it ends.
struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let config = &shared.config;
    stream.set_read_timeout(Some(config.read_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let peer = common::addr::unmapped(peer);
    let Some(request) = read_request(&mut stream)? else {
        shared.log(format_args!("{peer}: closed without a command"));
        return Ok(());
    };
    match Command::parse_request(&request) {
        Ok(Command::Short { interval, .. }) => {
            shared.log(format_args!(
                "{peer}: CMD_short, {} messages {:?} apart",
                config.messages, interval
            ));
            for i in 0..config.messages {
                if i > 0 && !interval.is_zero() {
                    std::thread::sleep(interval);
                }
                // One send() per message, as the course server: TCP is free
                // to coalesce and split them, which is what Part 2 is about.
                stream
                    .write_all(format!("This is PMU data {}", config.first_index + i).as_bytes())?;
            }
        }
        Ok(Command::Floodme) => {
            let flood = shared.flood();
            shared.log(format_args!("{peer}: CMD_floodme, {} bytes", flood.len()));
            stream.write_all(flood)?;
        }
        Err(_) => {
            shared.log(format_args!(
                "{peer}: wrong command {:?}",
                request.escape_ascii().to_string()
            ));
            stream.write_all(WRONG_COMMAND)?;
        }
    }
    close_gracefully(stream)
}

/// Reads until the bytes parse as a command, can no longer become one, or
/// the client closes. `None`: the client closed without sending anything.
fn read_request(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut request = Vec::with_capacity(MAX_REQUEST);
    let mut buf = [0u8; MAX_REQUEST];
    loop {
        let room = MAX_REQUEST - request.len();
        let n = stream.read(&mut buf[..room])?;
        if n == 0 {
            return Ok((!request.is_empty()).then_some(request));
        }
        request.extend_from_slice(&buf[..n]);
        let trimmed = request.trim_ascii_end();
        let complete = trimmed.len() < request.len() || Command::parse_request(&request).is_ok();
        if complete || !Command::is_partial_request(trimmed) || request.len() == MAX_REQUEST {
            return Ok(Some(request));
        }
    }
}

/// Half-closes, then drains what the client still sends for a moment:
/// closing with unread bytes would send a reset, and a reset makes the
/// client's kernel discard the answer it has not read yet.
fn close_gracefully(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || drained > 1 << 20 {
            break;
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    Ok(())
}
