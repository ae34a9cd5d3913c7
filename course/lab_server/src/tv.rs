//! The multicast TV channel of Part 4, as the course's bot and listener
//! behave.
//!
//! - The broadcaster plays *Romeo and Juliet* ([`TEXT`]): every interval one
//!   datagram `swcmTV` + one line of the play, an empty line as a bare
//!   `swcmTV`, starting over at the end. It sends from its own unbound
//!   socket, so the datagrams come from an ephemeral port, as the course's
//!   bot's do (not from the channel's port).
//! - The listener is a socket bound to the **group address** and the
//!   channel's port (never a wildcard, whatever `--bind` says), joined to
//!   the group on the configured interface: only datagrams sent to the
//!   group reach it, never a unicast datagram to the port. It shares the
//!   port with receivers on this host (`SO_REUSEADDR`, `SO_REUSEPORT`).
//! - A subscriber's opinion longer than [`MIN_OPINION`] characters (a
//!   trailing line ending not counted) is answered, to the group, with
//!   `swcmTV@<ID>: Your task is now completed. Congrats! Remember to upload
//!   your source code on Moodle! By the way, <joke>`, as the course's
//!   listener did; a shorter one gets no answer. Datagrams with the ID
//!   `swcmTV` (the channel's own, looped back, or another channel's) are
//!   never answered, so two channels cannot answer each other for ever;
//!   datagrams shorter than the ID are dropped.
//! - Answers are rate-limited ([`RateLimit`]): per source (address and
//!   port: a subscriber's socket) a burst of [`BURST`] answers, then one
//!   per [`REFILL`]; at most [`GLOBAL_PER_SEC`] answers a second in all,
//!   whatever the sources; at most [`MAX_SOURCES`] sources remembered. A
//!   flood of opinions, or of forged sources, cannot turn the channel into
//!   an amplifier, and one noisy subscriber does not silence the others.
//! - TTL 1 and interface 127.0.0.1 by default (the course's bot uses TTL 10
//!   on the campus network): a `make server` must not multicast beyond this
//!   machine unless asked to.

use crate::Shared;
use common::frame::{Frame, Id};
use multicast::{self, Interface};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The play the channel broadcasts, one line per datagram: *Romeo and
/// Juliet* (public domain; a plain-text edition after the Project
/// Gutenberg one, without its header), empty lines included.
pub const TEXT: &str = include_str!("../data/romeo_and_juliet.txt");

/// An opinion must be longer than this many characters to be answered.
pub const MIN_OPINION: usize = 300;

/// The joke at the end of the channel's answer.
pub const JOKE: &str = "I'd tell you a joke about UDP, but you might not get it.";

/// Answers a source may get in a burst.
pub const BURST: u32 = 3;

/// Time for a source to earn one more answer.
pub const REFILL: Duration = Duration::from_secs(5);

/// Answers a second, all sources together.
pub const GLOBAL_PER_SEC: u32 = 20;

/// Sources the rate limit remembers.
pub const MAX_SOURCES: usize = 1024;

/// How often the threads look at the stop flag when nothing happens.
const POLL: Duration = Duration::from_millis(100);

/// Starts the channel; returns the group's address (with the port it got)
/// and its two threads.
pub fn start(shared: &Arc<Shared>, port: u16) -> io::Result<(SocketAddr, Vec<JoinHandle<()>>)> {
    let config = &shared.config;
    let listener = listening_socket(config.mcast_group, port, config.mcast_interface)?;
    let port = listener.local_addr()?.port();
    let to = multicast::destination(config.mcast_group, port, config.mcast_interface);
    let sender =
        multicast::sending_socket(config.mcast_group, config.mcast_interface, config.mcast_ttl)?;
    listener.set_read_timeout(Some(POLL))?;
    let answer_sender = sender.try_clone()?;
    let mut threads = Vec::new();
    let broadcast_shared = shared.clone();
    threads.push(crate::spawn("tv-broadcast", move || {
        broadcast(&sender, to, &broadcast_shared)
    })?);
    let answer_shared = shared.clone();
    threads.push(crate::spawn("tv-answer", move || {
        answer(&listener, &answer_sender, to, &answer_shared)
    })?);
    Ok((to, threads))
}

