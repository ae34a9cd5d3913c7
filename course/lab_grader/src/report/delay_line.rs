//! The simulated path's round trip: a user-space delay line on a TUN
//! device, and the capture point where the report counts segments.
//!
//! This kernel has no `netem` qdisc, and `tbf` only delays packets once its
//! bucket is empty: tried on a veth pair, `CMD_short:0` came out as 2, 8 or
//! 18 segments from one run to the next, because the first segments leave
//! at once and find no round trip to wait for. A delay line gives every
//! packet the same delay: the middle namespace routes what arrives from
//! either veth into a TUN device, this module reads each IP packet from it,
//! holds it for the one-way delay and writes it back, and the kernel then
//! forwards it to the other veth. Both directions cross it once, so the
//! round trip is twice the delay (plus a few microseconds of forwarding).
//!
//! The same reader counts the TCP segments the server sends, with their
//! payload: what Wireshark shows on the path (the lab's "packets with
//! payload length more than 0"), retransmissions included.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the threads look at the stop flag.
const TICK: Duration = Duration::from_millis(50);

/// Opens `/dev/net/tun` and creates the TUN device `name` (`IFF_TUN |
/// IFF_NO_PI`: bare IP packets, no prefix) in the calling thread's
/// network namespace. The device lives as long as the file.
pub fn open_tun(name: &str) -> io::Result<File> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} is empty or longer than 15 bytes"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|err| io::Error::new(err.kind(), format!("opening /dev/net/tun: {err}")))?;
    // SAFETY: `ifreq` is plain data (bytes and integers); all zeroes is a
    // valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, from) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *to = from as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which `req` is, and
    // the descriptor is open for the call's duration.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("TUNSETIFF {name}: {err}"),
        ));
    }
    Ok(file)
}

/// A TCP segment's ports, flags and payload length, read from an IPv4 or
/// IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src_port: u16,
    pub dst_port: u16,
    pub syn: bool,
    pub fin: bool,
    pub payload: usize,
}

/// The TCP segment `packet` carries, if it is one (an IPv4 packet, or an
/// IPv6 packet without extension headers, whose protocol is TCP).
pub fn tcp_segment(packet: &[u8]) -> Option<Segment> {
    let version = packet.first()? >> 4;
    let (tcp, ip_payload) = match version {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
            if *packet.get(9)? != libc::IPPROTO_TCP as u8 || ihl < 20 || total < ihl {
                return None;
            }
            (packet.get(ihl..total.min(packet.len()))?, total - ihl)
        }
        6 => {
            let len = usize::from(u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]));
            if *packet.get(6)? != libc::IPPROTO_TCP as u8 {
                return None;
            }
            (packet.get(40..(40 + len).min(packet.len()))?, len)
        }
        _ => return None,
    };
    let offset = usize::from(tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    if offset < 20 || offset > ip_payload {
        return None;
    }
    Some(Segment {
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        payload: ip_payload - offset,
    })
}

/// What one side of a connection sent across the delay line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Segments with a payload: Wireshark's "payload length more than 0".
    pub data: u64,
    /// Every segment, the SYN-ACK, bare ACKs and the FIN included.
    pub all: u64,
    /// Payload bytes, retransmissions counted again.
    pub bytes: u64,
    /// The largest payload seen (at most the MSS).
    pub largest: u64,
}

/// Counts the segments sent from one TCP port.
#[derive(Debug, Default)]
struct Counter {
    port: Option<u16>,
    counts: Counts,
    last: Option<Instant>,
}

impl Counter {
    fn see(&mut self, segment: &Segment, at: Instant) {
        if Some(segment.src_port) != self.port {
            return;
        }
        let c = &mut self.counts;
        c.all += 1;
        if segment.payload > 0 {
            c.data += 1;
            c.bytes += segment.payload as u64;
            c.largest = c.largest.max(segment.payload as u64);
        }
        self.last = Some(at);
    }
}

/// Packets read from a TUN device and written back to it `delay` later.
#[derive(Debug)]
pub struct DelayLine {
    delay: Duration,
    stop: Arc<AtomicBool>,
    counter: Arc<Mutex<Counter>>,
    threads: Vec<JoinHandle<()>>,
}

impl DelayLine {
    /// Starts forwarding `tun`'s packets back into it after `delay`.
    pub fn start(tun: File, delay: Duration) -> DelayLine {
        let tun = Arc::new(tun);
        let stop = Arc::new(AtomicBool::new(false));
        let counter = Arc::new(Mutex::new(Counter::default()));
        // A constant delay keeps the packets in their order: a FIFO whose
        // head is always the next one due.
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let reader = {
            let (tun, stop, counter) = (tun.clone(), stop.clone(), counter.clone());
            thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::SeqCst) {
                    if !readable(&tun, TICK) {
                        continue;
                    }
                    let n = match (&*tun).read(&mut buf) {
                        Ok(n) => n,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    };
                    let now = Instant::now();
                    if let Some(segment) = tcp_segment(&buf[..n]) {
                        lock(&counter).see(&segment, now);
                    }
                    if tx.send((now + delay, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            })
        };
        let writer = {
            let stop = stop.clone();
            thread::spawn(move || {
                loop {
                    match rx.recv_timeout(TICK) {
                        Ok((due, packet)) => {
                            let wait = due.saturating_duration_since(Instant::now());
                            if !wait.is_zero() {
                                thread::sleep(wait);
                            }
                            // A packet the kernel refuses (the device going
                            // down at the end) is lost, as on a wire.
                            let _ = (&*tun).write(&packet);
                        }
                        Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => {}
                        Err(_) => return,
                    }
                }
            })
        };
        DelayLine {
            delay,
            stop,
            counter,
            threads: vec![reader, writer],
        }
    }

