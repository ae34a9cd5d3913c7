//! A datagram flood (docs/HARDENING.md, clients under faults): for each
//! RESET, a purpose-built peer on 127.0.0.1 first blasts 10,000 junk
//! datagrams at the client (random bytes of random sizes, 0..=1400, and
//! malformed or out-of-range `OFFSET` replies), then the valid `OFFSET:7`
//! (again 50 ms later: the first may find the client's receive queue full).
//! The client must ignore the junk, print `OFFSET=7 …` after an attempt or
//! two, exit 0 within a few seconds, and keep its memory bounded.

// The usage is read from /proc: Linux only.
#![cfg(target_os = "linux")]

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use testkit::limits::Sampler;
use util::{BIN, Peer, parse_ack};

/// Junk datagrams sent before each valid answer.
const JUNK: u64 = 10_000;

/// Malformed or unacceptable replies (n is 20): none may be taken for an
/// answer.
const FORGED: &[&[u8]] = &[
    b"OFFSET=999",
    b"OFFSET:21",
    b"OFFSET=4294967296",
    b"OFFSET=99999999999",
    b"OFFSET=",
    b"OFFSET:",
    b"OFFSET",
    b"OFFSET=-1",
    b"OFFSET=+7",
    b"OFFSET=7x",
    b"OFFSET= 7",
    b"OFFSET=7\0",
    b"OFFSET=0x7",
    b"OFFSET;7",
    b" OFFSET=7",
    b"offset=7",
    b"OFFSET=\xff7",
    b"RESET:20",
];

/// `RcvbufErrors` of `/proc/net/snmp` (host-wide, for the report only).
fn udp_rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// xorshift64*: random enough for junk, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn ten_thousand_junk_datagrams_per_reset_do_not_hide_the_answer() {
    let floods = Arc::new(AtomicU64::new(0));
    let counted = floods.clone();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf = vec![0u8; 1400];
    let peer = Peer::start(move |socket, request, client| {
        if request != b"RESET:20" {
            return;
        }
        counted.fetch_add(1, Ordering::SeqCst);
        for i in 0..JUNK {
            let r = rng.next();
            let junk: &[u8] = if i % 8 == 0 {
                FORGED[(r >> 32) as usize % FORGED.len()]
            } else {
                let len = (r % 1401) as usize;
                for chunk in buf[..len].chunks_mut(8) {
                    let bytes = rng.next().to_le_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                }
                &buf[..len]
            };
            // A full receive queue drops datagrams (loopback) or reports
            // ENOBUFS: either way the flood goes on.
            let _ = socket.send_to(junk, client);
        }
        // The answer right after the flood, which a full receive queue may
        // drop (the kernel's doing, not the client's), and again once the
        // client has had 50 ms to drain its queue.
        let _ = socket.send_to(b"OFFSET:7", client);
        std::thread::sleep(Duration::from_millis(50));
        let _ = socket.send_to(b"OFFSET:7", client);
    });
    let port = peer.port();
    let drops_before = udp_rcvbuf_errors();
    let proc = testkit::spawn(
        BIN,
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--timeout",
            "1",
            "--max-tries",
            "5",
        ],
    );
    let sampler = Sampler::start(proc.pid());
    let started = proc.started();
    let out = proc.finish_within(Duration::from_secs(15));
    let elapsed = started.elapsed();
    let peak = sampler.stop();
    drop(peer);
    let drops = udp_rcvbuf_errors().saturating_sub(drops_before);
    assert!(out.status.success(), "{out:#?}");
    assert_eq!(out.stdout.len(), 1, "{out:#?}");
    let ack = parse_ack(&out.stdout[0]);
    assert_eq!(ack.value, 7, "{out:#?}");
    let sent = floods.load(Ordering::SeqCst);
    eprintln!(
        "HARDENING part3_reset | {JUNK} junk datagrams per RESET | {} attempt(s), {sent} \
         flood(s), {elapsed:.2?}, ~{drops} dropped by full queues | peak RSS {} KiB, {} threads, {} fds",
        ack.attempts, peak.hwm_kib, peak.threads, peak.fds
    );
    assert!(ack.attempts <= 2, "{out:#?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(peak.hwm_kib < 32 * 1024, "peak RSS {} KiB", peak.hwm_kib);
    // No warning or note for the junk without -v.
    assert!(out.stderr.is_empty(), "{out:#?}");
}