/// A socket bound to `group`:`port` and joined to `group` on `interface`.
fn listening_socket(group: IpAddr, port: u16, interface: Interface) -> io::Result<UdpSocket> {
    multicast::check(group, interface)
        .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
    let addr = multicast::destination(group, port, interface);
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    // Windows has no SO_REUSEPORT: there SO_REUSEADDR alone shares the port.
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket
        .bind(&addr.into())
        .map_err(|err| io::Error::new(err.kind(), format!("binding {addr}: {err}")))?;
    match (group, interface) {
        (IpAddr::V4(group), Interface::V4(local)) => socket.join_multicast_v4(&group, &local)?,
        (IpAddr::V4(group), _) => socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)?,
        (IpAddr::V6(group), Interface::Index(index)) => socket.join_multicast_v6(&group, index)?,
        (IpAddr::V6(group), _) => socket.join_multicast_v6(&group, 0)?,
    }
    Ok(socket.into())
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

fn answer(listener: &UdpSocket, sender: &UdpSocket, to: SocketAddr, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut limit = RateLimit::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let (n, from) = match listener.recv_from(&mut buf) {
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
        let Some(reply) = answer_to(&frame) else {
            shared.log(format_args!(
                "TV channel: {from}: {} characters from {}, not answered (at most {MIN_OPINION})",
                frame.chars(),
                frame.id
            ));
            continue;
        };
        if !limit.allow(from, Instant::now()) {
            shared.log(format_args!(
                "TV channel: {from}: answer to {} held back (rate limit)",
                frame.id
            ));
            continue;
        }
        shared.log(format_args!(
            "TV channel: {from}: {} characters from {}, answered",
            frame.chars(),
            frame.id
        ));
        let datagram = Frame {
            id: Id::TV,
            text: reply.as_bytes(),
        }
        .to_wire();
        if let Err(err) = sender.send_to(&datagram, to) {
            shared.log(format_args!("TV channel: answering {from}: {err}"));
        }
    }
}

/// The channel's answer to a subscriber's opinion, after the ID `swcmTV`:
/// `@<ID>: Your task is now completed. …` when the opinion is longer than
/// [`MIN_OPINION`] characters, nothing otherwise.
pub fn answer_to(opinion: &Frame<'_>) -> Option<String> {
    (opinion.chars() > MIN_OPINION).then(|| {
        format!(
            "@{}: Your task is now completed. Congrats! Remember to upload your source \
             code on Moodle! By the way, {JOKE}",
            opinion.id
        )
    })
}

/// Token buckets: one per source socket address (burst [`BURST`], one more every
/// [`REFILL`]) and one for all ([`GLOBAL_PER_SEC`] a second); at most
/// [`MAX_SOURCES`] sources, the idle ones forgotten first.
#[derive(Debug)]
pub struct RateLimit {
    sources: HashMap<SocketAddr, Bucket>,
    global: Bucket,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }

    /// Refills at `rate` tokens a second up to `capacity`; takes one if
    /// there is one.
    fn take(&mut self, capacity: f64, rate: f64, now: Instant) -> bool {
        self.refill(capacity, rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refill(&mut self, capacity: f64, rate: f64, now: Instant) {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(capacity);
        self.at = now;
    }
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::new()
    }
}

impl RateLimit {
    pub fn new() -> RateLimit {
        RateLimit {
            sources: HashMap::new(),
            global: Bucket::full(f64::from(GLOBAL_PER_SEC), Instant::now()),
        }
    }

