//! The TCP PMU of Part 2: `netserve::pmu`'s answer over a plain TCP
//! connection, and a close that never destroys the answer.

use crate::{Service, Shared};
use netserve::accept::{DeadlineStream, PeerWatch, Slot};
use netserve::pmu::{read_request, send_answer};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long the server keeps reading what a client still sends after the
/// answer, before it closes.
const LINGER: Duration = Duration::from_secs(1);

/// Answers one connection: reads the command, sends the answer (one
/// `send()` per message, as the course server: TCP is free to coalesce and
/// split them, which is what Part 2 is about), closes.
pub fn serve(stream: TcpStream, peer: SocketAddr, slot: &Slot, shared: &Shared) -> io::Result<()> {
    let config = &shared.config;
    stream.set_write_timeout(Some(config.write_timeout))?;
    // The whole command within --read-timeout of connecting, however
    // slowly it trickles in.
    let mut reader = DeadlineStream::new(stream, Instant::now() + config.read_timeout);
    let Some(request) = read_request(&mut reader)? else {
        shared.log_from(peer, format_args!("closed without a command"));
        return Ok(());
    };
    if !slot.serving() {
        shared.log_from(peer, format_args!("gave its place to a newer connection"));
        return Ok(());
    }
    let mut stream = reader.into_inner();
    let mut watch = PeerWatch::new(&stream);
    let answer = send_answer(&mut stream, &request, &shared.pmu, |d| watch.sleep(d))?;
    shared.log_from(peer, format_args!("{answer}"));
    close_gracefully(&mut stream)?;
    shared.record(Service::TcpPmu, peer, &request, &stream);
    Ok(())
}

/// Half-closes, then drains what the client still sends for a moment:
/// closing with unread bytes would send a reset, and a reset makes the
/// client's kernel discard the answer it has not read yet.
fn close_gracefully(stream: &mut TcpStream) -> io::Result<()> {
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
