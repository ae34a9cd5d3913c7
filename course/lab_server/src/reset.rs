//! The UDP reset service of Part 3, as the course's servers behave:
//!
//! - only the exact payload `RESET:<n>` for the configured n (20) is
//!   answered, with `OFFSET:<X>`, X uniform in 0..=n; any other payload
//!   (another n, trailing bytes, garbage) gets `Wrong command.`;
//! - every datagram, whatever it holds, is dropped with probability
//!   `loss` before it is looked at (so an answer is lost as often as a
//!   request);
//! - with `UdpFamily::Alternate`, a supervisor serves IPv4 for one period,
//!   then IPv6 for the next, for ever, and the family that is not serving
//!   has **no socket bound**: a datagram to it draws the kernel's ICMP
//!   "port unreachable", which a connected client sees as `ECONNREFUSED`
//!   (the course's supervisor starts and stops one server per family);
//! - the IPv6 socket sets `IPV6_V6ONLY` (see `net::bind_udp`) and ignores
//!   v4-mapped senders (`::ffff:a.b.c.d`).
//!
//! Turns are counted from the start: turn k covers `[k·p, (k+1)·p)`, IPv4
//! for even k. The port is chosen once (both families bound together at
//! start, so that port 0 finds a port free on both) and every later turn
//! binds the same port again; if something else took it meanwhile, the
//! turn is logged and retried every poll.

use crate::{Shared, UdpFamily, net};
use common::Family;
use common::reset::Offset;
use rand::Rng;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often a serving socket looks at the clock and the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// The addresses the UDP service binds: for a single family only that
/// family's, so that the other family meets a closed port (an ICMP port
/// unreachable), as with the course server.
pub fn bound_ips(config: &crate::Config) -> Vec<IpAddr> {
    config
        .bind
        .iter()
        .copied()
        .filter(|ip| match config.udp_family {
            UdpFamily::V4 => ip.is_ipv4(),
            UdpFamily::V6 => ip.is_ipv6(),
            UdpFamily::Alternate(_) => true,
        })
        .collect()
}

/// The family that serves in turn `turn` (IPv4 first).
fn family_of_turn(turn: u128) -> Family {
    if turn % 2 == 0 {
        Family::V4
    } else {
        Family::V6
    }
}

/// Serves on `sockets` (every address, bound once at start) until the
/// server stops: all of them at once for a single family, or in turns.
pub fn supervise(sockets: Vec<UdpSocket>, shared: Arc<Shared>) {
    let UdpFamily::Alternate(period) = shared.config.udp_family else {
        serve_all(sockets, &shared, None);
        return;
    };
    let started = Instant::now();
    let period_ns = period.as_nanos().max(1);
    let addrs: Vec<SocketAddr> = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
    // The first turn's family keeps its sockets; the other's are closed.
    let mut first: Option<Vec<UdpSocket>> = Some(
        sockets
            .into_iter()
            .filter(|s| s.local_addr().is_ok_and(|a| Family::of(&a) == Family::V4))
            .collect(),
    );
    let mut turn: u128 = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let family = family_of_turn(turn);
        let end =
            started + Duration::from_nanos((period_ns * (turn + 1)).min(u64::MAX as u128) as u64);
        let sockets = match first.take() {
            Some(sockets) => sockets,
            None => rebind(&addrs, family, &shared),
        };
        shared.log(format_args!(
            "UDP reset: {family} serving for {} s, the other family unbound",
            period.as_secs_f64()
        ));
        serve_all(sockets, &shared, Some(end));
        // A late start of a turn (a loaded machine) keeps the schedule.
        turn = (started.elapsed().as_nanos() / period_ns).max(turn + 1);
    }
}

/// Binds `family`'s addresses of `addrs` again (same ports).
fn rebind(addrs: &[SocketAddr], family: Family, shared: &Shared) -> Vec<UdpSocket> {
    let mut sockets = Vec::new();
    for addr in addrs.iter().filter(|a| Family::of(a) == family) {
        match net::bind_udp(&[addr.ip()], addr.port()) {
            Ok(mut bound) => sockets.append(&mut bound),
            Err(err) => shared.log(format_args!("UDP reset: binding {addr} again: {err}")),
        }
    }
    sockets
}

/// Serves every socket in its own thread until `end` (or for ever) or the
/// server stops; the sockets are closed when this returns.
fn serve_all(sockets: Vec<UdpSocket>, shared: &Arc<Shared>, end: Option<Instant>) {
    if sockets.is_empty() {
        // Nothing could be bound this turn: wait for the next one.
        while end.is_none_or(|e| Instant::now() < e) && !shared.stop.load(Ordering::SeqCst) {
            std::thread::sleep(POLL);
        }
        return;
    }
    let mut threads = Vec::new();
    for socket in sockets {
        let serving = shared.clone();
        match crate::spawn("reset-serve", move || serve(&socket, &serving, end)) {
            Ok(thread) => threads.push(thread),
            Err(err) => shared.log(format_args!(
                "UDP reset: no thread to serve a socket: {err}"
            )),
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
}

/// Answers requests on one socket until `end` or the server stops.
fn serve(socket: &UdpSocket, shared: &Shared, end: Option<Instant>) {
    let config = &shared.config;
    let mut rng = rand::rng();
    let mut buf = [0u8; 2048];
    let expected = format!("RESET:{}", config.reset_n);
    if socket.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    loop {
        if shared.stop.load(Ordering::SeqCst) || end.is_some_and(|e| Instant::now() >= e) {
            return;
        }
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            // A time-out (to look at the clock), or an ICMP error for an
            // earlier reply (the client has gone): serve the next one.
            Err(_) => continue,
        };
        if let SocketAddr::V6(v6) = peer {
            if v6.ip().to_ipv4_mapped().is_some() {
                continue;
            }
        }
        let request = &buf[..n];
        if rng.random_bool(config.loss.clamp(0.0, 1.0)) {
            shared.log(format_args!("{peer}: {:?} dropped", short(request)));
            continue;
        }
        let reply = if request == expected.as_bytes() {
            let offset = Offset {
                value: rng.random_range(0..=config.reset_n),
                sep: config.offset_sep,
            };
            let wire = offset.to_wire();
            shared.log(format_args!(
                "{peer}: {expected} -> {}",
                String::from_utf8_lossy(&wire)
            ));
            wire
        } else {
            shared.log(format_args!("{peer}: wrong command {:?}", short(request)));
            netserve::pmu::WRONG_COMMAND.to_vec()
        };
        let _ = socket.send_to(&reply, peer);
    }
}

/// At most 64 bytes of a request, escaped, for a log line.
fn short(request: &[u8]) -> String {
    let cut = &request[..request.len().min(64)];
    let mut text = cut.escape_ascii().to_string();
    if cut.len() < request.len() {
        text.push('…');
    }
    text
}
