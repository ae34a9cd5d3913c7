//! The TCP PMU of Part 2: `netserve::pmu`'s answer over a plain TCP
//! connection, and a close that never destroys the answer.

use crate::{Service, Shared};
use netserve::accept::DeadlineStream;
use netserve::pmu::{read_request, send_answer};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The `CMD_floodme` text: the beginning of *Hamlet* (public domain; the
/// plain text of the MIT Shakespeare edition, stage directions and speaker
/// names on lines of their own), from `ACT I` / `SCENE I. Elsinore. A
/// platform before the castle.` to the end of a speech near 56 KiB (57,320
/// bytes, ASCII), as the course's server sends an excerpt of *Hamlet* of
/// about 57 KB.
pub const HAMLET: &str = include_str!("../data/hamlet.txt");

/// `len` bytes of flood: [`HAMLET`], repeated as often as needed and cut at
/// `len` (which may fall inside a line).
pub fn hamlet_flood(len: usize) -> Vec<u8> {
    HAMLET.bytes().cycle().take(len).collect()
}

/// How long the server keeps reading what a client still sends after the
/// answer, before it closes.
const LINGER: Duration = Duration::from_secs(1);

/// Answers one connection: reads the command, sends the answer (one
/// `send()` per message, as the course server: TCP is free to coalesce and
/// split them, which is what Part 2 is about), closes.
pub fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let config = &shared.config;
    stream.set_write_timeout(Some(config.write_timeout))?;
    // The whole command within --read-timeout of connecting, however
    // slowly it trickles in.
    let mut reader = DeadlineStream::new(stream, Instant::now() + config.read_timeout);
    let Some(request) = read_request(&mut reader)? else {
        shared.log(format_args!("{peer}: closed without a command"));
        return Ok(());
    };
    let mut stream = reader.into_inner();
    let answer = send_answer(&mut stream, &request, &shared.pmu)?;
    shared.log(format_args!("{peer}: {answer}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_is_hamlet_from_act_one() {
        assert!(HAMLET.starts_with("ACT I\nSCENE I. Elsinore. A platform before the castle.\n"));
        assert!(HAMLET.is_ascii() && HAMLET.ends_with('\n'));
        assert!(
            (56_000..=58_000).contains(&HAMLET.len()),
            "{}",
            HAMLET.len()
        );
        assert_eq!(hamlet_flood(HAMLET.len()), HAMLET.as_bytes());
        let twice = hamlet_flood(2 * HAMLET.len() + 3);
        assert_eq!(&twice[HAMLET.len()..2 * HAMLET.len()], HAMLET.as_bytes());
        assert_eq!(&twice[2 * HAMLET.len()..], b"ACT");
        assert!(hamlet_flood(0).is_empty());
    }
}
