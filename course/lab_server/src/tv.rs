//! The multicast TV channel of Part 4.
//!
//! One UDP socket, bound to the channel's port with `SO_REUSEADDR` and
//! `SO_REUSEPORT` (so that receivers on this host share the port) and
//! joined to the group on the configured interface (`127.0.0.1` by
//! default: loopback, nothing leaves the machine). Two threads use it:
//!
//! - the broadcaster sends `swcmTV` + one line of the text every interval,
//!   and starts over at the end;
//! - the answerer reads what subscribers send to the group and answers each
//!   opinion, to the group, with `swcmTV` + a line that quotes the
//!   subscriber's ID and the opinion's length in characters: thanks when it
//!   is longer than [`MIN_OPINION`] characters, "too short" otherwise.
//!   Datagrams with the ID `swcmTV` (its own, looped back by
//!   `IP_MULTICAST_LOOP`, or another channel's) are never answered, so two
//!   channels cannot answer each other for ever; datagrams shorter than the
//!   ID are logged and dropped. A trailing line ending is not counted.

use crate::Shared;
use common::frame::{Frame, Id};
use common::multicast;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The text the channel broadcasts, one line per datagram: the Gettysburg
/// Address (1863, public domain).
pub const TEXT: &str = include_str!("tv_text.txt");

/// An opinion must be longer than this many characters to be aired.
pub const MIN_OPINION: usize = 300;

/// How often the answerer looks at the stop flag when nobody sends.
const POLL: Duration = Duration::from_millis(100);

/// Starts the channel; returns the group's address (with the port it got)
/// and its two threads.
pub fn start(shared: &Arc<Shared>, port: u16) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let config = &shared.config;
    let socket = multicast::joined_socket(config.mcast_group, port, config.mcast_interface)?;
    multicast::set_sending(
        &socket,
        config.mcast_group,
        config.mcast_interface,
        config.mcast_ttl,
    )?;
    let port = socket.local_addr()?.port();
    let to = multicast::destination(config.mcast_group, port, config.mcast_interface);
    socket.set_read_timeout(Some(POLL))?;
    let answer_socket = socket.try_clone()?;
    let mut threads = Vec::new();
    let broadcast_shared = shared.clone();
    threads.push(crate::spawn("tv-broadcast", move || {
        broadcast(&socket, to, &broadcast_shared)
    })?);
    let answer_shared = shared.clone();
    threads.push(crate::spawn("tv-answer", move || {
        answer(&answer_socket, to, &answer_shared)
    })?);
    Ok((to, threads))
}

fn broadcast(socket: &UdpSocket, to: SocketAddr, shared: &Shared) {
    let interval = shared.config.tv_interval;
    let mut next = Instant::now();
    for line in TEXT.lines().cycle() {
        if !sleep_until(next, shared) {
            return;
        }
        let datagram = Frame {
            id: Id::TV,
            text: line.as_bytes(),
        }
        .to_wire();
        if let Err(err) = socket.send_to(&datagram, to) {
            shared.log(format_args!("TV channel: sending to {to}: {err}"));
        }
        next += interval;
    }
}

/// Sleeps until `deadline` in short steps; false when the server stops.
fn sleep_until(deadline: Instant, shared: &Shared) -> bool {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(POLL));
    }
}

fn answer(socket: &UdpSocket, to: SocketAddr, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(err) => {
                shared.log(format_args!("TV channel: receiving: {err}"));
                std::thread::sleep(POLL);
                continue;
            }
        };
        let frame = match Frame::parse(&buf[..n]) {
            Ok(frame) if frame.id == Id::TV => continue,
            Ok(frame) => frame,
            Err(short) => {
                shared.log(format_args!("TV channel: {from}: dropped, {short}"));
                continue;
            }
        };
        let reply = reply_to(&frame);
        shared.log(format_args!("TV channel: {from}: {reply}"));
        let datagram = Frame {
            id: Id::TV,
            text: reply.as_bytes(),
        }
        .to_wire();
        if let Err(err) = socket.send_to(&datagram, to) {
            shared.log(format_args!("TV channel: answering {from}: {err}"));
        }
    }
}

/// The channel's answer to a subscriber's opinion.
pub fn reply_to(opinion: &Frame<'_>) -> String {
    let chars = opinion.chars();
    if chars > MIN_OPINION {
        format!(
            "Thank you, subscriber {}: your opinion of {chars} characters will be aired.",
            opinion.id
        )
    } else {
        format!(
            "Sorry, subscriber {}: your opinion of {chars} characters is too short; \
             we air opinions longer than {MIN_OPINION} characters.",
            opinion.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_fits_a_datagram_and_shows_as_one_line() {
        assert!(TEXT.lines().count() > 10);
        for line in TEXT.lines() {
            assert!(!line.is_empty() && line.len() < 1000, "{line}");
        }
    }

    #[test]
    fn replies_quote_the_id_and_the_length() {
        let long = format!("123456{}", "é".repeat(301));
        let reply = reply_to(&Frame::parse(long.as_bytes()).unwrap());
        assert!(
            reply.contains("123456") && reply.contains("301 characters"),
            "{reply}"
        );
        assert!(
            reply.contains("aired") && !reply.contains("too short"),
            "{reply}"
        );

        let exactly = format!("654321{}\n", "x".repeat(300));
        let reply = reply_to(&Frame::parse(exactly.as_bytes()).unwrap());
        assert!(
            reply.contains("654321") && reply.contains("300 characters"),
            "{reply}"
        );
        assert!(reply.contains("too short"), "{reply}");

        let reply = reply_to(&Frame::parse(b"\x01\x02\x03\x04\x05\x06hi").unwrap());
        assert!(
            reply.contains("0x010203040506") && reply.contains("2 characters"),
            "{reply}"
        );
    }
}