    /// The one-way delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Starts counting afresh the segments sent from TCP port `port`.
    pub fn watch(&self, port: u16) {
        *lock(&self.counter) = Counter {
            port: Some(port),
            ..Counter::default()
        };
    }

    /// What the watched port sent so far.
    pub fn counts(&self) -> Counts {
        lock(&self.counter).counts
    }

    /// The counts once the watched port has been silent for `quiet` (its
    /// last ACK and FIN crossed), or at `deadline` whatever they are.
    pub fn settled(&self, quiet: Duration, deadline: Instant) -> Counts {
        loop {
            let (counts, last) = {
                let c = lock(&self.counter);
                (c.counts, c.last)
            };
            let now = Instant::now();
            if now >= deadline || last.is_none_or(|at| now.duration_since(at) >= quiet) {
                return counts;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn lock(counter: &Mutex<Counter>) -> std::sync::MutexGuard<'_, Counter> {
    // A poisoned lock only means a thread panicked while counting.
    counter.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `file` has a packet to read within `wait` (`poll(2)`).
fn readable(file: &File, wait: Duration) -> bool {
    let mut fds = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid `pollfd` for an open descriptor, count 1.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    n > 0 && fds.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 packet holding a TCP header (with `options` bytes of
    /// options) and `payload` bytes.
    fn ipv4(src: u16, dst: u16, flags: u8, options: usize, payload: usize) -> Vec<u8> {
        let tcp_len = 20 + options;
        let total = 20 + tcp_len + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[9] = 6;
        p[20..22].copy_from_slice(&src.to_be_bytes());
        p[22..24].copy_from_slice(&dst.to_be_bytes());
        p[32] = ((tcp_len / 4) as u8) << 4;
        p[33] = flags;
        p
    }

    fn ipv6(src: u16, dst: u16, flags: u8, options: usize, payload: usize) -> Vec<u8> {
        let tcp_len = 20 + options;
        let mut p = vec![0u8; 40 + tcp_len + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((tcp_len + payload) as u16).to_be_bytes());
        p[6] = 6;
        p[40..42].copy_from_slice(&src.to_be_bytes());
        p[42..44].copy_from_slice(&dst.to_be_bytes());
        p[52] = ((tcp_len / 4) as u8) << 4;
        p[53] = flags;
        p
    }

    #[test]
    fn segments_are_read_from_ipv4_and_ipv6() {
        let s = tcp_segment(&ipv4(5003, 40000, 0x18, 12, 18)).unwrap();
        assert_eq!((s.src_port, s.dst_port, s.payload), (5003, 40000, 18));
        assert!(!s.syn && !s.fin);
        let s = tcp_segment(&ipv6(5003, 40000, 0x12, 20, 0)).unwrap();
        assert_eq!((s.src_port, s.payload, s.syn), (5003, 0, true));
        let s = tcp_segment(&ipv6(40000, 5003, 0x11, 12, 352)).unwrap();
        assert_eq!((s.dst_port, s.payload, s.fin), (5003, 352, true));
        // Ethernet padding after the IPv4 packet is not payload.
        let mut padded = ipv4(5003, 1, 0x10, 0, 0);
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(tcp_segment(&padded).unwrap().payload, 0);
    }

    #[test]
    fn other_packets_are_not_segments() {
        let mut udp = ipv4(1, 2, 0, 0, 10);
        udp[9] = 17;
        assert_eq!(tcp_segment(&udp), None);
        let mut hop_by_hop = ipv6(1, 2, 0, 0, 10);
        hop_by_hop[6] = 0;
        assert_eq!(tcp_segment(&hop_by_hop), None);
        assert_eq!(tcp_segment(&[]), None);
        assert_eq!(tcp_segment(&[0x45, 0, 0]), None);
        let mut short = ipv4(1, 2, 0, 0, 0);
        short.truncate(30);
        assert_eq!(tcp_segment(&short), None);
    }

    #[test]
    fn the_counter_counts_one_port_and_separates_data_from_the_rest() {
        let mut counter = Counter {
            port: Some(5003),
            ..Counter::default()
        };
        let now = Instant::now();
        for packet in [
            ipv6(5003, 40000, 0x12, 20, 0),  // SYN-ACK
            ipv6(40000, 5003, 0x18, 12, 11), // the command: the other way
            ipv6(5003, 40000, 0x18, 12, 18), // message 0
            ipv6(5003, 40000, 0x18, 12, 352),
            ipv6(5003, 40000, 0x11, 12, 0), // FIN
        ] {
            counter.see(&tcp_segment(&packet).unwrap(), now);
        }
        assert_eq!(
            counter.counts,
            Counts {
                data: 2,
                all: 4,
                bytes: 370,
                largest: 352
            }
        );
    }
}