    /// Whether `source` may get an answer at `now` (and counts it).
    pub fn allow(&mut self, source: SocketAddr, now: Instant) -> bool {
        let (capacity, rate) = (f64::from(BURST), 1.0 / REFILL.as_secs_f64());
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_SOURCES {
            // Forget the sources whose bucket is full again: they have been
            // idle long enough that remembering them changes nothing.
            self.sources.retain(|_, bucket| {
                bucket.refill(capacity, rate, now);
                bucket.tokens < capacity
            });
            if self.sources.len() >= MAX_SOURCES {
                return false;
            }
        }
        let bucket = self
            .sources
            .entry(source)
            .or_insert_with(|| Bucket::full(capacity, now));
        let global_rate = f64::from(GLOBAL_PER_SEC);
        if !bucket.take(capacity, rate, now) {
            return false;
        }
        if !self.global.take(global_rate, global_rate, now) {
            // Not the source's fault: give its token back.
            bucket.tokens += 1.0;
            return false;
        }
        true
    }

    /// How many sources are remembered.
    #[cfg(test)]
    pub fn sources(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_play_starts_and_ends_as_romeo_and_juliet() {
        assert!(TEXT.starts_with("ROMEO AND JULIET\n"));
        assert!(TEXT.contains("\nTwo households, both alike in dignity,\n"));
        assert!(TEXT.contains("\nThan this of Juliet and her Romeo.\n"));
        assert!(
            TEXT.lines().any(str::is_empty),
            "empty lines are part of it"
        );
        for line in TEXT.lines() {
            assert!(line.len() < 1000 && !line.contains('\r'), "{line}");
        }
    }

    #[test]
    fn only_long_opinions_are_answered() {
        let long = format!("123456{}", "é".repeat(301));
        let reply = answer_to(&Frame::parse(long.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            reply,
            format!(
                "@123456: Your task is now completed. Congrats! Remember to upload your \
                 source code on Moodle! By the way, {JOKE}"
            )
        );
        let exactly = format!("654321{}\n", "x".repeat(300));
        assert_eq!(answer_to(&Frame::parse(exactly.as_bytes()).unwrap()), None);
        let odd = format!("\x01\x02\x03\x04\x05\x06{}", "y".repeat(400));
        let reply = answer_to(&Frame::parse(odd.as_bytes()).unwrap()).unwrap();
        assert!(reply.starts_with("@0x010203040506: "), "{reply}");
    }

    #[test]
    fn a_source_gets_a_burst_then_one_answer_per_refill() {
        let mut limit = RateLimit::new();
        let t0 = Instant::now();
        let a: SocketAddr = (Ipv4Addr::new(10, 0, 0, 1), 5005).into();
        let b: SocketAddr = (Ipv4Addr::new(10, 0, 0, 1), 5006).into();
        let allowed = (0..10).filter(|_| limit.allow(a, t0)).count();
        assert_eq!(allowed, BURST as usize);
        // Another source is not held back by the first.
        assert!(limit.allow(b, t0));
        assert!(!limit.allow(a, t0 + REFILL / 2));
        assert!(limit.allow(a, t0 + REFILL + REFILL / 10));
        assert!(!limit.allow(a, t0 + REFILL + REFILL / 5));
    }

    #[test]
    fn all_sources_together_are_bounded_and_remembered_sources_too() {
        let mut limit = RateLimit::new();
        let t0 = Instant::now();
        let allowed = (0..1000u32)
            .filter(|i| limit.allow((Ipv4Addr::from(0x0a00_0000 + i), 1).into(), t0))
            .count();
        assert_eq!(allowed, GLOBAL_PER_SEC as usize);
        for i in 0..5000u32 {
            limit.allow((Ipv4Addr::from(0x0b00_0000 + i), 1).into(), t0);
        }
        assert!(limit.sources() <= MAX_SOURCES, "{}", limit.sources());
        // Once the buckets are full again, new sources are welcome.
        let later = t0 + REFILL * (BURST + 1);
        assert!(limit.allow((Ipv4Addr::new(192, 0, 2, 1), 1).into(), later));
    }
}
