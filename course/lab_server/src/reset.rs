//! The UDP reset service of Part 3.

use crate::{Shared, UdpFamily};
use common::Family;
use common::reset::{Offset, Reset};
use rand::Rng;
use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

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

/// The family that answers at `elapsed` since start.
fn active_family(family: UdpFamily, started: Instant) -> Family {
    match family {
        UdpFamily::V4 => Family::V4,
        UdpFamily::V6 => Family::V6,
        UdpFamily::Alternate(period) => {
            let turns = started.elapsed().as_nanos() / period.as_nanos().max(1);
            if turns % 2 == 0 {
                Family::V4
            } else {
                Family::V6
            }
        }
    }
}

/// Answers requests on one socket until the server stops.
pub fn serve(socket: UdpSocket, shared: Arc<Shared>, started: Instant) {
    let config = &shared.config;
    let mut rng = rand::rng();
    let mut buf = [0u8; 2048];
    let family = match socket.local_addr() {
        Ok(addr) => Family::of(&addr),
        Err(_) => return,
    };
    loop {
        let received = socket.recv_from(&mut buf);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // An error here is an ICMP error for an earlier reply (the client
        // has gone): nothing to do but serve the next request.
        let Ok((n, peer)) = received else { continue };
        if active_family(config.udp_family, started) != family {
            continue;
        }
        let request = &buf[..n];
        let reply = match Reset::parse(request) {
            Some(reset) => {
                if rng.random_bool(config.loss.clamp(0.0, 1.0)) {
                    shared.log_from(peer, format_args!("RESET:{} dropped", reset.0));
                    continue;
                }
                let offset = Offset {
                    value: rng.random_range(0..=reset.0),
                    sep: config.offset_sep,
                };
                let wire = offset.to_wire();
                shared.log_from(
                    peer,
                    format_args!("RESET:{} -> {}", reset.0, netserve::log::Peer(&wire)),
                );
                wire
            }
            None => {
                shared.log_from(
                    peer,
                    format_args!("wrong command {}", netserve::log::Peer(request)),
                );
                netserve::pmu::WRONG_COMMAND.to_vec()
            }
        };
        let _ = socket.send_to(&reply, peer);
    }
}
